"""Settings: a TOML file with one section per concern, overridden by environment variables.

Every setting `[section] key` can also come from `MAILGATE_<SECTION>_<KEY>` and the
environment wins. A variable ending in `_FILE` (for example `MAILGATE_STORE_REDIS_URL_FILE`)
reads the value from that file, for Docker secrets. Invalid settings raise `ConfigError`
whose message is one line naming the setting.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import typing
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from mailgate.domains import normalize_domain

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "Config",
    "ConfigError",
    "DataConfig",
    "DomainEntry",
    "DomainsConfig",
    "ImapConfig",
    "LimitsConfig",
    "LogConfig",
    "MetricsConfig",
    "ProxyConfig",
    "PushConfig",
    "ServerConfig",
    "SessionConfig",
    "SieveConfig",
    "SmtpConfig",
    "StoreConfig",
    "ThrottleConfig",
    "load_config",
]

Security = Literal["tls", "starttls"]


class ConfigError(Exception):
    """A setting is missing or invalid; the message names it."""


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8443
    # The origin browsers use, e.g. "https://mail.example.org". Requests whose Host or
    # Origin differ are refused. Empty: localhost and the listen address on `port`.
    public_url: str = ""
    # Peers whose X-Forwarded-For is believed (a reverse proxy); empty: nobody's.
    trusted_proxies: tuple[str, ...] = ()
    # Seconds a request may take to send its headers (slowloris bound), counted from the
    # connection's start or the end of the previous response (so it also closes idle
    # keep-alive connections). The TLS handshake before the first request has the same bound.
    request_header_timeout_s: float = 10.0
    # Seconds a request may take to send its whole body (JSON or an upload); past it the
    # answer is 408 and the connection is closed.
    request_body_timeout_s: float = 300.0
    # Seconds a download may wait for a reader who stopped reading before it is cut off.
    response_write_timeout_s: float = 60.0
    shutdown_timeout_s: float = 10.0


@dataclass(frozen=True)
class TlsConfig:
    cert_file: str = ""
    key_file: str = ""


@dataclass(frozen=True)
class ImapConfig:
    host: str = ""
    port: int = 993
    security: Security = "tls"
    timeout_s: float = 15.0
    # An upstream connection unused this long is closed; it reopens on demand.
    idle_close_s: float = 300.0


@dataclass(frozen=True)
class SmtpConfig:
    host: str = ""
    port: int = 465
    security: Security = "tls"
    timeout_s: float = 60.0


@dataclass(frozen=True)
class SieveConfig:
    # ManageSieve (RFC 5804) for vacation replies and filters; off while host is empty.
    host: str = ""
    port: int = 4190
    security: Security = "starttls"
    timeout_s: float = 15.0
    # Whether filters may redirect (forward) mail to another address.
    allow_forward: bool = False


@dataclass(frozen=True)
class ContactsConfig:
    # A CardDAV address book (RFC 6352) for every account without a domain map entry of
    # its own: the https:// URL of the address book collection; `{user}` is replaced by
    # the account's address. Empty: no contacts.
    carddav_url: str = ""
    timeout_s: float = 15.0


@dataclass(frozen=True)
class UpstreamConfig:
    ca_file: str = ""
    # Only the standard mail ports are used upstream (SEC-63): IMAP 993 (tls) or 143
    # (starttls), submission 465 (tls) or 587 (starttls). True allows any port: for the
    # sandbox, tests, or a server that really listens elsewhere.
    allow_any_port: bool = False


@dataclass(frozen=True)
class DomainEntry:
    """The servers of one mail domain (or the default entry). Ports 0: the standard one."""

    domain: str = ""
    imap_host: str = ""
    imap_port: int = 0
    imap_security: Security = "tls"
    smtp_host: str = ""
    smtp_port: int = 0
    smtp_security: Security = "tls"
    # ManageSieve (RFC 5804); empty: this domain has none.
    sieve_host: str = ""
    sieve_port: int = 0
    sieve_security: Security = "starttls"
    # Sign in through this domain's OpenID provider (docs/decisions/0021-openid-sign-in.md).
    # Empty: passwords only. The issuer's discovery document is fetched over https from
    # exactly this URL; its `issuer` must equal it.
    oidc_issuer: str = ""
    # The shown name on the login screen ("Sign in with …"); empty: the issuer's host.
    oidc_name: str = ""
    oidc_client_id: str = ""
    # Empty: a public client (PKCE alone, no client authentication at the token endpoint).
    oidc_client_secret: str = field(default="", repr=False)
    oidc_scopes: str = "openid email offline_access"
    # The ID-token claim that is the mail login name; its domain must be this domain.
    oidc_login_claim: str = "email"
    # The password form for this domain; off: only the provider signs in.
    passwords_allowed: bool = True
    # CardDAV address book (https:// URL, `{user}`: the account's address); empty: none.
    carddav_url: str = ""


@dataclass(frozen=True)
class DomainsConfig:
    """Mail domains served, each with its own servers. Empty map: every address uses the
    [imap] and [smtp] sections (one upstream for all)."""

    # A domain of the map whose servers also serve addresses of any other domain; empty:
    # such addresses get the same 401 as a wrong password.
    default: str = ""
    # List the served domains on the login screen (off: the map cannot be read from outside).
    show_on_login: bool = False
    entries: tuple[DomainEntry, ...] = ()


@dataclass(frozen=True)
class SessionConfig:
    idle_timeout_s: int = 1200
    absolute_timeout_s: int = 43200
    # How often the reaper looks for expired sessions.
    reap_interval_s: float = 1.0


@dataclass(frozen=True)
class StoreConfig:
    backend: Literal["memory", "redis"] = "memory"
    # One Redis (or Valkey): `redis://` or `rediss://`, password in the URL or below.
    redis_url: str = ""
    # Redis Sentinel instead of a URL: the monitored service (master) name and the
    # sentinels as "host:port"; the client asks them for the current primary.
    sentinel_service: str = ""
    sentinels: tuple[str, ...] = ()
    # ACL user and password for the data nodes (both have `_FILE` variants for secrets).
    redis_username: str = ""
    redis_password: str = ""
    # The sentinels' own credentials, when they have `requirepass` / an ACL user.
    sentinel_username: str = ""
    sentinel_password: str = ""
    # TLS to the data nodes and the sentinels, verified against this CA (empty: the
    # system's trust store). A `rediss://` URL turns TLS on too.
    redis_tls: bool = False
    redis_ca_file: str = ""
    # Writes that must survive a failover (a login, an upload, a saved preference) are
    # acknowledged only once this many replicas have them (Redis WAIT); 0: no wait.
    min_replica_acks: int = 0
    replica_ack_timeout_ms: int = 1000


@dataclass(frozen=True)
class DataConfig:
    # Holds the preference database and, unless `secret_file` names another place, the
    # server secret. Empty: a private temporary directory, removed at shutdown.
    dir: str = ""
    # The server secret (at least 32 bytes, mode 0600): signs image-proxy URLs and keys
    # the preference database; instances sharing Redis must share it. Created with 32
    # random bytes if missing. Empty: `<dir>/server.secret`. As a Docker secret:
    # MAILGATE_DATA_SECRET_FILE=/run/secrets/mailgate_secret.
    secret_file: str = ""


@dataclass(frozen=True)
class LimitsConfig:
    json_max_bytes: int = 1024 * 1024
    upload_max_bytes: int = 25 * 1024 * 1024
    session_upload_max_bytes: int = 100 * 1024 * 1024
    session_upload_max_files: int = 50
    recipients_max: int = 100


@dataclass(frozen=True)
class ThrottleConfig:
    # Failed logins per account before back-off starts, and the hard cap per hour.
    account_free_failures: int = 5
    account_max_failures_per_hour: int = 100
    # Failed logins from one client address within `window_s`.
    client_max_failures: int = 20
    # Failed logins against one upstream server within `window_s`, from all clients.
    upstream_max_failures: int = 200
    window_s: int = 600
    # Until a wrong password has been seen, how long a login for an address that no
    # upstream serves waits before its 401 (then: the median refusal time of the upstreams).
    unknown_domain_delay_s: float = 2.0


@dataclass(frozen=True)
class UiConfig:
    enabled: bool = True


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = False
    # A separate listen address for /metrics; empty: served on the main listener.
    host: str = ""
    port: int = 0


@dataclass(frozen=True)
class ProxyConfig:
    enabled: bool = False
    max_bytes: int = 5 * 1024 * 1024
    timeout_s: float = 10.0
    # How long a signed image URL in a rendered message stays valid.
    url_lifetime_s: float = 3600.0
    # Image fetches one session may have in flight at once.
    per_session_concurrency: int = 6
    # Extra CA certificates (PEM) to trust for image hosts, besides the system store.
    ca_file: str = ""
    # Networks the proxy may reach despite being private: set only in code, by the demo
    # (its local image host) and tests; no file or variable can weaken the SSRF policy.
    allow_private_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class PushConfig:
    # Use IMAP IDLE where the server offers it; off: always poll (for servers whose
    # IDLE is broken).
    idle: bool = True
    # Seconds between STATUS polls when IDLE is not available.
    poll_interval_s: float = 10.0
    # IDLE is re-issued this often (RFC 9051: before the server's 30-minute limit).
    idle_renew_s: float = 1500.0
    # A comment line this often keeps proxies from closing the stream and notices a
    # session wiped by another instance.
    keepalive_s: float = 15.0


@dataclass(frozen=True)
class PreferencesConfig:
    retention_days: float = 60.0
    max_bytes: int = 16 * 1024


@dataclass(frozen=True)
class LogConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    imap: ImapConfig = field(default_factory=ImapConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    sieve: SieveConfig = field(default_factory=SieveConfig)
    contacts: ContactsConfig = field(default_factory=ContactsConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    domains: DomainsConfig = field(default_factory=DomainsConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    data: DataConfig = field(default_factory=DataConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    proxy: ProxyConfig = field(default_factory=ProxyConfig)
    push: PushConfig = field(default_factory=PushConfig)
    preferences: PreferencesConfig = field(default_factory=PreferencesConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def replace(self, **sections: dict[str, Any]) -> Config:
        """A copy with some settings changed: `cfg.replace(session={"idle_timeout_s": 2})`."""
        changes = {
            name: dataclasses.replace(getattr(self, name), **values)
            for name, values in sections.items()
        }
        return dataclasses.replace(self, **changes)


# Settings only code sets (the demo sandbox, tests), never a file or the environment.
_CODE_ONLY = frozenset({("proxy", "allow_private_addresses")})


def _env_name(section: str, key: str) -> str:
    return f"MAILGATE_{section}_{key}".upper()


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is Literal:
        choices = typing.get_args(hint)
        text = str(value).strip().lower()
        if text not in choices:
            raise ConfigError(f"{where}: must be one of {', '.join(choices)}")
        return text
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{where}: must be true or false")
    if hint is int or hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: must be a number")
        try:
            number = hint(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: must be a number") from None
        if number < 0:
            raise ConfigError(f"{where}: must not be negative")
        return number
    if origin is tuple:
        if isinstance(value, str):
            items = [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(value, list):
            items = [str(v) for v in value]
        else:
            raise ConfigError(f"{where}: must be a list")
        return tuple(items)
    if hint is str:
        if not isinstance(value, str | int | float):
            raise ConfigError(f"{where}: must be a string")
        return str(value)
    raise ConfigError(f"{where}: unsupported setting type")  # pragma: no cover


_Section = TypeVar("_Section", bound="DataclassInstance")


def _section_values(
    name: str, cls: type[_Section], file_values: dict[str, Any], environ: typing.Mapping[str, str]
) -> _Section:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(file_values) - known
    if unknown:
        raise ConfigError(f"[{name}] {sorted(unknown)[0]}: unknown setting")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        env = _env_name(name, f.name)
        where = f"{name}.{f.name} ({env})"
        if (name, f.name) in _CODE_ONLY:
            if f.name in file_values or env in environ or env + "_FILE" in environ:
                raise ConfigError(f"{where}: not a setting; only the demo sandbox uses it")
            continue
        if env in environ:
            raw: Any = environ[env]
        elif env + "_FILE" in environ:
            try:
                raw = Path(environ[env + "_FILE"]).read_text().strip()
            except OSError:
                raise ConfigError(f"{where}_FILE: cannot read the file") from None
        elif f.name in file_values:
            raw = file_values[f.name]
        else:
            continue
        values[f.name] = _coerce(raw, hints[f.name], where)
    return cls(**values)


def _domains_section(
    file_values: dict[str, Any], environ: typing.Mapping[str, str]
) -> DomainsConfig:
    """[domains]: scalar settings, then one table per mail domain. The map can also come
    whole from a TOML file named by MAILGATE_DOMAINS_FILE (same shape as the section)."""
    values = dict(file_values)
    if "MAILGATE_DOMAINS_FILE" in environ:
        source = environ["MAILGATE_DOMAINS_FILE"]
        try:
            with open(source, "rb") as fh:
                values = tomllib.load(fh)
        except OSError:
            raise ConfigError("domains (MAILGATE_DOMAINS_FILE): cannot read the file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"domains (MAILGATE_DOMAINS_FILE): not valid TOML ({exc})") from None
    tables = {k: v for k, v in values.items() if isinstance(v, dict)}
    scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
    if "entries" in scalars:
        raise ConfigError("[domains] entries: unknown setting")
    settings = _section_values("domains", DomainsConfig, scalars, environ)
    entries = []
    for name, table in tables.items():
        entry = _section_values(f'domains."{name}"', DomainEntry, table, {})
        if entry.domain:
            raise ConfigError(f'[domains."{name}"] domain: unknown setting')
        domain = normalize_domain(name.strip().lower())
        if domain is None:
            raise ConfigError(f'[domains."{name}"]: not a domain name')
        entries.append(dataclasses.replace(entry, domain=domain))
    default = normalize_domain(settings.default) if settings.default else ""
    if default is None:
        raise ConfigError("domains.default (MAILGATE_DOMAINS_DEFAULT): not a domain name")
    settings = dataclasses.replace(settings, default=default)
    return dataclasses.replace(settings, entries=tuple(entries))


def load_config(
    path: str | Path | None = None, environ: typing.Mapping[str, str] | None = None
) -> Config:
    """Read a TOML file (optional) and apply the environment on top, then validate."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {path}: not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: not valid TOML ({exc})") from None
    sections: dict[str, Any] = {}
    for f in dataclasses.fields(Config):
        cls = typing.get_type_hints(Config)[f.name]
        file_values = data.pop(f.name, {})
        if not isinstance(file_values, dict):
            raise ConfigError(f"[{f.name}]: must be a table")
        if cls is DomainsConfig:
            sections[f.name] = _domains_section(file_values, environ)
        else:
            sections[f.name] = _section_values(f.name, cls, file_values, environ)
    if data:
        raise ConfigError(f"[{sorted(data)[0]}]: unknown section")
    config = Config(**sections)
    validate(config)
    return config


# The ports mail servers listen on for clients (RFC 8314 and 6409), by protocol and security.
MAIL_PORTS = {
    "imap": {"tls": 993, "starttls": 143},
    "smtp": {"tls": 465, "starttls": 587},
    # RFC 5804 registers 4190 for ManageSieve; servers offering implicit TLS use it too.
    "sieve": {"tls": 4190, "starttls": 4190},
}


def validate(config: Config, *, need_upstream: bool = True) -> None:
    """Checks that span settings; raises ConfigError naming the first bad one."""
    s = config.session
    if s.idle_timeout_s <= 0:
        raise ConfigError("session.idle_timeout_s: must be positive")
    if s.absolute_timeout_s < s.idle_timeout_s:
        raise ConfigError("session.absolute_timeout_s: must be at least idle_timeout_s")
    for where, value in (
        ("server.request_header_timeout_s", config.server.request_header_timeout_s),
        ("server.request_body_timeout_s", config.server.request_body_timeout_s),
        ("server.response_write_timeout_s", config.server.response_write_timeout_s),
        ("imap.timeout_s", config.imap.timeout_s),
        ("smtp.timeout_s", config.smtp.timeout_s),
        ("sieve.timeout_s", config.sieve.timeout_s),
        ("contacts.timeout_s", config.contacts.timeout_s),
        ("proxy.timeout_s", config.proxy.timeout_s),
        ("proxy.url_lifetime_s", config.proxy.url_lifetime_s),
        ("proxy.per_session_concurrency", config.proxy.per_session_concurrency),
        ("proxy.max_bytes", config.proxy.max_bytes),
        ("push.poll_interval_s", config.push.poll_interval_s),
        ("push.idle_renew_s", config.push.idle_renew_s),
        ("push.keepalive_s", config.push.keepalive_s),
    ):
        # Zero would fail every connection or request at once, spin, or (fetch slots)
        # keep every image waiting.
        if value <= 0:
            raise ConfigError(f"{where}: must be positive")
    if not 0 < config.server.port < 65536:
        raise ConfigError("server.port (MAILGATE_SERVER_PORT): must be 1-65535")
    if config.server.public_url and not config.server.public_url.startswith("https://"):
        raise ConfigError("server.public_url: must start with https://")
    if need_upstream and not config.domains.entries:
        for name in ("imap", "smtp", "sieve"):
            up = getattr(config, name)
            if name == "sieve" and not up.host:
                continue  # optional: filters and vacation replies are off
            if not up.host:
                raise ConfigError(f"{name}.host ({_env_name(name, 'host')}): is required")
            _check_port(
                f"{name}.port ({_env_name(name, 'port')})",
                name,
                up.port,
                up.security,
                config.upstream.allow_any_port,
            )
            if _is_ip_literal(up.host):
                # Certificates are checked against a host name (RFC 7817).
                raise ConfigError(f"{name}.host: must be a host name, not an IP address")
    if need_upstream and (not config.tls.cert_file or not config.tls.key_file):
        raise ConfigError(
            "tls.cert_file / tls.key_file (MAILGATE_TLS_CERT_FILE, MAILGATE_TLS_KEY_FILE): "
            "are required; mailgate only serves HTTPS"
        )
    _validate_domains(config)
    _check_carddav_url("contacts.carddav_url", config.contacts.carddav_url)
    for domain_entry in config.domains.entries:
        _check_carddav_url(f'domains."{domain_entry.domain}".carddav_url', domain_entry.carddav_url)
    _validate_store(config.store)
    if config.limits.upload_max_bytes > config.limits.session_upload_max_bytes:
        raise ConfigError("limits.upload_max_bytes: must not exceed session_upload_max_bytes")
    for entry in config.proxy.allow_private_addresses:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(
                "proxy.allow_private_addresses: must list IP addresses or networks"
            ) from None


def _validate_store(store: StoreConfig) -> None:
    if store.backend != "redis":
        return
    if store.sentinels or store.sentinel_service:
        if store.redis_url:
            raise ConfigError("store.redis_url: set either a URL or Sentinel, not both")
        if not store.sentinels or not store.sentinel_service:
            raise ConfigError(
                "store.sentinels / store.sentinel_service (MAILGATE_STORE_SENTINELS, "
                "MAILGATE_STORE_SENTINEL_SERVICE): Sentinel needs both"
            )
        for address in store.sentinels:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError("store.sentinels: each entry must be host:port")
        return
    if not store.redis_url:
        raise ConfigError(
            "store.redis_url (MAILGATE_STORE_REDIS_URL): is required for redis "
            "(or store.sentinels with store.sentinel_service)"
        )


def _check_port(where: str, protocol: str, port: int, security: str, any_port: bool) -> None:
    if not 0 < port < 65536:
        raise ConfigError(f"{where}: must be 1-65535")
    standard = MAIL_PORTS[protocol][security]
    if port != standard and not any_port:
        raise ConfigError(
            f"{where}: {port} is not the {protocol} port for {security} ({standard}); "
            "set upstream.allow_any_port to use it"
        )


def _validate_domains(config: Config) -> None:
    """Every entry: a normalized domain name, host names (not IP addresses) and standard
    ports (SEC-63) for each server; the default names an entry."""
    domains = config.domains
    seen: set[str] = set()
    for entry in domains.entries:
        where = f'domains."{entry.domain}"'
        if normalize_domain(entry.domain) != entry.domain:
            raise ConfigError(
                f"{where}: must be a lower-case domain name in IDNA form "
                f"({normalize_domain(entry.domain) or 'not a domain name'})"
            )
        if entry.domain in seen:
            raise ConfigError(f"{where}: listed twice")
        seen.add(entry.domain)
        for protocol, host in (("imap", entry.imap_host), ("smtp", entry.smtp_host)):
            if not host:
                raise ConfigError(f"{where}.{protocol}_host: is required")
        servers = [
            ("imap", entry.imap_host, entry.imap_port, entry.imap_security),
            ("smtp", entry.smtp_host, entry.smtp_port, entry.smtp_security),
        ]
        if entry.sieve_host:
            servers.append(("sieve", entry.sieve_host, entry.sieve_port, entry.sieve_security))
        for protocol, host, port, security in servers:
            if _is_ip_literal(host):
                raise ConfigError(
                    f"{where}.{protocol}_host: must be a host name, not an IP address"
                )
            if port:
                _check_port(
                    f"{where}.{protocol}_port",
                    protocol,
                    port,
                    security,
                    config.upstream.allow_any_port,
                )
        _validate_oidc(where, entry)
    if domains.default and domains.default not in seen:
        raise ConfigError(
            "domains.default (MAILGATE_DOMAINS_DEFAULT): must name a domain of the map"
        )


def _validate_oidc(where: str, entry: DomainEntry) -> None:
    if not entry.oidc_issuer:
        if not entry.passwords_allowed:
            raise ConfigError(f"{where}.passwords_allowed: off needs an oidc_issuer")
        return
    issuer = urllib.parse.urlsplit(entry.oidc_issuer)
    if issuer.scheme != "https" or not issuer.hostname or issuer.query or issuer.fragment:
        raise ConfigError(f"{where}.oidc_issuer: must be an https URL without query")
    if not entry.oidc_client_id:
        raise ConfigError(f"{where}.oidc_client_id: is required with oidc_issuer")
    if "openid" not in entry.oidc_scopes.split():
        raise ConfigError(f"{where}.oidc_scopes: must include openid")
    if not entry.oidc_login_claim:
        raise ConfigError(f"{where}.oidc_login_claim: must name a claim")


def _check_carddav_url(where: str, url: str) -> None:
    """An address book is reached over verified TLS only (Basic auth carries the password)."""
    if url and not url.startswith("https://"):
        raise ConfigError(f"{where}: must start with https://")


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
