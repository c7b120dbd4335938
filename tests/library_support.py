"""Fixtures of the library and "For you" tests: settings without a model (the tests store their own
vectors) and the small real catalogue of tests/fixtures/library_papers.jsonl."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from paperwire.settings import Settings
from paperwire.sources.jsonl import to_paper

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(name="settings")
def library_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database_url = request.getfixturevalue("database_url") if "database_url" in request.fixturenames else ""
    return Settings(
        home=tmp_path / "home", base_url="http://testserver", secret_key="test-secret-key-long-enough-for-paperwire",
        database_url=database_url, embedder="none",
    )  # fmt: skip


@pytest.fixture(name="catalogue")
def library_catalogue(store) -> None:  # the conftest `store`
    lines = (FIXTURES / "library_papers.jsonl").read_bytes().splitlines()
    store.upsert_papers([to_paper(orjson.loads(line)) for line in lines])
