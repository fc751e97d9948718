"""mail ledger and round reminder cadence: one row per (round, person, message kind),
written before a message is sent; each round's reminder days before its close (default 7,3,1)

Revision ID: d410d809339e
Revises: 96d85beba436
Create Date: 2026-11-23 07:26:32.821034

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd410d809339e'
down_revision = '96d85beba436'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mail_ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('state', sa.Enum('pending', 'sending', 'sent', 'failed', 'skipped', name='mail_state', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_mail_ledger_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_mail_ledger_round_id_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_ledger')),
    sa.UniqueConstraint('round_id', 'person_id', 'kind', name=op.f('uq_mail_ledger_round_id_person_id_kind'))
    )
    with op.batch_alter_table('mail_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_ledger_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_mail_ledger_round_id_state', ['round_id', 'state'], unique=False)
        batch_op.create_index('ix_mail_ledger_state_next_attempt_at', ['state', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_days', sa.String(length=40), server_default='7,3,1', nullable=False))



def downgrade():
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.drop_column('reminder_days')

    with op.batch_alter_table('mail_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_ledger_state_next_attempt_at')
        batch_op.drop_index('ix_mail_ledger_round_id_state')
        batch_op.drop_index(batch_op.f('ix_mail_ledger_person_id'))

    op.drop_table('mail_ledger')
