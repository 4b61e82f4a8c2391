"""The dashboard's events per provider over time: an index on inbox_events (account, received_at, provider).

Revision ID: 0011_dashboard
Revises: 0010_request_ids
Create Date: 2026-12-04
"""
from alembic import op


revision = '0011_dashboard'
down_revision = '0010_request_ids'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_inbox_events_account_received', 'inbox_events', ['account_id', 'received_at', 'provider'])


def downgrade() -> None:
    op.drop_index('ix_inbox_events_account_received', table_name='inbox_events')
