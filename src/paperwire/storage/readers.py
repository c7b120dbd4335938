"""Reader queries: feedback versions, stored models and rankings ("For you"), the private feed token, a
reader's paper vectors, and the reader's whole data (export, delete)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from paperwire.models import utc_now_iso
from paperwire.storage.core import StoreCore
from paperwire.storage.records import UserRecord, user_record
from paperwire.storage.schema import (
    catalogue_models,
    collection_papers,
    collections,
    followed_authors,
    library_references,
    library_saves,
    not_interested,
    paper_embeddings,
    papers,
    reader_models,
    reader_rankings,
    submissions,
    subscribers,
    user_sessions,
    users,
    votes,
)


class ReaderQueries(StoreCore):
    """Mixed into Store."""

    # ---- versions and models ---------------------------------------------------------------------

    def feedback_version(self, user_id: int) -> int:
        """The reader's feedback version (0 before any feedback)."""
        with self.read() as connection:
            value = connection.execute(
                sa.select(reader_models.c.feedback_version).where(reader_models.c.user_id == user_id)
            ).scalar_one_or_none()
        return value or 0

    def note_feedback(self, user_id: int) -> None:
        """A signal kept elsewhere (an upvote) changed: the reader's model is out of date."""
        with self.write() as connection:
            self._bump_feedback(connection, user_id)

    def readers_to_refit(self, limit: int = 10_000) -> list[int]:
        """Readers whose feedback changed since their model was fitted."""
        query = (
            sa.select(reader_models.c.user_id)
            .where(
                sa.or_(
                    reader_models.c.model_version.is_(None),
                    reader_models.c.model_version != reader_models.c.feedback_version,
                )
            )
            .order_by(reader_models.c.user_id)
            .limit(limit)
        )
        with self.read() as connection:
            return list(connection.execute(query).scalars())

    def save_reader_model(self, user_id: int, version: int, model: bytes) -> None:
        statement = self.insert(reader_models).values(
            user_id=user_id,
            feedback_version=max(version, 1),
            model_version=version,
            model=model,
            fitted_at=utc_now_iso(),
        )
        with self.write() as connection:
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[reader_models.c.user_id],
                    set_={"model_version": version, "model": model, "fitted_at": statement.excluded.fitted_at},
                )
            )

    def reader_models_of(self, user_ids: Sequence[int] | None = None) -> list[tuple[int, int, bytes]]:
        """(user id, model version, model bytes) of readers with a fitted model (all when ids is None)."""
        query = sa.select(reader_models.c.user_id, reader_models.c.model_version, reader_models.c.model).where(
            reader_models.c.model.is_not(None)
        )
        if user_ids is not None:
            query = query.where(reader_models.c.user_id.in_(list(user_ids)))
        with self.read() as connection:
            return [
                (row.user_id, row.model_version, bytes(row.model))
                for row in connection.execute(query.order_by(reader_models.c.user_id))
            ]

    # ---- models learned from the whole catalogue ----------------------------------------------------

    def save_catalogue_model(self, name: str, model: bytes, papers: int) -> str:
        """Store (or replace) a catalogue-wide model; returns its version (the time it was stored)."""
        now = utc_now_iso()
        statement = self.insert(catalogue_models).values(name=name, model=model, papers=papers, trained_at=now)
        with self.write() as connection:
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[catalogue_models.c.name],
                    set_={"model": model, "papers": papers, "trained_at": now},
                )
            )
        return now

    def catalogue_model_version(self, name: str) -> str | None:
        """The stored model's version (cheap: no blob read), None when there is none."""
        query = sa.select(catalogue_models.c.trained_at).where(catalogue_models.c.name == name)
        with self.read() as connection:
            return connection.execute(query).scalar_one_or_none()

    def catalogue_model(self, name: str) -> tuple[str, bytes] | None:
        """(version, bytes) of the stored model, None when there is none."""
        query = sa.select(catalogue_models.c.trained_at, catalogue_models.c.model).where(
            catalogue_models.c.name == name
        )
        with self.read() as connection:
            row = connection.execute(query).first()
        return (row.trained_at, bytes(row.model)) if row is not None else None

    # ---- stored rankings -------------------------------------------------------------------------

    def period_stamp(self, first_day: str, last_day: str) -> str:
        """What a period's list is made of, cheaply: a ranking made for another stamp is out of date."""
        condition = papers.c.listed_on.between(first_day, last_day)
        with self.read() as connection:
            row = connection.execute(
                sa.select(sa.func.count(), sa.func.min(papers.c.id), sa.func.max(papers.c.id)).where(condition)
            ).one()
        return f"{row[0]}:{row[1] or ''}:{row[2] or ''}"

    def get_ranking(self, user_id: int, period_label: str) -> dict[str, Any] | None:
        query = sa.select(reader_rankings).where(
            reader_rankings.c.user_id == user_id, reader_rankings.c.period_label == period_label
        )
        with self.read() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            return None
        result = dict(row)
        result["items"] = orjson.loads(result["items"])
        return result

    def save_rankings(self, rows: Sequence[dict[str, Any]]) -> None:
        """Store rankings: each row has user_id, period_label, feedback_version, catalogue_stamp, items."""
        if not rows:
            return
        now = utc_now_iso()
        values = [{**row, "items": orjson.dumps(row["items"]).decode(), "computed_at": now} for row in rows]
        statement = self.insert(reader_rankings)
        statement = statement.on_conflict_do_update(
            index_elements=[reader_rankings.c.user_id, reader_rankings.c.period_label],
            set_={
                name: statement.excluded[name]
                for name in ("feedback_version", "catalogue_stamp", "items", "computed_at")
            },
        )
        with self.write() as connection:
            connection.execute(statement, values)

    # ---- the private feed token --------------------------------------------------------------------

    def set_feed_token(self, user_id: int, token_hash: str | None) -> None:
        """Store a new feed token's hash (None revokes the feed)."""
        statement = self.insert(reader_models).values(user_id=user_id, feedback_version=1, feed_token_hash=token_hash)
        with self.write() as connection:
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[reader_models.c.user_id], set_={"feed_token_hash": token_hash}
                )
            )

    def has_feed_token(self, user_id: int) -> bool:
        with self.read() as connection:
            return (
                connection.execute(
                    sa.select(reader_models.c.feed_token_hash).where(reader_models.c.user_id == user_id)
                ).scalar_one_or_none()
                is not None
            )

    def user_for_feed_token(self, token_hash: str) -> UserRecord | None:
        query = (
            sa.select(users)
            .join(reader_models, reader_models.c.user_id == users.c.id)
            .where(reader_models.c.feed_token_hash == token_hash)
        )
        with self.read() as connection:
            row = connection.execute(query).mappings().first()
        return user_record(row) if row else None

    # ---- features ---------------------------------------------------------------------------------

    def paper_vectors(self, paper_ids: Sequence[str], models: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        """id → (model, vector blob): each paper's vector of the first model in `models` that has one."""
        found: dict[str, tuple[str, bytes]] = {}
        if not models:
            return found
        rank = {model: position for position, model in enumerate(models)}
        ids = list(paper_ids)
        with self.read() as connection:
            for start in range(0, len(ids), 500):
                rows = connection.execute(
                    sa.select(paper_embeddings.c.paper_id, paper_embeddings.c.model, paper_embeddings.c.vector).where(
                        paper_embeddings.c.paper_id.in_(ids[start : start + 500]),
                        paper_embeddings.c.model.in_(list(models)),
                    )
                )
                for paper_id, model, blob in rows:
                    held = found.get(paper_id)
                    if held is None or rank[model] < rank[held[0]]:
                        found[paper_id] = (model, bytes(blob))
        return found

    def subscriber_interests_for(self, email: str) -> str | None:
        """The interests JSON of the subscription with this address (any state), if there is one."""
        with self.read() as connection:
            return connection.execute(
                sa.select(subscribers.c.interests).where(subscribers.c.email_key == email.strip().lower())
            ).scalar_one_or_none()

    def users_by_emails(self, emails: Sequence[str]) -> dict[str, int]:
        """lower-cased address → user id, for the addresses that belong to an account."""
        keys = sorted({email.strip().lower() for email in emails})
        found: dict[str, int] = {}
        with self.read() as connection:
            for start in range(0, len(keys), 500):
                rows = connection.execute(
                    sa.select(users.c.email, users.c.id).where(users.c.email.in_(keys[start : start + 500]))
                )
                found.update({email: user_id for email, user_id in rows})
        return found

    # ---- the reader's data ---------------------------------------------------------------------------

    def reader_data(self, user_id: int) -> dict[str, Any]:
        """Everything paperwire keeps about a reader (their data export)."""
        with self.read() as connection:
            user = connection.execute(sa.select(users).where(users.c.id == user_id)).mappings().one()

            def ids(table: sa.Table, stamp: str) -> list[dict[str, str]]:
                rows = connection.execute(
                    sa.select(table.c.paper_id, table.c[stamp])
                    .where(table.c.user_id == user_id)
                    .order_by(table.c[stamp])
                )
                return [{"paper_id": paper_id, "at": at} for paper_id, at in rows]

            owned = connection.execute(
                sa.select(collections).where(collections.c.user_id == user_id).order_by(collections.c.name)
            ).mappings().all()  # fmt: skip
            collection_list = []
            for collection in owned:
                members = connection.execute(
                    sa.select(collection_papers.c.paper_id)
                    .where(collection_papers.c.collection_id == collection["id"])
                    .order_by(collection_papers.c.added_at)
                ).scalars()
                collection_list.append({"name": collection["name"], "public": bool(collection["public"]),
                                        "created_at": collection["created_at"], "papers": list(members)})  # fmt: skip
            references = [
                {
                    "arxiv_id": row.arxiv_id, "doi": row.doi, "title": row.title, "authors": orjson.loads(row.authors),
                    "year": row.year, "citation_key": row.citation_key, "paper_id": row.paper_id,
                    "created_at": row.created_at,
                }
                for row in connection.execute(
                    sa.select(library_references).where(library_references.c.user_id == user_id)
                )
            ]  # fmt: skip
            follows = [
                {"name": name, "at": at}
                for name, at in connection.execute(
                    sa.select(followed_authors.c.name, followed_authors.c.created_at).where(
                        followed_authors.c.user_id == user_id
                    )
                )
            ]
            submitted = ids(submissions, "submitted_at")
            feed = connection.execute(
                sa.select(reader_models.c.feed_token_hash).where(reader_models.c.user_id == user_id)
            ).scalar_one_or_none()
            return {
                "account": {"email": user["email"], "name": user["name"], "created_at": user["created_at"]},
                "upvotes": ids(votes, "created_at"),
                "saved": ids(library_saves, "created_at"),
                "not_interested": ids(not_interested, "created_at"),
                "followed_authors": follows,
                "collections": collection_list,
                "references": references,
                "submissions": submitted,
                "private_feed": feed is not None,
            }

    def delete_user(self, user_id: int) -> bool:
        """Remove the account and everything of it (votes leave the papers' counts too)."""
        with self.write(papers=True) as connection:
            voted = list(connection.execute(sa.select(votes.c.paper_id).where(votes.c.user_id == user_id)).scalars())
            for start in range(0, len(voted), 500):
                connection.execute(
                    papers.update()
                    .where(papers.c.id.in_(voted[start : start + 500]))
                    .values(
                        upvotes=sa.case((papers.c.upvotes > 0, papers.c.upvotes - 1), else_=0), changed_at=utc_now_iso()
                    )
                )
            name = connection.execute(sa.select(users.c.name).where(users.c.id == user_id)).scalar_one_or_none()
            if name is None:
                return False
            submitted = sa.select(submissions.c.paper_id).where(submissions.c.user_id == user_id)
            connection.execute(papers.update().where(papers.c.id.in_(submitted)).values(submitted_by=None))
            # Explicit deletes, children first (the foreign keys cascade as well).
            owned = sa.select(collections.c.id).where(collections.c.user_id == user_id)
            connection.execute(collection_papers.delete().where(collection_papers.c.collection_id.in_(owned)))
            for table in (
                library_references, collections, library_saves, not_interested, followed_authors, reader_rankings,
                reader_models, votes, submissions, user_sessions,
            ):  # fmt: skip
                connection.execute(table.delete().where(table.c.user_id == user_id))
            connection.execute(users.delete().where(users.c.id == user_id))
        return True
