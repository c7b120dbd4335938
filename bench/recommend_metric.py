"""Learning "the same line of research" from the catalogue's own authors (issue 15, third pass).

Papers that share an author are the supervision a "For you" recommender needs: the benchmark's targets are
exactly "the next paper of the same author". Everything here is trained on the 2025-03…2025-12 papers and
their authors only (never the 2026 months the benchmark ranks), then scored on the dev half by
recommend_explore.py's harness (no MMR):

- **term lift**: per hashed term, how much more often same-author pairs share it than random pairs
  (pointwise lift, smoothed), as a weight on the keyword channels' IDF²;
- **projection**: a linear map of the bulk vectors trained with an in-batch contrastive loss (InfoNCE) on
  same-author pairs (torch, CPU), used in the vector channels;
- **term InfoNCE**: a per-term weight on the keyword TF-IDF trained with the same loss.

`--train all` pairs every 2025 author (what the product would do: its catalogue holds the benchmark
readers' library papers and their authors); `--train heldout` drops every paper written by one of the
sampled benchmark readers (the honest figure: no gain from memorising those authors).

    PYTHONPATH=src nice python bench/recommend_explore.py --variant metric --train heldout
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import recommend_corpus as corpus
from scipy import sparse

from paperwire.recommend import keywords
from paperwire.recommend.learned import info_nce, sample_pairs

H = keywords.DIMENSIONS


class Catalogue:
    """The 2025 papers, their hashed term counts and author groups (papers sharing an author)."""

    def __init__(self, records: dict[str, corpus.Record], excluded_authors: set[str]) -> None:
        self.ids = [r.id for r in records.values() if r.month in corpus.LIBRARY_MONTHS]
        self.row = {paper_id: n for n, paper_id in enumerate(self.ids)}
        self.counts = keywords.count_matrix([f"{records[i].title} {records[i].abstract}" for i in self.ids])
        by_author: dict[str, list[int]] = defaultdict(list)
        dropped = 0
        for n, paper_id in enumerate(self.ids):
            authors = set(records[paper_id].authors)
            if authors & excluded_authors:
                dropped += 1
                continue
            for author in authors:
                by_author[author].append(n)
        self.groups = [rows for rows in by_author.values() if len(rows) >= 2]
        self.dropped = dropped
        # paper → the groups it belongs to (for sampling positives)
        self.groups_of: dict[int, list[int]] = defaultdict(list)
        for g, rows in enumerate(self.groups):
            for n in rows:
                self.groups_of[n].append(g)
        self.anchors = np.array(sorted(self.groups_of), dtype=np.int64)
        print(f"catalogue: {len(self.ids)} papers of 2025, {dropped} dropped (held-out authors), "
              f"{len(self.groups)} author groups of ≥ 2, {len(self.anchors)} anchor papers", flush=True)  # fmt: skip

    def pairs(self, rng: random.Random, clusters: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One positive per anchor paper (the product's sampling: recommend/learned.py sample_pairs)."""
        return sample_pairs(self.anchors, self.groups, self.groups_of, rng, clusters)


def topic_clusters(cat: Catalogue, vectors: dict[str, np.ndarray], size: int, seed: int = 0) -> np.ndarray:
    """A topic label per catalogue paper: k-means on the bulk vectors, about `size` anchor papers a cluster."""
    from sklearn.cluster import MiniBatchKMeans

    x = np.stack([vectors[i] for i in cat.ids]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    k = max(2, len(cat.anchors) // size)
    labels = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096).fit_predict(x)
    return labels.astype(np.int64)


def term_lift(cat: Catalogue, alpha: float = 2.0) -> np.ndarray:
    """(H,) smoothed lift: P(both papers have term t | same author) / P(both have t | random pair). Each
    author's pairs weigh 1 / (n − 1), so an author counts in proportion to their papers, not their squared."""
    binary = cat.counts.copy()
    binary.data[:] = 1.0
    n_papers = binary.shape[0]
    df = np.bincount(binary.indices, minlength=H).astype(np.float64)
    sizes = np.array([len(g) for g in cat.groups], dtype=np.float64)
    owner = sparse.csr_matrix(
        (np.ones(int(sizes.sum()), np.float32), (np.repeat(np.arange(len(cat.groups)), sizes.astype(int)),
         np.concatenate(cat.groups))), shape=(len(cat.groups), n_papers),
    )  # fmt: skip
    per_author = (owner @ binary).tocsr()
    rows = np.repeat(np.arange(per_author.shape[0]), np.diff(per_author.indptr))
    c = per_author.data.astype(np.float64)
    shared = np.bincount(per_author.indices, weights=c * (c - 1) / 2 / (sizes[rows] - 1), minlength=H)
    same_pairs = float((sizes / 2).sum())
    random_share = df * (df - 1) / (n_papers * (n_papers - 1))
    return ((shared + alpha) / (same_pairs * random_share + alpha)).astype(np.float32)


def train_projection(
    cat: Catalogue, vectors: dict[str, np.ndarray], dim: int = 384, epochs: int = 8, batch: int = 1024,
    tau: float = 0.05, decay: float = 0.0, seed: int = 0, lr: float = 1e-3, clusters: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """(d, dim) W: same-author papers' bulk vectors closer after x @ W (in-batch InfoNCE, both directions)."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    x = np.stack([vectors[i] for i in cat.ids]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    xt = torch.from_numpy(x)
    d = x.shape[1]
    init = torch.eye(d)[:, :dim] if dim <= d else torch.randn(d, dim) / d**0.5
    w = torch.nn.Parameter(init.clone())
    opt = torch.optim.Adam([w], lr=lr)

    def batch_loss(anchors: np.ndarray, positives: np.ndarray) -> torch.Tensor:
        q = torch.nn.functional.normalize(xt[anchors] @ w, dim=1)
        k = torch.nn.functional.normalize(xt[positives] @ w, dim=1)
        loss = info_nce(q @ k.T / tau)
        return loss + decay * ((w - init) ** 2).sum() if decay else loss

    train_contrastive(cat, epochs, batch, random.Random(seed), clusters, opt, batch_loss, "projection")
    return w.detach().numpy()


def train_term_weights(
    cat: Catalogue, epochs: int = 3, batch: int = 256, tau: float = 0.05, decay: float = 1e-4, seed: int = 0,
    lr: float = 0.05, idf_power: float = 2.0, clusters: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """(H,) exp(θ): a per-term factor on the IDF^p-weighted sublinear TF, trained so that a paper's cosine to
    another paper of the same author beats the batch's other papers (InfoNCE); θ decays towards 0."""
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    counts = cat.counts
    idf = keywords.inverse_document_frequency(counts) ** idf_power
    base = counts.copy()
    base.data = ((1.0 + np.log(base.data)) * idf[base.indices]).astype(np.float32)
    theta = torch.zeros(H, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=lr)
    rng = random.Random(seed)

    def dense(rows: np.ndarray, columns: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        part = base[rows]
        local = np.searchsorted(columns, part.indices)
        r = np.repeat(np.arange(len(rows)), np.diff(part.indptr))
        return torch.from_numpy(r), torch.from_numpy(local), torch.from_numpy(part.data)  # type: ignore[return-value]

    def batch_loss(a: np.ndarray, p: np.ndarray) -> torch.Tensor:
        columns = np.unique(np.concatenate([base[a].indices, base[p].indices]))
        cols = torch.from_numpy(columns.astype(np.int64))
        weight = torch.exp(theta[cols])
        mats = []
        for rows in (a, p):
            r, c, v = dense(rows, columns)  # type: ignore[misc]
            m = torch.zeros(len(rows), len(columns))
            m[r, c] = v
            mats.append(torch.nn.functional.normalize(m * weight, dim=1))
        return info_nce(mats[0] @ mats[1].T / tau) + decay * (theta[cols] ** 2).sum()

    train_contrastive(cat, epochs, batch, rng, clusters, opt, batch_loss, "term weights")
    return torch.exp(theta).detach().numpy().astype(np.float32)


def train_contrastive(cat: Catalogue, epochs: int, batch: int, rng: random.Random, clusters: np.ndarray | None,
                      optimiser, batch_loss, label: str) -> None:  # fmt: skip
    """The loop every variant here shares: per epoch, the catalogue's author pairs in batches, each batch's
    `batch_loss(anchor rows, positive rows)` (a torch scalar) minimised by `optimiser`."""
    started = time.perf_counter()
    for epoch in range(epochs):
        anchors, positives = cat.pairs(rng, clusters)
        total = 0.0
        for s in range(0, len(anchors) - batch + 1, batch):
            loss = batch_loss(anchors[s : s + batch], positives[s : s + batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * batch
        print(f"  {label} epoch {epoch}: loss {total / len(anchors):.3f} ({time.perf_counter() - started:.0f} s)",
              flush=True)  # fmt: skip


def held_out_authors(readers: Sequence[corpus.Reader]) -> set[str]:
    return {r.name for r in readers}


class TermBag:
    """A learned dense embedding of the hashed terms (words and word pairs with ≥ `min_df` 2025 papers): a
    paper is the unit-length sum of its terms' vectors weighted by sublinear TF × IDF. Initialised at random
    (a random projection of the TF-IDF vector, so cosines start near the TF-IDF ones), then trained with
    in-batch InfoNCE on same-author pairs."""

    def __init__(self, cat: Catalogue, dim: int = 128, min_df: int = 2, seed: int = 0, lsa: bool = False) -> None:
        import torch

        counts = cat.counts
        df = np.bincount(counts.indices, minlength=H)
        self.vocab = np.flatnonzero(df >= min_df)
        self.idf = (np.log((1.0 + counts.shape[0]) / (1.0 + df[self.vocab])) + 1.0).astype(np.float32)
        torch.manual_seed(seed)
        self.table = torch.nn.EmbeddingBag(len(self.vocab), dim, mode="sum", sparse=True)
        torch.nn.init.normal_(self.table.weight, std=dim**-0.5)
        self.train_rows = self.weighted(counts)
        if lsa:  # start from latent semantic analysis of the 2025 papers (term loadings of a truncated SVD)
            from sklearn.decomposition import TruncatedSVD
            from sklearn.preprocessing import normalize

            svd = TruncatedSVD(dim, algorithm="randomized", n_iter=4, random_state=seed)
            svd.fit(normalize(self.train_rows))
            with torch.no_grad():
                self.table.weight.copy_(torch.from_numpy(svd.components_.T.astype(np.float32)))

    def save(self, path: Path) -> None:
        np.savez(path, vocab=self.vocab, idf=self.idf, table=self.table.weight.detach().numpy())

    def load(self, path: Path) -> None:
        import torch

        with np.load(path) as data:
            assert np.array_equal(data["vocab"], self.vocab)
            with torch.no_grad():
                self.table.weight.copy_(torch.from_numpy(data["table"]))

    def weighted(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        part = counts[:, self.vocab].tocsr()
        part.data = ((1.0 + np.log(part.data)) * self.idf[part.indices]).astype(np.float32)
        return part

    def forward(self, rows: sparse.csr_matrix):  # type: ignore[no-untyped-def]
        import torch

        out = self.table(
            torch.from_numpy(rows.indices.astype(np.int64)), torch.from_numpy(rows.indptr[:-1].astype(np.int64)),
            per_sample_weights=torch.from_numpy(rows.data),
        )  # fmt: skip
        return torch.nn.functional.normalize(out, dim=1)

    def embed(self, counts: sparse.csr_matrix) -> np.ndarray:
        rows = self.weighted(counts)
        y = np.asarray(rows @ self.table.weight.detach().numpy())
        return (y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-9)).astype(np.float32)

    def train(self, cat: Catalogue, epochs: int = 10, batch: int = 1024, tau: float = 0.05, lr: float = 3e-3,
              seed: int = 0, clusters: np.ndarray | None = None) -> None:  # fmt: skip
        import torch

        torch.set_num_threads(2)
        opt = torch.optim.SparseAdam(list(self.table.parameters()), lr=lr)

        def batch_loss(anchors: np.ndarray, positives: np.ndarray) -> torch.Tensor:
            return info_nce(self.forward(self.train_rows[anchors]) @ self.forward(self.train_rows[positives]).T / tau)

        train_contrastive(cat, epochs, batch, random.Random(seed), clusters, opt, batch_loss, "term bag")
