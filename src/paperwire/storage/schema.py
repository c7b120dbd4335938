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
)
sa.Index("ix_papers_listed_on_upvotes", papers.c.listed_on, papers.c.upvotes)
sa.Index("ix_papers_title_key", papers.c.title_key)
sa.Index("ix_papers_changed_at", papers.c.changed_at)

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
