"""Issue 14's journeys in Debian's chromium at desktop (1280x800) and phone (390x844) sizes: upvote in
place, sign in from an upvote, subscribe → confirm → change interests → unsubscribe → delete (which asks
first), the skip link; and the screenshots of the main pages.

Screenshots go to a temporary folder; `PAPERWIRE_SCREENSHOTS=docs pytest tests/test_journeys_browser.py
-k screenshots` writes them into docs/ (the tests never write to the working tree on their own).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_support import serve_app
from mail_support import SmtpSink
from paperwire.app import create_app
from paperwire.models import Paper
from paperwire.sample import load_sample
from paperwire.settings import Settings
from paperwire.storage import Store, open_store

pytestmark = pytest.mark.browser

DAY = "2025-06-10"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
SCREENSHOT_LIMIT = 150 * 1024


@pytest.fixture
def site(tmp_path: Path, sink: SmtpSink) -> Iterator[tuple[str, Store]]:
    """A served app on SQLite with 40 papers on one day (a page long enough to scroll), mail to `sink`."""
    settings = Settings(home=tmp_path / "home", secret_key="test-secret-key-long-enough-for-paperwire", smtp_url=sink.url, embedder="none",
                        mail_rate=0)  # fmt: skip
    store = open_store(settings.effective_database_url)
    store.upsert_papers([
        Paper(id=f"2506.{n:05d}", title=f"Paper number {n} on learning", abstract="We study things. " * 20,
              authors=("Ada Lovelace", "Alan Turing"), categories=("cs.LG",), listed_on=DAY, upvotes=100 - n)
        for n in range(1, 41)
    ])  # fmt: skip
    try:
        with serve_app(create_app(settings, store=store)) as base_url:
            settings.base_url = base_url  # mailed links point at this server
            yield base_url, store
    finally:
        store.close()


@pytest.fixture(params=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, chromium):  # a playwright Page
    context = chromium.new_context(bypass_csp=True, viewport=VIEWPORTS[request.param])
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def mailed_link(sink: SmtpSink, address: str, pattern: str, count: int = 1) -> str:
    message = sink.wait_for(address, count)[count - 1]
    return re.search(pattern, message.get_body(("plain",)).get_content()).group(0)


def sign_in(page, base_url: str, sink: SmtpSink, address: str, name: str = "") -> None:
    seen = len(sink.messages_to(address))
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", address)
    page.click("form.stacked-form button[type=submit]")
    page.get_by_role("heading", name="Check your inbox").wait_for()
    page.goto(mailed_link(sink, address, r"http://\S+/login/\S+", seen + 1))
    if name and page.locator("input[name=name]").count():  # only a new account asks for a name
        page.fill("input[name=name]", name)
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def card_state(page, paper_id: str) -> dict:
    return page.evaluate(
        """id => ({url: location.href, history: history.length, scroll: window.scrollY,
                   count: document.querySelector(`article[data-paper-id="${id}"] .count`).textContent,
                   focused: document.activeElement.closest(`article[data-paper-id="${id}"] form.upvote`) !== null})""",
        paper_id,
    )


def test_upvote_updates_the_count_in_place(page, site, sink: SmtpSink) -> None:
    base_url, store = site
    sign_in(page, base_url, sink, "ada@example.org", "Ada Lovelace")
    page.goto(f"{base_url}/papers?date={DAY}")
    paper_id = "2506.00020"  # far down the list: a reload would lose the scroll position
    button = page.locator(f'article[data-paper-id="{paper_id}"] form.upvote button')
    button.scroll_into_view_if_needed()
    button.focus()
    before = card_state(page, paper_id)
    assert before["scroll"] > 0 and before["count"] == "80"

    page.keyboard.press("Enter")  # the keyboard's vote
    page.wait_for_function(
        f"document.querySelector('article[data-paper-id=\"{paper_id}\"] .count').textContent === '81'"
    )
    after = card_state(page, paper_id)
    assert after["url"] == before["url"]  # no navigation
    assert after["history"] == before["history"]  # no history entry
    assert after["scroll"] == before["scroll"]  # no jump
    assert after["focused"]  # the button keeps the focus
    assert button.get_attribute("aria-pressed") == "true"
    assert store.get_paper(paper_id).upvotes == 81

    page.keyboard.press("Enter")  # and undo, the same way
    page.wait_for_function(
        f"document.querySelector('article[data-paper-id=\"{paper_id}\"] .count').textContent === '80'"
    )
    assert card_state(page, paper_id)["history"] == before["history"]
    assert store.get_paper(paper_id).upvotes == 80


def test_sign_in_from_an_upvote_casts_it_and_returns_to_the_card(page, site, sink: SmtpSink) -> None:
    base_url, store = site
    paper_id = "2506.00025"
    page.goto(f"{base_url}/papers?date={DAY}")
    page.locator(f'article[data-paper-id="{paper_id}"] a.votes').click()
    page.get_by_text("Sign in to upvote").wait_for()
    page.fill("input[name=email]", "ada@example.org")
    page.click("form.stacked-form button[type=submit]")
    page.goto(mailed_link(sink, "ada@example.org", r"http://\S+/login/\S+"))
    page.fill("input[name=name]", "Ada Lovelace")  # a name with a space is fine
    page.click("button:has-text('Sign in and upvote')")
    page.wait_for_url(f"{base_url}/papers?date={DAY}#paper-{paper_id}")
    card = page.locator(f'article[data-paper-id="{paper_id}"]')
    assert card.locator(".count").inner_text() == "76"  # 75 + the vote
    assert card.locator("form.upvote").get_attribute("class") == "upvote voted"
    top = card.evaluate("element => element.getBoundingClientRect().top")
    assert 0 <= top < page.viewport_size["height"]  # back at that card, not the top of the list
    assert store.get_paper(paper_id).upvotes == 76


def test_subscribe_confirm_change_interests_unsubscribe_and_delete(page, site, sink: SmtpSink) -> None:
    base_url, store = site
    page.goto(f"{base_url}/subscribe")
    page.fill("input[name=email]", "reader@example.org")
    page.fill("textarea[name=topics]", "theory of mind")
    page.click("button:has-text('Subscribe')")
    page.get_by_role("heading", name="Check your inbox").wait_for()
    page.goto(mailed_link(sink, "reader@example.org", r"http://\S+/subscribe/confirm/\S+"))
    page.click("button:has-text('Confirm my subscription')")
    page.get_by_role("heading", name="You are subscribed").wait_for()
    page.reload()  # a reload shows the state; it neither re-posts nor asks to confirm again
    assert page.locator("button:has-text('Confirm my subscription')").count() == 0

    page.click("a:has-text('Choose your interests')")
    page.fill("input[name=categories]", "robotics")
    page.click("button:has-text('Save preferences')")
    assert "did you mean cs.RO (Robotics)?" in page.locator(".form-error").inner_text()
    page.fill("input[name=categories]", "cs.ro")
    page.click("button:has-text('Save preferences')")
    page.get_by_text("Saved.").wait_for()
    assert page.input_value("input[name=categories]") == "cs.RO"
    preferences = page.url.split("?")[0]

    page.click("button:has-text('Unsubscribe')")
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    assert store.list_subscribers()[0]["status"] == "unsubscribed"

    page.goto(preferences)
    page.click("a:has-text('Delete my data')")
    page.get_by_role("heading", name="Delete your data?").wait_for()
    assert len(store.list_subscribers()) == 1  # asking deletes nothing
    page.click("a:has-text('No, keep it')")
    page.wait_for_url(preferences)
    page.click("a:has-text('Delete my data')")
    page.click("button:has-text('Yes, delete everything')")
    page.get_by_role("heading", name="Your data is deleted").wait_for()
    assert store.list_subscribers() == []


def test_the_skip_link_goes_past_the_header(page, site) -> None:
    base_url, _ = site
    page.goto(f"{base_url}/papers?date={DAY}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")  # the first stop is in the content


# ---- screenshots ---------------------------------------------------------------------------------


def save_small_png(png: bytes, path: Path) -> None:
    """Chromium's PNG, reduced to a 128-colour palette (flat UI colours and anti-aliased text survive it)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)


def test_screenshots_of_the_main_pages(chromium, tmp_path: Path, sink: SmtpSink) -> None:
    folder = Path(os.environ.get("PAPERWIRE_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=tmp_path / "home", secret_key="test-secret-key-long-enough-for-paperwire", smtp_url=sink.url, embedder="none",
                        mail_rate=0)  # fmt: skip
    store = open_store(settings.effective_database_url)
    load_sample(store, with_vectors=False)
    shots = {
        "screenshot-daily.png": ("desktop", "light", "/", False),
        "screenshot-daily-dark.png": ("desktop", "dark", "/", False),
        "screenshot-paper.png": ("desktop", "light", "/papers/2512.22096", False),
        "screenshot-phone-daily.png": ("phone", "light", "/", True),
        "screenshot-phone-subscribe.png": ("phone", "dark", "/subscribe", True),
    }
    try:
        with serve_app(create_app(settings, store=store)) as base_url:
            settings.base_url = base_url
            for name, (size, scheme, path, signed_in) in shots.items():
                context = chromium.new_context(bypass_csp=True, viewport=VIEWPORTS[size], color_scheme=scheme)
                tab = context.new_page()
                if signed_in:
                    sign_in(tab, base_url, sink, "ada@example.org", "Ada Lovelace")
                tab.goto(base_url + path)
                if signed_in:  # the phone header fits in two rows when signed in: brand + account, then search
                    header = tab.locator(".header-row").bounding_box()["height"]
                    assert header < 110, header
                save_small_png(tab.screenshot(), folder / name)
                context.close()
                assert (folder / name).stat().st_size < SCREENSHOT_LIMIT, name
    finally:
        store.close()


def test_back_after_signing_out_shows_the_signed_out_page(page, site, sink: SmtpSink) -> None:
    base_url, _ = site
    sign_in(page, base_url, sink, "ada@example.org", "Ada Lovelace")
    page.goto(f"{base_url}/papers?date={DAY}")
    assert page.locator("form.logout").count() == 1
    page.click("form.logout button")
    page.wait_for_url(f"{base_url}/")
    page.go_back()  # personal pages are no-store: the browser asks again instead of showing its copy
    page.wait_for_url(f"{base_url}/papers?date={DAY}")
    assert page.locator("form.logout").count() == 0
    assert page.get_by_role("link", name="Sign in").count() == 1
