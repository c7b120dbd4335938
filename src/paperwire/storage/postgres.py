"""What is particular to PostgreSQL: the psycopg 3 engine and its pool, upsert, and advisory locks."""

from __future__ import annotations

import hashlib
import select
import socket
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from psycopg import pq
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

insert = postgresql_insert

# Connections per process: a web node runs sync routes on a thread pool (40 threads by default),
# so 10 kept open plus 20 on demand covers it; PostgreSQL's default max_connections is 100.
POOL_SIZE = 10
MAX_OVERFLOW = 20
UPSERT_LOCK = "papers.upsert"


def engine_url(url: str) -> sa.URL:
    """postgresql://… (any driver named or none) as the psycopg 3 driver URL."""
    return sa.make_url(url).set(drivername="postgresql+psycopg")


def create_engine(url: str) -> sa.Engine:
    # SQLAlchemy's QueuePool over psycopg 3 connections. No pre-ping: it costs a round trip per
    # checkout (a daily page checks out three). After a database restart the first statement on a
    # stale connection fails once; SQLAlchemy then discards every connection older than the error.
    return sa.create_engine(
        engine_url(url),
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_recycle=1800,
        connect_args={"application_name": "paperwire"},
    )


def quick_reads(engine: sa.Engine) -> None:
    """No driver shortcut here: a read's round trip to the server outweighs what the engine adds."""
    return None


def read_engine(engine: sa.Engine) -> sa.Engine:
    """Reads run without BEGIN/ROLLBACK (two round trips fewer per read).

    At READ COMMITTED, PostgreSQL gives each statement its own snapshot even inside a transaction,
    so this changes nothing that a reader sees. Server-side cursors need a transaction: open one.
    """
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def write_options(connection: sa.Connection) -> None:
    """Nothing to do: PostgreSQL's row locks let writers run side by side."""


def begin_mark(cursor: Any) -> None:
    """Start the transaction of a commit point; its WAL flush is not waited for (only a crash of
    the database server itself could undo it, and nothing else waits on it)."""
    cursor.execute("SET LOCAL synchronous_commit TO off")


def _cork(fd: int, on: bool) -> bool:
    """TCP_CORK on the connection's socket (held frames go out at uncork, or when it is closed);
    False where it does not apply (a Unix socket, or a system without TCP_CORK: Linux only)."""
    if not hasattr(socket, "TCP_CORK"):
        return False
    held = socket.socket(fileno=fd)
    try:
        held.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1 if on else 0)
        return True
    except OSError:
        return False
    finally:
        held.detach()  # the descriptor stays libpq's


def commit_then(raw: Any, then: Callable[[], None]) -> None:
    """Send COMMIT for a DBAPI connection's transaction and call `then` without waiting for its reply.

    The server commits what it has read even when the client dies right after sending it: once the
    COMMIT message is in the socket, a killed process keeps its commit. So `then` runs between two
    adjacent system calls (the COMMIT's send and whatever `then` sends), not after a round trip. The
    COMMIT is corked until `then` has run: sending it to a server on the same machine would wake the
    server's process, and the scheduler often lets that process run first, which would leave this one
    waiting between the two sends (where a kill loses the mail). A process killed there still
    delivers the corked COMMIT (closing a socket sends what it holds). The reply is read afterwards
    (an error there is raised).
    """
    pgconn = raw.driver_connection.pgconn
    fd = pgconn.socket
    corked = _cork(fd, True)
    try:
        pgconn.send_query(b"COMMIT")
        while pgconn.flush():  # nonblocking libpq: wait until the whole message is in the socket
            select.select([], [fd], [])
        then()
    finally:
        if corked:
            _cork(fd, False)
    failure = None
    while (result := pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            failure = (result.error_message or b"").decode("utf-8", "replace")
    if failure is not None:
        raise RuntimeError(f"COMMIT failed after the commit point: {failure}")


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a lock name."""
    return int.from_bytes(hashlib.sha256(f"paperwire:{name}".encode()).digest()[:8], "big", signed=True)


def lock_for_upsert(connection: sa.Connection) -> None:
    """Serialise paper upserts until the transaction ends.

    An upsert reads the stored papers, merges, then writes; two importers reading the same rows
    at READ COMMITTED would each write their own merge and one would be lost. Holding this lock for
    the transaction makes concurrent imports of the same papers behave as if run one after another.
    """
    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(UPSERT_LOCK)})


class AdvisoryLock:
    """A session-level advisory lock held on one dedicated connection until released.

    PostgreSQL drops the lock when that connection ends, so a killed leader frees it at once; a
    live leader should call `held()` before each round of work to notice a lost connection.
    """

    def __init__(self, connection: sa.Connection, name: str) -> None:
        self.connection = connection
        self.name = name
        self.key = lock_key(name)

    def held(self) -> bool:
        """True while the connection that holds the lock is alive (only it could unlock)."""
        try:
            self.connection.execute(sa.text("SELECT 1")).scalar_one()
            self.connection.commit()
        except sa.exc.DBAPIError:
            return False
        return True

    def release(self) -> None:
        try:
            self.connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self.connection.commit()
        except sa.exc.DBAPIError:
            pass
        finally:
            self.connection.close()

    def __enter__(self) -> AdvisoryLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def try_lock(engine: sa.Engine, name: str) -> AdvisoryLock | None:
    """Take the named lock if no other process holds it; None when one does."""
    connection = engine.connect()
    try:
        taken = connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key(name)}).scalar_one()
        # Session-level locks outlive the transaction; end it so the connection is not idle in one.
        connection.commit()
    except BaseException:
        connection.close()
        raise
    if not taken:
        connection.close()
        return None
    return AdvisoryLock(connection, name)
