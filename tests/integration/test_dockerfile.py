"""The container image, checked without a container engine: the Dockerfile's properties
by parsing it, and its exact entrypoint and health check run against a read-only home."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import mailgate
from mailgate.sandbox.ca import LocalCA
from mailgate.testing.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
SECRETISH = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL", re.I)


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "dangling line continuation"
    out = []
    for line in lines:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _final_stage() -> list[tuple[str, str]]:
    items = _instructions()
    last_from = max(i for i, (word, _) in enumerate(items) if word == "FROM")
    return items[last_from:]


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, args in stage:
        if word == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def _exec_form(stage: list[tuple[str, str]], word: str) -> list[str]:
    args = [a for w, a in stage if w == word][-1]
    return json.loads(args)


def test_base_images_are_pinned_slim_python() -> None:
    """Both stages build on BASE_IMAGE, a build argument (CI passes a base made from
    Debian's packages, tests/integration/test_container.py) whose default is the pinned
    official slim Python image."""
    items = _instructions()
    froms = [args for word, args in items if word == "FROM"]
    assert len(froms) >= 2, "multi-stage build expected"
    assert all(args.split()[0] == "${BASE_IMAGE}" for args in froms), froms
    first_from = next(i for i, (word, _) in enumerate(items) if word == "FROM")
    args = [a for w, a in items[:first_from] if w == "ARG"]
    assert len(args) == 1 and args[0].startswith("BASE_IMAGE="), args
    image = args[0].removeprefix("BASE_IMAGE=")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image), image


def test_runs_as_a_non_root_user() -> None:
    users = [args for word, args in _final_stage() if word == "USER"]
    assert users, "the final stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and user.isdigit() and int(user) >= 1000
    # Nothing after USER switches back.
    stage = _final_stage()
    last_user = max(i for i, (word, _) in enumerate(stage) if word == "USER")
    assert not any(word == "RUN" for word, _ in stage[last_user:])


def test_healthcheck_uses_python_over_https_without_skipping_verification() -> None:
    checks = [args for word, args in _final_stage() if word == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "--interval=" in checks[0] and "--timeout=" in checks[0]
    command = _healthcheck_command()
    assert command[:2] == ["python", "-c"]
    assert "curl" not in checks[0] and "wget" not in checks[0]
    assert "CERT_NONE" not in checks[0] and "_create_unverified_context" not in checks[0]
    assert "CERT_NONE" not in (ROOT / "mailgate" / "check.py").read_text()


def test_stopsignal_is_sigterm() -> None:
    assert [a for w, a in _final_stage() if w == "STOPSIGNAL"] == ["SIGTERM"]


def test_no_add_and_no_remote_sources() -> None:
    for word, args in _instructions():
        assert word != "ADD", "use COPY; ADD can fetch URLs and unpack archives"
        if word == "COPY":
            assert "://" not in args
            assert not re.search(r"\.(pem|key|crt|env)\b|secrets", args), args


def test_no_secrets_baked_in() -> None:
    for word, args in _instructions():
        if word in ("ENV", "ARG", "LABEL"):
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                assert not SECRETISH.search(key), f"{word} {key}"
                assert not re.search(r"://[^/\s]*:[^/\s]*@", value), (
                    f"{word} {key} holds a URL password"
                )
        if word == "RUN":
            assert not SECRETISH.search(args) or "--mount=type=secret" in args, args
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignored and "**/*.pem" in ignored and "**/*.key" in ignored


def test_configuration_is_by_environment_and_files() -> None:
    env = _env(_final_stage())
    assert env["TMPDIR"] == "/tmp"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["MAILGATE_TLS_CERT_FILE"].startswith("/run/secrets/")
    assert env["MAILGATE_TLS_KEY_FILE"].startswith("/run/secrets/")
    assert all(k.startswith(("MAILGATE_", "PYTHON", "PATH", "HOME", "TMPDIR")) for k in env)
    assert _exec_form(_final_stage(), "ENTRYPOINT") + _exec_form(_final_stage(), "CMD") == [
        "mailgate",
        "serve",
    ]


@pytest.mark.parametrize("name", ["compose.yaml", "compose.single.yaml", "compose.ha.yaml"])
def test_compose_files_are_read_only_with_tmpfs_and_healthchecks(name: str) -> None:
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load((ROOT / "config" / name).read_text())
    services: dict[str, Any] = doc["services"]
    mailgates = {k: v for k, v in services.items() if k.startswith("mailgate")}
    assert len(mailgates) == {"compose.yaml": 2, "compose.ha.yaml": 3}.get(name, 1)
    if name != "compose.single.yaml":
        assert "redis" in services
    for svc_name, svc in services.items():
        assert svc["read_only"] is True, svc_name
        assert svc["tmpfs"], svc_name
        assert svc["healthcheck"]["test"], svc_name
        assert svc["cap_drop"] == ["ALL"], svc_name
    for svc in mailgates.values():
        env = svc["environment"]
        assert svc["stop_signal"] == "SIGTERM"
        assert not any(SECRETISH.search(k) for k in env)
        assert not any(re.search(r"://[^/\s]*:[^/\s]*@", str(v)) for v in env.values())
        assert env["MAILGATE_TLS_KEY_FILE"].startswith("/run/secrets/")
        assert any(t.startswith("/tmp:") for t in svc["tmpfs"])
    for secret in doc.get("secrets", {}).values():
        assert set(secret) == {"file"}  # from files, never inline values


# -- the image's exact commands, outside a container ---------------------------------------


def _healthcheck_command() -> list[str]:
    args = next(a for w, a in _final_stage() if w == "HEALTHCHECK")
    return json.loads(args[args.index("CMD") + 3 :].strip())


def _tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under root with its size, mtime and mode."""
    out = {}
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out


def test_image_entrypoint_runs_with_a_read_only_home(tmp_path: Path) -> None:
    """`mailgate serve` with the image's environment, HOME and cwd read-only, TMPDIR fresh:
    it serves /healthz to the image's own health check and writes nothing outside TMPDIR
    (and the data volume)."""
    stage = _final_stage()
    image_env = _env(stage)
    ca = LocalCA()
    cert, key = ca.issue("localhost", "127.0.0.1")
    home = tmp_path / "home"
    home.mkdir()
    (home / "marker").write_text("read-only\n")
    home.chmod(0o555)
    tmpdir, data = tmp_path / "tmp", tmp_path / "data"
    tmpdir.mkdir()
    data.mkdir(mode=0o700)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGATE_")}
    env.update(image_env)
    env.update(
        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        HOME=str(home),
        TMPDIR=str(tmpdir),
        MAILGATE_SERVER_HOST="127.0.0.1",
        MAILGATE_SERVER_PORT=str(port),
        MAILGATE_TLS_CERT_FILE=cert,
        MAILGATE_TLS_KEY_FILE=key,
        MAILGATE_DATA_DIR=str(data),
        MAILGATE_IMAP_HOST="imap.example.test",
        MAILGATE_SMTP_HOST="smtp.example.test",
        MAILGATE_SERVER_SHUTDOWN_TIMEOUT_S="2",
    )
    command = _exec_form(stage, "ENTRYPOINT") + _exec_form(stage, "CMD")
    assert command[0] == "mailgate"
    argv = [sys.executable, "-m", "mailgate", *command[1:]]
    health = [sys.executable, *_healthcheck_command()[1:]]
    package = Path(mailgate.__file__).parent
    before = (_tree(home), _tree(package))
    proc = subprocess.Popen(
        argv, env=env, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "mailgate serve exited"
            result = subprocess.run(health, env=env, cwd=home, capture_output=True, timeout=20)
            if result.returncode == 0:
                break
            assert time.monotonic() < deadline, result.stderr
            time.sleep(0.2)
        # The health check trusts only the configured certificate: another one fails.
        other = LocalCA()
        other_cert, _ = other.issue("localhost", "127.0.0.1")
        wrong = subprocess.run(
            health,
            env={**env, "MAILGATE_TLS_CERT_FILE": other_cert},
            capture_output=True,
            timeout=20,
        )
        other.cleanup()
        assert wrong.returncode == 1, wrong.stderr
        # Temporary data (the vault) lives under TMPDIR.
        assert any(p.name.startswith("mailgate-vault-") for p in tmpdir.iterdir())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        after = (_tree(home), _tree(package))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        home.chmod(0o755)
        ca.cleanup()
    assert after == before, "wrote outside TMPDIR"
    assert list(tmpdir.iterdir()) == [], "temporary data survived shutdown"
