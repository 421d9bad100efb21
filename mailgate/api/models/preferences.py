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
from mailgate.mail.compose import parse_recipient
from mailgate.prefs.schema import encode, normalize_sender

from .base import RequestBody, ResponseBody

__all__ = ["MAX_IDENTITIES", "Identity", "Preferences", "PreferencesAnswer"]

MAX_SENDERS = 500
MAX_IDENTITIES = 20
# No control characters; the multi-line signature may hold tabs and line breaks.
_SINGLE_LINE = r"^[^\x00-\x1f\x7f]*$"
_MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_TIME_ZONE = r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,3}$"
_SAFE_KEY = re.compile(r"[A-Za-z0-9_]{1,40}")
_IDENTITY_ID = r"^[A-Za-z0-9_-]{1,32}$"

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
    "identities": (
        f"must be a list of at most {MAX_IDENTITIES} identities, each with its own 'id', a "
        "valid 'email', an optional 'name' (100 characters), 'reply_to' (an address), "
        "'bcc_self' (true or false) and 'signature' (2000 characters)"
    ),
    "remote_images_senders": (
        f"must be a list of at most {MAX_SENDERS} e-mail addresses or domains"
    ),
}


class Identity(RequestBody, omit_defaults=True):
    """One From identity: the address and name a message goes out with, an optional
    Reply-To, a Bcc to itself and its own signature. The SMTP server still decides which
    addresses it lets this login send from."""

    id: Annotated[str, Meta(pattern=_IDENTITY_ID)]
    email: Annotated[str, Meta(min_length=3, max_length=254, pattern=_SINGLE_LINE)]
    name: Annotated[str, Meta(max_length=100, pattern=_SINGLE_LINE)] = ""
    reply_to: Annotated[str, Meta(max_length=254, pattern=_SINGLE_LINE)] = ""
    bcc_self: bool = False
    signature: Annotated[str, Meta(max_length=2000, pattern=_MULTI_LINE)] = ""


def _checked_identity(identity: Identity) -> Identity | None:
    """The identity with its addresses in their canonical form; None when one is not an
    address a message can be sent from (or a value smuggles in a line break)."""
    if any("\n" in v for v in (identity.id, identity.email, identity.name, identity.reply_to)):
        return None
    try:
        sender = parse_recipient({"email": identity.email.strip(), "name": ""}, "identities")
        reply_to = (
            parse_recipient({"email": identity.reply_to.strip(), "name": ""}, "identities")
            if identity.reply_to.strip()
            else None
        )
    except BadRequest:
        return None
    return Identity(
        id=identity.id,
        email=sender.addr_spec,
        name=identity.name.strip(),
        reply_to=reply_to.addr_spec if reply_to is not None else "",
        bcc_self=identity.bcc_self,
        signature=identity.signature,
    )


class Preferences(RequestBody, omit_defaults=True):
    page_size: Annotated[int, Meta(ge=10, le=200)] | UnsetType = UNSET
    theme: Literal["light", "dark", "system"] | UnsetType = UNSET
    signature: Annotated[str, Meta(max_length=2000, pattern=_MULTI_LINE)] | UnsetType = UNSET
    display_name: Annotated[str, Meta(max_length=100, pattern=_SINGLE_LINE)] | UnsetType = UNSET
    time_zone: Annotated[str, Meta(max_length=64, pattern=_TIME_ZONE)] | UnsetType = UNSET
    compose_format: Literal["text", "html"] | UnsetType = UNSET
    list_view: Literal["messages", "conversations"] | UnsetType = UNSET
    language: Language | UnsetType = UNSET
    identities: Annotated[list[Identity], Meta(max_length=MAX_IDENTITIES)] | UnsetType = UNSET
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
        if not isinstance(self.identities, UnsetType):
            checked = [_checked_identity(i) for i in self.identities]
            ids = [i.id for i in self.identities]
            if len(set(ids)) != len(ids):
                raise BadRequest(self.invalid_message("identities"))
            self.identities = []
            for identity in checked:
                if identity is None:
                    raise BadRequest(self.invalid_message("identities"))
                self.identities.append(identity)
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
