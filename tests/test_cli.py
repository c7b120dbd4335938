"""The command line as an operator runs it: real processes on a real data directory."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ARXIV_SAMPLE, KAGGLE_SAMPLE, LISTING_PAGE

pytestmark = pytest.mark.slow  # each test runs `python -m paperwire` processes

SEED_PAGE = LISTING_PAGE


def paperwire(home: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    environment.update({"PAPERWIRE_HOME": str(home), "COLUMNS": "200"}, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "paperwire", *args], env=environment, capture_output=True, text=True, timeout=120
    )


def test_ingest_a_saved_page_twice(tmp_path: Path) -> None:
    first = paperwire(tmp_path, "ingest", str(SEED_PAGE))
    assert first.returncode == 0, first.stderr
    assert "added 40, updated 0, unchanged 0, skipped 0" in first.stdout
    second = paperwire(tmp_path, "ingest", str(SEED_PAGE))
    assert "added 0, updated 0, unchanged 40, skipped 0" in second.stdout
    assert (tmp_path / "paperwire.db").exists(), "the default database lives in the data directory"


def test_bad_records_are_reported_with_file_and_line_and_exit_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "Fine"}\n{"title": \n{"abstract": "x"}\n')
    result = paperwire(tmp_path, "ingest", str(bad))
    assert result.returncode == 0
    assert "added 1" in result.stdout and "skipped 2" in result.stdout
    assert f"{bad}:2: invalid JSON" in result.stdout
    assert f"{bad}:3: missing title" in result.stdout


def test_missing_files_and_unknown_formats_fail_clearly(tmp_path: Path) -> None:
    missing = paperwire(tmp_path, "ingest", str(tmp_path / "nope.jsonl"))
    assert missing.returncode != 0 and "no such file" in missing.stderr
    wrong = paperwire(tmp_path, "ingest", str(SEED_PAGE), "--format", "csv")
    assert wrong.returncode != 0 and "unknown format" in wrong.stderr


def test_export_writes_what_ingest_reads_back(tmp_path: Path) -> None:
    source = KAGGLE_SAMPLE
    assert paperwire(tmp_path / "a", "ingest", str(source)).returncode == 0
    exported = tmp_path / "papers.jsonl"
    assert paperwire(tmp_path / "a", "export", str(exported)).returncode == 0
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    assert len(records) == 24 and {"id", "title", "authors", "categories", "listed_on"} <= set(records[0])
    reimport = paperwire(tmp_path / "b", "ingest", str(exported))
    assert "added 24, updated 0, unchanged 0, skipped 0" in reimport.stdout
    second = tmp_path / "again.jsonl"
    paperwire(tmp_path / "b", "export", str(second))
    assert second.read_bytes() == exported.read_bytes()


def test_config_masks_secrets(tmp_path: Path) -> None:
    result = paperwire(
        tmp_path,
        "config",
        env={
            "PAPERWIRE_SECRET_KEY": "hunter2-very-secret-0123456789abcdefghij",
            "PAPERWIRE_SMTP_URL": "smtp+starttls://mailer:p4ssw0rd@mail.example.org:587",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout and "p4ssw0rd" not in result.stdout
    assert "mailer:********@mail.example.org" in result.stdout
    assert str(tmp_path) in result.stdout


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    first = paperwire(tmp_path, "db", "upgrade")
    assert first.returncode == 0 and "applied" in first.stderr
    second = paperwire(tmp_path, "db", "upgrade")
    assert "up to date" in second.stderr


def write_months(directory: Path, per_month: int = 3000) -> list[str]:
    """Four months of arXiv-shaped records: the fixture's records under new ids (enough to kill midway)."""
    with gzip.open(ARXIV_SAMPLE, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    directory.mkdir(parents=True)
    paths = []
    for month in range(3, 7):
        path = directory / f"arxiv_cs_2025-{month:02d}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for number in range(per_month):
                record = records[number % len(records)]
                out.write(json.dumps({**record, "id": f"25{month:02d}.{number:05d}"}) + "\n")
        paths.append(str(path))
    return paths


def test_an_import_killed_midway_and_rerun_ends_in_the_same_state(tmp_path: Path) -> None:
    import signal
    import time

    months = write_months(tmp_path / "months")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    environment["PAPERWIRE_HOME"] = str(tmp_path / "killed")
    process = subprocess.Popen(
        [sys.executable, "-m", "paperwire", "ingest", *months],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    database = tmp_path / "killed" / "paperwire.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (database.exists() and database.stat().st_size > 4_000_000):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the import was killed before it finished"
    assert paperwire(tmp_path / "killed", "ingest", *months).returncode == 0
    assert paperwire(tmp_path / "clean", "ingest", *months).returncode == 0
    paperwire(tmp_path / "killed", "export", str(tmp_path / "killed.jsonl"))
    paperwire(tmp_path / "clean", "export", str(tmp_path / "clean.jsonl"))
    assert (tmp_path / "killed.jsonl").read_bytes() == (tmp_path / "clean.jsonl").read_bytes()


def test_help_loads_no_database_search_or_network_library(tmp_path: Path) -> None:
    """`paperwire --help` (and any command before its own work) starts without SQLAlchemy, Alembic, torch,
    tantivy, numpy, httpx or pydantic: they are imported by the commands that use them."""
    script = (
        "import sys, contextlib, io\n"
        "from paperwire.cli import app, register_commands\n"
        "register_commands()\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    app(['--help'])\n"
        "heavy = ('sqlalchemy', 'alembic', 'torch', 'tantivy', 'numpy', 'httpx', 'pydantic', 'feedparser')\n"
        "print(' '.join(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_names_the_command_line_repeats_match_their_modules() -> None:
    from paperwire.cli.catalogue import FILE_FORMATS
    from paperwire.cli.mail import CADENCES, STATUSES
    from paperwire.mail import subscribers
    from paperwire.sources import SOURCES

    assert FILE_FORMATS == tuple(SOURCES)
    assert (CADENCES, STATUSES) == (subscribers.CADENCES, subscribers.STATUSES)
