"""The paper catalogue: papers, their signal history, job runs and checkpoints.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False, server_default=""),
        sa.Column("authors", sa.Text, nullable=False, server_default="[]"),
        sa.Column("categories", sa.Text, nullable=False, server_default="[]"),
        sa.Column("primary_category", sa.String(32)),
        sa.Column("published_at", sa.String(20)),
        sa.Column("updated_at", sa.String(20)),
        sa.Column("listed_on", sa.String(10)),
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
        sa.Column("changed_at", sa.String(27), nullable=False),
    )
    op.create_index("ix_papers_listed_on_upvotes", "papers", ["listed_on", "upvotes"])
    op.create_index("ix_papers_title_key", "papers", ["title_key"])
    op.create_index("ix_papers_changed_at", "papers", ["changed_at"])
    op.create_table(
        "paper_signals",
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("observed_at", sa.String(20), primary_key=True),
        sa.Column("upvotes", sa.Integer, nullable=False),
        sa.Column("comments", sa.Integer, nullable=False),
        sa.Column("github_stars", sa.Integer),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("started_at", sa.String(27), nullable=False),
        sa.Column("finished_at", sa.String(27)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_job_runs_job_started", "job_runs", ["job", "started_at"])
    op.create_table(
        "checkpoints",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.String(27), nullable=False),
    )


def downgrade() -> None:
    for table in ("checkpoints", "job_runs", "paper_signals", "papers"):
        op.drop_table(table)
