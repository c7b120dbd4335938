"""Operations: copying an instance between databases, online backups, metrics and structured logs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import ARXIV_SAMPLE, HF_SAMPLE, LISTING_PAGE
from paperwire.ingest import ingest_files
from paperwire.storage import Store, open_store
from paperwire.storage.transfer import backup_sqlite, compare_databases, copy_database, summarise_tables
from test_cli import paperwire

SEED_PAGE = LISTING_PAGE
HF_2025 = HF_SAMPLE
ARXIV_MONTH = ARXIV_SAMPLE


@pytest.fixture
def loaded_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'source' / 'paperwire.db'}"
    source = open_store(url)
    try:
        ingest_files(source, [SEED_PAGE, HF_2025, ARXIV_MONTH])
        source.start_job_run("ingest")
    finally:
        source.close()
    return url


@pytest.mark.postgres
def test_a_loaded_sqlite_instance_copies_to_postgresql_and_compares_equal(
    loaded_sqlite: str, postgres_cluster, tmp_path: Path
) -> None:
    destination = postgres_cluster.create_database(f"copy_{tmp_path.name}"[:60])
    progress: dict[str, int] = {}
    copied = copy_database(
        loaded_sqlite, destination, lambda t, n, _total: progress.update({t: progress.get(t, 0) + n})
    )
    assert {"papers", "paper_signals", "job_runs"} <= set(copied)
    assert progress["papers"] == summarise_tables(loaded_sqlite)["papers"].rows == 281  # every row, once
    comparisons = compare_databases(loaded_sqlite, destination)
    assert all(item.equal for item in comparisons), [c for c in comparisons if not c.equal]
    copy, original = Store(destination), Store(loaded_sqlite)
    try:
        assert copy.pending_migrations() == []
        assert copy.start_job_run("next") == 2, "sequences continue after the copied ids"
        assert copy.get_paper("2506.08007") == original.get_paper("2506.08007")
    finally:
        copy.close()
        original.close()
    with pytest.raises(ValueError, match="not empty"):
        copy_database(loaded_sqlite, destination)


def test_a_changed_row_changes_the_checksum(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    store = open_store(url)
    ingest_files(store, [SEED_PAGE])
    before = summarise_tables(url)["papers"]
    with store.write() as connection:
        connection.execute(sa.text("UPDATE papers SET upvotes = upvotes + 1 WHERE id = (SELECT min(id) FROM papers)"))
    store.close()
    after = summarise_tables(url)["papers"]
    assert before.rows == after.rows and before.checksum != after.checksum


@pytest.mark.slow  # runs `python -m paperwire` processes
def test_db_copy_command_between_sqlite_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert paperwire(home, "ingest", str(SEED_PAGE)).returncode == 0
    source = f"sqlite:///{home / 'paperwire.db'}"
    destination = f"sqlite:///{tmp_path / 'copy.db'}"
    result = paperwire(home, "db", "copy", source, destination)
    assert result.returncode == 0, result.stderr
    assert "every table has the same rows" in result.stderr
    assert all(item.equal for item in compare_databases(source, destination))
    again = paperwire(home, "db", "copy", source, destination)
    assert again.returncode == 2 and "not empty" in again.stderr


@pytest.mark.slow  # runs `python -m paperwire` processes
def test_backup_of_a_live_sqlite_database(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert paperwire(home, "ingest", str(SEED_PAGE)).returncode == 0
    result = paperwire(home, "backup", str(tmp_path / "backup.db"))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "backup.db") as connection:
        assert connection.execute("SELECT count(*) FROM papers").fetchone()[0] == 40
    connection.close()
    default = paperwire(home, "backup")
    assert default.returncode == 0 and list((home / "backups").glob("paperwire-*.db"))
    direct = backup_sqlite(f"sqlite:///{home / 'paperwire.db'}", tmp_path / "b" / "direct.db")
    assert direct.stat().st_size > 0


@pytest.mark.slow  # runs `python -m paperwire` processes
def test_backup_on_postgresql_gives_pg_dump_advice(tmp_path: Path) -> None:
    result = paperwire(
        tmp_path, "backup", env={"PAPERWIRE_DATABASE_URL": "postgresql://paperwire:s3cret@db.example/paperwire"}
    )
    assert result.returncode == 0, result.stderr
    assert "pg_dump --format=custom" in result.stdout
    assert "s3cret" not in result.stdout + result.stderr


def test_metrics_count_requests_by_route_template_and_read_jobs_from_the_database(client, store: Store) -> None:
    run = store.start_job_run("digest-daily")
    store.finish_job_run(run, "failed", "SMTP down")
    assert client.get("/healthz").status_code == 200
    client.get("/definitely/not/here")
    client.get("/api/papers/2501.00001")
    client.get("/api/papers/2501.00002")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'paperwire_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="/api/papers/{paper_id}"' in text and "2501.00001" not in text, "templates, not raw paths"
    assert 'paperwire_http_request_duration_seconds_bucket{le="+Inf",route="/healthz"} 1.0' in text
    assert 'route="(unmatched)",status="404"' in text
    assert "paperwire_search_duration_seconds_count 0.0" in text
    assert 'paperwire_job_runs_total{job="digest-daily",status="failed"} 1.0' in text
    assert 'paperwire_job_failures_total{job="digest-daily"} 1.0' in text
    assert "# TYPE paperwire_outbox_messages gauge" in text
    assert "process_cpu_seconds_total" in text and "process_resident_memory_bytes" in text


def test_json_logs_are_one_object_per_line_with_secrets_masked(tmp_path: Path) -> None:
    import io
    import logging

    from paperwire.logs import make_handler
    from paperwire.settings import Settings

    settings = Settings(home=tmp_path, log_json=True, secret_key="a-very-secret-signing-key-0123456789abcdef")
    handler = make_handler(settings)
    handler.stream = io.StringIO()
    logger = logging.getLogger("paperwire.test.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("connecting to %s", "postgresql://paperwire:hunter22@db/paperwire", extra={"job": "digest"})
        logger.error("key is a-very-secret-signing-key-0123456789abcdef")
    finally:
        logger.removeHandler(handler)
    lines = handler.stream.getvalue().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "warning" and first["logger"] == "paperwire.test.logs" and first["job"] == "digest"
    assert first["message"] == "connecting to postgresql://paperwire:********@db/paperwire"
    assert "hunter22" not in lines[0] and "a-very-secret-signing-key-0123456789abcdef" not in lines[1]


@pytest.mark.slow  # runs `python -m paperwire` processes
def test_a_one_shot_command_logs_json_when_asked(tmp_path: Path) -> None:
    result = paperwire(tmp_path, "db", "upgrade", env={"PAPERWIRE_LOG_JSON": "1", "PAPERWIRE_LOG_LEVEL": "INFO"})
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert records and all({"time", "level", "logger", "message"} <= set(record) for record in records)
