"""Signed-out dashboard sessions: a signed-out session's cookie opens nothing, even a copy of it.

dashboard_signouts holds the random id of each dashboard session signed out, until the time
that session would have expired anyway (12 hours after signing in); every dashboard page
checks its session's id is not there. Sessions signed in before this revision carry no id
and sign in again once.

Revision ID: 0017_dashboard_signouts
Revises: 0016_webhook_secret_rotation
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0017_dashboard_signouts'
down_revision = '0016_webhook_secret_rotation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dashboard_signouts',
        sa.Column('sid', sa.String(64), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('sid', name='pk_dashboard_signouts'),
    )


def downgrade() -> None:
    op.drop_table('dashboard_signouts')
