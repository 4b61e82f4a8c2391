"""Statistics kept as events are applied, reputation thresholds and the last evaluated reputation states.

delivery_stats: deliveries per account, send hour, sending domain, provider, status and
reputation outcome. Filled here from the existing deliveries (by the same rules as
tracker.db.repository.stats.rebuild_stats, which an operator can also run:
``tracker rebuild`` ends with it).

Revision ID: 0012_stats
Revises: 0011_dashboard
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_stats'
down_revision = '0011_dashboard'
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
    """Count the existing deliveries: grouped by the database on the columns a key is made of."""
    from collections import Counter
    from datetime import datetime

    from tracker.domain.reputation import outcome_of, sending_domain

    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        hour = "date_trunc('hour', coalesce(d.submitted_at, d.created_at))"
    else:
        hour = "strftime('%Y-%m-%d %H:00:00', coalesce(d.submitted_at, d.created_at))"
    facts = (f"d.account_id, {hour}, m.from_address, d.provider, d.status, d.bounce_type, d.bounce_subtype, "
             "d.failure_status, d.failure_bounce_type, d.failure_bounce_subtype")
    counts = Counter()
    for r in bind.execute(sa.text(
            f"SELECT {facts}, count(*) FROM deliveries d LEFT JOIN messages m "
            f"ON m.account_id = d.account_id AND m.message_id = d.message_id GROUP BY {facts}")):
        (account_id, sent, sender, provider, status, bounce_type, bounce_subtype, failure_status,
         failure_bounce_type, failure_bounce_subtype, count) = r
        moment = datetime.fromisoformat(sent) if isinstance(sent, str) else sent
        outcome = outcome_of(status, bounce_type, bounce_subtype, failure_status, failure_bounce_type,
                             failure_bounce_subtype)
        counts[(account_id, moment.replace(tzinfo=None), sending_domain(sender), provider, status,
                outcome.value)] += count
    stats = sa.table('delivery_stats', *(sa.column(name) for name in (
        'account_id', 'hour', 'domain', 'provider', 'status', 'outcome', 'count')))
    rows = [dict(zip(('account_id', 'hour', 'domain', 'provider', 'status', 'outcome'), key, strict=True), count=count)
            for key, count in counts.items()]
    if rows:
        op.bulk_insert(stats, rows)


def downgrade() -> None:
    op.drop_table('reputation_states')
    op.drop_table('reputation_thresholds')
    op.drop_table('delivery_stats')
