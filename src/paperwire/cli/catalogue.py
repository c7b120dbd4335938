"""Catalogue commands: config, db upgrade, ingest FILE…, export, serve, demo, status."""

from __future__ import annotations

import functools
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from paperwire.cli import app, settings_of, settings_problems, settle

if TYPE_CHECKING:
    from paperwire.models import ImportReport
    from paperwire.storage import Store

# The file formats `ingest` reads (paperwire.sources.SOURCES; named here so that --help imports nothing).
FILE_FORMATS = ("hf", "kaggle", "jsonl", "listing")

console = Console(stderr=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")

# Live sources register a Typer app here under their name (`paperwire ingest arxiv …`).
LIVE_INGEST: dict[str, typer.Typer] = {}


def store_for(ctx: typer.Context) -> Store:
    from paperwire.storage import open_store

    settings = settings_of(ctx)
    settings.ensure_home()
    store = open_store(settings.effective_database_url)
    ctx.call_on_close(store.close)  # when the command ends (its pool's connections with it)
    return store


@app.command("config")
def show_config(
    ctx: typer.Context,
    check: bool = typer.Option(False, "--check", help="only validate: list each problem, exit 1 if any"),
) -> None:
    """Print the effective settings, secrets masked (--check: validate them, as start-up does)."""
    from paperwire.settings import SettingsError, unknown_variables

    settings, problems = settings_of(ctx), settings_problems(ctx)
    if not problems:
        try:
            settings.check_secret_key(generate=False)
        except SettingsError as error:
            problems = error.problems
    for name in unknown_variables():
        console.print(f"warning: {name} is set but no setting reads it (a typo?)", markup=False, highlight=False)
    if check:
        for problem in problems:
            console.print(problem, markup=False, highlight=False, soft_wrap=True)
        if problems:
            console.print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the settings")
            raise typer.Exit(1)
        Console().print("settings are valid")
        return
    table = Table("setting", "value", "environment variable")
    for name, value in settings.masked().items():
        table.add_row(name, value, f"PAPERWIRE_{name.upper()}")
    Console().print(table)
    for problem in problems:
        console.print(problem, markup=False, highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply pending migrations (an empty database gets the whole schema)."""
    from paperwire.storage import Store

    settings = settings_of(ctx)
    settings.ensure_home()
    store = Store(settings.effective_database_url)
    try:
        applied = store.upgrade()
    finally:
        store.close()
    console.print(f"applied: {', '.join(applied)}" if applied else "database is up to date")


@app.command(
    "ingest",
    # --help is handled below, so that `ingest arxiv --help` shows the live source's own options.
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def ingest(
    ctx: typer.Context,
    files: list[str] = typer.Argument(None, help="files to import (.gz read directly), or a live source name"),
    format_name: str | None = typer.Option(
        None, "--format", help=f"one of {', '.join(FILE_FORMATS)}; detected when omitted"
    ),
) -> None:
    """Import papers from files, or fetch them from a live source (`ingest arxiv|oai|hf …`)."""
    from paperwire.ingest import ingest_records, read_file
    from paperwire.models import ImportReport
    from paperwire.sources import SOURCES, UnknownFormat

    if files and files[0] in LIVE_INGEST:
        exit_code = LIVE_INGEST[files[0]](
            args=[*files[1:], *ctx.args], obj=ctx.obj, standalone_mode=False, prog_name=f"paperwire ingest {files[0]}"
        )
        if exit_code:  # without standalone mode, click returns the sub-command's exit code
            raise typer.Exit(exit_code)
        return
    asked_for_help = "--help" in (*(files or ()), *ctx.args)
    if not files or asked_for_help:
        typer.echo(ctx.get_help())
        raise typer.Exit(0 if asked_for_help else 2)
    if ctx.args:
        raise typer.BadParameter(f"unexpected options {' '.join(ctx.args)}")
    if format_name is not None and format_name not in SOURCES:
        raise typer.BadParameter(f"unknown format {format_name!r}; choose from {', '.join(SOURCES)}")
    paths = [Path(name) for name in files]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        console.print(f"[red]no such file: {', '.join(missing)}[/red]")
        raise typer.Exit(2)
    store = store_for(ctx)
    report = ImportReport()
    settle()
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=not console.is_terminal) as progress:
        for path in paths:
            task = progress.add_task(path.name, total=path.stat().st_size)
            try:
                records = read_file(path, format_name, functools.partial(progress.advance, task))
                ingest_records(store, records, report)
            except UnknownFormat as error:
                console.print(f"[red]{error}[/red]")
                raise typer.Exit(2) from error
    print_report(report)


def print_report(report: ImportReport) -> None:
    out = Console()
    out.print(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, skipped {len(report.skipped)}"
    )
    for skip in report.skipped[:200]:
        out.print(f"  skipped {skip}", markup=False, highlight=False)
    if len(report.skipped) > 200:
        out.print(f"  … and {len(report.skipped) - 200} more skipped")


@app.command("export")
def export(
    ctx: typer.Context,
    output: Path | None = typer.Argument(None, help="file to write (default: standard output)"),
    format_name: str = typer.Option("jsonl", "--format", help="jsonl: paperwire's own JSON lines"),
) -> None:
    """Write every paper in paperwire's own JSON lines (read back by `ingest` losslessly)."""
    if format_name != "jsonl":
        raise typer.BadParameter("only jsonl is supported")
    store = store_for(ctx)
    stream = open(output, "wb") if output else sys.stdout.buffer
    try:
        count = 0
        for paper in store.iter_papers():
            stream.write(orjson.dumps(paper.to_record()) + b"\n")
            count += 1
    finally:
        if output:
            stream.close()
    console.print(f"exported {count} papers")


@app.command("status")
def status(ctx: typer.Context, limit: int = typer.Option(20, help="how many recent runs")) -> None:
    """Papers stored, the last job runs and how they ended."""
    out = Console()
    for problem in settings_problems(ctx):  # shown, and the default used instead, so status still answers
        out.print(f"settings problem: {problem} (default used here)", markup=False, highlight=False, soft_wrap=True)
    try:
        store = store_for(ctx)
        papers = store.count_papers()
    except Exception as error:  # status reports what is wrong instead of a traceback
        from paperwire.settings import mask_url_password

        shown = mask_url_password(settings_of(ctx).effective_database_url)
        out.print(f"database {shown} cannot be read: {type(error).__name__}: {str(error).splitlines()[0]}",
                  markup=False, highlight=False, soft_wrap=True)  # fmt: skip
        raise typer.Exit(1) from error
    out.print(f"database: {store.url.split('@')[-1]}  papers: {papers}")
    from paperwire.cli.mail import mail_status

    out.print(mail_status(store), markup=False, highlight=False)
    table = Table("job", "started", "finished", "status", "summary", title="recent runs")
    for run in store.recent_job_runs(limit):
        table.add_row(run["job"], run["started_at"], run["finished_at"] or "", run["status"], run["summary"])
    out.print(table)
    from paperwire.jobs import planned_runs

    planned = Table("job", "schedule", "next run (UTC)", "last status", "last error", title="scheduled jobs")
    for plan in planned_runs(settings_of(ctx), store):
        next_at = plan["next_at"].strftime("%Y-%m-%d %H:%M") if plan["next_at"] else "(not scheduled)"
        last_error = f"{plan['last_error_at'][:16]} {plan['last_error']}" if plan["last_error"] else ""
        planned.add_row(plan["job"], plan["schedule"], next_at, plan["last_status"] or "", last_error)
    out.print(planned)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    no_jobs: bool = typer.Option(False, "--no-jobs", help="web only: leave scheduled jobs to a worker"),
    sample: bool = typer.Option(False, "--sample", help="load the bundled sample when the database is empty"),
) -> None:
    """Serve the web pages and the API (and run the scheduled jobs unless --no-jobs)."""
    import uvicorn

    from paperwire.app import create_app
    from paperwire.web.server import server_options

    store = store_for(ctx)
    if sample and store.count_papers() == 0:
        load_sample_into(store)
    from paperwire.logs import uvicorn_log_config

    # Bound before the app is built, so links and mails carry the address actually served (--port 0 too).
    listener = bind_listener(host, port)
    served_at = listening_url(host, listener.getsockname()[1])
    settings = settings_of(ctx).listening_at(served_at)
    application = create_app(settings, store=store, run_jobs=not no_jobs)
    console.print(f"paperwire serving {store.count_papers()} papers at {served_at}/"
                  + ("" if settings.base_url == served_at else f" (links use {settings.base_url})"))  # fmt: skip
    config = uvicorn.Config(
        application, host=host, port=port, log_level="warning", log_config=uvicorn_log_config(),
        **server_options(settings),
    )  # fmt: skip
    uvicorn.Server(config).run(sockets=[listener])


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        console.print(f"[red]cannot listen on {host}:{port}: {error.strerror}[/red]")
        raise typer.Exit(2) from error
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def listening_url(host: str, port: int) -> str:
    """The address links use for a server listening on host:port (a wildcard address: this machine)."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


@app.command("demo")
def demo(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
) -> None:
    """Load the bundled sample (arXiv CC0 metadata) into the data directory, then serve it (offline: the
    scheduled jobs run, except the fetches from arXiv and Hugging Face)."""
    store = store_for(ctx)
    load_sample_into(store)
    ctx.find_root().obj = settings_of(ctx).model_copy(update={"live_sources": False})
    ctx.invoke(serve, ctx=ctx, host=host, port=port, no_jobs=False, sample=False)


def load_sample_into(store: Store) -> None:
    from paperwire.sample import load_sample

    report = load_sample(store)
    console.print(f"sample: added {report.added}, updated {report.updated}, unchanged {report.unchanged}")
