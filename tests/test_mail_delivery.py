"""Digests and delivery against a real SMTP server: headers, both parts, retries, bounces, outages."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from mail_support import SmtpSink, free_port
from paperwire.mail.compose import run_digest
from paperwire.mail.outbox import DeliveryPolicy, OutboxSender, enqueue_transactional, send_outbox
from paperwire.mail.subscribers import import_subscribers
from paperwire.mail.transport import SmtpTransport, TransportUnavailable
from paperwire.models import Paper
from paperwire.settings import Settings
from paperwire.storage import Store, open_store

DAY = date(2025, 6, 10)
FAST = DeliveryPolicy(retry_base_seconds=0, rate_per_second=0)


def sample_papers(day: date = DAY, count: int = 6) -> list[Paper]:
    topics = ["theory of mind in large language models", "diffusion models for video", "graph neural networks",
              "reinforcement learning from human feedback", "protein folding", "speech recognition"]  # fmt: skip
    return [
        Paper(
            id=f"2506.{day.day:02d}{i:03d}",
            title=f"Paper {i} on {topics[i % len(topics)]} <b>&</b>",
            abstract=f"We study {topics[i % len(topics)]}. Results with $x<y$ & more." * 3,
            authors=("Ada Lovelace", f"Author {i}"),
            categories=("cs.CL" if i % 2 else "cs.LG",),
            listed_on=day.isoformat(),
            upvotes=100 - i,
        )
        for i in range(count)
    ]


@pytest.fixture
def mail_settings(tmp_path: Path, sink: SmtpSink, database_url: str) -> Settings:
    # `database_url` (conftest): each test runs on SQLite and on a throw-away PostgreSQL.
    return Settings(home=tmp_path / "home", base_url="http://testserver", secret_key="test-secret-key-0123456789abcdefghijklmnop",
                    smtp_url=sink.url, embedder="none", mail_rate=0, database_url=database_url)  # fmt: skip


@pytest.fixture
def mail_store(mail_settings: Settings) -> Store:
    store = open_store(mail_settings.effective_database_url)
    store.upsert_papers(sample_papers())
    yield store
    store.close()


def add_confirmed(store: Store, *lines: str) -> None:
    import io

    import_subscribers(store, io.StringIO("email,cadence,topics\n" + "\n".join(lines) + "\n"), confirmed=True)


def test_digest_arrives_with_headers_parts_and_links(
    mail_store: Store, mail_settings: Settings, sink: SmtpSink
) -> None:
    add_confirmed(mail_store, "reader@example.org,daily,theory of mind")
    report = run_digest(mail_store, mail_settings, "daily", DAY, policy=FAST)
    assert report.compose.composed == 1 and report.send.sent == 1
    [message] = sink.messages_to("reader@example.org")
    assert message["Message-ID"].startswith("<") and message["Date"]
    assert message["List-Id"] == "paperwire daily digest <daily.digest.testserver>"
    unsubscribe = re.fullmatch(r"<(http://testserver/unsubscribe/[^>]+)>", message["List-Unsubscribe"])
    assert unsubscribe
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "http://testserver/papers/2506.10000" in text
    assert 'href="http://testserver/papers/2506.10000"' in html
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in html and "<b>&</b>" not in html  # titles escaped in HTML
    assert "Paper 0 on theory of mind in large language models <b>&</b>" in text  # and plain in text
    assert "matches your topic ‘theory of mind’" in text
    assert unsubscribe.group(1) in html and unsubscribe.group(1) in text
    assert "$x" in text


def test_exactly_one_digest_per_period_and_no_paper_twice(
    mail_store: Store, mail_settings: Settings, sink: SmtpSink
) -> None:
    add_confirmed(mail_store, "a@example.org,daily,")
    run_digest(mail_store, mail_settings, "daily", DAY, policy=FAST)
    again = run_digest(mail_store, mail_settings, "daily", DAY, policy=FAST)
    assert again.compose.composed == 0 and again.compose.already == 1
    assert len(sink.messages_to("a@example.org")) == 1
    # The next day lists a paper already sent (same id) plus a new one: only the new one goes out.
    next_day = date(2025, 6, 11)
    mail_store.upsert_papers([Paper(id="2506.11999", title="A new paper", listed_on=next_day.isoformat(), upvotes=5)])
    run_digest(mail_store, mail_settings, "daily", next_day, policy=FAST)
    second = sink.messages_to("a@example.org")[1].get_body(("plain",)).get_content()
    assert "A new paper" in second and "Paper 0 on" not in second


def test_empty_period_sends_nothing_and_says_so(
    mail_store: Store, mail_settings: Settings, sink: SmtpSink, caplog
) -> None:
    add_confirmed(mail_store, "a@example.org,daily,")
    with caplog.at_level("INFO", logger="paperwire.mail"):
        report = run_digest(mail_store, mail_settings, "daily", date(2025, 6, 14), policy=FAST)
    assert report.status == "empty" and sink.count == 0
    assert "nothing sent" in caplog.text
    assert mail_store.recent_job_runs(1)[0]["status"] == "empty"


def test_temporary_failures_are_retried_then_delivered(
    mail_store: Store, mail_settings: Settings, sink: SmtpSink
) -> None:
    add_confirmed(mail_store, "slow@example.org,daily,")
    sink.fail("slow@example.org", "451 4.3.0 try later", "451 4.3.0 try later")
    report = run_digest(mail_store, mail_settings, "daily", DAY, policy=FAST)  # no backoff: retried at once
    assert (report.send.retried, report.send.sent) == (2, 1)
    assert sink.handler.rcpt_attempts["slow@example.org"] == 3
    assert len(sink.messages_to("slow@example.org")) == 1
    assert mail_store.outbox_counts(kind="digest") == {"sent": 1}


def test_backoff_waits_before_the_next_attempt(mail_store: Store, mail_settings: Settings, sink: SmtpSink) -> None:
    add_confirmed(mail_store, "slow@example.org,daily,")
    sink.fail("slow@example.org", "451 4.3.0 try later")
    run_digest(mail_store, mail_settings, "daily", DAY, policy=DeliveryPolicy(rate_per_second=0))
    assert send_outbox(mail_store, mail_settings).sent == 0  # the retry is due in a minute, not now
    [row] = mail_store.outbox_rows(recipient="slow@example.org")
    assert row["status"] == "queued" and row["attempts"] == 1 and "451" in row["last_error"]


def test_permanent_failure_stops_and_marks_after_threshold(
    mail_store: Store, mail_settings: Settings, sink: SmtpSink
) -> None:
    add_confirmed(mail_store, "gone@example.org,daily,")
    sink.always_fail("gone@example.org", "550 5.1.1 no such user")
    report = run_digest(mail_store, mail_settings, "daily", DAY, policy=FAST)
    assert report.send.failed == 1
    assert send_outbox(mail_store, mail_settings, policy=FAST).sent == 0
    assert sink.handler.rcpt_attempts["gone@example.org"] == 1  # no more attempts
    [row] = mail_store.outbox_rows(recipient="gone@example.org")
    assert row["status"] == "failed" and "550" in row["last_error"]
    subscriber = mail_store.list_subscribers()[0]
    assert subscriber["status"] == "confirmed" and subscriber["bounce_count"] == 1
    mail_store.upsert_papers(sample_papers(date(2025, 6, 11), 2))
    run_digest(mail_store, mail_settings, "daily", date(2025, 6, 11), policy=FAST)
    assert mail_store.list_subscribers()[0]["status"] == "bouncing"  # threshold: 2 permanent failures
    mail_store.upsert_papers(sample_papers(date(2025, 6, 12), 2))
    third = run_digest(mail_store, mail_settings, "daily", date(2025, 6, 12), policy=FAST)
    assert third.compose.subscribers == 0 and sink.handler.rcpt_attempts["gone@example.org"] == 2


def test_unreachable_server_fails_clearly_and_keeps_the_mail(mail_store: Store, mail_settings: Settings) -> None:
    settings = mail_settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{free_port()}"})
    add_confirmed(mail_store, "a@example.org,daily,")
    with pytest.raises(TransportUnavailable, match="cannot reach the mail server smtp://127.0.0.1"):
        run_digest(mail_store, settings, "daily", DAY, policy=FAST)
    assert mail_store.outbox_counts(kind="digest") == {"queued": 1}
    run = mail_store.recent_job_runs(1)[0]
    assert run["status"] == "failed" and "cannot reach" in run["summary"]


def test_starttls_is_never_skipped(sink: SmtpSink) -> None:
    transport = SmtpTransport(f"smtp+starttls://user:secret@127.0.0.1:{sink.port}")
    with pytest.raises(TransportUnavailable, match="does not offer STARTTLS") as error:
        transport.send("a@b.c", "x@example.org", b"Subject: x\r\n\r\nx\r\n", lambda: True)
    assert "secret" not in str(error.value)
    assert sink.count == 0


def test_transactional_mail_and_maildir_without_smtp(tmp_path: Path) -> None:
    import email
    import email.policy

    settings = Settings(
        home=tmp_path / "home", base_url="http://testserver", secret_key="test-secret-key-0123456789abcdefghijklmnop"
    )
    store = open_store(settings.effective_database_url)
    try:
        enqueue_transactional(store, settings, "a@example.org", "Sign in — ünïcode", "Open http://x/y\n", None)
        assert send_outbox(store, settings, policy=FAST).sent == 1
        [path] = list((settings.home / "maildir" / "new").iterdir())
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["Subject"] == "Sign in — ünïcode" and message["To"] == "a@example.org"
        assert message.get_content().strip() == "Open http://x/y"
    finally:
        store.close()


def test_a_lost_lease_never_sends(mail_store: Store, mail_settings: Settings, sink: SmtpSink) -> None:
    enqueue_transactional(mail_store, mail_settings, "a@example.org", "hi", "text", None)
    first = OutboxSender(mail_store, mail_settings, policy=DeliveryPolicy(lease_seconds=-1, rate_per_second=0))
    [row] = mail_store.claim_outbox_batch(first.worker, limit=5, now="9999", lease_until="0000")  # expired lease
    second = OutboxSender(mail_store, mail_settings, policy=FAST)
    assert second.send_due().sent == 1  # takes over the expired lease
    first._deliver(row, report := __import__("paperwire.mail.outbox", fromlist=["SendReport"]).SendReport())
    assert report.lost == 1 and len(sink.messages_to("a@example.org")) == 1
    first.close()
    second.close()


def test_scheduler_jobs_send_digests_and_retries(mail_store: Store, mail_settings: Settings, sink: SmtpSink) -> None:
    from paperwire.jobs import JOBS
    from paperwire.mail.compose import run_scheduled_digests
    from paperwire.mail.outbox import send_outbox_job

    assert {"digests", "outbox"} <= set(JOBS)
    add_confirmed(mail_store, "a@example.org,daily,", "w@example.org,weekly,")
    result = run_scheduled_digests(mail_settings, mail_store, today=date(2025, 6, 11))  # a Wednesday
    assert result.status == "ok" and "daily 2025-06-10" in result.summary and "weekly" not in result.summary
    assert [len(sink.messages_to(a)) for a in ("a@example.org", "w@example.org")] == [1, 0]
    monday = run_scheduled_digests(mail_settings, mail_store, today=date(2025, 6, 16))
    assert "weekly 2025-W24" in monday.summary and len(sink.messages_to("w@example.org")) == 1
    assert send_outbox_job(mail_settings, mail_store) == ""  # idle: nothing to record
