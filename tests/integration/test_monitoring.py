"""The monitoring that ships in config/ (issue 23): the Prometheus alerting rules pass
`promtool test rules` (tests/monitoring/alerts.test.yaml: each rule fires when it must and
stays quiet when it must not), and the Grafana dashboard and the rules use only metric
names a running mailgate exports, with every exported metric on the dashboard."""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from mailgate.testing.servers import RunningMailgate

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "config" / "grafana-dashboard.json"
ALERTS = ROOT / "config" / "prometheus-alerts.yaml"
ALERT_TESTS = ROOT / "tests" / "monitoring" / "alerts.test.yaml"
METRIC_NAME = re.compile(r"\bmailgate_[a-z0-9_]+")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing on CI: .ci/run installs it from Debian's prometheus")
        pytest.skip("promtool is not installed (Debian's prometheus package has it; see .ci/run)")
    return found


def _dashboard_panels() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = json.loads(DASHBOARD.read_text())["panels"]
    return panels


def _dashboard_exprs() -> list[str]:
    return [t["expr"] for p in _dashboard_panels() for t in p.get("targets", [])]


def _alert_exprs() -> list[str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def test_alert_rules_pass_promtool_check_and_unit_tests() -> None:
    promtool = _promtool()
    checked = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout
    tested = subprocess.run(
        [promtool, "test", "rules", str(ALERT_TESTS)], capture_output=True, text=True, timeout=60
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
    # Every rule has a unit test that expects it to fire.
    rules = {
        rule["alert"]
        for group in yaml.safe_load(ALERTS.read_text())["groups"]
        for rule in group["rules"]
    }
    fired = {
        case["alertname"]
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert (
        rules
        == fired
        == {
            "MailgateStoreUnavailable",
            "MailgateUpstreamUnreachable",
            "MailgateLoginFailureRate",
            "MailgateEventLoopLag",
            "MailgateReadingSaturated",
        }
    )


def test_dashboard_is_importable_and_its_queries_parse(tmp_path: Path) -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in doc["__inputs"]] == ["DS_PROMETHEUS"]
    assert doc["uid"] and doc["title"] and doc["id"] is None
    panels = doc["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    # promtool parses every query: as recording rules, with Grafana's variables filled in.
    promtool = _promtool()
    rules = [
        {
            "record": f"dashboard:query{n}",
            "expr": expr.replace("$__rate_interval", "5m").replace("$instance", ".*"),
        }
        for n, expr in enumerate(_dashboard_exprs())
    ]
    assert all("$" not in rule["expr"] for rule in rules)
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def _exported_names(mg: RunningMailgate) -> tuple[set[str], set[str]]:
    """(family names, sample names) of a running mailgate's /metrics page."""
    ctx = ssl.create_default_context(cafile=mg.ca_file)
    async with aiohttp.ClientSession() as http, http.get(mg.url + "/metrics", ssl=ctx) as resp:
        assert resp.status == 200
        text = await resp.text()
    families, samples = set(), set()
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created"):
            continue  # the creation time of an unlabelled counter, parsed as a family
        families.add(family.name)
        samples |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
        samples |= {sample.name for sample in family.samples}
    return families, samples


@pytest.mark.parametrize("upstream", ["pymap"], indirect=True)
async def test_dashboard_and_alerts_use_only_metrics_mailgate_exports(make_mailgate: Any) -> None:
    mg: RunningMailgate = make_mailgate(metrics={"enabled": True})
    families, samples = await _exported_names(mg)
    assert "mailgate_event_loop_lag_seconds" in families and "mailgate_store_up" in families
    on_dashboard = {name for expr in _dashboard_exprs() for name in METRIC_NAME.findall(expr)}
    in_alerts = {name for expr in _alert_exprs() for name in METRIC_NAME.findall(expr)}
    assert on_dashboard - samples == set(), "the dashboard queries metrics mailgate lacks"
    assert in_alerts - samples == set(), "the alerts query metrics mailgate lacks"
    # And the dashboard shows every metric mailgate exports.
    shown = {f for f in families if any(name.startswith(f) for name in on_dashboard)}
    assert shown == {f for f in families if f.startswith("mailgate_")}
    # The unit tests' input series are real names too.
    series = {
        METRIC_NAME.findall(s["series"])[0]
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for s in test["input_series"]
    }
    assert series - samples == set()
