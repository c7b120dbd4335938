"""Scoring a block of readers against a period's papers (matrix products), then a diverse, explained pick."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from paperwire.recommend import keywords

if TYPE_CHECKING:
    from paperwire.recommend.model import PaperFeatures, PaperSet, ReaderModel

Pick = tuple[int, float, str]  # candidate index, score, reason


@dataclass(frozen=True)
class Weights:
    """How the channels (each z-scored per reader over the period's papers) add up; chosen on the dev half
    of bench/recommend.py's readers."""

    vector_nearest: float = 1.0
    vector_centroid: float = 1.0
    keyword_nearest: float = 1.0
    keyword_centroid: float = 0.5
    category: float = 0.5
    negative: float = 2.0  # push away from papers like a 👎 one
    topic: float = 1.5  # per matched digest topic
    author: float = 4.0  # a followed author wrote it
    trending: float = 0.0  # for readers with a library (cold start always uses the trending order)
    diversity: float = 1.0  # MMR: relevance scaled to [0, 1] over the pool, minus this × how far the closest
    near_copy: float = 0.7  # similarity to an already picked paper exceeds this (scaled so 1.0 costs `diversity`)
    pool: int = 4  # MMR looks at pool × limit best papers


@dataclass(eq=False)
class Candidates:
    """The period's papers in the forms scoring needs, built once per ranking run."""

    ids: list[str]
    papers: Sequence[PaperFeatures]
    vectors: np.ndarray  # (N, d) float32, zero rows where missing
    has_vector: np.ndarray  # (N,) bool
    idf: np.ndarray
    terms: sparse.csr_matrix  # (N, H) unit TF-IDF rows
    categories: dict[str, int]
    category_incidence: np.ndarray  # (K, N) float32
    by_author: dict[str, list[int]]
    trending_bonus: np.ndarray  # (N,) 1 for the top trending paper → 0 for papers not trending
    index: dict[str, int] = field(default_factory=dict)
    _topics: dict[str, np.ndarray] = field(default_factory=dict)
    _words: list[frozenset[str]] | None = None
    _similarity: np.ndarray | None = None

    @classmethod
    def build(cls, papers: Sequence[PaperFeatures], trending: Sequence[str]) -> Candidates:
        ids = [p.id for p in papers]
        dims = [int(p.vector.shape[-1]) for p in papers if p.vector is not None]
        dim = max(set(dims), key=dims.count) if dims else 0
        vectors = np.zeros((len(papers), dim), dtype=np.float32)
        has_vector = np.zeros(len(papers), dtype=bool)
        for row, paper in enumerate(papers):
            if paper.vector is not None and paper.vector.shape[-1] == dim:
                vectors[row], has_vector[row] = paper.vector, True
        counts = keywords.count_matrix([f"{p.title} {p.abstract}" for p in papers])
        idf = keywords.inverse_document_frequency(counts)
        categories: dict[str, int] = {}
        for paper in papers:
            for category in paper.categories:
                categories.setdefault(category, len(categories))
        incidence = np.zeros((len(categories), len(papers)), dtype=np.float32)
        by_author: dict[str, list[int]] = {}
        for column, paper in enumerate(papers):
            for category in paper.categories:
                incidence[categories[category], column] = 1.0
            for author in dict.fromkeys(paper.authors):
                by_author.setdefault(author, []).append(column)
        position = {paper_id: rank for rank, paper_id in enumerate(dict.fromkeys(trending))}
        bonus = np.array([1.0 - position[i] / len(position) if i in position else 0.0 for i in ids], dtype=np.float32)
        return cls(
            ids, papers, vectors, has_vector, idf, keywords.tfidf(counts, idf), categories, incidence, by_author, bonus,
            {paper_id: i for i, paper_id in enumerate(ids)},
        )  # fmt: skip

    @property
    def size(self) -> int:
        return len(self.ids)

    def topic_matches(self, topic: str) -> np.ndarray:
        """(N,) bool: papers whose title or abstract has every word of `topic`."""
        if topic not in self._topics:
            if self._words is None:
                self._words = [frozenset(keywords.words(f"{p.title} {p.abstract}")) for p in self.papers]
            wanted = set(keywords.words(topic))
            self._topics[topic] = np.array([bool(wanted) and wanted <= words for words in self._words], dtype=bool)
        return self._topics[topic]

    def similarity(self) -> np.ndarray:
        """(N, N) paper-to-paper similarity for diversity: vectors where both have one, else keywords."""
        if self._similarity is None:
            keyword = np.asarray((self.terms @ self.terms.T).todense(), dtype=np.float32)
            both = np.outer(self.has_vector, self.has_vector)
            self._similarity = np.where(both, self.vectors @ self.vectors.T, keyword).astype(np.float32)
        return self._similarity


def zscore(matrix: np.ndarray) -> np.ndarray:
    """Each row centred and scaled over the period's papers; a constant row becomes zeros."""
    std = matrix.std(axis=1, keepdims=True)
    return (matrix - matrix.mean(axis=1, keepdims=True)) / np.where(std > 1e-9, std, 1.0)


def set_similarities(sets: Sequence[PaperSet], period: Candidates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vector sims, keyword sims, segment starts) of every paper of every set against the period's papers."""
    starts = np.cumsum([0] + [len(s) for s in sets])[:-1]
    dim = period.vectors.shape[1]
    stacked = [s.vectors if s.vectors.shape[1] == dim else np.zeros((len(s), dim), np.float32) for s in sets]
    vector_sims = np.concatenate(stacked) @ period.vectors.T if dim else np.zeros((int(sum(map(len, sets))), 0))
    if not dim:
        vector_sims = np.zeros((vector_sims.shape[0], period.size), dtype=np.float32)
    terms = keywords.tfidf(keywords.stack_rows(s.terms for s in sets), period.idf)
    keyword_sims = np.asarray((terms @ period.terms.T).todense(), dtype=np.float32)
    return vector_sims.astype(np.float32), keyword_sims, starts


def segment_max(matrix: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.maximum.reduceat(matrix, starts, axis=0)


def segment_mean(matrix: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    return np.add.reduceat(matrix, starts, axis=0) / sizes[:, None]


def rank_block(models: Sequence[ReaderModel], period: Candidates, limit: int, weights: Weights) -> list[list[Pick]]:
    """Score and pick for a block of readers: one matrix product per channel for the whole block."""
    scores = np.zeros((len(models), period.size), dtype=np.float32)
    learned = [r for r, m in enumerate(models) if len(m.positives)]
    nearest: dict[int, tuple[np.ndarray, int]] = {}  # reader → (its rows of kept-paper sims, first row)
    if learned:
        sets = [models[r].positives for r in learned]
        vector_sims, keyword_sims, starts = set_similarities(sets, period)
        sizes = np.array([len(s) for s in sets], dtype=np.float32)
        categories = np.zeros((len(learned), len(period.categories)), dtype=np.float32)
        for row, r in enumerate(learned):
            for category, weight in models[r].category_weights.items():
                if category in period.categories:
                    categories[row, period.categories[category]] = weight
        combined = (
            weights.vector_nearest * zscore(segment_max(vector_sims, starts))
            + weights.vector_centroid * zscore(segment_mean(vector_sims, starts, sizes))
            + weights.keyword_nearest * zscore(segment_max(keyword_sims, starts))
            + weights.keyword_centroid * zscore(segment_mean(keyword_sims, starts, sizes))
            + weights.category * zscore(categories @ period.category_incidence)
        )
        scores[learned] = combined + weights.trending * period.trending_bonus
        both = vector_sims + keyword_sims
        for row, r in enumerate(learned):
            nearest[r] = (both, int(starts[row]))
    rejecting = [r for r, m in enumerate(models) if len(m.negatives) and len(m.positives)]
    if rejecting and weights.negative:
        vector_sims, keyword_sims, starts = set_similarities([models[r].negatives for r in rejecting], period)
        push = zscore(segment_max(vector_sims + keyword_sims, starts))
        scores[rejecting] -= weights.negative * np.maximum(push, 0.0)
    picks: list[list[Pick]] = []
    for r, model in enumerate(models):
        row = scores[r]
        cold = not len(model.positives)
        if cold:  # topics first, then the trending order, then the period's own order
            row += period.trending_bonus + np.linspace(1e-3, 0.0, period.size, dtype=np.float32)
        topic_of: dict[int, str] = {}
        for topic in model.topics:
            matches = period.topic_matches(topic)
            row += (10.0 if cold else weights.topic) * matches
            for column in np.flatnonzero(matches):
                topic_of.setdefault(int(column), topic)
        author_of: dict[int, str] = {}
        for author in model.followed_authors:
            for column in period.by_author.get(author, ()):
                row[column] += 20.0 if cold else weights.author
                author_of.setdefault(column, author)
        for paper_id in model.excluded:
            column = period.index.get(paper_id)
            if column is not None:
                row[column] = -np.inf
        chosen = diverse_pick(row, period, limit, 0.0 if cold else weights.diversity, weights.pool, weights.near_copy)
        picks.append(
            [(c, float(row[c]), reason(model, period, c, nearest.get(r), author_of, topic_of)) for c in chosen]
        )
    return picks


def diverse_pick(
    row: np.ndarray, period: Candidates, limit: int, diversity: float, pool: int, near_copy: float
) -> list[int]:
    """Maximal marginal relevance over the best `pool × limit` papers (plain order when diversity is 0)."""
    valid = np.flatnonzero(np.isfinite(row))
    if not len(valid):
        return []
    size = min(len(valid), max(limit * pool, limit))
    best = valid[np.argpartition(-row[valid], size - 1)[:size]] if size < len(valid) else valid
    best = best[np.argsort(-row[best], kind="stable")]
    if diversity <= 0 or len(best) <= 1:
        return [int(c) for c in best[:limit]]
    similar = period.similarity()[np.ix_(best, best)]
    relevance = row[best].astype(np.float64)
    spread = relevance[0] - relevance[-1]
    relevance = (relevance - relevance[-1]) / (spread if spread > 0 else 1.0)
    closest = np.full(len(best), -np.inf)
    taken = np.zeros(len(best), dtype=bool)
    order: list[int] = []
    for _ in range(min(limit, len(best))):
        marginal = relevance - diversity * np.maximum(closest - near_copy, 0.0) / (1.0 - near_copy)
        marginal[taken] = -np.inf
        pick = int(np.argmax(marginal))
        taken[pick] = True
        order.append(int(best[pick]))
        closest = np.maximum(closest, similar[pick])
    return order


def reason(
    model: ReaderModel, period: Candidates, column: int, nearest: tuple[np.ndarray, int] | None,
    author_of: dict[int, str], topic_of: dict[int, str],
) -> str:  # fmt: skip
    """One line a reader can check: a followed author, the closest kept paper, a topic, or trending."""
    if column in author_of:
        return f"by an author you follow: {author_of[column]}"
    if nearest is not None:
        sims, first = nearest
        row = first + int(np.argmax(sims[first : first + len(model.positives), column]))
        return f"close to *{model.positives.titles[row - first]}* in your library"
    if column in topic_of:
        return f"matches your topic *{topic_of[column]}*"
    if period.trending_bonus[column] > 0:
        return "trending in this period"
    return "new in this period"
