"""Fourth pass of issue 15: a reranker learned on synthetic readers of the 2025 months, checked on the dev half
(docs/recommendations-benchmark.md, "Fourth pass").

Training readers are built like the benchmark's, earlier and from other people: one per (author, month m of
2025-07…12, from --first) for an arXiv cs author who is NOT one of the 1,200 sampled benchmark readers, with
≥ `--min-library` papers announced 2025-03…(m − 1) (their library, authors stripped) and papers of their own
announced in m (the targets among all of m's papers). Every paper written by a sampled benchmark reader is
left out of the training readers' libraries and targets, so no pair of a sampled reader's papers is ever
trained on; the 2026 months are never read for training. Their learned channels need an embedding that
never saw their own pairs either: `--write-authors` lists them for recommend_settune.py --exclude-authors.

Features of a (reader, candidate) pair: each channel of the model (recommend/channels.py) z-scored and raw,
the shipped sum and its rank, library size, the candidate's length. A reranker reorders each reader's
`--pool` best candidates by the shipped sum; recall@50 is measured on the dev half's 2026 months. Features
are cached under /work/cache/recommend/ltr/ (by --features tag and the test embedding's file name).

    PYTHONPATH=src nice -n 19 python bench/recommend_ltr.py --no-learned --features none --fit
    PYTHONPATH=src nice -n 19 python bench/recommend_ltr.py --dev-only --test-embedding EMBEDDING.bin
    PYTHONPATH=src nice -n 19 python bench/recommend_ltr.py --write-authors /work/cache/recommend/ltr/authors.txt
    PYTHONPATH=src nice -n 19 python bench/recommend_settune.py --start /work/cache/recommend/ltr/clean128.bin \
        --start-dimensions 128 --exclude-authors /work/cache/recommend/ltr/authors.txt --epochs 0 --out unused
    PYTHONPATH=src nice -n 19 python bench/recommend_ltr.py --features clean --fit \
        --train-embedding /work/cache/recommend/ltr/clean128.bin --test-embedding /work/cache/recommend/ltr/clean128.bin
Only ever evaluated on --half dev (the default); --half report once per finalist.
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

from paperwire.recommend import ReaderSignals, fit_reader, keywords
from paperwire.recommend.channels import NAMES, channels, zscore
from paperwire.recommend.learned import TermEmbedding
from paperwire.recommend.selection import Weights

K = 50
SUM = tuple(name for name in NAMES if getattr(Weights(), name, 0.0) == 1.0)  # the shipped channels (weight 1)
CACHE = corpus.CACHE / "ltr"


def training_readers(
    bench: Bench, min_library: int, limit: int, first: str = "2025-07", seed: int = 0
) -> list[corpus.Reader]:
    """One training reader per (author, target month m ≥ `first`): library = their papers of 2025-03…m−1."""
    sampled = {r.name for r in bench.readers}
    tainted = {r.id for r in bench.records.values() if sampled & set(r.authors)}
    by_author: dict[str, list[corpus.Record]] = defaultdict(list)
    for record in bench.records.values():
        if record.id in tainted or record.month not in corpus.LIBRARY_MONTHS:
            continue
        for author in set(record.authors):
            by_author[author].append(record)
    out = []
    for name in sorted(by_author):
        if name in sampled:
            continue
        papers = by_author[name]
        for n, month in enumerate(corpus.LIBRARY_MONTHS):
            if month < first:
                continue
            library = tuple(sorted(p.id for p in papers if p.month in corpus.LIBRARY_MONTHS[:n]))
            targets = tuple(sorted(p.id for p in papers if p.month == month))
            if len(library) >= min_library and targets:
                out.append(corpus.Reader(f"{name}@{month}", library, {month: targets}, "train"))
    random.Random(seed).shuffle(out)
    print(f"training reader-months: {len(out)} (≥ {min_library} papers before the month, none of {len(tainted)} "
          f"papers by sampled readers), using {min(limit, len(out))}", flush=True)  # fmt: skip
    return out[:limit]


def training_authors(readers: list[corpus.Reader]) -> set[str]:
    return {r.name.rsplit("@", 1)[0] for r in readers}


IDF = {"mode": "period", "power": 2.0}
_DF: dict[str, tuple[np.ndarray, int]] = {}


def catalogue_df(bench: Bench) -> tuple[np.ndarray, int]:
    """Document frequency of every hashed term over the 2025 catalogue (content only), cached."""
    if "df" not in _DF:
        path = CACHE / "df2025.npy"
        ids = [r.id for r in bench.records.values() if r.month in corpus.LIBRARY_MONTHS]
        if path.exists():
            df = np.load(path)
        else:
            counts = keywords.count_matrix([f"{bench.records[i].title} {bench.records[i].abstract}" for i in ids])
            df = np.bincount(counts.indices, minlength=keywords.DIMENSIONS).astype(np.int32)
            np.save(path, df)
        _DF["df"] = (df, len(ids))
    return _DF["df"]


def block_features(
    bench: Bench, readers: list[corpus.Reader], month: str, ids: list[str], embedding: TermEmbedding | None,
    pool: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(features (R, pool, F), labels (R, pool), targets per reader (R,), base order columns (R, pool))."""
    period = Weights().period([bench.features(i, "static") for i in ids], (), embedding)
    if IDF["mode"] != "period":
        counts = keywords.count_matrix([f"{p.title} {p.abstract}" for p in period.papers])
        df_period = np.bincount(counts.indices, minlength=keywords.DIMENSIONS)
        df_catalogue, papers = catalogue_df(bench)
        df = df_catalogue + df_period
        idf = (np.log((1.0 + papers + len(ids)) / (1.0 + df)) + 1.0).astype(np.float32) ** IDF["power"]
        if IDF["mode"] == "mixed":  # geometric mean of the period's and the catalogue's
            idf = np.sqrt(idf * period.idf)
        period.idf, period.terms, period._terms_t = idf, keywords.tfidf(counts, idf), None
    lengths = np.log1p(np.asarray(period.terms.getnnz(axis=1), dtype=np.float32))
    feats, labels, totals, columns = [], [], [], []
    for start in range(0, len(readers), 150):
        group = readers[start : start + 150]
        models = [fit_reader(ReaderSignals(tuple(bench.features(i, "static") for i in r.library), ())) for r in group]
        found = channels(models, period, NAMES)
        names = [n for n in NAMES if n in found]
        z = {n: zscore(found[n]) for n in names}
        base = sum((z[n] for n in SUM if n in z), np.zeros(1))
        top = np.argsort(-base, axis=1)[:, :pool]
        take = lambda m, top=top: np.take_along_axis(np.asarray(m), top, 1)  # noqa: E731
        sizes = np.array([len(m.positives) for m in models], dtype=np.float32)
        cols = [take(z[n]) for n in names] + [take(found[n]) for n in names if not n.endswith("hub")]
        cols += [take(base), np.broadcast_to(np.log1p(np.arange(pool, dtype=np.float32)), top.shape),
                 np.broadcast_to(np.log(sizes)[:, None], top.shape), lengths[top]]  # fmt: skip
        relevant = np.zeros(base.shape, dtype=bool)
        for row, reader in enumerate(group):
            relevant[row, [period.index[i] for i in reader.targets[month]]] = True
        feats.append(np.stack(cols, -1).astype(np.float32))
        labels.append(take(relevant))
        totals.append(relevant.sum(1))
        columns.append(top)
    return np.concatenate(feats), np.concatenate(labels), np.concatenate(totals), np.concatenate(columns)


def build(bench: Bench, readers: list[corpus.Reader], months: dict[str, list[str]], embedding, pool: int, path: Path):
    if path.exists():
        with np.load(path) as data:
            return data["x"], data["y"], data["total"], data["month"]
    xs, ys, ts, ms = [], [], [], []
    for n, (month, ids) in enumerate(months.items()):
        group = [r for r in readers if month in r.targets]
        started = time.perf_counter()
        x, y, total, _ = block_features(bench, group, month, ids, embedding, pool)
        print(
            f"  {month}: {len(group)} readers × {len(ids)} papers in {time.perf_counter() - started:.0f} s", flush=True
        )
        xs.append(x), ys.append(y), ts.append(total), ms.append(np.full(len(total), n))
    out = np.concatenate(xs), np.concatenate(ys), np.concatenate(ts), np.concatenate(ms)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=out[0], y=out[1], total=out[2], month=out[3])
    return out


def recall(scores: np.ndarray, y: np.ndarray, total: np.ndarray) -> float:
    top = np.argsort(-scores, axis=1)[:, :K]
    return float(np.mean(np.take_along_axis(y, top, 1).sum(1) / total))


def fit(train: tuple[np.ndarray, ...], test: tuple[np.ndarray, ...]) -> None:
    """Rerankers learned on the training readers, scored on the half: pointwise (logistic regression, sklearn
    HistGradientBoosting) and listwise (softmax over each reader's pool: linear, and a 16-unit MLP; torch)."""
    import torch
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    big_x, big_y, big_total, _ = train
    x, y, total, _ = test
    flat = lambda a: a.reshape(-1, a.shape[-1])  # noqa: E731
    print(f"training readers: shipped sum {recall(big_x[..., -4], big_y, big_total):.4f}", flush=True)
    pointwise = [("logistic regression", make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)))]
    for rate, rounds, leaves in ((0.05, 200, 15), (0.05, 300, 7), (0.03, 300, 31)):
        model = HistGradientBoostingClassifier(learning_rate=rate, max_iter=rounds, max_leaf_nodes=leaves,
                                               min_samples_leaf=200, early_stopping=False, random_state=0)  # fmt: skip
        pointwise.append((f"gradient boosting (rate {rate}, {rounds} rounds, {leaves} leaves)", model))
    for label, model in pointwise:
        model.fit(flat(big_x), big_y.ravel())
        score = lambda a, model=model: model.predict_proba(flat(a))[:, 1].reshape(a.shape[:2])  # noqa: E731
        print(f"  {label}: {recall(score(x), y, total):.4f} (training readers "
              f"{recall(score(big_x), big_y, big_total):.4f})", flush=True)  # fmt: skip
    torch.set_num_threads(1)
    mean, std = flat(big_x).mean(0), flat(big_x).std(0) + 1e-6
    train_x = torch.tensor((big_x - mean) / std, dtype=torch.float32)
    test_x = torch.tensor((x - mean) / std, dtype=torch.float32)
    labels = torch.tensor(big_y, dtype=torch.float32)
    found_any = labels.sum(1) > 0  # readers with a target in their pool
    for hidden in (0, 16):
        for decay in (1e-3, 1e-2):
            torch.manual_seed(0)
            width = train_x.shape[-1]
            net = (torch.nn.Linear(width, 1) if not hidden else torch.nn.Sequential(
                torch.nn.Linear(width, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)))  # fmt: skip
            optimiser = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=decay)
            for _ in range(300):
                log_p = torch.log_softmax(net(train_x[found_any]).squeeze(-1), 1)
                hits = labels[found_any]
                loss = -((log_p * hits).sum(1) / hits.sum(1)).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            with torch.no_grad():
                found, seen = net(test_x).squeeze(-1).numpy(), net(train_x).squeeze(-1).numpy()
            print(
                f"  listwise {'linear' if not hidden else f'MLP ({hidden})'}, weight decay {decay}: "
                f"{recall(found, y, total):.4f} (training readers {recall(seen, big_y, big_total):.4f})",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--half", default="dev")
    parser.add_argument("--features", default="heldout", help="cache tag")
    parser.add_argument("--train-embedding", default="", help="term embedding for the training readers' features")
    parser.add_argument("--test-embedding", default="", help="term embedding for the dev readers (default: heldout)")
    parser.add_argument("--min-library", type=int, default=6)
    parser.add_argument("--train-readers", type=int, default=6000)
    parser.add_argument("--pool", type=int, default=200)
    parser.add_argument("--first", default="2025-07", help="first target month of the training readers")
    parser.add_argument("--no-learned", action="store_true", help="without the learned channels")
    parser.add_argument("--dev-only", action="store_true", help="only the shipped sum on the half (no training)")
    parser.add_argument("--fit", action="store_true", help="train the rerankers and score them on the half")
    parser.add_argument("--write-authors", default="", help="write the training readers' names (one a line) here")
    parser.add_argument("--idf", choices=["period", "catalogue", "mixed"], default="period")
    parser.add_argument("--idf-power", type=float, default=2.0)
    args = parser.parse_args()
    IDF.update(mode=args.idf, power=args.idf_power)
    bench = Bench(1200, minilm=False)
    test_embedding = TermEmbedding.from_bytes(
        Path(args.test_embedding).read_bytes() if args.test_embedding else bench.learned_path("heldout").read_bytes()
    )
    train_embedding = (
        TermEmbedding.from_bytes(Path(args.train_embedding).read_bytes()) if args.train_embedding else test_embedding
    )
    if args.no_learned:
        train_embedding = test_embedding = None
    started = time.perf_counter()
    readers = training_readers(bench, args.min_library, args.train_readers, args.first)
    if args.write_authors:
        Path(args.write_authors).write_text("".join(f"{name}\n" for name in sorted(training_authors(readers))))
        return
    months = {
        m: [r.id for r in bench.records.values() if r.month == m] for m in corpus.LIBRARY_MONTHS if m >= args.first
    }
    train = None if args.dev_only else build(bench, readers, months, train_embedding, args.pool,
                  CACHE / f"train-{args.features}-{args.min_library}-{args.first}-{args.pool}.npz")  # fmt: skip
    test_readers = [r for r in bench.readers if r.half == args.half]
    test = build(bench, test_readers, bench.months, test_embedding, args.pool,
                 CACHE / f"{args.half}-{args.idf}{args.idf_power}-{'none' if args.no_learned else Path(args.test_embedding).stem or 'heldout'}-{args.pool}.npz")  # fmt: skip
    print(
        f"features: train {None if train is None else train[0].shape}, {args.half} {test[0].shape} in {time.perf_counter() - started:.0f} s"
    )
    x, y, total, _ = test
    print(f"{args.half}: shipped sum {recall(x[..., -4], y, total):.4f}; ceiling (pool {args.pool}) "
          f"{float(np.mean(np.minimum(y.sum(1), K) / total)):.4f}", flush=True)  # fmt: skip
    if x.shape[-1] == 24:  # z columns 9, 10: learned nearest, centroid; 0–8 the others
        learned = x[..., 9] + x[..., 10]
        rest = x[..., [0, 2, 3, 5, 6, 7, 8]].sum(-1)
        print(
            "  learned channels alone "
            + f"{recall(learned, y, total):.4f}; "
            + ", ".join(f"at weight {w}: {recall(rest + w * learned, y, total):.4f}" for w in (0.5, 1.5, 2, 3)),
            flush=True,
        )
    if args.fit and train is not None:
        fit(train, test)


if __name__ == "__main__":
    main()
