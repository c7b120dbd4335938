"""/submit (issue 13 item 3, issue 14 item 13): a paper already in the catalogue is confirmed and stays on
its day; an unknown one is fetched from arXiv in the background, with a page that follows it. While arXiv
hangs or answers 503 with Retry-After: 600, /healthz and the pages keep answering; fetches are bounded
per reader and for the site; redirects are followed only to the sources' own hosts."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from paperwire.models import Paper
from paperwire.settings import Settings
from paperwire.sources.http import FetchError, PoliteClient
from test_social import sign_in

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "test-secret-key-0123456789abcdefghijklmnop"


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database_url = request.getfixturevalue("database_url") if "database_url" in request.fixturenames else ""
    return Settings(home=tmp_path / "home", base_url="http://testserver", secret_key=KEY, database_url=database_url,
                    embedder="none", arxiv_request_interval=0, http_backoff=0)  # fmt: skip


@pytest.fixture
def papers(store) -> None:
    store.upsert_papers([
        Paper(id="hep-th/9901001", title="Old-style strings", abstract="Strings.", listed_on="2025-06-09"),
        Paper(id="2506.00009", title="Already on the list", submitted_by="someone", listed_on="2025-06-10",
              listed_from="hf"),
    ])  # fmt: skip


@pytest.fixture
def hanging_arxiv(httpserver: HTTPServer, settings: Settings) -> Iterator[threading.Event]:
    """arXiv that accepts the connection and never answers (until the test ends)."""
    release = threading.Event()

    def hang(_request: Request) -> Response:
        release.wait(60)
        return Response("late", status=503)

    httpserver.expect_request("/api/query").respond_with_handler(hang)
    settings.arxiv_api_url = httpserver.url_for("/api/query")
    settings.http_timeout = 3.0
    yield release
    release.set()


def submit(client: TestClient, token: str, value: str) -> httpx.Response:
    return client.post("/submit", data={"csrf_token": token, "paper": value}, follow_redirects=False)


def wait_for_state(client: TestClient, location: str, states: tuple[str, ...], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = client.get(location).text
        state = re.search(r'data-state="(\w+)"', page).group(1)
        if state in states:
            return page
        time.sleep(0.1)
    raise AssertionError(f"{location} never reached {states}")


def test_a_known_paper_is_confirmed_and_stays_on_its_day(client, settings, papers) -> None:
    token = sign_in(client, settings, "submitter@example.org", name="Grace")
    response = submit(client, token, "https://arxiv.org/abs/hep-th/9901001v2")
    assert response.status_code == 200
    assert "is\n    already in the catalogue, listed on" in response.text and "9 June 2025" in response.text
    assert "It stays on that day; nothing was changed." in response.text
    paper = client.get("/api/papers/hep-th/9901001").json()
    assert paper["listed_on"] == "2025-06-09" and paper["submitted_by"] is None
    taken = submit(client, token, "2506.00009")
    assert taken.status_code == 200 and "submitted by someone" in taken.text
    assert client.get("/api/papers/2506.00009").json()["listed_on"] == "2025-06-10"


def test_an_unknown_paper_is_fetched_in_the_background(client, settings, httpserver) -> None:
    httpserver.expect_request("/api/query").respond_with_data(
        (FIXTURES / "arxiv_api_entries.xml").read_bytes(), content_type="application/atom+xml"
    )
    settings.arxiv_api_url = httpserver.url_for("/api/query")
    token = sign_in(client, settings, "fetcher@example.org", name="fetcher")
    response = submit(client, token, "2506.08001")
    assert response.status_code == 303 and re.fullmatch(r"/submit/\d+", response.headers["location"])
    page = wait_for_state(client, response.headers["location"], ("done", "failed"))
    assert "2506.08001 was added to today&#39;s list." in page and 'href="/papers/2506.08001"' in page
    paper = client.get("/api/papers/2506.08001").json()
    assert paper["title"] and paper["submitted_by"] == "fetcher"
    assert paper["listed_on"] == datetime.now(timezone.utc).date().isoformat()
    missing = submit(client, token, "2507.99999")
    page = wait_for_state(client, missing.headers["location"], ("done", "failed"))
    assert "arXiv has no paper 2507.99999." in page


@pytest.mark.slow  # a real server or subprocess: in `make test`, not the fast lane
def test_pages_answer_while_arxiv_hangs(client, settings, papers, hanging_arxiv) -> None:
    token = sign_in(client, settings, "patient@example.org")
    response = submit(client, token, "2506.08001")
    assert response.status_code == 303  # answered without waiting for arXiv
    location = response.headers["location"]
    pending = client.get(location)
    assert 'data-state="queued"' in pending.text or 'data-state="fetching"' in pending.text
    assert "Fetching 2506.08001 from arXiv…" in pending.text and '<meta http-equiv="refresh"' in pending.text
    for path in ("/healthz", "/", "/papers?date=2025-06-09", "/papers/hep-th/9901001", "/submit", location):
        assert client.get(path).status_code == 200, path
    failed = wait_for_state(client, location, ("failed",))
    assert "arXiv did not answer in time. Please try again later." in failed
    assert '<meta http-equiv="refresh"' not in failed and "Try again" in failed


def test_retry_after_600_fails_fast_with_try_again_later(client, settings, httpserver) -> None:
    httpserver.expect_request("/api/query").respond_with_data("busy", status=503, headers={"Retry-After": "600"})
    settings.arxiv_api_url = httpserver.url_for("/api/query")
    token = sign_in(client, settings, "busy@example.org")
    response = submit(client, token, "2506.08001")
    assert response.status_code == 303
    assert client.get("/healthz").status_code == 200
    failed = wait_for_state(client, response.headers["location"], ("failed",))
    assert "arXiv is busy and asks everyone to wait. Please try again later." in failed


def test_fetches_are_bounded_per_reader_and_for_the_site(client, settings, hanging_arxiv) -> None:
    token = sign_in(client, settings, "eager@example.org")
    accepted = [submit(client, token, f"2506.0800{n}").status_code for n in range(3)]
    assert accepted == [303, 303, 303]
    again = submit(client, token, "2506.08000")
    assert again.status_code == 303, "the same paper again follows the fetch already waiting"
    fourth = submit(client, token, "2506.08009")
    assert fourth.status_code == 429 and "You already have 3 papers being fetched from arXiv" in fourth.text
    settings.submit_pending_total = 4
    other = TestClient(client.app)
    other_token = sign_in(other, settings, "other@example.org")
    assert submit(other, other_token, "2506.08011").status_code == 303
    crowded = submit(other, other_token, "2506.08012")
    assert crowded.status_code == 429 and "Too many papers are being fetched" in crowded.text
    assert client.get("/healthz").status_code == 200


def test_a_fetch_page_is_its_readers_own(client, settings, hanging_arxiv) -> None:
    token = sign_in(client, settings, "owner@example.org")
    location = submit(client, token, "2506.08001").headers["location"]
    other = TestClient(client.app)
    sign_in(other, settings, "snoop@example.org")
    assert other.get(location).status_code == 404
    assert other.get("/submit/999999999999999999").status_code == 404
    assert other.get("/submit/²").status_code == 404


def test_redirects_are_followed_only_to_the_sources_hosts(settings: Settings, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/moved").respond_with_data("", status=302, headers={"Location": "/api/query"})
    httpserver.expect_request("/api/query").respond_with_data("<feed/>")
    httpserver.expect_request("/away").respond_with_data(
        "", status=302, headers={"Location": "http://attacker.invalid/api/query"}
    )
    settings.arxiv_api_url = httpserver.url_for("/api/query")
    with PoliteClient(settings) as client:
        assert client.get(httpserver.url_for("/moved")).text == "<feed/>"  # the same (configured) host
        with pytest.raises(FetchError, match="redirects to http://attacker.invalid, which is not a host"):
            client.get(httpserver.url_for("/away"))
