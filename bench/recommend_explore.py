"""Dev-half exploration harness for "For you" (what docs/recommendations-benchmark.md "What did not help"
lists from 2026-12-07 on): builds every channel once per (dev reader, month) with the model's own code,
then scores a variant in numpy/sklearn, without MMR (the shipped channels at weight 1 read 0.282 here).

    PYTHONPATH=src nice python bench/recommend_explore.py                 # the shipped channels
    PYTHONPATH=src nice python bench/recommend_explore.py --variant svm   # + a per-reader LinearSVC channel
    PYTHONPATH=src nice python bench/recommend_explore.py --variant ltr   # learned combiner, 4-fold by reader
    PYTHONPATH=src nice python bench/recommend_explore.py --variant bm25  # BM25 "more like this" channels
Only ever run on --half dev (the default).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recommend_corpus as corpus
from recommend import Bench

from paperwire.recommend import ReaderSignals, fit_reader, keywords
from paperwire.recommend.channels import channels, segment_max, segment_mean, zscore
from paperwire.recommend.selection import Weights

K = 50
SHIPPED = dict.fromkeys(
    (
        "vector_nearest",
        "vector_centroid",
        "keyword_nearest",
        "keyword_centroid",
        "category",
        "vector_hub",
        "keyword_hub",
    ),
    1.0,
)


class Block:
    """One month: the dev readers with papers in it, their models, channels (raw and z-scored), targets."""

    def __init__(self, bench: Bench, month: str, ids: list[str], group: list[corpus.Reader]) -> None:
        self.month, self.ids, self.group = month, ids, group
        self.period = Weights().period([bench.features(i, "static") for i in ids], ())
        self.models = [
            fit_reader(ReaderSignals(tuple(bench.features(i, "static") for i in r.library), ())) for r in group
        ]
        found = channels(self.models, self.period)
        self.raw = {n: m for n, m in found.items() if not n.startswith("_")}
        self.z = {n: zscore(m) for n, m in self.raw.items()}
        self.sizes = np.array([len(m.positives) for m in self.models])
        self.relevant = np.zeros((len(group), len(ids)), dtype=bool)
        for row, reader in enumerate(group):
            self.relevant[row, [self.period.index[i] for i in reader.targets[month]]] = True


def build(bench: Bench, half: str) -> list[Block]:
    readers = [r for r in bench.readers if r.half == half]
    return [Block(bench, month, ids, [r for r in readers if month in r.targets]) for month, ids in bench.months.items()]


def recall(blocks: list[Block], scorer: Callable[[Block], np.ndarray]) -> float:
    values: list[float] = []
    for b in blocks:
        top = np.argpartition(-scorer(b), K, axis=1)[:, :K]
        values.extend(np.take_along_axis(b.relevant, top, axis=1).sum(1) / b.relevant.sum(1))
    return float(np.mean(values))


def weighted(weights: dict[str, float]) -> Callable[[Block], np.ndarray]:
    return lambda b: sum((w * b.z[n] for n, w in weights.items() if w), np.zeros(1))


def report(blocks: list[Block], name: str) -> None:
    added = " ".join(f"w{w}: {recall(blocks, weighted(dict(SHIPPED, **{name: w}))):.4f}" for w in (0.5, 1, 2))
    print(f"{name}: alone {recall(blocks, weighted({name: 1.0})):.4f}, added to the shipped channels {added}")


def svm_channels(bench: Bench, blocks: list[Block]) -> None:
    """A per-reader LinearSVC (balanced) on the model's own features — IDF²-weighted hashed word/pair TF-IDF
    plus the bulk vector — trained on the library against the period's papers or a 3,000-paper background
    sample of the 2025 months; its decision value is one more channel."""
    from sklearn.svm import LinearSVC

    background = random.Random(1).sample(
        [r.id for r in bench.records.values() if r.month in corpus.LIBRARY_MONTHS], 3000
    )
    for b in blocks:
        period = b.period
        library = [keywords.tfidf(m.positives.terms, period.idf) for m in b.models]
        counts = keywords.count_matrix([f"{bench.records[i].title} {bench.records[i].abstract}" for i in background])
        vectors = np.stack([bench.static[i] for i in background]).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        back = sparse.hstack([keywords.tfidf(counts, period.idf), sparse.csr_matrix(vectors)]).tocsr()
        ranked = sparse.hstack([period.terms, sparse.csr_matrix(period.vectors)]).tocsr()
        for label, negatives, c in (("svm_period_C1", ranked, 1.0), ("svm_background_C1", back, 1.0),
                                    ("svm_background_C0.1", back, 0.1)):  # fmt: skip
            out = np.zeros((len(b.group), period.size), np.float32)
            for row, model in enumerate(b.models):
                positives = sparse.hstack([library[row], sparse.csr_matrix(model.positives.vectors)]).tocsr()
                x = sparse.vstack([positives, negatives]).tocsr()
                y = np.r_[np.ones(positives.shape[0]), np.zeros(negatives.shape[0])]
                svc = LinearSVC(class_weight="balanced", C=c, tol=1e-4, max_iter=2000).fit(x, y)
                out[row] = svc.decision_function(ranked)
            b.z[label] = zscore(out)
    for label in ("svm_period_C1", "svm_background_C1", "svm_background_C0.1"):
        report(blocks, label)


def bm25_channels(blocks: list[Block]) -> None:
    """BM25 (k1 1.2, b 0.75, IDF from the period): each kept paper as a query (nearest, mean) and the whole
    library as one long query (sublinear term counts)."""
    for b in blocks:
        counts = keywords.count_matrix([f"{p.title} {p.abstract}" for p in b.period.papers])
        df = np.bincount(counts.indices, minlength=keywords.DIMENSIONS).astype(np.float32)
        idf = np.log(1 + (counts.shape[0] - df + 0.5) / (df + 0.5)).astype(np.float32)
        length = np.asarray(counts.sum(1)).ravel()
        rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        tf = counts.data
        data = idf[counts.indices] * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length[rows] / length.mean()))
        docs_t = sparse.csr_matrix(sparse.csr_matrix((data, counts.indices, counts.indptr), shape=counts.shape).T)
        library = keywords.stack_rows(m.positives.terms for m in b.models)
        starts = np.cumsum(np.r_[0, b.sizes])[:-1]
        binary = sparse.csr_matrix((np.ones(library.nnz, np.float32), library.indices, library.indptr), library.shape)
        per_paper = (binary @ docs_t).toarray()
        b.z["bm25_nearest"] = zscore(segment_max(per_paper, starts))
        b.z["bm25_mean"] = zscore(segment_mean(per_paper, starts, b.sizes.astype(np.float32)))
        owner = sparse.csr_matrix(
            (np.ones(library.shape[0]), (np.repeat(np.arange(len(b.sizes)), b.sizes), np.arange(library.shape[0])))
        )
        query = (owner @ binary).tocsr()
        query.data = 1 + np.log(query.data)
        b.z["bm25_long"] = zscore((query @ docs_t).toarray())
    for label in ("bm25_nearest", "bm25_mean", "bm25_long"):
        report(blocks, label)


def ltr(blocks: list[Block]) -> None:
    """A combiner learned across dev readers: features = every channel's z-score and raw value, the summed
    score and log library size, on each reader's 400 best papers by the shipped sum; 4 folds by reader name."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    shipped = weighted(SHIPPED)
    data = []
    for b in blocks:
        score = shipped(b)
        top = np.argpartition(-score, 400, axis=1)[:, :400]
        features = [np.take_along_axis(b.z[n], top, 1) for n in b.z]
        features += [np.take_along_axis(b.raw[n], top, 1) for n in b.raw if not n.endswith("hub")]
        features += [np.take_along_axis(score, top, 1), np.broadcast_to(np.log(b.sizes)[:, None], top.shape)]
        fold = np.array([zlib.crc32(r.name.encode()) % 4 for r in b.group])
        data.append((np.stack(features, -1).astype(np.float32), np.take_along_axis(b.relevant, top, 1), fold, b))

    def run(make: Callable[[], Any], label: str) -> None:
        values: list[float] = []
        for f in range(4):
            x = np.concatenate([x[fold != f].reshape(-1, x.shape[-1]) for x, _, fold, _ in data])
            y = np.concatenate([y[fold != f].ravel() for _, y, fold, _ in data])
            learned = make().fit(x, y)
            for x, y, fold, b in data:
                held = fold == f
                if held.any():
                    p = learned.predict_proba(x[held].reshape(-1, x.shape[-1]))[:, 1].reshape(held.sum(), -1)
                    hits = np.take_along_axis(y[held], np.argsort(-p, 1)[:, :K], 1).sum(1)
                    values.extend(hits / b.relevant[held].sum(1))
        print(f"{label}: {np.mean(values):.4f}", flush=True)

    run(lambda: LogisticRegression(C=1.0, max_iter=2000), "LTR logistic regression")
    for rate, rounds, leaves in ((0.05, 200, 31), (0.05, 400, 15), (0.1, 200, 63)):
        run(
            lambda rate=rate, rounds=rounds, leaves=leaves: HistGradientBoostingClassifier(
                learning_rate=rate, max_iter=rounds, max_leaf_nodes=leaves, min_samples_leaf=100
            ),
            f"LTR gradient boosting (rate {rate}, {rounds} rounds, {leaves} leaves)",
        )


def hub(pairs: np.ndarray, k: int = 10) -> np.ndarray:
    """Each period paper's mean similarity to its k nearest other papers (the model's hubness channel)."""
    matrix = pairs.copy()
    np.fill_diagonal(matrix, -np.inf)
    return np.partition(matrix, matrix.shape[1] - k, axis=1)[:, -k:].mean(1)


def set_channels(b: Block, sims: np.ndarray, pairs: np.ndarray, prefix: str) -> None:
    """nearest / centroid / hub channels (z-scored) from kept × period and period × period similarities."""
    starts = np.cumsum(np.r_[0, b.sizes])[:-1]
    b.z[f"{prefix}_nearest"] = zscore(segment_max(sims, starts))
    b.z[f"{prefix}_centroid"] = zscore(segment_mean(sims, starts, b.sizes.astype(np.float32)))
    b.z[f"{prefix}_hub"] = zscore(-np.broadcast_to(hub(pairs), sims[: len(b.sizes)].shape))


def keyword_reweighted(blocks: list[Block], factor: np.ndarray, prefix: str) -> None:
    """The keyword channels with the period's IDF² multiplied by a learned per-term factor."""
    for b in blocks:
        if not hasattr(b, "counts"):
            b.counts = keywords.count_matrix([f"{p.title} {p.abstract}" for p in b.period.papers])  # type: ignore[attr-defined]
        idf = b.period.idf * factor
        terms = keywords.tfidf(b.counts, idf)  # type: ignore[attr-defined]
        kept = keywords.tfidf(keywords.stack_rows(m.positives.terms for m in b.models), idf)
        terms_t = sparse.csr_matrix(terms.T)
        sims = (kept @ terms_t).toarray().astype(np.float32)
        set_channels(b, sims, (terms @ terms_t).toarray().astype(np.float32), prefix)


def vector_projected(blocks: list[Block], w: np.ndarray, prefix: str) -> None:
    """The vector channels after the learned projection x @ W (rows re-normalised)."""

    def project(x: np.ndarray) -> np.ndarray:
        y = x @ w
        return y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-9)

    for b in blocks:
        period = project(b.period.vectors)
        kept = project(np.concatenate([m.positives.vectors for m in b.models]))
        set_channels(b, kept @ period.T, period @ period.T, prefix)


def metric(
    bench: Bench, blocks: list[Block], train: str, parts: set[str], bag_dim: int = 128,
    bag_epochs: tuple[int, ...] = (0, 5, 10, 20), hard: int = 0, bag_min_df: int = 2, bag_lsa: bool = False,
) -> None:  # fmt: skip
    """Third pass: term weights and a vector projection learned from the 2025 catalogue's authors."""
    import recommend_metric as learn

    excluded = learn.held_out_authors(bench.readers) if train == "heldout" else set()
    cat = learn.Catalogue(bench.records, excluded)
    cache = corpus.CACHE / "metric"
    cache.mkdir(parents=True, exist_ok=True)
    clusters = learn.topic_clusters(cat, bench.static, hard) if hard else None
    tag = f"{train}-hard{hard}" if hard else train
    base = dict(SHIPPED)
    kw = ("keyword_nearest", "keyword_centroid", "keyword_hub")
    vec = ("vector_nearest", "vector_centroid", "vector_hub")

    def swap(prefix: str, names: tuple[str, ...], extra: dict[str, float] | None = None) -> dict[str, float]:
        out = {n: w for n, w in base.items() if n not in names}
        out.update({f"{prefix}_{n.split('_')[1]}": 1.0 for n in names})
        out.update(extra or {})
        return out

    def show(label: str, weights: dict[str, float]) -> None:
        print(f"  {label}: {recall(blocks, weighted(weights)):.4f}", flush=True)

    if "lift" in parts:
        started = time.perf_counter()
        lift = learn.term_lift(cat)
        print(f"term lift in {time.perf_counter() - started:.0f} s; "
              f"median over terms in ≥ 1 pair {np.median(lift[lift != lift[0]]):.2f}", flush=True)  # fmt: skip
        # what rarity alone predicts: the median lift of the terms with the same 2025 document frequency
        df = np.bincount(cat.counts.indices, minlength=keywords.DIMENSIONS)
        expected = np.ones_like(lift)
        for low, high in zip([0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256, 512, 1024],
                             [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256, 512, 1024, 10**9]):  # fmt: skip
            chosen = (df >= low) & (df < high)
            if chosen.any():
                expected[chosen] = np.median(lift[chosen])
        residual = lift / expected
        print(
            "  median lift by df 1/2/4/16/128/1024:",
            [round(float(np.median(lift[df == v])), 2) for v in (1, 2, 4, 16, 128, 1024) if (df == v).any()],
        )
        for label, factor in (
            ("1 (control)", np.ones_like(lift)), ("lift^0.25", lift**0.25), ("residual^0.25", residual**0.25),
            ("residual^0.5", residual**0.5), ("residual^1", residual), ("clip(residual,0.5,2)", np.clip(residual, 0.5, 2)),
        ):  # fmt: skip
            keyword_reweighted(blocks, factor.astype(np.float32), f"lift{label}")
            show(f"keyword channels × {label}", swap(f"lift{label}", kw))
    if "terms" in parts:
        path = cache / f"terms-{tag}.npy"
        if path.exists():
            factor = np.load(path)
        else:
            factor = learn.train_term_weights(cat, clusters=clusters)
            np.save(path, factor)
        print(f"term factors: median {np.median(factor):.3f}, p1 {np.percentile(factor, 1):.3f}, "
              f"p99 {np.percentile(factor, 99):.3f}", flush=True)  # fmt: skip
        keyword_reweighted(blocks, factor, "nce")
        show("keyword channels × InfoNCE term factor", swap("nce", kw))
    if "bag" in parts:
        first = cache / f"bag-{tag}-{bag_dim}-df{bag_min_df}{'-lsa' if bag_lsa else ''}-{bag_epochs[0]}.npz"
        bag = learn.TermBag(cat, dim=bag_dim, min_df=bag_min_df, lsa=bag_lsa and not first.exists())
        print(f"term bag: {len(bag.vocab)} terms × {bag_dim}", flush=True)
        for b in blocks:
            if not hasattr(b, "counts"):
                b.counts = keywords.count_matrix([f"{p.title} {p.abstract}" for p in b.period.papers])  # type: ignore[attr-defined]
        done = 0
        for epochs in bag_epochs:
            saved = cache / f"bag-{tag}-{bag_dim}-df{bag_min_df}{'-lsa' if bag_lsa else ''}-{epochs}.npz"
            if saved.exists():
                bag.load(saved)
                done = epochs
            elif epochs > done:
                bag.train(cat, epochs=epochs - done, seed=done, clusters=clusters)
                done = epochs
                bag.save(saved)
            for b in blocks:
                period = bag.embed(b.counts)  # type: ignore[attr-defined]
                kept = bag.embed(keywords.stack_rows(m.positives.terms for m in b.models))
                set_channels(b, kept @ period.T, period @ period.T, "bag")
            show(
                f"term bag after {epochs} epochs, alone (nearest + centroid + hub)",
                {f"bag_{n}": 1.0 for n in ("nearest", "centroid", "hub")},
            )
            show("  … in place of the vector channels", swap("bag", vec))
            show("  … added (nearest + centroid)", swap("bag", (), {"bag_nearest": 1.0, "bag_centroid": 1.0}))
            show("  … added at 0.5", swap("bag", (), {"bag_nearest": 0.5, "bag_centroid": 0.5}))
            for w in (1.5, 2.0, 2.5, 3.0, 4.0):
                show(f"  … added at {w}", swap("bag", (), {"bag_nearest": w, "bag_centroid": w}))
            show("  … nearest only", swap("bag", (), {"bag_nearest": 1.0}))
            show("  … centroid only", swap("bag", (), {"bag_centroid": 1.0}))
            show("  … with its hub channel", swap("bag", (), {"bag_nearest": 1.0, "bag_centroid": 1.0, "bag_hub": 1.0}))
    if "projection" in parts:
        for dim, decay in ((384, 0.0),):
            path = cache / f"projection-{tag}-{dim}-{decay}.npy"
            if path.exists():
                w = np.load(path)
            else:
                w = learn.train_projection(cat, bench.static, dim=dim, decay=decay, clusters=clusters)
                np.save(path, w)
            label = f"proj{dim}"
            vector_projected(blocks, w, label)
            show(f"vector channels projected ({dim}, decay {decay})", swap(label, vec))
            show(
                "  … added beside the bulk vector channels",
                swap(label, (), {f"{label}_{n}": 1.0 for n in ("nearest", "centroid")}),
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, default=1200)
    parser.add_argument("--half", default="dev")
    parser.add_argument("--variant", choices=["none", "svm", "bm25", "ltr", "metric"], default="none")
    parser.add_argument("--train", choices=["all", "heldout"], default="heldout", help="metric: training pairs")
    parser.add_argument("--parts", default="lift,terms,projection", help="metric: what to learn")
    parser.add_argument("--hard", type=int, default=0, help="metric: batches from topic clusters of ~N anchors")
    parser.add_argument("--bag-dim", type=int, default=128)
    parser.add_argument("--bag-epochs", default="0,5,10,20")
    parser.add_argument("--bag-min-df", type=int, default=2)
    parser.add_argument("--bag-lsa", action="store_true", help="start the term bag from LSA (truncated SVD)")
    args = parser.parse_args()
    started = time.perf_counter()
    bench = Bench(args.readers, minilm=False)
    blocks = build(bench, args.half)
    pairs = sum(len(b.group) for b in blocks)
    print(f"{pairs} {args.half} reader-months in {time.perf_counter() - started:.0f} s; "
          f"shipped channels, no MMR: {recall(blocks, weighted(SHIPPED)):.4f}", flush=True)  # fmt: skip
    if args.variant == "svm":
        svm_channels(bench, blocks)
    elif args.variant == "bm25":
        bm25_channels(blocks)
    elif args.variant == "ltr":
        ltr(blocks)
    elif args.variant == "metric":
        epochs = tuple(int(e) for e in args.bag_epochs.split(","))
        metric(
            bench,
            blocks,
            args.train,
            set(args.parts.split(",")),
            args.bag_dim,
            epochs,
            args.hard,
            args.bag_min_df,
            args.bag_lsa,
        )


if __name__ == "__main__":
    main()
