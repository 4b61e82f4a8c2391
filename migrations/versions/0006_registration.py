"""Message registration fields, delivery milestones (sent_at, delivered_at), pull-report bookkeeping.


Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('deliveries', sa.Column('sent_at', sa.DateTime(), nullable=True))
    op.add_column('deliveries', sa.Column('delivered_at', sa.DateTime(), nullable=True))
    op.add_column('deliveries', sa.Column('reported_sequence', sa.Integer(), server_default='0', nullable=False))
    op.create_index('ix_deliveries_account_created', 'deliveries', ['account_id', 'created_at', 'id'], unique=False)
    op.add_column('messages', sa.Column('params', sa.JSON(), nullable=True))
    op.add_column('messages', sa.Column('attachments_metadata', sa.JSON(), nullable=True))
    op.add_column('messages', sa.Column('cc', sa.JSON(), nullable=True))
    op.add_column('messages', sa.Column('bcc', sa.JSON(), nullable=True))
    op.add_column('messages', sa.Column('registered_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('messages', 'registered_at')
    op.drop_column('messages', 'bcc')
    op.drop_column('messages', 'cc')
    op.drop_column('messages', 'attachments_metadata')
    op.drop_column('messages', 'params')
    op.drop_index('ix_deliveries_account_created', table_name='deliveries')
    op.drop_column('deliveries', 'reported_sequence')
    op.drop_column('deliveries', 'delivered_at')
    op.drop_column('deliveries', 'sent_at')
