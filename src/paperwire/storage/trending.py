"""Trending queries: papers whose signals changed, signal histories, stored rank keys, trending orders.

The maths and the reasons live in paperwire.trending; this is its SQL only. Mixed into Store.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from paperwire.models import Paper, utc_now_iso
from paperwire.storage.core import StoreCore
from paperwire.storage.papers import SELECT_PAPERS, PaperPage, listed_in, read_page, row_to_paper
from paperwire.storage.schema import paper_signals, papers, trending_scores


class TrendingQueries(StoreCore):
    """Mixed into Store."""

    def trending_candidates_after(self, changed_at: str, paper_id: str, *, limit: int) -> list[tuple[str, str]]:
        """(id, changed_at) of papers with signals whose row changed after the (changed_at, id) cursor,
        in cursor order: the papers whose trending score may have changed."""
        after = sa.or_(
            papers.c.changed_at > changed_at, sa.and_(papers.c.changed_at == changed_at, papers.c.id > paper_id)
        )
        has_signals = sa.exists().where(paper_signals.c.paper_id == papers.c.id)
        query = (
            sa.select(papers.c.id, papers.c.changed_at)
            .where(after, has_signals)
            .order_by(papers.c.changed_at, papers.c.id)
            .limit(limit)
        )
        with self.read() as connection:
            return [(row.id, row.changed_at) for row in connection.execute(query)]

    def signals_of(self, paper_ids: Sequence[str]) -> dict[str, list[dict]]:
        """The signal history of each paper, oldest observation first."""
        history: dict[str, list[dict]] = {paper_id: [] for paper_id in paper_ids}
        ids = list(paper_ids)
        with self.read() as connection:
            for start in range(0, len(ids), 500):
                rows = connection.execute(
                    sa.select(paper_signals)
                    .where(paper_signals.c.paper_id.in_(ids[start : start + 500]))
                    .order_by(paper_signals.c.paper_id, paper_signals.c.observed_at)
                ).mappings()
                for row in rows:
                    history[row["paper_id"]].append(dict(row))
        return history

    def listing_days_of(self, paper_ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
        """(listed_on, published_at) of each paper: when its first observed signals began to accrue."""
        found: dict[str, tuple[str | None, str | None]] = {}
        ids = list(paper_ids)
        with self.read() as connection:
            for start in range(0, len(ids), 500):
                query = sa.select(papers.c.id, papers.c.listed_on, papers.c.published_at).where(
                    papers.c.id.in_(ids[start : start + 500])
                )
                found.update({row.id: (row.listed_on, row.published_at) for row in connection.execute(query)})
        return found

    def papers_observed_since(self, since: str, *, limit: int) -> list[str]:
        """Ids of papers with a signal observed at or after `since` (ISO time), latest first."""
        latest = sa.func.max(paper_signals.c.observed_at)
        query = (
            sa.select(paper_signals.c.paper_id)
            .where(paper_signals.c.observed_at >= since[:19] + "Z")
            .group_by(paper_signals.c.paper_id)
            .order_by(latest.desc(), paper_signals.c.paper_id)
            .limit(limit)
        )
        with self.read() as connection:
            return list(connection.execute(query).scalars())

    def save_trending_scores(self, scores: dict[str, float | None]) -> None:
        """Store rank keys; None removes a paper from trending (no growth at all)."""
        now = utc_now_iso()
        keep = [{"paper_id": k, "rank_key": v, "computed_at": now} for k, v in scores.items() if v is not None]
        drop = [k for k, v in scores.items() if v is None]
        with self.write() as connection:
            if keep:
                statement = self.insert(trending_scores)
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=[trending_scores.c.paper_id],
                        set_={"rank_key": statement.excluded.rank_key, "computed_at": statement.excluded.computed_at},
                    ),
                    keep,
                )
            for start in range(0, len(drop), 500):
                connection.execute(
                    trending_scores.delete().where(trending_scores.c.paper_id.in_(drop[start : start + 500]))
                )

    def trending_papers(
        self, *, limit: int = 50, offset: int = 0, first_day: str | None = None, last_day: str | None = None,
        submitter: str | None = None,
    ) -> tuple[list[tuple[Paper, float]], int]:  # fmt: skip
        """Papers by stored trending rank, best first, optionally within listed days; with the total."""
        condition: sa.ColumnElement[bool] = sa.true()
        if first_day and last_day:
            condition = sa.and_(condition, papers.c.listed_on.between(first_day, last_day))
        if submitter:
            condition = sa.and_(condition, papers.c.submitted_by == submitter)
        joined = papers.join(trending_scores, trending_scores.c.paper_id == papers.c.id)
        query = (
            SELECT_PAPERS.add_columns(trending_scores.c.rank_key)
            .select_from(joined)
            .where(condition)
            .order_by(trending_scores.c.rank_key.desc(), papers.c.id)
            .limit(limit)
            .offset(offset)
        )
        with self.read() as connection:
            total = connection.execute(sa.select(sa.func.count()).select_from(joined).where(condition)).scalar_one()
            rows = connection.execute(query).mappings().all()
        return [(row_to_paper(row), row["rank_key"]) for row in rows], total

    def papers_listed_between_by_trending(
        self, first_day: str, last_day: str, *, limit: int, offset: int, submitter: str | None = None
    ) -> PaperPage:
        """A period's papers, trending first, then the rest most upvoted first."""
        condition = listed_in(first_day, last_day, submitter)
        joined = papers.outerjoin(trending_scores, trending_scores.c.paper_id == papers.c.id)
        query = (
            SELECT_PAPERS.select_from(joined)
            .where(condition)
            .order_by(
                trending_scores.c.rank_key.is_(None),
                trending_scores.c.rank_key.desc(),
                papers.c.upvotes.desc(),
                papers.c.id,
            )  # fmt: skip
            .limit(limit)
            .offset(offset)
        )
        with self.read() as connection:
            return read_page(connection, query, condition)
