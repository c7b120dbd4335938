"""Operator mistakes (issue 13 item 6): settings are checked at start-up and by `config --check`, each
problem names its variable; a short secret key refuses to start; one broken job never stops the others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from paperwire.jobs import JOBS, Daily, Every, Job, Scheduler
from paperwire.settings import Settings, SettingsError
from paperwire.storage import Store

GOOD_KEY = "test-secret-key-0123456789abcdefghijklmnop"


def paperwire(home: Path, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    environment.update({"PAPERWIRE_HOME": str(home), "COLUMNS": "250", "PAPERWIRE_EMBEDDER": "none"}, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "paperwire", *args], env=environment, capture_output=True, text=True, timeout=timeout
    )


def test_config_check_names_every_bad_variable_and_what_it_expects(tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-directory"
    a_file.write_text("x")
    bad = {
        "PAPERWIRE_DIGEST_AT": "7h",
        "PAPERWIRE_ARXIV_DAILY_AT": "25:00",
        "PAPERWIRE_SCHEDULE_TIME_ZONE": "Mars/Olympus",
        "PAPERWIRE_BASE_URL": "localhost:8000",
        "PAPERWIRE_SMTP_URL": "mail.example.org",
        "PAPERWIRE_HTTP_TIMEOUT": "-1",
        "PAPERWIRE_MAIL_CAP_PER_ADDRESS": "many",
        "PAPERWIRE_LOG_LEVEL": "LOUD",
        "PAPERWIRE_SECRET_KEY": "short",
    }
    result = paperwire(tmp_path / "home", "config", "--check", env={**bad, "PAPERWIRE_HOME": str(a_file / "home")})
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    for variable in [*bad, "PAPERWIRE_HOME"]:
        assert any(line.startswith(f"{variable}: expected") or line.startswith(f"{variable}: Input should")
                   for line in lines), f"{variable} not reported:\n{result.stderr}"  # fmt: skip
    assert "PAPERWIRE_DIGEST_AT: expected a time of day HH:MM" in result.stderr
    assert "short" not in result.stderr, "the secret itself is never printed"


def test_config_check_passes_on_good_settings_and_warns_of_unknown_variables(tmp_path: Path) -> None:
    result = paperwire(
        tmp_path, "config", "--check", env={"PAPERWIRE_SECRET_KEY": GOOD_KEY, "PAPERWIRE_DIGST_AT": "8:00"}
    )
    assert result.returncode == 0, result.stderr
    assert "settings are valid" in result.stdout
    assert "PAPERWIRE_DIGST_AT is set but no setting reads it" in result.stderr


def test_any_command_refuses_to_run_on_bad_settings(tmp_path: Path) -> None:
    result = paperwire(tmp_path, "digest", "run", env={"PAPERWIRE_DIGEST_AT": "7h"})
    assert result.returncode == 2
    assert "PAPERWIRE_DIGEST_AT: expected a time of day HH:MM" in result.stderr
    assert "Traceback" not in result.stderr


def test_short_secret_key_setting_refuses_to_start(tmp_path: Path) -> None:
    result = paperwire(tmp_path, "serve", "--port", "9", env={"PAPERWIRE_SECRET_KEY": "test-secret-key"})
    assert result.returncode == 2
    assert "PAPERWIRE_SECRET_KEY: expected at least 32 characters" in result.stderr


@pytest.mark.slow  # a real server or subprocess: in `make test`, not the fast lane
@pytest.mark.parametrize("content", ["", "\n", "too-short-a-key"])
def test_empty_or_short_secret_key_file_refuses_to_start(tmp_path: Path, content: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "secret_key").write_text(content)
    result = paperwire(home, "serve", "--port", "9")
    assert result.returncode == 2
    assert (
        f"the key in {home / 'secret_key'} has {len(content.strip())} characters, expected at least 32" in result.stderr
    )
    check = paperwire(home, "config", "--check")
    assert check.returncode == 1 and "PAPERWIRE_SECRET_KEY" in check.stderr

    from paperwire.app import create_app

    with pytest.raises(SettingsError):
        create_app(Settings(home=home))


def test_a_generated_key_is_long_enough(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    settings.check_secret_key()
    assert len((tmp_path / "home" / "secret_key").read_text().strip()) >= 32


def test_the_log_level_is_a_setting(tmp_path: Path) -> None:
    assert Settings(home=tmp_path, log_level="debug").log_level == "DEBUG"
    with pytest.raises(ValueError, match="PAPERWIRE_LOG_LEVEL"):
        Settings.load(home=tmp_path, log_level="chatty")


def test_a_broken_schedule_never_stops_the_other_jobs(settings: Settings, store: Store) -> None:
    """A mistyped digest time that slipped past validation (model_copy does not validate): the outbox,
    trending and embedding jobs still run; the digest job is recorded as failed, with the reason."""
    broken = settings.model_copy(update={"digest_at": "7h", "embedder": "none", "live_sources": False})
    scheduler = Scheduler(broken, store)
    ran = {result.job for result in scheduler.run_due()}
    assert {"outbox", "trending", "embed"} <= ran
    assert "digests" not in ran
    failures = store.last_job_failures()
    assert "digests" in failures and "7h" in failures["digests"]["summary"]
    scheduler.run_due()  # the same error is recorded once, not every tick
    assert [run["status"] for run in store.recent_job_runs(50, job="digests")] == ["failed"]


def test_one_failing_job_does_not_stop_the_next(settings: Settings, store: Store) -> None:
    def explode(_settings: Settings, _store: Store) -> None:
        raise RuntimeError("boom")

    jobs = {
        "bad-schedule": Job("bad-schedule", lambda s: Daily("7h", "UTC"), lambda s, st: "never"),
        "explodes": Job("explodes", Every(60), explode),
        "fine": Job("fine", Every(60), lambda s, st: "done"),
    }
    results = {result.job: result for result in Scheduler(settings, store, jobs).run_due()}
    assert results["explodes"].status == "failed" and results["fine"].status == "ok"
    assert set(store.last_job_failures()) == {"bad-schedule", "explodes"}


@pytest.mark.slow  # a real server or subprocess: in `make test`, not the fast lane
def test_status_survives_bad_settings_and_shows_each_jobs_last_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert paperwire(home, "db", "upgrade").returncode == 0
    store = Store(f"sqlite:///{home / 'paperwire.db'}")
    store.record_job_run("trending", "2026-12-01T10:00:00.000000Z", "failed", "RuntimeError: disk full")
    store.close()
    result = paperwire(home, "status", env={"PAPERWIRE_DIGEST_AT": "7h", "PAPERWIRE_SCHEDULE_TIME_ZONE": "Nowhere"})
    assert result.returncode == 0, result.stderr
    assert "settings problem: PAPERWIRE_DIGEST_AT: expected a time of day HH:MM" in result.stdout
    assert "settings problem: PAPERWIRE_SCHEDULE_TIME_ZONE" in result.stdout
    assert "RuntimeError: disk full" in result.stdout
    assert set(JOBS) <= set(result.stdout.split())


def test_status_says_when_the_database_cannot_be_read(tmp_path: Path) -> None:
    result = paperwire(tmp_path, "status", env={"PAPERWIRE_DATABASE_URL": "postgresql://paperwire:pw@127.0.0.1:1/none"})
    assert result.returncode == 1
    assert "database postgresql://paperwire:********@127.0.0.1:1/none cannot be read" in result.stdout
    assert "Traceback" not in result.stderr + result.stdout
