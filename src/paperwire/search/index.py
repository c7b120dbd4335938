"""The node's search index (keyword + vectors) under HOME, kept in step with the database.

Every node keeps its own copy and follows `papers.changed_at` and `paper_embeddings.changed_at`
with a keyset cursor. A change is visible on a node after at most `SYNC_INTERVAL_SECONDS` (the next
search after that interval syncs first) plus the time to index it. Each sync re-reads the last
`OVERLAP_SECONDS` of changes, so a transaction that committed later than its timestamp (possible
with concurrent writers on PostgreSQL) is still picked up; rows already seen are skipped.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

from paperwire.models import utc_now_iso
from paperwire.search.keyword import KeywordIndex, WriterBusy
from paperwire.search.vectors import VectorIndex, decode_vector
from paperwire.storage import Store

SYNC_INTERVAL_SECONDS = 2.0
OVERLAP_SECONDS = 10.0
PAGE = 2000
VECTOR_SAVE_SECONDS = 300.0  # an approximate (IVF) index is large: persist it at most this often (and on close)
# During a long catch-up, commit the first page at once and then this often, so that searches meanwhile
# answer from the papers indexed so far.
BUILD_COMMIT_SECONDS = 1.0


@dataclass(slots=True)
class SyncReport:
    papers: int = 0
    vectors: int = 0
    writer_busy: bool = False  # another holder had the keyword writer: this sync only read its commits


def model_folder_name(model: str) -> str:
    return "vectors-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", model)


TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _shift(moment: str, seconds: float) -> str:
    return (datetime.strptime(moment, TIME_FORMAT) + timedelta(seconds=seconds)).strftime(TIME_FORMAT)


class Follower:
    """A keyset cursor over (changed_at, key) that also re-reads the recent past, skipping what it saw.

    A row written with timestamp T is committed by T + OVERLAP_SECONDS (transactions are shorter
    than that). So a read that started at wall time W saw every row stamped ≤ W - OVERLAP, and the
    next read only needs to go back to min(cursor, W - OVERLAP): nothing is re-read once the
    database is quiet, and only the last seconds while it is busy.
    """

    def __init__(self, state: dict | None = None) -> None:
        state = state or {}
        self.cursor = list(state.get("cursor") or ["", ""])
        self.seen: dict[str, str] = {}
        self.settled: str | None = state.get("settled")  # rows stamped at or before this were all read

    def state(self) -> dict:
        return {"cursor": self.cursor, "settled": self.settled}

    def snapshot(self) -> tuple[list[str], dict[str, str], str | None]:
        return list(self.cursor), dict(self.seen), self.settled

    def restore(self, snapshot: tuple[list[str], dict[str, str], str | None]) -> None:
        """Forget what was read since `snapshot` (a sync that could not write reads it again next time)."""
        self.cursor, self.seen, self.settled = list(snapshot[0]), dict(snapshot[1]), snapshot[2]

    def start_read(self) -> tuple[str, str]:
        """Where the next read starts; call just before reading."""
        now = utc_now_iso()
        if not self.cursor[0]:
            floor = ("", "")
        elif self.settled is not None and self.settled >= self.cursor[0]:
            floor = (self.cursor[0], self.cursor[1])
        else:
            back = _shift(self.cursor[0], -OVERLAP_SECONDS)
            floor = (max(back, self.settled or ""), "")
        self._reading_since = _shift(now, -OVERLAP_SECONDS)
        return floor

    def end_read(self) -> None:
        self.settled = self._reading_since
        floor = min(self.cursor[0], self.settled)
        self.seen = {key: at for key, at in self.seen.items() if at >= floor}

    def fresh(self, key: str, changed_at: str) -> bool:
        if self.seen.get(key) == changed_at:
            return False
        self.seen[key] = changed_at
        if changed_at > self.cursor[0] or (changed_at == self.cursor[0] and key > self.cursor[1]):
            self.cursor = [changed_at, key]
        return True


class ModelVectors:
    """The vector index of one model in its own folder, with its sync cursor over paper_embeddings."""

    def __init__(self, folder: Path, model: str) -> None:
        self.model = model
        self.folder = folder / model_folder_name(model)
        self.index: VectorIndex | None = None
        self._follower = Follower()
        self._loaded = False
        self._dirty = 0
        self._saved_at = time.monotonic()

    def sync(self, store: Store) -> int:
        if not self._loaded:
            probe = store.embeddings_changed_since(self.model, ("", ""), 1)
            if not probe:
                return 0
            self.index, state = VectorIndex.load(self.folder, len(probe[0].vector) // 2)
            self._follower = Follower(state)
            self._loaded = True
        index = self.index
        if index is None:
            return 0
        count = 0
        cursor = self._follower.start_read()
        while True:
            page = store.embeddings_changed_since(self.model, cursor, PAGE)
            if not page:
                break
            fresh = [row for row in page if self._follower.fresh(row.paper_id, row.changed_at)]
            if fresh:
                matrix = np.stack([decode_vector(row.vector) for row in fresh])
                index.upsert([row.paper_id for row in fresh], matrix)
                count += len(fresh)
            cursor = (page[-1].changed_at, page[-1].paper_id)
            if len(page) < PAGE:
                break
        self._follower.end_read()
        self._dirty += count
        if self._dirty and (not index.approximate or time.monotonic() - self._saved_at > VECTOR_SAVE_SECONDS):
            self.save()
        return count

    def save(self) -> None:
        if self.index is not None and self._dirty:
            self.index.save(self.folder, self._follower.state())
            self._dirty = 0
            self._saved_at = time.monotonic()


class SearchIndex:
    """Keyword index and vector indexes in `folder`, with their sync cursors.

    `model` is the model queries are embedded with (its index is `vectors`); `bulk_model`, when set,
    is a cheaper model whose vectors some papers may have instead (a fast backfill): its index,
    `bulk_vectors`, stays None until the database holds a vector of it. The two are never mixed.
    """

    def __init__(self, folder: Path, model: str | None, bulk_model: str | None = None) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.keyword = KeywordIndex(folder / "keyword")
        self.model = model
        self.bulk_model = bulk_model if bulk_model != model else None
        self._state_file = folder / "keyword-state.json"
        state = orjson.loads(self._state_file.read_bytes()) if self._state_file.exists() else {}
        if self.keyword.count() == 0:
            state = {}
        self._papers = Follower(state)
        self._models = [ModelVectors(folder, name) for name in (model, self.bulk_model) if name]
        self._lock = threading.Lock()
        self.last_sync = 0.0
        self.reading_papers = False  # a sync is in its papers (keyword) phase, before the vectors

    @property
    def vectors(self) -> VectorIndex | None:
        """The vectors of the query model (None until the database holds one)."""
        return self._models[0].index if self.model else None

    @property
    def bulk_vectors(self) -> VectorIndex | None:
        """The vectors of the bulk model (None when there is none, or no paper has one)."""
        return self._models[-1].index if self.bulk_model else None

    def is_due(self) -> bool:
        return time.monotonic() - self.last_sync >= SYNC_INTERVAL_SECONDS

    def behind(self, store: Store) -> bool:
        """Whether the database holds a paper change this index has not read (one indexed max())."""
        latest = store.latest_paper_change()
        return bool(latest) and latest > self._papers.cursor[0]

    def sync(self, store: Store, *, wait: bool | float = True, progress=None) -> SyncReport | None:
        """Bring the index up to the database; None when another thread is syncing and wait is False (or that
        many seconds passed first).

        When another process holds the keyword writer, this sync reads what that one committed and
        leaves its own cursor where it was: the next sync (a few seconds later) tries again."""
        acquired = self._lock.acquire(timeout=wait) if not isinstance(wait, bool) else self._lock.acquire(blocking=wait)
        if not acquired:
            return None
        try:
            started = time.monotonic()
            busy = False
            self.reading_papers = True
            try:
                papers = self._sync_papers(store, progress)
            except WriterBusy:
                busy, papers = True, 0
            finally:
                self.reading_papers = False
            report = SyncReport(papers=papers, vectors=sum(vectors.sync(store) for vectors in self._models))
            report.writer_busy = busy
            self.last_sync = started
            return report
        finally:
            self._lock.release()

    def _sync_papers(self, store: Store, progress) -> int:
        before = self._papers.snapshot()
        count = pending = 0
        committed_at = time.monotonic()
        cursor = self._papers.start_read()
        try:
            while True:
                page = store.papers_changed_since(cursor, PAGE)
                if not page:
                    break
                fresh = [paper for paper, (changed_at, key) in page if self._papers.fresh(key, changed_at)]
                if fresh:
                    pending += self.keyword.upsert(fresh)
                cursor = page[-1][1]
                if progress is not None:
                    progress(len(page))
                if pending and (not count or time.monotonic() - committed_at >= BUILD_COMMIT_SECONDS):
                    self.keyword.commit()  # a long catch-up: searches meanwhile see what is indexed so far
                    count, pending, committed_at = count + pending, 0, time.monotonic()
                if len(page) < PAGE:
                    break
        except WriterBusy:
            self._papers.restore(before)
            self.keyword.reload()  # read what the holder committed
            raise
        except BaseException:
            self.keyword.release()
            self._papers.restore(before)
            raise
        if pending:
            self.keyword.commit()
            count += pending
        was_settled = (self._papers.settled or "") >= self._papers.cursor[0]
        self._papers.end_read()
        if count or not was_settled:
            self._state_file.write_bytes(orjson.dumps(self._papers.state()))
        return count

    def save_vectors(self) -> None:
        for vectors in self._models:
            vectors.save()

    def close(self) -> None:
        with self._lock:
            self.save_vectors()
            self.keyword.bags.close()  # its connections (a later read opens its own again)
