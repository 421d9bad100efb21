"""Private real servers (Dovecot, Redis) started by the integration tests."""

from __future__ import annotations

from .dovecot import Dovecot, running_dovecot
from .ports import free_port, wait_for_port
from .redis import RedisServer, running_redis

__all__ = [
    "Dovecot",
    "RedisServer",
    "free_port",
    "running_dovecot",
    "running_redis",
    "wait_for_port",
]
