"""Relevance of search on SciFact (BEIR) training queries, tuned on one half and reported on the other.

nDCG@10 and Recall@100 for keyword only, semantic only and hybrid — all through paperwire's own search
service, in the same run. The 809 judged training queries are split in two fixed halves (by query id,
even / odd): fusion settings are chosen on the *tuning* half (`--tune` prints that grid and the best
setting) and every reported row is measured on the other, *report* half, which no setting was chosen on.

Reproduce (from the repository root):
    .venv/bin/python bench/relevance.py                 # MiniLM (quality path)
    .venv/bin/python bench/relevance.py --embedder static   # the bulk path
    .venv/bin/python bench/relevance.py --mixed   # MiniLM vectors for part of the corpus, static for all
Document vectors are cached under bench/out/ (embedding SciFact's 5,183 abstracts with MiniLM takes
~6 minutes on 2 cores; later runs take ~1 minute). SciFact is CC BY-NC: evaluation only, never shipped.
Published figures (BEIR test split, for reference): BM25 0.665, all-MiniLM-L6-v2 ~0.645.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from machine import print_load, print_machine  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from paperwire.models import Paper  # noqa: E402
from paperwire.search import fusion, hybrid  # noqa: E402
from paperwire.search.embedders import make_embedder, paper_text  # noqa: E402
from paperwire.search.embedding import text_hash  # noqa: E402
from paperwire.search.fusion import FusionSettings, fuse  # noqa: E402
from paperwire.search.hybrid import SearchService  # noqa: E402
from paperwire.search.vectors import encode_vector  # noqa: E402
from paperwire.settings import Settings  # noqa: E402
from paperwire.storage import open_store  # noqa: E402

SCIFACT = ROOT.parent / "shared" / "data" / "scifact"
OUT = ROOT / "bench" / "out"


def load_scifact() -> tuple[list[dict], dict[str, str], dict[str, dict[str, int]]]:
    corpus = [json.loads(line) for line in gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8")]
    queries = {}
    for line in open(SCIFACT / "queries.jsonl", encoding="utf-8"):
        record = json.loads(line)
        queries[record["_id"]] = record["text"]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with open(SCIFACT / "qrels" / "train.tsv", encoding="utf-8") as stream:
        for row in csv.DictReader(stream, delimiter="\t"):
            qrels[row["query-id"]][row["corpus-id"]] = int(row["score"])
    return corpus, {q: queries[q] for q in qrels}, qrels


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    gains = sum((2 ** relevant.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    best = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return gains / best if best else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int = 100) -> float:
    wanted = {d for d, g in relevant.items() if g > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def document_vectors(embedder, corpus: list[dict]) -> np.ndarray:
    cache = OUT / f"scifact-{embedder.name}.npy"
    if cache.exists():
        vectors = np.load(cache)
        if vectors.shape[0] == len(corpus):
            return vectors
    print(f"embedding {len(corpus)} SciFact documents with {embedder.name} (cached in {cache}) …", file=sys.stderr)
    started = time.perf_counter()
    vectors = embedder.embed_documents([paper_text(d["title"], d["text"]) for d in corpus])
    print(f"  {len(corpus) / (time.perf_counter() - started):.1f} documents/s", file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def evaluate(runs: dict[str, dict[str, list[str]]], qrels) -> dict[str, tuple[float, float]]:
    return {
        name: (float(np.mean([ndcg_at(run[q], qrels[q]) for q in qrels])),
               float(np.mean([recall_at(run[q], qrels[q]) for q in qrels])))
        for name, run in runs.items()
    }  # fmt: skip


def load_corpus(scratch: str, corpus) -> tuple[Settings, object, dict[str, str]]:
    """A throw-away store holding the corpus as papers: (settings, store, changed_at by paper id)."""
    settings = Settings(home=Path(scratch), embedder="none")
    store = open_store(settings.effective_database_url)
    store.upsert_papers([Paper(id=f"doc{d['_id']}", title=d["title"] or "(untitled)", abstract=d["text"])
                         for d in corpus])  # fmt: skip
    changed = {p.id: at for p, (at, _) in store.papers_changed_since(("", ""), len(corpus) + 1)}
    return settings, store, changed


def save_vectors(store, embedder, corpus, vectors, rows, changed: dict[str, str]) -> None:
    """Store the vectors of corpus[i] for i in rows under the embedder's name."""
    store.save_embeddings(embedder.name, [
        {"paper_id": f"doc{corpus[i]['_id']}", "text_hash": text_hash(paper_text(corpus[i]["title"], corpus[i]["text"])),
         "dimensions": vectors.shape[1], "vector": encode_vector(vectors[i]),
         "paper_changed_at": changed[f"doc{corpus[i]['_id']}"]}
        for i in rows
    ])  # fmt: skip


def split_halves(qrels: dict[str, dict[str, int]]) -> tuple[dict, dict]:
    """(tuning half, report half) of the judged queries: odd query ids tune, even ones report."""
    tuning = {q: judged for q, judged in qrels.items() if int(q) % 2 == 1}
    report = {q: judged for q, judged in qrels.items() if int(q) % 2 == 0}
    return tuning, report


def run(embedder, corpus, queries, qrels, tune: bool = False) -> dict[str, tuple[float, float]]:
    """nDCG@10 and Recall@100 of keyword, semantic and hybrid search with this embedder's vectors."""
    vectors = document_vectors(embedder, corpus)
    with tempfile.TemporaryDirectory() as scratch:
        settings, store, changed = load_corpus(scratch, corpus)
        save_vectors(store, embedder, corpus, vectors, range(len(corpus)), changed)
        service = SearchService(store, settings, embedder=embedder)
        service.index.sync(store)
        keyword_runs, semantic_runs, hybrid_runs = {}, {}, {}
        keyword_scores, semantic_scores = {}, {}
        for qid, text in queries.items():
            parsed = hybrid.parse_query(text)
            keyword_scores[qid] = service.index.keyword.search(parsed, None, 100)
            semantic_scores[qid] = service.index.vectors.search(embedder.embed_query(parsed.text), 100)
            keyword_runs[qid] = [d[3:] for d, _ in keyword_scores[qid]]
            semantic_runs[qid] = [d[3:] for d, _ in semantic_scores[qid]]
            hybrid_runs[qid] = [hit.paper.id[3:] for hit in service.search(text, limit=100).hits]
        # the same hybrid search without the "close in meaning" floor (fusion.SEMANTIC_FLOOR), same run
        floors, fusion.SEMANTIC_FLOOR = fusion.SEMANTIC_FLOOR, {}
        unfloored_runs = {q: [h.paper.id[3:] for h in service.search(t, limit=100).hits] for q, t in queries.items()}
        fusion.SEMANTIC_FLOOR = floors
        service.close()
        store.close()
    tuning, report = split_halves(qrels)
    changed = [len(set(hybrid_runs[q][:10]) - set(keyword_runs[q][:10])) / 10 for q in report]
    same_first = sum(1 for q in report if hybrid_runs[q][:1] == keyword_runs[q][:1])
    print(f"report half: the semantic side's share of the hybrid top-10 slots (papers not in the keyword top 10) "
          f"{100 * float(np.mean(changed)):.1f}%; first hit = keyword's first in {same_first} of {len(report)} queries")  # fmt: skip
    shipped = fusion.fusion_for(embedder.name)
    results = evaluate({"keyword (tantivy BM25)": keyword_runs, f"semantic ({embedder.name})": semantic_runs,
                        f"hybrid as shipped, no meaning floor ({embedder.name})": unfloored_runs,
                        f"hybrid as shipped ({shipped.method}, semantic weight {shipped.semantic_weight}, "
                        f"{embedder.name})": hybrid_runs}, report)  # fmt: skip
    if tune:
        grid = [FusionSettings("rrf", k, w) for k in (10, 30, 60) for w in (0.3, 0.4, 0.5, 0.6, 0.7)]
        grid += [FusionSettings("convex", 60, w) for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]
        scored = []
        for setting in grid:
            fused = {q: [d[3:] for d, _ in fuse(keyword_scores[q], semantic_scores[q], setting)] for q in qrels}
            on_tuning = evaluate({"x": fused}, tuning)["x"]
            scored.append((on_tuning[0], setting, fused))
            name = f"tuning half: {setting.method} k={setting.rrf_k:g} semantic weight={setting.semantic_weight}"
            results[name] = on_tuning
        _, best, fused = max(scored, key=lambda item: item[0])
        name = f"best on the tuning half ({best.method}, weight {best.semantic_weight}), on the report half"
        results[name] = evaluate({"x": fused}, report)["x"]
    return results


def run_mixed(quality, bulk, corpus, queries, qrels, shares=(0.0, 0.5, 0.9, 1.0)) -> dict[str, tuple[float, float]]:
    """Hybrid search over a corpus where every document has a bulk vector and only part of them a
    quality vector (a backfill being re-embedded): `SearchService` with both models, each paper scored
    by the best vector it has. `share` = the part of the documents with the bulk vector only."""
    quality_vectors, bulk_vectors = document_vectors(quality, corpus), document_vectors(bulk, corpus)
    rng = np.random.default_rng(4)
    order = rng.permutation(len(corpus))
    results = {}
    for share in shares:
        bulk_only = set(order[: round(share * len(corpus))].tolist())
        with tempfile.TemporaryDirectory() as scratch:
            settings, store, changed = load_corpus(scratch, corpus)
            save_vectors(store, bulk, corpus, bulk_vectors, range(len(corpus)), changed)
            save_vectors(
                store, quality, corpus, quality_vectors, [i for i in range(len(corpus)) if i not in bulk_only], changed
            )
            service = SearchService(store, settings, embedder=quality, bulk_embedder=bulk)
            service.index.sync(store)
            runs = {
                qid: [hit.paper.id[3:] for hit in service.search(text, limit=100).hits] for qid, text in queries.items()
            }
            service.close()
            store.close()
        name = f"hybrid, best vector per paper: {100 * (1 - share):.0f}% {quality.name} + {100 * share:.0f}% {bulk.name} only"
        results[name] = evaluate({"x": runs}, split_halves(qrels)[1])["x"]  # the report half
    return results


def print_table(results: dict[str, tuple[float, float]]) -> None:
    print("| ranking | nDCG@10 | Recall@100 |\n|---|---|---|")
    for name, (ndcg, recall) in results.items():
        print(f"| {name} | {ndcg:.3f} | {recall:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", default="all-MiniLM-L6-v2", help="all-MiniLM-L6-v2 | static")
    parser.add_argument("--tune", action="store_true", help="also print a grid of fusion settings")
    parser.add_argument("--mixed", action="store_true",
                        help="MiniLM vectors for part of the corpus, static vectors for all (search uses the best)")  # fmt: skip
    args = parser.parse_args()
    print_machine(__doc__.strip().splitlines()[0])
    corpus, queries, qrels = load_scifact()
    started = time.perf_counter()
    if args.mixed:
        results = run_mixed(
            make_embedder("all-MiniLM-L6-v2", threads=1), make_embedder("static"), corpus, queries, qrels
        )
    else:
        results = run(make_embedder(args.embedder, threads=1), corpus, queries, qrels, tune=args.tune)
    tuning, report = split_halves(qrels)
    print(f"SciFact training split: {len(corpus):,} documents, {len(qrels)} queries with judgments "
          f"({time.perf_counter() - started:.0f} s): rows measured on the report half ({len(report)} queries); "
          f"settings chosen on the tuning half ({len(tuning)} queries)\n")  # fmt: skip
    print_table(results)


if __name__ == "__main__":
    main()
    print_load("after the run")
