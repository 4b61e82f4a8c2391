"""The inbox's pending rows are found through (state, id) WHERE state <> 'processed': one index fewer per event.

ix_inbox_events_pending (id) WHERE state = 'pending' duplicated what
ix_inbox_events_state_id (state, id) WHERE state <> 'processed' (0013) already answers: its
entries with state = 'pending' are the pending rows in id order, which is what the worker's
claim (ORDER BY id LIMIT .. FOR UPDATE SKIP LOCKED), the sweep (has_due_pending), the
oldest pending row and the operator's pending list read. Every event the receiver stores
wrote an entry in both; now in one. Measured on PostgreSQL 15, the receiver's prepared
INSERT from one connection: 204 -> 194 us of the backend's CPU per row (5%); the claim's
plan is an index scan of ix_inbox_events_state_id with Index Cond state = 'pending'.

SQLite does not infer state <> 'processed' from state = 'pending' when it picks a partial
index, so every query of rows by a state other than processed also spells the index's
predicate out (tracker.db.repository.inbox.in_state): those above, the dashboard's oldest
pending row and failed count, the operators' lists, counts and id walks by state.

Indexes of inbox_events after this revision, and the query that needs each (0013 for the rest):
- pk (id); uq_inbox_events_source_dedupe (source_id, dedupe_key): the receiver's insert.
- ix_inbox_events_state_id (state, id) WHERE state <> 'processed': the claim, the sweep, the
  oldest pending row, the operator's lists and counts by state across accounts.
- ix_inbox_events_account_state_id (account_id, state, id) WHERE state <> 'processed'.
- ix_inbox_events_received (received_at); ix_inbox_events_account_received (account_id,
  received_at, provider).

Revision ID: 0014_inbox_pending_index
Revises: 0013_apply_indexes
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_inbox_pending_index'
down_revision = '0013_apply_indexes'
branch_labels = None
depends_on = None

_PENDING = "state = 'pending'"


def upgrade() -> None:
    op.drop_index('ix_inbox_events_pending', table_name='inbox_events',
                  postgresql_where=sa.text(_PENDING), sqlite_where=sa.text(_PENDING))


def downgrade() -> None:
    op.create_index('ix_inbox_events_pending', 'inbox_events', ['id'], unique=False,
                    postgresql_where=sa.text(_PENDING), sqlite_where=sa.text(_PENDING))
