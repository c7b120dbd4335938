"""Search queries: papers changed since a cursor (index sync), stored embeddings and what needs embedding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from paperwire.models import Paper, utc_now_iso
from paperwire.storage.core import StoreCore
from paperwire.storage.papers import SELECT_PAPERS, row_to_paper, titled
from paperwire.storage.schema import paper_embeddings, papers

Cursor = tuple[str, str]  # (changed_at, id): keyset position in a changed_at-ordered scan
START: Cursor = ("", "")


@dataclass(slots=True, frozen=True)
class TextToEmbed:
    paper_id: str
    title: str
    abstract: str
    paper_changed_at: str
    stored_hash: str | None  # hash of the text behind the stored vector, None when there is none


@dataclass(slots=True, frozen=True)
class StoredVector:
    paper_id: str
    vector: bytes  # little-endian float16
    changed_at: str


def _after(columns: tuple[sa.ColumnElement, sa.ColumnElement], cursor: Cursor) -> sa.ColumnElement:
    """(changed_at, key) > cursor, as a row-value comparison: SQLite and PostgreSQL seek the
    (changed_at, key) index to it (an OR of the two parts made SQLite scan)."""
    return sa.tuple_(*columns) > sa.tuple_(sa.literal(cursor[0]), sa.literal(cursor[1]))


class SearchQueries(StoreCore):
    """Mixed into Store."""

    def papers_changed_since(self, cursor: Cursor, limit: int = 2000) -> list[tuple[Paper, Cursor]]:
        """Papers whose row changed after `cursor`, oldest change first, each with its own cursor."""
        query = (
            SELECT_PAPERS.add_columns(papers.c.changed_at)
            .where(_after((papers.c.changed_at, papers.c.id), cursor))
            .order_by(papers.c.changed_at, papers.c.id)
            .limit(limit)
        )
        with self.read() as connection:
            rows = list(connection.execute(query).mappings())
        return [(row_to_paper(row), (row["changed_at"], row["id"])) for row in rows]

    def latest_paper_change(self) -> str | None:
        with self.read() as connection:
            return connection.execute(sa.select(sa.func.max(papers.c.changed_at))).scalar_one()

    def paper_ids_with_title_key(self, title_key: str, limit: int = 20) -> list[str]:
        with self.read() as connection:
            return list(connection.execute(sa.select(papers.c.id).where(titled([title_key])).limit(limit)).scalars())

    # ---- embeddings ---------------------------------------------------------------------------

    def _needs_embedding(self, model: str) -> tuple[sa.FromClause, sa.ColumnElement]:
        joined = papers.outerjoin(
            paper_embeddings,
            sa.and_(paper_embeddings.c.paper_id == papers.c.id, paper_embeddings.c.model == model),
        )
        stale = sa.or_(paper_embeddings.c.paper_id.is_(None), paper_embeddings.c.paper_changed_at < papers.c.changed_at)
        return joined, stale

    def texts_to_embed(self, model: str, limit: int = 256, after_id: str = "") -> list[TextToEmbed]:
        """Papers with no vector of `model`, or whose row changed since their vector was checked."""
        joined, stale = self._needs_embedding(model)
        query = (
            sa.select(
                papers.c.id, papers.c.title, papers.c.abstract, papers.c.changed_at, paper_embeddings.c.text_hash
            )  # fmt: skip
            .select_from(joined)
            .where(stale, papers.c.id > after_id)
            .order_by(papers.c.id)
            .limit(limit)
        )
        with self.read() as connection:
            return [TextToEmbed(*row) for row in connection.execute(query).all()]

    def count_texts_to_embed(self, model: str) -> int:
        joined, stale = self._needs_embedding(model)
        with self.read() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(joined).where(stale)).scalar_one()

    def save_embeddings(self, model: str, rows: Sequence[dict]) -> None:
        """Upsert vectors: rows of {paper_id, text_hash, dimensions, vector, paper_changed_at}."""
        if not rows:
            return
        changed_at = utc_now_iso()
        values = [{**row, "model": model, "changed_at": changed_at} for row in rows]
        statement = self.insert(paper_embeddings)
        statement = statement.on_conflict_do_update(
            index_elements=[paper_embeddings.c.paper_id, paper_embeddings.c.model],
            set_={name: statement.excluded[name] for name in
                  ("text_hash", "dimensions", "vector", "paper_changed_at", "changed_at")},
        )  # fmt: skip
        with self.write() as connection:
            connection.execute(statement, values)

    def mark_embeddings_checked(self, model: str, checked: Sequence[tuple[str, str]]) -> None:
        """Papers whose text did not change: remember the row version checked, keep the vector."""
        if not checked:
            return
        update = (
            paper_embeddings.update()
            .where(paper_embeddings.c.paper_id == sa.bindparam("key"), paper_embeddings.c.model == model)
            .values(paper_changed_at=sa.bindparam("seen"))
        )
        with self.write() as connection:
            connection.execute(update, [{"key": key, "seen": seen} for key, seen in checked])

    def embeddings_changed_since(self, model: str, cursor: Cursor, limit: int = 5000) -> list[StoredVector]:
        query = (
            sa.select(paper_embeddings.c.paper_id, paper_embeddings.c.vector, paper_embeddings.c.changed_at)
            .where(
                paper_embeddings.c.model == model,
                _after((paper_embeddings.c.changed_at, paper_embeddings.c.paper_id), cursor),
            )
            .order_by(paper_embeddings.c.changed_at, paper_embeddings.c.paper_id)
            .limit(limit)
        )
        with self.read() as connection:
            return [StoredVector(*row) for row in connection.execute(query).all()]

    def get_embedding(self, paper_id: str, model: str) -> bytes | None:
        with self.read() as connection:
            return connection.execute(
                sa.select(paper_embeddings.c.vector).where(
                    paper_embeddings.c.paper_id == paper_id, paper_embeddings.c.model == model
                )
            ).scalar_one_or_none()

    def count_embeddings(self, model: str) -> int:
        with self.read() as connection:
            return connection.execute(sa.select(sa.func.count()).where(paper_embeddings.c.model == model)).scalar_one()
