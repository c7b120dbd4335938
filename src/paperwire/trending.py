"""Stored trending scores kept current: rescoring papers whose signals changed (ranking.py does the maths)."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from paperwire.ranking import rank_key
from paperwire.settings import Settings
from paperwire.storage import Store

CHECKPOINT = "trending:changed_at"
SETTLE = timedelta(minutes=2)  # changes this recent are read again: a slow concurrent writer may commit late
STEP = 5000
REFRESH_EVERY_SECONDS = 15.0  # how stale a web node's view of imported signals may get (votes rescore at once)
_refresh_lock = threading.Lock()
_last_refresh: weakref.WeakKeyDictionary[Store, float] = weakref.WeakKeyDictionary()


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
        chunk = [paper_id for paper_id, _ in changed[start : start + 1000]]
        history = store.signals_of(chunk)
        store.save_trending_scores({paper_id: rank_key(history[paper_id], now) for paper_id in chunk})
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


def rescore_papers(store, paper_ids: Sequence[str], now: datetime) -> None:
    """Recompute the rank keys of these papers now (after a vote, a submission)."""
    history = store.signals_of(list(paper_ids))
    store.save_trending_scores({paper_id: rank_key(history[paper_id], now) for paper_id in paper_ids})


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
