"""Embedding throughput and the quality each path gives: plain MiniLM through sentence-transformers
(baseline) vs paperwire's quality path (MiniLM, bf16 where the CPU has it) vs its bulk path (static
word-piece vectors distilled from MiniLM, mapped into its space), same texts, same run; plus the hybrid nDCG@10 on SciFact
training queries that each path gives (bench/relevance.py; MiniLM SciFact vectors cached in bench/out/).

Reproduce:  .venv/bin/python bench/embed.py [--papers 256] [--bulk-papers 20000] [--no-relevance]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from machine import print_load, print_machine  # bench/machine.py

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from paperwire.search.embedders import SentenceTransformerEmbedder, paper_text  # noqa: E402
from paperwire.search.static import StaticEmbedder  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"


def texts(count: int) -> list[str]:
    found = []
    for path in sorted((SHARED / "arxiv_cs").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            for line in stream:
                record = json.loads(line)
                found.append(paper_text(record["title"], " ".join(record["abstract"].split())))
                if len(found) == count:
                    return found
    return found


def rate(function, items: list[str], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(items)
        runs.append(len(items) / (time.perf_counter() - started))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=256, help="texts for the MiniLM rates")
    parser.add_argument("--bulk-papers", type=int, default=20_000, help="texts for the bulk rate")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-relevance", action="store_true", help="skip the SciFact nDCG column")
    args = parser.parse_args()
    print_machine(__doc__.strip().splitlines()[0])
    sample, many = texts(args.papers), texts(args.bulk_papers)

    quality = SentenceTransformerEmbedder()
    model = quality.load()
    plain = rate(lambda t: model.encode(t, batch_size=32, normalize_embeddings=True), sample, args.repeats)
    ours = rate(lambda t: quality.embed_documents(t, batch_size=32), sample, args.repeats)
    reference = model.encode(sample, batch_size=32, normalize_embeddings=True)
    agreement_quality = float(np.mean(np.sum(reference * quality.embed_documents(sample), axis=1)))

    cache = OUT / "static-minilm-v1.npz"  # the distilled table (name of its first version)
    started = time.perf_counter()
    bulk = StaticEmbedder(cache=cache).load()
    distill_s = time.perf_counter() - started
    bulk_rate = rate(bulk.embed_documents, many, args.repeats)
    bulk_vectors = bulk.embed_documents(sample)
    top10 = []
    similarity_ref = reference @ reference.T
    similarity_bulk = bulk_vectors @ bulk_vectors.T
    for i in range(len(sample)):
        a = set(np.argsort(-similarity_ref[i])[1:11])
        b = set(np.argsort(-similarity_bulk[i])[1:11])
        top10.append(len(a & b) / 10)

    ndcg = {}
    if not args.no_relevance:
        import relevance
        import torch

        torch.set_num_threads(1)  # query embedding: one thread is faster for single short texts

        corpus, queries, qrels = relevance.load_scifact()
        for name, embedder in (("quality", quality), ("bulk", bulk)):
            results = relevance.run(embedder, corpus, queries, qrels)
            ndcg[name] = next(v[0] for k, v in results.items() if k.startswith("hybrid"))
            ndcg["keyword"] = results["keyword (tantivy BM25)"][0]

    print(f"\nEmbedding throughput, title + abstract of real arXiv cs papers ({args.papers} for MiniLM, "
          f"{len(many):,} for the bulk path), median of {args.repeats}\n")  # fmt: skip
    print(
        "| path | papers/s | × plain MiniLM | agreement with MiniLM | hybrid nDCG@10 (SciFact train) |\n|---|---|---|---|---|"
    )
    print(
        f"| baseline: plain MiniLM (sentence-transformers, batch 32) | {plain:.1f} | 1.0 | 1.000 | {ndcg.get('quality', float('nan')):.3f} |"
    )
    print(
        f"| quality path: MiniLM, bf16 matrix products where the CPU has them, length-sorted batches | {ours:.1f} | {ours / plain:.2f} | cosine {agreement_quality:.3f} | {ndcg.get('quality', float('nan')):.3f} |"
    )
    print(
        f"| bulk path: static word-pieces distilled from MiniLM, mapped into its space (queries by MiniLM) | {bulk_rate:,.0f} | {bulk_rate / plain:,.0f} | top-10 overlap {statistics.mean(top10):.2f} | {ndcg.get('bulk', float('nan')):.3f} |"
    )
    if ndcg:
        print(f"| (keyword only, for reference) | | | | {ndcg['keyword']:.3f} |")
    print(f"\nbulk path one-off distillation: {distill_s:.0f} s (cached in {cache})")


if __name__ == "__main__":
    main()
    print_load("after the run")
