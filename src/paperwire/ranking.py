"""Trending: a score from the growth of upvotes and GitHub stars with exponential time decay.

The score of a paper at time `now` (formula and rationale in docs/trending.md):

    score(now) = sum over observations i with t_i <= now of
                 (Δupvotes_i + STAR_WEIGHT · Δstars_i) · 2 ** (-(now - t_i) / HALF_LIFE)

where Δ is the growth over the highest count seen before (the first observation counts from
zero: the paper entered the feed with those votes); drops count as zero and are not re-counted. Only growth
counts, never totals, and every unit of growth loses half its weight per HALF_LIFE.

Because every term decays at the same rate, time alone never reorders papers: the ranking changes
only when signals change. So a stored `rank_key = log2(score(now)) + (now - EPOCH) / HALF_LIFE`
(constant between signal changes) orders papers, and only papers whose signals changed need a new
key (paperwire.trending keeps the stored keys current). Everything here is a pure function.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

HALF_LIFE = timedelta(hours=48)
STAR_WEIGHT = 0.2  # five new GitHub stars count as one new upvote
EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
REASON_WINDOWS = (("today", timedelta(days=1)), ("this week", timedelta(days=7)), ("this month", timedelta(days=30)))

Signal = Mapping[str, Any]  # observed_at (ISO 8601 or datetime), upvotes, github_stars


def parse_moment(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def growth_events(signals: Sequence[Signal], now: datetime) -> list[tuple[datetime, int, int]]:
    """(time, new upvotes, new stars) per observation up to `now`, oldest first."""
    ordered = sorted(((parse_moment(s["observed_at"]), s) for s in signals), key=lambda pair: pair[0])
    events: list[tuple[datetime, int, int]] = []
    # Growth is measured against the highest count seen so far, so withdrawing and re-casting a
    # vote (or a star) never counts twice.
    most_votes, most_stars = 0, 0
    for moment, signal in ordered:
        if moment > now:
            break
        votes = int(signal.get("upvotes") or 0)
        stars = int(signal.get("github_stars") or 0)
        new_votes, new_stars = max(0, votes - most_votes), max(0, stars - most_stars)
        most_votes, most_stars = max(most_votes, votes), max(most_stars, stars)
        if new_votes or new_stars:
            events.append((moment, new_votes, new_stars))
    return events


def score_trending(signals: Sequence[Signal], now: datetime) -> float:
    """The trending score at `now`: decayed growth of upvotes and stars (0.0 without growth)."""
    now = parse_moment(now)
    half_life = HALF_LIFE.total_seconds()
    total = 0.0
    for moment, new_votes, new_stars in growth_events(signals, now):
        age = (now - moment).total_seconds()
        total += (new_votes + STAR_WEIGHT * new_stars) * 2.0 ** (-age / half_life)
    return total


def rank_key(signals: Sequence[Signal], now: datetime) -> float | None:
    """log2 of the score scaled back to EPOCH: equal for all `now` until the signals change.

    Computed as a log-sum so that neither old nor recent signals overflow a float."""
    now = parse_moment(now)
    half_life = HALF_LIFE.total_seconds()
    exponents = [
        (math.log2(new_votes + STAR_WEIGHT * new_stars), (moment - EPOCH).total_seconds() / half_life)
        for moment, new_votes, new_stars in growth_events(signals, now)
    ]
    if not exponents:
        return None
    terms = [weight_log + offset for weight_log, offset in exponents]
    top = max(terms)
    return top + math.log2(sum(2.0 ** (term - top) for term in terms))


def score_from_rank_key(key: float, now: datetime) -> float:
    """The score at `now` of a paper whose stored rank key is `key`."""
    elapsed = (parse_moment(now) - EPOCH).total_seconds() / HALF_LIFE.total_seconds()
    exponent = key - elapsed
    return 0.0 if exponent < -1000 else 2.0**exponent


def explain_trending(signals: Sequence[Signal], now: datetime) -> list[str]:
    """Why a paper trends: its growth in the shortest window that has some ("+34 upvotes today")."""
    now = parse_moment(now)
    events = growth_events(signals, now)
    reasons = []
    counts = {"upvote": [(moment, votes) for moment, votes, _ in events], "star": [(m, s) for m, _, s in events]}
    for noun, gains in counts.items():
        for label, window in REASON_WINDOWS:
            gained = sum(count for moment, count in gains if now - moment < window)
            if gained:
                reasons.append(f"+{gained} {noun}{'' if gained == 1 else 's'} {label}")
                break
    return reasons
