"""Fourth pass of issue 15: the learned term embedding trained on the task's own shape (a library → its
author's next paper) instead of paper → paper.

Starting from a stored term embedding (bench/recommend.py --learned heldout caches the shipped one), each
step takes a batch of authors from the 2025 months; for each, one of their papers is the target and their
other papers (those announced before it with --ordered, at most --cap) are the library. The score of a
library for a paper is what ranking adds from the learned channels: the cosine to the library's centroid
(the normalised sum of the kept papers' unit vectors) plus, with --score both, the cosine to the nearest
kept paper. An in-batch contrastive loss (InfoNCE, both directions) makes each library score its own
author's paper above the batch's other targets; batches are drawn topic by topic (hard negatives).
Held-out as everywhere: papers written by a sampled benchmark reader give no author group, and the 2026
months are never read. Writes the embedding next to the cache; recommend_ltr.py --test-embedding scores it
on the dev half.

    PYTHONPATH=src nice -n 19 python bench/recommend_settune.py --ordered --epochs 3 --out /work/cache/recommend/ltr/o.bin
    PYTHONPATH=src nice -n 19 python bench/recommend_ltr.py --dev-only --test-embedding /work/cache/recommend/ltr/o.bin
With --epochs 0 and --start-dimensions 256 it only trains (and writes) a 256-dimensional start embedding.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recommend_corpus as corpus
from recommend import Bench

from paperwire.recommend import keywords
from paperwire.recommend.learned import TermEmbedding, info_nce, spherical_kmeans, train_term_embedding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", default="", help="stored embedding to start from (default: the heldout one)")
    parser.add_argument("--start-dimensions", type=int, default=0,
                        help="train the start embedding first (the product's train_term_embedding, held-out, "
                        "this many dimensions) if --start does not exist")  # fmt: skip
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--cap", type=int, default=24, help="at most this many library papers per author")
    parser.add_argument("--min-group", type=int, default=3, help="authors with at least this many papers")
    parser.add_argument("--score", choices=["centroid", "both"], default="centroid")
    parser.add_argument("--ordered", action="store_true", help="library = the author's papers before the target")
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--exclude-authors", default="", help="file: one more author name a line to hold out")
    parser.add_argument("--mix", type=float, default=0.0, help="weight of the paper → paper loss added")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    bench = Bench(1200, minilm=False)
    start = Path(args.start) if args.start else bench.learned_path("heldout")
    held = {r.name for r in bench.readers}
    if args.exclude_authors:
        held |= {line.strip() for line in Path(args.exclude_authors).read_text().splitlines() if line.strip()}
    if args.start_dimensions and not start.exists():
        paper_ids = [r.id for r in bench.records.values() if r.month in corpus.LIBRARY_MONTHS]
        fresh = train_term_embedding(
            [f"{bench.records[i].title} {bench.records[i].abstract}" for i in paper_ids],
            [() if held & set(bench.records[i].authors) else bench.records[i].authors for i in paper_ids],
            vectors=np.stack([bench.static[i] for i in paper_ids]), dimensions=args.start_dimensions,
            log=lambda line: print(f"  {line}", flush=True),
        )  # fmt: skip
        start.write_bytes(fresh.to_bytes())
    embedding = TermEmbedding.from_bytes(start.read_bytes())
    ids = [r.id for r in bench.records.values() if r.month in corpus.LIBRARY_MONTHS]
    counts = keywords.count_matrix([f"{bench.records[i].title} {bench.records[i].abstract}" for i in ids])
    found = embedding.position[counts.indices]
    known = found >= 0
    row_of = np.repeat(np.arange(len(ids)), np.diff(counts.indptr))[known]
    weights = ((1.0 + np.log(counts.data[known])) * embedding.idf[found[known]]).astype(np.float32)
    from scipy import sparse

    rows = sparse.csr_matrix((weights, (row_of, found[known])), shape=(len(ids), len(embedding.idf)))
    by_author: dict[str, list[int]] = defaultdict(list)
    for n, paper_id in enumerate(ids):
        authors = set(bench.records[paper_id].authors)
        if authors & held:
            continue
        for author in authors:
            by_author[author].append(n)
    groups = [sorted(g, key=lambda n: bench.records[ids[n]].day or bench.records[ids[n]].month)
              for g in by_author.values() if len(g) >= args.min_group]  # fmt: skip
    print(f"{len(groups)} author groups of ≥ {args.min_group} papers ({len(held)} held-out authors)", flush=True)
    vectors = np.stack([bench.static[i] for i in ids]).astype(np.float32)
    clusters = spherical_kmeans(
        vectors / np.linalg.norm(vectors, axis=1, keepdims=True), max(2, len(groups) // args.batch)
    )
    month_of = np.array([bench.records[i].month for i in ids])

    table = torch.nn.EmbeddingBag(*embedding.table.shape, mode="sum", sparse=True)
    with torch.no_grad():
        table.weight.copy_(torch.from_numpy(embedding.table))
    optimiser = torch.optim.SparseAdam(list(table.parameters()), lr=args.rate)
    rng = random.Random(args.seed)

    def forward(chosen: np.ndarray) -> torch.Tensor:
        part = rows[chosen]
        out = table(torch.from_numpy(part.indices.astype(np.int64)), torch.from_numpy(part.indptr[:-1].astype(np.int64)),
                    per_sample_weights=torch.from_numpy(part.data.astype(np.float32)))  # fmt: skip
        return torch.nn.functional.normalize(out, dim=1)

    started = time.perf_counter()
    for epoch in range(args.epochs):
        examples = []  # (target row, library rows)
        for g in groups:
            if args.ordered:
                later = [k for k in range(1, len(g)) if month_of[g[k]] > month_of[g[0]]]
                if not later:
                    continue
                k = rng.choice(later)
                library = [n for n in g if month_of[n] < month_of[g[k]]]
            else:
                k = rng.randrange(len(g))
                library = g[:k] + g[k + 1 :]
            if len(library) > args.cap:
                library = rng.sample(library, args.cap)
            examples.append((g[k], library))
        rng.shuffle(examples)
        rank = list(range(int(clusters.max()) + 1))
        rng.shuffle(rank)
        examples.sort(key=lambda e: rank[clusters[e[0]]])
        total, steps = 0.0, 0
        for s in range(0, len(examples) - args.batch + 1, args.batch):
            chunk = examples[s : s + args.batch]
            targets = forward(np.array([t for t, _ in chunk]))
            flat = np.concatenate([lib for _, lib in chunk])
            owner = torch.from_numpy(np.repeat(np.arange(len(chunk)), [len(lib) for _, lib in chunk]))
            kept = forward(flat)
            centroid = torch.zeros(len(chunk), kept.shape[1]).index_add_(0, owner, kept)
            logits = torch.nn.functional.normalize(centroid, dim=1) @ targets.T
            if args.score == "both":
                sims = kept @ targets.T  # (library rows, batch)
                nearest = torch.full((len(chunk), len(chunk)), -2.0).index_reduce_(0, owner, sims, "amax")
                logits = logits + nearest
            logits = logits / args.temperature
            loss = info_nce(logits)
            if args.mix:
                other = torch.from_numpy(np.array([rng.choice(lib) for _, lib in chunk]))
                pair = forward(np.asarray(other)) @ targets.T / args.temperature
                loss = loss + args.mix * info_nce(pair)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach())
            steps += 1
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / max(1, steps):.3f} over {len(examples)} authors "
              f"({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
        out = TermEmbedding(embedding.vocabulary, embedding.idf, table.weight.detach().numpy().copy(), embedding.papers)
        if epoch + 1 < args.epochs:  # every epoch's table, to score the first ones too
            Path(f"{args.out}.e{epoch + 1}").write_bytes(out.to_bytes())
    if args.epochs:
        Path(args.out).write_bytes(out.to_bytes())


if __name__ == "__main__":
    main()
