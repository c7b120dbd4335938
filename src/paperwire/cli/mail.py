"""Mail commands: `digest run|send` and `subscribers list|show|remove|import`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import typer
from rich.console import Console
from rich.table import Table

from paperwire.cli import app, settings_of
from paperwire.cli.catalogue import store_for
from paperwire.periods import InvalidPeriod, parse_day

if TYPE_CHECKING:
    from paperwire.mail.subscribers import Subscriber

# paperwire.mail.subscribers' CADENCES and STATUSES (the mail modules load the database layer: imported
# by the commands that run, not by --help; tests/test_cli.py checks the two lists agree).
CADENCES = ("daily", "weekly", "monthly")
STATUSES = ("pending", "confirmed", "unsubscribed", "bouncing")

console = Console(stderr=True)
digest_app = typer.Typer(help="Compose and send digests.", no_args_is_help=True)
subscribers_app = typer.Typer(help="Manage subscribers.", no_args_is_help=True)
app.add_typer(digest_app, name="digest")
app.add_typer(subscribers_app, name="subscribers")


@digest_app.command("run")
def digest_run(
    ctx: typer.Context,
    cadence: str = typer.Option("daily", help=f"one of {', '.join(CADENCES)}"),
    day: str | None = typer.Option(
        None, "--date", help="YYYY-MM-DD: the period containing this day (default: the last complete period)"
    ),  # fmt: skip
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would be composed; write and send nothing"),
) -> None:
    """Compose the period's digests into the outbox, then send them."""
    from paperwire.mail.compose import run_digest
    from paperwire.mail.transport import TransportUnavailable

    if cadence not in CADENCES:
        raise typer.BadParameter(f"choose one of {', '.join(CADENCES)}", param_hint="--cadence")
    try:
        chosen: date | None = parse_day(day) if day else None
    except InvalidPeriod as error:
        raise typer.BadParameter(str(error), param_hint="--date") from error
    settings = settings_of(ctx)
    store = store_for(ctx)
    try:
        report = run_digest(store, settings, cadence, chosen, dry_run=dry_run, samples=3 if dry_run else 0)
    except TransportUnavailable as error:
        console.print(f"[red]digest run failed: {error}[/red]\nThe digests stay in the outbox; "
                      "`paperwire digest send` or the worker sends them once the server is reachable.")  # fmt: skip
        raise typer.Exit(1) from error
    out = Console()
    out.print(f"{'dry run: ' if dry_run else ''}{cadence} digest {report.summary}", markup=False, highlight=False)
    for address, items in report.compose.samples:
        out.print(f"  {address}:", markup=False, highlight=False)
        for item in items:
            out.print(f"    [{item.section}] {item.paper_id}  {item.reason}", markup=False, highlight=False)


@digest_app.command("send")
def digest_send(ctx: typer.Context) -> None:
    """Send every mail that is due in the outbox (retries included), then stop."""
    from paperwire.mail.outbox import send_outbox
    from paperwire.mail.transport import TransportUnavailable

    try:
        report = send_outbox(store_for(ctx), settings_of(ctx))
    except TransportUnavailable as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    Console().print(str(report))


@subscribers_app.command("list")
def subscribers_list(
    ctx: typer.Context,
    status: str | None = typer.Option(None, help=f"only one of {', '.join(STATUSES)}"),
    limit: int = typer.Option(100, help="how many"),
    offset: int = typer.Option(0, help="skip this many"),
) -> None:
    """Subscribers in the order they came, with their state and cadence."""
    from paperwire.mail import subscribers as lifecycle

    store = store_for(ctx)
    counts = store.count_subscribers()
    table = Table("email", "status", "cadence", "interests", "since", "bounces",
                  title=", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no subscribers")  # fmt: skip
    for row in store.list_subscribers(status=status, limit=limit, offset=offset):
        interests = lifecycle.Interests.from_json(row["interests"])
        shown = "; ".join((*interests.topics, *interests.categories, *interests.authors, *interests.keywords))
        table.add_row(row["email"], row["status"], row["cadence"], shown[:60], (row["consent_at"] or row["created_at"])[:10],
                      str(row["bounce_count"]))  # fmt: skip
    Console().print(table)


def find_or_exit(store, email: str) -> Subscriber:
    from paperwire.mail import subscribers as lifecycle

    row = store.find_subscriber(lifecycle.email_key(email))
    if row is None:
        console.print(f"no subscriber {email}")
        raise typer.Exit(1)
    return lifecycle.Subscriber.from_row(row)


@subscribers_app.command("show")
def subscribers_show(ctx: typer.Context, email: str = typer.Argument(..., help="the address")) -> None:
    """Everything kept about one subscriber (JSON)."""
    from paperwire.mail import subscribers as lifecycle

    store = store_for(ctx)
    subscriber = find_or_exit(store, email)
    typer.echo(orjson.dumps(lifecycle.export_subscriber(store, subscriber), option=orjson.OPT_INDENT_2).decode())


@subscribers_app.command("remove")
def subscribers_remove(ctx: typer.Context, email: str = typer.Argument(..., help="the address")) -> None:
    """Delete a subscriber and their mail history."""
    from paperwire.mail import subscribers as lifecycle

    store = store_for(ctx)
    lifecycle.delete_subscriber(store, find_or_exit(store, email))
    Console().print(f"removed {email}")


@subscribers_app.command("import")
def subscribers_import(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with columns email, cadence, topics"),
    confirmed: bool = typer.Option(False, "--confirmed", help="you vouch that these addresses gave consent"),
) -> None:
    """Import subscribers from CSV. They stay pending (no mail) unless --confirmed."""
    from paperwire.mail import subscribers as lifecycle

    store = store_for(ctx)
    try:
        with open(file, encoding="utf-8-sig", newline="") as stream:
            result = lifecycle.import_subscribers(store, stream, confirmed=confirmed, source=file.name)
    except lifecycle.InvalidSubscription as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    out = Console()
    state = "confirmed" if confirmed else "pending"
    out.print(f"added {result.added} ({state}), already known {result.known}, invalid {len(result.invalid)}")
    for line in result.invalid[:100]:
        out.print(f"  skipped {line}", markup=False, highlight=False)


def mail_status(store) -> str:
    """Subscribers and outbox in one line each, and the last digest runs (for `paperwire status`)."""
    subscribers = store.count_subscribers()
    outbox = store.outbox_counts()
    lines = [
        "subscribers: " + (", ".join(f"{n} {s}" for s, n in sorted(subscribers.items())) or "none"),
        "outbox: " + (", ".join(f"{n} {s}" for s, n in sorted(outbox.items())) or "empty"),
    ]
    runs = [run for run in store.recent_job_runs(50) if run["job"].startswith("digest-")][:5]
    for run in runs:
        lines.append(f"  {run['job']} {run['started_at'][:16]} {run['status']}: {run['summary']}")
    return "\n".join(lines)
