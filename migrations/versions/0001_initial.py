"""Initial schema: accounts, API keys, sources, the raw-event inbox, deliveries and their history.

Datetimes are naive UTC (tracker.db.models.UTCDateTime converts at the edge).

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('name', name=op.f('uq_accounts_name'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_api_keys_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_id', name=op.f('uq_api_keys_key_id'))
    )
    op.create_index(op.f('ix_api_keys_account_id'), 'api_keys', ['account_id'], unique=False)
    op.create_table('deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('precedence', sa.Text(), nullable=False),
    sa.Column('status_at', sa.DateTime(), nullable=True),
    sa.Column('bounce_type', sa.String(length=16), nullable=True),
    sa.Column('bounce_subtype', sa.String(length=64), nullable=True),
    sa.Column('diagnostic', sa.Text(), nullable=True),
    sa.Column('events_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_deliveries_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('account_id', 'message_id', 'recipient', name='uq_deliveries_account_message_recipient')
    )
    op.create_index('ix_deliveries_account_recipient', 'deliveries', ['account_id', 'recipient'], unique=False)
    op.create_index('ix_deliveries_account_status_updated', 'deliveries', ['account_id', 'status', 'updated_at', 'id'],
                    unique=False)
    op.create_index('ix_deliveries_account_updated', 'deliveries', ['account_id', 'updated_at', 'id'], unique=False)
    op.create_table('sources',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('topic_arns', sa.JSON(), nullable=False),
    sa.Column('secret', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_sources_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sources')),
    sa.UniqueConstraint('token', name=op.f('uq_sources_token'))
    )
    op.create_index(op.f('ix_sources_account_id'), 'sources', ['account_id'], unique=False)
    op.create_table('inbox_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('first_failed_at', sa.DateTime(), nullable=True),
    sa.Column('last_failed_at', sa.DateTime(), nullable=True),
    sa.Column('processed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_inbox_events_account_id_accounts')),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_inbox_events_source_id_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_events')),
    sa.UniqueConstraint('source_id', 'dedupe_key', name='uq_inbox_events_source_dedupe')
    )
    op.create_index('ix_inbox_events_pending', 'inbox_events', ['id'], unique=False,
                    postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))
    op.create_index('ix_inbox_events_state_id', 'inbox_events', ['state', 'id'], unique=False)
    op.create_table('delivery_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('event_key', sa.String(length=400), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('bounce_type', sa.String(length=16), nullable=True),
    sa.Column('bounce_subtype', sa.String(length=64), nullable=True),
    sa.Column('diagnostic', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('inbox_event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_delivery_events_account_id_accounts')),
    sa.ForeignKeyConstraint(['inbox_event_id'], ['inbox_events.id'],
                            name=op.f('fk_delivery_events_inbox_event_id_inbox_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_events')),
    sa.UniqueConstraint('account_id', 'message_id', 'recipient', 'event_key', name='uq_delivery_events_identity')
    )
    op.create_index(op.f('ix_delivery_events_inbox_event_id'), 'delivery_events', ['inbox_event_id'], unique=False)
    op.create_table('sns_subscriptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('topic_arn', sa.String(length=300), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('subscription_arn', sa.String(length=400), nullable=True),
    sa.Column('inbox_event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['inbox_event_id'], ['inbox_events.id'],
                            name=op.f('fk_sns_subscriptions_inbox_event_id_inbox_events')),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_sns_subscriptions_source_id_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sns_subscriptions')),
    sa.UniqueConstraint('source_id', 'topic_arn', name='uq_sns_subscriptions_source_topic')
    )


def downgrade() -> None:
    op.drop_table('sns_subscriptions')
    op.drop_index(op.f('ix_delivery_events_inbox_event_id'), table_name='delivery_events')
    op.drop_table('delivery_events')
    op.drop_index('ix_inbox_events_state_id', table_name='inbox_events')
    op.drop_index('ix_inbox_events_pending', table_name='inbox_events',
                  postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))
    op.drop_table('inbox_events')
    op.drop_index(op.f('ix_sources_account_id'), table_name='sources')
    op.drop_table('sources')
    op.drop_index('ix_deliveries_account_updated', table_name='deliveries')
    op.drop_index('ix_deliveries_account_status_updated', table_name='deliveries')
    op.drop_index('ix_deliveries_account_recipient', table_name='deliveries')
    op.drop_table('deliveries')
    op.drop_index(op.f('ix_api_keys_account_id'), table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_table('accounts')
