"""Statistics kept as events are applied, reputation thresholds and the last evaluated reputation states.

delivery_stats: deliveries per account, send hour, sending domain, provider, status and
reputation outcome. Filled here from the existing deliveries (by the same rules as
tracker.db.repository.stats.rebuild_stats, which an operator can also run:
``tracker rebuild`` ends with it).

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'delivery_stats',
        sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('hour', sa.DateTime(), nullable=False),
        sa.Column('domain', sa.String(253), nullable=False),
        sa.Column('provider', sa.String(32), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('outcome', sa.String(16), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name='fk_delivery_stats_account_id_accounts'),
        sa.PrimaryKeyConstraint('account_id', 'hour', 'domain', 'provider', 'status', 'outcome',
                                name='pk_delivery_stats'),
    )
    op.create_table(
        'reputation_thresholds',
        sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('bounce_warning', sa.Float(), nullable=False),
        sa.Column('bounce_at_risk', sa.Float(), nullable=False),
        sa.Column('complaint_warning', sa.Float(), nullable=False),
        sa.Column('complaint_at_risk', sa.Float(), nullable=False),
        sa.Column('min_sent', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name='fk_reputation_thresholds_account_id_accounts'),
        sa.PrimaryKeyConstraint('account_id', name='pk_reputation_thresholds'),
    )
    op.create_table(
        'reputation_states',
        sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('scope', sa.String(253), nullable=False),
        sa.Column('bounce_state', sa.String(16), nullable=False),
        sa.Column('complaint_state', sa.String(16), nullable=False),
        sa.Column('bounce_rate', sa.Float(), nullable=False),
        sa.Column('complaint_rate', sa.Float(), nullable=False),
        sa.Column('sent', sa.BigInteger(), nullable=False),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.Column('evaluated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name='fk_reputation_states_account_id_accounts'),
        sa.PrimaryKeyConstraint('account_id', 'scope', name='pk_reputation_states'),
    )
    _fill()


def _fill() -> None:
    """Count the existing deliveries (streamed, counted in memory: the keys are few)."""
    from collections import Counter
    from datetime import datetime

    from tracker.domain.reputation import outcome_of, sending_domain

    deliveries = sa.table('deliveries', *(sa.column(name) for name in (
        'account_id', 'message_id', 'provider', 'status', 'bounce_type', 'bounce_subtype', 'failure_status',
        'failure_bounce_type', 'failure_bounce_subtype', 'submitted_at', 'created_at')))
    messages = sa.table('messages', sa.column('account_id'), sa.column('message_id'), sa.column('from_address'))
    joined = deliveries.outerjoin(messages, sa.and_(messages.c.account_id == deliveries.c.account_id,
                                                    messages.c.message_id == deliveries.c.message_id))
    counts = Counter()
    bind = op.get_bind()
    for r in bind.execute(sa.select(deliveries, messages.c.from_address).select_from(joined)):
        sent = r.submitted_at or r.created_at
        if isinstance(sent, str):  # SQLite without declared types hands back text
            sent = datetime.fromisoformat(sent)
        hour = sent.replace(tzinfo=None, minute=0, second=0, microsecond=0)
        outcome = outcome_of(r.status, r.bounce_type, r.bounce_subtype, r.failure_status, r.failure_bounce_type,
                             r.failure_bounce_subtype)
        counts[(r.account_id, hour, sending_domain(r.from_address), r.provider, r.status, outcome.value)] += 1
    stats = sa.table('delivery_stats', *(sa.column(name) for name in (
        'account_id', 'hour', 'domain', 'provider', 'status', 'outcome', 'count')))
    rows = [dict(zip(('account_id', 'hour', 'domain', 'provider', 'status', 'outcome'), key), count=count)
            for key, count in counts.items()]
    if rows:
        op.bulk_insert(stats, rows)


def downgrade() -> None:
    op.drop_table('reputation_states')
    op.drop_table('reputation_thresholds')
    op.drop_table('delivery_stats')
