"""Operators: inbox lifecycle (failure kind, backoff, replays, discards), key roles, retention, jobs,
and a per-delivery status sequence.


Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('operator_jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('phase', sa.String(length=20), nullable=False),
    sa.Column('cursor', sa.BigInteger(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_jobs'))
    )
    op.create_table('operator_job_items',
    sa.Column('job_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('inbox_event_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['operator_jobs.id'], name=op.f('fk_operator_job_items_job_id_operator_jobs'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'inbox_event_id', name=op.f('pk_operator_job_items'))
    )
    op.add_column('accounts', sa.Column('raw_retention_days', sa.Integer(), nullable=True))
    op.add_column('accounts', sa.Column('delivery_retention_days', sa.Integer(), nullable=True))
    op.add_column('api_keys', sa.Column('role', sa.String(length=16), server_default='application', nullable=False))
    op.add_column('deliveries', sa.Column('status_sequence', sa.Integer(), server_default='0', nullable=False))
    op.add_column('inbox_events', sa.Column('failure_kind', sa.String(length=20), nullable=True))
    op.add_column('inbox_events', sa.Column('next_attempt_at', sa.DateTime(), nullable=True))
    op.add_column('inbox_events', sa.Column('replay_count', sa.Integer(), server_default='0', nullable=False))
    op.add_column('inbox_events', sa.Column('replayed_at', sa.DateTime(), nullable=True))
    op.add_column('inbox_events', sa.Column('discarded_at', sa.DateTime(), nullable=True))
    op.add_column('inbox_events', sa.Column('discarded_by', sa.String(length=200), nullable=True))
    op.add_column('inbox_events', sa.Column('discard_reason', sa.Text(), nullable=True))
    # Batch mode: SQLite can only change a column's nullability by copying the table.
    with op.batch_alter_table('inbox_events') as batch:
        batch.alter_column('source_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                           nullable=True)
    op.create_index('ix_inbox_events_account_state_id', 'inbox_events', ['account_id', 'state', 'id'], unique=False)
    op.create_index('ix_inbox_events_received', 'inbox_events', ['received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_inbox_events_received', table_name='inbox_events')
    op.drop_index('ix_inbox_events_account_state_id', table_name='inbox_events')
    with op.batch_alter_table('inbox_events') as batch:
        batch.alter_column('source_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                           nullable=False)
    op.drop_column('inbox_events', 'discard_reason')
    op.drop_column('inbox_events', 'discarded_by')
    op.drop_column('inbox_events', 'discarded_at')
    op.drop_column('inbox_events', 'replayed_at')
    op.drop_column('inbox_events', 'replay_count')
    op.drop_column('inbox_events', 'next_attempt_at')
    op.drop_column('inbox_events', 'failure_kind')
    op.drop_column('deliveries', 'status_sequence')
    op.drop_column('api_keys', 'role')
    op.drop_column('accounts', 'delivery_retention_days')
    op.drop_column('accounts', 'raw_retention_days')
    op.drop_table('operator_job_items')
    op.drop_table('operator_jobs')
