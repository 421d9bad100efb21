"""The access log: one JSON line per request with the route template, never the URL,
query, client address, Referer or User-Agent (SEC-56)."""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from mailgate.logs import log_event

__all__ = ["PrivateAccessLogger"]


class PrivateAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        match_info = getattr(request, "match_info", None)
        route = "unmatched"
        if match_info is not None and match_info.route is not None:
            resource = match_info.route.resource
            if resource is not None:
                route = resource.canonical
        log_event(
            "request",
            logging.INFO,
            method=request.method if request.method.isalpha() else "OTHER",
            route=route,
            status=response.status,
            duration_ms=round(time * 1000, 2),
            bytes=response.body_length,
        )

    @property
    def enabled(self) -> bool:
        return logging.getLogger("mailgate").isEnabledFor(logging.INFO)
