"""Does "For you" surface a reader's own next papers? recall@50 / nDCG@50 against arxiv-sanity-lite's SVM,
a TF-IDF centroid and a MiniLM centroid (zotero-arxiv-daily), in the same run; then the cost at scale.

Reader = an arXiv cs author with ≥ 8 papers announced 2025-03…2025-12 (their library, authors stripped) and
papers of their own announced in 2026-01 or 2026-02: "For you" for that month ranks all of that month's
papers (authors stripped) and should put theirs in the first 50. Readers are sampled with a fixed seed
and split into a dev half (weights were tuned on it) and a report half (quote this one).

Reproduce (from the repository root; vectors are cached under /work/cache/recommend by
bench/recommend_corpus.py, which this script runs for the bulk path if the cache is missing):
    PYTHONPATH=src nice python bench/recommend.py --readers 1200 --half report
Baselines: arxiv-sanity-lite's compute.py TfidfVectorizer (fitted on every paper of the 12 months, as its
database would hold them) and svm_rank's LinearSVC(C=0.01, balanced) with the library as positives and the
month's papers as the rest; the centroids are the mean library vector's cosine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recommend_corpus as corpus

from paperwire.recommend import PaperFeatures, ReaderSignals, fit_reader, rank_period
from paperwire.recommend.learned import TermEmbedding, train_term_embedding
from paperwire.recommend.selection import Weights

K = 50
Ranker = Callable[[list[corpus.Reader], str, list[str]], list[list[str]]]  # readers, month, candidates → top ids


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{model} · {os.cpu_count()} CPUs · load average {load} · Python {platform.python_version()}"


def recall_ndcg(ranked: Sequence[str], relevant: set[str]) -> tuple[float, float]:
    top = list(ranked[:K])
    hits = [1.0 if paper_id in relevant else 0.0 for paper_id in top]
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), K)))
    return sum(hits) / len(relevant), dcg / ideal


class Bench:
    def __init__(self, readers: int, minilm: bool) -> None:
        self.records = corpus.load_records()
        self.readers = corpus.select_readers(self.records, readers)
        self.static = corpus.load_vectors("static")
        self.minilm = corpus.load_vectors("all-MiniLM-L6-v2") if minilm else {}
        self.months = {m: [r.id for r in self.records.values() if r.month == m] for m in corpus.TARGET_MONTHS}
        self._tfidf = None
        self.embedding: TermEmbedding | None = None

    def learned_path(self, mode: str) -> Path:
        return corpus.CACHE / f"term-embedding-{mode}-{len(self.readers)}.bin"

    def learn(self, mode: str) -> None:
        """The term embedding learned from the 2025 catalogue's authors (never the 2026 months), cached outside
        the repository. "heldout": papers written by any sampled benchmark reader give no training pairs (they
        still count in the LSA and IDF, as catalogue content); "all": every 2025 author, as a site would."""
        path = self.learned_path(mode)
        if path.exists():
            self.embedding = TermEmbedding.from_bytes(path.read_bytes())
            return
        held = {r.name for r in self.readers} if mode == "heldout" else set()
        ids = [r.id for r in self.records.values() if r.month in corpus.LIBRARY_MONTHS]
        authors = [() if held & set(self.records[i].authors) else self.records[i].authors for i in ids]
        started = time.perf_counter()
        self.embedding = train_term_embedding(
            [f"{self.records[i].title} {self.records[i].abstract}" for i in ids], authors,
            vectors=np.stack([self.static[i] for i in ids]), log=lambda line: print(f"  {line}", flush=True),
        )  # fmt: skip
        print(f"term embedding ({mode}) trained in {time.perf_counter() - started:.0f} s", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.embedding.to_bytes())

    def best_vector(self, paper_id: str, source: str) -> np.ndarray | None:
        if source in ("minilm", "best") and paper_id in self.minilm:
            return self.minilm[paper_id]
        if source in ("static", "best"):
            return self.static.get(paper_id)
        return None

    def features(self, paper_id: str, source: str) -> PaperFeatures:
        """`source`: "static" / "minilm" / "best" (MiniLM, else static) as `vector`; "both": MiniLM as
        `vector` and the static one as `bulk_vector` (what a site that ran both embedders passes)."""
        record = self.records[paper_id]  # authors stripped: only content counts
        if source == "both":
            return PaperFeatures(record.id, record.title, record.abstract, (), record.categories,
                                 self.best_vector(paper_id, "best"), self.static.get(paper_id))  # fmt: skip
        return PaperFeatures(record.id, record.title, record.abstract, (), record.categories,
                             self.best_vector(paper_id, source))  # fmt: skip

    def minilm_complete(self, reader: corpus.Reader) -> bool:
        return all(i in self.minilm for i in reader.library)

    # ---- methods -------------------------------------------------------------------------------------------
    def ours(self, source: str, weights: Weights | None = None) -> Ranker:
        def rank(readers: list[corpus.Reader], month: str, ids: list[str]) -> list[list[str]]:
            models = [
                fit_reader(ReaderSignals(tuple(self.features(i, source) for i in r.library), ())) for r in readers
            ]
            candidates = [self.features(i, source) for i in ids]
            lists = rank_period(models, candidates, limit=K, weights=weights, embedding=self.embedding)
            return [[s.paper_id for s in suggestions] for suggestions in lists]

        return rank

    def tfidf(self):  # (vectorizer, matrix, row of id)
        if self._tfidf is None:
            from sklearn.feature_extraction.text import TfidfVectorizer

            ids = list(self.records)
            vectorizer = TfidfVectorizer(
                input="content",
                encoding="utf-8",
                decode_error="replace",
                strip_accents="unicode",
                lowercase=True,
                analyzer="word",
                stop_words="english",
                token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
                ngram_range=(1, 2),
                max_features=20000,
                norm="l2",
                use_idf=True,
                smooth_idf=True,
                sublinear_tf=True,
                max_df=0.1,
                min_df=5,
            )  # fmt: skip  (arxiv-sanity-lite compute.py)
            matrix = vectorizer.fit_transform(f"{self.records[i].title}. {self.records[i].abstract}" for i in ids)
            self._tfidf = (matrix.tocsr(), {paper_id: row for row, paper_id in enumerate(ids)})
        return self._tfidf

    def svm(self, readers: list[corpus.Reader], month: str, ids: list[str]) -> list[list[str]]:
        from sklearn import svm

        matrix, row = self.tfidf()
        out = []
        for reader in readers:
            rows = [row[i] for i in reader.library] + [row[i] for i in ids]
            y = np.zeros(len(rows))
            y[: len(reader.library)] = 1
            classifier = svm.LinearSVC(class_weight="balanced", verbose=False, max_iter=10000, tol=1e-6, C=0.01)
            classifier.fit(matrix[rows], y)
            scores = classifier.decision_function(matrix[rows[len(reader.library) :]])
            out.append([ids[j] for j in np.argsort(-scores)[:K]])
        return out

    def tfidf_centroid(self, readers: list[corpus.Reader], month: str, ids: list[str]) -> list[list[str]]:
        matrix, row = self.tfidf()
        candidates = matrix[[row[i] for i in ids]]
        out = []
        for reader in readers:
            centroid = np.asarray(matrix[[row[i] for i in reader.library]].mean(axis=0)).ravel()
            scores = candidates @ centroid
            out.append([ids[j] for j in np.argsort(-scores)[:K]])
        return out

    def vector_centroid(self, source: str) -> Ranker:
        def rank(readers: list[corpus.Reader], month: str, ids: list[str]) -> list[list[str]]:
            candidates = np.stack([self.best_vector(i, source) for i in ids])
            out = []
            for reader in readers:
                centroid = np.mean([self.best_vector(i, source) for i in reader.library], axis=0)
                out.append([ids[j] for j in np.argsort(-(candidates @ centroid))[:K]])
            return out

        return rank

    # ---- evaluation ----------------------------------------------------------------------------------------
    def evaluate(self, rank: Ranker, readers: list[corpus.Reader]) -> tuple[float, float, int, float]:
        recalls, ndcgs = [], []
        started = time.perf_counter()
        for month, ids in self.months.items():
            group = [r for r in readers if month in r.targets]
            if not group:
                continue
            for reader, ranked in zip(group, rank(group, month, ids), strict=True):
                recall, ndcg = recall_ndcg(ranked, set(reader.targets[month]))
                recalls.append(recall)
                ndcgs.append(ndcg)
        return float(np.mean(recalls)), float(np.mean(ndcgs)), len(recalls), time.perf_counter() - started


def quality(bench: Bench, halves: list[str], weights: Weights | None, only: set[str] | None) -> None:
    minilm_ok = [r for r in bench.readers if bench.minilm_complete(r)] if bench.minilm else []
    candidates_ok = all(i in bench.minilm for ids in bench.months.values() for i in ids) if bench.minilm else False
    methods: list[tuple[str, Ranker, bool]] = [
        ("arxiv-sanity-lite SVM (TF-IDF, C=0.01)", bench.svm, False),
        ("TF-IDF centroid", bench.tfidf_centroid, False),
        ("bulk (static) vector centroid", bench.vector_centroid("static"), False),
        ("paperwire For you, bulk vectors", bench.ours("static", weights), False),
    ]
    if candidates_ok:
        methods += [
            ("MiniLM centroid (zotero-arxiv-daily)", bench.vector_centroid("minilm"), True),
            ("paperwire For you, MiniLM vectors only", bench.ours("best", weights), True),
            ("**paperwire For you, MiniLM + bulk vectors (shipped)**", bench.ours("both", weights), True),
        ]
    else:
        print("MiniLM rows left out: the 2026-01/02 papers are not all embedded yet (bench/recommend_corpus.py)")
    for half in halves:
        readers = [r for r in bench.readers if r.half == half]
        with_minilm = [r for r in readers if r in minilm_ok]
        print(f"\n### {half} half: {len(readers)} readers (MiniLM rows: the {len(with_minilm)} with every library"
              " paper embedded; the other rows on all of them and, in brackets, on those)")  # fmt: skip
        print("| method | recall@50 | nDCG@50 | reader-months | seconds |")
        print("|---|---|---|---|---|")
        svm_recall = {}
        for name, rank, needs_minilm in methods:
            if only and not any(word in name for word in only):
                continue
            row = []
            for group in [with_minilm] if needs_minilm else [readers, with_minilm]:
                if group:
                    recall, ndcg, pairs, seconds = bench.evaluate(rank, group)
                    row.append((recall, ndcg, pairs, seconds))
            recall, ndcg, pairs, seconds = row[0]
            extra = f" [{row[1][0]:.3f}]" if len(row) > 1 and len(with_minilm) < len(readers) else ""
            if "SVM" in name:
                svm_recall = {"all": recall, "minilm": row[-1][0]}
            ratio = ""
            if svm_recall and "SVM" not in name:
                base = svm_recall["minilm" if needs_minilm else "all"]
                ratio = f" ({recall / base:.2f}× SVM)"
            print(f"| {name} | {recall:.3f}{extra}{ratio} | {ndcg:.3f} | {pairs} | {seconds:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, default=300, help="sampled readers (half dev, half report)")
    parser.add_argument("--half", choices=["dev", "report", "both"], default="both")
    parser.add_argument("--weights", default="", help='JSON overrides of Weights, e.g. {"diversity": 0}')
    parser.add_argument("--only", default="", help="comma-separated words: run only methods whose name has one")
    parser.add_argument("--no-minilm", action="store_true")
    parser.add_argument("--learned", choices=["none", "heldout", "all"], default="none",
                        help="rank with the term embedding learned from the 2025 catalogue's authors")  # fmt: skip
    parser.add_argument("--scale", type=int, default=10_000, help="readers for the cost run (0: skip)")
    parser.add_argument("--scale-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--learned-file", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_only:
        from recommend_scale import run_scale

        run_scale(args.scale, args.learned_file)
        return
    print(f"# bench/recommend.py — {machine()}")
    if not corpus.cache_path("static").exists():
        subprocess.run([sys.executable, str(Path(corpus.__file__)), "--embedder", "static"], check=True)
    weights = Weights(**json.loads(args.weights)) if args.weights else None
    bench = Bench(args.readers, minilm=not args.no_minilm)
    if args.learned != "none":
        bench.learn(args.learned)
    print(f"{len(bench.records)} papers; {corpus.eligible_count(bench.records)} eligible readers, "
          f"{len(bench.readers)} sampled (seed {corpus.SEED}); weights {weights or Weights()}")  # fmt: skip
    halves = ["dev", "report"] if args.half == "both" else [args.half]
    quality(bench, halves, weights, {w for w in args.only.split(",") if w} or None)
    if args.scale:
        print(f"\n### cost (separate process, so its peak memory is its own) — {machine()}", flush=True)
        learned = ["--learned-file", str(bench.learned_path(args.learned))] if args.learned != "none" else []
        subprocess.run([sys.executable, __file__, "--scale-only", "--scale", str(args.scale), *learned], check=True)
    print(f"\npeak memory of the quality run: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
