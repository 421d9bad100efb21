"""The application's services, built once per app and reached through `request.app`."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mailgate.config import Config
from mailgate.mail.pool import ImapPool
from mailgate.mail.upstreams import UpstreamDirectory
from mailgate.session.manager import SessionManager
from mailgate.store.interface import SessionStore

__all__ = ["SERVER_SECRET", "SERVICES", "Services", "services"]

# `extra` key of the server secret (bytes), loaded by the preferences feature.
SERVER_SECRET = "server_secret"


@dataclass
class Services:
    config: Config
    store: SessionStore
    pool: ImapPool
    sessions: SessionManager
    upstream_ssl: ssl.SSLContext
    upstreams: UpstreamDirectory
    # Feature modules keep their own objects here (vault, caches, prefs, proxy, events).
    extra: dict[str, Any] = field(default_factory=dict)


SERVICES = web.AppKey("mailgate_services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]
