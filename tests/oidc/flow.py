"""Walking the test provider's login and consent forms (its development interactions) with
an HTTP client, for tests that do not need a browser."""

from __future__ import annotations

import re
import ssl
from urllib.parse import urljoin

import aiohttp

__all__ = ["provider_login"]

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
