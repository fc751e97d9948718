"""sign_in_link: the personal sign-in links mailed with a round (only their hashes)

One row per link: the person, the round, the SHA-256 of the random token (unique), when it
was made and when it was revoked (docs/auth.md, "Sign-in links").

Revision ID: links00000001
Revises: schedroster0001
Create Date: 2026-12-07 17:12:41.892626

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'links00000001'
down_revision = 'schedroster0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_sign_in_link_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_sign_in_link_round_id_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_sign_in_link_token_hash'))
    )
    with op.batch_alter_table('sign_in_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_link_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_sign_in_link_round_id_person_id', ['round_id', 'person_id'], unique=False)



def downgrade():
    with op.batch_alter_table('sign_in_link', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_link_round_id_person_id')
        batch_op.drop_index(batch_op.f('ix_sign_in_link_person_id'))

    op.drop_table('sign_in_link')
