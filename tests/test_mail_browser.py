"""In a real browser: fill the subscribe form, open the mailed confirmation link, change preferences,
unsubscribe with the page's button."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from browser_support import serve_app
from mail_support import SmtpSink
from paperwire.app import create_app
from paperwire.mail.compose import run_digest
from paperwire.settings import Settings
from paperwire.storage import open_store
from test_mail_delivery import DAY, FAST, sample_papers

pytestmark = pytest.mark.browser


def test_subscribe_confirm_preferences_unsubscribe(browser_page, tmp_path: Path) -> None:
    sink = SmtpSink().start()
    settings = Settings(
        home=tmp_path / "home",
        secret_key="test-secret-key-0123456789abcdefghijklmnop",
        smtp_url=sink.url,
        embedder="none",
        mail_rate=0,
    )
    store = open_store(settings.effective_database_url)
    store.upsert_papers(sample_papers())
    try:
        with serve_app(create_app(settings, store=store)) as base_url:
            settings.base_url = base_url  # links in mail point at this server
            page = browser_page
            page.goto(f"{base_url}/subscribe")
            page.fill("input[name=email]", "reader@example.org")
            page.check("input[name=cadence][value=weekly]")
            page.fill("textarea[name=topics]", "theory of mind")
            page.click("button[type=submit]:has-text('Subscribe')")
            page.wait_for_selector("h1:has-text('Check your inbox')")

            [mail] = sink.wait_for("reader@example.org")
            link = re.search(r"http://\S+/subscribe/confirm/\S+", mail.get_body(("plain",)).get_content()).group(0)
            page.goto(link)
            page.click("button:has-text('Confirm my subscription')")
            page.wait_for_selector("h1:has-text('You are subscribed')")
            page.click("a:has-text('Choose your interests')")
            page.check("input[name=cadence][value=daily]")
            page.fill("input[name=categories]", "cs.CL")
            page.click("button:has-text('Save preferences')")
            page.wait_for_selector("text=Saved.")
            row = store.list_subscribers()[0]
            assert (row["status"], row["cadence"]) == ("confirmed", "daily") and "cs.CL" in row["interests"]

            run_digest(store, settings, "daily", DAY, policy=FAST)
            digest = sink.messages_to("reader@example.org")[1]
            page.goto(digest["List-Unsubscribe"].strip("<>"))
            page.click("button:has-text('Unsubscribe')")
            page.wait_for_selector("h1:has-text('You are unsubscribed')")
            assert store.list_subscribers()[0]["status"] == "unsubscribed"
    finally:
        store.close()
        sink.stop()
