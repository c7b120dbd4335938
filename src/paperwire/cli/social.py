"""Trending and users: `paperwire trending` (rescore what changed, then list) — the same call as the job."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Any

import orjson
import typer
from rich.console import Console

from paperwire.cli import app, settings_of
from paperwire.cli.catalogue import store_for


@app.command("trending")
def trending(
    ctx: typer.Context,
    limit: int = typer.Option(10, "--limit", min=1, max=200, help="how many papers to list"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON array, best first"),
    full: bool = typer.Option(False, "--full", help="rescore every paper, not only those whose signals changed"),
) -> None:
    """Rescore papers whose upvotes or stars changed, then list the top trending papers with reasons."""
    from paperwire.trending import entries_for, refresh_trending_job, refresh_trending_scores

    store = store_for(ctx)
    now = datetime.now(timezone.utc)
    summary = (
        f"rescored {refresh_trending_scores(store, now, full=True, limit=10**9)} papers"
        if full
        else refresh_trending_job(settings_of(ctx), store)
    )
    ranked, total = store.trending_papers(limit=limit)
    rows: list[dict[str, Any]] = [
        {"id": entry.paper.id, "title": entry.paper.title, "score": round(entry.score, 6),
         "reasons": entry.reasons, "upvotes": entry.paper.upvotes}
        for entry in entries_for(store, ranked, now)
    ]  # fmt: skip
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(rows) + b"\n")
        return
    err = Console(stderr=True)
    err.print(f"{summary}; {total} papers trend", markup=False, highlight=False)
    out = Console()
    for rank, row in enumerate(rows, start=1):
        reasons = " · ".join(row["reasons"]) or "no recent growth"
        out.print(f"{rank:>3}. {row['title']}  ({row['id']}, score {row['score']:.3g})", markup=False, highlight=False)
        out.print(f"     {reasons}", markup=False, highlight=False)
