"""role_grant.ends_on: a committee or admin grant may end (the last day it works, Tokyo)

Revision ID: grantend0001
Revises: links00000001
Create Date: 2026-12-08 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'grantend0001'
down_revision = 'links00000001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ends_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.drop_column('ends_on')
