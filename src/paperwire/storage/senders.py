"""Outbox housekeeping: who holds leases (so a dead sender's are reclaimed at once), link secrets scrubbed
from finished mail, and the per-address count behind the mail cap."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from paperwire.models import utc_now_iso
from paperwire.storage.core import StoreCore
from paperwire.storage.schema import mail_outbox, mail_senders

SENDER_LOCK_PREFIX = "mail-sender-"


class SenderQueries(StoreCore):
    """Mixed into Store."""

    def register_mail_sender(self, worker: str, host: str, pid: int, process_start: str) -> None:
        """Record who `worker` is before it leases mail. On PostgreSQL it also holds a session lock for
        its life: the lock ends with its connection, so any node can see that it died."""
        if self.dialect == "postgresql" and SENDER_LOCK_PREFIX + worker not in self.held_locks:
            lock = self.try_lock(SENDER_LOCK_PREFIX + worker)
            if lock is not None:
                self.held_locks[SENDER_LOCK_PREFIX + worker] = [worker, lock]
        with self.write() as connection:
            connection.execute(
                self.insert(mail_senders)
                .values(worker=worker, host=host, pid=pid, process_start=process_start, started_at=utc_now_iso())
                .on_conflict_do_nothing(index_elements=["worker"])
            )

    def unregister_mail_sender(self, worker: str) -> None:
        with self.write() as connection:
            connection.execute(mail_senders.delete().where(mail_senders.c.worker == worker))
        held = self.held_locks.pop(SENDER_LOCK_PREFIX + worker, None)
        if held is not None:
            held[1].release()

    def mail_lease_holders(self) -> list[dict]:
        """Each sender that holds leased mail now: worker, host, pid, process_start (None when the
        holder never registered), and how many mails it holds."""
        query = (
            sa.select(mail_outbox.c.claimed_by, sa.func.count().label("held"), mail_senders.c.host,
                      mail_senders.c.pid, mail_senders.c.process_start)
            .select_from(mail_outbox.outerjoin(mail_senders, mail_senders.c.worker == mail_outbox.c.claimed_by))
            .where(mail_outbox.c.status == "sending", mail_outbox.c.claimed_by.is_not(None))
            .group_by(mail_outbox.c.claimed_by, mail_senders.c.host, mail_senders.c.pid, mail_senders.c.process_start)
        )  # fmt: skip
        with self.read() as connection:
            return [
                {"worker": row.claimed_by, "held": row.held, "host": row.host, "pid": row.pid,
                 "process_start": row.process_start}
                for row in connection.execute(query)
            ]  # fmt: skip

    def sender_session_ended(self, worker: str) -> bool:
        """PostgreSQL: True when the sender's session lock is free (its process or connection is gone)."""
        lock = self.try_lock(SENDER_LOCK_PREFIX + worker)
        if lock is None:
            return False
        lock.release()
        return True

    def reclaim_mail_leases(self, worker: str) -> int:
        """Put every mail a dead sender held back in the queue now (not when its lease lapses)."""
        with self.write() as connection:
            reclaimed = connection.execute(
                mail_outbox.update()
                .where(mail_outbox.c.claimed_by == worker, mail_outbox.c.status == "sending")
                .values(status="queued", lease_until=None, claimed_by=None)
            ).rowcount
            connection.execute(mail_senders.delete().where(mail_senders.c.worker == worker))
        return reclaimed

    def reclaim_dead_mail_leases(self, is_dead: Callable[[dict], bool]) -> dict[str, int]:
        """Reclaim the mail of every lease holder `is_dead` says is gone: {worker: mails reclaimed}."""
        return {
            holder["worker"]: self.reclaim_mail_leases(holder["worker"])
            for holder in self.mail_lease_holders()
            if is_dead(holder)
        }

    def count_recent_mail(self, recipient: str, kind: str, since: str) -> int:
        """Mails of `kind` queued for `recipient` (any case) since `since` (for the per-address cap)."""
        query = sa.select(sa.func.count()).where(
            mail_outbox.c.kind == kind, mail_outbox.c.created_at >= since,
            sa.func.lower(mail_outbox.c.recipient) == recipient.lower(),
        )  # fmt: skip
        with self.read() as connection:
            return connection.execute(query).scalar_one()

    def unscrubbed_finished_mail(self, since: str) -> list[tuple[int, str]]:
        """(id, payload) of transactional mail created since `since` that is finished (sent, failed,
        expired, cancelled) and still holds the secrets of its links."""
        query = sa.select(mail_outbox.c.id, mail_outbox.c.payload).where(
            mail_outbox.c.kind == "transactional", mail_outbox.c.created_at >= since,
            mail_outbox.c.status.in_(("sent", "failed", "expired", "cancelled")),
            mail_outbox.c.payload.like('%"secrets":["%'),
        )  # fmt: skip
        with self.read() as connection:
            return [(row.id, row.payload) for row in connection.execute(query)]

    def replace_outbox_payload(self, outbox_id: int, payload: str) -> None:
        with self.write() as connection:
            connection.execute(mail_outbox.update().where(mail_outbox.c.id == outbox_id).values(payload=payload))
