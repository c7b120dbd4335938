"""Library and "For you" commands: `library import|export` and `recommend`."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import typer
from rich.console import Console

from paperwire.cli import app
from paperwire.cli.catalogue import store_for
from paperwire.periods import InvalidPeriod, parse_day, period_containing

if TYPE_CHECKING:
    from paperwire.storage import Store
    from paperwire.storage.records import UserRecord

console = Console(stderr=True)
library_app = typer.Typer(help="A reader's library: import BibTeX / arXiv ids / JSON lines, export BibTeX.",
                          no_args_is_help=True)  # fmt: skip
app.add_typer(library_app, name="library")


def checked_address(email: str) -> str:
    from email_validator import EmailNotValidError, validate_email  # (18 ms: not at every command's start-up)

    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        console.print(f"--user: {error}", markup=False, highlight=False)
        raise typer.Exit(2) from error


def user_or_exit(store: Store, email: str) -> UserRecord:
    user = store.get_user_by_email(checked_address(email))
    if user is None:
        console.print(f"no account with the address {email}", markup=False, highlight=False)
        raise typer.Exit(1)
    return user


@library_app.command("import")
def library_import(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(
        ...,
        help="BibTeX (.bib), a list of arXiv ids or URLs, or JSON lines",
        exists=True,
        dir_okay=False,
        readable=True,
    ),  # fmt: skip
    user: str = typer.Option(..., "--user", help="the reader's address (the account is created if missing)"),
    collection: str | None = typer.Option(None, "--collection", help="also put the matches into this collection"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """Import into a reader's library; prints what matched, what was kept and what was skipped, line by line."""
    from paperwire.library_import import LibraryFileError, import_library

    store = store_for(ctx)
    account = store.ensure_user(checked_address(user))
    reports, failed = [], False
    for path in files:
        try:
            result = import_library(store, account["id"], path.name, path.read_bytes(), collection=collection)
        except LibraryFileError as error:
            console.print(f"{path}: {error}", markup=False, highlight=False)
            failed = True
            continue
        reports.append(result.to_json())
        if not as_json:
            out = Console(highlight=False, soft_wrap=True)
            for line in result.lines:
                target = f" → {line.paper_id}" if line.paper_id else ""
                out.print(
                    f"{path.name}:{line.line}: {line.outcome:<7} {line.label}{target} ({line.detail})", markup=False
                )
            out.print(result.summary, markup=False)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(reports) + b"\n")
    if failed:
        raise typer.Exit(1)


@library_app.command("export")
def library_export(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", help="the reader's address"),
    collection: str | None = typer.Option(None, "--collection", help="one collection (default: all saved papers)"),
) -> None:
    """Print a collection (or the whole library) as BibTeX."""
    from paperwire.library_import import papers_to_bibtex

    store = store_for(ctx)
    account = user_or_exit(store, user)
    if collection is None:
        papers, references = store.saved_papers(account["id"]), store.references_of(account["id"])
    else:
        found = store.collection_named(account["id"], collection)
        if found is None:
            console.print(f"{user} has no collection named {collection!r}", markup=False, highlight=False)
            raise typer.Exit(1)
        papers = store.collection_papers(found["id"])
        references = [ref for ref in store.references_of(account["id"]) if ref["collection_id"] == found["id"]]
    sys.stdout.write(papers_to_bibtex(papers, references))


@app.command("recommend-train")
def recommend_train(
    ctx: typer.Context,
    epochs: int = typer.Option(5, "--epochs", min=0, max=100, help="passes over the catalogue's author pairs"),
    min_papers: int | None = typer.Option(
        None, "--min-papers", min=2, help="train only when this many papers share an author with another (10,000)"
    ),
) -> None:
    """Learn "For you"'s term embedding from the catalogue (papers that share an author are the same line of
    research) and store it in the database; rankings use it from then on. Also the weekly job
    `train-recommender`."""
    from paperwire.recommend.service import train_catalogue_embedding

    store = store_for(ctx)
    say = lambda line: console.print(line, markup=False, highlight=False)  # noqa: E731
    chosen = {} if min_papers is None else {"min_papers": min_papers}  # else the job's own MIN_AUTHOR_PAPERS
    say(train_catalogue_embedding(store, epochs=epochs, say=say, **chosen))


@app.command("recommend")
def recommend(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", help="the reader's address"),
    period: str = typer.Option("day", "--period", help="day | week | month"),
    day: str | None = typer.Option(None, "--date", help="YYYY-MM-DD in the period (default: the newest listed day)"),
    limit: int = typer.Option(10, "--limit", min=1, max=200, help="how many papers"),
    as_json: bool = typer.Option(False, "--json", help='print a JSON array of {"id", "title", "score", "reason"}'),
) -> None:
    """The reader's "For you" list for a period: best first, each paper with its reason."""
    from paperwire.recommend.service import recommendations

    if period not in ("day", "week", "month"):
        console.print(f"--period must be day, week or month (got {period!r})", markup=False, highlight=False)
        raise typer.Exit(2)
    store = store_for(ctx)
    account = user_or_exit(store, user)
    try:
        when = parse_day(day) if day else None
    except InvalidPeriod as error:
        console.print(f"--date: {error}", markup=False, highlight=False)
        raise typer.Exit(2) from error
    if when is None:
        latest = store.latest_listed_day()
        when = date.fromisoformat(latest) if latest else date.today()
    ranked, _total = recommendations(store, account, period_containing(period, when), limit=limit)
    rows = [{"id": item.paper.id, "title": item.paper.title, "score": round(item.score, 6), "reason": item.reason}
            for item in ranked]  # fmt: skip
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(rows) + b"\n")
        return
    out = Console(highlight=False, soft_wrap=True)
    for rank, row in enumerate(rows, start=1):
        out.print(f"{rank:>3}. {row['title']}  ({row['id']}, score {row['score']:.3g})", markup=False)
        out.print(f"     {row['reason']}", markup=False)
