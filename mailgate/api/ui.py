"""Serves the bundled UI: the HTML shell with subresource integrity, and its assets.

Assets are read once at start-up; `__SRI_<file>__` placeholders in index.html become
`sha384-…` digests of the files they name (SEC-30). `__LANG__` and `__DIR__` become the
language picked from the request's Accept-Language (the UI starts in it), so the shell
is made once per supported language. The message catalogs are `static/i18n/<lang>.json`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from pathlib import Path

from aiohttp import web

from mailgate.errors import NotFound
from mailgate.http.headers import SHELL_CSP
from mailgate.i18n import LANGUAGES, direction, negotiate

__all__ = ["setup"]

_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain",
}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}$")


def _ui_root() -> Path:
    return Path(str(resources.files("mailgate") / "ui"))


def _load_assets(static: Path) -> dict[str, tuple[bytes, str]]:
    assets = {}
    if static.is_dir():
        for path in static.iterdir():
            if path.is_file() and path.suffix in _TYPES and _SAFE_NAME.match(path.name):
                assets[path.name] = (path.read_bytes(), _TYPES[path.suffix])
    return assets


def _shell(root: Path, assets: dict[str, tuple[bytes, str]]) -> bytes:
    index = root / "index.html"
    html = index.read_text("utf-8") if index.is_file() else "<!doctype html><title>mailgate</title>"

    def sri(match: re.Match[str]) -> str:
        asset = assets.get(match.group(1))
        if asset is None:
            return ""
        return "sha384-" + base64.b64encode(hashlib.sha384(asset[0]).digest()).decode()

    return re.sub(r"__SRI_([A-Za-z0-9_.-]+)__", sri, html).encode()


def _shells(shell: bytes) -> dict[str, bytes]:
    return {
        lang: shell.replace(b"__LANG__", lang.encode()).replace(
            b"__DIR__", direction(lang).encode()
        )
        for lang in LANGUAGES
    }


def setup(app: web.Application) -> None:
    root = _ui_root()
    assets = _load_assets(root / "static")
    catalogs = _load_assets(root / "static" / "i18n")
    shells = _shells(_shell(root, assets))

    async def index(request: web.Request) -> web.Response:
        language = negotiate(request.headers.get("Accept-Language"))
        return web.Response(
            body=shells[language],
            content_type="text/html",
            charset="utf-8",
            headers={"Content-Security-Policy": SHELL_CSP, "Vary": "Accept-Language"},
        )

    def serve(found: tuple[bytes, str] | None) -> web.Response:
        if found is None:
            raise NotFound()
        body, content_type = found
        charset = "utf-8" if content_type.startswith(("text/", "application/json")) else None
        return web.Response(body=body, content_type=content_type, charset=charset)

    async def static(request: web.Request) -> web.Response:
        return serve(assets.get(request.match_info["name"]))

    async def catalog(request: web.Request) -> web.Response:
        return serve(catalogs.get(request.match_info["name"]))

    async def robots(request: web.Request) -> web.Response:
        return web.Response(
            text="User-agent: *\nDisallow: /\n", content_type="text/plain", charset="utf-8"
        )

    app.router.add_get("/", index)
    # Where an OpenID provider sends the browser back: the same shell, whose script
    # finishes the sign-in (docs/decisions/0021-openid-sign-in.md).
    app.router.add_get("/oidc/callback", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/static/i18n/{name}", catalog)
    app.router.add_get("/robots.txt", robots)
