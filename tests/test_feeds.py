"""Feeds: Atom parsed by feedparser without errors, JSON Feed 1.1 twins, ETag / Last-Modified and 304s."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import feedparser
import orjson
import pytest

from paperwire.models import Paper
from paperwire.settings import Settings

FEEDS = ("/feeds/daily", "/feeds/trending", "/feeds/search")
HOSTILE = "A <b>bold</b> claim & a $\\alpha < \\beta$ bound with ]]> and \x0b a control character"


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database_url = request.getfixturevalue("database_url") if "database_url" in request.fixturenames else ""
    return Settings(home=tmp_path / "home", base_url="http://testserver", secret_key="test-secret-key-0123456789abcdefghijklmnop",
                    database_url=database_url, embedder="none")  # fmt: skip


@pytest.fixture
def papers(store) -> list[Paper]:
    today = datetime.now(timezone.utc).date()
    observed = lambda days: (today - timedelta(days=days)).isoformat() + "T00:00:00Z"  # noqa: E731
    batch = [
        Paper(id="2506.00001", title="Diffusion models & <script>alert(1)</script> graphs", abstract=HOSTILE,
              authors=("Ada Lovelace", "Alan Turing"), categories=("cs.LG",), published_at="2025-06-09T10:00:00Z",
              listed_on=today.isoformat(), listed_from="hf", upvotes=12, observed_at=observed(0), github_stars=40),
        Paper(id="2506.00002", title="A diffusion study without authors", abstract="Short.",
              listed_on=today.isoformat(), listed_from="hf", upvotes=3, observed_at=observed(2)),
        Paper(id="hep-th/9901001", title="Old-style strings", abstract="Strings.", authors=("E. Witten",),
              published_at="1999-01-01T00:00:00Z", listed_on=(today - timedelta(days=1)).isoformat(),
              listed_from="hf", upvotes=30, observed_at=observed(5)),
    ]  # fmt: skip
    store.upsert_papers(batch)
    return batch


def feed_url(path: str, extension: str) -> str:
    return f"{path}.{extension}" + ("?q=diffusion" if path.endswith("search") else "")


@pytest.mark.parametrize("path", FEEDS)
def test_atom_feeds_parse_cleanly_and_answer_304(client, papers, path: str) -> None:
    response = client.get(feed_url(path, "atom"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10" and parsed.feed.title and parsed.feed.updated
    assert parsed.entries
    for entry in parsed.entries:
        assert entry.id.startswith("http://testserver/papers/")
        assert entry.title and entry.link and entry.updated and "summary" in entry
    # the paper with markup, "&", "<" and "]]>" in its text is in each of these feeds: read back as written
    [hostile] = [entry for entry in parsed.entries if entry.id.endswith("2506.00001")]
    assert hostile.title == "Diffusion models & <script>alert(1)</script> graphs"
    assert [author.name for author in hostile.authors] == ["Ada Lovelace", "Alan Turing"]
    assert "$\\alpha < \\beta$" in hostile.summary and "]]>" in hostile.summary

    etag, last_modified = response.headers["etag"], response.headers["last-modified"]
    again = client.get(feed_url(path, "atom"), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get(feed_url(path, "atom"), headers={"If-Modified-Since": last_modified}).status_code == 304
    assert client.get(feed_url(path, "atom"), headers={"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize("path", FEEDS)
def test_json_feed_twins_are_valid_json_feed(client, papers, path: str) -> None:
    response = client.get(feed_url(path, "json"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/feed+json")
    feed = orjson.loads(response.content)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] and feed["home_page_url"].startswith("http://testserver/")
    assert feed["feed_url"].startswith(f"http://testserver{path}.json")
    assert feed["items"]
    for item in feed["items"]:
        assert item["id"] and item["url"] and item["title"] and "content_text" in item
        datetime.fromisoformat(item["date_modified"].replace("Z", "+00:00"))
        assert all(author["name"] for author in item["authors"])
    etag = response.headers["etag"]
    assert client.get(feed_url(path, "json"), headers={"If-None-Match": etag}).status_code == 304


def test_daily_feed_holds_the_latest_day_and_search_feed_needs_a_query(client, papers) -> None:
    daily = feedparser.parse(client.get("/feeds/daily.atom").content)
    assert {entry.id.rsplit("/papers/", 1)[1] for entry in daily.entries} == {"2506.00001", "2506.00002"}
    trending = feedparser.parse(client.get("/feeds/trending.atom").content)
    assert trending.entries[0].id.endswith("2506.00001")
    assert trending.entries[0].summary.startswith("+12 upvotes today")
    assert client.get("/feeds/search.atom").status_code == 400
    assert client.get("/feeds/search.atom", params={"q": "x" * 251}).status_code == 400
    assert client.get("/feeds/daily.rss").status_code == 404


def test_feed_changes_its_etag_when_the_list_changes(client, store, papers) -> None:
    first = client.get("/feeds/daily.atom")
    store.upsert_papers([Paper(id="2506.00003", title="A newcomer", listed_on=papers[0].listed_on, listed_from="hf")])
    second = client.get("/feeds/daily.atom", headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]


def test_feeds_answer_head_requests(client, papers) -> None:
    get = client.get("/feeds/daily.atom")
    head = client.head("/feeds/daily.atom")
    assert head.status_code == 200 and head.headers["etag"] == get.headers["etag"] and head.content == b""


def test_openapi_documents_feeds_trending_and_the_hf_paths(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]  # warnings are errors: no duplicate operation ids
    assert {"/api/trending", "/api/daily_papers", "/api/papers/search", "/api/papers/{paper_id}/upvote",
            "/feeds/daily.{format_name}", "/feeds/trending.{format_name}", "/feeds/search.{format_name}"} <= set(paths)  # fmt: skip
    assert set(paths["/feeds/daily.{format_name}"]) == {"get"}
