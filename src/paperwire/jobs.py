"""The scheduler: one registry of jobs (name, schedule, function), run by one leader across processes.

Registering a job is one line at the bottom of this module (the REGISTRY section):

    register("digests", lambda s: Daily(s.digest_at, s.schedule_time_zone), run_scheduled_digests)
    register("outbox", Every(seconds=30), send_outbox_job, quiet=True)

- the schedule is a `Daily(at="HH:MM", zone=…)` or `Every(seconds=…)`, or a function of the Settings
  returning one (so hours and time zones stay settings);
- the function is `fn(settings, store)` and must be exactly what the matching CLI command calls;
  it returns None, a summary string, or an object with `status` ("ok" | "empty") and `summary`;
  raising marks the run "failed" with the error as its summary (the next run comes as scheduled);
- `quiet=True` (for frequent loops such as an outbox sender) records only runs that failed or
  returned something, so `paperwire status` is not flooded with idle runs.

Every run is recorded in job_runs (start_job_run / finish_job_run). `paperwire serve` runs the
scheduler in a background thread unless `--no-jobs`; `paperwire worker` runs it in the foreground.
Only the holder of the leadership (`acquire_leadership`) runs jobs, so any number of web nodes and
workers can run a scheduler: at most one of them runs jobs at a time. On SQLite a leader that died
without a clean stop is replaced once its lease expires (`lease_seconds`, 10 minutes); on
PostgreSQL at once (an advisory lock dies with its connection). Jobs run one after another.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from paperwire.mail.compose import run_scheduled_digests
from paperwire.mail.outbox import send_outbox_job
from paperwire.models import utc_now_iso
from paperwire.search.embedding import embed_missing_job
from paperwire.settings import Settings
from paperwire.sources.arxiv import ingest_arxiv_daily
from paperwire.sources.hf_api import refresh_hf_week
from paperwire.storage import Store
from paperwire.trending import refresh_trending_job

if TYPE_CHECKING:
    from paperwire.search.hybrid import SearchService

log = logging.getLogger("paperwire.jobs")

LEADER_LEASE = "scheduler"


# ---- schedules ------------------------------------------------------------------------------


class Schedule(Protocol):
    def next_after(self, moment: datetime) -> datetime: ...

    def first_after(self, moment: datetime) -> datetime: ...


@dataclass(frozen=True)
class Daily:
    """Once a day at a wall-clock time of a time zone (daylight saving time handled by zoneinfo)."""

    at: str  # HH:MM
    zone: str = "UTC"

    def next_after(self, moment: datetime) -> datetime:
        zone = ZoneInfo(self.zone)
        clock = time.fromisoformat(self.at)
        local_day = moment.astimezone(zone).date()
        for offset in range(3):
            candidate = datetime.combine(local_day + timedelta(days=offset), clock, tzinfo=zone)
            if candidate > moment:
                return candidate.astimezone(timezone.utc)
        raise AssertionError("unreachable: a day later is always after")

    def first_after(self, moment: datetime) -> datetime:
        return self.next_after(moment)

    def __str__(self) -> str:
        return f"daily at {self.at} {self.zone}"


@dataclass(frozen=True)
class Every:
    """At a fixed interval after the previous run ended; a job never run is due at once."""

    seconds: float

    def next_after(self, moment: datetime) -> datetime:
        return moment + timedelta(seconds=self.seconds)

    def first_after(self, moment: datetime) -> datetime:
        return moment

    def __str__(self) -> str:
        if self.seconds % 3600 == 0:
            return f"every {int(self.seconds // 3600)} h"
        if self.seconds % 60 == 0:
            return f"every {int(self.seconds // 60)} min"
        return f"every {self.seconds:g} s"


# ---- the registry ---------------------------------------------------------------------------

JobFunction = Callable[[Settings, Store], object]


@dataclass(frozen=True)
class Job:
    name: str
    schedule: Schedule | Callable[[Settings], Schedule]
    run: JobFunction
    quiet: bool = False
    live: bool = False  # fetches from the network (arXiv, HF): off when settings.live_sources is false
    uses_search: bool = False  # run(settings, store, search=the process's SearchService)

    def schedule_for(self, settings: Settings) -> Schedule:
        schedule = self.schedule
        if hasattr(schedule, "next_after"):
            return schedule  # type: ignore[return-value]
        return schedule(settings)


JOBS: dict[str, Job] = {}


def register(
    name: str,
    schedule: Schedule | Callable[[Settings], Schedule],
    run: JobFunction,
    *,
    quiet: bool = False,
    live: bool = False,
    uses_search: bool = False,
) -> Job:
    """Add (or replace) a job in the registry; see the module docstring."""
    job = Job(name, schedule, run, quiet, live, uses_search)
    JOBS[name] = job
    return job


# ---- running one job ------------------------------------------------------------------------


@dataclass(slots=True)
class JobResult:
    job: str
    status: str  # ok | empty | failed
    summary: str


def outcome_of(result: object) -> tuple[str, str]:
    """(status, summary) of what a job function returned."""
    if result is None:
        return "ok", ""
    if isinstance(result, str):
        return "ok", result
    status = getattr(result, "status", "ok")
    summary = getattr(result, "summary", "")
    summary = summary() if callable(summary) else summary
    return str(status), str(summary)


def run_job(job: Job, settings: Settings, store: Store, search: SearchService | None = None) -> JobResult:
    """Run one job now, recording the run; failures are recorded, never raised. `search`: the
    process's search service, for the jobs that use one."""
    started_at = utc_now_iso()
    run_id = None if job.quiet else store.start_job_run(job.name)
    try:
        result = job.run(settings, store, search=search) if job.uses_search else job.run(settings, store)  # type: ignore[call-arg]
        status, summary = outcome_of(result)
    except Exception as error:  # a failed job must not stop the scheduler
        log.exception("job %s failed", job.name)
        status, summary = "failed", f"{type(error).__name__}: {error}"
    if run_id is not None:
        store.finish_job_run(run_id, status, summary)
    elif status == "failed" or summary:
        store.record_job_run(job.name, started_at, status, summary)
    log.info("job %s: %s %s", job.name, status, summary)
    return JobResult(job.name, status, summary)


# ---- leadership -----------------------------------------------------------------------------


def acquire_leadership(store: Store, owner: str, ttl_seconds: float) -> bool:
    """True while `owner` may run jobs; call again (at least every ttl) to keep it.

    The hook for the database backends: on SQLite (and, until backed otherwise, PostgreSQL) a lease
    row in the checkpoints table, taken over when its holder has not renewed it for `ttl_seconds`.
    The PostgreSQL backend may back this with `pg_try_advisory_lock` on a connection it keeps.
    """
    return store.try_acquire_lease(LEADER_LEASE, owner, ttl_seconds)


def release_leadership(store: Store, owner: str) -> None:
    store.release_lease(LEADER_LEASE, owner)


def new_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# ---- the scheduler --------------------------------------------------------------------------


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def next_run(job: Job, settings: Settings, store: Store, now: datetime) -> tuple[Schedule, datetime]:
    """The job's schedule and its next time from its last recorded run (a missed run is due now).
    Raises whatever a broken schedule raises (an invalid time of day, an unknown time zone)."""
    schedule = job.schedule_for(settings)
    last = store.recent_job_runs(1, job=job.name)
    if last:
        return schedule, schedule.next_after(parse_iso(last[0]["started_at"]))
    return schedule, schedule.first_after(now)


def planned_runs(settings: Settings, store: Store, now: datetime | None = None) -> list[dict]:
    """Each job with its schedule, last run, last error and next planned time (for `paperwire status`).
    A job whose schedule cannot be computed is listed with the reason instead of a time."""
    now = now or datetime.now(timezone.utc)
    failures = store.last_job_failures()
    plan = []
    for job in JOBS.values():
        last = store.recent_job_runs(1, job=job.name)
        try:
            schedule, next_at = next_run(job, settings, store, now)
            shown, due = str(schedule), max(next_at, now)
        except Exception as error:  # status must answer whatever the settings hold
            shown, due = f"invalid: {error}", None
        failure = failures.get(job.name)
        plan.append({
            "job": job.name, "schedule": shown, "next_at": due, "last_status": last[0]["status"] if last else None,
            "last_error": failure["summary"] if failure else None,
            "last_error_at": failure["started_at"] if failure else None,
        })  # fmt: skip
    far = datetime.max.replace(tzinfo=timezone.utc)
    return sorted(plan, key=lambda item: item["next_at"] or far)


class Scheduler:
    """Runs due jobs one after another while this process holds the leadership."""

    def __init__(
        self, settings: Settings, store: Store, jobs: dict[str, Job] | None = None, *,
        tick_seconds: float = 30.0, lease_seconds: float = 600.0, owner: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc), search: SearchService | None = None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.store = store
        self.search = search
        registry = jobs if jobs is not None else JOBS
        self.jobs = {name: job for name, job in registry.items() if settings.live_sources or not job.live}
        self.tick_seconds = tick_seconds
        self.lease_seconds = lease_seconds
        self.owner = owner or new_owner_id()
        self.clock = clock
        self.next_at: dict[str, datetime] = {}
        self.broken: dict[str, str] = {}  # job → why its schedule cannot be computed (recorded once)
        self.leader = False

    def _plan(self, now: datetime) -> None:
        """Next times of jobs not yet planned, from their last recorded run (a missed run is due).

        A job whose schedule is broken is recorded as failed (once per distinct error) and left out;
        the others keep running."""
        for job in self.jobs.values():
            if job.name in self.next_at:
                continue
            try:
                self.next_at[job.name] = next_run(job, self.settings, self.store, now)[1]
            except Exception as error:  # one broken schedule must not stop the others
                self._record_broken(job, error)

    def _record_broken(self, job: Job, error: Exception) -> None:
        reason = f"schedule: {type(error).__name__}: {error}"
        if self.broken.get(job.name) != reason:
            self.broken[job.name] = reason
            log.error("job %s cannot be scheduled: %s", job.name, reason)
            self.store.record_job_run(job.name, utc_now_iso(), "failed", reason)

    def run_due(self) -> list[JobResult]:
        """If leader: run every job whose time has come; returns what ran."""
        self.leader = acquire_leadership(self.store, self.owner, self.lease_seconds)
        if not self.leader:
            self.next_at.clear()  # the leader's runs change the plan: re-read it when we lead again
            return []
        now = self.clock()
        self._plan(now)
        results = []
        for name in sorted(self.next_at, key=self.next_at.__getitem__):
            if self.next_at[name] > now or name not in self.jobs:
                continue
            if not acquire_leadership(self.store, self.owner, self.lease_seconds):
                self.leader = False
                break
            job = self.jobs[name]
            results.append(run_job(job, self.settings, self.store, self.search))
            now = self.clock()
            try:
                self.next_at[name] = job.schedule_for(self.settings).next_after(now)
            except Exception as error:  # see _plan
                del self.next_at[name]
                self._record_broken(job, error)
        return results

    def seconds_to_next(self) -> float:
        if not self.leader or not self.next_at:
            return self.tick_seconds
        wait = (min(self.next_at.values()) - self.clock()).total_seconds()
        return max(0.0, min(wait, self.tick_seconds))

    def run_forever(self, stop: threading.Event) -> None:
        """Until `stop` is set: run due jobs, sleep until the next one (or the next lease renewal)."""
        log.info("scheduler %s started with jobs %s", self.owner, ", ".join(self.jobs))
        try:
            while not stop.is_set():
                try:
                    self.run_due()
                except Exception:  # e.g. the database briefly unavailable
                    log.exception("scheduler tick failed")
                stop.wait(self.seconds_to_next())
        finally:
            try:
                release_leadership(self.store, self.owner)
            except Exception:  # shutting down; the lease expires by itself
                log.exception("could not release the scheduler lease")
            log.info("scheduler %s stopped", self.owner)


class SchedulerThread:
    """A Scheduler in a background thread (for `paperwire serve`), stopped by `stop()`."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.stop_event = threading.Event()
        self.thread = threading.Thread(
            target=scheduler.run_forever, args=(self.stop_event,), name="paperwire-scheduler", daemon=True
        )

    def start(self) -> SchedulerThread:
        self.thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask the scheduler to stop after the running job; True when it stopped within `timeout`."""
        self.stop_event.set()
        self.thread.join(timeout)
        if self.thread.is_alive():
            log.warning("scheduler still finishing a job after %.0f s; leaving it to end with the process", timeout)
        return not self.thread.is_alive()


def start_scheduler(
    settings: Settings, store: Store, search: SearchService | None = None, **options: Any
) -> SchedulerThread:
    return SchedulerThread(Scheduler(settings, store, search=search, **options)).start()


@contextlib.contextmanager
def scheduler_running(
    settings: Settings, store: Store, *, enabled: bool = True, search: SearchService | None = None
) -> Iterator[SchedulerThread | None]:
    """The scheduler in a background thread for the duration of the block (the web app's lifespan)."""
    if not enabled:
        yield None
        return
    handle = start_scheduler(settings, store, search)
    try:
        yield handle
    finally:
        handle.stop()


# ---- REGISTRY: one line per job -------------------------------------------------------------


register("arxiv-daily", lambda s: Daily(s.arxiv_daily_at, s.schedule_time_zone), ingest_arxiv_daily, live=True)
register("hf-refresh", lambda s: Every(s.hf_refresh_minutes * 60), refresh_hf_week, live=True)
register("digests", lambda s: Daily(s.digest_at, s.schedule_time_zone), run_scheduled_digests, uses_search=True)
register("outbox", Every(seconds=30), send_outbox_job, quiet=True)
register("trending", Every(seconds=60), refresh_trending_job, quiet=True)
# New and changed papers get their vectors in the background (ingest itself never waits for the model).
register("embed", Every(seconds=300), embed_missing_job, quiet=True, uses_search=True)


def refit_readers_job(settings: Settings, store: Store) -> str | None:
    """Refit the "For you" models of readers whose feedback changed (incremental; quiet when none did)."""
    from paperwire.recommend.service import refit_changed

    count = refit_changed(store)
    return f"refitted {count} readers" if count else None


def rank_readers_job(settings: Settings, store: Store) -> str:
    """Every reader's "For you" of the newest day, week and month, stored (after the morning ingest)."""
    from paperwire.recommend.service import refresh_recommendations_job

    return refresh_recommendations_job(settings, store)


def train_recommender_job(settings: Settings, store: Store) -> str:
    """Learn "For you"'s term embedding from the catalogue's papers that share an author (weekly; minutes)."""
    from paperwire.recommend.service import train_catalogue_embedding

    return train_catalogue_embedding(store)


register("refit-readers", Every(seconds=300), refit_readers_job, quiet=True)
register("train-recommender", Every(seconds=7 * 86400), train_recommender_job)
register("rank-readers", lambda s: Daily(s.arxiv_daily_at, s.schedule_time_zone), rank_readers_job)
