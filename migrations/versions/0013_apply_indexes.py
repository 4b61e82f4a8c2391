"""The inbox's state indexes hold only the rows not processed: what their queries look for.

Every applied row turns pending -> processed. The state is indexed (and the partial index
of pending rows names it), so that UPDATE can never be HOT: the new row version gets an
entry in each index whose predicate it satisfies. (state, id) and (account_id, state, id)
held every row; their queries only ever look for the few rows not processed (below), so
they now leave the processed ones out and the worker's UPDATE writes two index entries
fewer per event (the history's indexes are all needed; see the list below).

Indexes of inbox_events after this revision, and the query that needs each:
- pk (id): every lookup by id; keyset pages of the operator's lists (ORDER BY id).
- uq_inbox_events_source_dedupe (source_id, dedupe_key): the receiver's
  INSERT .. ON CONFLICT DO NOTHING (tracker.db.repository.inbox.store_inbox_event).
- ix_inbox_events_pending (id) WHERE pending: the worker's claim (claim_pending,
  ORDER BY id LIMIT .. FOR UPDATE SKIP LOCKED), the sweep (has_due_pending) and the
  oldest pending row (tracker.db.repository.backlog).
- ix_inbox_events_state_id (state, id) WHERE state <> 'processed' (here): the operator's
  lists and counts of failed, discarded or pending rows across accounts
  (tracker.db.repository.operations.list_inbox_events / count_inbox_events / inbox_ids
  with a state); a list of processed rows is most of the table, read by id.
- ix_inbox_events_account_state_id (account_id, state, id) WHERE state <> 'processed'
  (here): the dashboard's oldest pending row and failed count of an account
  (tracker.db.repository.dashboard), the operator's lists of one account by state.
- ix_inbox_events_received (received_at): the operator's lists since a time across
  accounts (EventFilter.since), the SES setup check (ses_setup.last_arrivals,
  recent_subscription_confirmations).
- ix_inbox_events_account_received (account_id, received_at, provider): the dashboard's
  events per provider and hour (index-only) and the retention purge of an account.
delivery_events keeps all of its: pk; uq_delivery_events_identity (the worker's
INSERT .. ON CONFLICT, a delivery's history, shown_event_details);
ix_delivery_events_account_recipient_time (soft_bounce_counts, Infobip's logs by
recipient); ix_delivery_events_inbox_event_id (deliveries_touched, rebuild and purge by
inbox row, and the foreign key's check when inbox rows are purged).

Revision ID: 0013_apply_indexes
Revises: 0012_stats
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_apply_indexes'
down_revision = '0012_stats'
branch_labels = None
depends_on = None

_UNPROCESSED = "state <> 'processed'"


def upgrade() -> None:
    op.drop_index('ix_inbox_events_state_id', table_name='inbox_events')
    op.drop_index('ix_inbox_events_account_state_id', table_name='inbox_events')
    op.create_index('ix_inbox_events_state_id', 'inbox_events', ['state', 'id'],
                    postgresql_where=sa.text(_UNPROCESSED), sqlite_where=sa.text(_UNPROCESSED))
    op.create_index('ix_inbox_events_account_state_id', 'inbox_events', ['account_id', 'state', 'id'],
                    postgresql_where=sa.text(_UNPROCESSED), sqlite_where=sa.text(_UNPROCESSED))


def downgrade() -> None:
    op.drop_index('ix_inbox_events_state_id', table_name='inbox_events')
    op.drop_index('ix_inbox_events_account_state_id', table_name='inbox_events')
    op.create_index('ix_inbox_events_state_id', 'inbox_events', ['state', 'id'], unique=False)
    op.create_index('ix_inbox_events_account_state_id', 'inbox_events', ['account_id', 'state', 'id'], unique=False)
