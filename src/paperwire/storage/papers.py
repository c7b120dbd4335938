"""Paper queries: upsert with the identity and update rules, listings by period, export."""

from __future__ import annotations

import operator
import zlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import orjson
import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler

from paperwire.models import ImportReport, Paper, merge_papers, normalise_title, utc_now_iso
from paperwire.storage.core import StoreCore
from paperwire.storage.schema import paper_signals, papers

PAPER_COLUMNS = (
    "id", "version", "title", "abstract", "authors", "categories", "published_at", "updated_at",
    "listed_on", "listed_from", "submitted_by", "upvotes", "comments", "github_repo", "github_stars",
    "project_page", "keywords", "comment", "observed_at",
)  # fmt: skip
LIST_COLUMNS = ("authors", "categories", "keywords")
ORDER_BY_VOTES = (papers.c.upvotes.desc(), papers.c.published_at.desc(), papers.c.id)


@dataclass(slots=True)
class PaperPage:
    papers: list[Paper]
    total: int


PAPER_VALUES = operator.attrgetter(*PAPER_COLUMNS)
# A stored row, in the table's column order (what the driver's positional parameters follow): the paper's
# fields with its primary category after its categories, then the title's key and hash and the time of change.
ROW_COLUMNS = (*PAPER_COLUMNS[:6], "primary_category", *PAPER_COLUMNS[6:], "title_key", "changed_at", "title_hash")
LIST_POSITIONS = tuple(PAPER_COLUMNS.index(name) for name in LIST_COLUMNS)
PRIMARY_CATEGORY_AT = ROW_COLUMNS.index("primary_category")


def title_hash(title_key: str) -> int:
    """What the title index holds: 31 bits of a normalised title (lookups compare the title as well). An index
    of the titles themselves was a third of an import's database time (0.14 of 0.49 s CPU for 26.5k papers)."""
    return zlib.crc32(title_key.encode()) & 0x7FFFFFFF


def titled(keys: Collection[str]) -> sa.ColumnElement[bool]:
    """Papers whose normalised title is one of `keys` (through the title index)."""
    return sa.and_(papers.c.title_hash.in_(sorted({title_hash(key) for key in keys})), papers.c.title_key.in_(keys))


def paper_to_row(paper: Paper, changed_at: str) -> tuple:
    """The values of ROW_COLUMNS for `paper`, in that order (bulk inserts pass them to the driver as they are)."""
    row: list = list(PAPER_VALUES(paper))
    for position in LIST_POSITIONS:
        row[position] = orjson.dumps(row[position]).decode()  # tuples serialise as arrays
    row.insert(PRIMARY_CATEGORY_AT, paper.categories[0] if paper.categories else None)
    key = normalise_title(paper.title)
    row += (key, changed_at, title_hash(key))
    return tuple(row)


def row_to_paper(row: sa.RowMapping) -> Paper:
    values = {name: row[name] for name in PAPER_COLUMNS}
    for name in LIST_COLUMNS:
        values[name] = tuple(orjson.loads(values[name]))
    return Paper(**values)


def execute_many(connection: sa.Connection, statement: sa.ClauseElement, columns: Sequence[str], rows: list) -> None:
    """executemany through the driver with a statement compiled once: the hot path of bulk imports
    (SQLAlchemy's per-row parameter processing costs as much as the insert itself). `rows` hold the values
    of `columns` in that order: passed as they are where the driver's parameters are positional in that order."""
    compiled = cast(SQLCompiler, statement.compile(dialect=connection.dialect))
    if compiled.positional and tuple(compiled.positiontup or ()) == tuple(columns):
        connection.exec_driver_sql(str(compiled), rows)
    elif compiled.positional:
        places = [columns.index(name) for name in compiled.positiontup or ()]
        connection.exec_driver_sql(str(compiled), [tuple(row[i] for i in places) for row in rows])
    else:
        connection.exec_driver_sql(str(compiled), [dict(zip(columns, row, strict=True)) for row in rows])


SELECT_PAPERS = sa.select(*(papers.c[name] for name in PAPER_COLUMNS))


def read_page(connection: sa.Connection, query: sa.Select, condition: sa.ColumnElement[bool]) -> PaperPage:
    """The papers `query` selects (one page of them) and how many papers `condition` matches in all."""
    total = connection.execute(sa.select(sa.func.count()).select_from(papers).where(condition)).scalar_one()
    return PaperPage([row_to_paper(row) for row in connection.execute(query).mappings()], total)


def listed_in(first_day: str, last_day: str, submitter: str | None = None) -> sa.ColumnElement[bool]:
    """Papers listed in [first_day, last_day] (and submitted by `submitter`, when given)."""
    condition: sa.ColumnElement[bool] = papers.c.listed_on.between(first_day, last_day)
    return sa.and_(condition, papers.c.submitted_by == submitter) if submitter else condition


class PaperQueries(StoreCore):
    """Mixed into Store."""

    def upsert_papers(
        self, batch: Sequence[Paper], report: ImportReport | None = None,
        checkpoint: tuple[str, str] | None = None,
    ) -> ImportReport:  # fmt: skip
        """Insert new papers and merge known ones, in one transaction (all or nothing).

        `checkpoint` (name, value) is stored in the same transaction: a resumable job's position
        moves exactly when its batch lands."""
        report = report if report is not None else ImportReport()
        with self.write(papers=True) as connection:
            self.backend.lock_for_upsert(connection)
            if checkpoint is not None:
                self.set_checkpoint(*checkpoint, connection=connection)
            incoming = self._resolve_identities(connection, batch)
            stored = self._papers_by_id(connection, {paper.id for paper in incoming})
            merged: dict[str, Paper] = {}
            for paper in incoming:
                base = merged.get(paper.id) or stored.get(paper.id)
                merged[paper.id] = merge_papers(base, paper) if base is not None else paper
            changed_at = utc_now_iso()
            new_rows, changed_rows = [], []
            for paper_id, paper in merged.items():
                before = stored.get(paper_id)
                if before is None:
                    new_rows.append(paper_to_row(paper, changed_at))
                elif before != paper:
                    changed_rows.append(paper_to_row(paper, changed_at))
            if new_rows:
                # A concurrent importer may have added the same paper meanwhile: its row stands,
                # and a rerun merges ours into it.
                insert_new = self.insert(papers).values({name: sa.bindparam(name) for name in ROW_COLUMNS})
                execute_many(connection, insert_new.on_conflict_do_nothing(), ROW_COLUMNS, new_rows)
            if changed_rows:
                update = (
                    papers.update()
                    .where(papers.c.id == sa.bindparam("key"))
                    .values({name: sa.bindparam(name) for name in ROW_COLUMNS if name != "id"})
                )
                connection.execute(update, [{**dict(zip(ROW_COLUMNS, row)), "key": row[0]} for row in changed_rows])
            signal_rows = [
                {"paper_id": p.id, "observed_at": p.observed_at, "upvotes": p.upvotes,
                 "comments": p.comments, "github_stars": p.github_stars}
                for p in incoming if p.observed_at
            ]  # fmt: skip
            if signal_rows:
                connection.execute(self.insert(paper_signals).on_conflict_do_nothing(), signal_rows)
        report.added += len(new_rows)
        report.updated += len(changed_rows)
        report.unchanged += len(batch) - len(new_rows) - len(changed_rows)
        return report

    def _resolve_identities(self, connection: sa.Connection, batch: Sequence[Paper]) -> list[Paper]:
        """Papers known only by title take the id of a stored paper with the same normalised title."""
        untitled_ids = {normalise_title(p.title): p for p in batch if p.id.startswith("t-")}
        if not untitled_ids:
            return list(batch)
        found = dict(connection.execute(sa.select(papers.c.title_key, papers.c.id).where(titled(untitled_ids))).all())
        resolved = []
        for paper in batch:
            key = normalise_title(paper.title) if paper.id.startswith("t-") else None
            if key in found and found[key] != paper.id:
                paper = Paper(**{**{n: getattr(paper, n) for n in PAPER_COLUMNS}, "id": found[key]})
            resolved.append(paper)
        return resolved

    def _papers_by_id(self, connection: sa.Connection, ids: Iterable[str]) -> dict[str, Paper]:
        result: dict[str, Paper] = {}
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            for row in connection.execute(SELECT_PAPERS.where(papers.c.id.in_(chunk))).mappings():
                result[row["id"]] = row_to_paper(row)
        return result

    def get_paper(self, paper_id: str) -> Paper | None:
        with self.read() as connection:
            row = connection.execute(SELECT_PAPERS.where(papers.c.id == paper_id)).mappings().first()
        return row_to_paper(row) if row else None

    def get_papers(self, paper_ids: Sequence[str]) -> list[Paper]:
        """The papers with these ids, in the given order (unknown ids left out)."""
        with self.read() as connection:
            found = self._papers_by_id(connection, paper_ids)
        return [found[paper_id] for paper_id in paper_ids if paper_id in found]

    def papers_listed_between(
        self, first_day: str, last_day: str, *, limit: int = 50, offset: int = 0,
        submitter: str | None = None, order: str = "upvotes",
    ) -> PaperPage:  # fmt: skip
        """Papers whose listed_on falls in [first_day, last_day], most upvoted first."""
        condition = listed_in(first_day, last_day, submitter)
        order_by = ORDER_BY_VOTES if order == "upvotes" else (papers.c.published_at.desc(), papers.c.id)
        # Sort narrow rows (ids) and read whole rows for the page only: a period holds hundreds to
        # thousands of papers, each with its abstract (2x faster for a day, 2x for a month).
        page_ids = sa.select(papers.c.id).where(condition).order_by(*order_by).limit(limit).offset(offset)
        with self.read() as connection:
            total = connection.execute(sa.select(sa.func.count()).where(condition)).scalar_one()
            rows = connection.execute(
                SELECT_PAPERS.where(papers.c.id.in_(page_ids.scalar_subquery())).order_by(*order_by)
            ).mappings()
            return PaperPage([row_to_paper(row) for row in rows], total)

    def catalogue_version(self) -> str | None:
        """The latest `changed_at` of any paper: every write to a paper (import, vote, claim) moves it."""
        with self.read() as connection:
            return connection.execute(sa.select(sa.func.max(papers.c.changed_at))).scalar()

    def latest_listed_day(self, on_or_before: str | None = None) -> str | None:
        query = sa.select(sa.func.max(papers.c.listed_on))
        if on_or_before:
            query = query.where(papers.c.listed_on <= on_or_before)
        with self.read() as connection:
            return connection.execute(query).scalar_one()

    def papers_per_listed_day(self, first_day: str, last_day: str) -> dict[str, int]:
        """How many papers were listed on each day from `first_day` to `last_day` (days without papers left out)."""
        query = (
            sa.select(papers.c.listed_on, sa.func.count())
            .where(papers.c.listed_on >= first_day, papers.c.listed_on <= last_day)
            .group_by(papers.c.listed_on)
        )
        with self.read() as connection:
            return {day: count for day, count in connection.execute(query)}

    def neighbour_listed_days(self, first_day: str, last_day: str) -> tuple[str | None, str | None]:
        """The nearest days with papers before `first_day` and after `last_day`."""
        query = sa.select(  # one round trip: both are index lookups
            sa.select(sa.func.max(papers.c.listed_on)).where(papers.c.listed_on < first_day).scalar_subquery(),
            sa.select(sa.func.min(papers.c.listed_on)).where(papers.c.listed_on > last_day).scalar_subquery(),
        )
        with self.read() as connection:
            before, after = connection.execute(query).one()
        return before, after

    def period_page(
        self, first_day: str, last_day: str, *, limit: int = 50, offset: int = 0
    ) -> tuple[PaperPage, str | None, str | None]:
        """A listing page and the nearest listed days around it, in two statements on one connection.

        What the period pages need on every request: the same as `papers_listed_between` plus
        `neighbour_listed_days`, with one round trip and one pool checkout fewer.
        """
        in_period = papers.c.listed_on.between(first_day, last_day)
        figures = sa.select(
            sa.select(sa.func.count()).where(in_period).scalar_subquery(),
            sa.select(sa.func.max(papers.c.listed_on)).where(papers.c.listed_on < first_day).scalar_subquery(),
            sa.select(sa.func.min(papers.c.listed_on)).where(papers.c.listed_on > last_day).scalar_subquery(),
        )
        page_ids = sa.select(papers.c.id).where(in_period).order_by(*ORDER_BY_VOTES).limit(limit).offset(offset)
        with self.read() as connection:
            total, before, after = connection.execute(figures).one()
            rows = connection.execute(
                SELECT_PAPERS.where(papers.c.id.in_(page_ids.scalar_subquery())).order_by(*ORDER_BY_VOTES)
            ).mappings()
            return PaperPage([row_to_paper(row) for row in rows], total), before, after

    def count_papers(self) -> int:
        with self.read() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()

    def iter_papers(self, batch_size: int = 1000) -> Iterator[Paper]:
        """Every paper in id order, read in keyset pages (constant memory)."""
        last_id = ""
        while True:
            with self.read() as connection:
                rows = list(
                    connection.execute(
                        SELECT_PAPERS.where(papers.c.id > last_id).order_by(papers.c.id).limit(batch_size)
                    ).mappings()
                )
            if not rows:
                return
            for row in rows:
                yield row_to_paper(row)
            last_id = rows[-1]["id"]

    def signal_history(self, paper_id: str) -> list[dict]:
        with self.read() as connection:
            rows = connection.execute(
                sa.select(paper_signals)
                .where(paper_signals.c.paper_id == paper_id)
                .order_by(paper_signals.c.observed_at)
            ).mappings()
            return [dict(row) for row in rows]
