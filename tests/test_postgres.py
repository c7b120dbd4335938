"""Many processes, one database: concurrent imports and cross-process locks, on both backends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
import sqlalchemy as sa

from conftest import HF_SAMPLE
from paperwire.ingest import ingest_files
from paperwire.settings import Settings
from paperwire.storage import Store, open_store
from paperwire.storage.postgres import engine_url, lock_key
from paperwire.storage.schema import paper_signals, papers

HF_2025 = HF_SAMPLE


def test_urls_are_rewritten_for_psycopg_3() -> None:
    assert engine_url("postgresql://u:p@db:5433/paperwire").drivername == "postgresql+psycopg"
    assert engine_url("postgresql+psycopg2://u@db/x").render_as_string(hide_password=False) == (
        "postgresql+psycopg://u@db/x"
    )
    assert lock_key("scheduler") == lock_key("scheduler") != lock_key("outbox")
    assert -(2**63) <= lock_key("scheduler") < 2**63


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_the_store_uses_a_sized_pool_on_postgresql(store: Store) -> None:
    assert store.dialect == "postgresql"  # PostgreSQL only: SQLite has no pool to size
    assert store.engine.dialect.driver == "psycopg"
    assert store.engine.pool.size() >= 5


def test_concurrent_imports_of_the_same_file_make_no_duplicates(store: Store, settings: Settings) -> None:
    single = ingest_files(store, [HF_2025])
    expected = store.count_papers()
    assert expected == single.added
    expected_rows = _table_rows(store)
    with store.write() as connection:
        connection.execute(paper_signals.delete())
        connection.execute(papers.delete())

    errors: list[BaseException] = []
    reports = []

    def run() -> None:
        own = Store(settings.effective_database_url)  # as a second process would: its own pool
        try:
            reports.append(ingest_files(own, [HF_2025]))
        except BaseException as error:  # collected for the assertion below
            errors.append(error)
        finally:
            own.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count_papers() == expected
    assert sum(report.added for report in reports) == expected, "each paper is added by exactly one run"
    assert _table_rows(store) == expected_rows, "same papers and signals as one run alone"


def _table_rows(store: Store) -> dict[str, int]:
    with store.read() as connection:
        return {
            table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (papers, paper_signals)
        }


def test_one_lock_holder_at_a_time_across_stores(store: Store, settings: Settings) -> None:
    other = Store(settings.effective_database_url)
    try:
        lock = store.try_lock("scheduler")
        assert lock is not None and lock.held()
        assert other.try_lock("scheduler") is None
        second = other.try_lock("another-job")
        assert second is not None
        second.release()
        lock.release()
        again = other.try_lock("scheduler")
        assert again is not None
        again.release()
    finally:
        other.close()


def test_a_killed_holder_frees_the_lock_at_once(store: Store, settings: Settings) -> None:
    holder = textwrap.dedent(
        f"""
        import sys, time
        from paperwire.storage import Store
        lock = Store({settings.effective_database_url!r}).try_lock("scheduler")
        print("held" if lock else "refused", flush=True)
        time.sleep(60)
        """
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True, env=environment)
    try:
        assert process.stdout.readline().strip() == "held"
        assert store.try_lock("scheduler") is None
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        lock = None
        for _ in range(50):  # the server notices the closed socket within milliseconds
            lock = store.try_lock("scheduler")
            if lock:
                break
            threading.Event().wait(0.1)
        assert lock is not None
        lock.release()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def test_reopening_an_upgraded_postgresql_database_applies_nothing(store: Store) -> None:
    assert store.pending_migrations() == []
    again = open_store(store.url)
    try:
        assert again.upgrade() == []
    finally:
        again.close()


def test_scheduler_lease_is_exclusive_and_freed_at_once_when_its_holder_is_killed(
    store: Store, settings: Settings
) -> None:
    holder = textwrap.dedent(
        f"""
        import time
        from paperwire.storage import Store
        store = Store({settings.effective_database_url!r})
        print("leader" if store.try_acquire_lease("scheduler", "killed-node", 600) else "follower", flush=True)
        time.sleep(60)
        """
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True, env=environment)
    try:
        assert process.stdout.readline().strip() == "leader"
        assert not store.try_acquire_lease("scheduler", "this-node", 600)
        assert store.lease_holder("scheduler")[0] == "killed-node"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        if store.dialect == "postgresql":
            # The advisory lock died with the holder's connection: no need to wait out the lease.
            taken = False
            for _ in range(50):
                taken = store.try_acquire_lease("scheduler", "this-node", 600)
                if taken:
                    break
                threading.Event().wait(0.1)
            assert taken
        else:
            assert not store.try_acquire_lease("scheduler", "this-node", 600)
            assert store.try_acquire_lease("scheduler", "this-node", 0.0), "taken over once the lease expired"
        assert store.lease_holder("scheduler")[0] == "this-node"
        assert store.try_acquire_lease("scheduler", "this-node", 600), "the holder renews"
        assert not store.try_acquire_lease("scheduler", "same-process-other-owner", 600)
        store.release_lease("scheduler", "this-node")
        assert store.try_acquire_lease("scheduler", "same-process-other-owner", 600)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
