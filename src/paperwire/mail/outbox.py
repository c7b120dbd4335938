"""The outbox: every mail is a row first; senders lease batches of rows and deliver them.

Rules (SPEC section 6):
- a row is leased to one sender at a time (`claim_outbox_batch`); a sender killed mid-batch leaves
  its rows leased until the lease runs out, then another sender (or its restart) takes them;
- a row becomes `sent` in the database just before the SMTP server is told to accept it (see
  transport.py), so a restart never sends it again;
- temporary failures (4xx, timeouts, dropped connections) go back to the queue with exponential
  backoff until the row's deadline, then the row is `expired`;
- a permanent failure (5xx) ends the row as `failed` and counts a bounce for the subscriber; after
  BOUNCE_THRESHOLD permanent failures a confirmed subscriber becomes `bouncing` and gets no digests.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

import orjson

from paperwire.background import WakeableWorker, Wakers
from paperwire.mail.leases import recover_dead_leases, register_sender
from paperwire.mail.message import new_message_id
from paperwire.mail.transport import Transport, TransportUnavailable, open_transport
from paperwire.models import now_utc
from paperwire.models import utc_iso as iso
from paperwire.settings import Settings
from paperwire.storage import Store

log = logging.getLogger("paperwire.mail")

BOUNCE_THRESHOLD = 2  # permanent failures before a confirmed address is marked bouncing
TRANSACTIONAL_DEADLINE = timedelta(hours=1)  # a sign-in or confirmation link older than this is useless
DIGEST_DEADLINE = timedelta(days=2)  # a digest that cannot leave within two days is stale
MAIL_CAP_WINDOW = timedelta(hours=1)  # mail_cap_per_address counts the mails of this window


def mail_domain(settings: Settings) -> str:
    return urlsplit(settings.base_url).hostname or "localhost"


# ---- enqueueing -----------------------------------------------------------------------------

SENDERS = Wakers()  # this process's transactional senders: a queued mail wakes them at once


def _wake_senders() -> None:
    SENDERS.wake_all()


def enqueue_transactional(
    store: Store, settings: Settings, to: str, subject: str, text: str, html: str | None = None,
    *, subscriber_id: int | None = None, secrets: Sequence[str] = (),
) -> bool:  # fmt: skip
    """Record a one-off mail (confirmation, sign-in link) in the outbox; it leaves within seconds.

    `secrets` are the parts of the mail that carry tokens (its links): they are scrubbed from the
    outbox once the mail is sent (or can no longer be). At most `mail_cap_per_address` such mails
    go to one address per hour, whatever their kind: beyond it nothing is queued and False is
    returned (callers answer the same either way, so the cap tells nothing about the address).

    This process's transactional sender is woken at once; senders of other processes find it on
    their next poll (every two seconds).
    """
    now = now_utc()
    cap = settings.mail_cap_per_address
    if cap and store.count_recent_mail(to, "transactional", iso(now - MAIL_CAP_WINDOW)) >= cap:
        log.info("mail cap: %d mails to one address within the hour; %r not queued", cap, subject)
        return False
    store.enqueue_mail(
        {
            "kind": "transactional", "subscriber_id": subscriber_id, "recipient": to, "subject": subject,
            "payload": orjson.dumps({"text": text, "html": html, "secrets": list(secrets)}).decode(),
            "message_id": new_message_id(mail_domain(settings)), "status": "queued", "attempts": 0,
            "next_attempt_at": iso(now), "deadline_at": iso(now + TRANSACTIONAL_DEADLINE),
            "created_at": iso(now),
        }
    )  # fmt: skip
    _wake_senders()
    return True


SCRUBBED = "(link removed from the outbox once sent)"


def scrubbed_payload(payload: str) -> str | None:
    """The payload with its secrets replaced (None when it has none left to scrub)."""
    data = orjson.loads(payload)
    secrets = data.pop("secrets", None)
    if not secrets:
        return None
    for secret in secrets:
        for part in ("text", "html"):
            if data.get(part):
                data[part] = data[part].replace(secret, SCRUBBED)
    data["scrubbed"] = True
    return orjson.dumps(data).decode()


def scrub_finished_mail(store: Store, now: datetime | None = None) -> int:
    """Scrub the tokens of transactional mail that is sent or will never be (including mail marked sent
    by a sender that died before it could scrub); only rows young enough to still hold them are read."""
    since = iso((now or now_utc()) - TRANSACTIONAL_DEADLINE - MAIL_CAP_WINDOW)
    scrubbed = 0
    for row_id, payload in store.unscrubbed_finished_mail(since):
        clean = scrubbed_payload(payload)
        if clean is not None:
            store.replace_outbox_payload(row_id, clean)
            scrubbed += 1
    return scrubbed


# ---- sending --------------------------------------------------------------------------------


@dataclass
class DeliveryPolicy:
    batch_size: int = 50
    lease_seconds: float = 120.0
    retry_base_seconds: float = 60.0  # first retry after a minute, doubling each time …
    retry_max_seconds: float = 3600.0  # … up to an hour between attempts
    rate_per_second: float = 20.0  # 0: no limit
    bounce_threshold: int = BOUNCE_THRESHOLD

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> DeliveryPolicy:
        return cls(**{"rate_per_second": settings.mail_rate, **overrides})

    def retry_delay(self, attempts: int) -> float:
        return min(self.retry_base_seconds * 2 ** max(attempts - 1, 0), self.retry_max_seconds)


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)
    recovered: dict[str, int] = field(default_factory=dict)  # worker → mails reclaimed from a dead sender

    def __str__(self) -> str:
        recovered = sum(self.recovered.values())
        return (f"sent {self.sent}, retried {self.retried}, failed {self.failed}, expired {self.expired}"
                + (f", lost to other senders {self.lost}" if self.lost else "")
                + (f", recovered {recovered} mails leased by {len(self.recovered)} dead sender"
                   f"{'s' if len(self.recovered) != 1 else ''}" if recovered else ""))  # fmt: skip


class OutboxSender:
    """Claims due mail in leased batches and delivers it through one transport (one connection)."""

    def __init__(
        self, store: Store, settings: Settings, *, transport: Transport | None = None,
        policy: DeliveryPolicy | None = None, worker: str | None = None,
    ) -> None:  # fmt: skip
        from paperwire.mail.render import MailRenderer

        self.store = store
        self.settings = settings
        self.transport = transport or open_transport(settings)
        self.policy = policy or DeliveryPolicy.from_settings(settings)
        self.worker = worker or f"{socket.gethostname()[:20]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.renderer = MailRenderer(store, settings)
        self.envelope_from = parseaddr(settings.mail_from)[1] or "paperwire@localhost"
        self._next_slot = 0.0
        self._registered = False

    def send_due(self, kinds: Sequence[str] | None = None, *, max_messages: int | None = None) -> SendReport:
        """Deliver due mail until none is left (or `max_messages`). TransportUnavailable when the
        server cannot be reached: the claimed rows go back to the queue untouched."""
        report = SendReport()
        handled = 0
        report.recovered = recover_dead_leases(self.store)
        if not self._registered:
            register_sender(self.store, self.worker)  # before leasing: a rerun can tell if we died
            self._registered = True
        try:
            while max_messages is None or handled < max_messages:
                now = now_utc()
                limit = (
                    self.policy.batch_size
                    if max_messages is None
                    else min(self.policy.batch_size, max_messages - handled)
                )
                batch = self.store.claim_outbox_batch(
                    self.worker, limit=limit, now=iso(now),
                    lease_until=iso(now + timedelta(seconds=self.policy.lease_seconds)), kinds=kinds,
                )  # fmt: skip
                if not batch:
                    break
                self.renderer.prefetch(batch)
                for row in batch:
                    self._deliver(row, report)
                    handled += 1
        except TransportUnavailable:
            self.store.release_outbox_claims(self.worker)
            raise
        scrub_finished_mail(self.store)  # failed, expired, and sent by senders that died before scrubbing
        return report

    def close(self) -> None:
        self.transport.close()
        if self._registered:
            self.store.unregister_mail_sender(self.worker)
            self._registered = False

    def _pace(self) -> None:
        rate = self.policy.rate_per_second
        if rate <= 0:
            return
        now = time.monotonic()
        if self._next_slot > now:
            time.sleep(self._next_slot - now)
        self._next_slot = max(now, self._next_slot) + 1.0 / rate

    def _deliver(self, row: dict, report: SendReport) -> None:
        now = now_utc()
        if row["deadline_at"] < iso(now):
            self.store.fail_outbox(
                row["id"], self.worker, status="expired", error=row["last_error"] or "deadline passed"
            )
            report.expired += 1
            return
        message = self.renderer.message_for(row, eight_bit=self.transport.eight_bit())
        if message is None:
            self.store.fail_outbox(row["id"], self.worker, status="failed", error="nothing left to send")
            report.failed += 1
            return
        self._pace()
        outcome = self.transport.send(
            self.envelope_from, row["recipient"], message,
            commit=lambda release: self.store.mark_outbox_sent(row["id"], self.worker, then=release),
        )  # fmt: skip
        if outcome.status == "sent":
            report.sent += 1
            if row["kind"] == "transactional":
                clean = scrubbed_payload(row["payload"])
                if clean is not None:
                    self.store.replace_outbox_payload(row["id"], clean)
            return
        if outcome.status == "lost":
            report.lost += 1
            return
        if outcome.committed:
            self.store.reopen_outbox(row["id"], self.worker, outcome.detail)
        if outcome.status == "temporary":
            attempts = row["attempts"] + 1
            next_attempt = now + timedelta(seconds=self.policy.retry_delay(attempts))
            if iso(next_attempt) > row["deadline_at"]:
                self.store.fail_outbox(row["id"], self.worker, status="expired", error=outcome.detail)
                report.expired += 1
            else:
                self.store.retry_outbox(row["id"], self.worker, next_attempt_at=iso(next_attempt), error=outcome.detail)
                report.retried += 1
            log.info("mail %s to %s deferred: %s", row["id"], row["recipient"], outcome.detail)
            return
        self.store.fail_outbox(row["id"], self.worker, status="failed", error=outcome.detail)
        report.failed += 1
        report.errors.append(f"{row['recipient']}: {outcome.detail}")
        log.warning("mail %s to %s refused: %s", row["id"], row["recipient"], outcome.detail)
        if row["subscriber_id"] is not None:
            self.store.record_bounce(row["subscriber_id"], self.policy.bounce_threshold)


def send_outbox(store: Store, settings: Settings, kinds: Sequence[str] | None = None,
                policy: DeliveryPolicy | None = None) -> SendReport:  # fmt: skip
    """One pass over everything due (what `paperwire worker` runs every few seconds)."""
    sender = OutboxSender(store, settings, policy=policy)
    try:
        return sender.send_due(kinds)
    finally:
        sender.close()


# ---- the in-process transactional sender -----------------------------------------------------


class TransactionalSender(WakeableWorker):
    """A daemon thread that sends transactional mail within seconds, in every web process."""

    def __init__(self, store: Store, settings: Settings, *, poll_seconds: float = 2.0) -> None:
        super().__init__(SENDERS, "paperwire-transactional-mail", poll_seconds=poll_seconds, join_seconds=10)
        self.store = store
        self.settings = settings

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._wait(self.poll_seconds * (2 ** min(failures, 5)))
            if self._stop.is_set():
                return
            try:
                if self.store.has_due_mail(iso(now_utc()), ("transactional",)):
                    send_outbox(self.store, self.settings, kinds=("transactional",))
                failures = 0
            except TransportUnavailable as error:
                failures += 1
                log.warning("transactional mail waits: %s", error)
            except Exception:  # a background thread must outlive one bad pass
                failures += 1
                log.exception("transactional mail sender failed; retrying")


@contextlib.contextmanager
def transactional_sender_running(store: Store, settings: Settings) -> Iterator[TransactionalSender]:
    sender = TransactionalSender(store, settings)
    sender.start()
    try:
        yield sender
    finally:
        sender.stop()


def send_outbox_job(settings: Settings, store: Store) -> str:
    """The scheduler's outbox job: retries and anything composed elsewhere; '' when idle."""
    if not store.has_due_mail(iso(now_utc())):
        return ""
    report = send_outbox(store, settings)
    return str(report) if (report.sent or report.failed or report.expired or report.retried) else ""
