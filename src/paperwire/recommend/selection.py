"""Scoring a block of readers against a period's papers (matrix products), then a diverse, explained pick."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from paperwire.recommend.channels import LEARNED, NAMES, channels, segment_max, set_similarities, zscore
from paperwire.recommend.diversity import diverse_pick
from paperwire.recommend.period import Candidates

if TYPE_CHECKING:
    from paperwire.recommend.learned import TermEmbedding
    from paperwire.recommend.model import PaperFeatures, ReaderModel

Pick = tuple[int, float, str]  # candidate index, score, reason
COLD_TOPIC = 10.0  # cold start: a matched topic outweighs the whole trending order (which spans 0…1)
COLD_AUTHOR = 20.0


@dataclass(frozen=True)
class Weights:
    """How the channels (each z-scored per reader over the period's papers) add up; chosen on the dev half
    of bench/recommend.py's readers."""

    vector_nearest: float = 1.0  # the closest kept paper, in the embedding space
    vector_top: float = 0.0  # the mean of the 3 closest (off: it hurt on the 600-reader dev half)
    vector_centroid: float = 1.0  # the mean over all kept papers
    keyword_nearest: float = 1.0  # the same three in hashed TF-IDF space (IDF from the period's papers)
    keyword_top: float = 0.0
    keyword_centroid: float = 1.0
    category: float = 1.0  # the reader's share of each arXiv category
    vector_hub: float = 1.0  # papers close to many of the period's papers (generic ones) go down
    keyword_hub: float = 1.0
    learned_nearest: float = 1.0  # the closest kept paper in the term embedding learned from the catalogue's
    learned_centroid: float = 1.0  # authors (learned.py), and the mean; only where one was trained
    negative: float = 2.0  # push away from papers like a 👎 one
    topic: float = 1.5  # per matched digest topic
    author: float = 4.0  # a followed author wrote it
    trending: float = 0.0  # for readers with a library (cold start always uses the trending order)
    diversity: float = 1.0  # MMR: relevance scaled to [0, 1] over the pool, minus this for a near-copy
    near_copy: float = 0.7  # the similarity to an already picked paper above which the penalty starts
    pool: int = 3  # MMR looks at pool × limit best papers
    keyword_max_df: float = 1.0  # keyword terms in more than this share of the period's papers weigh nothing
    keyword_min_df: int = 1  # … and in fewer than this many
    keyword_idf_power: float = 2.0  # > 1 sharpens TF-IDF towards rare terms (an author's own method names)

    def period(
        self, papers: Sequence[PaperFeatures], trending: Sequence[str], embedding: TermEmbedding | None = None
    ) -> Candidates:
        return Candidates.build(
            papers, trending, self.keyword_max_df, self.keyword_min_df, self.keyword_idf_power, embedding
        )


def rank_block(models: Sequence[ReaderModel], period: Candidates, limit: int, weights: Weights) -> list[list[Pick]]:
    """Score and pick for a block of readers: one matrix product per channel for the whole block."""
    scores = np.zeros((len(models), period.size), dtype=np.float32)
    learned = [r for r, m in enumerate(models) if len(m.positives)]
    similarities, starts = np.zeros((0, period.size), dtype=np.float32), np.zeros(0, dtype=np.int64)
    if learned:
        wanted = [n for n in NAMES if getattr(weights, n) and (n not in LEARNED or period.learned is not None)]
        found = channels([models[r] for r in learned], period, wanted)
        combined = sum((getattr(weights, name) * zscore(found[name]) for name in wanted), np.zeros(1))
        scores[learned] = combined + weights.trending * period.trending_bonus
        similarities, starts = found["_similarities"], found["_starts"]
    rejecting = [r for r, m in enumerate(models) if len(m.negatives) and len(m.positives)]
    if rejecting and weights.negative:
        vector_sims, keyword_sims, negative_starts = set_similarities([models[r].negatives for r in rejecting], period)
        push = zscore(segment_max(vector_sims + keyword_sims, negative_starts))
        scores[rejecting] -= weights.negative * np.maximum(push, 0.0)
    cold = np.array([not len(m.positives) for m in models])
    if cold.any():  # topics first, then the trending order, then the period's own order
        scores[cold] += period.trending_bonus + np.linspace(1e-3, 0.0, period.size, dtype=np.float32)
    author_of: list[dict[int, str]] = []
    topic_of: list[dict[int, str]] = []
    for r, model in enumerate(models):
        topics: dict[int, str] = {}
        for topic in model.topics:
            matches = period.topic_matches(topic)
            scores[r] += (COLD_TOPIC if cold[r] else weights.topic) * matches
            for matched in np.flatnonzero(matches).tolist():
                topics.setdefault(matched, topic)
        authors: dict[int, str] = {}
        for author in model.followed_authors:
            for written in period.by_author.get(author, []):
                scores[r, written] += COLD_AUTHOR if cold[r] else weights.author
                authors.setdefault(written, author)
        topic_of.append(topics)
        author_of.append(authors)
        excluded = [period.index[i] for i in model.excluded if i in period.index]
        scores[r, excluded] = -np.inf
    diversity = np.where(cold, 0.0, weights.diversity)
    chosen = diverse_pick(scores, period.similarity(), limit, diversity, weights.pool, weights.near_copy)
    first_row = dict(zip(learned, starts.tolist()))
    picks: list[list[Pick]] = []
    for r, (model, columns) in enumerate(zip(models, chosen)):
        closest: list[int] = []
        if r in first_row and columns:
            rows = similarities[first_row[r] : first_row[r] + len(model.positives)]
            closest = np.argmax(rows[:, columns], axis=0).tolist()
        picks.append([
            (c, float(scores[r, c]), reason(model, period, c, closest[n] if closest else None, author_of[r], topic_of[r]))
            for n, c in enumerate(columns)
        ])  # fmt: skip
    return picks


def reason(
    model: ReaderModel, period: Candidates, column: int, closest: int | None,
    author_of: dict[int, str], topic_of: dict[int, str],
) -> str:  # fmt: skip
    """One line a reader can check: a followed author, the closest kept paper, a topic, or trending."""
    if column in author_of:
        return f"by an author you follow: {author_of[column]}"
    if closest is not None:
        return f"close to *{model.positives.titles[closest]}* in your library"
    if column in topic_of:
        return f"matches your topic *{topic_of[column]}*"
    if period.trending_bonus[column] > 0:
        return "trending in this period"
    return "new in this period"
