"""The session cookie: one spelling only, and only the key that opens a session may end it
(issue 15)."""

from __future__ import annotations

import base64
import secrets

import pytest

from mailgate.session.tokens import COOKIE_NAME, SessionToken, new_token, parse_token
from mailgate.testing.client import ApiClient

ON_PYMAP = pytest.mark.parametrize("upstream", ["pymap"], indirect=True)


def _forged(cookie: str) -> str:
    """The same session id with a key of our own."""
    token = parse_token(cookie)
    assert token is not None
    return SessionToken(token.session_id, secrets.token_bytes(32)).encode()


@ON_PYMAP
async def test_a_login_with_a_cookie_that_does_not_open_its_session_leaves_it(upstream, mailgate):
    victim, attacker = upstream.new_user(), upstream.new_user()
    async with (
        ApiClient(mailgate.url, mailgate.client_ssl()) as first,
        ApiClient(mailgate.url, mailgate.client_ssl()) as second,
    ):
        assert (await first.login(*victim)).status == 201
        second.cookie = _forged(first.cookie)
        assert (await second.login(*attacker)).status == 201
        assert (await first.get("/api/session")).status == 200  # still alive
        # Its genuine cookie still ends it at the next login.
        old = first.cookie
        assert (await first.login(*victim)).status == 201
        assert first.cookie != old
        resp = await first.get("/api/session", headers={"Cookie": f"{COOKIE_NAME}={old}"})
        assert resp.status == 401


@ON_PYMAP
async def test_only_the_canonical_cookie_value_is_accepted(upstream, mailgate, user):
    async with ApiClient(mailgate.url, mailgate.client_ssl()) as api:
        assert (await api.login(*user)).status == 201
        value = api.cookie
        assert (await api.get("/api/session")).status == 200
        variants = [f'"{value}"', value.replace("-", "+").replace("_", "/"), value + "="]
        token = parse_token(value)
        raw = token.session_id + token.key
        # The same 64 bytes with the spare low bits of the last character set.
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        last = alphabet.index(value[-1])
        variants.append(value[:-1] + alphabet[last | 0b0101])
        assert base64.urlsafe_b64decode(variants[-1] + "==") == raw
        for variant in variants:
            if variant == value:
                continue
            resp = await api.get("/api/session", headers={"Cookie": f"{COOKIE_NAME}={variant}"})
            assert resp.status == 401, variant


def test_parse_token_takes_exactly_what_encode_writes() -> None:
    token = new_token()
    assert parse_token(token.encode()) == token
    for bad in (None, "", token.encode()[:-1], " " + token.encode()[1:], "=" * 86):
        assert parse_token(bad) is None
