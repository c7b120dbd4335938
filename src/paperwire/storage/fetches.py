"""arXiv fetches requested through /submit: queued rows that a background fetcher works through."""

from __future__ import annotations

import sqlalchemy as sa

from paperwire.models import utc_now_iso
from paperwire.storage.core import StoreCore, inserted_id
from paperwire.storage.schema import arxiv_fetches

PENDING = ("queued", "fetching")


class FetchQueueFull(Exception):
    """Too many fetches are waiting: `scope` is "reader" (this reader's own) or "site" (everyone's)."""

    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"{limit} arXiv fetches already waiting ({scope})")
        self.scope = scope
        self.limit = limit


class FetchQueries(StoreCore):
    """Mixed into Store."""

    def queue_arxiv_fetch(
        self, user_id: int, paper_id: str, version: int | None, *, per_reader: int, total: int
    ) -> int:
        """The id of a fetch of `paper_id` for this reader: the one already waiting, or a new one.
        FetchQueueFull when the reader or the whole site has too many waiting."""
        with self.write() as connection:
            waiting = connection.execute(
                sa.select(arxiv_fetches.c.id).where(
                    arxiv_fetches.c.user_id == user_id, arxiv_fetches.c.paper_id == paper_id,
                    arxiv_fetches.c.status.in_(PENDING),
                )
            ).scalar()  # fmt: skip
            if waiting is not None:
                return waiting
            mine = connection.execute(
                sa.select(sa.func.count()).where(
                    arxiv_fetches.c.user_id == user_id, arxiv_fetches.c.status.in_(PENDING)
                )
            ).scalar_one()
            if mine >= per_reader:
                raise FetchQueueFull("reader", per_reader)
            everyone = connection.execute(
                sa.select(sa.func.count()).where(arxiv_fetches.c.status.in_(PENDING))
            ).scalar_one()
            if everyone >= total:
                raise FetchQueueFull("site", total)
            now = utc_now_iso()
            return inserted_id(
                connection.execute(
                    arxiv_fetches.insert().values(
                        user_id=user_id, paper_id=paper_id, version=version, status="queued", created_at=now,
                        updated_at=now,
                    )
                )
            )  # fmt: skip

    def get_arxiv_fetch(self, fetch_id: int) -> dict | None:
        with self.read() as connection:
            row = connection.execute(sa.select(arxiv_fetches).where(arxiv_fetches.c.id == fetch_id)).first()
        return dict(row._mapping) if row else None

    def has_queued_arxiv_fetch(self) -> bool:
        with self.read() as connection:
            found = connection.execute(sa.select(arxiv_fetches.c.id).where(arxiv_fetches.c.status == "queued").limit(1))
            return found.first() is not None

    def claim_arxiv_fetch(self) -> dict | None:
        """Take the oldest queued fetch (only one fetcher gets each)."""
        with self.write() as connection:
            for fetch_id in connection.execute(
                sa.select(arxiv_fetches.c.id)
                .where(arxiv_fetches.c.status == "queued")
                .order_by(arxiv_fetches.c.id)
                .limit(5)
            ).scalars():
                taken = connection.execute(
                    arxiv_fetches.update()
                    .where(arxiv_fetches.c.id == fetch_id, arxiv_fetches.c.status == "queued")
                    .values(status="fetching", updated_at=utc_now_iso())
                ).rowcount
                if taken:
                    row = connection.execute(sa.select(arxiv_fetches).where(arxiv_fetches.c.id == fetch_id)).first()
                    return dict(row._mapping) if row is not None else None
        return None

    def finish_arxiv_fetch(self, fetch_id: int, status: str, message: str) -> None:
        with self.write() as connection:
            connection.execute(
                arxiv_fetches.update()
                .where(arxiv_fetches.c.id == fetch_id)
                .values(status=status, message=message[:1000], updated_at=utc_now_iso())
            )

    def fail_stale_arxiv_fetches(self, before: str, message: str) -> int:
        """Fetches left `fetching` since before `before` (their process died): failed, with `message`."""
        with self.write() as connection:
            return connection.execute(
                arxiv_fetches.update()
                .where(arxiv_fetches.c.status == "fetching", arxiv_fetches.c.updated_at < before)
                .values(status="failed", message=message, updated_at=utc_now_iso())
            ).rowcount
