"""audit_event.seq and audit_event.mac: each row's place in the log and its HMAC under the
audit key kept outside the database (app/services/governance/audit_anchor.py)

Rows written before stay without either and are verified by their hash chain alone; the first
row written after the upgrade gets the number of rows before it plus one.

Revision ID: audit0001
Revises: snapshot0001
Create Date: 2026-12-07 17:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'audit0001'
down_revision = 'snapshot0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('mac', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('mac')
        batch_op.drop_column('seq')
