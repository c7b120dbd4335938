"""A diverse pick for a block of readers at once: maximal marginal relevance, vectorised over readers."""

from __future__ import annotations

import numpy as np


def diverse_pick(
    scores: np.ndarray, similarity: np.ndarray, limit: int, diversity: np.ndarray, pool: int, near_copy: float
) -> list[list[int]]:
    """Per reader (row of `scores`, -inf = never), up to `limit` columns: greedily the best relevance
    (scaled to [0, 1] over the reader's `pool × limit` best) minus `diversity` × how far the closest
    similarity to what is already picked exceeds `near_copy` (so a near-copy costs the full `diversity`,
    a merely related paper nothing). A row with diversity 0 is its plain score order."""
    readers, size = scores.shape
    pool_size = min(size, max(limit * pool, limit))
    if pool_size < size:
        best = np.argpartition(-scores, pool_size - 1, axis=1)[:, :pool_size]
    else:
        best = np.broadcast_to(np.arange(size), (readers, size)).copy()
    order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
    best = np.take_along_axis(best, order, axis=1)
    relevance = np.take_along_axis(scores, best, axis=1).astype(np.float64)
    valid = np.isfinite(relevance)
    high = np.where(valid, relevance, -np.inf).max(1, keepdims=True)
    low = np.where(valid, relevance, np.inf).min(1, keepdims=True)
    spread = np.where(np.isfinite(high - low) & (high > low), high - low, 1.0)
    relevance = np.where(valid, (relevance - np.where(np.isfinite(low), low, 0.0)) / spread, -np.inf)
    steps = min(limit, pool_size)
    rows = np.arange(readers)
    picks = np.full((readers, steps), -1, dtype=np.int64)
    diverse = diversity > 0
    similar = similarity[best[:, :, None], best[:, None, :]] if diverse.any() else None
    closest = np.zeros((readers, pool_size))
    taken = np.zeros((readers, pool_size), dtype=bool)
    penalty_scale = diversity[:, None] / (1.0 - near_copy)
    for step in range(steps):
        marginal = relevance - penalty_scale * np.maximum(closest - near_copy, 0.0)
        marginal[taken] = -np.inf
        pick = np.argmax(marginal, axis=1)
        ok = np.isfinite(marginal[rows, pick])
        picks[:, step] = np.where(ok, best[rows, pick], -1)
        taken[rows, pick] = True
        if similar is not None:
            closest = np.maximum(closest, similar[rows, pick])
    return [[int(c) for c in row if c >= 0] for row in picks]
