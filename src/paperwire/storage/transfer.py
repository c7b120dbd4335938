"""Whole-database operations: copy every table between two URLs, compare them, back SQLite up online."""

from __future__ import annotations

import base64
import datetime
import decimal
import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import sqlalchemy as sa

from paperwire.storage.store import Store, open_store

BATCH_ROWS = 2000
SKIPPED_TABLES = {"alembic_version"}  # each side keeps its own migration state
HASH_MODULUS = 2**128

# progress(table, rows_done_since_last_call, table_total)
CopyProgress = Callable[[str, int, int], None]


@dataclass(slots=True)
class TableSummary:
    table: str
    rows: int
    checksum: str  # order-independent: sum of per-row hashes modulo 2**128, in hex


@dataclass(slots=True)
class Comparison:
    table: str
    source: TableSummary | None
    destination: TableSummary | None

    @property
    def equal(self) -> bool:
        return (
            self.source is not None
            and self.destination is not None
            and (self.source.rows, self.source.checksum) == (self.destination.rows, self.destination.checksum)
        )


def reflect(engine: sa.Engine) -> sa.MetaData:
    metadata = sa.MetaData()
    metadata.reflect(bind=engine)
    return metadata


def data_tables(metadata: sa.MetaData) -> list[sa.Table]:
    """The tables that hold data, parents before children (foreign-key order)."""
    return [table for table in metadata.sorted_tables if table.name not in SKIPPED_TABLES]


def copy_database(source_url: str, destination_url: str, progress: CopyProgress | None = None) -> list[str]:
    """Copy every table of `source_url` into `destination_url`, migrated first, which must be empty.

    Rows are streamed in batches; each table lands in one transaction. Returns the tables copied.
    """
    source = Store(source_url)
    destination = open_store(destination_url)
    try:
        if source.pending_migrations():
            raise ValueError("the source database is not fully migrated: run `paperwire db upgrade` on it first")
        source_tables = {table.name: table for table in data_tables(reflect(source.engine))}
        destination_tables = data_tables(reflect(destination.engine))
        with destination.read() as connection:
            non_empty = [
                table.name for table in destination_tables
                if connection.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first()
            ]  # fmt: skip
        if non_empty:
            raise ValueError(f"the destination is not empty (rows in {', '.join(non_empty)})")
        copied = []
        for table in destination_tables:
            if table.name not in source_tables:
                continue
            _copy_table(source, source_tables[table.name], destination, table, progress)
            copied.append(table.name)
        if destination.dialect == "postgresql":
            _advance_sequences(destination, destination_tables)
            # Fresh statistics, or the planner guesses (badly) until autovacuum gets round to it.
            with destination.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        return copied
    finally:
        source.close()
        destination.close()


def _copy_table(
    source: Store, source_table: sa.Table, destination: Store, table: sa.Table, progress: CopyProgress | None
) -> None:
    names = [column.name for column in table.columns if column.name in source_table.columns]
    query = sa.select(*(source_table.c[name] for name in names))
    key = list(source_table.primary_key.columns)
    if key:
        query = query.order_by(*key)  # parents in the same table (none today) come first by key order
    with source.engine.connect() as reader, destination.write() as writer:
        total = reader.execute(sa.select(sa.func.count()).select_from(source_table)).scalar_one()
        if progress:
            progress(table.name, 0, total)
        result = reader.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(query)
        for rows in result.partitions(BATCH_ROWS):
            writer.execute(table.insert(), [dict(zip(names, row, strict=True)) for row in rows])
            if progress:
                progress(table.name, len(rows), total)


def _advance_sequences(store: Store, tables: list[sa.Table]) -> None:
    """Rows arrive with their ids, so each serial/identity sequence must move past the largest one."""
    with store.write() as connection:
        for table in tables:
            for column in table.primary_key.columns:
                if not isinstance(column.type, sa.Integer):
                    continue
                sequence = connection.execute(
                    sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
                    {"table": table.name, "column": column.name},
                ).scalar_one()
                if sequence:
                    connection.execute(
                        sa.text(
                            f'SELECT setval(:sequence, COALESCE((SELECT max("{column.name}") FROM "{table.name}"), 0) + 1,'
                            " false)"
                        ),
                        {"sequence": sequence},
                    )


def normalise(value: object) -> str:
    """One text form per value, the same whichever backend returned it."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "b64:" + base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value.normalize())
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return str(value)


def summarise_tables(url: str) -> dict[str, TableSummary]:
    """Row count and an order-independent checksum of every data table."""
    store = Store(url)
    try:
        summaries = {}
        for table in data_tables(reflect(store.engine)):
            columns = sorted(table.columns, key=lambda column: column.name)
            header = "\x1f".join(column.name for column in columns)
            total, count = 0, 0
            with store.engine.connect() as connection:  # a transaction: streamed with a server-side cursor
                result = connection.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(
                    sa.select(*columns)
                )
                for row in result:
                    text = header + "\x1e" + "\x1f".join(normalise(value) for value in row)
                    total += int.from_bytes(hashlib.blake2b(text.encode(), digest_size=16).digest(), "big")
                    count += 1
            summaries[table.name] = TableSummary(table.name, count, f"{total % HASH_MODULUS:032x}")
        return summaries
    finally:
        store.close()


def compare_databases(source_url: str, destination_url: str) -> list[Comparison]:
    source = summarise_tables(source_url)
    destination = summarise_tables(destination_url)
    names = list(source) + [name for name in destination if name not in source]
    return [Comparison(name, source.get(name), destination.get(name)) for name in names]


def backup_sqlite(url: str, target: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """A consistent copy of a live SQLite database (the online backup API: writers keep going)."""
    database = sa.make_url(url).database
    if not database or database == ":memory:" or not Path(database).exists():
        raise ValueError(f"no SQLite database file at {url!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(database) as source_connection, sqlite3.connect(target) as target_connection:

        def report(_status: int, remaining: int, total: int) -> None:
            if progress:
                progress(total - remaining, total)

        source_connection.backup(target_connection, pages=1024, progress=report)
    source_connection.close()
    target_connection.close()
    return target
