"""The page every signed-in reader gets: their upvotes are read in one query, not one per card."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from paperwire.app import create_app
from paperwire.models import Paper
from paperwire.settings import Settings
from paperwire.storage import Store
from test_social import sign_in

DAY = "2025-06-10"
CARDS = 30


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database_url = request.getfixturevalue("database_url") if "database_url" in request.fixturenames else ""
    return Settings(
        home=tmp_path / "home",
        base_url="http://testserver",
        secret_key="test-secret-key-long-enough-for-paperwire",
        database_url=database_url,
        embedder="none",
    )


@contextmanager
def statements_on(store: Store, table: str) -> Iterator[list[str]]:
    """The SQL statements that read `table` while the block runs (through the engine or the driver shortcut)."""
    seen: list[str] = []

    def record(_connection, _cursor, statement: str, *_args) -> None:  # SQLAlchemy's event arguments
        if re.search(rf"\b(?:FROM|JOIN) {table}\b", statement):
            seen.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    quick = store.quick_reads  # SQLite's driver shortcut for the hottest reads: counted too
    if quick is not None:
        through_driver = quick.rows
        quick.rows = lambda statement, parameters: (
            record(None, None, str(statement.compile(dialect=store.engine.dialect))),
            through_driver(statement, parameters),
        )[1]
    try:
        yield seen
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)
        if quick is not None:
            del quick.rows


def test_a_signed_in_readers_daily_page_reads_their_votes_once(
    client: TestClient, settings: Settings, store: Store
) -> None:
    store.upsert_papers(
        [
            Paper(
                id=f"2506.{n:05d}",
                title=f"Paper {n}",
                abstract="An abstract.",
                authors=("Ada Lovelace",),
                listed_on=DAY,
                listed_from="hf",
                upvotes=100 - n,
                observed_at=f"{DAY}T00:00:00Z",
            )
            for n in range(1, CARDS + 1)
        ]
    )
    token = sign_in(client, settings, "reader@example.org")
    for voted in ("2506.00002", "2506.00007"):
        assert client.post(f"/api/papers/{voted}/upvote", headers={"X-CSRF-Token": token}).status_code == 200
    # rendered (the first signed-in view), filled in from that rendering, and with the page cache off
    uncached = TestClient(create_app(settings.model_copy(update={"page_cache_seconds": 0}), store=store),
                          cookies=dict(client.cookies.items()))  # fmt: skip
    for browser in (client, client, uncached):
        with statements_on(store, "votes") as reads:
            page = browser.get(f"/papers?date={DAY}")
        assert page.status_code == 200 and page.text.count('class="upvote') >= CARDS
        assert len(reads) == 1, f"{len(reads)} reads of the votes for {CARDS} cards"
        assert page.text.count('class="upvote voted"') == 2  # and the page still shows which ones
