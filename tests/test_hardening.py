"""Issue 13's reproducers, each a regression test: hostile traffic and careless data get a clear 4xx (or
a skipped record), never a 500, a poisoned cache, an unbounded amount of work or a leaked difference."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import threading
import time
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import pytest
from fastapi.testclient import TestClient

from browser_support import serve_app
from paperwire.ingest import ingest_files
from paperwire.mail.subscribers import InvalidSubscription, import_subscribers, make_interests
from paperwire.models import Paper
from paperwire.settings import Settings
from paperwire.storage import Store
from paperwire.web.server import server_options
from test_page_cache import cache_counts
from test_social import PAPER, csrf, sign_in

DAY_PAGE = "/papers?date=2025-06-10"
LIST_PAGES = ["/", DAY_PAGE, "/papers/week/2025-W24", "/papers/month/2025-06"]


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database_url = request.getfixturevalue("database_url") if "database_url" in request.fixturenames else ""
    return Settings(home=tmp_path / "home", base_url="http://testserver", secret_key="k" * 40,
                    database_url=database_url, embedder="none")  # fmt: skip


@pytest.fixture
def papers(store: Store) -> None:
    store.upsert_papers([
        Paper(id=PAPER, title="A paper to vote on", abstract="Votes.", authors=("Ada Lovelace",),
              categories=("cs.CL",), listed_on="2025-06-10", listed_from="hf", upvotes=7,
              observed_at="2025-06-10T00:00:00Z"),
        Paper(id="2506.00002", title="A second paper", abstract="More.", authors=("Grace Hopper",),
              listed_on="2025-06-10", listed_from="hf", upvotes=3, observed_at="2025-06-10T00:00:00Z"),
    ])  # fmt: skip


# ---- 1. the page cache ---------------------------------------------------------------------------


def test_a_session_cookie_written_with_a_space_is_never_stored_nor_replayed(client, settings, papers) -> None:
    sign_in(client, settings, "victim@example.org", name="victim")
    session = client.cookies.get("pw_session")
    attacker = TestClient(client.app)
    for path in LIST_PAGES:
        own = attacker.get(path, headers={"Cookie": f"pw_session ={session}"})
        assert "victim" in own.text, "the app reads `pw_session =…` as the session"
        anonymous = TestClient(client.app).get(path)
        assert "victim" not in anonymous.text, f"{path}: a signed-in page was replayed to an anonymous reader"
        assert "/login?next=" in anonymous.text


def test_unknown_cookies_bypass_the_cache_and_pages_vary_on_cookie(client, papers) -> None:
    client.get(DAY_PAGE)
    client.get(DAY_PAGE)  # stored and hit once: the cache is on
    before = cache_counts(client)
    client.get(DAY_PAGE, headers={"Cookie": "tracker=1"})
    client.get(DAY_PAGE, headers={"Cookie": "pw_csrf=x; pw_session"})  # a bare name the app might read
    assert cache_counts(client) == before  # neither served from memory nor stored
    assert "cookie" in client.get(DAY_PAGE).headers["vary"].lower()
    assert "cookie" in client.get("/subscribe").headers["vary"].lower()


def test_a_page_rendered_for_a_signed_in_reader_is_never_stored(store: Store) -> None:
    """The second lock: whatever the cookies looked like, an answer rendered while a signed-in reader
    was looked up (scope state `user`, set by web.social.current_user) never enters the cache."""
    from paperwire.web.pagecache import PageCache

    async def signed_in_page(scope: dict, receive: object, send: object) -> None:
        scope["state"]["user"] = {"id": 1, "name": "victim"}
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"victim's page"})

    cache = PageCache(signed_in_page, store=store, max_age=60)

    async def get() -> None:
        scope = {"type": "http", "method": "GET", "path": "/papers", "query_string": b"", "headers": [],
                 "state": {}}  # fmt: skip

        async def send(message: dict) -> None:
            pass

        await cache(scope, lambda: None, send)

    # on a thread of its own: a browser test before this one may have left Playwright's loop in this thread
    for _ in range(2):
        worker = threading.Thread(target=anyio.run, args=(get,))
        worker.start()
        worker.join()
    assert (cache.stats.hits, cache.stats.misses) == (0, 2) and not cache.entries


# ---- 2. limits before work -----------------------------------------------------------------------


def test_sixteen_thousand_topics_are_refused_before_any_work(client, store) -> None:
    body = {"email": "many@example.org", "topics": [""] * 16_000}
    response = client.post("/api/subscriptions", json=body)
    assert response.status_code == 422
    assert "topics" in json.dumps(response.json()["detail"])
    form = {"email": "many@example.org", "topics": ",".join(f"t{i}" for i in range(5_000)),
            "csrf_token": csrf(client)}  # fmt: skip
    page = client.post("/subscribe", data=form)
    assert page.status_code == 422 and "at most 20 topics" in page.text
    assert store.count_subscribers() == {} and store.outbox_counts() == {}


def test_the_twenty_first_distinct_topic_stops_the_deduplication() -> None:
    with pytest.raises(InvalidSubscription, match="at most 20 topics"):
        make_interests(topics=[f"topic {i}" for i in range(16_000)])
    assert make_interests(topics=["A", "a", " a ", "b"] * 4_000).topics == ("A", "b")


def test_bodies_over_the_cap_are_refused_with_413(client, store) -> None:
    big = {"email": "big@example.org", "padding": "x" * 70_000}
    assert client.post("/api/subscriptions", json=big).status_code == 413
    chunked = iter([b'{"email": "big@example.org", "padding": "', b"x" * 40_000, b"x" * 40_000, b'"}'])
    response = client.post("/api/subscriptions", content=chunked, headers={"content-type": "application/json"})
    assert response.status_code == 413
    form = {"email": "big@example.org", "topics": "x" * 70_000, "csrf_token": csrf(client)}
    assert client.post("/subscribe", data=form).status_code == 413
    assert store.count_subscribers() == {}
    # the hook a future upload route uses: its own, larger cap
    client.app.state.body_limits["/api/subscriptions"] = 1_000_000
    assert client.post("/api/subscriptions", json=big).status_code == 202


def test_oversized_headers_are_refused_with_431(client) -> None:
    response = client.get("/healthz", headers={"X-Padding": "x" * 20_000})
    assert response.status_code == 431
    assert client.get("/healthz", headers={"X-Padding": "x" * 1_000}).status_code == 200


def raw_exchange(base_url: str, data: bytes, *, pause_after: bytes = b"", pause: float = 0.0) -> bytes:
    """Send `data` (then `pause_after` after `pause` seconds) on one connection; everything read back."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as connection:
        connection.sendall(data)
        if pause:
            time.sleep(pause)
            try:
                connection.sendall(pause_after)
            except OSError:
                pass  # the server closed the connection already: what it said is read below
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.slow  # a real server or subprocess: in `make test`, not the fast lane
def test_the_server_caps_headers_and_times_out_slow_and_idle_clients(settings, store) -> None:
    from paperwire.app import create_app

    settings = settings.model_copy(update={"client_timeout": 1.0})
    with serve_app(create_app(settings, store=store), **server_options(settings)) as base_url:
        huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"x" * 50_000_000 + b"\r\n\r\n"
        try:
            answer = raw_exchange(base_url, huge)
        except (ConnectionResetError, BrokenPipeError):  # reset or closed, as the timing falls
            answer = b"HTTP/1.1 4"  # refused while we were still sending: the header was never held
        assert answer.startswith(b"HTTP/1.1 4")
        slow = b"POST /api/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"
        answer = raw_exchange(base_url, slow, pause_after=b'"email": "slow@example.org"}', pause=3.0)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        started = time.monotonic()
        idle = raw_exchange(base_url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive, then silence
        assert idle.startswith(b"HTTP/1.1 200") and time.monotonic() - started < 10  # closed by the server
        assert trickled_headers_are_cut_off(base_url)


def trickled_headers_are_cut_off(base_url: str) -> bool:
    """A client that sends its headers one byte at a time, each well within any idle timeout: True when
    the server closes the connection before the headers are done (uvicorn alone would wait for ever)."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=15) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        for byte in b"X-Slow: " + b"x" * 40:  # 40 × 0.25 s: ten times the 1 s deadline
            time.sleep(0.25)
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                return True
        connection.settimeout(1)
        try:
            return connection.recv(100) == b""
        except (TimeoutError, OSError):
            return False


# ---- 3. strict parsing of URLs and files -----------------------------------------------------------

BAD_URLS = [
    "/papers?date=9999-12-31", "/papers?date=9999-12-27", "/papers?date=9999-12-28", "/papers?date=9999-12-29",
    "/papers?date=9999-12-30", "/papers?date=0001-01-01", "/papers/month/0000-01", "/papers/month/9999-12",
    "/papers/week/9999-W52", "/papers/week/0001-W01", "/api/daily_papers?week=9999-W52",
    "/api/daily_papers?month=0000-01", "/api/daily_papers?date=9999-12-31", "/api/papers?date=9999-12-31",
    "/api/papers?period=week&date=9999-12-31", "/api/papers?limit=²", "/api/papers?offset=²",
    "/api/papers?limit=1_0", "/api/papers?limit=%2B5", "/api/papers?limit=5.0", "/papers?page=²",
    "/papers/trending?page=²", "/api/trending?limit=²", "/api/trending?offset=²", "/api/daily_papers?limit=²",
    "/api/daily_papers?p=²", "/api/papers/search?q=x&limit=²", "/api/search?q=x&limit=²",
    "/api/search?q=x&offset=²", "/api/search?q=x&from=9999-12-31", "/search?q=x&page=²",
    "/papers?date=%D9%A2%D9%A0%D9%A2%D9%A5-06-10", "/api/papers/%D9%A2%D9%A5%D9%A0%D9%A1.12948",
]  # fmt: skip


@pytest.mark.parametrize("url", BAD_URLS)
def test_edge_values_in_urls_are_a_clear_4xx(client, url) -> None:
    response = client.get(url)  # the client fixture raises on any server error
    assert 400 <= response.status_code < 500, url
    assert response.status_code != 404 or "papers/%D9" in url


def test_a_paper_stored_on_9999_12_31_does_not_break_the_pages_around_it(client, store, papers) -> None:
    store.upsert_papers([Paper(id="2506.00003", title="From the far future", listed_on="9999-12-31")])
    this_week = date.today().strftime("%G-W%V")
    for url in ("/", f"/papers/week/{this_week}", DAY_PAGE, "/api/papers?period=week", "/api/papers?period=month",
                "/papers/week/2025-W24", "/papers/month/2025-06", "/papers/week", "/papers/month"):  # fmt: skip
        assert client.get(url).status_code == 200, url


def test_imports_skip_out_of_range_days_odd_ids_and_control_characters(store, tmp_path) -> None:
    good = {"id": "2506.00004", "title": "A fine paper", "listed_on": "2025-06-10", "categories": ["cs.CL"]}
    lines = [
        good,
        {**good, "id": "2506.00005", "title": "Far future", "listed_on": "9999-12-31"},
        {**good, "id": "2506.00006", "title": "Control", "categories": ["cs.\x01CL"]},
        {**good, "id": "t-<script>", "title": "Odd id"},
        {**good, "id": "٢٥٠٦.٠٠٠٠٧", "title": "Arabic digits"},
        {**good, "id": "2506.00008", "title": "Year zero", "listed_on": "0000-01-01"},
    ]
    path = tmp_path / "papers.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    report = ingest_files(store, [path])
    assert report.added == 1 and store.count_papers() == 1
    assert sorted(skip.line for skip in report.skipped) == [2, 3, 4, 5, 6]
    assert all(str(skip).startswith(f"{path}:") for skip in report.skipped)
    reasons = " ".join(str(skip) for skip in report.skipped)
    assert "out of range" in reasons and "not a category name" in reasons and "neither an arXiv id" in reasons


def test_acm_and_msc_classes_beside_the_categories_keep_the_paper(store, tmp_path) -> None:
    """arXiv's records list ACM / MSC classes with the categories: the paper is real, those entries go."""
    line = {"id": "2506.00011", "title": "Classified", "listed_on": "2025-06-10",
            "categories": ["cs.CL", "I.2.7; I.2.6", "68T50, 68T07 (Primary)"]}  # fmt: skip
    path = tmp_path / "classified.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    report = ingest_files(store, [path])
    assert report.added == 1 and not report.skipped
    stored = store.get_paper("2506.00011")
    assert stored is not None and stored.categories == ("cs.CL",)


def test_feeds_stay_well_formed_xml_whatever_the_data_holds(client, store, papers) -> None:
    store.upsert_papers([
        Paper(id="2506.00009", title="Bell\x07 and \ufffe", abstract="Form\x0cfeed", authors=("Nul\x00l",),
              categories=("cs.\x01AI", "\x1b[31m"), listed_on="2025-06-10", upvotes=9),
    ])  # fmt: skip
    for url in ("/feeds/daily.atom", "/feeds/trending.atom", "/feeds/search.atom?q=bell"):
        response = client.get(url)
        assert response.status_code == 200
        ET.fromstring(response.content)  # raises on anything XML 1.0 cannot carry


# ---- 4. secure defaults ------------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(client, papers) -> None:
    for url in ("/", DAY_PAGE, "/api/papers", "/subscribe", "/login", "/nowhere", "/docs"):
        headers = client.get(url).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], url
        assert headers["x-content-type-options"] == "nosniff", url
        assert headers["referrer-policy"] == "same-origin", url
    page_policy = client.get("/").headers["content-security-policy"]
    assert "script-src 'self';" in page_policy and "unsafe-inline" not in page_policy.split("style-src")[0]
    docs = client.get("/docs")
    docs_policy = docs.headers["content-security-policy"]
    assert docs.status_code == 200 and "/static/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "http" not in docs_policy  # offline: nothing from another site, not even for /docs
    assert client.get("/openapi.json").status_code == 200


def test_head_answers_wherever_get_does(client, papers) -> None:
    for url in ("/", DAY_PAGE, "/papers/week/2025-W24", f"/papers/{PAPER}", "/api/papers", f"/api/papers/{PAPER}",
                "/healthz", "/subscribe", "/login", "/papers/trending", "/static/style.css", "/feeds/daily.atom",
                "/api/daily_papers", "/openapi.json"):  # fmt: skip
        get, head = client.get(url), client.head(url)
        assert head.status_code == 200 == get.status_code, url
        assert head.content == b"", url
        assert head.headers["content-type"] == get.headers["content-type"], url


def test_redirects_never_name_the_host_header(client, papers) -> None:
    for url in ("/papers/", "/papers/week", "/papers/month", "/submit", "/api/papers/"):
        response = client.get(url, headers={"Host": "evil.example"}, follow_redirects=False)
        assert response.is_redirect, url
        assert "evil.example" not in response.headers["location"], url
        assert response.headers["location"].startswith("/"), url


def subscribe_from_address(client: TestClient, forwarded: str) -> int:
    body = {"email": f"reader{sum(map(ord, forwarded))}@example.org"}
    return client.post("/api/subscriptions", json=body, headers={"X-Forwarded-For": forwarded}).status_code


@pytest.mark.slow  # a real server or subprocess: in `make test`, not the fast lane
def test_x_forwarded_for_counts_only_from_trusted_proxies(settings, store) -> None:
    from paperwire.app import create_app

    with TestClient(create_app(settings, store=store), client=("10.0.0.5", 4000)) as direct:
        codes = [subscribe_from_address(direct, f"203.0.113.{n}") for n in range(21)]
    assert codes[:20] == [202] * 20 and codes[20] == 429  # rotating the header does not reset the limit
    trusting = settings.model_copy(update={"trusted_proxies": "10.0.0.0/8"})
    with TestClient(create_app(trusting, store=store), client=("10.0.0.5", 4000)) as proxied:
        assert [subscribe_from_address(proxied, f"198.51.100.{n}") for n in range(21)] == [202] * 21
        # a garbled entry counts against the proxy itself, which the 21 direct requests above used up
        assert subscribe_from_address(proxied, "garbage, 10.0.0.7") == 429


@pytest.mark.slow  # a real server or subprocess: in `make test`, not the fast lane
def test_paperwire_serve_ignores_x_forwarded_for_from_loopback_by_default(settings, store) -> None:
    import httpx

    from paperwire.app import create_app

    with serve_app(create_app(settings, store=store), **server_options(settings)) as base_url:
        with httpx.Client(base_url=base_url) as http:
            codes = [
                http.post("/api/subscriptions", json={"email": f"loop{n}@example.org"},
                          headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n in range(21)
            ]  # fmt: skip
    assert codes[:20] == [202] * 20 and codes[20] == 429  # uvicorn alone would trust 127.0.0.1's header


def test_the_trusted_proxies_setting_names_a_bad_entry() -> None:
    with pytest.raises(ValueError, match="'10.0.0.300' is not an IP address or CIDR"):
        Settings(trusted_proxies="10.0.0.1, 10.0.0.300")


def test_the_csrf_token_is_bound_to_the_session_and_rotated_at_sign_in(client, settings, papers) -> None:
    before = csrf(client)
    cookie_before = client.cookies.get("pw_csrf")
    token = sign_in(client, settings, "owner@example.org")
    assert client.cookies.get("pw_csrf") != cookie_before
    assert client.post(f"/api/papers/{PAPER}/upvote", headers={"X-CSRF-Token": before}).status_code == 403
    other = TestClient(client.app)
    sign_in(other, settings, "other@example.org")
    # another reader's session with this browser's CSRF cookie and token: the token was not issued for it
    cookies = f"pw_session={other.cookies.get('pw_session')}; pw_csrf={client.cookies.get('pw_csrf')}"
    probe = TestClient(client.app)
    headers = {"X-CSRF-Token": token, "Cookie": cookies}
    assert probe.post(f"/api/papers/{PAPER}/upvote", headers=headers).status_code == 403
    assert client.post(f"/api/papers/{PAPER}/upvote", headers={"X-CSRF-Token": token}).status_code == 200


def test_data_files_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    from paperwire.app import create_app

    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    old_umask = os.umask(0o022)
    try:
        settings = Settings(home=home, base_url="http://testserver", secret_key="k" * 40, embedder="none")
        with TestClient(create_app(settings)) as client:
            sign_in(client, settings, "private@example.org")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("paperwire.db", "paperwire.db-wal", "paperwire.db-shm"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
    mails = list((home / "maildir" / "new").iterdir())
    assert mails and all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in mails)


def answer_then_outbox(
    app, store: Store, path: str, body: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[bytes, int, int]:
    """Call the app directly; the answer, the outbox size at the moment the answer was complete, and after."""
    seen: list[int] = []
    chunks: list[bytes] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
        "server": ("testserver", 80), "state": {},
        "headers": [(b"host", b"testserver"), (b"content-length", str(len(body)).encode()), *headers],
    }  # fmt: skip

    async def run() -> None:
        delivered = False

        async def receive() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await anyio.sleep_forever()

        async def send(message: dict) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    seen.append(sum(store.outbox_counts().values()))

        await app(scope, receive, send)

    worker = threading.Thread(target=anyio.run, args=(run,))  # not in a thread a browser test left a loop in
    worker.start()
    worker.join()
    return b"".join(chunks), seen[0], sum(store.outbox_counts().values())


def test_subscribe_and_sign_in_answer_before_any_address_dependent_work(client, store) -> None:
    import_subscribers(store, io.StringIO("email\nknown@example.org\n"), confirmed=True)
    json_type = [(b"content-type", b"application/json")]
    answers = []
    for address in ("new@example.org", "known@example.org"):
        body = json.dumps({"email": address}).encode()
        before = sum(store.outbox_counts().values())
        answer, when_answered, after = answer_then_outbox(client.app, store, "/api/subscriptions", body, json_type)
        assert when_answered == before, f"{address}: a mail was queued before the answer"
        assert after == before + 1, f"{address}: the work after the answer did not run"
        answers.append(answer)
    assert answers[0] == answers[1]
    token = csrf(client)
    form = [(b"content-type", b"application/x-www-form-urlencoded"),
            (b"cookie", f"pw_csrf={client.cookies.get('pw_csrf')}".encode())]  # fmt: skip
    for address in ("new@example.org", "known@example.org"):
        body = f"email={address}&csrf_token={token}".encode()
        before = sum(store.outbox_counts().values())
        _answer, when_answered, after = answer_then_outbox(client.app, store, "/login", body, form)
        assert (when_answered, after) == (before, before + 1), address


def test_timestamps_beyond_the_calendar_are_refused_not_a_crash() -> None:
    from paperwire.models import InvalidRecord, parse_timestamp

    with pytest.raises(InvalidRecord):
        parse_timestamp("9999-12-31T23:00:00-05:00")
    assert parse_timestamp("2025-06-10T12:00:00+02:00") == "2025-06-10T10:00:00Z"
    assert datetime.now(timezone.utc).year < 2999  # the calendar's end is far from today's pages
