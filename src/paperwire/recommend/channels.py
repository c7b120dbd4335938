"""Channel scores: every kept paper of a block of readers against the period's papers as two matrix
products (vectors, keyword TF-IDF), reduced per reader (nearest, k nearest, centroid), z-scored per reader."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from paperwire.recommend import keywords
from paperwire.recommend.period import Candidates

if TYPE_CHECKING:
    from paperwire.recommend.model import PaperSet, ReaderModel

NAMES = (
    "vector_nearest", "vector_top", "vector_centroid", "keyword_nearest", "keyword_top", "keyword_centroid",
    "category", "vector_hub", "keyword_hub", "learned_nearest", "learned_centroid",
)  # fmt: skip
LEARNED = ("learned_nearest", "learned_centroid")  # only where the period carries a learned term embedding
TOP = 3  # "k nearest" channels: the mean of the k closest kept papers


def zscore(matrix: np.ndarray) -> np.ndarray:
    """Each row centred and scaled over the period's papers; a constant row becomes zeros."""
    std = matrix.std(axis=1, keepdims=True)
    return (matrix - matrix.mean(axis=1, keepdims=True)) / np.where(std > 1e-9, std, 1.0)


def set_similarities(sets: Sequence[PaperSet], period: Candidates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vector sims, keyword sims, segment starts) of every paper of every set against the period's papers."""
    starts = np.cumsum([0] + [len(s) for s in sets])[:-1]
    rows = int(sum(len(s) for s in sets))
    dim = period.vectors.shape[1]
    if dim:
        stacked = [s.vectors if s.vectors.shape[1] == dim else np.zeros((len(s), dim), np.float32) for s in sets]
        vector_sims = (np.concatenate(stacked) @ period.vectors.T).astype(np.float32)
    else:
        vector_sims = np.zeros((rows, period.size), dtype=np.float32)
    terms = keywords.tfidf(keywords.stack_rows(s.terms for s in sets), period.idf)
    keyword_sims = (terms @ period.terms_transposed).toarray().astype(np.float32)
    return vector_sims, keyword_sims, starts


def segment_max(matrix: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.maximum.reduceat(matrix, starts, axis=0)


def segment_mean(matrix: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    return np.add.reduceat(matrix, starts, axis=0) / sizes[:, None]


def segment_top_mean(matrix: np.ndarray, starts: np.ndarray, sizes: np.ndarray, k: int) -> np.ndarray:
    """Per segment of rows: the mean of the k largest values in each column (the k nearest kept papers)."""
    out = np.empty((len(starts), matrix.shape[1]), dtype=np.float32)
    for row, (start, size) in enumerate(zip(starts, sizes.astype(int))):
        part = matrix[start : start + size]
        out[row] = part.mean(0) if size <= k else np.partition(part, size - k, axis=0)[size - k :].mean(0)
    return out


def channels(models: Sequence[ReaderModel], period: Candidates, wanted: Sequence[str] = NAMES) -> dict[str, np.ndarray]:
    """Raw channel scores (readers with kept papers × the period's papers; the learned ones only where the
    period has a term embedding), plus "_similarities" (kept paper ×
    period paper, vector + keyword: for reasons) and "_starts" (each reader's first row in it)."""
    sets = [m.positives for m in models]
    vector_sims, keyword_sims, starts = set_similarities(sets, period)
    sizes = np.array([len(s) for s in sets], dtype=np.float32)
    out: dict[str, np.ndarray] = {}
    for name, sims in (("vector", vector_sims), ("keyword", keyword_sims)):
        if f"{name}_nearest" in wanted:
            out[f"{name}_nearest"] = segment_max(sims, starts)
        if f"{name}_top" in wanted:
            out[f"{name}_top"] = segment_top_mean(sims, starts, sizes, TOP)
        if f"{name}_centroid" in wanted:
            out[f"{name}_centroid"] = segment_mean(sims, starts, sizes)
    if period.embedding is not None and period.learned is not None and any(n in wanted for n in LEARNED):
        kept = period.embedding.embed(keywords.stack_rows(s.terms for s in sets))
        learned_sims = kept @ period.learned.T
        out["learned_nearest"] = segment_max(learned_sims, starts)
        out["learned_centroid"] = segment_mean(learned_sims, starts, sizes)
    if "category" in wanted:
        categories = np.zeros((len(models), len(period.categories)), dtype=np.float32)
        for row, model in enumerate(models):
            for category, weight in model.category_weights.items():
                if category in period.categories:
                    categories[row, period.categories[category]] = weight
        out["category"] = categories @ period.category_incidence
    if "vector_hub" in wanted or "keyword_hub" in wanted:
        vector_hub, keyword_hub = period.hubness()
        out["vector_hub"] = -np.broadcast_to(vector_hub, (len(models), period.size))
        out["keyword_hub"] = -np.broadcast_to(keyword_hub, (len(models), period.size))
    out["_similarities"] = vector_sims + keyword_sims
    out["_starts"] = starts
    return out
