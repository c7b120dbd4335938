"""Fusion of ranked lists: pure functions from rankings (and scores) to one ranking."""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
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


@dataclass(slots=True, frozen=True)
class SemanticList:
    """One model's semantic hits for a query, for fusion across models (see `best_vector_fusion`).

    `scores`: paper id → cosine under this model; `weight`: the model's semantic weight in the convex
    mix; `has_vector`: the papers this model has a vector for (its whole index, not only its hits).
    """

    scores: Mapping[str, float]
    weight: float
    has_vector: Container[str]
    depth: int | None = None  # normalise against the score at this rank (lower ones clip to 0); None: the last


def normalise_to_depth(scores: Mapping[str, float], depth: int | None) -> dict[str, float]:
    """Min-max to [0, 1] with the minimum taken at rank `depth` (1 = best); scores below it become 0."""
    if depth is None or depth >= len(scores):
        return normalise_scores(scores)
    ranked = sorted(scores.values(), reverse=True)
    low, high = ranked[max(depth, 1) - 1], ranked[0]
    if high - low <= 1e-12:
        return {item: 1.0 if value >= high else 0.0 for item, value in scores.items()}
    return {item: max(0.0, (value - low) / (high - low)) for item, value in scores.items()}


def best_vector_fusion(keyword: Mapping[str, float], semantic: Sequence[SemanticList]) -> list[tuple[str, float]]:
    """Convex fusion when papers carry vectors of different models (best model first in `semantic`).

    Cosines of different models live in different spaces, so each list is min-max-normalised on its
    own; a paper then takes its semantic score, and its weight, from the *first* model that has a
    vector for it (a bulk model's hit never counts for a paper the quality model has a vector for):
    (1-w)·norm(bm25) + w·norm(cosine), w being that model's weight. A paper no model has a vector for
    is mixed with the first model's weight (as plain `convex_fusion` does), scoring 0 on meaning.
    With one list this is exactly `convex_fusion`.
    """
    keyword_norm = normalise_scores(keyword)
    lists = [(normalise_to_depth(entry.scores, entry.depth), entry) for entry in semantic]
    items = list(dict.fromkeys([*keyword, *(item for entry in semantic for item in entry.scores)]))
    fused: dict[str, float] = {}
    for item in items:
        weight, meaning = (lists[0][1].weight, 0.0) if lists else (0.0, 0.0)
        for normalised, entry in lists:
            if item in entry.has_vector:
                weight, meaning = entry.weight, normalised.get(item, 0.0)
                break
        fused[item] = (1 - weight) * keyword_norm.get(item, 0.0) + weight * meaning
    order = {item: position for position, item in enumerate(items)}
    return sorted(fused.items(), key=lambda pair: (-pair[1], order[pair[0]]))


# ---- the settings per model ---------------------------------------------------------------------

# Tuned on SciFact training queries (bench/relevance.py); see docs/benchmarks.md.
FUSION = FusionSettings(method="convex", semantic_weight=0.45)
# The bulk (static) model is a weaker ranker: it gets a smaller share (SciFact hybrid nDCG@10 best at 0.3).
FUSION_BY_MODEL = {"static-minilm-v3": FusionSettings(method="convex", semantic_weight=0.3)}
# A paper is "close in meaning" at this cosine or more (below it MiniLM's neighbours of nonsense such as
# "xyzzyqwertyplugh" sit at 0.1-0.25); the bulk (static) model's cosines run lower. A model without a
# calibrated floor here keeps every neighbour.
SEMANTIC_FLOOR = {
    "all-MiniLM-L6-v2": 0.30,  # embedders.MINILM
    "static-minilm-v3": 0.25,
}


def fusion_for(model: str) -> FusionSettings:
    """The fusion settings tuned for a model's vectors (FUSION unless it has its own)."""
    return FUSION_BY_MODEL.get(model, FUSION)


def above_floor(hits: list[tuple[str, float]], model: str) -> list[tuple[str, float]]:
    """The meaning hits close enough to count as results (see SEMANTIC_FLOOR)."""
    floor = SEMANTIC_FLOOR.get(model, -1.0)
    return [(paper_id, score) for paper_id, score in hits if score >= floor]
