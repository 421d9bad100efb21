"""Prometheus instruments, aggregate counters only (DESIGN invariant 5).

Every label value comes from a fixed, small set (route templates, status classes, wipe
reasons, error kinds): never a user, an address, an IP, a mailbox or a message. Each app
has its own `CollectorRegistry`, so several apps can run in one process (tests). The
HTTP side (middlewares, the /metrics route) is mailgate/api/metrics.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from mailgate.mail.reading.workers import WorkerPool
from mailgate.session.manager import SessionManager
from mailgate.store.interface import SessionStore, StoreError

__all__ = ["LAG_SAMPLE_INTERVAL_S", "WIPE_REASONS", "Metrics"]

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
WIPE_REASONS = ("logout", "idle", "absolute", "shutdown", "relogin", "startup")
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# How often the event loop's lag is sampled (api/metrics.py runs the sampler).
LAG_SAMPLE_INTERVAL_S = 0.5


def _status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


class _SessionCounters(Collector):
    """Reads SessionManager.counters at scrape time; reasons outside the fixed set are
    folded into "other" so a new reason cannot create an unexpected label."""

    def __init__(self, sessions: SessionManager):
        self.sessions = sessions

    def collect(self) -> Iterator[CounterMetricFamily]:
        counts = dict(self.sessions.counters)
        for name, key, text in (
            ("mailgate_logins", "login", "Successful logins."),
            ("mailgate_login_failures", "login_failed", "Logins the mail server refused."),
            ("mailgate_login_throttled", "login_throttled", "Logins refused by throttling."),
            (
                "mailgate_login_upstream_errors",
                "login_upstream_error",
                "Logins that failed because the mail server could not be used.",
            ),
        ):
            yield CounterMetricFamily(name, text, value=counts.get(key, 0))
        wipes = CounterMetricFamily(
            "mailgate_session_wipes", "Sessions wiped, by reason.", labels=["reason"]
        )
        by_reason = dict.fromkeys(WIPE_REASONS, 0)
        by_reason["other"] = 0
        for key, value in counts.items():
            if key.startswith("wipe_"):
                reason = key.removeprefix("wipe_")
                by_reason[reason if reason in by_reason else "other"] += value
        for reason, value in by_reason.items():
            wipes.add_metric([reason], value)
        yield wipes


class _ReadingCounters(Collector):
    """Reads the reading workers' counters at scrape time (nothing is counted twice on the
    event loop): what they ran, how it ended, and how long the tasks waited for one."""

    def __init__(self, workers: WorkerPool):
        self.workers = workers

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        counts = dict(self.workers.counters)
        for name, key, text in (
            ("mailgate_reading_tasks", "tasks", "Tasks given to a reading worker."),
            (
                "mailgate_reading_timeouts",
                "timeouts",
                "Reading tasks past their deadline (the worker was killed; an opened "
                "message shows its degraded view).",
            ),
            (
                "mailgate_reading_failures",
                "failures",
                "Reading tasks that raised, or whose worker died.",
            ),
            (
                "mailgate_reading_demoted",
                "demoted",
                "Reading tasks that ran long enough for their worker to yield to the server.",
            ),
            (
                "mailgate_reading_withdrawn",
                "withdrawn",
                "Reading tasks given back to the queue from behind a slow one in a worker's pipe.",
            ),
        ):
            yield CounterMetricFamily(name, text, value=counts.get(key, 0))
        yield CounterMetricFamily(
            "mailgate_reading_queue_wait_seconds",
            "Seconds reading tasks waited before they started in a worker, summed (divided "
            "by the tasks: the mean wait).",
            value=self.workers.queue_wait_s,
        )
        yield GaugeMetricFamily(
            "mailgate_reading_queue_length",
            "Reading tasks waiting for a free worker at the scrape.",
            value=self.workers.waiting,
        )


class Metrics:
    """One app's registry and instruments."""

    def __init__(
        self, sessions: SessionManager, store: SessionStore, reading: WorkerPool | None = None
    ):
        self.store = store
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "mailgate_http_requests",
            "HTTP requests answered, by method, route template and status class.",
            ["method", "route", "status_class"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mailgate_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "mailgate_upstream_errors",
            "Requests that failed because of the IMAP or SMTP server, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.live_sessions = Gauge(
            "mailgate_sessions_live",
            "Sessions in the store this instance uses.",
            registry=self.registry,
        )
        self.store_up = Gauge(
            "mailgate_store_up",
            "1 when the session store answered at the last scrape, else 0.",
            registry=self.registry,
        )
        self.store_unavailable = Counter(
            "mailgate_store_unavailable",
            "Requests answered 503 store_unavailable.",
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "mailgate_event_loop_lag_seconds",
            "How late the event loop ran a timer, sampled every "
            f"{LAG_SAMPLE_INTERVAL_S} s: time spent blocked or overloaded.",
            buckets=_LAG_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_SessionCounters(sessions))
        if reading is not None:
            self.registry.register(_ReadingCounters(reading))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered request; `route` is a route template, never a path."""
        method = method if method in METHODS else "OTHER"
        self.requests.labels(method, route, _status_class(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    async def render(self) -> bytes:
        # On a store error keep the last session count; /readyz reports the store.
        try:
            self.live_sessions.set(len(await self.store.lookups()))
        except StoreError:
            self.store_up.set(0)
        else:
            self.store_up.set(1)
        return generate_latest(self.registry)
