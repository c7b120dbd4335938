"""A fresh `serve --no-jobs` node on a large catalogue: how soon its first search answers, and what it says
while its index is still being built (the background catch-up of every node).

Papers: the first `--papers` real arXiv cs papers of ../shared/data/arxiv_cs (CC0). The node starts with an
empty search index; searches go through the app (`GET /api/search`) as a client would send them.

Reproduce:  .venv/bin/python bench/search_startup.py --papers 40000
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fastapi.testclient import TestClient  # noqa: E402
from machine import describe  # noqa: E402  (bench/machine.py)

from paperwire.app import create_app  # noqa: E402
from paperwire.models import Paper  # noqa: E402
from paperwire.settings import Settings  # noqa: E402
from paperwire.storage import open_store  # noqa: E402

ARXIV = ROOT.parent / "shared" / "data" / "arxiv_cs"


def real_papers(count: int) -> list[Paper]:
    papers: list[Paper] = []
    for path in sorted(ARXIV.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            for line in stream:
                r = json.loads(line)
                papers.append(Paper(id=r["id"], title=r["title"], abstract=" ".join(r["abstract"].split()),
                                    authors=tuple(r["authors"]), categories=tuple(r["categories"]),
                                    listed_on=r["first_seen"]))  # fmt: skip
                if len(papers) == count:
                    return papers
    return papers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=40_000)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(home=Path(scratch) / "home", embedder="none", secret_key="x" * 40)
        store = open_store(settings.effective_database_url)
        papers = real_papers(args.papers)
        for start in range(0, len(papers), 5000):
            store.upsert_papers(papers[start : start + 5000])
        started = time.perf_counter()
        with TestClient(create_app(settings, store=store)) as client:  # run_jobs=False: a --no-jobs node
            up = time.perf_counter() - started
            rows = []
            for query in ["large language models", "diffusion", "graph neural networks", "speech"] * 50:
                t0 = time.perf_counter()
                answer = client.get("/api/search", params={"q": query, "limit": 10}).json()
                rows.append((time.perf_counter() - started, 1000 * (time.perf_counter() - t0), answer))
                if answer["index"]["state"] == "ready" and len(rows) > 4:
                    break
                time.sleep(0.2)
        store.close()
    print(f"\n{len(papers):,} papers; app started in {up * 1000:.0f} ms (index empty)\n")
    print("| since start (s) | search (ms) | index | total | notice |\n|---|---|---|---|---|")
    for at, ms, answer in rows[:3] + rows[-2:]:
        state = answer["index"]
        shown = state["state"] + (f" {state['done']:,} of {state['of']:,}" if state["state"] == "building" else "")
        print(f"| {at:.2f} | {ms:.0f} | {shown} | {answer['total']} | {(answer['notice'] or '')[:70]} |")
    print(f"\nmachine after the run: {describe()}")


if __name__ == "__main__":
    main()
