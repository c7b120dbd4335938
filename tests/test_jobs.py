"""The scheduler: schedules, recorded runs, one leader at a time, the web app's lifespan, the CLI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from paperwire.cli import app, register_commands
from paperwire.jobs import JOBS, Daily, Every, Job, Scheduler, SchedulerThread, planned_runs, run_job
from paperwire.settings import Settings
from paperwire.sources.http import LiveReport
from paperwire.storage import Store, open_store
from paperwire.storage.live import LEASE_PREFIX
from paperwire.storage.schema import checkpoints

register_commands()

T0 = datetime(2025, 6, 10, 3, 0, tzinfo=timezone.utc)  # a Tuesday, 23:00 in New York


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def sqlite_store(settings: Settings) -> Iterator[Store]:
    """SQLite only, for tests of the network side or the plan, where the backend changes nothing."""
    store = open_store(settings.effective_database_url)
    yield store
    store.close()


def test_daily_runs_at_the_wall_clock_time_across_daylight_saving() -> None:
    schedule = Daily("00:30", "America/New_York")
    assert schedule.next_after(T0) == datetime(2025, 6, 10, 4, 30, tzinfo=timezone.utc)
    assert schedule.next_after(datetime(2025, 6, 10, 4, 30, tzinfo=timezone.utc)) == datetime(
        2025, 6, 11, 4, 30, tzinfo=timezone.utc
    )
    winter = schedule.next_after(datetime(2025, 12, 1, 12, 0, tzinfo=timezone.utc))
    assert winter == datetime(2025, 12, 2, 5, 30, tzinfo=timezone.utc)
    assert str(schedule) == "daily at 00:30 America/New_York"


def test_every_is_due_at_once_then_after_its_interval() -> None:
    schedule = Every(3600)
    assert schedule.first_after(T0) == T0
    assert schedule.next_after(T0) == T0 + timedelta(hours=1)
    assert (str(Every(3600)), str(Every(120)), str(Every(7.5))) == ("every 1 h", "every 2 min", "every 7.5 s")


def test_runs_are_recorded_with_their_outcome(settings: Settings, store: Store) -> None:
    def empty(_settings: Settings, _store: Store) -> LiveReport:
        return LiveReport("arxiv", status="empty", notes=["no announcement"])

    def broken(_settings: Settings, _store: Store) -> None:
        raise RuntimeError("arXiv is down")

    assert run_job(Job("a", Every(60), lambda s, st: "fetched 3"), settings, store).status == "ok"
    assert run_job(Job("b", Every(60), empty), settings, store).status == "empty"
    assert run_job(Job("c", Every(60), broken), settings, store).status == "failed"
    runs = {run["job"]: run for run in store.recent_job_runs(10)}
    assert (runs["a"]["status"], runs["a"]["summary"]) == ("ok", "fetched 3")
    assert runs["b"]["status"] == "empty" and "no announcement" in runs["b"]["summary"]
    assert (runs["c"]["status"], runs["c"]["summary"]) == ("failed", "RuntimeError: arXiv is down")
    assert all(run["finished_at"] for run in runs.values())


def test_quiet_jobs_record_only_runs_that_did_something(settings: Settings, sqlite_store: Store) -> None:
    answers = iter([None, "sent 2", None])
    job = Job("outbox", Every(10), lambda s, st: next(answers), quiet=True)
    for _ in range(3):
        run_job(job, settings, sqlite_store)
    assert [run["summary"] for run in sqlite_store.recent_job_runs(10, job="outbox")] == ["sent 2"]


def test_the_scheduler_runs_due_jobs_and_plans_the_next(settings: Settings, sqlite_store: Store) -> None:
    calls: list[str] = []
    jobs = {
        "hourly": Job("hourly", Every(3600), lambda s, st: calls.append("hourly")),
        "daily": Job("daily", lambda s: Daily("00:30", "America/New_York"), lambda s, st: calls.append("daily")),
        "broken": Job("broken", Every(60), lambda s, st: 1 / 0),
    }
    clock = Clock(T0)
    scheduler = Scheduler(settings, sqlite_store, jobs, clock=clock)
    scheduler.run_due()
    assert calls == ["hourly"], "an interval job never run is due at once; a daily one waits for its time"
    clock.advance(minutes=90)
    results = scheduler.run_due()
    assert calls == ["hourly", "hourly", "daily"]
    assert {r.job: r.status for r in results} == {"hourly": "ok", "daily": "ok", "broken": "failed"}
    assert scheduler.next_at["daily"] == datetime(2025, 6, 11, 4, 30, tzinfo=timezone.utc)
    clock.advance(minutes=1)
    assert [r.job for r in scheduler.run_due()] == ["broken"]


def test_a_restarted_scheduler_catches_up_a_missed_daily_run(settings: Settings, sqlite_store: Store) -> None:
    calls: list[str] = []
    jobs = {"daily": Job("daily", Daily("00:30", "America/New_York"), lambda s, st: calls.append("daily"))}
    assert Scheduler(settings, sqlite_store, jobs, owner="node", clock=Clock(T0 + timedelta(hours=2))).run_due() == []
    assert calls == [], "a daily job never run waits for its time"
    sqlite_store.record_job_run("daily", "2025-06-09T04:30:00.000000Z", "ok", "")  # yesterday's run, then downtime
    Scheduler(settings, sqlite_store, jobs, owner="node", clock=Clock(T0 + timedelta(hours=2))).run_due()
    assert calls == ["daily"], "today's 00:30 was missed while down: it runs at start-up"
    later = Scheduler(settings, sqlite_store, jobs, owner="node", clock=Clock(T0 + timedelta(hours=3)))
    assert later.run_due() == [], "already ran today: nothing to catch up"
    assert later.next_at["daily"] > T0 + timedelta(hours=24)


def unrenewed_for(store: Store, lease: str, seconds: float) -> None:
    """Move the lease's last renewal into the past: what its holder's death looks like after that time."""
    renewed = (datetime.now(timezone.utc) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with store.write() as connection:
        connection.execute(
            sa.update(checkpoints).where(checkpoints.c.name == LEASE_PREFIX + lease).values(updated_at=renewed)
        )


def test_only_one_scheduler_leads(settings: Settings, store: Store) -> None:
    calls: list[str] = []
    jobs = {"hourly": Job("hourly", Every(3600), lambda s, st: calls.append("ran"))}
    node_a, node_b = open_store(settings.effective_database_url), open_store(settings.effective_database_url)
    first = Scheduler(settings, node_a, jobs, owner="first", lease_seconds=60)
    second = Scheduler(settings, node_b, jobs, owner="second", lease_seconds=60)
    try:
        first.run_due()
        assert calls == ["ran"] and first.leader
        assert second.run_due() == [] and not second.leader
        assert store.lease_holder("scheduler")[0] == "first"
        node_a.close()  # the first node dies without releasing (its lease row stays behind)
        # SQLite: a minute passes without renewal, the lease expires; PostgreSQL: the lock died with node_a
        unrenewed_for(store, "scheduler", seconds=61)
        assert second.run_due() == [] and second.leader, "it leads, and sees the hourly job already ran"
        assert calls == ["ran"]
        assert store.lease_holder("scheduler")[0] == "second"
    finally:
        node_a.close()
        node_b.close()


def test_the_scheduler_thread_stops_cleanly_and_hands_over(settings: Settings, store: Store) -> None:
    jobs = {"hourly": Job("hourly", Every(3600), lambda s, st: "done")}
    handle = SchedulerThread(Scheduler(settings, store, jobs, owner="web-1", tick_seconds=0.05)).start()
    deadline = time.monotonic() + 10
    # the run is recorded as "running" first, then finished
    while [run["status"] for run in store.recent_job_runs(1, job="hourly")] in ([], ["running"]):
        assert time.monotonic() < deadline, "the job never finished"
        time.sleep(0.02)
    assert store.recent_job_runs(1, job="hourly")[0]["status"] == "ok"
    assert handle.stop(timeout=5)
    assert store.lease_holder("scheduler") is None, "a clean stop hands the leadership over at once"


def serve_empty_hf(server: HTTPServer, settings: Settings) -> Settings:
    server.expect_request("/hf/api/daily_papers").respond_with_json([])
    server.expect_request("/rss/atom/cs.AI+cs.CL+cs.LG").respond_with_data(
        "<feed xmlns='http://www.w3.org/2005/Atom'><title>empty</title></feed>", content_type="application/xml"
    )
    return settings.model_copy(update={
        "hf_api_url": server.url_for("/hf"), "arxiv_rss_url": server.url_for("/rss"),
        "hf_request_interval": 0.0, "arxiv_request_interval": 0.0,
    })  # fmt: skip


@pytest.mark.slow  # a real server or subprocess: in `make test`, not the fast lane
def test_serve_runs_the_jobs_in_the_app_lifespan(settings: Settings, store: Store, httpserver: HTTPServer) -> None:
    from paperwire.app import create_app

    config = serve_empty_hf(httpserver, settings)
    with TestClient(create_app(config, store=store, run_jobs=True)):
        deadline = time.monotonic() + 20
        while not store.recent_job_runs(1, job="hf-refresh") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.recent_job_runs(1, job="hf-refresh"), "the hourly HF refresh ran at start-up"
    assert store.lease_holder("scheduler") is None, "shutdown stopped the scheduler"


def test_no_jobs_means_no_scheduler(settings: Settings, sqlite_store: Store) -> None:
    from paperwire.app import create_app

    with TestClient(create_app(settings, store=sqlite_store, run_jobs=False)):
        time.sleep(0.2)
    assert sqlite_store.lease_holder("scheduler") is None and sqlite_store.recent_job_runs(5) == []


def cli(settings: Settings, *args: str):
    env = {"PAPERWIRE_HOME": str(settings.home), "PAPERWIRE_DATABASE_URL": settings.database_url, "COLUMNS": "250",
           "PAPERWIRE_HF_API_URL": settings.hf_api_url, "PAPERWIRE_ARXIV_RSS_URL": settings.arxiv_rss_url,
           "PAPERWIRE_HF_REQUEST_INTERVAL": "0", "PAPERWIRE_ARXIV_REQUEST_INTERVAL": "0"}  # fmt: skip
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def test_worker_once_and_status_show_last_and_next_runs(
    settings: Settings, store: Store, httpserver: HTTPServer
) -> None:
    config = serve_empty_hf(httpserver, settings)
    result = cli(config, "worker", "--once")
    assert result.exit_code == 0, result.output
    assert "hf-refresh: empty" in result.stdout
    single = cli(config, "worker", "--job", "arxiv-daily")
    assert "arxiv-daily: empty" in single.stdout and "no announcement" in single.stdout
    status = cli(config, "status")
    assert "recent runs" in status.stdout and "scheduled jobs" in status.stdout
    assert "daily at 00:30 America/New_York" in status.stdout and "every 1 h" in status.stdout
    plan = {item["job"]: item for item in planned_runs(config, store)}
    assert set(plan) >= {"arxiv-daily", "hf-refresh"} and plan["hf-refresh"]["last_status"] == "empty"
    assert plan["hf-refresh"]["next_at"] > datetime.now(timezone.utc) + timedelta(minutes=59)


def test_unknown_job_is_a_usage_error(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["worker", "--job", "nope"], env={"PAPERWIRE_HOME": str(settings.home)})
    assert result.exit_code == 2 and "unknown job" in result.output


@pytest.mark.parametrize("name", ["arxiv-daily", "hf-refresh"])
def test_the_builtin_jobs_are_registered(name: str) -> None:
    assert name in JOBS


def test_live_source_jobs_are_left_out_when_live_sources_are_off(tmp_path, sqlite_store: Store) -> None:
    from paperwire.jobs import Scheduler

    online = Scheduler(Settings(home=tmp_path / "a"), sqlite_store)
    offline = Scheduler(Settings(home=tmp_path / "b", live_sources=False), sqlite_store)
    assert {"arxiv-daily", "hf-refresh", "digests", "outbox"} <= set(online.jobs)
    assert "arxiv-daily" not in offline.jobs and "hf-refresh" not in offline.jobs
    assert {"digests", "outbox", "trending", "embed"} <= set(offline.jobs)
