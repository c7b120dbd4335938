"""In Debian's chromium: sign in, import a Zotero BibTeX export and read the match report, open "For you"
and its reasons, mark a paper 👎 (gone, the list adjusted in place), follow an author, save a paper into
a collection, and export that collection as BibTeX."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from paperwire.settings import Settings
from paperwire.sources.jsonl import to_paper
from test_social_browser import wait_for_link

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def database_url() -> str:
    """SQLite only: test_library.py and test_recommend_service.py cover both backends."""
    return ""


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return Settings(home=tmp_path / "home", base_url="http://testserver", secret_key="test-secret-key-long-enough-for-paperwire",
                    database_url="", embedder="none")  # fmt: skip


def test_library_and_for_you_in_the_browser(browser_page, live_server, store, settings, tmp_path) -> None:
    lines = (FIXTURES / "library_papers.jsonl").read_bytes().splitlines()
    store.upsert_papers([to_paper(orjson.loads(line)) for line in lines])
    page = browser_page

    # sign in through the emailed link, and come back to the library
    page.goto(f"{live_server}/library")
    page.wait_for_url(re.compile(r"/login\?next=(/|%2F)library$"))
    page.fill("input[name=email]", "zotero.user@example.org")
    page.click("form.stacked-form button[type=submit]")
    page.get_by_role("heading", name="Check your inbox").wait_for()
    page.goto(live_server + wait_for_link(settings, "zotero.user@example.org"))
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(f"{live_server}/library")

    # import the Zotero export: the report says, line by line, what matched and what did not, and why
    page.set_input_files("input[name=file]", str(FIXTURES / "zotero_library.bib"))
    page.get_by_role("button", name="Import").click()
    report = page.locator("#import-report")
    report.wait_for()
    assert "6 matched, 2 kept as references (not in the catalogue), 1 skipped" in report.inner_text()
    assert report.locator("tr.outcome-matched").count() == 6
    assert "not in the catalogue yet" in report.locator("tr.outcome-kept").first.inner_text()
    assert "no title, arXiv id or DOI" in report.locator("tr.outcome-skipped").inner_text()

    # "For you": the day's papers with the reason each is there
    page.get_by_role("navigation", name="Periods").get_by_role("link", name="For you").click()
    page.get_by_role("heading", name="For you", exact=True).wait_for()
    cards = page.locator("#for-you-list article.card")
    assert cards.count() == 20
    assert "in your library" in cards.first.locator(".reason").inner_text()
    before = [cards.nth(i).get_attribute("data-paper-id") for i in range(cards.count())]

    # upvote one in place (the count changes without a page load)
    page.evaluate("window.__same_page = true")
    upvote = cards.nth(1).locator("form.upvote")
    votes = int(upvote.locator(".count").inner_text())
    upvote.locator("button").click()
    page.wait_for_function(
        f"document.querySelectorAll('#for-you-list form.upvote')[1].querySelector('.count').textContent === '{votes + 1}'"
    )
    assert upvote.get_attribute("class") == "upvote voted"

    # 👎 the first one: it disappears, and the list is ranked again in place (the next paper moves up)
    dismissed = before[0]
    cards.first.get_by_role("button", name="✕ Not interested").click()
    page.locator(f'#for-you-list article[data-paper-id="{dismissed}"]').wait_for(state="detached")
    page.wait_for_function("document.querySelectorAll('#for-you-list article.card').length === 20")
    after = [cards.nth(i).get_attribute("data-paper-id") for i in range(cards.count())]
    assert dismissed not in after
    assert page.evaluate("window.__same_page") is True  # in place: no page load
    assert set(after) - set(before), "a paper that was below the page moved up into it"
    page.reload()
    assert page.locator(f'#for-you-list article[data-paper-id="{dismissed}"]').count() == 0

    # follow an author of a suggested paper, from its page
    first = after[0]
    page.locator(f'#for-you-list article[data-paper-id="{first}"] .card-title a').click()
    page.wait_for_url(f"{live_server}/papers/{first}")
    follow = page.locator(".follow-authors button").first
    author = follow.inner_text().removeprefix("+ ").strip()
    follow.click()
    page.wait_for_function("document.querySelector('.follow-authors button').getAttribute('aria-pressed') === 'true'")
    assert page.locator(".follow-authors button").first.inner_text().startswith("✓")

    # save it into a new collection
    page.fill("input[name=new_collection]", "Splatting picks")
    page.get_by_role("button", name="Add to collection").click()
    page.wait_for_url(f"{live_server}/papers/{first}")
    assert page.locator(".reader-actions button").first.inner_text() == "★ Saved"

    # everything is on My library, and the collection exports as BibTeX
    page.get_by_role("link", name="My library").click()
    library = page.locator("main")
    assert author in library.locator("#authors-heading + ul").inner_text()
    assert "Splatting picks" in library.inner_text()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export BibTeX").click()
    bibtex = Path(download_info.value.path()).read_text()
    assert f"eprint = {{{first}}}" in bibtex and bibtex.count("@misc{") == 1
