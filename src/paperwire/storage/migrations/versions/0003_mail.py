"""Mail: subscribers, the outbox, and which papers each subscriber already received.

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_key", sa.String(320), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cadence", sa.String(8), nullable=False),
        sa.Column("interests", sa.Text, nullable=False, server_default="{}"),
        sa.Column("max_papers", sa.Integer, nullable=False, server_default="10"),
        sa.Column("nonce", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("updated_at", sa.String(27), nullable=False),
        sa.Column("consent_at", sa.String(27)),
        sa.Column("consent_source", sa.String(32)),
        sa.Column("confirmation_sent_at", sa.String(27)),
        sa.Column("unsubscribed_at", sa.String(27)),
        sa.Column("bounce_count", sa.Integer, nullable=False, server_default="0"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_subscribers_status_cadence", "subscribers", ["status", "cadence", "id"])
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subscriber_id", sa.Integer),
        sa.Column("cadence", sa.String(8)),
        sa.Column("period_label", sa.String(16)),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.String(27), nullable=False),
        sa.Column("deadline_at", sa.String(27), nullable=False),
        sa.Column("lease_until", sa.String(27)),
        sa.Column("claimed_by", sa.String(40)),
        sa.Column("last_error", sa.Text),
        sa.Column("run_id", sa.Integer),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("sent_at", sa.String(27)),
        sa.UniqueConstraint("subscriber_id", "cadence", "period_label", name="uq_mail_outbox_digest"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_mail_outbox_status_next", "mail_outbox", ["status", "kind", "next_attempt_at"])
    op.create_index("ix_mail_outbox_run", "mail_outbox", ["run_id"])
    op.create_table(
        "mail_paper_history",
        sa.Column("subscriber_id", sa.Integer, primary_key=True),
        sa.Column("paper_id", sa.String(64), primary_key=True),
        sa.Column("period_label", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    for table in ("mail_paper_history", "mail_outbox", "subscribers"):
        op.drop_table(table)
