"""catalogue.revision and round.revision: bumped by every ORM flush that changes them

The checklist keeps each round's standards per process, keyed by these numbers
(app/services/rounds/checklist.py, app/models.py ``_bump_revisions``). Existing rows start at 0.

Revision ID: f21a0bef0001
Revises: f21a0ca7a001
Create Date: 2026-11-30 00:12:57.968790

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f21a0bef0001'
down_revision = 'f21a0ca7a001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('catalogue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.drop_column('revision')

    with op.batch_alter_table('catalogue', schema=None) as batch_op:
        batch_op.drop_column('revision')
