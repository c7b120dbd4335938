"""In Debian's chromium: sign in through the emailed link, upvote (the count changes in place), submit a paper;
a script in a title or abstract is shown as text and never runs."""

from __future__ import annotations

import email
import email.policy
import re
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from paperwire.models import Paper
from paperwire.settings import Settings

pytestmark = pytest.mark.browser
FIXTURES = Path(__file__).parent / "fixtures"

HOSTILE_TITLE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> Attention is all'
HOSTILE_ABSTRACT = 'We show <script>window.__pwned = 3</script> that A & B < C. <b onmouseover="x()">bold</b>'


@pytest.fixture
def database_url() -> str:
    """SQLite only: the PostgreSQL variants of test_social.py cover the same storage paths."""
    return ""


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database_url = request.getfixturevalue("database_url") if "database_url" in request.fixturenames else ""
    return Settings(home=tmp_path / "home", base_url="http://testserver", secret_key="test-secret-key-0123456789abcdefghijklmnop",
                    database_url=database_url, embedder="none")  # fmt: skip


def wait_for_link(settings: Settings, address: str, timeout: float = 10.0) -> str:
    folder = settings.home / "maildir" / "new"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(folder.glob("*")) if folder.exists() else []:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address in message["To"]:
                text = message.get_body(("plain",)).get_content()
                return re.search(r"http://testserver(/login/\S+)", text).group(1)
        time.sleep(0.05)
    raise AssertionError(f"no sign-in mail for {address}")


def test_sign_in_upvote_and_submit_in_the_browser(browser_page, live_server, store, settings) -> None:
    today = datetime.now(timezone.utc).date().isoformat()
    store.upsert_papers([
        Paper(id="2506.00001", title=HOSTILE_TITLE, abstract=HOSTILE_ABSTRACT, authors=("Ada Lovelace",),
              listed_on=today, listed_from="hf", upvotes=41, observed_at=f"{today}T00:00:00Z"),
        Paper(id="hep-th/9901001", title="Old-style strings", abstract="Strings.", listed_on="1999-01-04"),
    ])  # fmt: skip
    page = browser_page

    # /submit needs a signed-in reader: sign in through the emailed link, and come back to /submit
    page.goto(f"{live_server}/submit")
    page.wait_for_url(re.compile(r"/login\?next=(/|%2F)submit$"))
    page.fill("input[name=email]", "ada@example.org")
    page.click("form.stacked-form button[type=submit]")
    page.get_by_role("heading", name="Check your inbox").wait_for()
    page.goto(live_server + wait_for_link(settings, "ada@example.org"))
    page.fill("input[name=name]", "ada")
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(f"{live_server}/submit")
    assert page.locator(".account .user-name").inner_text() == "ada"
    page.goto(f"{live_server}/")

    # the hostile title and abstract are text, and nothing in them ran
    card = page.locator('article.card[data-paper-id="2506.00001"]')
    assert HOSTILE_TITLE in card.locator(".card-title").inner_text()
    assert "<script>window.__pwned = 3</script>" in card.locator(".abstract").inner_text()
    assert page.evaluate("window.__pwned") is None

    # upvote: the count changes in place (fetch), and stays after a reload
    count = card.locator("form.upvote .count")
    assert count.inner_text() == "41"
    card.locator("form.upvote button").click()
    page.wait_for_function(
        "document.querySelector('article.card[data-paper-id=\"2506.00001\"] form.upvote .count').textContent === '42'"
    )
    assert page.url == f"{live_server}/"  # no navigation: the progressive enhancement handled it
    page.reload()
    assert count.inner_text() == "42"
    assert "voted" in (card.locator("form.upvote").get_attribute("class") or "")
    card.locator("form.upvote button").click()  # undo
    page.wait_for_function(
        "document.querySelector('article.card[data-paper-id=\"2506.00001\"] form.upvote .count').textContent === '41'"
    )

    # the paper page shows the same text safely
    page.goto(f"{live_server}/papers/2506.00001")
    assert HOSTILE_TITLE in page.locator("h1.paper-title").inner_text()
    assert page.evaluate("window.__pwned") is None

    # submit a paper already in the catalogue: a clear confirmation, and it stays on its own day
    page.goto(f"{live_server}/submit")
    page.fill("input[name=paper]", "https://arxiv.org/abs/hep-th/9901001")
    page.click("form.stacked-form button[type=submit]")
    notice = page.locator(".form-notice").inner_text()
    assert "already in the catalogue, listed on 4 January 1999" in notice and "It stays on that day" in notice
    assert store.get_paper("hep-th/9901001").listed_on == "1999-01-04"
    page.goto(f"{live_server}/")
    assert page.locator('article.card[data-paper-id="hep-th/9901001"]').count() == 0


def test_submit_a_new_paper_follows_the_fetch_in_the_browser(browser_page, live_server, settings, httpserver) -> None:
    """Offline arXiv first: a busy page, then "try again later"; then arXiv answers and the paper lands."""
    httpserver.expect_oneshot_request("/api/query").respond_with_data(
        "down", status=503, headers={"Retry-After": "600"}
    )
    settings.arxiv_api_url = httpserver.url_for("/api/query")
    settings.arxiv_request_interval = 0.0
    page = browser_page
    page.goto(f"{live_server}/login?next=/submit")
    page.fill("input[name=email]", "grace@example.org")
    page.click("form.stacked-form button[type=submit]")
    page.goto(f"{live_server}{wait_for_link(settings, 'grace@example.org')}")
    page.fill("input[name=name]", "grace")
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(f"{live_server}/submit")
    page.fill("input[name=paper]", "2506.08001")
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(re.compile(r"/submit/\d+$"))
    page.locator("[data-state=failed]").wait_for(timeout=20_000)  # the page refreshed itself until it failed
    assert (
        "arXiv is busy and asks everyone to wait. Please try again later."
        in page.locator("[data-state=failed]").inner_text()
    )

    httpserver.expect_request("/api/query").respond_with_data(
        (FIXTURES / "arxiv_api_entries.xml").read_bytes(), content_type="application/atom+xml"
    )
    page.get_by_role("button", name="Try again").click()
    page.locator("[data-state=done]").wait_for(timeout=20_000)
    page.get_by_role("link", name="Open 2506.08001").click()
    page.wait_for_url(f"{live_server}/papers/2506.08001")
    assert "Submitted by grace" in page.locator(".paper").inner_text()
