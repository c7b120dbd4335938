"""The Hugging Face–compatible API, driven by the real huggingface_hub client and `hf papers` CLI against a
served instance loaded with HF 2025 daily-papers items (tests/fixtures, users pseudonymised)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi

from browser_support import serve_app
from conftest import HF_SAMPLE
from paperwire.ingest import ingest_files
from paperwire.models import clean_text
from paperwire.periods import parse_month, parse_week
from paperwire.settings import Settings
from paperwire.storage import open_store

pytestmark = pytest.mark.slow  # serves an instance, drives the hf client and CLI

HF_2025 = HF_SAMPLE


def read_expected() -> dict[str, dict]:
    """Straight from the file: each paper's listed day (submittedOnDailyAt, else the line's date) and fields."""
    expected = {}
    with gzip.open(HF_2025, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            paper = record["item"]["paper"]
            day = (paper.get("submittedOnDailyAt") or record["date"])[:10]
            expected[paper["id"]] = {"day": day, **paper}
    return expected


@pytest.fixture(scope="module")
def expected() -> dict[str, dict]:
    return read_expected()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hf_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    database_url = ""
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        database_url = cluster.create_database(f"hf_api_{os.getpid()}", request.getfixturevalue("postgres_template"))
    home = tmp_path_factory.mktemp("hf") / "home"
    settings = Settings(
        home=home, secret_key="test-secret-key-0123456789abcdefghijklmnop", embedder="none", database_url=database_url
    )
    store = open_store(settings.effective_database_url)
    report = ingest_files(store, [HF_2025])
    assert report.added == 144 and not report.skipped
    from paperwire.app import create_app

    with serve_app(create_app(settings, store=store)) as base_url:
        yield base_url
    store.close()


@pytest.fixture(scope="module")
def hub(hf_server: str) -> HfApi:
    return HfApi(endpoint=hf_server, token=False)


def collect(hub: HfApi, **period: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for page in range(0, 50):
        items = list(hub.list_daily_papers(p=page, limit=100, token=False, **period))
        for info in items:
            assert info.id not in found, f"{info.id} on two pages"
            found[info.id] = info.upvotes or 0
        if len(items) < 100:
            return found
    raise AssertionError("more than 50 pages")


def expected_between(expected: dict[str, dict], first: str, last: str) -> dict[str, int]:
    return {pid: paper["upvotes"] for pid, paper in expected.items() if first <= paper["day"] <= last}


def busiest_day(expected: dict[str, dict]) -> str:
    days: dict[str, int] = defaultdict(int)
    for paper in expected.values():
        days[paper["day"]] += 1
    return max(sorted(days), key=days.get)


def test_list_daily_papers_for_a_date_a_week_and_a_month(hub: HfApi, expected: dict[str, dict]) -> None:
    day = busiest_day(expected)
    assert collect(hub, date=day) == expected_between(expected, day, day)
    week = parse_week("2025-W24")
    by_week = expected_between(expected, week.first.isoformat(), week.last.isoformat())
    assert len(by_week) > 20 and collect(hub, week="2025-W24") == by_week
    month = parse_month("2025-06")
    by_month = expected_between(expected, month.first.isoformat(), month.last.isoformat())
    assert len(by_month) > 100 and collect(hub, month="2025-06") == by_month  # several pages of 100


def test_daily_papers_items_have_hf_shape_and_no_avatars(hf_server: str, expected: dict[str, dict]) -> None:
    day = busiest_day(expected)
    response = httpx.get(f"{hf_server}/api/daily_papers", params={"date": day, "limit": 5})
    assert response.status_code == 200
    items = response.json()
    assert len(items) == 5
    for item in items:
        assert {"paper", "publishedAt", "title", "numComments"} <= item.keys()
        assert {"id", "authors", "publishedAt", "title", "summary", "upvotes"} <= item["paper"].keys()
        assert all("name" in author for author in item["paper"]["authors"])
    assert "avatar" not in response.text.lower()
    trending = httpx.get(f"{hf_server}/api/daily_papers", params={"month": "2025-06", "sort": "trending", "limit": 3})
    assert trending.status_code == 200 and len(trending.json()) == 3


def test_daily_papers_limits_and_errors(hf_server: str) -> None:
    for params in ({"limit": "101"}, {"limit": "0"}, {"p": "-1"}, {"week": "2025-24"}, {"month": "2025-13"},
                   {"date": "2025-02-30"}, {"sort": "votes"}, {"date": "2025-06-10", "month": "2025-06"}):  # fmt: skip
        response = httpx.get(f"{hf_server}/api/daily_papers", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]
    assert len(httpx.get(f"{hf_server}/api/daily_papers", params={"limit": "100"}).json()) == 100


def test_paper_info_round_trips_the_imported_paper(hub: HfApi, expected: dict[str, dict]) -> None:
    with_repo = [p for p in expected.values() if p.get("githubRepo")]
    for source in (with_repo[0], with_repo[len(with_repo) // 2]):
        info = hub.paper_info(source["id"])
        assert info.id == source["id"]
        assert info.title == clean_text(source["title"])
        assert [author.name for author in info.authors] == [
            clean_text(a["name"]) for a in source["authors"] if not a.get("hidden")
        ]
        assert info.summary == clean_text(source["summary"])
        assert info.upvotes == source["upvotes"]
        assert info.github_repo == source["githubRepo"]
        assert info.published_at is not None and info.published_at.isoformat()[:10] == source["publishedAt"][:10]


def test_paper_route_also_keeps_our_own_keys(hf_server: str, expected: dict[str, dict]) -> None:
    paper_id = next(iter(expected))
    body = httpx.get(f"{hf_server}/api/papers/{paper_id}").json()
    assert isinstance(body["authors"][0], str)  # ours: names
    assert body["abstract"] == body["summary"]
    assert isinstance(body["paper"]["authors"][0], dict)  # HF's, read first by the hub client


def test_list_papers_searches(hub: HfApi, hf_server: str) -> None:
    results = list(hub.list_papers(query="diffusion", limit=10, token=False))
    assert 0 < len(results) <= 10
    assert all(info.id and info.title for info in results)
    assert httpx.get(f"{hf_server}/api/papers/search", params={"q": "x" * 251}).status_code == 400
    assert httpx.get(f"{hf_server}/api/papers/search", params={"q": "a", "limit": "121"}).status_code == 400
    assert len(httpx.get(f"{hf_server}/api/papers/search", params={"q": "a", "limit": "120"}).json()) <= 120


def start_hf(hf_server: str, *args: str) -> subprocess.Popen:
    hf = Path(sys.executable).with_name("hf")
    env = {**os.environ, "HF_ENDPOINT": hf_server, "HF_HUB_DISABLE_TELEMETRY": "1", "NO_COLOR": "1",
           "HF_HUB_OFFLINE": "0", "HF_HOME": str(Path(os.environ.get("TMPDIR", "/tmp")) / "paperwire-hf-home")}  # fmt: skip
    return subprocess.Popen(
        [str(hf), "papers", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def output_of(process: subprocess.Popen) -> object:
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    return json.loads(stdout)


def test_hf_papers_cli_works_against_the_instance(
    hf_server: str, expected: dict[str, dict], request: pytest.FixtureRequest
) -> None:
    if "postgresql" in request.node.callspec.id:
        pytest.skip("the CLI drives the same HTTP paths as the client tests; once, on SQLite, is enough")
    day = busiest_day(expected)
    known = next(paper_id for paper_id, paper in expected.items() if paper["day"] == day)
    # three commands at once: each spends most of its time starting Python
    ls = start_hf(hf_server, "ls", "--date", day, "--limit", "5", "--format", "json")
    search = start_hf(hf_server, "search", "diffusion", "--limit", "3", "--format", "json")
    info = start_hf(hf_server, "info", known, "--format", "json")
    listed, found, shown = output_of(ls), output_of(search), output_of(info)
    assert len(listed) == 5 and all(item["id"] in expected for item in listed)
    assert all(expected[item["id"]]["day"] == day for item in listed)
    assert 0 < len(found) <= 3
    assert shown["id"] == known and shown["title"] == clean_text(expected[known]["title"])
