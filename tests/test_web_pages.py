"""The catalogue's pages and their JSON twins, through an in-process client on a real SQLite file."""

from __future__ import annotations

import gzip
import html
import json
import re
from collections import defaultdict
from datetime import date

import pytest

from conftest import FIXTURES, HF_SAMPLE
from paperwire.ingest import ingest_files
from paperwire.models import Paper, title_id

SMALL = FIXTURES / "catalogue_small.jsonl"
HF_2025 = HF_SAMPLE
SPEC_FIELDS = {
    "id", "version", "title", "abstract", "authors", "categories", "published_at", "updated_at", "listed_on",
    "submitted_by", "upvotes", "comments", "github_repo", "github_stars", "project_page", "keywords", "links",
}  # fmt: skip
UNTITLED_ID = title_id("A paper without an arXiv id")


@pytest.fixture
def catalogue(store):
    report = ingest_files(store, [SMALL], "jsonl")
    assert report.added == 10 and not report.skipped
    return store


def card_ids(page: str) -> list[str]:
    return re.findall(r'<article class="card" data-paper-id="([^"]+)"', page)


def nav_link(page: str, rel: str) -> str | None:
    """The href of the period navigation's previous / next button."""
    section = page.split('class="period-nav"', 1)[1].split("</nav>", 1)[0]
    match = re.search(rf'rel="{rel}" href="([^"]+)"', section)
    return html.unescape(match.group(1)) if match else None


# ---- listing pages -------------------------------------------------------------------------------------


def test_daily_page_lists_the_day_most_upvoted_first(client, catalogue):
    response = client.get("/papers?date=2025-06-10")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert card_ids(response.text) == ["2506.00002", "2506.00001", UNTITLED_ID, "2506.00003"]
    assert "Tuesday, June 10, 2025" in response.text
    assert "Submitted by <strong>alice</strong>" in response.text


def test_daily_navigation_skips_days_without_papers(client, catalogue):
    page = client.get("/papers?date=2025-06-10").text
    assert nav_link(page, "prev") == "/papers?date=2025-06-09"
    assert nav_link(page, "next") == "/papers?date=2025-06-15"  # 11 to 14 June have no papers
    latest = client.get("/papers?date=2025-06-16").text
    assert nav_link(latest, "next") is None
    assert nav_link(latest, "prev") == "/papers?date=2025-06-15"
    first = client.get("/papers?date=2025-05-31").text
    assert nav_link(first, "prev") is None


def test_home_shows_the_latest_day_with_papers(client, catalogue):
    page = client.get("/").text
    assert card_ids(page) == ["2506.00006"]
    assert "Monday, June 16, 2025" in page
    bare = client.get("/papers").text
    assert card_ids(bare) == ["2506.00006"] and "Monday, June 16, 2025" in bare


def test_empty_day_says_so_and_links_to_neighbours(client, catalogue):
    page = client.get("/papers?date=2025-06-12").text
    assert card_ids(page) == []
    assert "No papers were listed" in page
    assert nav_link(page, "prev") == "/papers?date=2025-06-10"
    assert nav_link(page, "next") == "/papers?date=2025-06-15"


def test_week_runs_monday_to_sunday(client, catalogue):
    page = client.get("/papers/week/2025-W24").text
    assert card_ids(page) == ["2506.00004", "2506.00002", "2506.00005", "2506.00001", UNTITLED_ID, "2506.00003"]
    assert nav_link(page, "prev") == "/papers/week/2025-W23"
    assert nav_link(page, "next") == "/papers/week/2025-W25"
    assert "Week 24, Jun 9 – Jun 15, 2025" in page


def test_month_bounds_and_navigation(client, catalogue):
    page = client.get("/papers/month/2025-06").text
    ids = card_ids(page)
    assert ids[:3] == ["2506.00006", "2506.00007", "2506.00004"]
    assert "2505.00008" not in ids and len(ids) == 9
    assert nav_link(page, "prev") == "/papers/month/2025-05"
    assert nav_link(page, "next") is None
    assert card_ids(client.get("/papers/month/2025-05").text) == ["2505.00008"]


def test_bare_week_and_month_go_to_the_latest(client, catalogue):
    week = client.get("/papers/week", follow_redirects=False)
    assert week.status_code == 302 and week.headers["location"] == "/papers/week/2025-W25"
    month = client.get("/papers/month", follow_redirects=False)
    assert month.status_code == 302 and month.headers["location"] == "/papers/month/2025-06"


def test_pages_of_thirty(client, store):
    store.upsert_papers(
        [Paper(id=f"2506.{n:05d}", title=f"Paper {n}", listed_on="2025-06-10", upvotes=n) for n in range(1, 66)]
    )
    first = client.get("/papers?date=2025-06-10").text
    assert card_ids(first) == [f"2506.{n:05d}" for n in range(65, 35, -1)]
    assert 'aria-current="page">1<span class="visually-hidden"> of 3</span>' in first
    assert 'href="/papers?date=2025-06-10&amp;page=2"' in first
    third = client.get("/papers?date=2025-06-10&page=3").text
    assert card_ids(third) == [f"2506.{n:05d}" for n in range(5, 0, -1)]
    past_the_end = client.get("/papers?date=2025-06-10&page=4")
    assert past_the_end.status_code == 200 and card_ids(past_the_end.text) == []
    assert "past the end" in past_the_end.text
    for bad in ("0", "-1", "two", "99999999999999999999"):
        response = client.get(f"/papers?date=2025-06-10&page={bad}")
        assert response.status_code == 400, bad
        assert "page must be a whole number" in response.text


MALFORMED_PERIODS = [
    ("/papers?date=2025-02-30", "expected YYYY-MM-DD"),
    ("/papers?date=yesterday", "expected YYYY-MM-DD"),
    ("/papers/week/2025-W53", "No such week"),
    ("/papers/week/2025-24", "expected YYYY-Www"),
    ("/papers/week/9999-W52", "is out of range"),
    ("/papers/month/2025-13", "expected YYYY-MM"),
    ("/papers/month/June", "expected YYYY-MM"),
]


def test_malformed_periods_get_a_clear_400_page(client, catalogue):
    for path, hint in MALFORMED_PERIODS:  # one catalogue for all: each store costs a migration
        response = client.get(path)
        assert response.status_code == 400, path
        assert response.headers["content-type"].startswith("text/html")
        assert hint in html.unescape(response.text), path
        assert "<h1>That is not a date we understand</h1>" in response.text


# ---- the paper page ------------------------------------------------------------------------------------


def test_paper_page_shows_everything_about_the_paper(client, catalogue):
    response = client.get("/papers/2506.00002")
    assert response.status_code == 200
    page = response.text
    assert '<h1 class="paper-title">Most voted paper of June 10</h1>' in page
    for text in ("Ada Lovelace", "Barbara Liskov", "cs.LG", "cs.AI", "Published on Jun 2, 2025", "updated Jun 6, 2025",
                 "v2", "<strong>alice</strong>", "attention", "sparse models", "example/most-voted", "★ 1.2k",
                 "3 comments", "Similar papers"):  # fmt: skip
        assert text in page, text
    assert 'href="https://arxiv.org/abs/2506.00002"' in page
    assert 'href="https://arxiv.org/pdf/2506.00002"' in page
    assert 'href="https://github.com/example/most-voted"' in page
    assert '<span class="count">50</span>' in page
    assert "javascript:" not in page  # an imported javascript: project page is not linked
    assert 'href="https://example.org/project"' in client.get("/papers/2506.00001").text


def test_abstracts_display_as_escaped_text_with_their_latex_read(client, catalogue):
    # markup is escaped, LaTeX math reads as text ($\\alpha < \\beta$ → α < β), braces group like LaTeX's
    escaped = "We show &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; that A &amp; B hold for α &lt; β and 7*7 ."
    for path in ("/papers/2506.00002", "/papers?date=2025-06-10"):
        page = client.get(path).text
        assert escaped in page, path
        assert "<script>" not in page
        assert "49" not in page  # the abstract is data, never a template
    payload = client.get("/api/papers/2506.00002").json()
    assert (
        payload["abstract"]
        == 'We show <script>alert("x")</script> that A & B hold for $\\alpha < \\beta$ and {{ 7*7 }}.'
    )


def test_old_style_arxiv_ids(client, catalogue):
    response = client.get("/papers/hep-th/9901001")
    assert response.status_code == 200
    assert "An old-style identifier paper" in response.text
    assert 'href="https://arxiv.org/abs/hep-th/9901001"' in response.text
    assert 'href="https://arxiv.org/pdf/hep-th/9901001"' in response.text
    versioned = client.get("/papers/hep-th/9901001v3", follow_redirects=False)
    assert versioned.status_code == 301 and versioned.headers["location"] == "/papers/hep-th/9901001"
    assert client.get("/api/papers/hep-th/9901001").json()["links"]["abs"] == "https://arxiv.org/abs/hep-th/9901001"


def test_title_id_paper_has_a_page_without_arxiv_links(client, catalogue):
    response = client.get(f"/papers/{UNTITLED_ID}")
    assert response.status_code == 200 and "A paper without an arXiv id" in response.text
    paper = response.text.split('<article class="paper"', 1)[1].split("</article>", 1)[0]
    assert "Identified by its title." in paper and "arxiv.org" not in paper
    assert client.get(f"/api/papers/{UNTITLED_ID}").json()["links"] == {"abs": None, "pdf": None}


def test_unknown_paper_and_unknown_page_are_404(client, catalogue):
    response = client.get("/papers/2501.99999")
    assert response.status_code == 404
    assert "Paper not found" in response.text and "2501.99999" in response.text
    api = client.get("/api/papers/2501.99999")
    assert api.status_code == 404 and "2501.99999" in api.json()["detail"]
    browser = client.get("/no/such/page", headers={"accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 404 and "Page not found" in browser.text
    assert client.get("/api/no/such/endpoint", headers={"accept": "text/html"}).json() == {"detail": "Not Found"}


# ---- the JSON twins ------------------------------------------------------------------------------------


def test_api_papers_for_a_week(client, catalogue):
    response = client.get("/api/papers", params={"period": "week", "date": "2025-06-12"})
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"kind": "week", "label": "2025-W24", "first": "2025-06-09", "last": "2025-06-15"}
    assert body["previous"]["label"] == "2025-W23" and body["next"]["label"] == "2025-W25"
    assert (body["total"], body["limit"], body["offset"]) == (6, 50, 0)
    assert [paper["id"] for paper in body["papers"]] == [
        "2506.00004", "2506.00002", "2506.00005", "2506.00001", UNTITLED_ID, "2506.00003",
    ]  # fmt: skip
    top = body["papers"][1]
    assert set(top) == SPEC_FIELDS
    assert top["authors"][0] == "Ada Lovelace" and top["categories"] == ["cs.LG", "cs.AI"]
    assert (top["upvotes"], top["github_stars"], top["submitted_by"]) == (50, 1234, "alice")
    assert top["links"] == {"abs": "https://arxiv.org/abs/2506.00002", "pdf": "https://arxiv.org/pdf/2506.00002"}


def test_api_papers_pages_and_defaults(client, catalogue):
    body = client.get("/api/papers?period=month&date=2025-06-30&limit=2&offset=2").json()
    assert body["total"] == 9 and [paper["id"] for paper in body["papers"]] == ["2506.00004", "2506.00002"]
    latest = client.get("/api/papers").json()  # the latest day with papers
    assert latest["period"]["label"] == "2025-06-16" and latest["next"] is None
    assert [paper["id"] for paper in latest["papers"]] == ["2506.00006"]


BAD_LIST_PARAMETERS = [
    ("limit=201", "limit must be a whole number from 1 to 200"),
    ("limit=0", "limit must be a whole number from 1 to 200"),
    ("offset=-1", "offset must be a whole number from 0"),
    ("period=year", "period must be day, week or month"),
    ("date=2025-02-30", "YYYY-MM-DD"),
    ("period=week&date=2025-W24", "YYYY-MM-DD"),
]


def test_api_papers_rejects_bad_parameters_with_a_message(client, catalogue):
    for query, words in BAD_LIST_PARAMETERS:
        response = client.get(f"/api/papers?{query}")
        assert response.status_code == 422, query
        assert words in response.json()["detail"], query
    assert client.get("/api/papers?limit=200").json()["limit"] == 200


def test_api_week_of_hugging_face_2025(client, store):
    """GET /api/papers?period=week&date=2025-06-10 after importing HF 2025 items: that ISO week's papers."""
    ingest_files(store, [HF_2025])
    listed_on: dict[str, str] = {}
    newest: dict[str, tuple[str, int]] = {}
    with gzip.open(HF_2025, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            paper = record["item"]["paper"]
            day = (paper.get("submittedOnDailyAt") or record["date"])[:10]
            paper_id = paper["id"]
            listed_on[paper_id] = min(day, listed_on.get(paper_id, day))
            if paper_id not in newest or record["date"] >= newest[paper_id][0]:
                newest[paper_id] = (record["date"], paper.get("upvotes") or 0)
    expected = {paper_id for paper_id, day in listed_on.items() if "2025-06-09" <= day <= "2025-06-15"}
    assert len(expected) > 20

    body = client.get("/api/papers?period=week&date=2025-06-10&limit=200").json()
    assert body["period"] == {"kind": "week", "label": "2025-W24", "first": "2025-06-09", "last": "2025-06-15"}
    assert body["total"] == len(expected) == len(body["papers"])
    assert {paper["id"] for paper in body["papers"]} == expected
    votes = [paper["upvotes"] for paper in body["papers"]]
    assert votes == sorted(votes, reverse=True) and votes[0] > votes[-1]
    assert all(paper["upvotes"] == newest[paper["id"]][1] for paper in body["papers"])
    by_day = defaultdict(int)
    for paper in body["papers"]:
        assert set(paper) == SPEC_FIELDS
        assert paper["title"] and paper["abstract"] and paper["authors"]
        by_day[date.fromisoformat(paper["listed_on"]).weekday()] += 1
    assert len(by_day) >= 5  # the week spans its weekdays, not one day


def test_openapi_documents_the_catalogue(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/papers", "/api/papers/{paper_id}", "/healthz"} <= set(schema["paths"])
    listing = schema["paths"]["/api/papers"]["get"]
    assert listing["tags"] == ["papers"] and listing["summary"]
    assert {parameter["name"] for parameter in listing["parameters"]} == {"period", "date", "limit", "offset"}
    assert client.get("/docs").status_code == 200
    stylesheet = client.get("/static/style.css")
    assert stylesheet.status_code == 200 and "prefers-color-scheme: dark" in stylesheet.text
