"""Merge: one head again. Joins the branches that each started from an earlier revision (mail, social,
search cursors); later branches are added to `down_revision` when they merge. No schema change.

Revision ID: 0099
Revises: 0004, 0006
"""

revision = "0099"
down_revision = ("0004", "0006")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
