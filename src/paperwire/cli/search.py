"""Search commands: search "<query>" [--json], embed (missing vectors, with progress), sample-vectors."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from paperwire.cli import app, settings_of
from paperwire.cli.catalogue import store_for

console = Console(stderr=True)


def progress_bar() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=console, transient=not console.is_terminal)


@app.command("search")
def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help='words, "a phrase", prefix*, an arXiv id, a title or an author'),
    limit: int = typer.Option(10, "--limit", min=1, max=200, help="how many results"),
    offset: int = typer.Option(0, "--offset", min=0, max=800, help="skip this many results"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON array of hits, best first"),
    date_from: str | None = typer.Option(None, "--from", help="listed on or after YYYY-MM-DD"),
    date_to: str | None = typer.Option(None, "--to", help="listed on or before YYYY-MM-DD"),
    category: str | None = typer.Option(None, "--category", help="e.g. cs.CL"),
    author: str | None = typer.Option(None, "--author", help="an author's name"),
) -> None:
    """Hybrid search (keywords and meaning) over the stored papers; the query may be a pasted abstract
    (up to 5,000 characters)."""
    from paperwire.search.query import MAX_QUERY_CHARS

    if len(query) > MAX_QUERY_CHARS:
        raise typer.BadParameter(f"the query is {len(query):,} characters long; the limit is {MAX_QUERY_CHARS:,}")
    from paperwire.search.hybrid import SearchService
    from paperwire.search.keyword import Filters

    store = store_for(ctx)
    service = SearchService(store, settings_of(ctx))
    try:
        service.index.sync(store)
        filters = Filters(date_from=date_from, date_to=date_to, category=category, author=author)
        results = service.search(query, filters, limit, offset)
    finally:
        service.close()
    if results.notice:
        console.print(results.notice, markup=False, highlight=False)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps([hit.to_json() for hit in results.hits]) + b"\n")
        return
    out = Console()
    for rank, hit in enumerate(results.hits, start=offset + 1):
        authors = ", ".join(hit.paper.authors[:3]) + (" …" if len(hit.paper.authors) > 3 else "")
        out.print(f"{rank:>3}. [bold]{hit.paper.title}[/bold]  ({hit.paper.id}, {hit.score:.3f}, {hit.reason})",
                  highlight=False)  # fmt: skip
        out.print(f"     {authors} · {hit.paper.listed_on or ''}", markup=False, highlight=False)
    if not results.hits:
        out.print("no results", highlight=False)
        for line in help_lines(results.help_json() or {}):
            out.print(line, markup=False, highlight=False)


def help_lines(help_json: dict) -> list[str]:
    """What to try after "no results", one suggestion a line."""
    lines = []
    if help_json.get("submit_arxiv_id"):
        lines.append(
            f"arXiv {help_json['submit_arxiv_id']} is not in the catalogue: add it with the site's Submit page"
        )
    if help_json.get("did_you_mean"):
        lines.append(f"did you mean: {help_json['did_you_mean']}")
    if help_json.get("nearby_categories"):
        lines.append("nearby topics: " + ", ".join(help_json["nearby_categories"]))
    return lines


@app.command("embed")
def embed(
    ctx: typer.Context,
    limit: int | None = typer.Option(None, "--limit", min=1, help="embed at most this many papers"),
    batch_size: int = typer.Option(32, "--batch-size", min=1, max=512, help="texts per model call"),
    model: str | None = typer.Option(None, "--model", help="embedder (default: PAPERWIRE_EMBEDDER)"),
    prepare: bool = typer.Option(False, "--prepare", help="only build the bulk model's word-piece table (setup)"),
) -> None:
    """Compute the missing embeddings (new papers, changed text, or a new model); resumable."""
    from paperwire.search.embedders import EmbedderUnavailable, make_embedder
    from paperwire.search.embedding import embed_missing

    settings = settings_of(ctx)
    if prepare:
        from paperwire.search.static import default_cache, prepare_table

        target = settings.home / "models" / default_cache().name
        made = prepare_table(target)
        Console().print(f"{'built' if made else 'already there:'} the bulk model's table {target}")
        return
    store = store_for(ctx)
    try:
        embedder = make_embedder(model or settings.embedder)
        if embedder.name == "none":
            raise EmbedderUnavailable("the embedder is 'none': nothing to compute")
    except EmbedderUnavailable as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    todo = store.count_texts_to_embed(embedder.name)
    total = min(todo, limit) if limit else todo
    with progress_bar() as progress:
        task = progress.add_task(f"embedding with {embedder.name}", total=total)
        report = embed_missing(store, embedder, progress=lambda n: progress.advance(task, n), limit=limit,
                               batch_size=batch_size)  # fmt: skip
    Console().print(
        f"embedded {report.embedded}, unchanged {report.unchanged}, "
        f"stored vectors of {embedder.name}: {store.count_embeddings(embedder.name)}"
    )


@app.command("sample-vectors")
def sample_vectors(
    ctx: typer.Context,
    output: Path | None = typer.Argument(None, help="where to write (default: inside paperwire/sample/)"),
    batch_size: int = typer.Option(32, "--batch-size", min=1, max=512),
) -> None:
    """Precompute the bundled sample's vectors (MiniLM, float16) so the demo searches by meaning at once."""
    from paperwire.sample import load_sample, sample_vectors_path
    from paperwire.search.embedders import make_embedder
    from paperwire.search.embedding import embed_missing, write_vectors_file
    from paperwire.storage import open_store

    embedder = make_embedder(settings_of(ctx).embedder)
    target = output or sample_vectors_path(embedder.name)
    with tempfile.TemporaryDirectory() as scratch:
        store = open_store(f"sqlite:///{scratch}/sample.db")
        load_sample(store, with_vectors=False)
        ids = [paper.id for paper in store.iter_papers()]
        with progress_bar() as progress:
            task = progress.add_task(f"embedding the sample with {embedder.name}", total=len(ids))
            embed_missing(store, embedder, progress=lambda n: progress.advance(task, n), batch_size=batch_size)
        written = write_vectors_file(store, embedder.name, ids, target)
        store.close()
    Console().print(f"wrote {written} vectors to {target} ({target.stat().st_size / 1e6:.1f} MB)")
