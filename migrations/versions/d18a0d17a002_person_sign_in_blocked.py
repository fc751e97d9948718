"""person.sign_in_blocked: an admin marks that a person may not sign in

Revision ID: d18a0d17a002
Revises: d18a0d17a001
Create Date: 2026-11-29 22:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd18a0d17a002'
down_revision = 'd18a0d17a001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sign_in_blocked', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('sign_in_blocked')
