"""The domain map: normal forms, configuration, and which upstream an address picks."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailgate.config import Config, ConfigError, DomainEntry, load_config
from mailgate.domains import address_domain, normalize_domain
from mailgate.mail.upstreams import UpstreamDirectory

CYRILLIC_A = "\u0430"
_SERVERS = 'imap_host = "imap.a.net"\nsmtp_host = "smtp.a.net"\n'


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("example.org", "example.org"),
        ("Example.ORG", "example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        (f"ex{CYRILLIC_A}mple.org", "xn--exmple-4nf.org"),  # a look-alike stays apart
        ("example.org.", None),  # trailing dot
        ("[127.0.0.1]", None),  # IP literal
        ("127.0.0.1", None),
        ("localhost", None),  # one label
        ("a..example", None),
        ("", None),
        ("exa mple.org", None),
    ],
)
def test_normalize_domain(name: str, expected: str | None) -> None:
    assert normalize_domain(name) == expected


def test_address_domain_follows_the_last_at() -> None:
    assert address_domain('"a@evil.example"@Example.org') == "example.org"
    assert address_domain("user@[127.0.0.1]") is None
    assert address_domain("no-at-sign") is None
    assert address_domain("@example.org") is None


def _entry(domain: str, host: str) -> DomainEntry:
    return DomainEntry(domain=domain, imap_host=f"imap.{host}", smtp_host=f"smtp.{host}")


def _directory(*entries: DomainEntry, default: str = "") -> UpstreamDirectory:
    config = Config().replace(domains={"entries": entries, "default": default})
    return UpstreamDirectory(config)


def test_the_address_alone_picks_the_upstream() -> None:
    directory = _directory(_entry("alpha.example", "a.net"), _entry("beta.example", "b.net"))
    alpha = directory.for_address("ann@alpha.example")
    assert alpha is not None and alpha.imap.host == "imap.a.net"
    assert alpha.imap.port == 993 and alpha.smtp.port == 465  # standard ports by default
    mixed = directory.for_address("Ann@ALPHA.Example")
    assert mixed == alpha
    quoted = directory.for_address('"ann@beta.example"@alpha.example')
    assert quoted == alpha
    for refused in (
        "ann@alpha.example.",
        f"ann@{CYRILLIC_A}lpha.example",
        "ann@[127.0.0.1]",
        "ann@gamma.example",
        "ann",
    ):
        assert directory.for_address(refused) is None, refused


def test_a_default_entry_serves_other_domains_but_never_ip_literals() -> None:
    directory = _directory(_entry("alpha.example", "a.net"), default="alpha.example")
    assert directory.for_address("bob@other.example") is not None
    assert directory.for_address("bob@[127.0.0.1]") is None


def test_without_a_map_one_upstream_serves_every_address() -> None:
    config = Config().replace(imap={"host": "imap.one.net"}, smtp={"host": "smtp.one.net"})
    directory = UpstreamDirectory(config)
    up = directory.for_address("anyone@anywhere.example")
    assert up is not None and up.imap.host == "imap.one.net" and up.name == ""
    assert directory.served_domains() == []


def _base_env(tmp_path: Path) -> dict[str, str]:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("x")
    return {"MAILGATE_TLS_CERT_FILE": str(cert), "MAILGATE_TLS_KEY_FILE": str(key)}


def test_domains_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "mailgate.toml"
    path.write_text(
        "[domains]\n"
        'default = "Alpha.Example"\n'
        "show_on_login = true\n"
        '[domains."Alpha.Example"]\n'
        'imap_host = "imap.a.net"\n'
        'smtp_host = "smtp.a.net"\n'
        'smtp_security = "starttls"\n'
        "smtp_port = 587\n"
        '[domains."bücher.example"]\n'
        'imap_host = "imap.b.net"\n'
        'smtp_host = "smtp.b.net"\n'
        'sieve_host = "sieve.b.net"\n'
    )
    config = load_config(path, _base_env(tmp_path))
    assert config.domains.default == "alpha.example"
    assert config.domains.show_on_login is True
    domains = {e.domain: e for e in config.domains.entries}
    assert set(domains) == {"alpha.example", "xn--bcher-kva.example"}
    directory = UpstreamDirectory(config)
    up = directory.for_address("x@BÜCHER.example")
    assert up is not None and up.sieve is not None and up.sieve.port == 4190
    assert directory.served_domains() == ["alpha.example", "xn--bcher-kva.example"]


def test_domains_from_a_file_named_by_the_environment(tmp_path: Path) -> None:
    domains = tmp_path / "domains.toml"
    domains.write_text('["gamma.example"]\nimap_host = "imap.g.net"\nsmtp_host = "smtp.g.net"\n')
    env = _base_env(tmp_path) | {"MAILGATE_DOMAINS_FILE": str(domains)}
    config = load_config(None, env)
    assert [e.domain for e in config.domains.entries] == ["gamma.example"]


def test_a_domain_signs_in_through_its_openid_provider(tmp_path: Path) -> None:
    path = tmp_path / "mailgate.toml"
    path.write_text(
        '[domains."alpha.example"]\n' + _SERVERS + 'oidc_issuer = "https://id.a.net/realm"\n'
        'oidc_client_id = "mailgate"\noidc_client_secret = "s3cr3t"\npasswords_allowed = false\n'
    )
    (entry,) = load_config(path, _base_env(tmp_path)).domains.entries
    assert entry.oidc_issuer == "https://id.a.net/realm" and not entry.passwords_allowed
    assert entry.oidc_login_claim == "email" and "openid" in entry.oidc_scopes.split()
    assert "s3cr3t" not in repr(entry)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('imap_host = "127.0.0.1"\nsmtp_host = "smtp.a.net"\n', "not an IP address"),
        ('imap_host = "imap.a.net"\nsmtp_host = "smtp.a.net"\nimap_port = 22\n', "imap port"),
        ('smtp_host = "smtp.a.net"\n', "imap_host: is required"),
        ('imap_host = "imap.a.net"\nsmtp_host = "smtp.a.net"\nhost = "x"\n', "unknown setting"),
        (_SERVERS + 'oidc_issuer = "http://id.a.net"\noidc_client_id = "m"\n', "https URL"),
        (_SERVERS + 'oidc_issuer = "https://id.a.net/?x=1"\noidc_client_id = "m"\n', "https"),
        (_SERVERS + 'oidc_issuer = "https://id.a.net"\n', "oidc_client_id: is required"),
        (
            _SERVERS + 'oidc_issuer = "https://id.a.net"\noidc_client_id = "m"\n'
            'oidc_scopes = "email"\n',
            "must include openid",
        ),
        (_SERVERS + "passwords_allowed = false\n", "needs an oidc_issuer"),
    ],
)
def test_bad_domain_entries_stop_start_up(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "mailgate.toml"
    path.write_text('[domains."alpha.example"]\n' + table)
    with pytest.raises(ConfigError, match=message):
        load_config(path, _base_env(tmp_path))


def test_the_default_must_be_in_the_map(tmp_path: Path) -> None:
    path = tmp_path / "mailgate.toml"
    path.write_text(
        '[domains]\ndefault = "beta.example"\n'
        '[domains."alpha.example"]\nimap_host = "i.a.net"\nsmtp_host = "s.a.net"\n'
    )
    with pytest.raises(ConfigError, match="must name a domain of the map"):
        load_config(path, _base_env(tmp_path))


def test_a_domain_that_is_not_a_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mailgate.toml"
    path.write_text('[domains."[127.0.0.1]"]\nimap_host = "i.a.net"\nsmtp_host = "s.a.net"\n')
    with pytest.raises(ConfigError, match="not a domain name"):
        load_config(path, _base_env(tmp_path))


def test_throttling_is_per_upstream() -> None:
    from mailgate.config import ThrottleConfig
    from mailgate.session.throttle import LoginThrottle
    from mailgate.testing.clock import ManualClock

    clock = ManualClock()
    throttle = LoginThrottle(
        ThrottleConfig(upstream_max_failures=3, client_max_failures=100), clock
    )
    for n in range(3):
        throttle.failed(f"user{n}@alpha.example", f"client{n}", "alpha.example")
    assert throttle.retry_after("new@alpha.example", "other", "alpha.example") > 0
    assert throttle.retry_after("new@beta.example", "other", "beta.example") == 0
    # Unserved domains count against the account and client, never an upstream.
    for n in range(5):
        throttle.failed(f"x{n}@nowhere.example", "client-x", None)
    assert throttle.retry_after("y@beta.example", "elsewhere", "beta.example") == 0
    clock.advance(601)
    assert throttle.retry_after("new@alpha.example", "other", "alpha.example") == 0
