"""Outbox leases of dead senders are reclaimed at once (issue 13 item 7); live senders keep theirs; a
COMMIT that fails after the final dot is recorded as sent, never resent; TCP_CORK is optional."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from mail_support import SmtpSink
from paperwire.mail.compose import run_digest
from paperwire.mail.leases import process_is_gone, process_start
from paperwire.mail.outbox import DeliveryPolicy, OutboxSender
from paperwire.mail.subscribers import import_subscribers
from paperwire.settings import Settings
from paperwire.storage import Store, open_store
from test_mail_delivery import DAY, sample_papers

KEY = "test-secret-key-0123456789abcdefghijklmnop"
FAST = DeliveryPolicy(retry_base_seconds=0, rate_per_second=0, lease_seconds=600, batch_size=10)

# A sender that registers, leases one batch, says how many, then hangs (argv: HOME, SMTP URL, database URL).
HOLDER = """
import sys, time
from paperwire.mail.outbox import OutboxSender, DeliveryPolicy
from paperwire.mail.leases import register_sender
from paperwire.settings import Settings
from paperwire.storage import open_store
settings = Settings(home=sys.argv[1], smtp_url=sys.argv[2], database_url=sys.argv[3], embedder="none")
store = open_store(settings.effective_database_url, upgrade=False)
sender = OutboxSender(store, settings)
register_sender(store, sender.worker)
batch = store.claim_outbox_batch(sender.worker, limit=10, now="9999", lease_until="9999-12-31T00:00:00.000000Z")
print(len(batch), flush=True)
time.sleep(600)
"""


@pytest.fixture
def mail(tmp_path: Path, sink: SmtpSink, database_url: str) -> tuple[Settings, Store]:
    settings = Settings(home=tmp_path / "home", base_url="http://testserver", secret_key=KEY, smtp_url=sink.url,
                        embedder="none", database_url=database_url, mail_rate=0)  # fmt: skip
    store = open_store(settings.effective_database_url)
    store.upsert_papers(sample_papers())
    rows = "".join(f"user{i}@example.org,daily,\n" for i in range(25))
    import_subscribers(store, io.StringIO("email,cadence,topics\n" + rows), confirmed=True)
    run_digest(store, settings, "daily", DAY, send=False)
    yield settings, store
    store.close()


def start_holder(settings: Settings, sink: SmtpSink) -> tuple[subprocess.Popen, int]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(settings.home), sink.url, settings.database_url],
        env=environment, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    return process, int(process.stdout.readline())


def test_a_dead_senders_mail_is_reclaimed_at_once(mail, sink: SmtpSink) -> None:
    settings, store = mail
    process, leased = start_holder(settings, sink)
    assert leased == 10
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    sender = OutboxSender(store, settings, policy=FAST)
    try:
        report = sender.send_due()
    finally:
        sender.close()
    assert sum(report.recovered.values()) == 10
    assert "recovered 10 mails leased by 1 dead sender" in str(report)
    assert store.outbox_counts(kind="digest") == {"sent": 25}
    assert sink.count == 25


def test_a_live_senders_leases_are_left_alone(mail, sink: SmtpSink) -> None:
    settings, store = mail
    process, leased = start_holder(settings, sink)
    try:
        sender = OutboxSender(store, settings, policy=FAST)
        try:
            report = sender.send_due()
        finally:
            sender.close()
        assert report.recovered == {}
        assert store.outbox_counts(kind="digest") == {"sent": 15, "sending": 10}
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def test_a_reused_pid_is_not_the_holder() -> None:
    me = os.getpid()
    assert not process_is_gone(me, process_start(me))
    assert process_is_gone(me, "boot+1"), "same pid, another start time: the holder is gone"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_is_gone(child.pid, "")


@pytest.mark.postgres
def test_a_commit_that_fails_after_the_final_dot_is_recorded_and_never_resent(
    tmp_path: Path, sink: SmtpSink, postgres_cluster, postgres_template: str
) -> None:
    url = postgres_cluster.create_database(f"commit_fail_{os.getpid()}", postgres_template)
    settings = Settings(home=tmp_path / "home", secret_key=KEY, smtp_url=sink.url, embedder="none",
                        database_url=url, mail_rate=0)  # fmt: skip
    store = open_store(url)
    try:
        with store.engine.begin() as connection:  # the first COMMIT that marks a mail sent fails, once
            connection.execute(sa.text("CREATE SEQUENCE commit_failures"))
            connection.execute(
                sa.text(
                    "CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF nextval('commit_failures') = 1 THEN RAISE EXCEPTION 'disk full at commit'; END IF; "
                    "RETURN NEW; END $$"
                )
            )
            connection.execute(sa.text(
                "CREATE CONSTRAINT TRIGGER fail_at_commit AFTER UPDATE ON mail_outbox DEFERRABLE INITIALLY DEFERRED "
                "FOR EACH ROW WHEN (NEW.status = 'sent') EXECUTE FUNCTION fail_once()"
            ))  # fmt: skip
        from paperwire.mail.outbox import enqueue_transactional

        enqueue_transactional(store, settings, "reader@example.org", "Hello", "one mail")
        for _ in range(2):
            sender = OutboxSender(store, settings, policy=FAST)
            try:
                sender.send_due()
            finally:
                sender.close()
        assert len(sink.messages_to("reader@example.org")) == 1
        [row] = store.outbox_rows(recipient="reader@example.org")
        assert row["status"] == "sent"
        assert "COMMIT failed" in row["last_error"] and "disk full at commit" in row["last_error"]
    finally:
        store.close()
        postgres_cluster.drop_database(f"commit_fail_{os.getpid()}")


@pytest.mark.postgres
def test_mail_leaves_without_tcp_cork(mail, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> None:
    """Systems other than Linux have no TCP_CORK: the commit point works without it."""
    settings, store = mail
    monkeypatch.delattr(socket, "TCP_CORK", raising=False)
    sender = OutboxSender(store, settings, policy=FAST)
    try:
        assert sender.send_due().sent == 25
    finally:
        sender.close()
