"""person session version: sessions end on sign-out and on a password change

Revision ID: b7c1d2e3f401
Revises: 8e2f4a6c1b37
Create Date: 2026-11-29 20:50:05.113051

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c1d2e3f401'
down_revision = '8e2f4a6c1b37'
branch_labels = None
depends_on = None


def upgrade():
    # Existing people start at 0; sessions signed in before the upgrade carry no version and
    # are signed out once (docs/auth.md, "Sessions").
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('session_version')
