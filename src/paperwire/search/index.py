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
from paperwire.search.keyword import KeywordIndex
from paperwire.search.vectors import VectorIndex, decode_vector
from paperwire.storage import Store

SYNC_INTERVAL_SECONDS = 2.0
OVERLAP_SECONDS = 10.0
PAGE = 2000
VECTOR_SAVE_SECONDS = 300.0  # an HNSW index is large: persist it at most this often (and on close)


@dataclass(slots=True)
class SyncReport:
    papers: int = 0
    vectors: int = 0


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


class SearchIndex:
    """Keyword index and (for one model) vector index in `folder`, with their sync cursors."""

    def __init__(self, folder: Path, model: str | None) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.keyword = KeywordIndex(folder / "keyword")
        self.model = model
        self._state_file = folder / "keyword-state.json"
        state = orjson.loads(self._state_file.read_bytes()) if self._state_file.exists() else {}
        if self.keyword.count() == 0:
            state = {}
        self._papers = Follower(state)
        self.vectors: VectorIndex | None = None
        self._vectors_folder = folder / model_folder_name(model) if model else None
        self._vectors = Follower()
        self._vectors_loaded = False
        self._vectors_dirty = 0
        self._vectors_saved_at = time.monotonic()
        self._lock = threading.Lock()
        self.last_sync = 0.0

    def _load_vectors(self, dimensions: int) -> None:
        if self._vectors_loaded or self._vectors_folder is None:
            return
        self.vectors, state = VectorIndex.load(self._vectors_folder, dimensions)
        self._vectors = Follower(state)
        self._vectors_loaded = True

    def is_due(self) -> bool:
        return time.monotonic() - self.last_sync >= SYNC_INTERVAL_SECONDS

    def sync(self, store: Store, *, wait: bool = True, progress=None) -> SyncReport | None:  # noqa: ANN001
        """Bring the index up to the database; None when another thread is syncing and wait is False."""
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            started = time.monotonic()
            report = SyncReport(papers=self._sync_papers(store, progress), vectors=self._sync_vectors(store))
            self.last_sync = started
            return report
        finally:
            self._lock.release()

    def _sync_papers(self, store: Store, progress) -> int:  # noqa: ANN001
        if self.keyword.writer is None:  # another process on this HOME writes; read what it commits
            self.keyword.index.reload()
            return 0
        count = 0
        cursor = self._papers.start_read()
        while True:
            page = store.papers_changed_since(cursor, PAGE)
            if not page:
                break
            fresh = [paper for paper, (changed_at, key) in page if self._papers.fresh(key, changed_at)]
            count += self.keyword.upsert(fresh)
            cursor = page[-1][1]
            if progress is not None:
                progress(len(page))
            if len(page) < PAGE:
                break
        if count:
            self.keyword.commit()
        was_settled = (self._papers.settled or "") >= self._papers.cursor[0]
        self._papers.end_read()
        if count or not was_settled:
            self._state_file.write_bytes(orjson.dumps(self._papers.state()))
        return count

    def _sync_vectors(self, store: Store) -> int:
        if self.model is None:
            return 0
        if not self._vectors_loaded:
            probe = store.embeddings_changed_since(self.model, ("", ""), 1)
            if not probe:
                return 0
            self._load_vectors(len(probe[0].vector) // 2)
        count = 0
        cursor = self._vectors.start_read()
        while True:
            page = store.embeddings_changed_since(self.model, cursor, PAGE)
            if not page:
                break
            fresh = [row for row in page if self._vectors.fresh(row.paper_id, row.changed_at)]
            if fresh:
                matrix = np.stack([decode_vector(row.vector) for row in fresh])
                self.vectors.upsert([row.paper_id for row in fresh], matrix)
                count += len(fresh)
            cursor = (page[-1].changed_at, page[-1].paper_id)
            if len(page) < PAGE:
                break
        self._vectors.end_read()
        self._vectors_dirty += count
        if self._vectors_dirty and (
            not self.vectors.approximate or time.monotonic() - self._vectors_saved_at > VECTOR_SAVE_SECONDS
        ):
            self.save_vectors()
        return count

    def save_vectors(self) -> None:
        if self.vectors is not None and self._vectors_folder is not None and self._vectors_dirty:
            self.vectors.save(self._vectors_folder, self._vectors.state())
            self._vectors_dirty = 0
            self._vectors_saved_at = time.monotonic()

    def close(self) -> None:
        with self._lock:
            self.save_vectors()
