"""Operations commands: `db copy SRC DST` (with a table-by-table comparison) and `backup [FILE]`."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from paperwire.cli import app, settings_of
from paperwire.cli.catalogue import db_app

console = Console(stderr=True)


def _progress() -> Progress:
    columns = (TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=console, transient=not console.is_terminal)


@db_app.command("copy")
def db_copy(
    source_url: str = typer.Argument(..., help="database to read, e.g. sqlite:////var/lib/paperwire/paperwire.db"),
    destination_url: str = typer.Argument(..., help="empty database to fill, e.g. postgresql://paperwire@db/paperwire"),
) -> None:
    """Copy every table into an empty database (migrated first), then compare counts and checksums."""
    import sqlalchemy as sa

    from paperwire.settings import mask_url_password
    from paperwire.storage.transfer import compare_databases, copy_database

    if sa.make_url(source_url).get_backend_name() == "sqlite":
        database = sa.make_url(source_url).database
        if not database or not Path(database).is_file():
            console.print(f"[red]no SQLite database at {source_url}[/red]")
            raise typer.Exit(2)
    shown = f"{mask_url_password(source_url)} → {mask_url_password(destination_url)}"
    console.print(f"copying {shown}")
    tasks: dict[str, TaskID] = {}
    with _progress() as progress:

        def advance(table: str, rows: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = progress.add_task(table, total=total)
            progress.advance(tasks[table], rows)

        try:
            copied = copy_database(source_url, destination_url, advance)
        except ValueError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from error
    console.print(f"copied {len(copied)} tables; comparing …")
    comparisons = compare_databases(source_url, destination_url)
    table = Table("table", "source rows", "destination rows", "checksum", "equal")
    for item in comparisons:
        either = item.source or item.destination
        table.add_row(
            item.table,
            str(item.source.rows) if item.source else "(missing)",
            str(item.destination.rows) if item.destination else "(missing)",
            either.checksum[:16] if either else "",
            "yes" if item.equal else "[red]NO[/red]",
        )
    Console().print(table)
    different = [item.table for item in comparisons if not item.equal]
    if different:
        console.print(f"[red]the copy differs in {', '.join(different)}[/red]")
        raise typer.Exit(1)
    console.print("every table has the same rows in both databases")


@app.command("backup")
def backup(
    ctx: typer.Context,
    target: Path | None = typer.Argument(None, help="file to write (default: HOME/backups/paperwire-<time>.db)"),
) -> None:
    """Back up the database while it is in use (SQLite online backup; pg_dump advice for PostgreSQL)."""
    import sqlalchemy as sa

    from paperwire.settings import mask_url_password
    from paperwire.storage.transfer import backup_sqlite

    settings = settings_of(ctx)
    url = settings.effective_database_url
    if sa.make_url(url).get_backend_name() == "postgresql":
        parts = sa.make_url(url)
        Console().print(
            "PostgreSQL is backed up with its own tools, while paperwire keeps running:\n"
            f"  pg_dump --format=custom --file=paperwire-$(date +%F).dump "
            f"'{mask_url_password(parts.set(drivername='postgresql').render_as_string(hide_password=False))}'\n"
            "restore into an empty database with:\n"
            "  pg_restore --no-owner --dbname=postgresql://…/paperwire paperwire-YYYY-MM-DD.dump\n"
            "For point-in-time recovery use WAL archiving (pgBackRest, Barman or a managed service)."
        )
        return
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = target or settings.ensure_home() / "backups" / f"paperwire-{stamp}.db"
    if target.exists():
        console.print(f"[red]{target} exists; choose another file[/red]")
        raise typer.Exit(2)
    with _progress() as progress:
        task = progress.add_task("pages", total=None)
        try:
            backup_sqlite(url, target, lambda done, total: progress.update(task, completed=done, total=total))
        except ValueError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from error
    Console().print(f"backed up to {target} ({target.stat().st_size:,} bytes)")
