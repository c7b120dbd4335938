"""Fusion of ranked lists: pure functions from rankings (and scores) to one ranking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class FusionSettings:
    """How keyword and semantic results are mixed. Tuned on SciFact *training* queries (bench/relevance.py)."""

    method: str = "rrf"  # rrf: reciprocal rank fusion; convex: weighted sum of normalised scores
    rrf_k: float = 60.0
    semantic_weight: float = 0.5  # share of the semantic list (the keyword list has the rest)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], weights: Sequence[float] | None = None, k: float = 60.0
) -> list[tuple[str, float]]:
    """Σ weight / (k + rank) over the lists each item appears in (rank from 1), best first; ties by first seen."""
    weights = weights if weights is not None else [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: position for position, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))


def normalise_scores(scores: Mapping[str, float]) -> dict[str, float]:
    """Min-max to [0, 1]; a list of equal scores maps to 1."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low <= 1e-12:
        return {item: 1.0 for item in scores}
    return {item: (value - low) / (high - low) for item, value in scores.items()}


def convex_fusion(
    keyword: Mapping[str, float], semantic: Mapping[str, float], semantic_weight: float = 0.5
) -> list[tuple[str, float]]:
    """(1-w)·norm(bm25) + w·norm(cosine); an item missing from a list scores 0 there."""
    keyword_norm, semantic_norm = normalise_scores(keyword), normalise_scores(semantic)
    items = list(dict.fromkeys([*keyword, *semantic]))
    fused = {
        item: (1 - semantic_weight) * keyword_norm.get(item, 0.0) + semantic_weight * semantic_norm.get(item, 0.0)
        for item in items
    }
    order = {item: position for position, item in enumerate(items)}
    return sorted(fused.items(), key=lambda pair: (-pair[1], order[pair[0]]))


def fuse(
    keyword: Sequence[tuple[str, float]], semantic: Sequence[tuple[str, float]], settings: FusionSettings
) -> list[tuple[str, float]]:
    """One ranking from the keyword hits and the semantic hits (each (id, score), best first)."""
    if not semantic:
        return list(keyword)
    if not keyword:
        return list(semantic)
    if settings.method == "convex":
        return convex_fusion(dict(keyword), dict(semantic), settings.semantic_weight)
    weights = (2 * (1 - settings.semantic_weight), 2 * settings.semantic_weight)
    return reciprocal_rank_fusion(
        [[item for item, _ in keyword], [item for item, _ in semantic]], weights, settings.rrf_k
    )
