"""StoreCore: what every Store mixin may use (the engine, connections, dialect inserts), declared once."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from paperwire.models import ImportReport, Paper


class StoreCore:
    """The base of the query mixins; `Store` fills it in (the mixins share one engine and its helpers)."""

    url: str
    backend: ModuleType
    engine: sa.Engine
    read_engine: sa.Engine
    dialect: str
    held_locks: dict[str, list[Any]]
    generation: int
    quick_reads: Any  # sqlite.QuickReads, or None (PostgreSQL)

    if TYPE_CHECKING:
        # Defined by Store (store.py), which every mixin is combined into.
        def read(self) -> contextlib.AbstractContextManager[sa.Connection]: ...

        def write(self, *, papers: bool = False) -> contextlib.AbstractContextManager[sa.Connection]: ...

        def insert(self, table: sa.Table) -> Any: ...  # the dialect's Insert, with its on_conflict_* methods

        def try_lock(self, name: str) -> Any: ...  # the backend's lock object (held(), release()), or None

        # Used across mixins (defined in papers.py and jobs.py).
        def get_paper(self, paper_id: str) -> Paper | None: ...

        def upsert_papers(
            self, batch: Sequence[Paper], report: ImportReport | None = None, checkpoint: tuple[str, str] | None = None
        ) -> ImportReport: ...

        def set_checkpoint(self, name: str, value: str, connection: sa.Connection | None = None) -> None: ...

        def _bump_feedback(self, connection: sa.Connection, user_id: int) -> None: ...  # library.py


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just made."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT made no row")
    return int(key[0])
