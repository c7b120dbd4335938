"""Search: indexes that let the index sync's keyset cursor seek instead of scan.

Every node follows papers and paper_embeddings by (changed_at, key) every few seconds; with an index
on changed_at alone the (changed_at, key) > (cursor) condition read every row stamped at the cursor's
instant or scanned (SQLite: ≈ 90 ms per sync at 1M papers, nothing new). Both indexes now end in the key.

Revision ID: 0005
Revises: 0002
"""

from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_papers_changed_at_id", "papers", ["changed_at", "id"])
    op.drop_index("ix_papers_changed_at", table_name="papers")
    op.create_index(
        "ix_paper_embeddings_model_changed_id", "paper_embeddings", ["model", "changed_at", "paper_id"]
    )  # fmt: skip
    op.drop_index("ix_paper_embeddings_model_changed", table_name="paper_embeddings")


def downgrade() -> None:
    op.create_index("ix_paper_embeddings_model_changed", "paper_embeddings", ["model", "changed_at"])
    op.drop_index("ix_paper_embeddings_model_changed_id", table_name="paper_embeddings")
    op.create_index("ix_papers_changed_at", "papers", ["changed_at"])
    op.drop_index("ix_papers_changed_at_id", table_name="papers")
