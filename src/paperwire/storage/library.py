"""Library queries: saves, collections, imported references, "not interested" marks, followed authors.

Every change a reader makes here bumps their feedback version (reader_models), which is how the
recommender knows whose model to refit (see storage/readers.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from paperwire.models import Paper, author_key, utc_now_iso
from paperwire.storage.core import StoreCore
from paperwire.storage.papers import SELECT_PAPERS, row_to_paper
from paperwire.storage.schema import (
    collection_papers,
    collections,
    followed_authors,
    library_saves,
    not_interested,
    papers,
    reader_models,
    votes,
)

MAX_COLLECTIONS = 200
# "Readers who kept this paper also kept": a paper counts only when at least this many readers kept both,
# so that no single reader's private library shows through another paper's page.
ALSO_KEPT_MIN_READERS = 3
ALSO_KEPT_MAX_READERS = 500  # the readers (most recent first) whose libraries are read for one paper


class LibraryQueries(StoreCore):
    """Mixed into Store."""

    # ---- the feedback version ---------------------------------------------------------------

    def _bump_feedback(self, connection: sa.Connection, user_id: int) -> None:
        statement = self.insert(reader_models).values(user_id=user_id, feedback_version=1)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[reader_models.c.user_id],
                set_={"feedback_version": reader_models.c.feedback_version + 1},
            )
        )

    def _toggle(self, table: sa.Table, user_id: int, paper_id: str, on: bool) -> bool:
        """Add or remove (user, paper) in a mark table; True when something changed."""
        with self.write() as connection:
            if on:
                changed = connection.execute(
                    self.insert(table)
                    .values(user_id=user_id, paper_id=paper_id, created_at=utc_now_iso())
                    .on_conflict_do_nothing()
                    .returning(table.c.paper_id)
                ).first()
            else:
                changed = connection.execute(
                    table.delete()
                    .where(table.c.user_id == user_id, table.c.paper_id == paper_id)
                    .returning(table.c.paper_id)
                ).first()
            if changed:
                self._bump_feedback(connection, user_id)
        return changed is not None

    def _marked(self, table: sa.Table, user_id: int, paper_ids: Iterable[str] | None) -> set[str]:
        query = sa.select(table.c.paper_id).where(table.c.user_id == user_id)
        if paper_ids is not None:
            ids = list(paper_ids)
            if not ids:
                return set()
            query = query.where(table.c.paper_id.in_(ids))
        with self.read() as connection:
            return set(connection.execute(query).scalars())

    # ---- saves and "not interested" ------------------------------------------------------------

    def set_saved(self, user_id: int, paper_id: str, saved: bool) -> bool:
        return self._toggle(library_saves, user_id, paper_id, saved)

    def saved_paper_ids(self, user_id: int, paper_ids: Iterable[str] | None = None) -> set[str]:
        return self._marked(library_saves, user_id, paper_ids)

    def set_not_interested(self, user_id: int, paper_id: str, marked: bool) -> bool:
        return self._toggle(not_interested, user_id, paper_id, marked)

    def not_interested_ids(self, user_id: int, paper_ids: Iterable[str] | None = None) -> set[str]:
        return self._marked(not_interested, user_id, paper_ids)

    def _papers_of(self, user_id: int, table: sa.Table, order: sa.ColumnElement) -> list[Paper]:
        joined = papers.join(table, table.c.paper_id == papers.c.id)
        query = SELECT_PAPERS.select_from(joined).where(table.c.user_id == user_id).order_by(order.desc(), papers.c.id)
        with self.read() as connection:
            return [row_to_paper(row) for row in connection.execute(query).mappings()]

    def saved_papers(self, user_id: int) -> list[Paper]:
        """The reader's saved papers, last saved first."""
        return self._papers_of(user_id, library_saves, library_saves.c.created_at)

    def not_interested_papers(self, user_id: int) -> list[Paper]:
        return self._papers_of(user_id, not_interested, not_interested.c.created_at)

    def positive_paper_ids(self, user_id: int) -> set[str]:
        """What the reader kept: saves, members of their collections, upvotes."""
        members = (
            sa.select(collection_papers.c.paper_id)
            .join(collections, collections.c.id == collection_papers.c.collection_id)
            .where(collections.c.user_id == user_id)
        )
        union = sa.union(
            sa.select(library_saves.c.paper_id).where(library_saves.c.user_id == user_id),
            members,
            sa.select(votes.c.paper_id).where(votes.c.user_id == user_id),
        )
        with self.read() as connection:
            return set(connection.execute(union).scalars())

    def also_kept(self, paper_id: str, limit: int, min_readers: int = ALSO_KEPT_MIN_READERS) -> list[tuple[str, float]]:
        """(paper id, how many readers kept it too), most first, of the papers kept (saved, in a collection,
        upvoted) by readers who kept `paper_id`; only papers that at least `min_readers` of them kept."""
        kept = sa.union_all(
            sa.select(library_saves.c.user_id, library_saves.c.paper_id, library_saves.c.created_at.label("at")),
            sa.select(
                collections.c.user_id, collection_papers.c.paper_id, collection_papers.c.added_at.label("at")
            ).join(collections, collections.c.id == collection_papers.c.collection_id),
            sa.select(votes.c.user_id, votes.c.paper_id, votes.c.created_at.label("at")),
        ).subquery()
        readers = (
            sa.select(kept.c.user_id).where(kept.c.paper_id == paper_id).group_by(kept.c.user_id)
            .order_by(sa.func.max(kept.c.at).desc(), kept.c.user_id).limit(ALSO_KEPT_MAX_READERS)
        )  # fmt: skip
        with self.read() as connection:
            who = list(connection.execute(readers).scalars())
            if len(who) < min_readers:
                return []
            together = sa.func.count(sa.distinct(kept.c.user_id))
            query = (
                sa.select(kept.c.paper_id, together)
                .where(kept.c.user_id.in_(who), kept.c.paper_id != paper_id)
                .group_by(kept.c.paper_id).having(together >= min_readers)
                .order_by(together.desc(), kept.c.paper_id).limit(limit)
            )  # fmt: skip
            return [(other, float(count)) for other, count in connection.execute(query)]

    def has_kept_papers(self, user_id: int) -> bool:
        """Whether the reader has saved or upvoted anything (collection members are saved too)."""
        query = sa.select(
            sa.or_(sa.exists().where(library_saves.c.user_id == user_id), sa.exists().where(votes.c.user_id == user_id))
        )
        with self.read() as connection:
            return bool(connection.execute(query).scalar_one())

    # ---- followed authors ------------------------------------------------------------------------

    def set_following(self, user_id: int, name: str, follow: bool) -> bool:
        """Follow (or not) an author: one identity per folded name, kept under the first spelling anybody
        followed (so every reader's follow of the same person names them alike)."""
        key = author_key(name)
        with self.write() as connection:
            if follow:
                spelling = connection.execute(
                    sa.select(followed_authors.c.name).where(followed_authors.c.author_key == key).limit(1)
                ).scalar_one_or_none()
                changed = connection.execute(
                    self.insert(followed_authors)
                    .values(
                        user_id=user_id,
                        author_key=key,
                        name=spelling or " ".join(name.split())[:300],
                        created_at=utc_now_iso(),
                    )
                    .on_conflict_do_nothing()
                    .returning(followed_authors.c.author_key)
                ).first()
            else:
                changed = connection.execute(
                    followed_authors.delete()
                    .where(followed_authors.c.user_id == user_id, followed_authors.c.author_key == key)
                    .returning(followed_authors.c.author_key)
                ).first()
            if changed:
                self._bump_feedback(connection, user_id)
        return changed is not None

    def followed_author_names(self, user_id: int) -> list[str]:
        query = (
            sa.select(followed_authors.c.name)
            .where(followed_authors.c.user_id == user_id)
            .order_by(followed_authors.c.created_at, followed_authors.c.author_key)
        )
        with self.read() as connection:
            return list(connection.execute(query).scalars())

    # ---- collections -----------------------------------------------------------------------------

    def create_collection(self, user_id: int, name: str, *, public: bool = False) -> dict[str, Any]:
        """The reader's collection of that name (created, private by default, when missing)."""
        name = " ".join(name.split())[:100]
        if not name:
            raise ValueError("a collection needs a name")
        with self.write() as connection:
            count = connection.execute(sa.select(sa.func.count()).where(collections.c.user_id == user_id)).scalar_one()
            exists = connection.execute(
                sa.select(collections.c.id).where(collections.c.user_id == user_id, collections.c.name == name)
            ).first()
            if exists is None:
                if count >= MAX_COLLECTIONS:
                    raise ValueError(f"at most {MAX_COLLECTIONS} collections per reader")
                now = utc_now_iso()
                connection.execute(
                    self.insert(collections)
                    .values(user_id=user_id, name=name, public=public, created_at=now, updated_at=now)
                    .on_conflict_do_nothing()
                )
            row = connection.execute(
                sa.select(collections).where(collections.c.user_id == user_id, collections.c.name == name)
            ).mappings().one()  # fmt: skip
        return dict(row)

    def get_collection(self, collection_id: int) -> dict[str, Any] | None:
        with self.read() as connection:
            row = connection.execute(sa.select(collections).where(collections.c.id == collection_id)).mappings().first()
        return dict(row) if row else None

    def collection_named(self, user_id: int, name: str) -> dict[str, Any] | None:
        query = sa.select(collections).where(collections.c.user_id == user_id, collections.c.name == name.strip())
        with self.read() as connection:
            row = connection.execute(query).mappings().first()
        return dict(row) if row else None

    def collections_of(self, user_id: int) -> list[dict[str, Any]]:
        """The reader's collections with their sizes, by name."""
        size = (
            sa.select(sa.func.count())
            .where(collection_papers.c.collection_id == collections.c.id)
            .scalar_subquery()
            .label("size")
        )
        query = sa.select(collections, size).where(collections.c.user_id == user_id).order_by(collections.c.name)
        with self.read() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def update_collection(self, collection_id: int, *, public: bool | None = None, name: str | None = None) -> None:
        values: dict[str, Any] = {"updated_at": utc_now_iso()}
        if public is not None:
            values["public"] = public
        if name:
            values["name"] = " ".join(name.split())[:100]
        with self.write() as connection:
            connection.execute(collections.update().where(collections.c.id == collection_id).values(**values))

    def delete_collection(self, collection_id: int) -> None:
        with self.write() as connection:
            owner = connection.execute(
                sa.select(collections.c.user_id).where(collections.c.id == collection_id)
            ).scalar_one_or_none()
            connection.execute(collections.delete().where(collections.c.id == collection_id))
            if owner is not None:
                self._bump_feedback(connection, owner)

    def set_in_collection(self, collection_id: int, paper_id: str, member: bool) -> bool:
        with self.write() as connection:
            owner = connection.execute(
                sa.select(collections.c.user_id).where(collections.c.id == collection_id)
            ).scalar_one()
            if member:
                changed = connection.execute(
                    self.insert(collection_papers)
                    .values(collection_id=collection_id, paper_id=paper_id, added_at=utc_now_iso())
                    .on_conflict_do_nothing()
                    .returning(collection_papers.c.paper_id)
                ).first()
            else:
                changed = connection.execute(
                    collection_papers.delete()
                    .where(collection_papers.c.collection_id == collection_id, collection_papers.c.paper_id == paper_id)
                    .returning(collection_papers.c.paper_id)
                ).first()
            if changed:
                connection.execute(
                    collections.update().where(collections.c.id == collection_id).values(updated_at=utc_now_iso())
                )
                self._bump_feedback(connection, owner)
        return changed is not None

    def collection_papers(self, collection_id: int) -> list[Paper]:
        """A collection's papers, last added first."""
        joined = papers.join(collection_papers, collection_papers.c.paper_id == papers.c.id)
        query = (
            SELECT_PAPERS.add_columns(collection_papers.c.added_at)
            .select_from(joined)
            .where(collection_papers.c.collection_id == collection_id)
            .order_by(collection_papers.c.added_at.desc(), papers.c.id)
        )
        with self.read() as connection:
            return [row_to_paper(row) for row in connection.execute(query).mappings()]

    def collections_holding(self, user_id: int, paper_id: str) -> set[int]:
        query = (
            sa.select(collection_papers.c.collection_id)
            .join(collections, collections.c.id == collection_papers.c.collection_id)
            .where(collections.c.user_id == user_id, collection_papers.c.paper_id == paper_id)
        )
        with self.read() as connection:
            return set(connection.execute(query).scalars())
