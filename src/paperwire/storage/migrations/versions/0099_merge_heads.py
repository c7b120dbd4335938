"""Merge: one head again. Joins the branches that each started from an earlier revision (mail, social,
search cursors); later branches are added to `down_revision` when they merge. No schema change.

Revision ID: 0099
Revises: 0006, 0007
"""

revision = "0099"
down_revision = ("0006", "0007")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
