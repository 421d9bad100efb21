"""Security-checklist rows that a unit test can prove: the TLS contexts (SEC-34, SEC-39)
and the log line format (SEC-57). Live checks are in tests/integration/test_sec_rows.py."""

from __future__ import annotations

import json
import logging
import ssl
import time
from pathlib import Path

import pytest
import trustme

from mailgate.config import ConfigError, load_config
from mailgate.logs import JsonLineFormatter
from mailgate.tls import server_context, upstream_context


def test_sec_34_server_context_turns_off_renegotiation_and_compression(tmp_path: Path) -> None:
    leaf = trustme.CA().issue_cert("localhost")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ctx = server_context(cert, key)
    assert ctx.options & ssl.OP_NO_RENEGOTIATION
    assert ctx.options & ssl.OP_NO_COMPRESSION
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_sec_39_upstream_minimum_is_tls12_with_or_without_a_ca_file(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    for ctx in (upstream_context(), upstream_context(ca_file)):
        assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
        assert ctx.check_hostname is True
        assert ctx.verify_mode == ssl.CERT_REQUIRED


def test_sec_57_user_controlled_fields_cannot_break_a_log_line() -> None:
    hostile = 'a\r\nFAKE ENTRY {"event":"login"}\u2028\u2029\x85\x00\x1b[31m'
    record = logging.LogRecord("mailgate", logging.INFO, __file__, 1, "login_failed", None, None)
    record.fields = {"reason": hostile, "upstream": "imap"}
    before = time.time()
    record.created = before
    line = JsonLineFormatter().format(record)
    assert "\n" not in line and "\r" not in line and line.isascii()
    entry = json.loads(line)
    assert entry["event"] == "login_failed" and entry["reason"] == hostile
    # UTC, marked as such.
    assert entry["ts"].endswith("Z")
    assert entry["ts"][:19] == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(before))


def test_sec_63_only_the_standard_mail_ports_are_used_upstream() -> None:
    """Ports 22, 6379 and 8080 are refused before anything connects (at start-up: the
    upstream is the operator's setting, never the user's); the standard ports of each
    security mode pass, and another port only with upstream.allow_any_port."""

    base = {
        "MAILGATE_TLS_CERT_FILE": "/etc/mailgate/cert.pem",
        "MAILGATE_TLS_KEY_FILE": "/etc/mailgate/key.pem",
        "MAILGATE_IMAP_HOST": "imap.example.org",
        "MAILGATE_SMTP_HOST": "smtp.example.org",
    }
    for imap, smtp in (("993", "465"), ("143", "587")):
        security = "tls" if imap == "993" else "starttls"
        env = {
            **base,
            "MAILGATE_IMAP_PORT": imap,
            "MAILGATE_IMAP_SECURITY": security,
            "MAILGATE_SMTP_PORT": smtp,
            "MAILGATE_SMTP_SECURITY": security,
        }
        config = load_config(environ=env)
        assert (config.imap.port, config.smtp.port) == (int(imap), int(smtp))
    for name in ("IMAP", "SMTP"):
        for port in ("22", "6379", "8080", "143" if name == "IMAP" else "587"):
            env = {**base, f"MAILGATE_{name}_PORT": port}  # security: tls
            with pytest.raises(ConfigError) as refused:
                load_config(environ=env)
            assert str(refused.value).startswith(f"{name.lower()}.port (MAILGATE_{name}_PORT): ")
            assert "allow_any_port" in str(refused.value)
            allowed = load_config(environ={**env, "MAILGATE_UPSTREAM_ALLOW_ANY_PORT": "true"})
            assert getattr(allowed, name.lower()).port == int(port)
