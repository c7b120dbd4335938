"""The tables, as SQLAlchemy Core metadata: what queries are written against (migrations create them)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

papers = sa.Table(
    "papers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False, server_default=""),
    sa.Column("authors", sa.Text, nullable=False, server_default="[]"),  # JSON list of names
    sa.Column("categories", sa.Text, nullable=False, server_default="[]"),  # JSON list, primary first
    sa.Column("primary_category", sa.String(32)),
    sa.Column("published_at", sa.String(20)),  # ISO 8601 UTC, sorts as text on every backend
    sa.Column("updated_at", sa.String(20)),
    sa.Column("listed_on", sa.String(10)),  # YYYY-MM-DD
    sa.Column("listed_from", sa.String(8), nullable=False, server_default="import"),
    sa.Column("submitted_by", sa.String(200)),
    sa.Column("upvotes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("comments", sa.Integer, nullable=False, server_default="0"),
    sa.Column("github_repo", sa.Text),
    sa.Column("github_stars", sa.Integer),
    sa.Column("project_page", sa.Text),
    sa.Column("keywords", sa.Text, nullable=False, server_default="[]"),
    sa.Column("comment", sa.Text),
    sa.Column("observed_at", sa.String(20)),
    sa.Column("title_key", sa.Text, nullable=False),
    sa.Column("changed_at", sa.String(27), nullable=False),  # last time this row changed (sync cursor)
    sa.Column("title_hash", sa.Integer, nullable=False, server_default="0"),  # of title_key, for its index
)
sa.Index("ix_papers_listed_on_upvotes", papers.c.listed_on, papers.c.upvotes)
sa.Index("ix_papers_title_hash", papers.c.title_hash)  # title lookups (storage/papers.py title_hash, 0100)
sa.Index("ix_papers_changed_at_id", papers.c.changed_at, papers.c.id)  # the sync cursor (0005)

paper_signals = sa.Table(
    "paper_signals",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("observed_at", sa.String(20), primary_key=True),
    sa.Column("upvotes", sa.Integer, nullable=False),
    sa.Column("comments", sa.Integer, nullable=False),
    sa.Column("github_stars", sa.Integer),
)

job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(64), nullable=False),
    sa.Column("started_at", sa.String(27), nullable=False),
    sa.Column("finished_at", sa.String(27)),
    sa.Column("status", sa.String(16), nullable=False),  # running | ok | failed | empty
    sa.Column("summary", sa.Text, nullable=False, server_default=""),
)
sa.Index("ix_job_runs_job_started", job_runs.c.job, job_runs.c.started_at)

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.String(27), nullable=False),
)

# ---- social: users, sign-in, votes, submissions, trending, rate limits (issue 6) ----------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),  # stored lower-cased
    sa.Column("name", sa.String(64), nullable=False, unique=True),  # display name: "Submitted by"
    sa.Column("created_at", sa.String(27), nullable=False),
)

login_tokens = sa.Table(
    "login_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # SHA-256 of the emailed token
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("created_at", sa.String(27), nullable=False),
    sa.Column("expires_at", sa.String(27), nullable=False),
    sa.Column("used_at", sa.String(27)),
)

user_sessions = sa.Table(
    "user_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # SHA-256 of the id in the signed cookie
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.String(27), nullable=False),
    sa.Column("expires_at", sa.String(27), nullable=False),
)

votes = sa.Table(
    "votes",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", sa.String(27), nullable=False),
)
sa.Index("ix_votes_user", votes.c.user_id)

submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("submitted_at", sa.String(27), nullable=False),
)

trending_scores = sa.Table(
    "trending_scores",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    # log2 of the score scaled to a fixed epoch: time alone never reorders papers (see trending.py)
    sa.Column("rank_key", sa.Float, nullable=False),
    sa.Column("computed_at", sa.String(27), nullable=False),
)
sa.Index("ix_trending_scores_rank_key", trending_scores.c.rank_key)

rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("bucket", sa.String(200), primary_key=True),  # limiter name + keyed hash of the key
    sa.Column("window", sa.BigInteger, primary_key=True),  # fixed window number
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),  # unix seconds: row can be deleted after
)

# ---- mail (subscribers, outbox, per-subscriber paper history) ------------------------------------

subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False),  # as validated (ASCII form)
    sa.Column("email_key", sa.String(320), nullable=False, unique=True),  # lower-cased, for lookups
    sa.Column("status", sa.String(16), nullable=False),  # pending | confirmed | unsubscribed | bouncing
    sa.Column("cadence", sa.String(8), nullable=False),  # daily | weekly | monthly
    sa.Column("interests", sa.Text, nullable=False, server_default="{}"),  # JSON: topics, categories …
    sa.Column("max_papers", sa.Integer, nullable=False, server_default="10"),
    sa.Column("nonce", sa.String(32), nullable=False),  # in every token: a new nonce revokes old links
    sa.Column("created_at", sa.String(27), nullable=False),
    sa.Column("updated_at", sa.String(27), nullable=False),
    sa.Column("consent_at", sa.String(27)),
    sa.Column("consent_source", sa.String(32)),  # double-opt-in | import --confirmed
    sa.Column("confirmation_sent_at", sa.String(27)),
    sa.Column("unsubscribed_at", sa.String(27)),
    sa.Column("bounce_count", sa.Integer, nullable=False, server_default="0"),
    sqlite_autoincrement=True,
)
sa.Index("ix_subscribers_status_cadence", subscribers.c.status, subscribers.c.cadence, subscribers.c.id)

mail_outbox = sa.Table(
    "mail_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # digest | transactional
    sa.Column("subscriber_id", sa.Integer),
    sa.Column("cadence", sa.String(8)),
    sa.Column("period_label", sa.String(16)),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON: the digest's selection, or the mail's text
    sa.Column("message_id", sa.String(200), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # queued | sending | sent | failed | expired | cancelled
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.String(27), nullable=False),
    sa.Column("deadline_at", sa.String(27), nullable=False),
    sa.Column("lease_until", sa.String(27)),
    sa.Column("claimed_by", sa.String(40)),
    sa.Column("last_error", sa.Text),
    sa.Column("run_id", sa.Integer),
    sa.Column("created_at", sa.String(27), nullable=False),
    sa.Column("sent_at", sa.String(27)),
    # Exactly one digest per subscriber, cadence and period (transactional rows have NULLs: no clash).
    sa.UniqueConstraint("subscriber_id", "cadence", "period_label", name="uq_mail_outbox_digest"),
    sqlite_autoincrement=True,
)
sa.Index("ix_mail_outbox_status_next", mail_outbox.c.status, mail_outbox.c.kind, mail_outbox.c.next_attempt_at)
sa.Index("ix_mail_outbox_run", mail_outbox.c.run_id)

mail_paper_history = sa.Table(
    "mail_paper_history",
    metadata,
    sa.Column("subscriber_id", sa.Integer, primary_key=True),
    sa.Column("paper_id", sa.String(64), primary_key=True),
    sa.Column("period_label", sa.String(16), nullable=False),
)

# ---- search (issue 4) ---------------------------------------------------------------------------

paper_embeddings = sa.Table(
    "paper_embeddings",
    metadata,
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("model", sa.String(200), primary_key=True),  # the embedder's name: a new model re-embeds
    sa.Column("text_hash", sa.String(16), nullable=False),  # of the embedded text: unchanged text is kept
    sa.Column("dimensions", sa.Integer, nullable=False),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # little-endian float16
    sa.Column("paper_changed_at", sa.String(27), nullable=False),  # papers.changed_at when last checked
    sa.Column("changed_at", sa.String(27), nullable=False),  # when the vector was written (sync cursor)
)
sa.Index(
    "ix_paper_embeddings_model_changed_id", paper_embeddings.c.model, paper_embeddings.c.changed_at,
    paper_embeddings.c.paper_id,
)  # fmt: skip

# ---- operations hardening (issue 13; migration 0006) --------------------------------------------

arxiv_fetches = sa.Table(  # a /submit that needs arXiv, fetched in the background
    "arxiv_fetches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("paper_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer),
    sa.Column("status", sa.String(12), nullable=False),  # queued | fetching | done | failed
    sa.Column("message", sa.Text),  # why it failed, or what was done
    sa.Column("created_at", sa.String(27), nullable=False),
    sa.Column("updated_at", sa.String(27), nullable=False),
    sqlite_autoincrement=True,
)
sa.Index("ix_arxiv_fetches_status", arxiv_fetches.c.status, arxiv_fetches.c.id)
sa.Index("ix_arxiv_fetches_user_status", arxiv_fetches.c.user_id, arxiv_fetches.c.status)

mail_senders = sa.Table(  # who holds outbox leases: a rerun tells dead senders from live ones at once
    "mail_senders",
    metadata,
    sa.Column("worker", sa.String(40), primary_key=True),  # mail_outbox.claimed_by
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("process_start", sa.String(32), nullable=False),  # tells a reused pid from the holder
    sa.Column("started_at", sa.String(27), nullable=False),
)
sa.Index("ix_mail_outbox_kind_created", mail_outbox.c.kind, mail_outbox.c.created_at)  # the mail cap

# ---- library and "For you" (issue 15) ----------------------------------------------------------

_USER = "users.id"

library_saves = sa.Table(
    "library_saves",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey(_USER, ondelete="CASCADE"), primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", sa.String(27), nullable=False),
)
sa.Index("ix_library_saves_paper", library_saves.c.paper_id)  # who kept a paper (similar papers' "also kept")

collections = sa.Table(
    "collections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey(_USER, ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()),  # private by default
    sa.Column("created_at", sa.String(27), nullable=False),
    sa.Column("updated_at", sa.String(27), nullable=False),
    sa.UniqueConstraint("user_id", "name", name="uq_collections_user_name"),
)

collection_papers = sa.Table(
    "collection_papers",
    metadata,
    sa.Column("collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("added_at", sa.String(27), nullable=False),
)
sa.Index("ix_collection_papers_paper", collection_papers.c.paper_id)

# Imported entries not (yet) in the catalogue: kept, and resolved when the paper arrives (arXiv source).
library_references = sa.Table(
    "library_references",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey(_USER, ondelete="CASCADE"), nullable=False),
    sa.Column("collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="SET NULL")),
    sa.Column("arxiv_id", sa.String(64)),
    sa.Column("doi", sa.String(300)),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("authors", sa.Text, nullable=False, server_default="[]"),  # JSON list of names
    sa.Column("year", sa.String(8)),
    sa.Column("citation_key", sa.String(200)),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="SET NULL")),  # set once resolved
    sa.Column("created_at", sa.String(27), nullable=False),
)
sa.Index("ix_library_references_user", library_references.c.user_id)
sa.Index("ix_library_references_arxiv", library_references.c.arxiv_id)

not_interested = sa.Table(
    "not_interested",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey(_USER, ondelete="CASCADE"), primary_key=True),
    sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", sa.String(27), nullable=False),
)

followed_authors = sa.Table(
    "followed_authors",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey(_USER, ondelete="CASCADE"), primary_key=True),
    sa.Column("author_key", sa.String(300), primary_key=True),  # the name case- and accent-folded
    sa.Column("name", sa.String(300), nullable=False),  # as listed on the paper
    sa.Column("created_at", sa.String(27), nullable=False),
)

# One row per reader: the feedback version (bumped by every signal), the model fitted at model_version,
# and the hash of the private feed token.
reader_models = sa.Table(
    "reader_models",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey(_USER, ondelete="CASCADE"), primary_key=True),
    sa.Column("feedback_version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("model_version", sa.Integer),
    sa.Column("model", sa.LargeBinary),
    sa.Column("fitted_at", sa.String(27)),
    sa.Column("feed_token_hash", sa.String(64), unique=True),
)

# A reader's ranked period, stored so the "For you" page is one row read.
reader_rankings = sa.Table(
    "reader_rankings",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey(_USER, ondelete="CASCADE"), primary_key=True),
    sa.Column("period_label", sa.String(16), primary_key=True),  # 2025-06-10 | 2025-W24 | 2025-06
    sa.Column("feedback_version", sa.Integer, nullable=False),
    sa.Column("catalogue_stamp", sa.String(80), nullable=False),  # the period's papers when ranked
    sa.Column("items", sa.Text, nullable=False),  # JSON [[paper_id, score, reason], …] best first
    sa.Column("computed_at", sa.String(27), nullable=False),
)

# Models learned from the whole catalogue (not per reader), e.g. the "For you" term embedding learned from
# papers that share an author (recommend/learned.py); every node reads the same row.
catalogue_models = sa.Table(
    "catalogue_models",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("model", sa.LargeBinary, nullable=False),
    sa.Column("papers", sa.Integer, nullable=False),  # catalogue papers it was trained on
    sa.Column("trained_at", sa.String(27), nullable=False),  # also its version: readers reload when it changes
)
