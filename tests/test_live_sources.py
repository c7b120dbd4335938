"""Live sources against a real local HTTP server serving recorded pages: the real client, its
spacing, retries and timeouts, the parsers, and what ends up in the database."""

from __future__ import annotations

import os
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response
from werkzeug.serving import WSGIRequestHandler

from paperwire.cli import app, register_commands
from paperwire.models import Paper
from paperwire.settings import Settings
from paperwire.sources.arxiv import fetch_arxiv_papers, ingest_arxiv_daily
from paperwire.sources.hf_api import fetch_day, ingest_hf_days, ingest_hf_since
from paperwire.sources.http import FetchError, ParseError, PoliteClient, retry_after_seconds, user_agent
from paperwire.sources.oai import harvest_oai
from paperwire.storage import Store, open_store

FIXTURES = Path(__file__).parent / "fixtures"
FEED = (FIXTURES / "arxiv_feed_2025-06-10.xml").read_bytes()
EMPTY_FEED = (FIXTURES / "arxiv_feed_empty.xml").read_bytes()
HF_PAGE = (FIXTURES / "hf_api_2025-06-10.json").read_bytes()
OAI_PAGE1 = (FIXTURES / "oai_page1.xml").read_bytes()
OAI_PAGE2 = (FIXTURES / "oai_page2.xml").read_bytes()
OAI_NO_RECORDS = (FIXTURES / "oai_no_records.xml").read_bytes()
ANNOUNCED = {"2506.08001", "2506.08002", "2506.08003", "2506.07777"}  # new + cross of the recorded feed
FEED_PATH = "/rss/atom/cs.AI+cs.CL+cs.LG"
XML = "application/xml; charset=utf-8"

register_commands()


def split_api_fixture() -> tuple[str, dict[str, str]]:
    """The recorded API response as (feed header, entry text by bare id) to answer any id_list."""
    text = (FIXTURES / "arxiv_api_entries.xml").read_text(encoding="utf-8")
    header = text[: text.index("<entry>")]
    entries = {}
    for entry in re.findall(r"<entry>.*?</entry>", text, flags=re.S):
        raw_id = re.search(r"<id>http://arxiv.org/abs/(.+?)(v\d+)?</id>", entry).group(1)
        entries[raw_id] = entry
    return header, entries


API_HEADER, API_ENTRIES = split_api_fixture()


def api_answer(request: Request) -> Response:
    """What export.arxiv.org answers to ?id_list=: the requested entries, in the requested order."""
    ids = [re.sub(r"v\d+$", "", i) for i in request.args["id_list"].split(",")]
    body = API_HEADER + "".join(API_ENTRIES[i] for i in ids if i in API_ENTRIES) + "\n</feed>\n"
    return Response(body, content_type="application/atom+xml; charset=UTF-8")


class Recorder:
    """A handler that records arrival times (server side) and answers from a list of responses."""

    def __init__(self, *answers: Response | Callable[[Request], Response]) -> None:
        self.answers = list(answers)
        self.arrivals: list[float] = []
        self.requests: list[dict] = []

    def __call__(self, request: Request) -> Response:
        self.arrivals.append(time.monotonic())
        self.requests.append(dict(request.args))
        answer = self.answers[min(len(self.arrivals), len(self.answers)) - 1]
        return answer(request) if callable(answer) and not isinstance(answer, Response) else answer


def live(settings: Settings, server: HTTPServer, **overrides: object) -> Settings:
    """Settings pointing every live source at the local server, with quick spacing and retries."""
    values = {
        "arxiv_rss_url": server.url_for("/rss"), "arxiv_api_url": server.url_for("/api/query"),
        "arxiv_oai_url": server.url_for("/oai"), "hf_api_url": server.url_for("/hf"),
        "arxiv_request_interval": 0.01, "hf_request_interval": 0.01, "http_timeout": 2.0,
        "http_retries": 3, "http_backoff": 0.01, "contact": "ops@example.org",
    }  # fmt: skip
    values.update(overrides)
    return settings.model_copy(update=values)


def environment_of(settings: Settings) -> dict[str, str]:
    names = ("home", "database_url", "arxiv_rss_url", "arxiv_api_url", "arxiv_oai_url", "hf_api_url", "arxiv_request_interval",
             "hf_request_interval", "http_timeout", "http_retries", "http_backoff", "contact")  # fmt: skip
    return {f"PAPERWIRE_{name.upper()}": str(getattr(settings, name)) for name in names}


def run_cli(settings: Settings, *args: str):
    return CliRunner().invoke(
        app, list(args), env={**environment_of(settings), "COLUMNS": "250"}, catch_exceptions=False
    )


def stored_ids(store: Store) -> set[str]:
    return {paper.id for paper in store.iter_papers()}


# ---- the polite client ----------------------------------------------------------------------


@pytest.fixture
def sqlite_store(settings: Settings) -> Iterator[Store]:
    """SQLite only, for tests of the network side or the plan, where the backend changes nothing."""
    store = open_store(settings.effective_database_url)
    yield store
    store.close()


class KeepAliveHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # werkzeug's default, HTTP/1.0, closes every connection


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    """A keep-alive server that answers while a previous (timed-out) request is still handled."""
    server = HTTPServer(threaded=True)
    server.start()
    server.server.RequestHandlerClass = KeepAliveHandler
    yield server
    server.clear()
    server.stop()


@pytest.mark.slow  # waits for intervals and timeouts
def test_arxiv_requests_are_three_seconds_apart_at_the_server(settings: Settings, httpserver: HTTPServer) -> None:
    feed, api = Recorder(Response(FEED, content_type=XML)), Recorder(api_answer)
    httpserver.expect_request(FEED_PATH).respond_with_handler(feed)
    httpserver.expect_request("/api/query").respond_with_handler(api)
    store = open_store(settings.effective_database_url)
    try:  # the real daily ingest at arXiv's interval: the feed, then two API batches
        ingest_arxiv_daily(live(settings, httpserver, arxiv_request_interval=3.0), store, batch_size=2)
    finally:
        store.close()
    arrivals = sorted(feed.arrivals + api.arrivals)
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
    assert len(gaps) == 2 and min(gaps) >= 3.0, gaps


class KeepAliveCounter(socketserver.StreamRequestHandler):
    """A minimal HTTP/1.1 server that keeps connections open (werkzeug always closes them) and
    records, per request, the connection it came on and its User-Agent."""

    seen: list[tuple[int, str]] = []

    def handle(self) -> None:
        while True:
            request_line = self.rfile.readline()
            if not request_line:
                return
            headers = {}
            while (line := self.rfile.readline().decode()) not in ("\r\n", "\n", ""):
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self.seen.append((id(self.connection), headers.get("user-agent", "")))
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]")


def test_one_connection_and_a_user_agent_with_the_operator_contact(settings: Settings) -> None:
    KeepAliveCounter.seen = []
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), KeepAliveCounter) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        config = settings.model_copy(
            update={"hf_api_url": base, "hf_request_interval": 0.01, "contact": "ops@example.org"}
        )
        with PoliteClient(config) as client:
            for _ in range(3):
                assert client.get(f"{base}/api/daily_papers").json() == []
        server.shutdown()
    connections, agents = zip(*KeepAliveCounter.seen)
    assert len(connections) == 3 and len(set(connections)) == 1, "every request reused the one connection"
    assert set(agents) == {user_agent(config)}
    assert "ops@example.org" in agents[0] and agents[0].startswith("paperwire/")


def test_a_server_failing_twice_then_answering_is_retried(
    settings: Settings, httpserver: HTTPServer, sqlite_store: Store
) -> None:
    feed = Recorder(Response("busy", status=503), Response("oops", status=502), Response(FEED, content_type=XML))
    httpserver.expect_request(FEED_PATH).respond_with_handler(feed)
    httpserver.expect_request("/api/query").respond_with_handler(api_answer)
    report = ingest_arxiv_daily(live(settings, httpserver), sqlite_store)
    assert len(feed.arrivals) == 3
    assert stored_ids(sqlite_store) == ANNOUNCED and report.report.added == 4


def test_retry_after_is_honoured(settings: Settings, httpserver: HTTPServer) -> None:
    recorder = Recorder(Response("slow down", status=503, headers={"Retry-After": "1"}), Response("[]"))
    httpserver.expect_request("/hf/api/daily_papers").respond_with_handler(recorder)
    config = live(settings, httpserver)
    with PoliteClient(config) as client:
        assert client.get(f"{config.hf_api_url}/api/daily_papers").text == "[]"
    assert recorder.arrivals[1] - recorder.arrivals[0] >= 1.0


def test_retry_after_forms() -> None:
    from datetime import datetime, timezone

    now = datetime(2025, 6, 10, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Tue, 10 Jun 2025 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Tue, 10 Jun 2025 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_a_retry_after_beyond_the_limit_fails_at_once(settings: Settings, httpserver: HTTPServer) -> None:
    recorder = Recorder(Response("later", status=429, headers={"Retry-After": "86400"}))
    httpserver.expect_request("/hf/api/daily_papers").respond_with_handler(recorder)
    config = live(settings, httpserver, http_max_wait=60.0)
    with PoliteClient(config) as client, pytest.raises(FetchError, match="asks to wait 86400 s"):
        client.get(f"{config.hf_api_url}/api/daily_papers")
    assert len(recorder.arrivals) == 1


def test_client_errors_are_not_retried(settings: Settings, httpserver: HTTPServer, sqlite_store: Store) -> None:
    recorder = Recorder(Response("no such category", status=404))
    httpserver.expect_request(FEED_PATH).respond_with_handler(recorder)
    with pytest.raises(FetchError, match="HTTP 404"):
        ingest_arxiv_daily(live(settings, httpserver), sqlite_store)
    assert len(recorder.arrivals) == 1


@pytest.mark.slow  # waits for intervals and timeouts
def test_a_timeout_is_retried(settings: Settings, threaded_server: HTTPServer, sqlite_store: Store) -> None:
    retried = threading.Event()

    def hanging_then_fast(request: Request) -> Response:
        if len(recorder.arrivals) == 1:
            retried.wait(30)  # the first answer hangs until the client has given up on it and asked again
        else:
            retried.set()
        return Response(HF_PAGE, content_type="application/json")

    recorder = Recorder(hanging_then_fast)
    threaded_server.expect_request("/hf/api/daily_papers").respond_with_handler(recorder)
    report = ingest_hf_days(live(settings, threaded_server, http_timeout=2.0), sqlite_store, ["2025-06-10"])
    assert len(recorder.arrivals) == 2
    assert report.report.added == 3


@pytest.mark.slow  # waits for intervals and timeouts
def test_a_clear_error_after_the_retries_and_no_partial_batch(
    settings: Settings, threaded_server: HTTPServer, sqlite_store: Store
) -> None:
    finished = threading.Event()

    def always_hanging(_request: Request) -> Response:
        finished.wait(30)  # never answers while the client waits
        return Response("[]")

    threaded_server.expect_request(FEED_PATH).respond_with_data(FEED, content_type=XML)
    threaded_server.expect_request("/api/query").respond_with_handler(always_hanging)
    config = live(settings, threaded_server, http_timeout=1.0, http_retries=2)
    try:
        with pytest.raises(FetchError, match=r"failed after 3 attempts: timed out"):
            ingest_arxiv_daily(config, sqlite_store)
    finally:
        finished.set()
    assert sqlite_store.count_papers() == 0


def test_the_cli_exits_non_zero_and_records_the_failure(
    settings: Settings, httpserver: HTTPServer, sqlite_store: Store
) -> None:
    httpserver.expect_request(FEED_PATH).respond_with_data("down", status=500)
    result = run_cli(live(settings, httpserver, http_retries=1), "ingest", "arxiv", "--categories", "cs.AI,cs.CL,cs.LG")
    assert result.exit_code == 1
    assert "failed after 2 attempts: HTTP 500" in result.stderr
    run = sqlite_store.recent_job_runs(1)[0]
    assert (run["job"], run["status"]) == ("arxiv-daily", "failed") and "HTTP 500" in run["summary"]


# ---- arXiv daily --------------------------------------------------------------------------


def test_arxiv_ingest_stores_exactly_the_announced_papers_once(
    settings: Settings, httpserver: HTTPServer, store: Store
) -> None:
    feed = Recorder(Response(FEED, content_type=XML))
    api = Recorder(api_answer)
    httpserver.expect_request(FEED_PATH).respond_with_handler(feed)
    httpserver.expect_request("/api/query").respond_with_handler(api)
    config = live(settings, httpserver)
    first = run_cli(config, "ingest", "arxiv", "--categories", "cs.AI,cs.CL,cs.LG")
    assert first.exit_code == 0, first.output
    assert "added 4, updated 0, unchanged 0, skipped 0" in first.stdout
    assert stored_ids(store) == ANNOUNCED
    paper = store.get_paper("2506.08001")
    assert paper.title == r"Planning Agents with $\mathcal{O}(n)$ Memory"
    assert paper.abstract.startswith("We study tool-using agents") and "$k < n$" in paper.abstract
    assert paper.authors == ("Ada Lovelace", "Alan Turing") and paper.categories == ("cs.AI", "cs.LG")
    assert (paper.version, paper.published_at, paper.comment) == (1, "2025-06-09T17:59:58Z", "12 pages, 3 figures")
    assert (paper.listed_on, paper.listed_from) == ("2025-06-10", "arxiv")
    cross = store.get_paper("2506.07777")
    assert cross.categories[0] == "stat.ML" and cross.listed_on == "2025-06-10"
    assert set(api.requests[0]["id_list"].split(",")) == ANNOUNCED
    second = run_cli(config, "ingest", "arxiv", "--categories", "cs.AI,cs.CL,cs.LG")
    assert "added 0, updated 0, unchanged 4" in second.stdout
    assert store.count_papers() == 4
    assert [run["status"] for run in store.recent_job_runs(2)] == ["ok", "ok"]


def test_api_batches_are_stored_whole(settings: Settings, httpserver: HTTPServer, sqlite_store: Store) -> None:
    api = Recorder(
        api_answer, Response(b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><entry><id>ht")
    )
    httpserver.expect_request(FEED_PATH).respond_with_data(FEED, content_type=XML)
    httpserver.expect_request("/api/query").respond_with_handler(api)
    with pytest.raises(ParseError, match="invalid XML"):
        ingest_arxiv_daily(live(settings, httpserver), sqlite_store, batch_size=2)
    assert len(stored_ids(sqlite_store)) == 2, "the first batch landed whole, the truncated second not at all"


def test_replacements_update_stored_papers_only(settings: Settings, httpserver: HTTPServer, store: Store) -> None:
    store.upsert_papers([
        Paper(id="2505.01234", version=1, title="A Proof of Everything", abstract="Everything follows.",
              listed_on="2025-05-05", listed_from="arxiv"),
        Paper(id="hep-th/9901001", version=1, title="Strings on the Lattice", listed_on="1999-01-04", listed_from="arxiv"),
    ])  # fmt: skip
    httpserver.expect_request(FEED_PATH).respond_with_data(FEED, content_type=XML)
    httpserver.expect_request("/api/query").respond_with_handler(api_answer)
    report = ingest_arxiv_daily(live(settings, httpserver), store)
    assert (report.report.added, report.report.updated) == (4, 2)
    withdrawn = store.get_paper("2505.01234")
    assert withdrawn.version == 2 and withdrawn.comment.startswith("This paper has been withdrawn")
    assert withdrawn.listed_on == "2025-05-05", "a replacement is not a new listing"
    old_style = store.get_paper("hep-th/9901001")
    assert old_style.version == 2 and old_style.categories == ("hep-th", "cs.LG")
    assert store.get_paper("2504.04321") is None, "replacements of papers we never had are not added"


def test_an_empty_weekend_feed_is_no_announcement(
    settings: Settings, httpserver: HTTPServer, sqlite_store: Store
) -> None:
    httpserver.expect_request(FEED_PATH).respond_with_data(EMPTY_FEED, content_type=XML)
    result = run_cli(live(settings, httpserver), "ingest", "arxiv", "--categories", "cs.AI,cs.CL,cs.LG")
    assert result.exit_code == 0
    run = sqlite_store.recent_job_runs(1)[0]
    assert run["status"] == "empty" and "no announcement" in run["summary"]
    assert len(httpserver.log) == 1, "no API request for an empty feed"


def test_a_feed_for_another_day_is_no_announcement_for_the_asked_day(
    settings: Settings, httpserver: HTTPServer, sqlite_store: Store
) -> None:
    httpserver.expect_request(FEED_PATH).respond_with_data(FEED, content_type=XML)
    report = ingest_arxiv_daily(live(settings, httpserver), sqlite_store, day="2025-06-11")
    assert report.status == "empty" and "announces 2025-06-10" in report.summary
    assert sqlite_store.count_papers() == 0


def test_a_truncated_feed_is_a_clear_error(settings: Settings, httpserver: HTTPServer, sqlite_store: Store) -> None:
    httpserver.expect_request(FEED_PATH).respond_with_data(FEED[: len(FEED) // 2], content_type=XML)
    with pytest.raises(ParseError, match="not a readable feed"):
        ingest_arxiv_daily(live(settings, httpserver), sqlite_store)
    assert sqlite_store.count_papers() == 0


def test_fetch_arxiv_papers_reads_old_style_ids_and_leaves_out_unknown_ones(
    settings: Settings, httpserver: HTTPServer
) -> None:
    api = Recorder(api_answer)
    httpserver.expect_request("/api/query").respond_with_handler(api)
    papers = fetch_arxiv_papers(["arXiv:hep-th/9901001v2", "https://arxiv.org/abs/2506.08002", "2506.99999"],
                                live(settings, httpserver))  # fmt: skip
    assert [(p.id, p.version) for p in papers] == [("hep-th/9901001", 2), ("2506.08002", 1)]
    assert api.requests[0]["id_list"] == "hep-th/9901001v2,2506.08002,2506.99999"


def test_api_error_entries_are_reported(settings: Settings, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/query").respond_with_data(
        (FIXTURES / "arxiv_api_error.xml").read_bytes(), content_type=XML
    )
    assert fetch_arxiv_papers(["2506.08004"], live(settings, httpserver)) == []


# ---- OAI-PMH harvest ------------------------------------------------------------------------


def oai_answer(request: Request) -> Response:
    token = request.args.get("resumptionToken")
    if token == "6061423|1001":
        return Response(OAI_PAGE2, content_type=XML)
    if token:
        return Response((FIXTURES / "oai_bad_token.xml").read_bytes(), content_type=XML)
    if request.args.get("from", "") > "2025-01-01":
        return Response(OAI_NO_RECORDS, content_type=XML)
    return Response(OAI_PAGE1, content_type=XML)


def table_rows(store: Store) -> list[dict]:
    return sorted((p.to_record() for p in store.iter_papers()), key=lambda r: r["id"])


def test_a_harvest_follows_tokens_and_a_rerun_fetches_only_what_changed(
    settings: Settings, httpserver: HTTPServer, store: Store
) -> None:
    oai = Recorder(oai_answer)
    httpserver.expect_request("/oai").respond_with_handler(oai)
    config = live(settings, httpserver)
    report = harvest_oai(config, store, set_spec="cs:cs:AI", from_day="2025-01-01")
    assert stored_ids(store) == {"2501.00011", "2501.00022", "hep-th/9901001", "2502.01234"}
    assert [s.reason for s in report.report.skipped] == ["oai:arXiv.org:2501.09999: deleted from the repository"]
    assert oai.requests == [
        {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs:cs:AI", "from": "2025-01-01"},
        {"verb": "ListRecords", "resumptionToken": "6061423|1001"},
    ]
    assert store.get_paper("2501.00011").authors == ("Ada Lovelace", "Charles Babbage Jr")
    assert store.get_paper("2502.01234").comment.startswith("This paper has been withdrawn")
    rerun = harvest_oai(config, store, set_spec="cs:cs:AI", from_day="2025-01-01")
    assert oai.requests[2]["from"] == "2025-03-01", "the rerun starts at the newest datestamp seen"
    assert rerun.status == "empty" and store.count_papers() == 4


def test_an_expired_token_restarts_the_harvest(settings: Settings, httpserver: HTTPServer, sqlite_store: Store) -> None:
    sqlite_store.set_checkpoint(
        "oai:cs:cs:AI", orjson.dumps({"from": "2025-01-01", "token": "stale", "datestamp": None}).decode()
    )
    httpserver.expect_request("/oai").respond_with_handler(oai_answer)
    report = harvest_oai(live(settings, httpserver), sqlite_store, set_spec="cs:cs:AI", from_day="2025-01-01")
    assert "resumption token expired" in report.summary and sqlite_store.count_papers() == 4


def test_a_truncated_page_fails_and_the_rerun_resumes_at_it(
    settings: Settings, httpserver: HTTPServer, store: Store
) -> None:
    pages = Recorder(Response(OAI_PAGE1), Response(OAI_PAGE2[:700]), oai_answer)
    httpserver.expect_request("/oai").respond_with_handler(pages)
    config = live(settings, httpserver)
    with pytest.raises(ParseError, match="invalid XML"):
        harvest_oai(config, store, set_spec="cs:cs:AI", from_day="2025-01-01")
    assert stored_ids(store) == {"2501.00011", "2501.00022"}
    harvest_oai(config, store, set_spec="cs:cs:AI", from_day="2025-01-01")
    assert pages.requests[2] == {"verb": "ListRecords", "resumptionToken": "6061423|1001"}
    assert store.count_papers() == 4


def cli_process(settings: Settings, *args: str) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    environment.update(environment_of(settings))
    return subprocess.Popen([sys.executable, "-m", "paperwire", *args], env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


@pytest.mark.slow
def test_a_harvest_killed_after_its_first_page_resumes_to_the_same_rows(
    settings: Settings, tmp_path: Path, threaded_server: HTTPServer
) -> None:
    second_page_asked = threading.Event()
    release = threading.Event()

    def answer(request: Request) -> Response:
        if request.args.get("resumptionToken"):
            second_page_asked.set()
            release.wait(30)  # hold the second page until the harvester has been killed
        return oai_answer(request)

    oai = Recorder(answer)
    threaded_server.expect_request("/oai").respond_with_handler(oai)
    config = live(settings, threaded_server)
    harvest = ("ingest", "oai", "--set", "cs:cs:AI", "--from", "2025-01-01")
    process = cli_process(config, *harvest)
    try:
        assert second_page_asked.wait(60), process.stderr.read1().decode() if process.poll() is not None else ""
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
        process.stdout.close()
        process.stderr.close()
    store = open_store(config.effective_database_url)
    assert stored_ids(store) == {"2501.00011", "2501.00022"}, "the first page landed with its checkpoint"
    resumed = cli_process(config, *harvest)
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err.decode()
    assert [r.get("resumptionToken") for r in oai.requests] == [None, "6061423|1001", "6061423|1001"]
    assert sum(1 for r in oai.requests if "resumptionToken" not in r) == 1, "the first page was fetched once"
    uninterrupted = open_store(f"sqlite:///{tmp_path / 'uninterrupted.db'}")
    harvest_oai(config, uninterrupted, set_spec="cs:cs:AI", from_day="2025-01-01")
    assert table_rows(store) == table_rows(uninterrupted)
    assert store.get_checkpoint("oai:cs:cs:AI") == uninterrupted.get_checkpoint("oai:cs:cs:AI")
    store.close()
    uninterrupted.close()


# ---- Hugging Face ---------------------------------------------------------------------------


def test_hf_day_stores_papers_and_refreshes_their_signals(
    settings: Settings, httpserver: HTTPServer, store: Store
) -> None:
    store.upsert_papers([Paper(id="2506.08001", title="Planning Agents", upvotes=10, github_stars=100,
                               observed_at="2025-06-10T00:00:00Z")])  # fmt: skip
    hf = Recorder(Response(HF_PAGE, content_type="application/json"))
    httpserver.expect_request("/hf/api/daily_papers").respond_with_handler(hf)
    result = run_cli(live(settings, httpserver), "ingest", "hf", "--date", "2025-06-10")
    assert result.exit_code == 0, result.output
    assert "added 2, updated 1, unchanged 0, skipped 1" in result.stdout
    assert "item 4: not an arXiv id" in result.stdout
    assert hf.requests == [{"date": "2025-06-10", "limit": "100", "p": "0"}]
    paper = store.get_paper("2506.08001")
    assert (paper.upvotes, paper.comments, paper.github_stars) == (42, 3, 310)
    assert (paper.submitted_by, paper.listed_on, paper.listed_from) == ("curator-ann", "2025-06-10", "hf")
    history = store.signal_history("2506.08001")
    assert [(h["upvotes"], h["github_stars"]) for h in history] == [(10, 100), (42, 310)]
    sparse = store.get_paper("2506.09999")
    assert (sparse.upvotes, sparse.comments, sparse.github_repo, sparse.submitted_by) == (5, 0, None, None)
    assert sparse.listed_on == "2025-06-10", "no submittedOnDailyAt: the day it was listed for"


def test_hf_pages_are_followed_until_a_short_page(settings: Settings, httpserver: HTTPServer) -> None:
    items = orjson.loads(HF_PAGE)[:3]
    pages = Recorder(Response(orjson.dumps(items[:2])), Response(orjson.dumps(items[2:])))
    httpserver.expect_request("/hf/api/daily_papers").respond_with_handler(pages)
    config = live(settings, httpserver)
    with PoliteClient(config) as client:
        records = fetch_day(client, config, "2025-06-10", page_size=2)
    assert [r["p"] for r in pages.requests] == ["0", "1"]
    assert [r.id for r in records] == ["2506.08001", "2506.09999", "2506.08002"]


def test_hf_since_fetches_each_day_and_invalid_json_stores_nothing(
    settings: Settings, httpserver: HTTPServer, sqlite_store: Store
) -> None:
    pages = Recorder(Response("[]"), Response(HF_PAGE), Response(b'[{"paper": {"id": "2506.0'))
    httpserver.expect_request("/hf/api/daily_papers").respond_with_handler(pages)
    with pytest.raises(ParseError, match="invalid JSON"):
        ingest_hf_since(live(settings, httpserver), sqlite_store, "2025-06-09", "2025-06-11")
    assert [r["date"] for r in pages.requests] == ["2025-06-09", "2025-06-10", "2025-06-11"]
    assert sqlite_store.count_papers() == 3, "whole days land; the unreadable day adds nothing"
