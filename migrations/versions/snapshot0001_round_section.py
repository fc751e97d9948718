"""round_section: a closed round's organisation as it was at its close

At the close (app/services/results/tally.py ``count_round``) each section of the round's wards
is written with its name, department and ward (names and sort orders); every result of the
round groups its counts by these rows from then on, so a later roster that moves, renames or
reorders sections changes nothing about a closed round.

Rounds counted before this migration get the organisation as it stands when the migration
runs: the best record there is of them (the organisation at their close was never kept). A
round reorganised since its close therefore keeps today's grouping, as it showed until now.

Revision ID: snapshot0001
Revises: citycrlf0001
Create Date: 2026-12-07 17:13:36.648876

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'snapshot0001'
down_revision = 'citycrlf0001'
branch_labels = None
depends_on = None

# The organisation of every counted round's wards, as it stands now (docstring).
BACKFILL = """
INSERT INTO round_section (
    round_id, section_id, section_name, section_order,
    department_id, department_name, department_order,
    ward_id, ward_name, ward_order
)
SELECT rw.round_id, s.id, s.name, s.sort_order, d.id, d.name, d.sort_order,
       w.id, w.name, w.sort_order
FROM round_ward rw
JOIN round r ON r.id = rw.round_id
JOIN section s ON s.ward_id = rw.ward_id
JOIN ward w ON w.id = s.ward_id
LEFT JOIN department d ON d.id = s.department_id
WHERE r.counted_at IS NOT NULL
"""


def upgrade():
    op.create_table('round_section',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('section_name', sa.String(length=100), nullable=False),
    sa.Column('section_order', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('department_name', sa.String(length=100), nullable=True),
    sa.Column('department_order', sa.Integer(), nullable=True),
    sa.Column('ward_id', sa.Integer(), nullable=False),
    sa.Column('ward_name', sa.String(length=50), nullable=False),
    sa.Column('ward_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_round_section_department_id_department')),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_round_section_round_id_round'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_round_section_section_id_section')),
    sa.ForeignKeyConstraint(['ward_id'], ['ward.id'], name=op.f('fk_round_section_ward_id_ward')),
    sa.PrimaryKeyConstraint('round_id', 'section_id', name=op.f('pk_round_section'))
    )
    op.execute(BACKFILL)


def downgrade():
    op.drop_table('round_section')
