"""`/metrics` through prometheus_client: requests and latency by route, search latency, process, outbox, jobs.

Request figures are this process's (scrape every web process, or set PROMETHEUS_MULTIPROC_DIR for
prometheus_client's multiprocess mode: each worker's figures then add up in one scrape); outbox and job
figures are read from the database at scrape time, so every node reports the same totals for them.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("paperwire.web")


BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONVERTOR = re.compile(r"\{(\w+):\w+\}")  # /papers/{paper_id:paper_id} -> /papers/{paper_id}
SEARCH_ROUTES = ("/search", "/api/search", "/api/papers/search", "/feeds/search.atom", "/feeds/search.json")

router = APIRouter()


class Registry:
    """This process's request figures, kept by prometheus_client (one registry per application)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "paperwire_http_requests",
            "HTTP requests handled by this process.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "paperwire_http_request_duration_seconds",
            "Time to answer, by route template.",
            ("route",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.search = Histogram(
            "paperwire_search_duration_seconds",
            "Time to answer a search (pages, API and feeds).",
            buckets=BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)  # CPU seconds, memory, open files of this process
        # The labelled children, looked up once each: `labels()` costs more than the count itself.
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[str, Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counter = self._counted.get((method, route, status))
        if counter is None:
            counter = self._counted[(method, route, status)] = self.requests.labels(method, route, str(status))
        counter.inc()
        histogram = self._timed.get(route)
        if histogram is None:
            histogram = self._timed[route] = self.latency.labels(route)
        histogram.observe(seconds)
        if route in SEARCH_ROUTES:
            self.search.observe(seconds)


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/papers/{paper_id}`), never the raw path (unbounded labels)."""
    route = scope.get("route")
    if route is not None and getattr(route, "path", None):
        return CONVERTOR.sub(r"{\1}", route.path)
    if scope.get("root_path", "").startswith("/static") or scope.get("path", "").startswith("/static/"):
        return "/static"
    return "(unmatched)"


class MetricsMiddleware:
    """Plain ASGI (no BaseHTTPMiddleware: it costs a task and a queue per request)."""

    def __init__(self, app: ASGIApp, registry: Registry) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.registry.observe(scope["method"], route_template(scope), status, time.perf_counter() - started)


class ScrapeTimeFigures:
    """Figures read when /metrics is scraped: the page cache's counters and the database's totals
    (outbox and jobs: every node reports the same ones)."""

    def __init__(self, store: Any, page_cache: Any = None) -> None:  # the Store; the page cache's stats
        self.store = store
        self.page_cache = page_cache

    def collect(self) -> Iterator[Metric]:
        if self.page_cache is not None:
            cache = CounterMetricFamily(
                "paperwire_page_cache_requests",
                "List pages answered from memory (hit) or rendered (miss): anonymous readers' pages, and signed-in"
                " readers' pages filled in from one rendering (reader_hit, reader_miss).",
                labels=("result",),
            )
            cache.add_metric(("hit",), self.page_cache.hits)
            cache.add_metric(("miss",), self.page_cache.misses)
            cache.add_metric(("reader_hit",), self.page_cache.reader_hits)
            cache.add_metric(("reader_miss",), self.page_cache.reader_misses)
            yield cache
        yield from self._database()

    def _database(self) -> Iterator[Metric]:
        try:
            outbox = self.store.outbox_counts()
        except Exception:  # e.g. mail tables not there yet: leave the metric out
            log.debug("no outbox figures", exc_info=True)
        else:
            messages = GaugeMetricFamily(
                "paperwire_outbox_messages",
                "Messages in the mail outbox, by status (queued = depth).",
                labels=("status",),
            )
            for status, count in sorted(outbox.items()):
                messages.add_metric((str(status),), count)
            yield messages
        try:
            runs = self.store.job_run_counts()
        except Exception:  # the job table unreadable: leave the metric out
            log.debug("no job figures", exc_info=True)
            return
        totals = CounterMetricFamily(
            "paperwire_job_runs", "Scheduled and command-line job runs, by job and outcome.", labels=("job", "status")
        )
        failures: dict[str, int] = {}
        for (job, status), count in sorted(runs.items()):
            totals.add_metric((str(job), str(status)), count)
            failures[job] = failures.get(job, 0) + (count if status == "failed" else 0)
        failed = CounterMetricFamily("paperwire_job_failures", "Job runs that failed.", labels=("job",))
        for job, count in sorted(failures.items()):
            failed.add_metric((str(job),), count)
        yield totals
        yield failed


def render(registry: Registry, store: Any, page_cache: Any = None) -> bytes:  # the Store; the cache's stats
    """The text exposition of this process's figures (or, in prometheus_client's multiprocess mode, of
    every worker's: PROMETHEUS_MULTIPROC_DIR) and of the scrape-time ones."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        combined = CollectorRegistry()
        MultiProcessCollector(combined)
    else:
        combined = registry.registry
    scrape = CollectorRegistry()
    scrape.register(ScrapeTimeFigures(store, page_cache))
    return generate_latest(combined) + generate_latest(scrape)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    state = request.app.state
    body = render(state.metrics, state.store, getattr(state, "page_cache", None))
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)


def install(application: Any) -> None:  # the FastAPI application
    """Count every request of `application` and serve /metrics."""
    application.state.metrics = Registry()
    application.add_middleware(MetricsMiddleware, registry=application.state.metrics)
    application.include_router(router)
