"""Webhook secret rotation: the secret a rotation replaced keeps signing for a while.

webhook_subscriptions.previous_secret and previous_secret_expires_at: NULL until the
subscription's secret is first rotated (POST /api/v1/webhooks/<id>/rotate-secret, or
`tracker webhooks rotate-secret`); until then every request is signed with ``secret`` alone,
as before.

Revision ID: 0016_webhook_secret_rotation
Revises: 0015_inbox_body_lz4
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_webhook_secret_rotation'
down_revision = '0015_inbox_body_lz4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('webhook_subscriptions', sa.Column('previous_secret', sa.String(100), nullable=True))
    op.add_column('webhook_subscriptions', sa.Column('previous_secret_expires_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('webhook_subscriptions') as table:
        table.drop_column('previous_secret_expires_at')
        table.drop_column('previous_secret')
