"""What one hostile request costs: 16,000 topics in POST /api/subscriptions, and a 50 MB-class body.

Prints, measured in the same run: the CPU seconds of the old de-duplication (a quadratic scan that
ran before the "at most 20" check; reproduced here as the baseline) beside the current
make_interests, and the CPU and wall time of the whole request through the app today. Also prints
the machine and its load, since the machine is shared.

    PYTHONPATH=src python bench/hostile_input.py [--topics 16000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from machine import cpu_model_and_flags  # bench/machine.py


def cpu_seconds(function: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one call."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    try:
        function()
    except Exception:  # refusals are the expected outcome; only the cost is measured
        pass
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


def quadratic_dedupe(values: list[str]) -> tuple[str, ...]:
    """The baseline: the de-duplication as it was before issue 13 (each item scanned against all kept)."""
    cleaned: list[str] = []
    for value in values:
        text = " ".join(str(value).split())
        if text and text.lower() not in (item.lower() for item in cleaned):
            cleaned.append(text)
    if len(cleaned) > 20:
        raise ValueError("at most 20 topics")
    return tuple(cleaned)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", type=int, default=16_000)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from paperwire.app import create_app
    from paperwire.mail.subscribers import make_interests
    from paperwire.settings import Settings

    topics = [f"topic {n}" for n in range(args.topics)]
    print(f"machine: {cpu_model_and_flags()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    print(f"{len(topics):,} distinct topics\n")
    print("| what | CPU s | wall s |\n|---|---|---|")
    baseline = cpu_seconds(lambda: quadratic_dedupe(topics))
    print(f"| baseline: quadratic de-duplication before the limit | {baseline[0]:.3f} | {baseline[1]:.3f} |")
    current = cpu_seconds(lambda: make_interests(topics=topics))
    print(f"| now: make_interests (stops at the 21st distinct topic) | {current[0]:.4f} | {current[1]:.4f} |")

    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), secret_key="k" * 40, embedder="none")
        with TestClient(create_app(settings)) as client:
            short = json.dumps({"email": "a@example.org", "topics": [""] * args.topics}).encode()
            codes: list[int] = []
            cost = cpu_seconds(lambda: codes.append(client.post("/api/subscriptions", content=short,
                                                                headers={"content-type": "application/json"}).status_code))  # fmt: skip
            print(f"| now: POST /api/subscriptions, {args.topics:,} empty topics ({len(short):,} bytes) → {codes[0]} "
                  f"| {cost[0]:.4f} | {cost[1]:.4f} |")  # fmt: skip
            big = b'{"email": "a@example.org", "topics": [' + b'"t",' * 25_000_000 + b'"t"]}'
            codes.clear()
            cost = cpu_seconds(lambda: codes.append(client.post("/api/subscriptions", content=big,
                                                                headers={"content-type": "application/json"}).status_code))  # fmt: skip
            print(
                f"| now: POST /api/subscriptions, {len(big) / 1e6:.0f} MB body → {codes[0]} | {cost[0]:.4f} | {cost[1]:.4f} |"
            )
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
