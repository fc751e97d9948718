"""scheduler_heartbeat: the scheduler's last sign of life (one row, written by every tick)

The admin pages show when mail last went out and warn when no tick has run for 5 minutes;
/readyz/scheduler tells monitoring (docs/scheduler.md, docs/deploy.md).

Revision ID: schedroster0001
Revises: actions0001
Create Date: 2026-12-01 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'schedroster0001'
down_revision = 'actions0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'scheduler_heartbeat',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tick_started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('tick_finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('beat_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('last_mail_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduler_heartbeat')),
    )


def downgrade():
    op.drop_table('scheduler_heartbeat')
