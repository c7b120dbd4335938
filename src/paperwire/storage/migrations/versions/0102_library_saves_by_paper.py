"""Saves found by paper: similar papers' "readers who kept it also kept" starts from the readers who kept a
paper (issue 17; votes and collection members had their index by paper already).

Revision ID: 0102
Revises: 0101 (catalogue models)
"""

from alembic import op

revision = "0102"
down_revision = "0101"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_library_saves_paper", "library_saves", ["paper_id"])


def downgrade() -> None:
    op.drop_index("ix_library_saves_paper", table_name="library_saves")
