"""Which mail servers serve an address: the operator's domain map, chosen by the address alone.

Nothing else in a request (Host, X-Forwarded-Host, a form field) reaches this choice: the
login address's domain, normalized (`mailgate.domains`), is looked up exactly in the
map. With no map configured, the [imap], [smtp] and [sieve] sections serve every address.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailgate.config import MAIL_PORTS, Config, DomainEntry, Security
from mailgate.domains import address_domain

__all__ = ["Endpoint", "Upstream", "UpstreamDirectory"]


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    security: Security


@dataclass(frozen=True)
class Upstream:
    """One upstream set: the servers that serve one mail domain (or every address)."""

    # The map's domain, or "" for the single upstream of a configuration without a map.
    name: str
    imap: Endpoint
    smtp: Endpoint
    sieve: Endpoint | None = None
    # The CardDAV address book URL (`{user}` not yet replaced); empty: none.
    carddav_url: str = ""


def _port(protocol: str, port: int, security: Security) -> int:
    return port or MAIL_PORTS[protocol][security]


def _from_entry(entry: DomainEntry) -> Upstream:
    sieve = None
    if entry.sieve_host:
        sieve = Endpoint(
            entry.sieve_host,
            _port("sieve", entry.sieve_port, entry.sieve_security),
            entry.sieve_security,
        )
    return Upstream(
        name=entry.domain,
        imap=Endpoint(
            entry.imap_host,
            _port("imap", entry.imap_port, entry.imap_security),
            entry.imap_security,
        ),
        smtp=Endpoint(
            entry.smtp_host,
            _port("smtp", entry.smtp_port, entry.smtp_security),
            entry.smtp_security,
        ),
        sieve=sieve,
        carddav_url=entry.carddav_url,
    )


class UpstreamDirectory:
    def __init__(self, config: Config):
        domains = config.domains
        self._by_domain = {entry.domain: _from_entry(entry) for entry in domains.entries}
        self._default: Upstream | None
        if not domains.entries:
            imap, smtp, sieve = config.imap, config.smtp, config.sieve
            self._default = Upstream(
                "",
                Endpoint(imap.host, imap.port, imap.security),
                Endpoint(smtp.host, smtp.port, smtp.security),
                Endpoint(sieve.host, sieve.port, sieve.security) if sieve.host else None,
                config.contacts.carddav_url,
            )
        else:
            self._default = self._by_domain.get(domains.default) if domains.default else None
        self.show_on_login = domains.show_on_login

    def for_address(self, address: str) -> Upstream | None:
        """The servers for this login address; None when the map does not serve it."""
        if not self._by_domain:
            return self._default
        domain = address_domain(address)
        if domain is None:
            return None  # IP literals, trailing dots, malformed names: no upstream at all
        return self._by_domain.get(domain, self._default)

    def all(self) -> list[Upstream]:
        """Every upstream set, each once (for health checks and `mailgate check`)."""
        if not self._by_domain:
            return [self._default] if self._default else []
        return list(self._by_domain.values())

    def served_domains(self) -> list[str]:
        """The map's domains, for the login screen (only shown when the operator allows)."""
        return sorted(self._by_domain)
