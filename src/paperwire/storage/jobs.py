"""Job runs and checkpoints: what ran when and how it ended; where a resumable job stopped."""

from __future__ import annotations

import sqlalchemy as sa

from paperwire.models import utc_now_iso
from paperwire.storage.core import StoreCore, inserted_id
from paperwire.storage.schema import checkpoints, job_runs


class JobQueries(StoreCore):
    """Mixed into Store."""

    def start_job_run(self, job: str) -> int:
        with self.write() as connection:
            result = connection.execute(job_runs.insert().values(job=job, started_at=utc_now_iso(), status="running"))
            return inserted_id(result)

    def finish_job_run(self, run_id: int, status: str, summary: str) -> None:
        with self.write() as connection:
            connection.execute(
                job_runs.update()
                .where(job_runs.c.id == run_id)
                .values(finished_at=utc_now_iso(), status=status, summary=summary)
            )

    def recent_job_runs(self, limit: int = 20, job: str | None = None) -> list[dict]:
        query = sa.select(job_runs).order_by(job_runs.c.id.desc()).limit(limit)
        if job:
            query = query.where(job_runs.c.job == job)
        with self.read() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def last_job_failures(self) -> dict[str, dict]:
        """The most recent failed run of each job: {job: {"started_at", "summary"}} (for `paperwire status`)."""
        latest = (
            sa.select(job_runs.c.job, sa.func.max(job_runs.c.id).label("id"))
            .where(job_runs.c.status == "failed")
            .group_by(job_runs.c.job)
            .subquery()
        )
        query = sa.select(job_runs.c.job, job_runs.c.started_at, job_runs.c.summary).join(
            latest, latest.c.id == job_runs.c.id
        )
        with self.read() as connection:
            return {
                row.job: {"started_at": row.started_at, "summary": row.summary} for row in connection.execute(query)
            }

    def job_run_counts(self) -> dict[tuple[str, str], int]:
        """How many runs each job has had, by outcome: {(job, status): count} (for /metrics)."""
        query = sa.select(job_runs.c.job, job_runs.c.status, sa.func.count()).group_by(
            job_runs.c.job, job_runs.c.status
        )
        with self.read() as connection:
            return {(job, status): count for job, status, count in connection.execute(query)}

    def get_checkpoint(self, name: str) -> str | None:
        with self.read() as connection:
            return connection.execute(
                sa.select(checkpoints.c.value).where(checkpoints.c.name == name)
            ).scalar_one_or_none()

    def set_checkpoint(self, name: str, value: str, connection: sa.Connection | None = None) -> None:
        """Store a checkpoint; pass `connection` to make it part of a larger transaction."""
        statement = self.insert(checkpoints).values(name=name, value=value, updated_at=utc_now_iso())
        statement = statement.on_conflict_do_update(
            index_elements=[checkpoints.c.name],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )
        if connection is not None:
            connection.execute(statement)
            return
        with self.write() as own:
            own.execute(statement)
