"""Shared fixtures: real SQLite files in temporary directories, Settings per test, an app client."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperwire.settings import Settings
from paperwire.storage import Store, open_store

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_DATA = SHARED / "data"
SEED_PAGE = SHARED / "seeds" / "000_30f4a9989de039ab.txt"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", base_url="http://testserver", secret_key="test-secret-key")


@pytest.fixture
def store(settings: Settings) -> Store:
    store = open_store(settings.effective_database_url)
    yield store
    store.close()


@pytest.fixture
def client(settings: Settings, store: Store):
    from fastapi.testclient import TestClient

    from paperwire.app import create_app

    with TestClient(create_app(settings, store=store)) as test_client:
        yield test_client
