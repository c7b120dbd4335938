"""One reader's "For you" page (day): latency of the stored-ranking read, beside the signed-in daily page of
the same day in the same run, plus the cost of remaking the ranking after a 👎 (refit + rank one day).

Data: `../shared/data/arxiv_cs/` (CC0): the papers announced 2025-11-24 … 2025-12-12 are the catalogue;
the reader's library is 40 papers of November by authors who also publish in December (so the list has
something to find). In process (Starlette's TestClient, no network), SQLite in a temporary directory,
embedder off (the page reads stored rows; vectors only change how a ranking is made, not how it is read).

Reproduce:  .venv/bin/python bench/for_you_page.py [--views 300] [--day 2025-12-10]
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson
from machine import cpu_model_and_flags  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data" / "arxiv_cs"
sys.path.insert(0, str(ROOT / "src"))


def load_papers(first: str, last: str) -> list:
    from paperwire.models import Paper

    papers = []
    for month in ("2025-11", "2025-12"):
        with gzip.open(SHARED_DATA / f"arxiv_cs_{month}.jsonl.gz") as stream:
            for line in stream:
                record = orjson.loads(line)
                day = record["first_seen"][:10]
                if first <= day <= last:
                    papers.append(Paper(id=record["id"], title=record["title"], abstract=record["abstract"],
                                        authors=tuple(record["authors"]), categories=tuple(record["categories"]),
                                        listed_on=day, listed_from="arxiv"))  # fmt: skip
    return papers


def timed(client, url: str, views: int) -> list[float]:
    samples = []
    for _ in range(views):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return samples


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
    return f"p50 {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--views", type=int, default=300)
    parser.add_argument("--day", default="2025-12-10")
    parser.add_argument("--readers", type=int, default=0, help="also time the rank-readers job for N readers")
    options = parser.parse_args()

    from fastapi.testclient import TestClient

    from paperwire.app import create_app
    from paperwire.settings import Settings
    from paperwire.storage import open_store
    from paperwire.web.security import hash_token, new_token

    home = Path(tempfile.mkdtemp(prefix="pw-foryou-"))
    settings = Settings(home=home, base_url="http://testserver", secret_key="bench-secret-key-" + "x" * 32,
                        embedder="none")  # fmt: skip
    store = open_store(settings.effective_database_url)
    papers = load_papers("2025-11-24", "2025-12-12")
    store.upsert_papers(papers)
    december_authors = {a for p in papers if p.listed_on >= "2025-12-01" for a in p.authors}
    library = [p for p in papers if p.listed_on < "2025-12-01" and december_authors & set(p.authors)][:40]
    user = store.ensure_user("bench@example.org")
    for paper in library:
        store.set_saved(user["id"], paper.id, True)
    day_papers = sum(1 for p in papers if p.listed_on == options.day)

    session = new_token()
    from datetime import datetime, timedelta, timezone

    expires = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    store.create_session(hash_token(session), user["id"], expires)
    with TestClient(create_app(settings, store=store)) as client:
        from starlette.responses import Response

        from paperwire.web.security import set_session_cookie

        carrier = Response()  # the app's own cookie writer signs the session id
        set_session_cookie(carrier, settings, session)
        cookie = re.search(r"pw_session=([^;]+)", carrier.headers["set-cookie"]).group(1)
        client.cookies.set("pw_session", cookie)
        for_you = f"/for-you?period=day&date={options.day}"
        start = time.perf_counter()
        first = client.get(for_you)
        first_ms = (time.perf_counter() - start) * 1000
        assert first.status_code == 200 and "in your library" in first.text, first.text[:500]
        daily = f"/papers?date={options.day}"
        timed(client, daily, 20)
        timed(client, for_you, 20)
        daily_samples = timed(client, daily, options.views)
        for_you_samples = timed(client, for_you, options.views)
        api_samples = timed(client, f"/api/recommendations?period=day&date={options.day}&limit=20", options.views)
        # A 👎 makes the stored list stale: the next view refits the reader and ranks the day again.
        remake = []
        ids = re.findall(r'<article class="card" data-paper-id="([^"]+)"', first.text)
        for paper_id in ids[:5]:
            store.set_not_interested(user["id"], paper_id, True)
            start = time.perf_counter()
            client.get(for_you)
            remake.append((time.perf_counter() - start) * 1000)
    load = os.getloadavg()
    print(
        f"machine: {cpu_model_and_flags()[0]}, {os.cpu_count()} CPUs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"catalogue {len(papers):,} papers; day {options.day}: {day_papers} papers; library {len(library)} papers;"
          f" {options.views} views each, SQLite, in process")  # fmt: skip
    print(f"{'signed-in daily page (baseline)':40} {summary(daily_samples)}")
    print(f"{'For you page, stored ranking':40} {summary(for_you_samples)}")
    print(f"{'GET /api/recommendations (20)':40} {summary(api_samples)}")
    print(f"{'first view (fit + rank + store)':40} {first_ms:7.1f} ms")
    print(f"{'view after a 👎 (refit + rank + store)':40} {summary(remake)}  ({len(remake)} views)")
    if options.readers:
        job_for_readers(store, papers, library, options.readers, options.day)


def job_for_readers(store, papers: list, library: list, count: int, day: str) -> None:
    """The scheduled job through storage: refit N readers (20 saves each, drawn from November) and store
    their day, week and month rankings."""
    import random
    from datetime import date

    from paperwire.recommend.service import refit_changed, refresh_recommendations

    november = [p.id for p in papers if p.listed_on < "2025-12-01"]
    chooser = random.Random(15)
    for number in range(count):
        reader = store.ensure_user(f"reader{number}@example.org")
        for paper_id in chooser.sample(november, 20):
            store.set_saved(reader["id"], paper_id, True)
    start = time.perf_counter()
    refitted = refit_changed(store)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    summary_text = refresh_recommendations(store, date.fromisoformat(day))
    rank_s = time.perf_counter() - start
    print(
        f"{'rank-readers job: refit':40} {refitted} readers in {fit_s:.1f} s ({fit_s / max(refitted, 1) * 1000:.0f} ms each)"
    )
    print(f"{'rank-readers job: day + week + month':40} {rank_s:.1f} s  ({summary_text})")


if __name__ == "__main__":
    main()
