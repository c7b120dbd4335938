"""Models learned from the whole catalogue: the "For you" term embedding learned from papers that share an
author (issue 15, recommend/learned.py).

Revision ID: 0101
Revises: 0100 (the title hash)
"""

import sqlalchemy as sa
from alembic import op

revision = "0101"
down_revision = "0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalogue_models",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("model", sa.LargeBinary, nullable=False),
        sa.Column("papers", sa.Integer, nullable=False),
        sa.Column("trained_at", sa.String(27), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("catalogue_models")
