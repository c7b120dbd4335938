"""Search journeys in Chromium at desktop and phone sizes: no match, an unknown id, a known id, paging to
the end with one count, an author page. Meaning search on (MiniLM, loaded once per session)."""

from __future__ import annotations

import re

import pytest

from paperwire.app import create_app
from paperwire.ingest import ingest_files
from paperwire.search.embedding import embed_missing
from paperwire.search.hybrid import SearchService
from paperwire.settings import Settings
from test_search_journeys import FIXTURE, TOM_ID, TOPIC, paging_papers

pytestmark = pytest.mark.browser

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, minilm):
    from browser_support import serve_app
    from paperwire.storage import open_store

    home = tmp_path_factory.mktemp("search-browser") / "home"
    settings = Settings(home=home, base_url="http://testserver", secret_key="test-secret-key-long-enough-for-paperwire")
    store = open_store(settings.effective_database_url)
    ingest_files(store, [FIXTURE], "jsonl")
    store.upsert_papers(paging_papers(47))
    embed_missing(store, minilm)
    application = create_app(settings, store=store)
    application.state.search = SearchService(store, settings, embedder=minilm)
    with serve_app(application) as url:
        yield url
    store.close()


@pytest.fixture(params=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, chromium):
    context = chromium.new_context(
        bypass_csp=True, viewport=VIEWPORTS[request.param], is_mobile=request.param == "phone"
    )
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def search_for(page, base_url: str, text: str) -> None:
    page.goto(base_url + "/search")
    box = page.get_by_role("searchbox", name="Search query")
    box.fill(text)
    box.press("Enter")
    page.wait_for_load_state("domcontentloaded")


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_no_match_says_so_with_help(page, base_url: str) -> None:
    search_for(page, base_url, "xyzzyqwertyplugh")
    status = page.locator(".search-help .empty")
    assert status.inner_text().startswith("No results for “xyzzyqwertyplugh”")
    assert page.locator(".search-results article").count() == 0
    assert page.locator(".search-help .chip").count() >= 1  # nearby topics to try
    assert fits_the_screen(page)


def test_an_unknown_id_offers_to_submit_it_and_a_known_id_opens_the_paper(page, base_url: str) -> None:
    search_for(page, base_url, "arXiv:2512.01234v2")
    offer = page.get_by_role("link", name="Submit arXiv 2512.01234")
    assert offer.get_attribute("href") == "/submit?paper=2512.01234"
    search_for(page, base_url, f"https://arxiv.org/abs/{TOM_ID}v1")
    page.wait_for_url(f"**/papers/{TOM_ID}")
    assert "Theory of Mind" in page.locator("h1").inner_text()


def test_paging_to_the_end_keeps_one_count(page, base_url: str) -> None:
    search_for(page, base_url, TOPIC)
    count_text = page.locator(".search-count").inner_text()
    total = int(re.match(r"(\d+) results", count_text).group(1))
    pages = -(-total // 20)
    assert total >= 47 and pages >= 3
    shown = 0
    for number in range(1, pages + 1):
        assert page.locator(".search-count").inner_text() == count_text
        assert " ".join(page.locator(".pager [aria-current=page]").inner_text().split()) == f"{number} of {pages}"
        shown += page.locator(".search-results article").count()
        assert fits_the_screen(page)
        if number < pages:
            page.get_by_role("link", name="Next page →").click()
            page.wait_for_url(f"**page={number + 1}*")
    assert page.get_by_role("link", name="Next page →").count() == 0
    assert shown == total
    page.goto(page.url.replace(f"page={pages}", "page=99"))
    assert f"There is no page 99: the {total} results" in page.locator("main").inner_text()
    page.get_by_role("link", name=f"Go to the last page ({pages})").click()
    page.wait_for_url(f"**page={pages}*")
    assert page.locator(".search-count").inner_text() == count_text


def test_an_author_link_opens_exactly_their_papers_newest_first(page, base_url: str) -> None:
    search_for(page, base_url, f"{TOPIC} study 21")
    page.locator(".search-results article .authors").get_by_role("link", name="Zoë Quasi").first.click()
    page.wait_for_url("**/authors/*")
    assert page.locator("h1").inner_text() == "Zoë Quasi"
    cards = page.locator(".cards article")
    assert [cards.nth(i).get_attribute("data-paper-id") for i in range(cards.count())] == [
        "2401.00041",
        "2401.00021",
        "2401.00004",
    ]
    assert fits_the_screen(page)
