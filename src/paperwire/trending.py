"""Trending in one place: the score (pure), the one "why it trends" text, keeping stored scores current,
and the list that pages, feeds, the API, the CLI and digests show.

The score of a paper at time `now` (formula and rationale in docs/trending.md):

    score(now) = sum over growth events i with t_i <= now of
                 (Δupvotes_i + STAR_WEIGHT · Δstars_i) · 2 ** (-(now - t_i) / HALF_LIFE)

Growth is each observation's rise over the one before; a drop withdraws the most recent growth
first (a vote then its undo leaves nothing; re-casting counts once, when re-cast). What a paper had
when first observed accrued between its listing and that moment: it is dated halfway between, so a
backfill of an old day never looks like today's news.

Because every term decays at the same rate, time alone never reorders papers: the ranking changes
only when signals change. So a stored `rank_key = log2(score(now)) + (now - EPOCH) / HALF_LIFE`
(constant between signal changes) orders papers, and only papers whose signals changed need a new
key (`refresh_trending_scores`; storage/trending.py holds the SQL).
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from paperwire.models import Paper, now_utc
from paperwire.models import utc_iso as iso
from paperwire.settings import Settings
from paperwire.storage import Store

HALF_LIFE = timedelta(hours=48)
STAR_WEIGHT = 0.2  # five new GitHub stars count as one new upvote
EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
REASON_WINDOWS = (("today", timedelta(days=1)), ("this week", timedelta(days=7)), ("this month", timedelta(days=30)))
QUIET_WINDOW = timedelta(days=7)  # nothing grew within it: the page says so
QUIET_PROBE = 200  # papers with recent observations checked for growth when the top of the list shows none

CHECKPOINT = "trending:changed_at"
SETTLE = timedelta(minutes=2)  # changes this recent are read again: a slow concurrent writer may commit late
STEP = 5000
REFRESH_EVERY_SECONDS = 15.0  # how stale a web node's view of imported signals may get (votes rescore at once)
_refresh_lock = threading.Lock()
_last_refresh: weakref.WeakKeyDictionary[Store, float] = weakref.WeakKeyDictionary()

Signal = Mapping[str, object]  # observed_at (ISO 8601 or datetime), upvotes, github_stars
Growth = tuple[datetime, int, int]  # when, new upvotes, new stars


# ---- the score: pure functions of signals, the listing moment and the time ---------------------------


def parse_moment(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def listing_moment(listed_on: str | None, published_at: str | None = None) -> datetime | None:
    """When a paper entered the feed (its listed day at 00:00 UTC; else its first arXiv version)."""
    for value in (listed_on, published_at):
        if value:
            try:
                return parse_moment(value) if "T" in value else parse_moment(value[:10] + "T00:00:00+00:00")
            except ValueError:
                continue
    return None


def _apply(stack: list[list], change: int, moment: datetime) -> None:
    """A rise is pushed as growth at `moment`; a drop withdraws the most recent growth first."""
    if change > 0:
        stack.append([moment, change])
    while change < 0 and stack:
        taken = min(-change, stack[-1][1])
        stack[-1][1] -= taken
        change += taken
        if stack[-1][1] == 0:
            stack.pop()


def growth_events(signals: Sequence[Signal], now: datetime, listed_at: datetime | None = None) -> list[Growth]:
    """(time, new upvotes, new stars) that still stand at `now`, oldest first."""
    ordered = sorted(((parse_moment(s["observed_at"]), s) for s in signals), key=lambda pair: pair[0])
    votes: list[list] = []
    stars: list[list] = []
    last_votes = last_stars = 0
    for position, (moment, signal) in enumerate(ordered):
        if moment > now:
            break
        when = moment
        if position == 0 and listed_at is not None and listed_at < moment:
            when = listed_at + (moment - listed_at) / 2  # accrued between the listing and the first look
        count_votes, count_stars = int(str(signal.get("upvotes") or 0)), int(str(signal.get("github_stars") or 0))
        _apply(votes, count_votes - last_votes, when)
        _apply(stars, count_stars - last_stars, when)
        last_votes, last_stars = count_votes, count_stars
    merged: dict[datetime, list[int]] = {}
    for index, stack in ((0, votes), (1, stars)):
        for moment, amount in stack:
            merged.setdefault(moment, [0, 0])[index] += amount
    return [(moment, amounts[0], amounts[1]) for moment, amounts in sorted(merged.items())]


def score_trending(signals: Sequence[Signal], now: datetime, listed_at: datetime | None = None) -> float:
    """The trending score at `now`: decayed growth of upvotes and stars (0.0 without growth)."""
    now = parse_moment(now)
    half_life = HALF_LIFE.total_seconds()
    return sum(
        (new_votes + STAR_WEIGHT * new_stars) * 2.0 ** (-(now - moment).total_seconds() / half_life)
        for moment, new_votes, new_stars in growth_events(signals, now, listed_at)
    )


def rank_key(signals: Sequence[Signal], now: datetime, listed_at: datetime | None = None) -> float | None:
    """log2 of the score scaled back to EPOCH: equal for all `now` until the signals change.

    Computed as a log-sum so that neither old nor recent signals overflow a float."""
    now = parse_moment(now)
    half_life = HALF_LIFE.total_seconds()
    terms = [
        math.log2(new_votes + STAR_WEIGHT * new_stars) + (moment - EPOCH).total_seconds() / half_life
        for moment, new_votes, new_stars in growth_events(signals, now, listed_at)
    ]
    if not terms:
        return None
    top = max(terms)
    return top + math.log2(sum(2.0 ** (term - top) for term in terms))


def score_from_rank_key(key: float, now: datetime) -> float:
    """The score at `now` of a paper whose stored rank key is `key`."""
    elapsed = (parse_moment(now) - EPOCH).total_seconds() / HALF_LIFE.total_seconds()
    exponent = key - elapsed
    return 0.0 if exponent < -1000 else 2.0**exponent


def _count(amount: int, noun: str) -> str:
    return f"+{amount:,} {noun}{'' if amount == 1 else 's'}"


def explain_trending(signals: Sequence[Signal], now: datetime, listed_at: datetime | None = None) -> list[str]:
    """Why a paper trends, the one text every surface shows: its growth in the shortest window that has
    some ("+34 upvotes today"), else all its growth and the day of the last ("+250 upvotes by Jun 10, 2025")."""
    now = parse_moment(now)
    events = growth_events(signals, now, listed_at)
    reasons = []
    for noun, grown in (("upvote", [(t, v) for t, v, _ in events if v]), ("star", [(t, s) for t, _, s in events if s])):
        if not grown:
            continue
        for label, window in REASON_WINDOWS:
            gained = sum(amount for moment, amount in grown if now - moment < window)
            if gained:
                reasons.append(f"{_count(gained, noun)} {label}")
                break
        else:
            last = grown[-1][0].strftime("%b %-d, %Y")
            reasons.append(f"{_count(sum(amount for _, amount in grown), noun)} by {last}")
    return reasons


def grew_within(signals: Sequence[Signal], now: datetime, window: timedelta, listed_at: datetime | None) -> bool:
    return any(now - moment < window for moment, _, _ in growth_events(signals, now, listed_at))


# ---- stored scores kept current ----------------------------------------------------------------------


def _rank_keys(store: Store, paper_ids: Sequence[str], now: datetime) -> dict[str, float | None]:
    history = store.signals_of(list(paper_ids))
    listed = store.listing_days_of(list(paper_ids))
    return {paper_id: rank_key(history[paper_id], now, listing_moment(*listed.get(paper_id, (None, None))))
            for paper_id in paper_ids}  # fmt: skip


def refresh_trending_scores(
    store: Store, now: datetime, *, settled_before: str | None = None, full: bool = False, limit: int = STEP,
) -> int:  # fmt: skip
    """Recompute the stored rank keys of papers whose signals changed since the last run.

    Works through at most `limit` papers per call, in (changed_at, id) order from a checkpoint, so no
    call runs long and repeated calls catch up after a bulk import. The checkpoint never moves past
    `settled_before` (ISO time): rows stamped just before a slow writer committed are read again.
    Returns how many papers were rescored. Idempotent: several nodes may run it at once."""
    saved = "" if full else (store.get_checkpoint(CHECKPOINT) or "")
    cursor_time, _, cursor_id = saved.partition("|")
    changed = store.trending_candidates_after(cursor_time, cursor_id, limit=limit)
    for start in range(0, len(changed), 1000):
        store.save_trending_scores(_rank_keys(store, [paper_id for paper_id, _ in changed[start : start + 1000]], now))
    if changed:
        last_id, last_time = changed[-1]
        cursor = (last_time, last_id)
        if settled_before is not None and last_time >= settled_before:
            cursor = (settled_before, "")
        if cursor > (cursor_time, cursor_id):
            store.set_checkpoint(CHECKPOINT, f"{cursor[0]}|{cursor[1]}")
    elif settled_before is not None and settled_before > cursor_time:
        # Nothing with signals changed: skip the settled stretch (a bulk import without signals).
        store.set_checkpoint(CHECKPOINT, f"{settled_before}|")
    return len(changed)


def rescore_papers(store: Store, paper_ids: Sequence[str], now: datetime) -> None:
    """Recompute the rank keys of these papers now (after a vote, a submission)."""
    store.save_trending_scores(_rank_keys(store, paper_ids, now))


def refresh_trending_job(settings: Settings, store: Store) -> str:
    """The scheduled job (and `paperwire trending --refresh`): rescore everything that changed."""
    now = datetime.now(timezone.utc)
    settled = iso(now - SETTLE)
    total = 0
    for _ in range(1000):  # bounded: unsettled rows are read again, so "a full step" can repeat
        before = store.get_checkpoint(CHECKPOINT)
        count = refresh_trending_scores(store, now, settled_before=settled)
        total += count
        if count < STEP or store.get_checkpoint(CHECKPOINT) == before:
            break
    return f"rescored {total} paper{'' if total == 1 else 's'}" if total else "no signals changed"


def refresh_if_due(store: Store, now: datetime) -> None:
    """Before a trending list is shown: rescore what changed, at most every few seconds per process
    (an instance without the scheduler stays current too)."""
    if time.monotonic() - _last_refresh.get(store, -1e9) < REFRESH_EVERY_SECONDS:
        return
    with _refresh_lock:
        if time.monotonic() - _last_refresh.get(store, -1e9) < REFRESH_EVERY_SECONDS:
            return
        refresh_trending_scores(store, now, settled_before=iso(datetime.now(timezone.utc) - SETTLE))
        _last_refresh[store] = time.monotonic()


# ---- the list every surface shows ------------------------------------------------------------------------


@dataclass(slots=True)
class TrendingEntry:
    paper: Paper
    score: float
    reasons: list[str]
    fresh: bool = False  # grew within QUIET_WINDOW

    @property
    def reason(self) -> str:
        return " · ".join(self.reasons)


@dataclass(slots=True)
class TrendingList:
    entries: list[TrendingEntry]
    total: int
    quiet: bool  # nothing grew within QUIET_WINDOW: the list shows the latest growth before it

    @property
    def notice(self) -> str | None:
        if not self.quiet or not self.entries:
            return None
        days = QUIET_WINDOW.days
        return (f"No paper has gained upvotes or GitHub stars in the last {days} days. Shown instead: the "
                f"papers whose growth was largest and most recent before that; each says when it grew.")  # fmt: skip


def entries_for(store: Store, ranked: Sequence[tuple[Paper, float]], now: datetime) -> list[TrendingEntry]:
    history = store.signals_of([paper.id for paper, _ in ranked])
    entries = []
    for paper, key in ranked:
        listed_at = listing_moment(paper.listed_on, paper.published_at)
        signals = history[paper.id]
        entries.append(TrendingEntry(paper, score_from_rank_key(key, now), explain_trending(signals, now, listed_at),
                                     grew_within(signals, now, QUIET_WINDOW, listed_at)))  # fmt: skip
    return entries


def anything_grew(store: Store, now: datetime) -> bool:
    """Whether any paper grew within QUIET_WINDOW (checks the papers observed within it)."""
    ids = store.papers_observed_since(iso(now - QUIET_WINDOW), limit=QUIET_PROBE)
    papers = {paper.id: paper for paper in store.get_papers(ids)}
    history = store.signals_of(ids)
    return any(
        grew_within(history[i], now, QUIET_WINDOW, listing_moment(papers[i].listed_on, papers[i].published_at))
        for i in ids
        if i in papers
    )


def list_trending(store: Store, *, limit: int = 50, offset: int = 0, now: datetime | None = None) -> TrendingList:
    """The top trending papers with their score now and the reasons; how many trend; whether it is quiet."""
    now = now or now_utc()
    refresh_if_due(store, now)
    ranked, total = store.trending_papers(limit=limit, offset=offset)
    entries = entries_for(store, ranked, now)
    quiet = offset == 0 and not any(entry.fresh for entry in entries) and not anything_grew(store, now)
    return TrendingList(entries, total, quiet)


def trending_reasons(store: Store, papers: Sequence[Paper], now: datetime) -> dict[str, str]:
    """The reason text of each paper that grew (for digests: the same words as the site's cards)."""
    history = store.signals_of([paper.id for paper in papers])
    reasons = {}
    for paper in papers:
        text = " · ".join(explain_trending(history[paper.id], now, listing_moment(paper.listed_on, paper.published_at)))
        if text:
            reasons[paper.id] = text
    return reasons


def period_end(last_day: date, now: datetime) -> datetime:
    """The moment a past period is looked back on from: its end, or now while it is still running."""
    end = datetime(last_day.year, last_day.month, last_day.day, tzinfo=timezone.utc) + timedelta(days=1)
    return min(end, now)
