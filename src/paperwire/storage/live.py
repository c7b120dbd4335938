"""Scheduler storage: the leadership lease (one scheduler runs jobs at a time) and after-the-fact runs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from paperwire.models import utc_now_iso
from paperwire.storage.core import StoreCore, inserted_id
from paperwire.storage.schema import checkpoints, job_runs

LEASE_PREFIX = "lease:"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LiveQueries(StoreCore):
    """Mixed into Store."""

    def try_acquire_lease(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Take or renew the lease `name` for `owner`; True while it is ours.

        A lease row in the checkpoints table: value is the owner, updated_at the last renewal. It
        is free when missing, ours, or not renewed for `ttl_seconds` (its holder died). The insert
        and the guarded update are each atomic, so two contenders never both win.

        On PostgreSQL a session advisory lock, kept on its own connection, decides between
        processes: a killed holder frees it at once instead of after `ttl_seconds`; the row then
        only names the holder (and arbitrates between owners inside one process).
        """
        now = datetime.now(timezone.utc)
        key = LEASE_PREFIX + name
        if self.dialect == "postgresql":
            held = self.held_locks.get(key)
            if held is None or not held[1].held():
                if held is not None:
                    held[1].release()  # its connection broke: the lock is gone with it
                    del self.held_locks[key]
                lock = self.try_lock(key)
                if lock is None:
                    return False
                self.held_locks[key] = [owner, lock]
                self.set_checkpoint(key, owner)
                return True
        granted = self._take_lease_row(key, owner, now, ttl_seconds)
        if granted and key in self.held_locks:
            self.held_locks[key][0] = owner
        return granted

    def _take_lease_row(self, key: str, owner: str, now: datetime, ttl_seconds: float) -> bool:
        expired_before = _iso(now - timedelta(seconds=ttl_seconds))
        with self.write() as connection:
            inserted = connection.execute(
                self.insert(checkpoints)
                .values(name=key, value=owner, updated_at=_iso(now))
                .on_conflict_do_nothing(index_elements=[checkpoints.c.name])
            )
            if inserted.rowcount == 1:
                return True
            updated = connection.execute(
                checkpoints.update()
                .where(checkpoints.c.name == key)
                .where(sa.or_(checkpoints.c.value == owner, checkpoints.c.updated_at < expired_before))
                .values(value=owner, updated_at=_iso(now))
            )
            return updated.rowcount == 1

    def release_lease(self, name: str, owner: str) -> None:
        with self.write() as connection:
            connection.execute(
                checkpoints.delete()
                .where(checkpoints.c.name == LEASE_PREFIX + name)
                .where(checkpoints.c.value == owner)
            )
        held = self.held_locks.get(LEASE_PREFIX + name)
        if held is not None and held[0] == owner:
            held[1].release()
            del self.held_locks[LEASE_PREFIX + name]

    def lease_holder(self, name: str) -> tuple[str, str] | None:
        """(owner, last renewal) of the lease, or None."""
        with self.read() as connection:
            row = connection.execute(
                sa.select(checkpoints.c.value, checkpoints.c.updated_at).where(
                    checkpoints.c.name == LEASE_PREFIX + name
                )
            ).first()
        return (row[0], row[1]) if row else None

    def record_job_run(self, job: str, started_at: str, status: str, summary: str) -> int:
        """A finished run recorded at once (for quiet jobs that record only runs that did something)."""
        with self.write() as connection:
            result = connection.execute(
                job_runs.insert().values(
                    job=job, started_at=started_at, finished_at=utc_now_iso(), status=status, summary=summary
                )
            )
            return inserted_id(result)
