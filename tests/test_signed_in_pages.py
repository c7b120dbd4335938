"""Signed-in readers' list pages are filled in from one rendering shared by all of them (web/reader_pages.py):
each reader must get exactly the page the templates render for them — their votes, name and CSRF token —
and nothing of anyone else's."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from paperwire.app import create_app
from paperwire.models import Paper, now_utc, utc_iso
from paperwire.settings import Settings
from paperwire.storage import Store
from paperwire.web.security import CSRF_COOKIE, SESSION_COOKIE, _session_serializer, hash_token
from test_page_cache import cache_counts

DAY = "2025-06-10"
DAY_PAGE = f"/papers?date={DAY}"
IDS = [f"2506.0{n:04d}" for n in range(1, 5)]
SESSIONS = itertools.count(1)


@pytest.fixture
def papers(store: Store) -> None:
    store.upsert_papers([
        Paper(id=paper_id, title=f"Paper number {n}", abstract="Text.", authors=("Ada Lovelace",), listed_on=DAY,
              listed_from="hf", upvotes=10 - n, observed_at="2025-06-10T00:00:00Z")
        for n, paper_id in enumerate(IDS)
    ])  # fmt: skip


def reader(app, store: Store, settings: Settings, email: str, name: str, csrf_cookie: str | None) -> TestClient:
    """A browser signed in as `email` (a session made in the database, as the sign-in POST makes it)."""
    user = store.ensure_user(email, name)
    session_id = f"session-{next(SESSIONS)}-of-{email}"
    store.create_session(hash_token(session_id), user["id"], utc_iso(now_utc() + timedelta(days=1)))
    browser = TestClient(app)
    browser.cookies.set(SESSION_COOKIE, _session_serializer(settings).dumps(session_id))
    if csrf_cookie:
        browser.cookies.set(CSRF_COOKIE, csrf_cookie)
    return browser


def voted_ids(html: str) -> set[str]:
    return set(re.findall(r'<form class="upvote voted" method="post" action="/papers/([^/]+)/upvote"', html))


def form_token(html: str) -> str:
    tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', html))
    assert len(tokens) == 1, tokens
    return tokens.pop()


def test_each_reader_gets_exactly_the_page_rendered_for_them(client, store, settings, papers) -> None:
    uncached = create_app(settings.model_copy(update={"page_cache_seconds": 0}), store=store)
    cached = client.app
    ada = {"email": "ada@example.org", "name": "Ada", "csrf_cookie": "a" * 32}
    zoe = {"email": "zoe@example.org", "name": "Zoë <b>O'Brien</b> & co", "csrf_cookie": "z" * 32}
    store.set_vote(IDS[1], store.ensure_user(ada["email"], ada["name"])["id"], True)
    store.set_vote(IDS[3], store.ensure_user(ada["email"], ada["name"])["id"], True)
    store.set_vote(IDS[2], store.ensure_user(zoe["email"], zoe["name"])["id"], True)

    before = cache_counts(client)
    pages = {}
    for person in (ada, zoe):
        browser = reader(cached, store, settings, **person)
        first, second = browser.get(DAY_PAGE), browser.get(DAY_PAGE)
        expected = TestClient(uncached, cookies=dict(browser.cookies.items())).get(DAY_PAGE)  # same browser
        assert first.status_code == second.status_code == expected.status_code == 200
        assert first.content == second.content == expected.content
        assert int(second.headers["content-length"]) == len(expected.content)
        assert second.headers["cache-control"] == "no-store"
        pages[person["email"]] = second.text
    after = cache_counts(client)
    # one rendering for both readers, then filled in for each
    assert after["reader_miss"] - before.get("reader_miss", 0) == 1
    assert after["reader_hit"] - before.get("reader_hit", 0) == 3

    assert voted_ids(pages["ada@example.org"]) == {IDS[1], IDS[3]}
    assert voted_ids(pages["zoe@example.org"]) == {IDS[2]}
    assert '<span class="user-name">Zoë &lt;b&gt;O&#39;Brien&lt;/b&gt; &amp; co</span>' in pages["zoe@example.org"]
    assert "Zoë" not in pages["ada@example.org"] and "\x00" not in pages["ada@example.org"]
    assert form_token(pages["ada@example.org"]) != form_token(pages["zoe@example.org"])


def test_the_filled_in_page_works_and_follows_the_readers_own_vote(client, store, settings, papers) -> None:
    browser = reader(client.app, store, settings, "ada@example.org", "Ada", "a" * 32)
    browser.get(DAY_PAGE)
    page = browser.get(DAY_PAGE).text  # filled in from memory
    assert voted_ids(page) == set()
    response = browser.post(f"/papers/{IDS[0]}/upvote", data={"csrf_token": form_token(page), "action": "up",
                                                               "next": DAY_PAGE}, follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    page = browser.get(DAY_PAGE).text
    assert voted_ids(page) == {IDS[0]}
    card = page[page.index(f'data-paper-id="{IDS[0]}"') :]
    assert re.search(r'class="count">(\d+)<', card).group(1) == "11"
    # another reader's token is refused: it is bound to Ada's browser and session
    other = reader(client.app, store, settings, "zoe@example.org", "Zoe", "z" * 32)
    refused = other.post(f"/papers/{IDS[1]}/upvote", data={"csrf_token": form_token(page), "action": "up"})
    assert refused.status_code == 403


def test_a_browser_without_a_csrf_cookie_gets_one_that_matches_its_forms(client, store, settings, papers) -> None:
    browser = reader(client.app, store, settings, "ada@example.org", "Ada", None)
    browser.get(DAY_PAGE)
    browser.cookies.delete(CSRF_COOKIE)
    response = browser.get(DAY_PAGE)
    assert CSRF_COOKIE in response.headers["set-cookie"]
    token = form_token(response.text)
    voted = browser.post(f"/api/papers/{IDS[2]}/upvote", headers={"X-CSRF-Token": token})
    assert voted.status_code == 200 and voted.json()["upvotes"] == 9


def test_an_expired_or_forged_session_gets_the_signed_out_page(client, store, settings, papers) -> None:
    reader(client.app, store, settings, "ada@example.org", "Ada", "a" * 32).get(DAY_PAGE)  # the shared rendering
    expired = store.ensure_user("old@example.org", "Old")
    store.create_session(hash_token("old-session-0123456789"), expired["id"], utc_iso(now_utc() - timedelta(hours=1)))
    for cookie in (_session_serializer(settings).dumps("old-session-0123456789"), "forged"):
        browser = TestClient(client.app)
        browser.cookies.set(SESSION_COOKIE, cookie)
        page = browser.get(DAY_PAGE).text
        assert 'action="/logout"' not in page and 'class="user-name"' not in page
        assert 'title="Sign in to upvote"' in page


def test_a_reader_with_many_votes_sees_the_right_ones(store, papers, monkeypatch) -> None:
    import paperwire.storage.social as social

    monkeypatch.setattr(social, "READER_VOTES_AT_ONCE", 2)
    user = store.ensure_user("many@example.org", "Many")
    for paper_id in IDS[:3]:
        store.set_vote(paper_id, user["id"], True)
    store.create_session(hash_token("many-0123456789"), user["id"], utc_iso(now_utc() + timedelta(days=1)))
    now = utc_iso(now_utc())
    found, voted = store.session_reader(hash_token("many-0123456789"), now, [IDS[0], IDS[2], IDS[3]])
    assert found["email"] == "many@example.org" and voted == {IDS[0], IDS[2]}
    monkeypatch.setattr(social, "READER_VOTES_AT_ONCE", 10)
    assert store.session_reader(hash_token("many-0123456789"), now, [IDS[1], IDS[3]])[1] == {IDS[1]}
    assert store.session_reader(hash_token("many-0123456789"), now, None)[1] == set(IDS[:3])  # all of them
    monkeypatch.setattr(social, "READER_VOTES_AT_ONCE", 2)
    assert store.session_reader(hash_token("many-0123456789"), now, None) == (found, None)  # too many to list
    assert store.session_reader(hash_token("unknown"), now, IDS) == (None, set())


def test_an_aged_rendering_is_served_only_while_its_successor_renders() -> None:
    """Nobody waits for a page that merely aged out (no change was seen): one request renders the new one
    while the others are filled in from the old — never after a change, never past twice the age limit."""
    import time

    from paperwire.web.pagecache import PageCache, ReaderEntry
    from paperwire.web.reader_pages import ReaderPage

    cache = PageCache(None, store=None, max_age=10)
    key, version = ("/papers", b"date=2025-06-10"), (3, "2025-06-10T00:00:00Z")
    entry = ReaderEntry(version, time.monotonic() - 11, [], ReaderPage(("page",), (), "t", "n"), None)
    cache.reader_entries[key] = entry
    assert cache._reader_entry(key, version) is None  # aged, nobody rendering: this request renders
    cache.rendering[key] = object()  # a request is rendering the successor
    assert cache._reader_entry(key, version) is entry
    assert cache._reader_entry(key, (4, "2025-06-10T00:00:00Z")) is None  # a change seen: never the old page
    entry.created -= 10  # past twice the limit
    assert cache._reader_entry(key, version) is None
