"""Mail queries: subscribers, the outbox (claimed in leased batches), and per-subscriber paper history."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

import sqlalchemy as sa

from paperwire.models import utc_now_iso
from paperwire.storage.core import StoreCore, inserted_id
from paperwire.storage.records import OutboxRecord, SubscriberRecord, outbox_record, subscriber_record
from paperwire.storage.schema import mail_outbox, mail_paper_history, subscribers

CLAIMABLE = ("queued", "sending")
# Built once: this runs once per mail sent, between the body and the final dot.
MARK_SENT = (
    mail_outbox.update()
    .where(mail_outbox.c.id == sa.bindparam("outbox_id"), mail_outbox.c.claimed_by == sa.bindparam("worker"),
           mail_outbox.c.status == sa.literal_column("'sending'"))
    .values(status=sa.literal_column("'sent'"), sent_at=sa.bindparam("sent_at"),
            attempts=mail_outbox.c.attempts + sa.literal_column("1"), lease_until=sa.null(), last_error=sa.null())
)  # fmt: skip
MARK_SENT_PARAMETERS = ("outbox_id", "worker", "sent_at")


class MailQueries(StoreCore):
    """Mixed into Store."""

    # ---- subscribers -------------------------------------------------------------------------

    def add_subscriber(self, row: dict) -> int | None:
        """Insert a subscriber; None when the address is already known (its row is left alone)."""
        with self.write() as connection:
            result = connection.execute(
                self.insert(subscribers).values(**row).on_conflict_do_nothing(index_elements=["email_key"])
            )
            if result.rowcount == 0:
                return None
            return inserted_id(result)

    def add_subscribers(self, rows: Sequence[dict]) -> int:
        """Insert many subscribers, skipping known addresses; returns how many were new."""
        if not rows:
            return 0
        with self.write() as connection:
            keys = [row["email_key"] for row in rows]
            known: set[str] = set()
            for start in range(0, len(keys), 500):
                known.update(
                    connection.execute(
                        sa.select(subscribers.c.email_key).where(subscribers.c.email_key.in_(keys[start : start + 500]))
                    ).scalars()
                )
            fresh = {row["email_key"]: row for row in rows if row["email_key"] not in known}
            if fresh:
                connection.execute(
                    self.insert(subscribers).on_conflict_do_nothing(index_elements=["email_key"]),
                    list(fresh.values()),
                )
            return len(fresh)

    def get_subscriber(self, subscriber_id: int) -> SubscriberRecord | None:
        with self.read() as connection:
            row = connection.execute(sa.select(subscribers).where(subscribers.c.id == subscriber_id)).first()
        return subscriber_record(row._mapping) if row else None

    def find_subscriber(self, email_key: str) -> SubscriberRecord | None:
        with self.read() as connection:
            row = connection.execute(sa.select(subscribers).where(subscribers.c.email_key == email_key)).first()
        return subscriber_record(row._mapping) if row else None

    def update_subscriber(self, subscriber_id: int, **values: object) -> bool:
        values.setdefault("updated_at", utc_now_iso())
        with self.write() as connection:
            result = connection.execute(subscribers.update().where(subscribers.c.id == subscriber_id).values(**values))
        return result.rowcount == 1

    def delete_subscriber(self, subscriber_id: int) -> bool:
        """Remove a subscriber and every trace of them: unsent and sent mail, paper history."""
        with self.write() as connection:
            connection.execute(mail_paper_history.delete().where(mail_paper_history.c.subscriber_id == subscriber_id))
            connection.execute(mail_outbox.delete().where(mail_outbox.c.subscriber_id == subscriber_id))
            result = connection.execute(subscribers.delete().where(subscribers.c.id == subscriber_id))
        return result.rowcount == 1

    def list_subscribers(
        self, *, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[SubscriberRecord]:
        query = sa.select(subscribers).order_by(subscribers.c.id).limit(limit).offset(offset)
        if status:
            query = query.where(subscribers.c.status == status)
        with self.read() as connection:
            return [subscriber_record(row) for row in connection.execute(query).mappings()]

    def count_subscribers(self) -> dict[str, int]:
        with self.read() as connection:
            rows = connection.execute(
                sa.select(subscribers.c.status, sa.func.count()).group_by(subscribers.c.status)
            ).all()
        return {status: count for status, count in rows}

    def digest_subscribers_after(
        self, cadence: str, after_id: int, limit: int, *, shard: tuple[int, int] | None = None
    ) -> list[dict]:
        """Confirmed subscribers of `cadence` with id > after_id, in id order (keyset pages).

        `shard=(index, count)` keeps ids with id % count == index, so composers can split the work."""
        query = (
            sa.select(subscribers)
            .where(subscribers.c.status == "confirmed", subscribers.c.cadence == cadence,
                   subscribers.c.id > after_id)
            .order_by(subscribers.c.id)
            .limit(limit)
        )  # fmt: skip
        if shard is not None:
            query = query.where(subscribers.c.id % shard[1] == shard[0])
        with self.read() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def record_bounce(self, subscriber_id: int, threshold: int) -> str | None:
        """Count one permanent failure; at `threshold` the subscriber becomes bouncing. Returns the status."""
        with self.write() as connection:
            connection.execute(
                subscribers.update()
                .where(subscribers.c.id == subscriber_id)
                .values(bounce_count=subscribers.c.bounce_count + 1, updated_at=utc_now_iso())
            )
            connection.execute(
                subscribers.update()
                .where(subscribers.c.id == subscriber_id, subscribers.c.status == "confirmed",
                       subscribers.c.bounce_count >= threshold)
                .values(status="bouncing")
            )  # fmt: skip
            return connection.execute(
                sa.select(subscribers.c.status).where(subscribers.c.id == subscriber_id)
            ).scalar_one_or_none()

    # ---- digests: what exists, what was sent -------------------------------------------------

    def subscribers_with_digest(self, subscriber_ids: Sequence[int], cadence: str, period_label: str) -> set[int]:
        if not subscriber_ids:
            return set()
        with self.read() as connection:
            return set(
                connection.execute(
                    sa.select(mail_outbox.c.subscriber_id).where(
                        mail_outbox.c.subscriber_id.in_(subscriber_ids),
                        mail_outbox.c.cadence == cadence,
                        mail_outbox.c.period_label == period_label,
                    )
                ).scalars()
            )

    def papers_sent_to(
        self, subscriber_ids: Sequence[int], paper_ids: Iterable[str] | None = None
    ) -> dict[int, set[str]]:
        """Papers each subscriber already received (optionally only among `paper_ids`)."""
        found: dict[int, set[str]] = {}
        if not subscriber_ids:
            return found
        query = sa.select(mail_paper_history.c.subscriber_id, mail_paper_history.c.paper_id).where(
            mail_paper_history.c.subscriber_id.in_(subscriber_ids)
        )
        if paper_ids is not None:
            query = query.where(mail_paper_history.c.paper_id.in_(list(paper_ids)))
        with self.read() as connection:
            for subscriber_id, paper_id in connection.execute(query):
                found.setdefault(subscriber_id, set()).add(paper_id)
        return found

    def queue_digests(self, rows: Sequence[dict], history: Sequence[dict]) -> int:
        """Record composed digests and the papers they carry, in one transaction.

        A digest that already exists for (subscriber, cadence, period) is left as it is: the unique
        key makes composing idempotent even when two composers race.
        """
        if not rows:
            return 0
        with self.write() as connection:
            inserted = set(
                connection.execute(
                    self.insert(mail_outbox).on_conflict_do_nothing().returning(mail_outbox.c.subscriber_id),
                    list(rows),
                ).scalars()
            )
            # Only the digests this call recorded carry their papers into the history.
            history = [row for row in history if row["subscriber_id"] in inserted]
            if history:
                connection.execute(self.insert(mail_paper_history).on_conflict_do_nothing(), history)
        return len(inserted)

    # ---- the outbox --------------------------------------------------------------------------

    def enqueue_mail(self, row: dict) -> int:
        with self.write() as connection:
            return inserted_id(connection.execute(mail_outbox.insert().values(**row)))

    def claim_outbox_batch(
        self, worker: str, *, limit: int, now: str, lease_until: str, kinds: Sequence[str] | None = None
    ) -> list[dict]:
        """Lease up to `limit` mails that are due: queued ones, and those whose sender's lease ran out.

        PostgreSQL skips rows other workers hold (FOR UPDATE SKIP LOCKED); SQLite serialises writers.
        The UPDATE re-checks the state, so a row is only ever leased to one worker at a time.
        """
        due = sa.or_(
            sa.and_(mail_outbox.c.status == "queued", mail_outbox.c.next_attempt_at <= now),
            sa.and_(mail_outbox.c.status == "sending", mail_outbox.c.lease_until < now),
        )
        condition = sa.and_(due, mail_outbox.c.kind.in_(kinds)) if kinds else due
        with self.write() as connection:
            ids = list(
                connection.execute(
                    sa.select(mail_outbox.c.id)
                    .where(condition)
                    .order_by(mail_outbox.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            if not ids:
                return []
            connection.execute(
                mail_outbox.update()
                .where(mail_outbox.c.id.in_(ids), condition)
                .values(status="sending", claimed_by=worker, lease_until=lease_until)
            )
            rows = connection.execute(
                sa.select(mail_outbox)
                .where(mail_outbox.c.id.in_(ids), mail_outbox.c.claimed_by == worker,
                       mail_outbox.c.status == "sending")
                .order_by(mail_outbox.c.id)
            ).mappings()  # fmt: skip
            return [dict(row) for row in rows]

    def mark_outbox_sent(self, outbox_id: int, worker: str, then: Callable[[], None] | None = None) -> bool:
        """Record a mail as sent, only if this worker still holds it (the commit point of a send).

        `then` runs the moment the commit can no longer be lost, before anything else (the sender
        releases the message to the mail server there). A process killed between the two leaves a
        mail recorded as sent that never left, so the dialect module makes that gap as small as it
        can be: on SQLite `then` follows the local commit; on PostgreSQL the UPDATE's row lock says
        the mail is still ours, and `then` runs right after the COMMIT message is written to the
        socket, before its reply (two adjacent system calls). The statement runs on the pooled DBAPI
        connection directly (a third of the cost of a Core transaction; it runs once per mail).
        """
        sql, order = self._mark_sent_sql()
        values = {"outbox_id": outbox_id, "worker": worker, "sent_at": utc_now_iso()}
        parameters = tuple(values[name] for name in order) if order else values
        released: list[bool] = []

        def release() -> None:
            released.append(True)
            (then or (lambda: None))()

        raw = self.engine.raw_connection()
        failure: Exception | None = None
        try:
            cursor = raw.cursor()
            try:
                self.backend.begin_mark(cursor)
                cursor.execute(sql, parameters)
                held = cursor.rowcount == 1
                if held:
                    self.backend.commit_then(raw, release)
                else:
                    raw.rollback()
            except Exception as error:
                raw.rollback()
                if not released:
                    raise
                # The message was released (the final dot is out) but the COMMIT failed: the mail is
                # delivered, so record it as sent now; retrying it would send it twice.
                failure = error
            except BaseException:
                raw.rollback()
                raise
            else:
                failure = None
            finally:
                cursor.close()
        finally:
            raw.close()  # back to the pool
        if failure is not None:
            self._record_sent_after_failed_commit(outbox_id, worker, failure)
        return held

    def _record_sent_after_failed_commit(self, outbox_id: int, worker: str, failure: Exception) -> None:
        note = f"recorded as sent after its COMMIT failed once the message was released: {failure}"[:1000]
        for attempt in range(5):
            try:
                with self.write() as connection:
                    connection.execute(
                        mail_outbox.update()
                        .where(mail_outbox.c.id == outbox_id, mail_outbox.c.claimed_by == worker,
                               mail_outbox.c.status == "sending")
                        .values(status="sent", sent_at=utc_now_iso(), lease_until=None, last_error=note,
                                attempts=mail_outbox.c.attempts + 1)
                    )  # fmt: skip
                return
            except sa.exc.DBAPIError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def _mark_sent_sql(self) -> tuple[str, tuple[str, ...] | None]:
        found = getattr(self, "_mark_sent_compiled", None)
        if found is None:
            compiled = MARK_SENT.compile(dialect=self.engine.dialect)
            unexpected = set(compiled.binds) - set(MARK_SENT_PARAMETERS)
            if unexpected:  # every value must be one of the parameters or a literal of the statement
                raise RuntimeError(f"unexpected bound values in MARK_SENT: {sorted(unexpected)}")
            found = (str(compiled), tuple(compiled.positiontup or ()) if compiled.positional else None)
            self._mark_sent_compiled = found
        return found

    def reopen_outbox(self, outbox_id: int, worker: str, error: str) -> None:
        """Undo a `sent` mark when the server refused the message after all (it was not delivered)."""
        with self.write() as connection:
            connection.execute(
                mail_outbox.update()
                .where(mail_outbox.c.id == outbox_id, mail_outbox.c.claimed_by == worker,
                       mail_outbox.c.status == "sent")
                .values(status="sending", sent_at=None, attempts=mail_outbox.c.attempts - 1, last_error=error)
            )  # fmt: skip

    def retry_outbox(
        self, outbox_id: int, worker: str, *, next_attempt_at: str, error: str, count: bool = True
    ) -> None:
        """A temporary failure: back to the queue for a later attempt."""
        values: dict = {"status": "queued", "next_attempt_at": next_attempt_at, "lease_until": None,
                        "claimed_by": None, "last_error": error[:1000]}  # fmt: skip
        if count:
            values["attempts"] = mail_outbox.c.attempts + 1
        with self.write() as connection:
            connection.execute(
                mail_outbox.update()
                .where(
                    mail_outbox.c.id == outbox_id, mail_outbox.c.claimed_by == worker, mail_outbox.c.status == "sending"
                )
                .values(**values)
            )

    def fail_outbox(self, outbox_id: int, worker: str, *, status: str, error: str) -> None:
        """A permanent failure (`failed`) or a deadline passed (`expired`): no more attempts."""
        with self.write() as connection:
            connection.execute(
                mail_outbox.update()
                .where(mail_outbox.c.id == outbox_id, mail_outbox.c.claimed_by == worker,
                       mail_outbox.c.status.in_(("sending", "sent")))
                .values(status=status, lease_until=None, last_error=error[:1000],
                        attempts=mail_outbox.c.attempts + 1, sent_at=None)
            )  # fmt: skip

    def release_outbox_claims(self, worker: str) -> int:
        """Give back every mail this worker holds (it stops without trying them)."""
        with self.write() as connection:
            return connection.execute(
                mail_outbox.update()
                .where(mail_outbox.c.claimed_by == worker, mail_outbox.c.status == "sending")
                .values(status="queued", lease_until=None, claimed_by=None)
            ).rowcount

    def cancel_queued_digests(self, subscriber_id: int) -> int:
        """Digests not sent yet are cancelled (one in flight loses its lease and is dropped)."""
        with self.write() as connection:
            return connection.execute(
                mail_outbox.update()
                .where(mail_outbox.c.subscriber_id == subscriber_id, mail_outbox.c.kind == "digest",
                       mail_outbox.c.status.in_(CLAIMABLE))
                .values(status="cancelled", lease_until=None, claimed_by=None)
            ).rowcount  # fmt: skip

    def has_due_mail(self, now: str, kinds: Sequence[str] | None = None) -> bool:
        """A cheap read: is anything due? (Lets idle senders poll without taking a write lock.)"""
        due = sa.or_(
            sa.and_(mail_outbox.c.status == "queued", mail_outbox.c.next_attempt_at <= now),
            sa.and_(mail_outbox.c.status == "sending", mail_outbox.c.lease_until < now),
        )
        if kinds:
            due = sa.and_(due, mail_outbox.c.kind.in_(kinds))
        with self.read() as connection:
            return connection.execute(sa.select(mail_outbox.c.id).where(due).limit(1)).first() is not None

    def subscriber_nonces(self, subscriber_ids: Sequence[int]) -> dict[int, str]:
        """The current link nonce of each subscriber (digest links are made when the mail is rendered)."""
        if not subscriber_ids:
            return {}
        with self.read() as connection:
            rows = connection.execute(
                sa.select(subscribers.c.id, subscribers.c.nonce).where(subscribers.c.id.in_(list(subscriber_ids)))
            )
            return {row.id: row.nonce for row in rows}

    def outbox_counts(self, *, run_id: int | None = None, kind: str | None = None) -> dict[str, int]:
        query = sa.select(mail_outbox.c.status, sa.func.count()).group_by(mail_outbox.c.status)
        if run_id is not None:
            query = query.where(mail_outbox.c.run_id == run_id)
        if kind is not None:
            query = query.where(mail_outbox.c.kind == kind)
        with self.read() as connection:
            return {status: count for status, count in connection.execute(query).all()}

    def outbox_rows(self, *, subscriber_id: int | None = None, recipient: str | None = None,
                    limit: int = 100) -> list[OutboxRecord]:  # fmt: skip
        query = sa.select(mail_outbox).order_by(mail_outbox.c.id.desc()).limit(limit)
        if subscriber_id is not None:
            query = query.where(mail_outbox.c.subscriber_id == subscriber_id)
        if recipient is not None:
            query = query.where(mail_outbox.c.recipient == recipient)
        with self.read() as connection:
            return [outbox_record(row) for row in connection.execute(query).mappings()]
