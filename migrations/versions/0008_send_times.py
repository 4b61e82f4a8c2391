"""Send times from the provider, and the DSN facts of bounces and delays.

deliveries: smtp_action, smtp_status (the winner's), first_event_at, registered_at and
submitted_at (the send time the APIs show), indexed per account; delivery_events: the
provider's stated send time and DSN facts. Existing rows are filled from what is stored
(the history's first event, the message's registration, the send milestone); a
`tracker rebuild` re-reads the raw events for the provider's own send times.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name, kind in (('smtp_action', sa.Text()), ('smtp_status', sa.Text()), ('first_event_at', sa.DateTime()),
                       ('registered_at', sa.DateTime()), ('submitted_at', sa.DateTime())):
        op.add_column('deliveries', sa.Column(name, kind, nullable=True))
    for name, kind in (('sent_at', sa.DateTime()), ('smtp_action', sa.Text()), ('smtp_status', sa.Text())):
        op.add_column('delivery_events', sa.Column(name, kind, nullable=True))
    # Written out rather than imported: a migration keeps the rules of its day.
    op.execute("""
        UPDATE deliveries SET first_event_at = (
            SELECT min(e.occurred_at) FROM delivery_events e
            WHERE e.account_id = deliveries.account_id AND e.message_id = deliveries.message_id
              AND e.recipient = deliveries.recipient AND e.type <> 'acknowledged')
    """)
    op.execute("""
        UPDATE deliveries SET registered_at = (
            SELECT m.registered_at FROM messages m
            WHERE m.account_id = deliveries.account_id AND m.message_id = deliveries.message_id)
    """)
    op.execute("""
        UPDATE deliveries SET submitted_at = CASE
            WHEN first_event_at IS NOT NULL AND first_event_at < COALESCE(sent_at, registered_at, first_event_at)
            THEN first_event_at
            ELSE COALESCE(sent_at, registered_at, first_event_at, created_at) END
    """)
    op.create_index('ix_deliveries_account_submitted', 'deliveries', ['account_id', 'submitted_at', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_deliveries_account_submitted', table_name='deliveries')
    with op.batch_alter_table('delivery_events') as table:
        for column in ('smtp_status', 'smtp_action', 'sent_at'):
            table.drop_column(column)
    with op.batch_alter_table('deliveries') as table:
        for column in ('submitted_at', 'registered_at', 'first_event_at', 'smtp_status', 'smtp_action'):
            table.drop_column(column)
