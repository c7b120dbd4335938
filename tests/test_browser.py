"""What a person sees: Debian's chromium on a served instance of the demo sample and of HF daily papers.

Set PAPERWIRE_SCREENSHOT=docs/screenshot-daily.png to save the daily page as the README's screenshot.
"""

from __future__ import annotations

import os

import pytest

from conftest import HF_SAMPLE
from paperwire.ingest import ingest_files
from paperwire.latex import latex_to_text
from paperwire.sample import load_sample
from paperwire.web.listings import default_day

HF_2025 = HF_SAMPLE

pytestmark = pytest.mark.browser


def card_votes(page) -> list[float]:  # a playwright Page
    """The vote counts shown on the cards, top to bottom ("1.2k" read as 1200)."""
    counts = page.locator("article.card .votes .count").all_inner_texts()
    scale = {"k": 1_000, "M": 1_000_000}
    return [float(text.rstrip("kM")) * scale.get(text[-1], 1) for text in counts]


def test_daily_page_then_a_paper(store, live_server, browser_page):
    load_sample(store)  # the shipped demo data: the screenshot shows no real user names
    shown = default_day(store).isoformat()  # the home page's day: the newest with a real list
    previous_day, _ = store.neighbour_listed_days(shown, shown)
    expected = store.papers_listed_between(previous_day, previous_day, limit=30).papers

    page = browser_page
    page.goto(live_server + "/")
    assert (
        page.title() == "Daily Papers — " + page.locator(".period-title").inner_text().split(" ·")[0] + " · paperwire"
    )
    assert page.get_by_role("heading", level=1).inner_text() == "Daily Papers"
    assert page.locator("a.tab.active").inner_text() == "Daily"
    latest_votes = card_votes(page)
    assert latest_votes and latest_votes == sorted(latest_votes, reverse=True)

    page.locator(".period-nav a[rel=prev]").click()
    page.wait_for_url(f"**/papers?date={previous_day}")
    titles = page.locator("article.card h3").all_inner_texts()
    assert titles == [latex_to_text(paper.title) for paper in expected]  # most upvoted first, LaTeX read
    votes = card_votes(page)
    assert votes == sorted(votes, reverse=True) and votes[0] > votes[-1]
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    if os.environ.get("PAPERWIRE_SCREENSHOT"):
        page.screenshot(path=os.environ["PAPERWIRE_SCREENSHOT"])

    top = expected[0]
    page.get_by_role("link", name=latex_to_text(top.title), exact=True).click()
    page.wait_for_url(f"**/papers/{top.id}")
    assert page.get_by_role("heading", level=1).inner_text() == latex_to_text(top.title)
    assert page.locator(".abstract-full p").inner_text() == latex_to_text(top.abstract)
    arxiv = page.get_by_role("link", name="arXiv page")
    assert arxiv.get_attribute("href") == f"https://arxiv.org/abs/{top.id}"
    assert page.get_by_role("link", name="PDF").get_attribute("href") == f"https://arxiv.org/pdf/{top.id}"
    assert page.locator("#upvote .count").inner_text() == str(top.upvotes)
    assert page.get_by_role("heading", name="Similar papers").is_visible()


def test_daily_page_fits_a_phone(store, live_server, chromium):
    ingest_files(store, [HF_2025])
    context = chromium.new_context(
        bypass_csp=True, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        page.goto(live_server + "/papers?date=2025-06-10")
        assert page.locator("article.card").count() > 10
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        assert page.get_by_role("searchbox", name="Search papers").is_visible()
        card = page.locator("article.card").first.bounding_box()
        assert card["x"] >= 0 and card["x"] + card["width"] <= 390
    finally:
        context.close()
