"""State computed once: the winner's event type and the winning failure, on the delivery row.

deliveries: status_type (the type of the event that set the status) and failure_* (the
greatest ERROR, BOUNCED or COMPLAINT event of the history: what an ACKNOWLEDGED delivery
renders as). Existing rows are filled from their history, by the state machine's order
written out here (a migration keeps the rules of its day): rank COMPLAINT 7 > BOUNCED 6 >
ERROR 5, then the latest occurred_at, then the greatest event key.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

FAILURE_COLUMNS = (('failure_status', sa.String(16)), ('failure_precedence', sa.Text()),
                   ('failure_at', sa.DateTime()), ('failure_type', sa.String(32)),
                   ('failure_bounce_type', sa.String(16)), ('failure_bounce_subtype', sa.String(64)),
                   ('failure_diagnostic', sa.Text()), ('failure_smtp_action', sa.Text()),
                   ('failure_smtp_status', sa.Text()))
SAME_DELIVERY = ("e.account_id = deliveries.account_id AND e.message_id = deliveries.message_id "
                 "AND e.recipient = deliveries.recipient")
RANK = "CASE e.status WHEN 'COMPLAINT' THEN 7 WHEN 'BOUNCED' THEN 6 ELSE 5 END"


def _stamp(dialect: str) -> str:
    """occurred_at as precedence strings write it: 2026-12-04T17:06:48.123456 (UTC)."""
    if dialect == 'postgresql':
        return "to_char(e.occurred_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    # SQLAlchemy keeps SQLite times as text, always with six digits: 2026-12-04 17:06:48.123456.
    return "replace(e.occurred_at, ' ', 'T')"


def upgrade() -> None:
    op.add_column('deliveries', sa.Column('status_type', sa.String(32), nullable=True))
    for name, kind in FAILURE_COLUMNS:
        op.add_column('deliveries', sa.Column(name, kind, nullable=True))
    # The winner's event: its key ends the precedence string, "RR|<26-character time>|<key>".
    op.execute(f"""
        UPDATE deliveries SET status_type = (
            SELECT e.type FROM delivery_events e
            WHERE {SAME_DELIVERY} AND e.event_key = substr(deliveries.precedence, 31))
        WHERE precedence <> ''
    """)
    best = (f"FROM delivery_events e WHERE {SAME_DELIVERY} AND e.status IN ('ERROR', 'BOUNCED', 'COMPLAINT') "
            f"ORDER BY {RANK} DESC, e.occurred_at DESC, e.event_key DESC LIMIT 1")
    precedence = f"'0' || {RANK} || '|' || {_stamp(op.get_bind().dialect.name)} || '|' || e.event_key"
    sources = {'failure_status': 'e.status', 'failure_precedence': precedence, 'failure_at': 'e.occurred_at',
               'failure_type': 'e.type', 'failure_bounce_type': 'e.bounce_type',
               'failure_bounce_subtype': 'e.bounce_subtype', 'failure_diagnostic': 'e.diagnostic',
               'failure_smtp_action': 'e.smtp_action', 'failure_smtp_status': 'e.smtp_status'}
    assignments = ", ".join(f"{column} = (SELECT {source} {best})" for column, source in sources.items())
    # Only a delivery that failed (or acknowledged a failure) has failure events: failures
    # outrank every status but ACKNOWLEDGED.
    op.execute(f"UPDATE deliveries SET {assignments} "
               "WHERE status IN ('ERROR', 'BOUNCED', 'COMPLAINT', 'ACKNOWLEDGED')")


def downgrade() -> None:
    with op.batch_alter_table('deliveries') as table:
        for name, _ in reversed(FAILURE_COLUMNS):
            table.drop_column(name)
        table.drop_column('status_type')
