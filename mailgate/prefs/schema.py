"""What a preference value means beyond its declared type (mailgate/api/models/preferences.py):
which strings name a sender, and the canonical bytes that are sealed and stored."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["encode", "normalize_sender"]

_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,64}")
_LABEL = re.compile(r"(?!-)[^\W_](?:[^\W_]|-){0,62}(?<!-)")


def _is_domain(text: str) -> bool:
    labels = text.split(".")
    return len(text) <= 253 and len(labels) >= 2 and all(_LABEL.fullmatch(x) for x in labels)


def normalize_sender(value: str) -> str | None:
    """An e-mail address or a domain, lower-cased ("@example.org" counts as the domain);
    None when it is neither."""
    if len(value) > 254:
        return None
    text = value.strip().lower()
    local, at, domain = text.rpartition("@")
    ok = _is_domain(domain) and (not at or not local or _LOCAL_PART.fullmatch(local) is not None)
    if not ok:
        return None
    return text if local else domain


def encode(preferences: dict[str, Any]) -> bytes:
    """The canonical bytes that are sealed and stored."""
    return json.dumps(preferences, ensure_ascii=False, separators=(",", ":")).encode()
