"""catalogue drafts: catalogue.published_at (None while next year's standards are a draft)

Revision ID: f21a0ca7a001
Revises: e19a0c0de001
Create Date: 2026-11-30 00:05:57.888631

Every catalogue that exists before this migration was loaded with `flask catalogue load` and may
already have rounds: it is published, as of when it was loaded.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f21a0ca7a001'
down_revision = 'e19a0c0de001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('catalogue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('published_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE catalogue SET published_at = loaded_at WHERE published_at IS NULL")


def downgrade():
    # Drafts would become usable catalogues without the column: remove them first, with their
    # standards (no round can refer to a draft).
    op.execute(
        "DELETE FROM standard_kind_link WHERE standard_id IN (SELECT s.id FROM standard s"
        " JOIN catalogue c ON c.id = s.catalogue_id WHERE c.published_at IS NULL)"
    )
    op.execute(
        "DELETE FROM standard WHERE catalogue_id IN"
        " (SELECT id FROM catalogue WHERE published_at IS NULL)"
    )
    op.execute("DELETE FROM catalogue WHERE published_at IS NULL")
    with op.batch_alter_table('catalogue', schema=None) as batch_op:
        batch_op.drop_column('published_at')
