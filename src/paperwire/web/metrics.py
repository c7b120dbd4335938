"""`/metrics` in the Prometheus text format: requests and latency by route, search latency, outbox, jobs.

Request figures are this process's (scrape every web process); outbox and job figures are read from
the database at scrape time, so every node reports the same totals for them.
"""

from __future__ import annotations

import bisect
import logging
import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("paperwire.web")


BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONVERTOR = re.compile(r"\{(\w+):\w+\}")  # /papers/{paper_id:paper_id} -> /papers/{paper_id}
SEARCH_ROUTES = ("/search", "/api/search", "/api/papers/search", "/feeds/search.atom", "/feeds/search.json")

router = APIRouter()


class Histogram:
    __slots__ = ("counts", "total", "count")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)  # the last slot is +Inf
        self.total = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds
        self.count += 1

    def lines(self, name: str, labels: str) -> list[str]:
        joiner = "," if labels else ""
        out, running = [], 0
        for bound, count in zip((*BUCKETS, "+Inf"), self.counts, strict=True):
            running += count
            out.append(f'{name}_bucket{{{labels}{joiner}le="{bound}"}} {running}')
        braces = f"{{{labels}}}" if labels else ""
        out.append(f"{name}_sum{braces} {self.total:.6f}")
        out.append(f"{name}_count{braces} {self.count}")
        return out


class Registry:
    """This process's request figures (updated on the event loop: no locks needed)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, Histogram] = {}
        self.search = Histogram()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.latency.get(route)
        if histogram is None:
            histogram = self.latency[route] = Histogram()
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


def label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(registry: Registry, store: Any, page_cache: Any = None) -> str:  # noqa: ANN401 - the Store
    lines = [
        "# HELP paperwire_http_requests_total HTTP requests handled by this process.",
        "# TYPE paperwire_http_requests_total counter",
    ]
    for (method, route, status), count in sorted(registry.requests.items()):
        lines.append(
            f'paperwire_http_requests_total{{method="{method}",route="{label(route)}",status="{status}"}} {count}'
        )
    lines += [
        "# HELP paperwire_http_request_duration_seconds Time to answer, by route template.",
        "# TYPE paperwire_http_request_duration_seconds histogram",
    ]
    for route, histogram in sorted(registry.latency.items()):
        lines += histogram.lines("paperwire_http_request_duration_seconds", f'route="{label(route)}"')
    lines += [
        "# HELP paperwire_search_duration_seconds Time to answer a search (pages, API and feeds).",
        "# TYPE paperwire_search_duration_seconds histogram",
        *registry.search.lines("paperwire_search_duration_seconds", ""),
    ]
    if page_cache is not None:
        lines += [
            "# HELP paperwire_page_cache_requests_total Anonymous list pages answered from memory (hit) or rendered (miss).",
            "# TYPE paperwire_page_cache_requests_total counter",
            f'paperwire_page_cache_requests_total{{result="hit"}} {page_cache.hits}',
            f'paperwire_page_cache_requests_total{{result="miss"}} {page_cache.misses}',
        ]
    lines += _database_lines(store)
    return "\n".join(lines) + "\n"


def _database_lines(store: Any) -> list[str]:  # noqa: ANN401 - the Store
    lines = []
    try:
        outbox = store.outbox_counts()
    except Exception:  # noqa: BLE001 - e.g. mail tables not there yet: leave the metric out
        log.debug("no outbox figures", exc_info=True)
    else:
        lines += [
            "# HELP paperwire_outbox_messages Messages in the mail outbox, by status (queued = depth).",
            "# TYPE paperwire_outbox_messages gauge",
        ]
        lines += [f'paperwire_outbox_messages{{status="{label(s)}"}} {n}' for s, n in sorted(outbox.items())]
    try:
        runs = store.job_run_counts()
    except Exception:  # noqa: BLE001
        log.debug("no job figures", exc_info=True)
    else:
        lines += [
            "# HELP paperwire_job_runs_total Scheduled and command-line job runs, by job and outcome.",
            "# TYPE paperwire_job_runs_total counter",
        ]
        lines += [
            f'paperwire_job_runs_total{{job="{label(job)}",status="{label(status)}"}} {count}'
            for (job, status), count in sorted(runs.items())
        ]
        failures: dict[str, int] = {}
        for (job, status), count in runs.items():
            failures[job] = failures.get(job, 0) + (count if status == "failed" else 0)
        lines += [
            "# HELP paperwire_job_failures_total Job runs that failed.",
            "# TYPE paperwire_job_failures_total counter",
        ]
        lines += [f'paperwire_job_failures_total{{job="{label(job)}"}} {n}' for job, n in sorted(failures.items())]
    return lines


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> PlainTextResponse:
    state = request.app.state
    text = render(state.metrics, state.store, getattr(state, "page_cache", None))
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


def install(application: Any) -> None:  # noqa: ANN401 - the FastAPI application
    """Count every request of `application` and serve /metrics."""
    application.state.metrics = Registry()
    application.add_middleware(MetricsMiddleware, registry=application.state.metrics)
    application.include_router(router)
