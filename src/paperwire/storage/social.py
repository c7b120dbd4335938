"""Social queries: users and sign-in, sessions, votes, submissions, rate limits (trending: storage/trending.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from paperwire.models import Paper, utc_now_iso
from paperwire.storage.core import StoreCore
from paperwire.storage.papers import SELECT_PAPERS, PaperPage, listed_in, read_page, row_to_paper
from paperwire.storage.records import UserRecord, user_record
from paperwire.storage.schema import (
    login_tokens,
    paper_signals,
    papers,
    rate_limits,
    submissions,
    user_sessions,
    users,
    votes,
)  # fmt: skip

# Built once: what every signed-in page asks (SQLAlchemy then only looks up the compiled form).
SESSION_USER = (
    sa.select(users)
    .join(user_sessions, user_sessions.c.user_id == users.c.id)
    .where(user_sessions.c.id_hash == sa.bindparam("id_hash"), user_sessions.c.expires_at > sa.bindparam("now"))
)
VOTED_AMONG = sa.select(votes.c.paper_id).where(
    votes.c.user_id == sa.bindparam("user_id"), votes.c.paper_id.in_(sa.bindparam("paper_ids", expanding=True))
)
# The session's user with each of their votes (one row per vote; one row with no vote): one round trip.
SESSION_READER = (
    sa.select(*users.c, votes.c.paper_id.label("voted"))
    .select_from(user_sessions.join(users, user_sessions.c.user_id == users.c.id))
    .outerjoin(votes, votes.c.user_id == users.c.id)
    .where(user_sessions.c.id_hash == sa.bindparam("id_hash"), user_sessions.c.expires_at > sa.bindparam("now"))
    .limit(sa.bindparam("limit"))
)
READER_VOTES_AT_ONCE = 1_000  # a reader with more votes is asked about the page's papers only


class AlreadySubmitted(ValueError):
    """The paper is already on the daily list with a submitter."""


def signal_time(moment: datetime | None = None) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ`: the form of paper_signals.observed_at."""
    return (moment or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _name_from_email(email: str) -> str:
    local = email.split("@", 1)[0]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "", local)[:40]
    return name or "reader"


class SocialQueries(StoreCore):
    """Mixed into Store."""

    # ---- rate limits ------------------------------------------------------------------------

    def count_rate_hit(self, bucket: str, window: int, *, expires_at: int) -> int:
        """Add one hit to (bucket, window) and return the window's count, atomically."""
        statement = self.insert(rate_limits).values(bucket=bucket, window=window, hits=1, expires_at=expires_at)
        statement = statement.on_conflict_do_update(
            index_elements=[rate_limits.c.bucket, rate_limits.c.window],
            set_={"hits": rate_limits.c.hits + 1},
        )
        with self.write() as connection:
            connection.execute(statement)
            hits = connection.execute(
                sa.select(rate_limits.c.hits).where(rate_limits.c.bucket == bucket, rate_limits.c.window == window)
            ).scalar_one()
            if hits == 1:  # a new window: forget the expired ones (cheap, bounded by the number of keys)
                connection.execute(rate_limits.delete().where(rate_limits.c.expires_at < expires_at - 86400))
        return hits

    # ---- users and sign-in ------------------------------------------------------------------

    def get_user(self, user_id: int) -> UserRecord | None:
        with self.read() as connection:
            row = connection.execute(sa.select(users).where(users.c.id == user_id)).mappings().first()
        return user_record(row) if row else None

    def get_user_by_email(self, email: str) -> UserRecord | None:
        with self.read() as connection:
            row = connection.execute(sa.select(users).where(users.c.email == email.lower())).mappings().first()
        return user_record(row) if row else None

    def ensure_user(self, email: str, name: str | None = None) -> UserRecord:
        """The user with this address, created on first sign-in with a unique display name."""
        email = email.strip().lower()
        base = (name or _name_from_email(email))[:40]
        for attempt in range(5):  # two first sign-ins may race for the same name: take the next one
            existing = self.get_user_by_email(email)
            if existing:
                return existing
            with self.write() as connection:
                # Names are unique regardless of case: "Sam" and "sam" would be the same person to a reader.
                similar = sa.select(users.c.name).where(sa.func.lower(users.c.name).like(f"{base.lower()}%"))
                taken = {taken_name.lower() for taken_name in connection.execute(similar).scalars()}
                candidate, suffix = base, 1 + attempt
                while candidate.lower() in taken:
                    suffix += 1
                    candidate = f"{base}{suffix}"
                connection.execute(
                    self.insert(users)
                    .values(email=email, name=candidate, created_at=utc_now_iso())
                    .on_conflict_do_nothing()
                )
        user = self.get_user_by_email(email)
        if user is None:
            raise RuntimeError(f"could not create a user for {email!r}")
        return user

    def create_login_token(self, token_hash: str, email: str, expires_at: str) -> None:
        with self.write() as connection:
            connection.execute(
                login_tokens.insert().values(
                    token_hash=token_hash, email=email.strip().lower(), created_at=utc_now_iso(), expires_at=expires_at
                )
            )

    def peek_login_token(self, token_hash: str, now: str) -> str | None:
        """The address of a usable (unexpired, unused) token, without using it up."""
        with self.read() as connection:
            return connection.execute(
                sa.select(login_tokens.c.email).where(
                    login_tokens.c.token_hash == token_hash,
                    login_tokens.c.used_at.is_(None),
                    login_tokens.c.expires_at > now,
                )
            ).scalar_one_or_none()

    def consume_login_token(self, token_hash: str, now: str) -> str | None:
        """Mark an unexpired, unused token used and return its address; None otherwise (single use)."""
        with self.write() as connection:
            return connection.execute(
                login_tokens.update()
                .where(
                    login_tokens.c.token_hash == token_hash,
                    login_tokens.c.used_at.is_(None),
                    login_tokens.c.expires_at > now,
                )
                .values(used_at=now)
                .returning(login_tokens.c.email)
            ).scalar_one_or_none()

    def create_session(self, id_hash: str, user_id: int, expires_at: str) -> None:
        with self.write() as connection:
            connection.execute(
                user_sessions.insert().values(
                    id_hash=id_hash, user_id=user_id, created_at=utc_now_iso(), expires_at=expires_at
                )
            )

    def session_user(self, id_hash: str, now: str) -> UserRecord | None:
        with self.read() as connection:
            row = connection.execute(SESSION_USER, {"id_hash": id_hash, "now": now}).mappings().first()
        return user_record(row) if row else None

    def session_reader(
        self, id_hash: str, now: str, paper_ids: Iterable[str] | None
    ) -> tuple[UserRecord | None, set[str] | None]:
        """The session's signed-in user and which of `paper_ids` they have upvoted (None: all their votes, or
        None when they have more than READER_VOTES_AT_ONCE): what a signed-in reader's list page needs of the
        database besides the catalogue, in one query for most readers."""
        parameters = {"id_hash": id_hash, "now": now, "limit": READER_VOTES_AT_ONCE + 1}
        if self.quick_reads is not None:
            rows = self.quick_reads.rows(SESSION_READER, parameters)
        else:
            with self.read() as connection:
                rows = [tuple(row) for row in connection.execute(SESSION_READER, parameters)]
        if not rows:
            return None, set()
        user = user_record(dict(zip(users.c.keys(), rows[0][:-1], strict=True)))
        if len(rows) <= READER_VOTES_AT_ONCE:
            voted = {row[-1] for row in rows if row[-1] is not None}
            return user, voted if paper_ids is None else voted.intersection(paper_ids)
        if paper_ids is None:
            return user, None
        return user, self.voted_paper_ids(user["id"], paper_ids)

    def delete_session(self, id_hash: str) -> None:
        with self.write() as connection:
            connection.execute(user_sessions.delete().where(user_sessions.c.id_hash == id_hash))

    # ---- votes ------------------------------------------------------------------------------

    def set_vote(self, paper_id: str, user_id: int, up: bool) -> tuple[bool, int]:
        """Add (up) or withdraw a user's vote; returns (voted now, the paper's upvotes).

        The paper's count moves in the same transaction, and a signal row records the new count so
        trending sees local votes like imported ones."""
        with self.write(papers=True) as connection:
            # RETURNING tells whether a row was added or removed (rowcount is not reliable on every driver).
            if up:
                changed = connection.execute(
                    self.insert(votes)
                    .values(paper_id=paper_id, user_id=user_id, created_at=utc_now_iso())
                    .on_conflict_do_nothing()
                    .returning(votes.c.paper_id)
                ).first()
                delta = 1 if changed else 0
            else:
                changed = connection.execute(
                    votes.delete()
                    .where(votes.c.paper_id == paper_id, votes.c.user_id == user_id)
                    .returning(votes.c.paper_id)
                ).first()
                delta = -1 if changed else 0
            if delta:
                connection.execute(
                    papers.update()
                    .where(papers.c.id == paper_id)
                    .values(
                        upvotes=sa.case((papers.c.upvotes + delta < 0, 0), else_=papers.c.upvotes + delta),
                        changed_at=utc_now_iso(),
                    )
                )
            row = connection.execute(
                sa.select(papers.c.upvotes, papers.c.comments, papers.c.github_stars).where(papers.c.id == paper_id)
            ).first()
            if delta and row is not None:
                seen = connection.execute(
                    sa.select(paper_signals.c.paper_id).where(paper_signals.c.paper_id == paper_id).limit(1)
                ).first()
                if seen is None:  # first signal: record the count before this vote, so only the vote is growth
                    before = datetime.now(timezone.utc) - timedelta(seconds=1)
                    connection.execute(
                        self.insert(paper_signals).values(
                            paper_id=paper_id, observed_at=signal_time(before), upvotes=row.upvotes - delta,
                            comments=row.comments, github_stars=row.github_stars,
                        ).on_conflict_do_nothing()
                    )  # fmt: skip
                statement = self.insert(paper_signals).values(
                    paper_id=paper_id, observed_at=signal_time(), upvotes=row.upvotes,
                    comments=row.comments, github_stars=row.github_stars,
                )  # fmt: skip
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=[paper_signals.c.paper_id, paper_signals.c.observed_at],
                        set_={"upvotes": statement.excluded.upvotes},
                    )
                )
        return up, row.upvotes if row is not None else 0

    def all_voted_paper_ids(self, user_id: int, limit: int) -> set[str] | None:
        """Every paper the user has upvoted, in one query; None when there are more than `limit`."""
        with self.read() as connection:
            found = set(
                connection.execute(
                    sa.select(votes.c.paper_id).where(votes.c.user_id == user_id).limit(limit + 1)
                ).scalars()
            )
        return found if len(found) <= limit else None

    def voted_paper_ids(self, user_id: int, paper_ids: Iterable[str]) -> set[str]:
        ids = list(paper_ids)
        if not ids:
            return set()
        with self.read() as connection:
            return set(connection.execute(VOTED_AMONG, {"user_id": user_id, "paper_ids": ids}).scalars())

    def count_votes(self, paper_id: str) -> int:
        """Votes cast on this instance (the paper's upvotes also include imported ones)."""
        with self.read() as connection:
            return connection.execute(
                sa.select(sa.func.count()).select_from(votes).where(votes.c.paper_id == paper_id)
            ).scalar_one()

    # ---- submissions ------------------------------------------------------------------------

    def submit_paper(self, paper: Paper, user: UserRecord, day: str) -> Paper:
        """Put `paper` on the daily list of `day`, submitted by `user`; a paper is submitted once."""
        self.upsert_papers([paper])
        with self.write(papers=True) as connection:
            row = connection.execute(sa.select(papers.c.submitted_by).where(papers.c.id == paper.id)).first()
            submitted = connection.execute(
                sa.select(submissions.c.paper_id).where(submissions.c.paper_id == paper.id)
            ).first()
            if submitted or (row and row.submitted_by):
                raise AlreadySubmitted(
                    f"{paper.id} is already on the daily list"
                    + (f", submitted by {row.submitted_by}." if row and row.submitted_by else ".")
                )
            added = connection.execute(
                self.insert(submissions)
                .values(paper_id=paper.id, user_id=user["id"], submitted_at=utc_now_iso())
                .on_conflict_do_nothing()
                .returning(submissions.c.paper_id)
            ).first()
            if added is None:  # another submission of the same paper won the race
                raise AlreadySubmitted(f"{paper.id} is already on the daily list.")
            connection.execute(
                papers.update()
                .where(papers.c.id == paper.id)
                .values(submitted_by=user["name"], listed_on=day, listed_from="hf", changed_at=utc_now_iso())
            )
        stored = self.get_paper(paper.id)
        if stored is None:  # the row was written in the transaction above
            raise RuntimeError(f"{paper.id} vanished after its submission")
        return stored

    def papers_listed_latest_first(
        self, first_day: str, last_day: str, *, limit: int, offset: int, submitter: str | None = None
    ) -> PaperPage:
        """A period's papers, the latest listed day first, most upvoted first within a day."""
        condition = listed_in(first_day, last_day, submitter)
        query = (
            SELECT_PAPERS.where(condition)
            .order_by(papers.c.listed_on.desc(), papers.c.upvotes.desc(), papers.c.id)
            .limit(limit)
            .offset(offset)
        )
        with self.read() as connection:
            return read_page(connection, query, condition)

    def papers_with_title_like(self, text: str, *, limit: int) -> list[Paper]:
        """Papers whose title contains `text` (case-insensitive), most upvoted first: the fallback search."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = (
            SELECT_PAPERS.where(papers.c.title.ilike(pattern, escape="\\"))
            .order_by(papers.c.upvotes.desc(), papers.c.id)
            .limit(limit)
        )
        with self.read() as connection:
            return [row_to_paper(row) for row in connection.execute(query).mappings()]
