"""The Store: the one interface to the database. Callers speak use cases; only storage speaks SQL."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from importlib import resources
from types import ModuleType
from typing import TYPE_CHECKING

import sqlalchemy as sa

from paperwire.storage import sqlite
from paperwire.storage.fetches import FetchQueries
from paperwire.storage.jobs import JobQueries
from paperwire.storage.library import LibraryQueries
from paperwire.storage.live import LiveQueries
from paperwire.storage.mail import MailQueries
from paperwire.storage.papers import PaperQueries
from paperwire.storage.readers import ReaderQueries
from paperwire.storage.references import ReferenceQueries
from paperwire.storage.search import SearchQueries
from paperwire.storage.senders import SenderQueries
from paperwire.storage.social import SocialQueries
from paperwire.storage.trending import TrendingQueries

if TYPE_CHECKING:
    from alembic.config import Config

# The one head of the migrations (tests/test_migrations.py checks it): a database already there is
# opened without loading Alembic and its scripts (a third of a short command's start-up).
HEAD_REVISION = "0102"
log = logging.getLogger(__name__)


def backend_for(url: str) -> ModuleType:
    """The dialect module for a database URL."""
    name = sa.make_url(url).get_backend_name()
    if name == "sqlite":
        return sqlite
    if name == "postgresql":
        from paperwire.storage import postgres

        return postgres
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///… or postgresql://…")


class Store(
    PaperQueries,
    JobQueries,
    SearchQueries,
    SocialQueries,
    TrendingQueries,
    LiveQueries,
    MailQueries,
    SenderQueries,
    FetchQueries,
    LibraryQueries,
    ReaderQueries,
    ReferenceQueries,
):
    """All state of paperwire. One instance per process; thread-safe through the engine's pool."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.backend = backend_for(url)
        self.engine = self.backend.create_engine(url)
        self.dialect = self.engine.dialect.name
        self.read_engine = self.backend.read_engine(self.engine)
        self.quick_reads = self.backend.quick_reads(self.engine)  # SQLite's driver shortcut, else None
        self.held_locks: dict[str, list] = {}  # lock name -> [owner, lock] (see LiveQueries)
        # Writes to papers this process has made (page caches compare it: a change made here shows at
        # once; changes by other processes are seen through catalogue_version()).
        self.generation = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A connection for reading (on PostgreSQL in autocommit: each statement sees the latest commits)."""
        with self.read_engine.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def write(self, *, papers: bool = False) -> Iterator[sa.Connection]:
        """One transaction that commits on success and rolls back whole on any error.

        `papers=True` for transactions that change what a paper shows (text, votes, listing): this
        process's page cache then drops its pages at once."""
        with self.engine.connect() as connection:
            self.backend.write_options(connection)
            try:
                with connection.begin():
                    yield connection
            finally:
                connection.info.pop("write", None)
                if papers:
                    self.generation += 1  # also after a rollback: harmless, and never misses a commit

    def insert(self, table: sa.Table):  # dialect-specific Insert with on_conflict_*
        return self.backend.insert(table)

    def try_lock(self, name: str):  # the backend's lock object, or None
        """Take the named cross-process lock (e.g. scheduler leadership) if nobody holds it, else None.

        The lock has `held()` and `release()`; it is freed when its holder exits or is killed.
        """
        return self.backend.try_lock(self.engine, name)

    # ---- migrations ----------------------------------------------------------------------

    def _alembic_config(self, connection: sa.Connection) -> Config:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(resources.files("paperwire.storage") / "migrations"))
        config.attributes["connection"] = connection
        return config

    def schema_revisions(self) -> set[str]:
        """The migrations the database is at (empty for a new database)."""
        with self.engine.connect() as connection:
            if not sa.inspect(connection).has_table("alembic_version"):
                return set()
            return set(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())

    def upgrade(self, *, use_migrations: bool = False) -> list[str]:
        """Apply every pending migration; returns the revisions applied (empty when up to date). An empty
        database gets schema.py's tables at once, marked at the head revision: what running every migration
        builds (tests/test_migrations.py compares the two), without loading Alembic — a new install's first
        command starts that much sooner. `use_migrations` runs them anyway."""
        if self.schema_revisions() == {HEAD_REVISION}:
            return []
        if not use_migrations and self._create_if_empty():
            return [HEAD_REVISION]
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            before = set(MigrationContext.configure(connection).get_current_heads())
            if self.dialect == "postgresql":
                # One migrator at a time when several nodes start together.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7061706572)")
            config = self._alembic_config(connection)
            command.upgrade(config, "heads")
            connection.commit()
            after = set(MigrationContext.configure(connection).get_current_heads())
        return sorted(after - before)

    def _create_if_empty(self) -> bool:
        """schema.py's tables and Alembic's version row, in one transaction, if the database has no table."""
        from paperwire.storage.schema import metadata

        with self.engine.begin() as connection:
            if self.dialect == "postgresql":  # the same lock as the migrations: nodes starting together
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7061706572)")
            if sa.inspect(connection).get_table_names():
                return False
            metadata.create_all(connection)
            version = sa.Table(  # as Alembic makes it
                "alembic_version", sa.MetaData(), sa.Column("version_num", sa.String(32), nullable=False),
                sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
            )  # fmt: skip
            version.create(connection)
            connection.execute(version.insert().values(version_num=HEAD_REVISION))
        log.info("new database: created the schema at revision %s", HEAD_REVISION)
        return True

    def pending_migrations(self) -> list[str]:
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        with self.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
            script = ScriptDirectory.from_config(self._alembic_config(connection))
            # What `upgrade heads` reaches: a revision another one depends on (depends_on) is not a head there.
            heads = {revision.revision for revision in script.get_revisions("heads")}
        return sorted(heads - current)

    def close(self) -> None:
        if self.quick_reads is not None:
            self.quick_reads.close()
        for _owner, lock in self.held_locks.values():
            lock.release()
        self.held_locks.clear()
        self.engine.dispose()


def open_store(url: str, *, upgrade: bool = True) -> Store:
    """A Store on `url`; an empty or older database is upgraded first unless told otherwise."""
    store = Store(url)
    if upgrade:
        store.upgrade()
    database = store.engine.url.database
    if store.dialect == "sqlite" and database and database != ":memory:":
        # The owner's only. SQLite creates later -wal / -shm files with the database's mode; those made
        # while migrating (before this) are narrowed here too.
        for path in (database, f"{database}-wal", f"{database}-shm"):
            if os.path.exists(path):
                os.chmod(path, 0o600)
    return store
