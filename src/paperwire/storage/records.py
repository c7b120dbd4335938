"""Typed records of the rows that travel beyond storage: users, subscribers and outbox mails.

They are the rows as the database holds them (TypedDicts, so callers keep reading `user["email"]`
while the type checker knows every key and its type)."""

from __future__ import annotations

from typing import Any, TypedDict, cast


class UserRecord(TypedDict):
    id: int
    email: str
    name: str
    created_at: str


class SubscriberRecord(TypedDict):
    id: int
    email: str
    email_key: str
    status: str  # pending | confirmed | unsubscribed | bouncing
    cadence: str  # daily | weekly | monthly
    interests: str  # JSON of mail.subscribers.Interests
    max_papers: int
    nonce: str
    created_at: str
    updated_at: str
    consent_at: str | None
    consent_source: str | None
    confirmation_sent_at: str | None
    unsubscribed_at: str | None
    bounce_count: int


class OutboxRecord(TypedDict):
    id: int
    kind: str  # digest | transactional
    subscriber_id: int | None
    cadence: str | None
    period_label: str | None
    recipient: str
    subject: str
    payload: str
    message_id: str
    status: str  # queued | sending | sent | failed | bounced …
    attempts: int
    next_attempt_at: str
    deadline_at: str
    lease_until: str | None
    claimed_by: str | None
    last_error: str | None
    run_id: int | None
    created_at: str
    sent_at: str | None


def user_record(row: Any) -> UserRecord:
    return cast(UserRecord, dict(row))


def subscriber_record(row: Any) -> SubscriberRecord:
    return cast(SubscriberRecord, dict(row))


def outbox_record(row: Any) -> OutboxRecord:
    return cast(OutboxRecord, dict(row))
