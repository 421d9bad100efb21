"""The message catalogs (complete, every key used), language negotiation, and API
error messages in the request's language (the error codes never change)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import mailgate.errors as errors
from mailgate.api.models.base import decode_body
from mailgate.api.models.preferences import Preferences
from mailgate.errors import ApiError, BadRequest, NotFound
from mailgate.http import middlewares
from mailgate.i18n import (
    LANGUAGES,
    USER_LANGUAGE,
    catalog,
    catalog_dir,
    error_message,
    match_language,
    negotiate,
)

UI = Path(__file__).resolve().parents[2] / "mailgate" / "ui"
PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")
PLURAL_CATEGORIES = {"zero", "one", "two", "few", "many", "other"}


def _catalog_file(language: str) -> dict[str, Any]:
    return json.loads((catalog_dir() / f"{language}.json").read_text("utf-8"))


def _texts(value: Any) -> list[str]:
    return list(value.values()) if isinstance(value, dict) else [value]


def _api_error_codes() -> dict[str, str]:
    """Every error code the API can answer with, and its English default message."""
    codes = {ApiError.code: ApiError.default_message}
    for name in errors.__all__:
        cls = getattr(errors, name)
        codes[cls.code] = cls.default_message
    for code, message in middlewares._HTTP_CODES.values():
        codes.setdefault(code, message)
    return codes


def _ui_keys() -> set[str]:
    """Keys the UI names: quoted literals with a catalog prefix in the scripts, and the
    data-i18n attributes of index.html. Keys are never built from pieces (README)."""
    prefixes = {key.split(".", 1)[0] for key in _catalog_file("en")} - {"error"}
    alternatives = "|".join(sorted(prefixes))
    literal = re.compile(r"""["'`]((?:""" + alternatives + r""")\.[A-Za-z][A-Za-z0-9.]*)["'`]""")
    found: set[str] = set()
    for script in sorted((UI / "static").glob("*.js")):
        found |= set(literal.findall(script.read_text("utf-8")))
    html = (UI / "index.html").read_text("utf-8")
    found |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([^"]+)"', html))
    return found


def test_the_catalog_directory_holds_exactly_the_supported_languages() -> None:
    assert sorted(p.stem for p in catalog_dir().glob("*.json")) == sorted(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalog_has_every_key_and_no_other(language: str) -> None:
    english = _catalog_file("en")
    translated = _catalog_file(language)
    assert sorted(set(english) - set(translated)) == [], "missing keys"
    assert sorted(set(translated) - set(english)) == [], "keys the UI and API do not use"


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_text_is_filled_and_keeps_the_placeholders(language: str) -> None:
    english = _catalog_file("en")
    for key, value in _catalog_file(language).items():
        source = english[key]
        assert isinstance(value, dict) == isinstance(source, dict), key
        wanted = {name for text in _texts(source) for name in PLACEHOLDER.findall(text)}
        if isinstance(value, dict):
            assert "other" in value and set(value) <= PLURAL_CATEGORIES, key
        for text in _texts(value):
            assert isinstance(text, str) and text.strip(), key
            # A form may leave out {count} ("one message" written out), nothing else.
            assert set(PLACEHOLDER.findall(text)) <= wanted, key
            assert wanted - {"count"} <= set(PLACEHOLDER.findall(text)), key
            assert "<" not in text, key  # plain text only: it goes into textContent


def test_every_ui_key_is_in_the_catalog_and_every_catalog_key_is_used() -> None:
    english = set(_catalog_file("en"))
    used = _ui_keys()
    assert sorted(used - english) == [], "used by the UI but missing from the catalog"
    unused = {k for k in english if not k.startswith("error.")} - used
    assert sorted(unused) == [], "in the catalog but not used by the UI"


def test_the_error_keys_are_exactly_the_api_error_codes_in_english() -> None:
    codes = _api_error_codes()
    english = _catalog_file("en")
    error_keys = {k.removeprefix("error.") for k in english if k.startswith("error.")}
    assert error_keys == set(codes)
    for code, message in codes.items():
        assert english[f"error.{code}"] == message, code


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("de", "de"),
        ("de-AT,de;q=0.9,en;q=0.8", "de"),
        ("fr;q=0.1, nl", "nl"),
        ("pt", "pt-BR"),
        ("pt-PT", "pt-BR"),
        ("PT-br", "pt-BR"),
        ("no", "nb"),
        ("nn-NO", "nb"),
        ("ar-EG", "ar"),
        ("zh-CN, ja", "en"),
        ("*", "en"),
        ("de;q=0, it;q=0.5", "it"),
        ("de;q=abc, es", "es"),
        ("x" * 5000, "en"),
        ("xx," * 5000 + "de", "en"),  # only the first tags of a huge header are read
    ],
)
def test_accept_language_picks_the_best_supported_language(
    header: str | None, language: str
) -> None:
    assert negotiate(header) == language


def test_match_language_refuses_what_is_not_a_tag() -> None:
    assert match_language(None) is None
    assert match_language(42) is None
    assert match_language("  ") is None
    assert match_language("de_CH") == "de"


def test_error_messages_follow_the_language_and_keep_the_code() -> None:
    err = NotFound()
    assert err.message_in("en") == "There is nothing here."
    assert err.message_in("de") == catalog("de")["error.not_found"]
    french = "Il n\u2019y a rien ici."
    assert err.body("fr") == {"error": {"code": "not_found", "message": french}}
    # English keeps a specific message; another language says what the code means.
    specific = BadRequest("The preference 'theme' must be one of light, dark, system.")
    assert specific.message_in("en") == specific.message
    assert specific.message_in("pl") == catalog("pl")["error.bad_request"]
    assert error_message("no_such_code", "de", "fallback") == "fallback"


async def test_the_error_middleware_answers_in_the_requests_language() -> None:
    async def missing(request: web.Request) -> web.Response:
        raise NotFound()

    async def preferred(request: web.Request) -> str | None:
        return "ar" if request.headers.get("X-Test-User") else None

    app = web.Application(middlewares=[middlewares.error_middleware])
    app[USER_LANGUAGE] = preferred
    app.router.add_get("/missing", missing)
    async with TestClient(TestServer(app)) as client:
        for headers, language in [
            ({}, "en"),
            ({"Accept-Language": "de-DE,de;q=0.9"}, "de"),
            ({"Accept-Language": "es"}, "es"),
            # A signed-in user's preference wins over the header.
            ({"Accept-Language": "de", "X-Test-User": "1"}, "ar"),
        ]:
            res = await client.get("/missing", headers=headers)
            body = await res.json()
            assert res.status == 404
            assert body["error"]["code"] == "not_found"
            wanted = _catalog_file(language)["error.not_found"]
            assert body["error"]["message"] == wanted, headers
        # aiohttp's own refusals (no route) are translated too.
        res = await client.get("/nothing-here", headers={"Accept-Language": "nl"})
        assert (await res.json())["error"]["message"] == _catalog_file("nl")["error.not_found"]


async def test_a_failing_preference_lookup_falls_back_to_accept_language() -> None:
    async def missing(request: web.Request) -> web.Response:
        raise NotFound()

    async def broken(request: web.Request) -> str | None:
        raise ConnectionError("store down")

    app = web.Application(middlewares=[middlewares.error_middleware])
    app[USER_LANGUAGE] = broken
    app.router.add_get("/missing", missing)
    async with TestClient(TestServer(app)) as client:
        res = await client.get("/missing", headers={"Accept-Language": "it"})
        assert res.status == 404
        assert (await res.json())["error"]["message"] == _catalog_file("it")["error.not_found"]


def validate_preferences(data: dict[str, object], max_bytes: int) -> dict[str, object]:
    return decode_body(data, Preferences).stored(max_bytes)


def test_language_and_time_zone_preferences_are_validated() -> None:
    ok = validate_preferences({"language": "pt-BR", "time_zone": "America/Sao_Paulo"}, 4096)
    assert ok == {"language": "pt-BR", "time_zone": "America/Sao_Paulo"}
    for language in LANGUAGES:
        assert validate_preferences({"language": language}, 4096) == {"language": language}
    for bad in [{"language": "xx"}, {"language": "DE"}, {"language": 1}]:
        with pytest.raises(BadRequest, match="'language'"):
            validate_preferences(bad, 4096)
    for bad_zone in ["Mars/Olympus_Mons", "Europe/../etc", "", 5]:
        with pytest.raises(BadRequest, match="'time_zone'"):
            validate_preferences({"time_zone": bad_zone}, 4096)
