"""Request ids: the inbox row keeps the id of the request (or SQS message) that brought it.

inbox_events.request_id: the receiver's X-Request-Id (or the one it made), the SQS
MessageId for the poller's rows; NULL for rows stored before, and for the tracker's own.

Revision ID: 0010_request_ids
Revises: 0009
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_request_ids'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('inbox_events', sa.Column('request_id', sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('inbox_events') as table:
        table.drop_column('request_id')
