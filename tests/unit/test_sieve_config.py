"""The [sieve] settings: off when unset, the environment wins, and the same port and host
rules as IMAP and SMTP."""

from __future__ import annotations

import pytest

from mailgate.config import ConfigError, load_config

BASE = {
    "MAILGATE_IMAP_HOST": "imap.example.org",
    "MAILGATE_SMTP_HOST": "smtp.example.org",
    "MAILGATE_TLS_CERT_FILE": "cert.pem",
    "MAILGATE_TLS_KEY_FILE": "key.pem",
}


def test_off_by_default() -> None:
    config = load_config(environ=BASE)
    assert config.sieve.host == ""
    assert (config.sieve.port, config.sieve.security) == (4190, "starttls")
    assert config.sieve.allow_forward is False


def test_from_the_environment() -> None:
    config = load_config(
        environ={
            **BASE,
            "MAILGATE_SIEVE_HOST": "sieve.example.org",
            "MAILGATE_SIEVE_SECURITY": "tls",
            "MAILGATE_SIEVE_ALLOW_FORWARD": "true",
        }
    )
    assert config.sieve.host == "sieve.example.org"
    assert config.sieve.security == "tls"
    assert config.sieve.allow_forward is True


@pytest.mark.parametrize(
    "extra,match",
    [
        ({"MAILGATE_SIEVE_PORT": "2000"}, "sieve.port.*4190.*allow_any_port"),
        ({"MAILGATE_SIEVE_HOST": "192.0.2.1"}, "sieve.host: must be a host name"),
        ({"MAILGATE_SIEVE_SECURITY": "none"}, "sieve.security"),
        ({"MAILGATE_SIEVE_TIMEOUT_S": "0"}, "sieve.timeout_s"),
    ],
)
def test_refused(extra: dict[str, str], match: str) -> None:
    env = {"MAILGATE_SIEVE_HOST": "sieve.example.org", **BASE, **extra}
    with pytest.raises(ConfigError, match=match):
        load_config(environ=env)


def test_any_port_when_allowed() -> None:
    config = load_config(
        environ={
            **BASE,
            "MAILGATE_SIEVE_HOST": "sieve.example.org",
            "MAILGATE_SIEVE_PORT": "2000",
            "MAILGATE_UPSTREAM_ALLOW_ANY_PORT": "true",
        }
    )
    assert config.sieve.port == 2000
