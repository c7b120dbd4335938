"""The period's papers in the forms scoring needs (vectors, keyword TF-IDF, categories, authors, trending),
built once per ranking run and shared by every reader of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from paperwire.recommend import keywords

if TYPE_CHECKING:
    from paperwire.recommend.learned import TermEmbedding
    from paperwire.recommend.model import PaperFeatures


@dataclass(eq=False)
class Candidates:
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
    embedding: TermEmbedding | None = None  # the catalogue's learned term embedding (learned.py), if trained
    learned: np.ndarray | None = None  # (N, d) the period's papers in it
    _terms_t: sparse.csr_matrix | None = None
    _topics: dict[str, np.ndarray] = field(default_factory=dict)
    _words: list[frozenset[str]] | None = None
    _pairs: tuple[np.ndarray, np.ndarray] | None = None
    _similarity: np.ndarray | None = None
    _hubness: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def build(
        cls, papers: Sequence[PaperFeatures], trending: Sequence[str], max_df: float = 1.0, min_df: int = 1,
        idf_power: float = 1.0, embedding: TermEmbedding | None = None,
    ) -> Candidates:  # fmt: skip
        ids = [p.id for p in papers]
        chosen = [p.ranking_vector for p in papers]
        dims = [int(v.shape[-1]) for v in chosen if v is not None]
        dim = max(set(dims), key=dims.count) if dims else 0
        vectors = np.zeros((len(papers), dim), dtype=np.float32)
        has_vector = np.zeros(len(papers), dtype=bool)
        for row, vector in enumerate(chosen):
            if vector is not None and vector.shape[-1] == dim:
                norm = float(np.linalg.norm(vector))
                vectors[row], has_vector[row] = (vector / norm if norm > 0 else 0.0), norm > 0
        counts = keywords.count_matrix([f"{p.title} {p.abstract}" for p in papers])
        idf = keywords.inverse_document_frequency(counts, max_df, min_df) ** idf_power
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
            {paper_id: i for i, paper_id in enumerate(ids)}, embedding,
            embedding.embed(counts) if embedding is not None else None,
        )  # fmt: skip

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def terms_transposed(self) -> sparse.csr_matrix:
        if self._terms_t is None:
            self._terms_t = sparse.csr_matrix(self.terms.T)
        return self._terms_t

    def topic_matches(self, topic: str) -> np.ndarray:
        """(N,) bool: papers whose title or abstract has every word of `topic`."""
        if topic not in self._topics:
            if self._words is None:
                self._words = [frozenset(keywords.words(f"{p.title} {p.abstract}")) for p in self.papers]
            wanted = set(keywords.words(topic))
            self._topics[topic] = np.array([bool(wanted) and wanted <= words for words in self._words], dtype=bool)
        return self._topics[topic]

    def pair_similarities(self) -> tuple[np.ndarray, np.ndarray]:
        """(vector, keyword) (N, N) cosine similarities between the period's papers."""
        if self._pairs is None:
            keyword = (self.terms @ self.terms_transposed).toarray().astype(np.float32)
            self._pairs = ((self.vectors @ self.vectors.T).astype(np.float32), keyword)
        return self._pairs

    def similarity(self) -> np.ndarray:
        """(N, N) paper-to-paper similarity for diversity: vectors where both have one, else keywords."""
        if self._similarity is None:
            vector, keyword = self.pair_similarities()
            self._similarity = np.where(np.outer(self.has_vector, self.has_vector), vector, keyword)
        return self._similarity

    def hubness(self, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """(vector, keyword): each paper's mean similarity to its k nearest other papers of the period;
        zeros for a period under 5 × k papers (there the k nearest are most of it: a centroid, not a hub)."""
        if self._hubness is None and self.size < 5 * k:
            self._hubness = (np.zeros(self.size, dtype=np.float32), np.zeros(self.size, dtype=np.float32))
        if self._hubness is None:
            out = []
            for pairs in self.pair_similarities():
                matrix = pairs.copy()
                np.fill_diagonal(matrix, -np.inf)
                top = min(k, self.size - 1)
                if top < 1:
                    out.append(np.zeros(self.size, dtype=np.float32))
                    continue
                nearest = np.partition(matrix, matrix.shape[1] - top, axis=1)[:, -top:]
                out.append(nearest.mean(1).astype(np.float32))
            self._hubness = (out[0], out[1])
        return self._hubness
