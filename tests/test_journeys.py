"""The journeys of issue 14 through the web layer (real SMTP through aiosmtpd, both database backends):
corrected subscriptions, arXiv categories, accounts and subscriptions as one, 303 after POSTs, no-store
on personal pages, the home page's day, offline /docs, LaTeX read as text, comment links, pagers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mail_support import SmtpSink
from paperwire.app import create_app
from paperwire.models import Paper
from paperwire.settings import Settings
from paperwire.storage import Store, open_store

DAY = "2025-06-10"


@pytest.fixture
def web(tmp_path: Path, sink: SmtpSink, database_url: str) -> Iterator[tuple[TestClient, Store]]:
    settings = Settings(home=tmp_path / "home", base_url="http://testserver", secret_key="test-secret-key-long-enough-for-paperwire",
                        smtp_url=sink.url, embedder="none", mail_rate=0, database_url=database_url)  # fmt: skip
    store = open_store(settings.effective_database_url)
    store.upsert_papers([
        Paper(id="2506.00001", title="C$^2$DLM: \\textit{cheap} diffusion", abstract="We cut cost by 5% with $O(n^2)$ work.",
              authors=("Ada Lovelace",), listed_on=DAY, upvotes=1, comments=2, listed_from="hf"),
        Paper(id="2506.00002", title="Plain title", abstract="Plain.", authors=("Alan Turing",), listed_on=DAY, upvotes=5),
    ])  # fmt: skip
    with TestClient(create_app(settings, store=store)) as client:
        yield client, store
    store.close()


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def plain_body(message) -> str:  # an EmailMessage
    return message.get_body(("plain",)).get_content()


def confirm_link(message) -> str:
    return re.search(r"http://testserver(/subscribe/confirm/\S+)", plain_body(message)).group(1)


def subscribe(client: TestClient, **fields: str) -> object:
    token = csrf_from(client.get("/subscribe").text)
    data = {"cadence": "daily", "topics": "", "categories": "", "authors": "", "keywords": "", "max_papers": "10"}
    return client.post("/subscribe", data={**data, **fields, "csrf_token": token}, follow_redirects=False)


def sign_in(client: TestClient, sink: SmtpSink, address: str, *, name: str = "", next_path: str = "/",
            vote: str = "") -> object:  # fmt: skip
    token = csrf_from(client.get("/login").text)
    mailbox = address.lower()  # sign-in mail goes to the case-folded address
    seen = len(sink.messages_to(mailbox))
    asked = client.post("/login", data={"email": address, "next": next_path, "vote": vote, "csrf_token": token})
    assert asked.status_code == 200
    mail = sink.wait_for(mailbox, seen + 1)[-1]
    link = re.search(r"http://testserver(/login/\S+)", plain_body(mail)).group(1)
    page = client.get(link)
    assert page.status_code == 200
    return client.post(link, data={"csrf_token": csrf_from(page.text), "name": name, "next": next_path, "vote": vote},
                       follow_redirects=False)  # fmt: skip


# ---- subscriptions ------------------------------------------------------------------------------


def test_resubmitting_a_pending_subscription_corrects_it_and_resends_the_confirmation(web, sink: SmtpSink) -> None:
    client, store = web
    assert subscribe(client, email="reader@example.org", categories="cs.CL", topics="graphs").status_code == 303
    [first] = sink.wait_for("reader@example.org")
    corrected = subscribe(client, email="Reader@example.org", categories="cs.ro, CS.lg", topics="robot grasping")
    assert corrected.status_code == 303 and corrected.headers["location"] == "/subscribe/sent"
    second = sink.wait_for("reader@example.org", 2)[1]
    [row] = store.list_subscribers()
    assert row["status"] == "pending" and "robot grasping" in row["interests"] and "graphs" not in row["interests"]
    assert '"categories":["cs.RO","cs.LG"]' in row["interests"]
    assert first["Subject"] == second["Subject"] == "Confirm your paperwire subscription"
    # the same request again within minutes sends nothing more
    subscribe(client, email="reader@example.org", categories="cs.RO, cs.LG", topics="robot grasping")
    assert len(sink.messages_to("reader@example.org")) == 2
    client.post(confirm_link(second))  # the new link confirms the corrected subscription
    [row] = store.list_subscribers()
    assert row["status"] == "confirmed" and "robot grasping" in row["interests"]


def test_unknown_categories_are_refused_with_the_codes_that_fit(web) -> None:
    client, store = web
    refused = subscribe(client, email="reader@example.org", categories="robotics")
    assert refused.status_code == 422
    assert "&#39;robotics&#39; is not an arXiv category; did you mean cs.RO (Robotics)?" in refused.text
    assert store.list_subscribers() == []
    api = client.post("/api/subscriptions", json={"email": "reader@example.org", "categories": ["cs.XY"]})
    assert api.status_code == 422 and "not an arXiv category" in api.json()["detail"]


def test_confirm_preferences_unsubscribe_and_delete_answer_with_redirects(web, sink: SmtpSink) -> None:
    client, store = web
    subscribe(client, email="reader@example.org")
    path = confirm_link(sink.wait_for("reader@example.org")[0])
    assert "Confirm my subscription" in client.get(path).text
    confirmed = client.post(path, follow_redirects=False)
    assert confirmed.status_code == 303 and confirmed.headers["location"] == path
    again = client.get(path).text  # reload: a confirmed address is told so, and never asked again
    assert "You are subscribed" in again and "Confirm my subscription" not in again
    preferences = re.search(r'href="(/preferences/[^"]+)"', again).group(1)
    page = client.get(preferences).text
    saved = client.post(preferences, data={"cadence": "weekly", "topics": "", "categories": "", "authors": "",
                                           "keywords": "", "max_papers": "5", "csrf_token": csrf_from(page)},
                        follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"] == f"{preferences}?saved=saved"
    assert "Saved." in client.get(saved.headers["location"]).text

    # "Delete my data" asks first: the link opens a question, and only its button deletes
    assert f'href="{preferences}/delete"' in page
    question = client.get(f"{preferences}/delete")
    assert "Delete your data?" in question.text and len(store.list_subscribers()) == 1
    # the preferences page can unsubscribe
    unsubscribe = re.search(r'<form method="post" action="(/unsubscribe/[^"]+)">', page).group(1)
    left = client.post(unsubscribe, follow_redirects=False)
    assert left.status_code == 303 and left.headers["location"] == unsubscribe
    assert "You are unsubscribed" in client.get(unsubscribe).text
    assert store.list_subscribers()[0]["status"] == "unsubscribed"
    deleted = client.post(f"{preferences}/delete", data={"csrf_token": csrf_from(question.text)},
                          follow_redirects=False)  # fmt: skip
    assert deleted.status_code == 303 and store.list_subscribers() == []


def test_a_signed_in_reader_subscribes_without_typing_the_address(web, sink: SmtpSink) -> None:
    client, store = web
    assert sign_in(client, sink, "Ada@Example.org", name="Ada Lovelace").status_code == 303
    form = client.get("/subscribe").text
    assert 'name="email"' not in form and "ada@example.org" in form
    answer = subscribe(client, categories="cs.LG")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/preferences/")
    [row] = store.list_subscribers()
    assert (row["status"], row["consent_source"]) == ("confirmed", "signed-in")  # the sign-in proved the address
    assert len(sink.messages_to("ada@example.org")) == 1  # the sign-in mail only: no confirmation to click
    assert "You are subscribed" in client.get(answer.headers["location"]).text
    # the account reaches the digest, and the subscribe page says where it goes instead of asking again
    account = client.get("/account/digest", follow_redirects=False)
    # the same subscriber's page (the signed token carries its time: two seconds apart, two spellings)
    assert (
        account.status_code == 303
        and account.headers["location"].split(".")[0] == answer.headers["location"].split(".")[0]
    )
    assert "ada@example.org" in client.get(account.headers["location"]).text
    assert "Manage your digest" in client.get("/subscribe").text


def test_an_address_subscribed_before_signing_up_is_the_accounts_digest(web, sink: SmtpSink) -> None:
    client, store = web
    subscribe(client, email="grace@example.org", topics="compilers")
    client.post(confirm_link(sink.wait_for("grace@example.org")[0]))
    sign_in(client, sink, "GRACE@example.org")
    preferences = client.get("/account/digest", follow_redirects=False).headers["location"]
    assert "compilers" in client.get(preferences).text


# ---- sign-in from an upvote ---------------------------------------------------------------------


def test_sign_in_from_an_upvote_casts_it_and_returns_to_the_card(web, sink: SmtpSink) -> None:
    client, store = web
    home = client.get(f"/papers?date={DAY}").text
    link = re.search(r'href="(/login\?[^"]*vote=2506.00002)"', home).group(1).replace("&amp;", "&")
    login = client.get(link).text
    assert 'name="vote" value="2506.00002"' in login and "Sign in to upvote" in login
    answer = sign_in(client, sink, "ada@example.org", name="Ada Lovelace", next_path=f"/papers?date={DAY}#paper-2506.00002",
                     vote="2506.00002")  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == f"/papers?date={DAY}#paper-2506.00002"
    assert store.get_paper("2506.00002").upvotes == 6
    assert client.get("/api/papers/2506.00002").json()["upvotes"] == 6
    page = client.get(f"/papers?date={DAY}").text
    assert re.search(r'class="user-name">Ada Lovelace<', page)  # the name as typed, space and all
    mail = sink.messages_to("ada@example.org")[0]
    html = mail.get_body(("html",)).get_content()
    assert "cast your upvote" in plain_body(mail) and "vote=2506.00002" in plain_body(mail)
    assert 'style="display:inline-block;padding:10px 16px;background-color:#1d4ed8' in html  # styled like the others


# ---- personal pages ---------------------------------------------------------------------------------


def test_personal_pages_are_never_stored_by_the_browser(web, sink: SmtpSink) -> None:
    client, _ = web
    assert "no-store" not in client.get(f"/papers?date={DAY}").headers.get("cache-control", "")
    for path in ("/login", "/subscribe"):
        assert client.get(path).headers["cache-control"] == "no-store", path
    sign_in(client, sink, "ada@example.org")
    for path in (f"/papers?date={DAY}", "/papers/2506.00001", "/papers/trending"):
        assert client.get(path).headers["cache-control"] == "no-store", path


# ---- pages ----------------------------------------------------------------------------------------


def test_the_home_page_opens_on_a_day_with_a_real_list(tmp_path: Path, database_url: str) -> None:
    settings = Settings(
        home=tmp_path / "home",
        secret_key="test-secret-key-long-enough-for-paperwire",
        embedder="none",
        database_url=database_url,
    )
    store = open_store(settings.effective_database_url)
    busy = [Paper(id=f"2506.{n:05d}", title=f"Busy {n}", listed_on="2025-06-09") for n in range(1, 21)]
    quiet = [Paper(id="2506.09999", title="A lone paper", listed_on="2025-06-11")]
    fair = [Paper(id=f"2506.1{n:04d}", title=f"Fair {n}", listed_on="2025-06-10") for n in range(1, 6)]
    store.upsert_papers(busy + quiet + fair)
    try:
        with TestClient(create_app(settings, store=store)) as client:
            home = client.get("/").text
            # 2025-06-11 has one paper (< a quarter of 20); 2025-06-10 has five (a quarter): the newest that counts
            assert "Tuesday, June 10, 2025" in home or "June 10, 2025" in home
            assert 'data-paper-id="2506.09999"' not in home and 'data-paper-id="2506.10001"' in home
    finally:
        store.close()


def test_cards_read_latex_count_in_words_and_link_comments(web) -> None:
    client, _ = web
    page = client.get(f"/papers?date={DAY}").text
    assert "C²DLM: cheap diffusion" in page and "$^2$" not in page and "\\textit" not in page
    assert "We cut cost by 5% with O(n²) work." in page
    assert re.search(r'<span class="count">1</span><span class="visually-hidden"> upvote</span>', page)
    assert '<span class="count">5</span><span class="visually-hidden"> upvotes</span>' in page
    assert (
        '<a href="https://huggingface.co/papers/2506.00001#community" rel="noopener"' in page
        and ">2 comments</a>" in page
    )
    paper = client.get("/papers/2506.00002").text  # no comments: no dead "0 comments"
    assert "comment" not in paper.split('<section class="similar"')[0].lower()
    assert "<title>C²DLM: cheap diffusion" in client.get("/papers/2506.00001").text


def test_week_tabs_keep_their_context_and_long_lists_can_jump(web) -> None:
    client, store = web
    week = client.get("/papers/week/2025-W24").text
    assert re.search(r'<a class="tab" href="/papers\?date=2025-06-10">Daily</a>', week)
    store.upsert_papers([Paper(id=f"2506.2{n:04d}", title=f"P {n}", listed_on="2025-06-12") for n in range(300)])
    page = client.get("/papers/month/2025-06?page=5").text
    numbers = re.findall(r'class="page-number[^"]*"[^>]*>(\d+)', page)
    assert numbers == ["1", "3", "4", "5", "6", "7", "11"] and page.count('class="gap"') == 2
    assert 'href="/papers/month/2025-06?page=11"' in page


def test_docs_work_offline(web) -> None:
    client, _ = web
    docs = client.get("/docs").text
    assert "cdn." not in docs and "https://" not in docs.split("<body>")[0]
    for asset in re.findall(r'(?:src|href)="(/static/swagger-ui/[^"]+)"', docs):
        assert client.get(asset).status_code == 200, asset
    assert "/static/swagger-ui/swagger-ui-bundle.js" in docs
