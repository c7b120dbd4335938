"""The cost half of bench/recommend.py: one reader's refit + day ranking, and 10,000 readers × one day.

Libraries are synthesised from real ones (every eligible author's library, then random draws of 8–40
papers from the 2025 months), with the bulk vectors every paper has; the day is the busiest announcement
day of 2026-01 (its papers, authors kept, are the candidates).
"""

from __future__ import annotations

import random
import resource
import time
from collections import Counter

import numpy as np
import recommend_corpus as corpus

from paperwire.recommend import PaperFeatures, ReaderModel, ReaderSignals, fit_reader, prepare_period, rank_period
from paperwire.recommend.learned import TermEmbedding


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_scale(count: int, learned: str = "") -> None:
    """`learned`: a stored term embedding (bench/recommend.py --learned caches one) to rank with."""
    records = corpus.load_records()
    vectors = corpus.load_vectors("static")
    embedding = None
    if learned:
        started = time.perf_counter()
        embedding = TermEmbedding.from_bytes(open(learned, "rb").read())
        print(f"term embedding {learned}: {len(embedding.vocabulary)} terms × {embedding.dimensions}, "
              f"read in {time.perf_counter() - started:.1f} s")  # fmt: skip

    def features(paper_id: str) -> PaperFeatures:
        r = records[paper_id]
        return PaperFeatures(r.id, r.title, r.abstract, r.authors, r.categories, vectors.get(paper_id))

    days = Counter(r.day for r in records.values() if r.month == "2026-01")
    day, size = days.most_common(1)[0]
    candidates = [features(r.id) for r in records.values() if r.day == day]
    rng = random.Random(corpus.SEED)
    libraries = [list(r.library) for r in corpus.select_readers(records, 10**9)]
    pool = [r.id for r in records.values() if r.month in corpus.LIBRARY_MONTHS]
    while len(libraries) < count:
        libraries.append(rng.sample(pool, rng.randint(8, 40)))
    libraries = libraries[:count]
    print(f"day {day}: {size} papers; {count} readers, libraries of {np.mean([len(x) for x in libraries]):.1f} "
          f"papers on average (real authors' libraries first, then random draws); bulk vectors")  # fmt: skip
    print(f"peak memory after loading the corpus and vectors: {peak_mib():.0f} MiB")

    # one reader, as after new feedback: refit, then rank the day
    timings = []
    for library in libraries[:40]:
        signals = ReaderSignals(tuple(features(i) for i in library), (), (), ())
        started = time.perf_counter()
        rank_period([fit_reader(signals)], candidates, limit=50, embedding=embedding)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(f"one reader, refit + rank one day (tokenising the day's papers too): p50 {timings[len(timings) // 2]:.0f} ms, "
          f"p95 {timings[int(len(timings) * 0.95) - 1]:.0f} ms (40 readers)")  # fmt: skip
    started = time.perf_counter()
    prepared = prepare_period(candidates, embedding=embedding)
    preparing = (time.perf_counter() - started) * 1000
    timings = []
    for library in libraries[:40]:
        signals = ReaderSignals(tuple(features(i) for i in library), (), (), ())
        started = time.perf_counter()
        rank_period([fit_reader(signals)], prepared, limit=50)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(f"one reader, refit + rank one day already prepared (prepare_period: {preparing:.0f} ms once): "
          f"p50 {timings[len(timings) // 2]:.0f} ms, p95 {timings[int(len(timings) * 0.95) - 1]:.0f} ms")  # fmt: skip

    started = time.perf_counter()
    stored = [fit_reader(ReaderSignals(tuple(features(i) for i in lib), (), (), ())).to_bytes() for lib in libraries]
    fitted = time.perf_counter() - started
    print(f"fit + serialise {count} readers: {fitted:.1f} s; stored models {sum(map(len, stored)) / len(stored) / 1024:.1f} "
          f"KiB each on average")  # fmt: skip
    started = time.perf_counter()
    models = [ReaderModel.from_bytes(data) for data in stored]
    loaded = time.perf_counter() - started
    before = peak_mib()
    started = time.perf_counter()
    lists = rank_period(models, candidates, limit=50, embedding=embedding)
    ranked = time.perf_counter() - started
    assert len(lists) == count and all(len(x) == 50 for x in lists)
    print(f"**{count} readers × one day ({size} papers), ranked with reasons: {ranked:.1f} s** "
          f"(+ {loaded:.1f} s to load the stored models); peak memory {peak_mib():.0f} MiB "
          f"(before ranking {before:.0f} MiB)")  # fmt: skip
