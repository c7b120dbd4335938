"""A term embedding learned from the catalogue's own authors: what marks "the same line of research".

Papers that share an author are the supervision a "For you" ranking needs (the benchmark's targets are
an author's next papers). `train_term_embedding` starts from latent semantic analysis of the catalogue's
hashed words and word pairs (keywords.py; terms in ≥ `min_df` papers), then trains the term vectors with
an in-batch contrastive loss (InfoNCE) so that a paper's vector is closer to another paper of one of its
authors than to the batch's other papers; batches are drawn topic by topic (k-means clusters), so the
other papers are hard negatives. A paper's vector is the unit-length sum of its terms' vectors weighted by
sublinear TF × the catalogue's IDF. Ranking adds two channels from it (nearest kept paper, centroid).

Training needs torch (the `search` extra) and takes minutes on a CPU; using the result needs numpy only.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from paperwire.recommend import keywords, packing

if TYPE_CHECKING:
    import torch

FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class TermEmbedding:
    vocabulary: np.ndarray  # (V,) int64 sorted hashed term ids (keywords.term_ids)
    idf: np.ndarray  # (V,) float32, the training catalogue's IDF of each
    table: np.ndarray  # (V, d) float32 term vectors
    papers: int = 0  # how many catalogue papers it was trained on (for the operator)

    @property
    def dimensions(self) -> int:
        return int(self.table.shape[1])

    @cached_property
    def position(self) -> np.ndarray:
        """(keywords.DIMENSIONS,) each hashed term's row in the table, −1 for terms it does not know."""
        out = np.full(keywords.DIMENSIONS, -1, dtype=np.int64)
        out[self.vocabulary] = np.arange(len(self.vocabulary))
        return out

    def embed(self, counts: sparse.csr_matrix) -> np.ndarray:
        """(n, d) unit rows for term-count rows (keywords.count_matrix); a row without known terms is zero."""
        found = self.position[counts.indices]
        known = found >= 0
        rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))[known]
        weights = (1.0 + np.log(np.maximum(counts.data[known], 1.0))) * self.idf[found[known]]
        shape = (counts.shape[0], len(self.idf))
        part = sparse.csr_matrix((weights.astype(np.float32), (rows, found[known])), shape=shape)
        vectors = np.asarray(part @ self.table, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    def to_bytes(self) -> bytes:
        """packing.py's format (JSON header + raw arrays, zlib); the table in float16."""
        header = {"format": FORMAT_VERSION, "papers": self.papers}
        arrays: dict[str, np.ndarray] = {
            "vocabulary": self.vocabulary.astype(np.int32), "idf": self.idf.astype(np.float32),
            "table": self.table.astype(np.float16),
        }  # fmt: skip
        return packing.pack(header, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> TermEmbedding:
        header, arrays = packing.unpack(data, FORMAT_VERSION, "term embedding")
        try:
            vocabulary = arrays["vocabulary"].astype(np.int64)
            table = arrays["table"].astype(np.float32)
            idf = arrays["idf"].astype(np.float32)
        except KeyError as error:
            raise packing.ModelFormatError(f"damaged term embedding: {error}") from error
        if table.ndim != 2 or len(table) != len(vocabulary) or len(idf) != len(vocabulary):
            raise packing.ModelFormatError("damaged term embedding: shapes do not match")
        return cls(vocabulary, idf, table, int(header.get("papers", 0)))


class AuthorPairs:
    """Catalogue papers grouped by author (groups of ≥ 2 papers); one positive per anchor paper per epoch."""

    def __init__(self, authors: Sequence[Sequence[str]]) -> None:
        by_author: dict[str, list[int]] = {}
        for row, names in enumerate(authors):
            for name in dict.fromkeys(n.strip() for n in names if n.strip()):
                by_author.setdefault(name, []).append(row)
        self.groups = [rows for rows in by_author.values() if len(rows) >= 2]
        self.groups_of: dict[int, list[int]] = {}
        for g, rows in enumerate(self.groups):
            for row in rows:
                self.groups_of.setdefault(row, []).append(g)
        self.anchors = np.array(sorted(self.groups_of), dtype=np.int64)

    def pairs(self, rng: random.Random, clusters: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        return sample_pairs(self.anchors, self.groups, self.groups_of, rng, clusters)


def sample_pairs(
    anchors: np.ndarray, groups: Sequence[Sequence[int]], groups_of: Mapping[int, Sequence[int]],
    rng: random.Random, clusters: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(anchor rows, positive rows): one positive per anchor paper, another paper of one of its authors (a random
    one). With `clusters` (a topic label per paper) the anchors come topic by topic, so a batch's other papers
    are hard negatives (same subject, other authors) rather than random ones."""
    order = anchors.copy()
    rng.shuffle(order)  # type: ignore[arg-type]
    if clusters is not None:
        count = int(clusters.max()) + 1
        rank = np.array(rng.sample(range(count), count))
        order = order[np.argsort(rank[clusters[order]], kind="stable")]
    positives = np.empty_like(order)
    for k, row in enumerate(order.tolist()):
        members = groups[rng.choice(groups_of[row])]
        other = row
        while other == row:
            other = rng.choice(members)
        positives[k] = other
    return order, positives


def unit_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(1)).ravel())
    return sparse.csr_matrix(sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix, dtype=np.float32)


def randomized_svd(
    matrix: sparse.csr_matrix, rank: int, iterations: int = 4, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(row coordinates (n, rank), components (rank, columns)) of a truncated SVD (Halko et al.)."""
    rng = np.random.default_rng(seed)
    width = min(rank + 10, min(matrix.shape))
    basis, _ = np.linalg.qr(matrix @ rng.standard_normal((matrix.shape[1], width)).astype(np.float32))
    for _ in range(iterations):
        basis, _ = np.linalg.qr(np.asarray(matrix.T @ basis))
        basis, _ = np.linalg.qr(np.asarray(matrix @ basis))
    small = np.asarray(matrix.T @ basis).T  # (width, columns)
    left, values, right = np.linalg.svd(small, full_matrices=False)
    rank = min(rank, width)
    return (basis @ left)[:, :rank] * values[:rank], right[:rank]


def spherical_kmeans(x: np.ndarray, clusters: int, iterations: int = 10, seed: int = 0) -> np.ndarray:
    """A cluster label per unit row (cosine k-means)."""
    rng = np.random.default_rng(seed)
    centres = x[rng.choice(len(x), size=min(clusters, len(x)), replace=False)]
    labels = np.zeros(len(x), dtype=np.int64)
    for _ in range(iterations):
        labels = np.argmax(x @ centres.T, axis=1)
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, x)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centres = np.where(norms > 0, sums / np.where(norms > 0, norms, 1.0), centres)
    return labels


def info_nce(logits: torch.Tensor) -> torch.Tensor:
    """The symmetric in-batch contrastive loss of a (batch, batch) similarity matrix already divided by the
    temperature: row i's positive is column i, every other column a negative, both ways."""
    import torch

    target = torch.arange(len(logits))
    return (torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target)) / 2


def train_term_embedding(
    texts: Sequence[str], authors: Sequence[Sequence[str]], *, vectors: np.ndarray | None = None,
    dimensions: int = 128, min_df: int = 3, epochs: int = 5, batch: int = 1024, temperature: float = 0.05,
    rate: float = 3e-3, seed: int = 0, log: Callable[[str], None] | None = None,
) -> TermEmbedding:  # fmt: skip
    """Train on catalogue papers (title + abstract) and their authors. `vectors` (one row per paper, e.g. the
    bulk embeddings) choose the topic clusters that batches are drawn from; without them, the LSA vectors."""
    import torch

    say = log or (lambda _: None)
    started = time.perf_counter()
    counts = keywords.count_matrix(list(texts))
    df = np.bincount(counts.indices, minlength=keywords.DIMENSIONS)
    vocabulary = np.flatnonzero(df >= min_df).astype(np.int64)
    idf = (np.log((1.0 + counts.shape[0]) / (1.0 + df[vocabulary])) + 1.0).astype(np.float32)
    rows = counts[:, vocabulary].tocsr()
    rows.data = ((1.0 + np.log(rows.data)) * idf[rows.indices]).astype(np.float32)
    lsa, components = randomized_svd(unit_rows(rows), dimensions, seed=seed)
    dimensions = components.shape[0]  # fewer on a catalogue smaller than the dimensions asked for
    say(f"LSA of {counts.shape[0]} papers × {len(vocabulary)} terms in {time.perf_counter() - started:.0f} s")
    pairs = AuthorPairs(authors)
    clusters = None
    if len(pairs.anchors) >= 2 * batch:
        basis = vectors if vectors is not None else lsa
        clusters = spherical_kmeans(basis / np.maximum(np.linalg.norm(basis, axis=1, keepdims=True), 1e-9),
                                    max(2, len(pairs.anchors) // batch), seed=seed)  # fmt: skip
    torch.manual_seed(seed)
    table = torch.nn.EmbeddingBag(len(vocabulary), dimensions, mode="sum", sparse=True)
    with torch.no_grad():
        table.weight.copy_(torch.from_numpy(np.ascontiguousarray(components.T, dtype=np.float32)))
    optimiser = torch.optim.SparseAdam(list(table.parameters()), lr=rate)
    rng = random.Random(seed)
    size = min(batch, len(pairs.anchors))

    def forward(chosen: np.ndarray) -> torch.Tensor:
        part = rows[chosen]
        out = table(
            torch.from_numpy(part.indices.astype(np.int64)), torch.from_numpy(part.indptr[:-1].astype(np.int64)),
            per_sample_weights=torch.from_numpy(part.data),
        )  # fmt: skip
        return torch.nn.functional.normalize(out, dim=1)

    for epoch in range(epochs if size >= 2 else 0):
        anchors, positives = pairs.pairs(rng, clusters)
        total = 0.0
        for start in range(0, len(anchors) - size + 1, size):
            q, p = forward(anchors[start : start + size]), forward(positives[start : start + size])
            loss = info_nce(q @ p.T / temperature)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(q)
        mean = total / max(1, len(anchors))
        say(f"epoch {epoch + 1}/{epochs}: loss {mean:.3f} ({time.perf_counter() - started:.0f} s)")
    return TermEmbedding(vocabulary, idf, table.weight.detach().numpy().copy(), counts.shape[0])
