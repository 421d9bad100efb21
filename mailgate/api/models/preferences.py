"""GET/PUT /api/preferences: the preferences object and its answer (API.md "Preferences").

Every field may be left out; what is stored is what was sent, normalized (senders
lower-cased, duplicates gone). A 400 names the preference, so a UI can point at it."""

from __future__ import annotations

import re
import zoneinfo
from functools import cache
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import UNSET, Meta, UnsetType

from mailgate.errors import BadRequest, PayloadTooLarge
from mailgate.i18n import LANGUAGES
from mailgate.prefs.schema import encode, normalize_sender

from .base import RequestBody, ResponseBody

__all__ = ["Preferences", "PreferencesAnswer"]

MAX_SENDERS = 500
# No control characters; the multi-line signature may hold tabs and line breaks.
_SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
_MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_TIME_ZONE = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,3}$"
_SAFE_KEY = re.compile(r"[A-Za-z0-9_]{1,40}")

# The UI's languages (mailgate/i18n.py), spelled out so the OpenAPI document lists them.
Language = Literal["en", "de", "fr", "es", "it", "nl", "nb", "pl", "pt-BR", "ar"]
assert set(get_args(Language)) == set(LANGUAGES), "keep Language in step with i18n.LANGUAGES"


@cache
def _known_zones() -> frozenset[str]:
    # Empty when the system has no time-zone database: then the name's form must do.
    return frozenset(zoneinfo.available_timezones())


_RULES = {
    "language": "must be one of " + ", ".join(LANGUAGES),
    "page_size": "must be a whole number from 10 to 200",
    "theme": "must be one of light, dark, system",
    "signature": "must be a string of at most 2000 characters without control characters",
    "display_name": "must be a string of at most 100 characters without control characters",
    "time_zone": "must be an IANA time zone name such as Europe/Berlin",
    "compose_format": "must be one of text, html",
    "list_view": "must be one of messages, conversations",
    "remote_images_senders": (
        f"must be a list of at most {MAX_SENDERS} e-mail addresses or domains"
    ),
}


class Preferences(RequestBody, omit_defaults=True):
    page_size: Annotated[int, Meta(ge=10, le=200)] | UnsetType = UNSET
    theme: Literal["light", "dark", "system"] | UnsetType = UNSET
    signature: Annotated[str, Meta(max_length=2000, pattern=_MULTI_LINE)] | UnsetType = UNSET
    display_name: Annotated[str, Meta(max_length=100, pattern=_SINGLE_LINE)] | UnsetType = UNSET
    time_zone: Annotated[str, Meta(max_length=64, pattern=_TIME_ZONE)] | UnsetType = UNSET
    compose_format: Literal["text", "html"] | UnsetType = UNSET
    list_view: Literal["messages", "conversations"] | UnsetType = UNSET
    language: Language | UnsetType = UNSET
    remote_images_senders: (
        Annotated[list[Annotated[str, Meta(max_length=254)]], Meta(max_length=MAX_SENDERS)]
        | UnsetType
    ) = UNSET

    @classmethod
    def invalid_message(cls, field: str) -> str:
        return f"The preference '{field}' {_RULES.get(field, 'is not valid')}."

    @classmethod
    def unknown_message(cls, key: str) -> str:
        # Echo the key only when it is plainly a name, never arbitrary input.
        name = f"'{key}'" if _SAFE_KEY.fullmatch(key) else "in the body"
        known = ", ".join(cls.__struct_encode_fields__)
        return f"The preference {name} is not known; known: {known}."

    def check(self) -> None:
        # In Python a pattern's `$` also matches before one final newline.
        for name in ("display_name", "time_zone"):
            value = getattr(self, name)
            if isinstance(value, str) and "\n" in value:
                raise BadRequest(self.invalid_message(name))
        zone = self.time_zone
        known = _known_zones()
        if isinstance(zone, str) and known and zone not in known and zone != "UTC":
            raise BadRequest(self.invalid_message("time_zone"))
        if not isinstance(self.remote_images_senders, UnsetType):
            senders = [normalize_sender(s) for s in self.remote_images_senders]
            if None in senders:
                raise BadRequest(self.invalid_message("remote_images_senders"))
            self.remote_images_senders = list(dict.fromkeys(s for s in senders if s))

    def stored(self, max_bytes: int) -> dict[str, Any]:
        """What is sealed and stored: the fields sent, within the size limit."""
        values: dict[str, Any] = msgspec.to_builtins(self)
        if len(encode(values)) > max_bytes:
            raise PayloadTooLarge("The preferences are larger than the limit.")
        return values


class PreferencesAnswer(ResponseBody):
    preferences: Preferences
    retained_until: str | None  # ISO 8601 UTC; null when nothing is stored
    retention_days: float  # days without a login after which stored preferences are erased
