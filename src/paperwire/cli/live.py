"""Live-source commands (`paperwire ingest arxiv|oai|hf …`) and `paperwire worker` (the scheduler).

Each command calls exactly the function its scheduled job calls (see paperwire.jobs).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from paperwire.cli import app, settings_of
from paperwire.cli.catalogue import LIVE_INGEST, print_report, store_for

if TYPE_CHECKING:
    from paperwire.sources.http import LiveReport

console = Console(stderr=True)

arxiv_app = typer.Typer(name="arxiv", add_completion=False, pretty_exceptions_enable=False)
oai_app = typer.Typer(name="oai", add_completion=False, pretty_exceptions_enable=False)
hf_app = typer.Typer(name="hf", add_completion=False, pretty_exceptions_enable=False)
LIVE_INGEST.update({"arxiv": arxiv_app, "oai": oai_app, "hf": hf_app})


def run_live(ctx: typer.Context, job: str, fetch: Callable[..., LiveReport]) -> None:
    """Run one live fetch as a recorded job run; print the report; exit 1 when it could not run."""
    from paperwire.sources.http import SourceError

    store = store_for(ctx)
    run_id = store.start_job_run(job)
    try:
        live = fetch(settings_of(ctx), store)
    except SourceError as error:
        store.finish_job_run(run_id, "failed", str(error))
        console.print(f"{job} failed: {error}", style="red", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from error
    except BaseException as error:
        store.finish_job_run(run_id, "failed", f"{type(error).__name__}: {error}")
        raise
    store.finish_job_run(run_id, live.status, live.summary)
    print_report(live.report)
    for note in live.notes:
        Console().print(note, markup=False, highlight=False, soft_wrap=True)


def checked_day(value: str | None, option: str) -> str | None:
    from paperwire.models import InvalidRecord, parse_day

    if value is None:
        return None
    try:
        return parse_day(value)
    except InvalidRecord as error:
        raise typer.BadParameter(f"{option}: expected YYYY-MM-DD, got {value!r}") from error


@arxiv_app.command()
def arxiv(
    ctx: typer.Context,
    categories: str | None = typer.Option(None, "--categories", help="e.g. cs.AI,cs.CL,cs.LG (default: setting)"),
    day: str | None = typer.Option(None, "--date", help="expected announcement day; another day's feed is empty"),
) -> None:
    """Today's arXiv announcement (new and cross-listed papers, replacements of stored ones)."""
    from paperwire.sources.arxiv import ingest_arxiv_daily, parse_categories

    try:
        names = parse_categories(categories) if categories else None
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    expected = checked_day(day, "--date")
    run_live(ctx, "arxiv-daily", lambda s, store: ingest_arxiv_daily(s, store, categories=names, day=expected))


@oai_app.command()
def oai(
    ctx: typer.Context,
    set_spec: str | None = typer.Option(None, "--set", help="OAI set such as cs:cs:AI (default: everything)"),
    from_day: str | None = typer.Option(None, "--from", help="first datestamp YYYY-MM-DD"),
    until: str | None = typer.Option(None, "--until", help="last datestamp YYYY-MM-DD"),
    restart: bool = typer.Option(False, "--restart", help="ignore the stored checkpoint"),
) -> None:
    """Harvest arXiv over OAI-PMH; an interrupted or finished harvest continues from its checkpoint."""
    from paperwire.sources.oai import harvest_oai

    first, last = checked_day(from_day, "--from"), checked_day(until, "--until")
    run_live(
        ctx, f"oai {set_spec or '*'}",
        lambda s, store: harvest_oai(s, store, set_spec=set_spec, from_day=first, until=last, restart=restart),
    )  # fmt: skip


@hf_app.command()
def hf(
    ctx: typer.Context,
    day: list[str] = typer.Option([], "--date", help="day YYYY-MM-DD (repeatable; default: today, UTC)"),
    since: str | None = typer.Option(None, "--since", help="every day from this one to today"),
) -> None:
    """Hugging Face daily papers of a day (or since a day), refreshing upvotes, comments and stars."""
    from paperwire.sources.hf_api import ingest_hf_days, ingest_hf_since

    days = [checked for checked in (checked_day(value, "--date") for value in day) if checked is not None]
    first = checked_day(since, "--since")
    if days and first:
        raise typer.BadParameter("give --date or --since, not both")
    today = datetime.now(timezone.utc).date().isoformat()
    if first:
        if first > today:
            raise typer.BadParameter(f"--since {first} is in the future")
        run_live(ctx, "hf", lambda s, store: ingest_hf_since(s, store, first))
        return
    run_live(ctx, "hf", lambda s, store: ingest_hf_days(s, store, days or [today]))


@app.command("worker")
def worker(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="run the jobs that are due, then exit"),
    job: str | None = typer.Option(None, "--job", help="run this job now, then exit"),
) -> None:
    """Run the scheduled jobs in the foreground (only one scheduler runs jobs at a time)."""
    from paperwire.jobs import JOBS, Scheduler, run_job

    settings = settings_of(ctx)
    store = store_for(ctx)
    search = worker_search(store, settings)  # the process's one search service (digests, embeddings)
    if job is not None:
        if job not in JOBS:
            raise typer.BadParameter(f"unknown job {job!r}; jobs: {', '.join(JOBS)}")
        result = run_job(JOBS[job], settings, store, search)
        Console().print(f"{result.job}: {result.status} {result.summary}", highlight=False)
        raise typer.Exit(1 if result.status == "failed" else 0)
    scheduler = Scheduler(settings, store, search=search)
    if once:
        results = scheduler.run_due()
        if not scheduler.leader:
            console.print("another scheduler holds the leadership; nothing run")
        for result in results:
            Console().print(f"{result.job}: {result.status} {result.summary}", highlight=False)
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    console.print(f"worker {scheduler.owner}: jobs {', '.join(JOBS)} (Ctrl-C stops)")
    if search is not None:
        search.start(warm_model=False)  # a long-running worker follows the database like a web node
    try:
        scheduler.run_forever(stop)
    finally:
        if search is not None:
            search.stop()


def worker_search(store, settings):  # Store, Settings → SearchService | None
    """The search service of a worker process (None when search is not installed)."""
    try:
        from paperwire.search.hybrid import SearchService
    except ImportError:
        return None
    return SearchService(store, settings)
