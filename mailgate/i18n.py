"""Languages on the server: choosing one for a request, and API error messages in it.

The message catalogs are the bundled UI's (`mailgate/ui/static/i18n/<lang>.json`): one
flat JSON object per language, key -> text. The API's error messages are the keys
`error.<code>`; the codes themselves never change with the language. A request's
language is the signed-in user's `language` preference, else the best match of its
`Accept-Language` header, else English.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "RTL_LANGUAGES",
    "USER_LANGUAGE",
    "catalog",
    "catalog_dir",
    "direction",
    "error_message",
    "match_language",
    "negotiate",
]

# The same list as the UI's i18n.js; every one has a complete catalog (tests check).
LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "nl", "nb", "pl", "pt-BR", "ar")
RTL_LANGUAGES = frozenset({"ar"})
DEFAULT_LANGUAGE = "en"
# Accept-Language is short in practice; a longer header is cut, never parsed whole.
_MAX_HEADER = 512
_MAX_TAGS = 32
_ALIASES = {"no": "nb", "nn": "nb"}

# The signed-in user's preferred language for a request, or None (not signed in, none
# chosen). Set by the preferences feature; the error middleware asks it.
UserLanguage = Callable[[web.Request], Awaitable[str | None]]
USER_LANGUAGE: web.AppKey[UserLanguage] = web.AppKey("mailgate_user_language")


def catalog_dir() -> Path:
    return Path(str(resources.files("mailgate") / "ui" / "static" / "i18n"))


@cache
def catalog(language: str) -> dict[str, Any]:
    """The catalog of a supported language (read once); {} for anything else."""
    if language not in LANGUAGES:
        return {}
    try:
        data = json.loads((catalog_dir() / f"{language}.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def match_language(tag: object) -> str | None:
    """The supported language a BCP 47 tag asks for ("de-AT" -> "de", "no" -> "nb")."""
    if not isinstance(tag, str):
        return None
    lower = tag.strip().lower().replace("_", "-")
    if not lower:
        return None
    for language in LANGUAGES:
        if language.lower() == lower:
            return language
    primary = lower.split("-", 1)[0]
    primary = _ALIASES.get(primary, primary)
    for language in LANGUAGES:
        if language.lower().split("-", 1)[0] == primary:
            return language
    return None


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def negotiate(accept_language: str | None) -> str:
    """The best supported language of an Accept-Language header (RFC 9110), else English."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language[:_MAX_HEADER].split(",")[:_MAX_TAGS]):
        tag, *params = item.split(";")
        q = _quality(params)
        language = match_language(tag)
        if language is not None and q > 0:
            ranked.append((-q, index, language))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def direction(language: str) -> str:
    return "rtl" if language in RTL_LANGUAGES else "ltr"


def error_message(code: str, language: str, english: str) -> str:
    """The error message for `code` in `language`.

    English keeps `english`, the specific sentence the code raised (it may name the field
    at fault); other languages get the catalog's sentence for the code, and the English
    one only if a catalog lacks it (the catalog tests make sure none does).
    """
    if language == DEFAULT_LANGUAGE:
        return english
    text = catalog(language).get(f"error.{code}")
    return text if isinstance(text, str) and text else english
