"""service goals, working teams and year plans (issue 7): each section's and working team's
1-3 goals a year with their results, the teams and their members, and a ward's year plan
(policy, summary, committee membership, lock)

Revision ID: 781d36fd838d
Revises: d410d809339e
Create Date: 2026-11-23 07:45:03.986661

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '781d36fd838d'
down_revision = 'd410d809339e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('working_team',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ward_id', sa.Integer(), nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['ward_id'], ['ward.id'], name=op.f('fk_working_team_ward_id_ward')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_working_team')),
    sa.UniqueConstraint('ward_id', 'fiscal_year', 'name', name=op.f('uq_working_team_ward_id_fiscal_year_name'))
    )
    with op.batch_alter_table('working_team', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_working_team_ward_id'), ['ward_id'], unique=False)

    op.create_table('year_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ward_id', sa.Integer(), nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('policy', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('committee_name', sa.String(length=100), nullable=False),
    sa.Column('committee_members', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['locked_by_id'], ['person.id'], name=op.f('fk_year_plan_locked_by_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['ward_id'], ['ward.id'], name=op.f('fk_year_plan_ward_id_ward')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_year_plan')),
    sa.UniqueConstraint('ward_id', 'fiscal_year', name=op.f('uq_year_plan_ward_id_fiscal_year'))
    )
    op.create_table('working_team_member',
    sa.Column('working_team_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_working_team_member_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['working_team_id'], ['working_team.id'], name=op.f('fk_working_team_member_working_team_id_working_team'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('working_team_id', 'person_id', name=op.f('pk_working_team_member'))
    )
    op.create_table('service_goal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=True),
    sa.Column('working_team_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('scene', sa.String(length=20), nullable=False),
    sa.Column('goal', sa.Text(), nullable=False),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('(section_id IS NULL) <> (working_team_id IS NULL)', name=op.f('ck_service_goal_one_owner')),
    sa.CheckConstraint('position BETWEEN 1 AND 3', name=op.f('ck_service_goal_position_1_to_3')),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_service_goal_section_id_section'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['person.id'], name=op.f('fk_service_goal_updated_by_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['working_team_id'], ['working_team.id'], name=op.f('fk_service_goal_working_team_id_working_team'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_goal')),
    sa.UniqueConstraint('fiscal_year', 'section_id', 'position', name=op.f('uq_service_goal_fiscal_year_section_id_position')),
    sa.UniqueConstraint('working_team_id', 'position', name=op.f('uq_service_goal_working_team_id_position'))
    )
    with op.batch_alter_table('service_goal', schema=None) as batch_op:
        batch_op.create_index('ix_service_goal_section_id', ['section_id'], unique=False)



def downgrade():
    with op.batch_alter_table('service_goal', schema=None) as batch_op:
        batch_op.drop_index('ix_service_goal_section_id')

    op.drop_table('service_goal')
    op.drop_table('working_team_member')
    op.drop_table('year_plan')
    with op.batch_alter_table('working_team', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_working_team_ward_id'))

    op.drop_table('working_team')
