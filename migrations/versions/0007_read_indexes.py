"""Indexes for the compatible read APIs at depth: Elevate's default order, unreported pull reports.


Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# Written out rather than imported: a migration keeps the schema of its day.
UNREPORTED = ("status_sequence > reported_sequence AND status IN "
              "('DELIVERED', 'OPENED', 'ERROR', 'BOUNCED', 'COMPLAINT', 'ACKNOWLEDGED')")


def upgrade() -> None:
    op.create_index('ix_deliveries_account_id', 'deliveries', ['account_id', 'id'], unique=False)
    op.create_index('ix_deliveries_account_unreported', 'deliveries', ['account_id', 'updated_at', 'id'],
                    unique=False, postgresql_where=sa.text(UNREPORTED), sqlite_where=sa.text(UNREPORTED))


def downgrade() -> None:
    op.drop_index('ix_deliveries_account_unreported', table_name='deliveries')
    op.drop_index('ix_deliveries_account_id', table_name='deliveries')
