"""Per-request cost of the /metrics bookkeeping: prometheus_client against a bare dict-and-bisect registry
(what web/metrics.py wrote by hand before), same run; and the cost of one scrape.

    .venv/bin/python bench/metrics.py [--requests 200000]

Each "request" counts (method, route, status) and observes its latency in a route histogram, as the
middleware does. A page costs milliseconds to render: microseconds here are what a reader could feel.
"""

from __future__ import annotations

import argparse
import bisect
import sys
import time
from pathlib import Path

from machine import print_load, print_machine  # bench/machine.py

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from paperwire.web.metrics import BUCKETS, Registry, render

ROUTES = ("/papers", "/papers/{paper_id}", "/api/papers", "/search", "/healthz")


class BareRegistry:
    """The hand-written bookkeeping: a dict of counts and a bisect histogram per route."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        counts = self.latency.setdefault(route, [0.0] * (len(BUCKETS) + 2))
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        counts[-1] += seconds


class NoDatabase:
    def outbox_counts(self) -> dict[str, int]:
        return {"queued": 3, "sent": 1000}

    def job_run_counts(self) -> dict[tuple[str, str], int]:
        return {("ingest", "ok"): 10, ("digest-daily", "failed"): 1}


def per_request_us(registry: Registry | BareRegistry, requests: int) -> float:
    started = time.perf_counter()
    for number in range(requests):
        registry.observe("GET", ROUTES[number % len(ROUTES)], 200, 0.002 + (number % 7) * 0.01)
    return 1e6 * (time.perf_counter() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    print_machine(__doc__.strip().splitlines()[0])
    bare, library = BareRegistry(), Registry()
    rows = [
        ("bare dict + bisect (baseline)", per_request_us(bare, args.requests)),
        ("prometheus_client (shipped)", per_request_us(library, args.requests)),
    ]
    started = time.perf_counter()
    scrapes = 200
    for _ in range(scrapes):
        render(library, NoDatabase())
    scrape_ms = 1000 * (time.perf_counter() - started) / scrapes
    print("| bookkeeping | µs per request |")
    print("|---|---|")
    for label, us in rows:
        print(f"| {label} | {us:.2f} |")
    print(f"\nprometheus_client adds {rows[1][1] - rows[0][1]:.2f} µs a request; one scrape: {scrape_ms:.2f} ms")


if __name__ == "__main__":
    main()
    print_load("after the run")
