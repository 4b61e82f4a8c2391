"""Provider webhooks and engagement: replay tokens, inbox content types, open/click aggregates, suppressions.

Existing deliveries get zero counts (server default) so the migration runs on a filled table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('suppression_removals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('removed_by', sa.String(length=64), nullable=False),
    sa.Column('removed_at', sa.DateTime(), nullable=False),
    sa.Column('suppression', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_suppression_removals_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppression_removals'))
    )
    op.create_index('ix_suppression_removals_account_address', 'suppression_removals', ['account_id', 'address'],
                    unique=False)
    op.create_table('suppressions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=False),
    sa.Column('event_key', sa.String(length=400), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_suppressions_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppressions')),
    sa.UniqueConstraint('account_id', 'address', name='uq_suppressions_account_address')
    )
    op.create_index('ix_suppressions_account_created', 'suppressions', ['account_id', 'created_at', 'id'], unique=False)
    op.create_table('replay_tokens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token', sa.String(length=200), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_replay_tokens_source_id_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_replay_tokens')),
    sa.UniqueConstraint('source_id', 'token', name='uq_replay_tokens_source_token')
    )
    op.add_column('deliveries', sa.Column('opens_count', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('deliveries', sa.Column('first_opened_at', sa.DateTime(), nullable=True))
    op.add_column('deliveries', sa.Column('last_opened_at', sa.DateTime(), nullable=True))
    op.add_column('deliveries', sa.Column('clicks_count', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('deliveries', sa.Column('first_clicked_at', sa.DateTime(), nullable=True))
    op.add_column('deliveries', sa.Column('last_clicked_at', sa.DateTime(), nullable=True))
    op.add_column('deliveries', sa.Column('last_clicked_link', sa.Text(), nullable=True))
    op.add_column('inbox_events', sa.Column('content_type', sa.String(length=100), nullable=True))
    op.create_index('ix_delivery_events_account_recipient_time', 'delivery_events',
                    ['account_id', 'recipient', 'occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_delivery_events_account_recipient_time', table_name='delivery_events')
    op.drop_column('inbox_events', 'content_type')
    op.drop_column('deliveries', 'last_clicked_link')
    op.drop_column('deliveries', 'last_clicked_at')
    op.drop_column('deliveries', 'first_clicked_at')
    op.drop_column('deliveries', 'clicks_count')
    op.drop_column('deliveries', 'last_opened_at')
    op.drop_column('deliveries', 'first_opened_at')
    op.drop_column('deliveries', 'opens_count')
    op.drop_table('replay_tokens')
    op.drop_index('ix_suppressions_account_created', table_name='suppressions')
    op.drop_table('suppressions')
    op.drop_index('ix_suppression_removals_account_address', table_name='suppression_removals')
    op.drop_table('suppression_removals')
