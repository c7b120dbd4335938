"""Search: stored paper embeddings, one row per (paper, model).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_embeddings",
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("text_hash", sa.String(16), nullable=False),
        sa.Column("dimensions", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("paper_changed_at", sa.String(27), nullable=False),
        sa.Column("changed_at", sa.String(27), nullable=False),
    )
    op.create_index("ix_paper_embeddings_model_changed", "paper_embeddings", ["model", "changed_at"])


def downgrade() -> None:
    op.drop_table("paper_embeddings")
