"""The whole life of a subscriber through the web and a real SMTP server, and the subscription API."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mail_support import SmtpSink
from paperwire.app import create_app
from paperwire.mail.compose import run_digest
from paperwire.settings import Settings
from paperwire.storage import Store, open_store
from test_mail_delivery import DAY, FAST, sample_papers


@pytest.fixture
def web(tmp_path: Path, sink: SmtpSink, database_url: str):
    settings = Settings(home=tmp_path / "home", base_url="http://testserver", secret_key="test-secret-key-0123456789abcdefghijklmnop",
                        smtp_url=sink.url, embedder="none", mail_rate=0, database_url=database_url)  # fmt: skip
    store = open_store(settings.effective_database_url)
    store.upsert_papers(sample_papers())
    with TestClient(create_app(settings, store=store)) as client:
        yield client, store, settings
    store.close()


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def link_in(message, pattern: str) -> str:
    return re.search(pattern, message.get_body(("plain",)).get_content()).group(0)


def test_whole_life(web, sink: SmtpSink) -> None:
    client, store, settings = web
    page = client.get("/subscribe")
    assert page.status_code == 200 and 'action="/subscribe"' in page.text
    answer = client.post("/subscribe", data={
        "email": "Reader@Example.org", "cadence": "daily", "topics": "theory of mind\n", "categories": "cs.CL",
        "csrf_token": csrf_from(page.text)})  # fmt: skip
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    # Nothing but the confirmation is sent before confirming: a digest run finds no subscriber.
    assert run_digest(store, settings, "daily", DAY, policy=FAST).compose.subscribers == 0
    [confirmation] = sink.wait_for("Reader@example.org")
    assert confirmation["Subject"] == "Confirm your paperwire subscription"
    confirm_url = link_in(confirmation, r"http://testserver/subscribe/confirm/\S+")
    assert confirm_url in confirmation.get_body(("html",)).get_content()
    path = confirm_url.removeprefix("http://testserver")
    shown = client.get(path)
    assert shown.status_code == 200 and "Confirm my subscription" in shown.text
    assert store.list_subscribers()[0]["status"] == "pending"  # a GET changes nothing
    confirmed = client.post(path)
    assert "You are subscribed" in confirmed.text
    subscriber = store.list_subscribers()[0]
    assert subscriber["status"] == "confirmed" and subscriber["consent_source"] == "double-opt-in"
    assert subscriber["consent_at"]

    run_digest(store, settings, "daily", DAY, policy=FAST)
    digest = sink.messages_to("Reader@example.org")[1]
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        "in your category cs.CL" in digest.get_body(("plain",)).get_content()
        or "matches your topic" in digest.get_body(("plain",)).get_content()
    )
    unsubscribe_url = digest["List-Unsubscribe"].strip("<>")
    # RFC 8058: the mail client POSTs the body below, without cookies or CSRF token.
    one_click = TestClient(client.app).post(unsubscribe_url.removeprefix("http://testserver"),
                                            data={"List-Unsubscribe": "One-Click"})  # fmt: skip
    assert one_click.status_code == 200 and "You are unsubscribed" in one_click.text
    assert store.list_subscribers()[0]["status"] == "unsubscribed"
    store.upsert_papers(sample_papers(date(2025, 6, 11), 3))
    run_digest(store, settings, "daily", date(2025, 6, 11), policy=FAST)
    assert len(sink.messages_to("Reader@example.org")) == 2  # no further digest


def test_api_answers_the_same_for_new_and_known(web, sink: SmtpSink) -> None:
    client, store, _ = web
    body = {"email": "a@example.org", "cadence": "weekly", "topics": ["theory of mind"], "categories": ["cs.CL"],
            "authors": [], "keywords": [], "max_papers": 10}  # fmt: skip
    first = client.post("/api/subscriptions", json=body)
    second = client.post("/api/subscriptions", json=body)
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    sink.wait_for("a@example.org")
    assert len(store.list_subscribers()) == 1
    assert client.post("/api/subscriptions", json={**body, "email": "not an address"}).status_code == 422
    assert client.post("/api/subscriptions", json={**body, "cadence": "hourly"}).status_code == 422


def test_subscribe_is_rate_limited_per_ip(web) -> None:
    client, _, _ = web
    codes = [client.post("/api/subscriptions", json={"email": f"u{i}@example.org"}).status_code for i in range(22)]
    assert codes[:20] == [202] * 20 and codes[-1] == 429


def test_form_needs_csrf(web) -> None:
    client, store, _ = web
    assert client.post("/subscribe", data={"email": "a@example.org"}).status_code == 403
    assert store.list_subscribers() == []


def confirmed_subscriber(client: TestClient, store: Store, sink: SmtpSink, address: str = "a@example.org") -> str:
    client.post("/api/subscriptions", json={"email": address, "topics": ["graphs"]})
    [mail] = sink.wait_for(address)
    path = link_in(mail, r"http://testserver/subscribe/confirm/\S+").removeprefix("http://testserver")
    page = client.post(path)
    return re.search(r'href="(/preferences/[^"]+)"', page.text).group(1)


def test_preferences_export_and_delete(web, sink: SmtpSink) -> None:
    client, store, _ = web
    preferences = confirmed_subscriber(client, store, sink)
    page = client.get(preferences)
    assert page.status_code == 200 and "graphs" in page.text
    saved = client.post(preferences, data={"cadence": "weekly", "topics": "protein folding", "categories": "q-bio.BM",
                                           "authors": "", "keywords": "", "max_papers": "5",
                                           "csrf_token": csrf_from(page.text)})  # fmt: skip
    assert saved.status_code == 200 and "Saved" in saved.text
    row = store.list_subscribers()[0]
    assert row["cadence"] == "weekly" and row["max_papers"] == 5 and "protein folding" in row["interests"]
    exported = client.get(f"{preferences}/export.json").json()
    assert exported["email"] == "a@example.org" and exported["interests"]["categories"] == ["q-bio.BM"]
    assert exported["consent_source"] == "double-opt-in" and exported["mails"]
    deleted = client.post(f"{preferences}/delete", data={"csrf_token": csrf_from(page.text)})
    assert "deleted" in deleted.text and store.list_subscribers() == []
    assert client.get(preferences).status_code == 400  # old links stop working


def test_tokens_are_single_purpose_and_unguessable(web, sink: SmtpSink) -> None:
    client, _, _ = web
    preferences = confirmed_subscriber(client, web[1], sink)
    token = preferences.rsplit("/", 1)[1]
    assert client.get(f"/unsubscribe/{token}").status_code == 400
    assert client.post(f"/unsubscribe/{token}").status_code == 400
    assert client.get(f"/preferences/{token[:-2]}xx").status_code == 400
    assert client.get("/unsubscribe/garbage").status_code == 400


def test_unsubscribe_page_has_a_button_and_get_changes_nothing(web, sink: SmtpSink) -> None:
    client, store, settings = web
    confirmed_subscriber(client, store, sink)
    run_digest(store, settings, "daily", DAY, policy=FAST)
    url = sink.messages_to("a@example.org")[1]["List-Unsubscribe"].strip("<>").removeprefix("http://testserver")
    page = client.get(url)
    assert page.status_code == 200 and f'action="{url}"' in page.text
    assert store.list_subscribers()[0]["status"] == "confirmed"
