"""Search latency at scale: paperwire's hybrid search (tantivy + a faiss IVF vector index + convex fusion,
query embedding included)
against a baseline of SQLite FTS5 bm25() + an exact numpy float32 scan (same fusion, same query
embedding, same paper fetch), in the same run; index build time, resident memory, ANN recall@10.

The corpus is SYNTHESISED from the shared arXiv cs data (../shared/data/arxiv_cs): the 47,919 real
papers first, then papers whose title, abstract sentences and authors are mixed from random real ones.
Vectors: the real MiniLM vectors of the bundled sample (src/paperwire/sample/vectors-*.npz) plus
synthetic ones, normalize(a·E[i] + b·E[j] + g·z) with z ~ N(0, Cov(E)) as in BASELINES.md (embedding
100k papers with MiniLM would take ~2 hours on 2 cores). Queries are real: the 400 queries in
../shared/data/queries/ plus 200 short title n-grams, embedded by MiniLM at query time.

Reproduce:  .venv/bin/python bench/search_latency.py [--size 100000] [--short 200]
Similar papers (`/api/papers/{id}/similar`, vectors + words + authors + categories) against the
vector neighbours alone, same papers, same run:  ... --similar 300 [--only-similar]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import random
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import print_load, print_machine  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from machine import describe  # noqa: E402  (bench/machine.py)

from paperwire.models import Paper  # noqa: E402
from paperwire.sample import sample_vectors_path  # noqa: E402
from paperwire.search.embedders import FastBertQuery, QueryCache, SentenceTransformerEmbedder, native_bf16  # noqa: E402
from paperwire.search.fusion import FUSION, fuse  # noqa: E402
from paperwire.search.hybrid import SearchService  # noqa: E402
from paperwire.search.query import parse_query  # noqa: E402
from paperwire.search.vectors import encode_vector  # noqa: E402
from paperwire.settings import Settings  # noqa: E402
from paperwire.storage import open_store  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
POOL = 100
BATCH = 5000


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def real_papers() -> list[dict]:
    papers = []
    for path in sorted((SHARED / "arxiv_cs").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            papers.extend(json.loads(line) for line in stream)
    return papers


def synthesise(real: list[dict], size: int, rng: random.Random):  # iterator of Paper
    sentences = [re.split(r"(?<=[.!?])\s+", " ".join(p["abstract"].split())) for p in real]
    days = [f"2025-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)]
    for i in range(size):
        if i < len(real):
            p = real[i]
            yield Paper(
                id=p["id"],
                title=p["title"],
                abstract=" ".join(p["abstract"].split()),
                authors=tuple(p["authors"]),
                categories=tuple(p["categories"]),
                listed_on=p["first_seen"],
            )
            continue
        a, b, c, d = (rng.randrange(len(real)) for _ in range(4))
        ta, tb = real[a]["title"].split(), real[b]["title"].split()
        title = " ".join(ta[: max(2, len(ta) // 2)] + tb[len(tb) // 2 :])
        abstract = " ".join(sentences[a][:3] + sentences[c][3:6] + sentences[b][:2])
        yield Paper(id=f"s{i:08d}", title=title, abstract=abstract, authors=tuple(real[d]["authors"]),
                    categories=tuple(real[a]["categories"]), listed_on=rng.choice(days))  # fmt: skip


def synthetic_vectors(base: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    covariance = np.cov(base.T)
    chol = np.linalg.cholesky(covariance + 1e-6 * np.eye(base.shape[1]))
    out = np.empty((size, base.shape[1]), dtype=np.float32)
    for start in range(0, size, 50_000):
        n = min(50_000, size - start)
        i, j = rng.integers(0, len(base), n), rng.integers(0, len(base), n)
        a, b = rng.uniform(0.6, 1.0, (n, 1)), rng.uniform(0.0, 0.5, (n, 1))
        z = rng.standard_normal((n, base.shape[1])) @ chol.T
        block = a * base[i] + b * base[j] + 1.0 * z  # g: synthetic→nearest-real cosine median 0.71, as real
        out[start : start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def load_queries(real: list[dict], short: int, rng: random.Random) -> list[str]:
    queries = []
    for path in sorted((SHARED / "queries").glob("*.json")):
        queries += [item["search_query"] for item in json.loads(path.read_text()).values()]
    stop = {"a", "an", "the", "of", "for", "and", "in", "on", "with", "to", "via", "by", "from", "is", "at"}
    while short > 0:
        words = real[rng.randrange(len(real))]["title"].split()
        n = rng.choice([1, 2, 2, 3, 3, 4])
        if len(words) < n:
            continue
        start = rng.randrange(len(words) - n + 1)
        gram = [w.strip(":,.?!()") for w in words[start : start + n]]
        if gram[0].lower() in stop or gram[-1].lower() in stop or not all(gram):
            continue
        queries.append(" ".join(gram))
        short -= 1
    return queries


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{p50:.1f} / {p95:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--short", type=int, default=200, help="short title-word queries added")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="build the database and indexes in DIR and reuse them in later runs (same --size): "
                             "for repeated latency runs; the build figures are then those of the first run")  # fmt: skip
    parser.add_argument("--similar", type=int, default=300, help="papers whose similar papers are timed")
    parser.add_argument("--only-similar", action="store_true", help="time similar papers only (no search rows)")
    args = parser.parse_args()
    print_machine(__doc__.strip().splitlines()[0])
    rng, nprng = random.Random(7), np.random.default_rng(7)
    real = real_papers()
    with np.load(sample_vectors_path()) as data:
        base = data["vectors"].astype(np.float32)
    vectors = synthetic_vectors(base, args.size, nprng)
    vectors[: len(base)] = base  # the first papers carry real MiniLM vectors (ids differ: position only)
    queries = load_queries(real, args.short, rng)
    embedder = SentenceTransformerEmbedder(threads=1)  # as in the web process (hybrid.QUERY_THREADS)
    model = embedder.load()
    embedder.embed_query("warm up")
    float32_query = FastBertQuery.build(model, bf16=False)  # for comparison, where bf16 is the default
    print(f"corpus: {args.size:,} papers ({min(args.size, len(real)):,} real arXiv cs + synthesised), "
          f"{len(queries)} queries ({len(queries) - args.short} long + {args.short} short)", file=sys.stderr)  # fmt: skip

    with tempfile.TemporaryDirectory() as temporary:
        scratch = args.keep or Path(temporary)
        scratch.mkdir(parents=True, exist_ok=True)
        loaded = scratch / f"loaded-{args.size}"
        settings = Settings(home=scratch / "home")
        store = open_store(settings.effective_database_url)
        ids: list[str] = []
        batch: list[Paper] = []
        started = time.perf_counter()
        corpus = synthesise(real, args.size, rng)
        if loaded.exists():  # --keep, a later run: only the ids (and the rng state) are needed
            corpus = [p.id for p in corpus]
            ids, corpus = corpus, []
        for paper in corpus:
            batch.append(paper)
            if len(batch) == BATCH:
                store.upsert_papers(batch)
                ids += [p.id for p in batch]
                batch = []
        if batch:
            store.upsert_papers(batch)
            ids += [p.id for p in batch]
        load_s = time.perf_counter() - started
        _ID_ROWS.update({paper_id: row for row, paper_id in enumerate(ids, start=1)})
        changed_at = store.latest_paper_change()
        for start in range(0, 0 if loaded.exists() else len(ids), BATCH):
            store.save_embeddings(embedder.name, [
                {"paper_id": pid, "text_hash": "-", "dimensions": 384, "vector": encode_vector(vectors[start + k]),
                 "paper_changed_at": changed_at} for k, pid in enumerate(ids[start : start + BATCH])
            ])  # fmt: skip
        loaded.touch()
        print(f"database loaded in {load_s:.0f} s", file=sys.stderr)
        gc.collect()
        rss_before = rss_mb()

        # ---- candidate: paperwire's index (tantivy + IVF), built by the same sync every node runs
        service = SearchService(store, settings, embedder=embedder)
        service.also_kept = store.also_kept  # as the app wires it: similar papers ask who kept the paper
        started = time.perf_counter()
        service.index.sync(store)
        for model_index in (service.index.vectors, service.index.bulk_vectors):
            if model_index is not None:
                model_index.wait_for_build()  # the approximate index is built on a thread of its own
        build_s = time.perf_counter() - started
        rss_candidate = rss_mb() - rss_before
        print(
            f"paperwire index built in {build_s:.0f} s (approximate: {service.index.vectors.approximate})",
            file=sys.stderr,
        )
        similar_rows = time_similar(service, store, ids, args.similar)
        if args.only_similar:
            service.close()
            similar_rows += "\n" + time_similar_api(settings.home, store, ids, args.similar)
            store.close()
            print(f"\nSimilar papers, {args.size:,} papers (synthesised from arXiv cs), {args.similar} papers, "
                  f"single client; ms p50 / p95\n\n{similar_rows}\nmachine after the run: {describe()}")  # fmt: skip
            return
        hybrid_ms, keyword_ms, vector_ms, embed_ms, encode_ms, cached_ms, f32_ms = [], [], [], [], [], [], []
        recall, found = [], []
        embedder.query_cache = QueryCache()  # empty: every query below is new to the timed search
        for text in queries:
            t0 = time.perf_counter()
            service.search(text, limit=10)
            hybrid_ms.append(1000 * (time.perf_counter() - t0))
            t0 = time.perf_counter()
            service.search(text, limit=10)  # the same query again: its vector comes from the cache
            cached_ms.append(1000 * (time.perf_counter() - t0))
            t0 = time.perf_counter()
            q = embedder.embed_query_uncached(text)
            embed_ms.append(1000 * (time.perf_counter() - t0))
            t0 = time.perf_counter()
            model.encode([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
            encode_ms.append(1000 * (time.perf_counter() - t0))
            t0 = time.perf_counter()
            float32_query(text)
            f32_ms.append(1000 * (time.perf_counter() - t0))
            t0 = time.perf_counter()
            service.index.keyword.search(parse_query(text), None, POOL)
            keyword_ms.append(1000 * (time.perf_counter() - t0))
            t0 = time.perf_counter()
            approx = service.index.vectors.search(q, 10)
            vector_ms.append(1000 * (time.perf_counter() - t0))
            found.append((q, {pid for pid, _ in approx}))
        for q, approx in found:  # outside the timed loop: the exact scans' BLAS threads would slow the next query
            exact = np.argpartition(-(vectors @ q), 10)[:10]
            recall.append(len({ids[i] for i in exact} & approx) / 10)

        print(f"paperwire: hybrid {percentiles(hybrid_ms)}, cached {percentiles(cached_ms)}, keyword "
              f"{percentiles(keyword_ms)}, vectors {percentiles(vector_ms)}, embedding {percentiles(embed_ms)}, "
              f"recall@10 {statistics.mean(recall):.3f}", file=sys.stderr)  # fmt: skip

        # ---- baseline: SQLite FTS5 bm25() + exact numpy scan, same fusion and fetch
        fts_done = scratch / f"fts-built-{args.size}"
        fts = sqlite3.connect(scratch / "fts.db")
        started = time.perf_counter()
        if not fts_done.exists():
            fts.execute("DROP TABLE IF EXISTS docs")
            fts.execute("CREATE VIRTUAL TABLE docs USING fts5(title, abstract, authors, tokenize='porter unicode61')")
            for paper_batch in _batches(store.iter_papers(batch_size=BATCH), BATCH):
                fts.executemany("INSERT INTO docs(rowid, title, abstract, authors) VALUES (?, ?, ?, ?)",
                                [(ids_index(p.id), p.title, p.abstract, " ".join(p.authors)) for p in paper_batch])  # fmt: skip
            fts.execute("INSERT INTO docs(docs) VALUES ('optimize')")
            fts.commit()
            fts_done.touch()
        fts_build_s = time.perf_counter() - started
        base_ms, base_fts_ms, base_scan_ms = [], [], []
        for text in queries:
            t0 = time.perf_counter()
            q = embedder.embed_query_uncached(text)
            t1 = time.perf_counter()
            words = parse_query(text).terms
            match = " OR ".join(f'"{w}"' for w in words) or '""'
            rows = fts.execute("SELECT rowid, -bm25(docs, 2.0, 1.0, 1.0) FROM docs WHERE docs MATCH ? "
                               "ORDER BY bm25(docs, 2.0, 1.0, 1.0) LIMIT ?", (match, POOL)).fetchall() if words else []  # fmt: skip
            t2 = time.perf_counter()
            scores = vectors @ q
            top = np.argpartition(-scores, POOL)[:POOL]
            top = top[np.argsort(-scores[top])]
            t3 = time.perf_counter()
            fused = fuse([(ids[r - 1], s) for r, s in rows], [(ids[i], float(scores[i])) for i in top], FUSION)
            store.get_papers([pid for pid, _ in fused[:10]])
            base_ms.append(1000 * (time.perf_counter() - t0))
            base_fts_ms.append(1000 * (t2 - t1))
            base_scan_ms.append(1000 * (t3 - t2))
        fts_mb = (scratch / "fts.db").stat().st_size / 1e6
        service.close()  # saves the vector index too
        index_mb = sum(f.stat().st_size for f in (settings.home / "search").rglob("*") if f.is_file()) / 1e6
        store.close()

    print(f"\nSearch latency, {args.size:,} papers (synthesised from arXiv cs), {len(queries)} queries, "
          f"single client; ms p50 / p95\n")  # fmt: skip
    print("| step | baseline: FTS5 bm25() + numpy exact f32 | paperwire: tantivy + faiss IVF |\n|---|---|---|")
    print(
        f"| hybrid search, end to end (query embedding, both searches, fusion, fetch 10 papers) | {percentiles(base_ms)} | {percentiles(hybrid_ms)} |"
    )
    print(f"| hybrid search, the same query again (query vector cached) | | {percentiles(cached_ms)} |")
    print(
        f"| query embedding: MiniLM, paperwire's query path (used in both columns) | {percentiles(embed_ms)} | {percentiles(embed_ms)} |"
    )
    print(
        f"| query embedding: MiniLM through sentence-transformers `encode` (for comparison) | {percentiles(encode_ms)} | |"
    )
    print(f"| query embedding: paperwire's query path with float32 weights (bf16 is used: {native_bf16()}) "
          f"| {percentiles(f32_ms)} | |")  # fmt: skip
    print(f"| keyword top-{POOL} | {percentiles(base_fts_ms)} | {percentiles(keyword_ms)} |")
    print(f"| vector top-{POOL} (exact) vs top-10 (IVF) | {percentiles(base_scan_ms)} | {percentiles(vector_ms)} |")
    print(f"| ANN recall@10 vs exact | 1.000 | {statistics.mean(recall):.3f} |")
    print(
        f"| index build (s) | {fts_build_s:.0f} (FTS5; numpy needs none) | {build_s:.0f} (tantivy + IVF, from the database) |"
    )
    print(f"| index on disk (MB) | {fts_mb:.0f} + {vectors.nbytes / 1e6:.0f} (f32 matrix in RAM) | {index_mb:.0f} |")
    print(f"| resident memory added by the index (MB) | {vectors.nbytes / 1e6:.0f} (matrix) | {rss_candidate:.0f} |")
    print(f"| peak RSS of the whole run (MB) | {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} | |")
    print(f"\n{similar_rows}\nmachine after the run: {describe()}")


def time_similar(service: SearchService, store, ids: list[str], count: int) -> str:  # Store
    """Table rows: similar papers (10) of `count` real arXiv papers, fused vs the vector neighbours alone."""
    chosen = random.Random(11).sample(ids[: min(len(ids), 40_000)], min(count, len(ids)))
    fused_ms, neighbours_ms = [], []
    for paper_id in chosen:
        t0 = time.perf_counter()
        service.similar(paper_id, limit=10)
        fused_ms.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        vector = service.index.vectors.vector(paper_id)
        hits = [i for i, _ in service.index.vectors.search(vector, 11) if i != paper_id][:10]
        store.get_papers(hits)
        neighbours_ms.append(1000 * (time.perf_counter() - t0))
    return (
        "| similar papers, 10 (ms p50 / p95) | baseline: nearest vectors + fetch | paperwire: fused (vectors, words, "
        f"authors, categories) |\n|---|---|---|\n| {len(chosen)} papers | {percentiles(neighbours_ms)} | "
        f"{percentiles(fused_ms)} |"
    )


def time_similar_api(home: Path, store, ids: list[str], count: int) -> str:  # Store
    """A table row: `GET /api/papers/{id}/similar?limit=10` of as many papers through the whole application
    (middleware, route, JSON; Starlette's TestClient, in process, no network), on the same database and
    index folder, once its index is caught up and its vectors are approximate as the service's were."""
    from fastapi.testclient import TestClient

    from paperwire.app import create_app

    # other papers than the service's row (the same ones again would find what that row left in the caches)
    chosen = random.Random(12).sample(ids[: min(len(ids), 40_000)], min(count, len(ids)))
    settings = Settings(home=home, base_url="http://testserver", secret_key="bench-secret-key-" + "x" * 32)
    with TestClient(create_app(settings, store=store)) as client:
        search = client.app.state.search  # type: ignore[attr-defined]
        while client.get(f"/api/papers/{chosen[0]}/similar").json()["index"]["state"] != "ready":
            time.sleep(0.5)
        for model_index in (search.index.vectors, search.index.bulk_vectors):
            if model_index is not None:
                model_index.wait_for_build()
        api_ms = []
        for paper_id in chosen:
            t0 = time.perf_counter()
            answer = client.get(f"/api/papers/{paper_id}/similar", params={"limit": 10})
            api_ms.append(1000 * (time.perf_counter() - t0))
            assert answer.status_code == 200 and answer.json()["similar"], answer.text[:300]
    return f"| {len(chosen)} other papers, `GET /api/papers/{{id}}/similar?limit=10` through the app (in process) | | {percentiles(api_ms)} |"


_ID_ROWS: dict[str, int] = {}


def ids_index(paper_id: str) -> int:
    return _ID_ROWS[paper_id]


def _batches(iterator, size: int):
    batch = []
    for item in iterator:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


if __name__ == "__main__":
    main()
    print_load("after the run")
