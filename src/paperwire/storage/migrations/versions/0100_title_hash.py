"""Papers: the title index holds a 31-bit hash of the normalised title instead of the title itself.

An index of whole titles (≈ 80 characters each, inserted in random order) was a third of an import's
database time; lookups by title now seek the hash and compare the title (storage/papers.py title_hash).

Revision ID: 0100
Revises: 0099
"""

import zlib

import sqlalchemy as sa
from alembic import op

revision = "0100"
down_revision = "0099"
branch_labels = None
depends_on = None

papers = sa.table("papers", sa.column("id", sa.String), sa.column("title_key", sa.Text), sa.column("title_hash"))


def upgrade() -> None:
    op.add_column("papers", sa.Column("title_hash", sa.Integer, nullable=False, server_default="0"))
    connection = op.get_bind()
    update = papers.update().where(papers.c.id == sa.bindparam("key")).values(title_hash=sa.bindparam("hash"))
    last = ""
    while True:  # in pages of 5,000, by id
        rows = connection.execute(
            sa.select(papers.c.id, papers.c.title_key).where(papers.c.id > last).order_by(papers.c.id).limit(5000)
        ).all()
        if not rows:
            break
        # (the same function as storage/papers.py title_hash, written out: a migration must not change later)
        connection.execute(update, [{"key": id_, "hash": zlib.crc32(key.encode()) & 0x7FFFFFFF} for id_, key in rows])
        last = rows[-1][0]
    op.create_index("ix_papers_title_hash", "papers", ["title_hash"])
    op.drop_index("ix_papers_title_key", table_name="papers")


def downgrade() -> None:
    op.create_index("ix_papers_title_key", "papers", ["title_key"])
    op.drop_index("ix_papers_title_hash", table_name="papers")
    with op.batch_alter_table("papers") as batch:
        batch.drop_column("title_hash")
