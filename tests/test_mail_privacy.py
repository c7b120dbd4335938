"""Mail privacy and abuse limits (issue 13 item 5): link tokens are never left in the outbox once a mail
is sent (digest links are made at send time, one-off mails are scrubbed), and at most
PAPERWIRE_MAIL_CAP_PER_ADDRESS mails (of any kind but digests) go to one address per hour."""

from __future__ import annotations

import email
import email.policy
import io
import re
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from paperwire.mail.compose import run_digest
from paperwire.mail.outbox import DeliveryPolicy, OutboxSender, enqueue_transactional
from paperwire.mail.subscribers import import_subscribers
from paperwire.settings import Settings
from paperwire.storage import Store
from test_mail_delivery import DAY, sample_papers
from test_social import csrf, sign_in

KEY = "test-secret-key-0123456789abcdefghijklmnop"
FAST = DeliveryPolicy(retry_base_seconds=0, rate_per_second=0)


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database_url = request.getfixturevalue("database_url") if "database_url" in request.fixturenames else ""
    return Settings(home=tmp_path / "home", base_url="http://testserver", secret_key=KEY, database_url=database_url,
                    embedder="none", mail_rate=0)  # fmt: skip


def mails_to(settings: Settings, address: str) -> list[EmailMessage]:
    folder = settings.home / "maildir" / "new"
    found = []
    for path in sorted(folder.glob("*")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            found.append(message)
    return found


def wait_until_idle(store: Store) -> None:
    deadline = time.monotonic() + 10
    while store.outbox_counts(kind="transactional").get("queued") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the sender scrubs right after it records the send


def tokens_in(message: EmailMessage) -> list[str]:
    return re.findall(r"http://testserver/\S+/([A-Za-z0-9_.\-]{20,})", message.get_body(("plain",)).get_content())


def test_sent_mail_keeps_no_link_token_in_the_outbox(client, settings: Settings, store: Store) -> None:
    token = csrf(client)  # signed out: a signed-in reader's subscribe uses the account's proven address
    client.post("/subscribe", data={"email": "sub@example.org", "cadence": "daily", "csrf_token": token})
    sign_in(client, settings, "reader@example.org")
    wait_until_idle(store)
    [sign_in_mail] = mails_to(settings, "reader@example.org")
    [confirmation] = mails_to(settings, "sub@example.org")
    secrets = tokens_in(sign_in_mail) + tokens_in(confirmation)
    assert len(secrets) == 2
    payloads = " ".join(row["payload"] for row in store.outbox_rows())
    for secret in secrets:
        assert secret not in payloads
    assert "link removed from the outbox once sent" in payloads


def test_digests_make_their_links_when_sent(settings: Settings, store: Store) -> None:
    store.upsert_papers(sample_papers())
    import_subscribers(store, io.StringIO("email,cadence,topics\nd@example.org,daily,\n"), confirmed=True)
    run_digest(store, settings, "daily", DAY, send=False)
    [queued] = store.outbox_rows(recipient="d@example.org")
    assert "unsubscribe" not in queued["payload"] and "preferences" not in queued["payload"]
    run_digest(store, settings, "daily", DAY, policy=FAST)
    [digest] = mails_to(settings, "d@example.org")
    assert digest["List-Unsubscribe"].startswith("<http://testserver/unsubscribe/")
    assert len(tokens_in(digest)) == 2
    assert all(secret not in store.outbox_rows(recipient="d@example.org")[0]["payload"] for secret in tokens_in(digest))


def test_a_sender_that_died_before_scrubbing_is_scrubbed_after(settings: Settings, store: Store) -> None:
    assert enqueue_transactional(store, settings, "x@example.org", "Sign in", "open http://testserver/login/SECRET123",
                                 secrets=["SECRET123"])  # fmt: skip
    [row] = store.claim_outbox_batch("dead", limit=1, now="9999", lease_until="9999-12-31T00:00:00.000000Z")
    assert store.mark_outbox_sent(row["id"], "dead")  # recorded as sent, then the process died
    assert "SECRET123" in store.outbox_rows()[0]["payload"]
    sender = OutboxSender(store, settings, policy=FAST)
    try:
        sender.send_due()
    finally:
        sender.close()
    assert "SECRET123" not in store.outbox_rows()[0]["payload"]


def test_at_most_three_mails_per_address_per_hour_across_kinds(client, settings: Settings, store: Store) -> None:
    token = csrf(client)
    for _ in range(3):
        assert client.post("/login", data={"email": "target@example.org", "csrf_token": token}).status_code == 200
    answer = client.post("/subscribe", data={"email": "target@example.org", "cadence": "daily", "csrf_token": token})
    assert answer.status_code == 200 and "Check your inbox" in answer.text  # the same answer as below the cap
    fourth = client.post("/login", data={"email": "Target@Example.org", "csrf_token": token})
    assert fourth.status_code == 200
    wait_until_idle(store)
    received = mails_to(settings, "target@example.org")
    assert len(received) == 3 and all(message["Subject"].startswith("Sign in") for message in received)
    # Digests are not capped: a confirmed subscriber gets theirs.
    store.upsert_papers(sample_papers())
    subscriber = store.find_subscriber("target@example.org")
    store.update_subscriber(subscriber["id"], status="confirmed")
    run_digest(store, settings, "daily", DAY, policy=FAST)
    assert len(mails_to(settings, "target@example.org")) == 4


def test_the_cap_is_a_setting(settings: Settings, store: Store) -> None:
    capped = settings.model_copy(update={"mail_cap_per_address": 1})
    assert enqueue_transactional(store, capped, "one@example.org", "a", "a")
    assert not enqueue_transactional(store, capped, "one@example.org", "b", "b")
    assert enqueue_transactional(store, capped, "two@example.org", "c", "c")
    uncapped = settings.model_copy(update={"mail_cap_per_address": 0})
    assert all(enqueue_transactional(store, uncapped, "one@example.org", "d", "d") for _ in range(5))
