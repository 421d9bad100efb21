"""Signing in to the mail servers with an OpenID provider's access token: IMAP
AUTHENTICATE OAUTHBEARER (RFC 7628) and XOAUTH2 against a real Dovecot whose oauth2 passdb
validates the real provider's JWT access tokens locally (tests/servers/oidc.py)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import aiosmtplib
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from mailgate.errors import AuthFailed
from mailgate.mail.imap import ImapConnection
from mailgate.mail.imap.errors import ImapAuthError
from mailgate.mail.smtp import _authenticate_bearer
from mailgate.tls import upstream_context
from tests.integration.test_oidc_signin import Sink
from tests.oidc.flow import provider_tokens
from tests.servers.dovecot import Dovecot, OAuth2Validation, random_password
from tests.servers.oidc import OidcProvider

pytestmark = pytest.mark.dovecot


@dataclass
class Stack:
    provider: OidcProvider
    dovecot: Dovecot

    def new_user(self) -> str:
        email = f"o-{random_password()[:8].lower()}@alpha.test"
        self.dovecot.add_user(email, random_password())
        return email


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if not Dovecot.available() or not OidcProvider.available():
        pytest.skip("needs dovecot and `npm install --prefix tests/oidc/provider`")
    with OidcProvider("https://localhost:9/oidc/callback") as provider:
        validation = OAuth2Validation(provider.issuer, provider.kid, provider.public_pem())
        sink = Sink()
        dovecot = Dovecot(oauth2=validation, submission_relay_port=sink.port)
        dovecot.start()
        try:
            yield Stack(provider, dovecot)
        finally:
            dovecot.cleanup()
            sink.stop()


async def _connect(stack: Stack) -> ImapConnection:
    dc = stack.dovecot
    return await ImapConnection.open(
        dc.host, dc.port or 0, "tls", upstream_context(dc.ca_file), timeout=10
    )


@pytest.mark.parametrize("mechanism", ["OAUTHBEARER", "XOAUTH2", "OAUTHBEARER without SASL-IR"])
async def test_imap_accepts_the_providers_access_token(stack: Stack, mechanism: str) -> None:
    email = stack.new_user()
    tokens = await provider_tokens(stack.provider, email)
    conn = await _connect(stack)
    try:
        assert "AUTH=OAUTHBEARER" in conn.capabilities and "AUTH=XOAUTH2" in conn.capabilities
        if mechanism == "XOAUTH2":  # a server that only offers XOAUTH2
            conn.capabilities = frozenset(conn.capabilities - {"AUTH=OAUTHBEARER"})
        if mechanism.endswith("without SASL-IR"):  # the token after the first "+"
            conn.capabilities = frozenset(conn.capabilities - {"SASL-IR"})
        await conn.authenticate_bearer(email, tokens["access_token"], "localhost", 993)
        resp = await conn.command("SELECT", "INBOX")
        assert resp.status == "OK"
    finally:
        await conn.logout()


def _forged(stack: Stack, email: str, **changes: object) -> str:
    """An access token like the provider's, signed with a key of our own."""
    key = RSAKey.generate_key(2048, parameters={"kid": stack.provider.kid}, private=True)
    now = int(time.time())
    claims = {
        "sub": email,
        "iss": stack.provider.issuer,
        "aud": stack.provider.resource,
        "iat": now,
        "exp": now + 600,
        "client_id": stack.provider.client_id,
        "scope": "openid email",
    }
    claims.update(changes)
    return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": stack.provider.kid}, claims, key)


async def test_imap_refuses_a_token_for_another_user_or_from_another_key(stack: Stack) -> None:
    email, other = stack.new_user(), stack.new_user()
    tokens = await provider_tokens(stack.provider, other)
    for token in (tokens["access_token"], _forged(stack, email)):
        conn = await _connect(stack)
        try:
            with pytest.raises(ImapAuthError):
                await conn.authenticate_bearer(email, token, "localhost", 993)
        finally:
            await conn.logout()


async def test_imap_refuses_a_token_whose_lifetime_was_extended(stack: Stack) -> None:
    email = stack.new_user()
    tokens = await provider_tokens(stack.provider, email)
    header, payload, signature = tokens["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = int(claims["exp"]) + 86400
    tampered = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    conn = await _connect(stack)
    try:
        with pytest.raises(ImapAuthError):
            await conn.authenticate_bearer(
                email, f"{header}.{tampered}.{signature}", "localhost", 993
            )
    finally:
        await conn.logout()


async def test_smtp_accepts_the_token_and_refuses_a_forged_one(stack: Stack) -> None:
    """Dovecot's submission server, same oauth2 passdb: the provider's token signs in (its
    initial response is too long for the AUTH line and follows an empty challenge), a token
    signed with another key is refused."""
    email = stack.new_user()
    tokens = await provider_tokens(stack.provider, email)
    for token, accepted in ((tokens["access_token"], True), (_forged(stack, email), False)):
        client = aiosmtplib.SMTP(
            hostname="localhost",
            port=stack.dovecot.smtp_port,
            use_tls=True,
            tls_context=upstream_context(stack.dovecot.ca_file),
        )
        await client.connect()
        try:
            await client.ehlo()
            if accepted:
                await _authenticate_bearer(client, email, token, "localhost", 465)
            else:
                with pytest.raises(AuthFailed):
                    await _authenticate_bearer(client, email, token, "localhost", 465)
        finally:
            client.close()
