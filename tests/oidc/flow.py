"""Walking the test provider's login and consent forms (its development interactions) with
an HTTP client, for tests that do not need a browser."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import ssl
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import aiohttp

from tests.conftest import CANARIES
from tests.servers.oidc import OidcProvider

__all__ = ["provider_login", "provider_tokens"]

_ACTION = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"', re.I)


async def provider_login(
    authorization_url: str, login: str, redirect_uri: str, ca_file: str
) -> str:
    """Sign ``login`` in at the provider and consent; the URL the provider sends the browser
    back to (the redirect URI with ``code`` and ``state``, or with an error)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    jar = aiohttp.CookieJar()
    connector = aiohttp.TCPConnector(ssl=ctx)
    async with aiohttp.ClientSession(cookie_jar=jar, connector=connector) as http:
        url, method, data = authorization_url, "GET", None
        for _ in range(12):
            async with http.request(method, url, data=data, allow_redirects=False) as resp:
                if resp.status in (302, 303):
                    target = urljoin(url, resp.headers["Location"])
                    if target.startswith(redirect_uri):
                        return target
                    url, method, data = target, "GET", None
                    continue
                text = await resp.text()
                if resp.status != 200:
                    raise AssertionError(f"provider answered {resp.status}: {text[:300]}")
                match = _ACTION.search(text)
                if match is None:
                    raise AssertionError(f"no form on the provider's page: {text[:300]}")
                action = urljoin(url, match.group(1))
                if 'name="login"' in text:
                    data = {"prompt": "login", "login": login, "password": "any"}
                else:
                    data = {"prompt": "consent"}
                url, method = action, "POST"
        raise AssertionError("the provider never sent the browser back")


async def provider_tokens(provider: OidcProvider, login: str) -> dict[str, Any]:
    """Tokens for ``login`` straight from the provider (code flow with PKCE, no mailgate):
    for tests of the upstream servers' token validation."""
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    query = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": provider.redirect_uri,
        "scope": "openid email offline_access",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    back = await provider_login(
        f"{provider.issuer}/auth?{urlencode(query)}",
        login,
        provider.redirect_uri,
        provider.ca_file,
    )
    code = parse_qs(urlparse(back).query)["code"][0]
    ctx = ssl.create_default_context(cafile=provider.ca_file)
    basic = base64.b64encode(f"{provider.client_id}:{provider.client_secret}".encode()).decode()
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http,
        http.post(
            f"{provider.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": provider.redirect_uri,
                "code_verifier": verifier,
            },
            headers={"Authorization": f"Basic {basic}"},
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()
        tokens: dict[str, Any] = await resp.json()
    CANARIES.add(*(v for k, v in tokens.items() if k.endswith("_token")), kind="token")
    return tokens
