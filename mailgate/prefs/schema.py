"""Validation of the preferences object: known keys only, typed, bounded.

Every rejection is a BadRequest whose message names the field, so a UI can point at it.
Values come back normalized (e-mail addresses and domains lower-cased, duplicates gone).
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable
from functools import cache
from typing import Any

from mailgate.errors import BadRequest, PayloadTooLarge
from mailgate.i18n import LANGUAGES

__all__ = ["FIELDS", "encode", "validate_preferences"]

_TIME_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,3}")
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,64}")
_LABEL = re.compile(r"(?!-)[^\W_](?:[^\W_]|-){0,62}(?<!-)")
_SAFE_KEY = re.compile(r"[A-Za-z0-9_]{1,40}")
_MAX_SENDERS = 500


def _bad(name: str, rule: str) -> BadRequest:
    return BadRequest(f"The preference '{name}' {rule}.")


def _text(name: str, limit: int, *, multiline: bool) -> Callable[[Any], str]:
    allowed = {"\n", "\r", "\t"} if multiline else set()

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _bad(name, "must be a string")
        if len(value) > limit:
            raise _bad(name, f"must be at most {limit} characters")
        if any((ord(c) < 32 or ord(c) == 127) and c not in allowed for c in value):
            raise _bad(name, "must not contain control characters")
        return value

    return check


def _choice(name: str, *choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise _bad(name, "must be one of " + ", ".join(choices))
        return value

    return check


def _page_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 10 <= value <= 200:
        raise _bad("page_size", "must be a whole number from 10 to 200")
    return value


@cache
def _known_zones() -> frozenset[str]:
    # Empty when the system has no time-zone database: then the name's form must do.
    return frozenset(zoneinfo.available_timezones())


def _time_zone(value: Any) -> str:
    """An IANA zone name (the UI shows dates in it; unset means the browser's own)."""
    if not isinstance(value, str) or len(value) > 64 or not _TIME_ZONE.fullmatch(value):
        raise _bad("time_zone", "must be an IANA time zone name such as Europe/Berlin")
    known = _known_zones()
    if known and value not in known and value != "UTC":
        raise _bad("time_zone", "must be an IANA time zone name such as Europe/Berlin")
    return value


def _is_domain(text: str) -> bool:
    labels = text.split(".")
    return len(text) <= 253 and len(labels) >= 2 and all(_LABEL.fullmatch(x) for x in labels)


def _sender(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 254:
        raise _bad("remote_images_senders", "must list e-mail addresses or domains")
    text = value.strip().lower()
    local, at, domain = text.rpartition("@")
    ok = _is_domain(domain) and (not at or not local or _LOCAL_PART.fullmatch(local) is not None)
    if not ok:
        raise _bad("remote_images_senders", "must list e-mail addresses or domains")
    return text if local else domain


def _senders(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise _bad("remote_images_senders", "must be a list")
    if len(value) > _MAX_SENDERS:
        raise _bad("remote_images_senders", f"must have at most {_MAX_SENDERS} entries")
    return list(dict.fromkeys(_sender(v) for v in value))


FIELDS: dict[str, Callable[[Any], Any]] = {
    "page_size": _page_size,
    "theme": _choice("theme", "light", "dark", "system"),
    "signature": _text("signature", 2000, multiline=True),
    "display_name": _text("display_name", 100, multiline=False),
    "time_zone": _time_zone,
    "language": _choice("language", *LANGUAGES),
    "compose_format": _choice("compose_format", "text", "html"),
    "remote_images_senders": _senders,
}


def validate_preferences(data: Any, max_bytes: int) -> dict[str, Any]:
    """The normalized preferences, or BadRequest / PayloadTooLarge naming the problem."""
    if not isinstance(data, dict):
        raise BadRequest("The preferences must be a JSON object.")
    clean: dict[str, Any] = {}
    for key, value in data.items():
        check = FIELDS.get(key)
        if check is None:
            # Echo the key only when it is plainly a name, never arbitrary input.
            name = f"'{key}'" if _SAFE_KEY.fullmatch(key) else "in the body"
            raise BadRequest(
                f"The preference {name} is not known; known: {', '.join(sorted(FIELDS))}."
            )
        clean[key] = check(value)
    if len(encode(clean)) > max_bytes:
        raise PayloadTooLarge("The preferences are larger than the limit.")
    return clean


def encode(preferences: dict[str, Any]) -> bytes:
    """The canonical bytes that are sealed and stored."""
    return json.dumps(preferences, ensure_ascii=False, separators=(",", ":")).encode()
