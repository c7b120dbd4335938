"""Operations hardening (issue 13): arXiv fetches as jobs, outbox sender identities, the mail cap's index.

- arxiv_fetches: a /submit that needs arXiv is a row here, fetched in the background; the page polls it.
- mail_senders: who holds outbox leases (host, pid, process start time), so a rerun after a crash can
  tell a dead sender from a live one at once instead of waiting for the lease to lapse.
- ix_mail_outbox_kind_created: counts an address's recent mail for the per-address cap.

Revision ID: 0006
Revises: 0003, 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = ("0003", "0005")  # mail_outbox is made in 0003 (0005 only follows 0002)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "arxiv_fetches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("paper_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("updated_at", sa.String(27), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_arxiv_fetches_status", "arxiv_fetches", ["status", "id"])
    op.create_index("ix_arxiv_fetches_user_status", "arxiv_fetches", ["user_id", "status"])
    op.create_table(
        "mail_senders",
        sa.Column("worker", sa.String(40), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("process_start", sa.String(32), nullable=False),
        sa.Column("started_at", sa.String(27), nullable=False),
    )
    op.create_index("ix_mail_outbox_kind_created", "mail_outbox", ["kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_mail_outbox_kind_created", table_name="mail_outbox")
    op.drop_table("mail_senders")
    op.drop_index("ix_arxiv_fetches_user_status", table_name="arxiv_fetches")
    op.drop_index("ix_arxiv_fetches_status", table_name="arxiv_fetches")
    op.drop_table("arxiv_fetches")
