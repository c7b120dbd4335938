"""Library and "For you": saves, collections, references, "not interested", followed authors, reader models
and stored rankings per reader and period (issue 15).

Revision ID: 0007
Revises: 0004, 0005 (0004 makes the users table)
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = ("0004", "0005")
branch_labels = None
depends_on = None


def user_key() -> sa.ForeignKey:
    return sa.ForeignKey("users.id", ondelete="CASCADE")


def paper_key() -> sa.ForeignKey:
    return sa.ForeignKey("papers.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "library_saves",
        sa.Column("user_id", sa.Integer, user_key(), primary_key=True),
        sa.Column("paper_id", sa.String(64), paper_key(), primary_key=True),
        sa.Column("created_at", sa.String(27), nullable=False),
    )
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, user_key(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("updated_at", sa.String(27), nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_collections_user_name"),
    )
    op.create_table(
        "collection_papers",
        sa.Column("collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("paper_id", sa.String(64), paper_key(), primary_key=True),
        sa.Column("added_at", sa.String(27), nullable=False),
    )
    op.create_index("ix_collection_papers_paper", "collection_papers", ["paper_id"])
    op.create_table(
        "library_references",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, user_key(), nullable=False),
        sa.Column("collection_id", sa.Integer, sa.ForeignKey("collections.id", ondelete="SET NULL")),
        sa.Column("arxiv_id", sa.String(64)),
        sa.Column("doi", sa.String(300)),
        sa.Column("title", sa.Text, nullable=False, server_default=""),
        sa.Column("authors", sa.Text, nullable=False, server_default="[]"),
        sa.Column("year", sa.String(8)),
        sa.Column("citation_key", sa.String(200)),
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.String(27), nullable=False),
    )
    op.create_index("ix_library_references_user", "library_references", ["user_id"])
    op.create_index("ix_library_references_arxiv", "library_references", ["arxiv_id"])
    op.create_table(
        "not_interested",
        sa.Column("user_id", sa.Integer, user_key(), primary_key=True),
        sa.Column("paper_id", sa.String(64), paper_key(), primary_key=True),
        sa.Column("created_at", sa.String(27), nullable=False),
    )
    op.create_table(
        "followed_authors",
        sa.Column("user_id", sa.Integer, user_key(), primary_key=True),
        sa.Column("author_key", sa.String(300), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
    )
    op.create_table(
        "reader_models",
        sa.Column("user_id", sa.Integer, user_key(), primary_key=True),
        sa.Column("feedback_version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("model_version", sa.Integer),
        sa.Column("model", sa.LargeBinary),
        sa.Column("fitted_at", sa.String(27)),
        sa.Column("feed_token_hash", sa.String(64), unique=True),
    )
    op.create_table(
        "reader_rankings",
        sa.Column("user_id", sa.Integer, user_key(), primary_key=True),
        sa.Column("period_label", sa.String(16), primary_key=True),
        sa.Column("feedback_version", sa.Integer, nullable=False),
        sa.Column("catalogue_stamp", sa.String(80), nullable=False),
        sa.Column("items", sa.Text, nullable=False),
        sa.Column("computed_at", sa.String(27), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "reader_rankings", "reader_models", "followed_authors", "not_interested", "library_references",
        "collection_papers", "collections", "library_saves",
    ):  # fmt: skip
        op.drop_table(table)
