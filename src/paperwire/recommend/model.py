"""The "For you" ranking model: fit a reader from their signals, rank a period's papers for many readers at once.

A reader's model keeps what ranking needs and nothing global: their kept papers' vectors and hashed term
counts (keyword IDF comes from the period's papers at rank time), their 👎 papers likewise, the
categories they read, followed authors and topics. `rank_period` scores all readers × the period's papers
as matrix products in blocks of readers (channels: nearest kept paper and centroid, in vector and keyword
space; categories; a push away from 👎 papers), z-scores each channel per reader, adds followed authors
and topics, then picks a diverse list (maximal marginal relevance) and explains each pick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from paperwire.recommend import keywords, packing
from paperwire.recommend.learned import TermEmbedding
from paperwire.recommend.period import Candidates
from paperwire.recommend.selection import Weights, rank_block

FORMAT_VERSION = 1


@dataclass(frozen=True)
class PaperFeatures:
    id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    vector: np.ndarray | None  # best stored embedding (MiniLM, else bulk), float32 unit norm, or None
    # The bulk (static) embedding where one is stored: ranking prefers it to `vector` (on the benchmark's dev
    # readers its lexical smoothing complements the keyword channels better than MiniLM's; see
    # docs/recommendations-benchmark.md). None: `vector` is used.
    bulk_vector: np.ndarray | None = None

    @property
    def ranking_vector(self) -> np.ndarray | None:
        return self.bulk_vector if self.bulk_vector is not None else self.vector


@dataclass(frozen=True)
class ReaderSignals:
    positives: tuple[PaperFeatures, ...]  # library, saves, collection members, upvotes
    negatives: tuple[PaperFeatures, ...]  # "not interested"
    followed_authors: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()  # digest topics/keywords (cold start)


@dataclass(frozen=True)
class Suggestion:
    paper_id: str
    score: float
    reason: str


@dataclass(frozen=True, eq=False)
class PaperSet:
    """Papers of one kind (kept or rejected) as the model stores them."""

    ids: tuple[str, ...]
    titles: tuple[str, ...]
    vectors: np.ndarray  # (n, d) float32; a zero row where the paper had no vector
    terms: sparse.csr_matrix  # (n, keywords.DIMENSIONS) term counts
    categories: tuple[tuple[str, ...], ...] = ()

    def __len__(self) -> int:
        return len(self.ids)


def paper_set(papers: Sequence[PaperFeatures]) -> PaperSet:
    unique = list({p.id: p for p in papers}.values())
    chosen = [p.ranking_vector for p in unique]
    dims = [int(v.shape[-1]) for v in chosen if v is not None]
    dim = max(set(dims), key=dims.count) if dims else 0
    vectors = np.zeros((len(unique), dim), dtype=np.float32)
    for row, vector in enumerate(chosen):
        if vector is not None and vector.shape[-1] == dim:
            norm = float(np.linalg.norm(vector))
            vectors[row] = vector / norm if norm > 0 else 0.0
    return PaperSet(
        ids=tuple(p.id for p in unique), titles=tuple(" ".join(p.title.split()) for p in unique), vectors=vectors,
        terms=keywords.count_matrix([f"{p.title} {p.abstract}" for p in unique]),
        categories=tuple(tuple(p.categories) for p in unique),
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class ReaderModel:
    positives: PaperSet
    negatives: PaperSet
    followed_authors: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    category_weights: dict[str, float] = field(default_factory=dict)

    @property
    def excluded(self) -> frozenset[str]:
        return frozenset(self.positives.ids) | frozenset(self.negatives.ids)

    def to_bytes(self) -> bytes:
        """Compact bytes (packing.py: a JSON header + raw arrays, vectors in float16, zlib); no pickle."""
        header = {
            "format": FORMAT_VERSION, "followed_authors": list(self.followed_authors), "topics": list(self.topics),
            "category_weights": self.category_weights,
            "positives": {"ids": list(self.positives.ids), "titles": list(self.positives.titles)},
            "negatives": {"ids": list(self.negatives.ids), "titles": list(self.negatives.titles)},
        }  # fmt: skip
        arrays: dict[str, np.ndarray] = {}
        for name, papers in (("positives", self.positives), ("negatives", self.negatives)):
            terms = papers.terms
            arrays[f"{name}_vectors"] = papers.vectors.astype(np.float16)
            arrays[f"{name}_indptr"] = terms.indptr.astype(np.int32)
            arrays[f"{name}_indices"] = terms.indices.astype(np.int32)
            arrays[f"{name}_counts"] = np.minimum(terms.data, 65535).astype(np.uint16)
        return packing.pack(header, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> ReaderModel:
        """The model `to_bytes` wrote; `packing.ModelFormatError` (a ValueError) for anything else."""
        header, arrays = packing.unpack(data, FORMAT_VERSION, "reader model")
        try:
            sets = {}
            for name in ("positives", "negatives"):
                ids = tuple(header[name]["ids"])
                terms = sparse.csr_matrix(
                    (arrays[f"{name}_counts"].astype(np.float32), arrays[f"{name}_indices"], arrays[f"{name}_indptr"]),
                    shape=(len(ids), keywords.DIMENSIONS),
                )  # fmt: skip
                vectors = arrays[f"{name}_vectors"].astype(np.float32)
                sets[name] = PaperSet(ids, tuple(header[name]["titles"]), vectors, terms)
            return cls(
                sets["positives"], sets["negatives"], tuple(header["followed_authors"]), tuple(header["topics"]),
                {str(k): float(v) for k, v in header["category_weights"].items()},
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as error:
            raise packing.ModelFormatError(f"damaged reader model: {error}") from error


def fit_reader(signals: ReaderSignals) -> ReaderModel:
    """The reader's model: cheap (a tokenisation of their papers), so refit whenever their feedback changes."""
    rejected = {p.id for p in signals.negatives}
    positives = paper_set([p for p in signals.positives if p.id not in rejected])
    negatives = paper_set(signals.negatives)
    weights: dict[str, float] = {}
    for categories in positives.categories:
        for category in categories:
            weights[category] = weights.get(category, 0.0) + 1.0 / len(categories)
    total = sum(weights.values())
    return ReaderModel(
        positives, negatives,
        followed_authors=tuple(dict.fromkeys(a.strip() for a in signals.followed_authors if a.strip())),
        topics=tuple(dict.fromkeys(t.strip() for t in signals.topics if t.strip())),
        category_weights={c: w / total for c, w in sorted(weights.items())} if total else {},
    )  # fmt: skip


def prepare_period(
    candidates: Sequence[PaperFeatures], trending: Sequence[str] = (), weights: Weights | None = None,
    embedding: TermEmbedding | None = None,
) -> Candidates:  # fmt: skip
    """The period's papers tokenised and stacked once; pass it to `rank_period` instead of the papers to rank
    several batches of readers (or one refitted reader) against the same period without redoing that work.
    `embedding`: the catalogue's learned term embedding (learned.py), which adds two channels."""
    return (weights or Weights()).period(candidates, trending, embedding)


def rank_period(
    models: Sequence[ReaderModel], candidates: Sequence[PaperFeatures] | Candidates, *, limit: int,
    trending: Sequence[str] = (), weights: Weights | None = None, block: int = 256,
    embedding: TermEmbedding | None = None,
) -> list[list[Suggestion]]:  # fmt: skip
    """Vectorised: all readers × the period's papers as matrix products (in blocks of `block` readers);
    diverse (MMR); each Suggestion with a checkable one-line reason; a reader's own positives/negatives
    never suggested; cold start: topics, then the trending order. `candidates` may be `prepare_period`'s
    result (then `trending` and `embedding` are the ones given there)."""
    if not models:
        return []
    chosen = weights or Weights()
    period = candidates if isinstance(candidates, Candidates) else chosen.period(candidates, trending, embedding)
    if not period.size or limit <= 0:
        return [[] for _ in models]
    out: list[list[Suggestion]] = []
    for start in range(0, len(models), block):
        for picks in rank_block(models[start : start + block], period, limit, chosen):
            out.append([Suggestion(period.ids[i], score, reason) for i, score, reason in picks])
    return out
