"""Mail domains as keys: one normal form for the domain map and for login addresses.

The domain of a login address picks the upstream servers, so two spellings of one
domain must meet in one key, and a look-alike must not meet a real domain: names are
lower-cased and IDNA-encoded (UTS #46 mapping, then IDNA 2008), so `Ex\u0430mple.org` (a
Cyrillic a) becomes `xn--exmple-4nf.org`, never `example.org`.
"""

from __future__ import annotations

import idna

__all__ = ["address_domain", "normalize_domain"]

_MAX_DOMAIN = 253


def normalize_domain(name: str) -> str | None:
    """The canonical A-label form of a DNS domain name, or None if it is not one.

    A trailing dot, an IP literal (`[127.0.0.1]`), an empty label or anything IDNA
    refuses is not a mail domain here.
    """
    if not name or len(name) > _MAX_DOMAIN or name.endswith(".") or name.startswith("["):
        return None
    try:
        encoded = idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    labels = encoded.split(".")
    if len(labels) < 2 or any(not label for label in labels):
        return None
    if labels[-1].isdigit():
        return None  # a dotted IP address, not a name
    return encoded.lower()


def address_domain(address: str) -> str | None:
    """The normalized domain of an e-mail address, or None.

    The domain follows the LAST `@`: a quoted local part may itself hold `@`
    (`"a@evil.example"@example.org` is a mailbox at example.org).
    """
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return None
    return normalize_domain(domain)
