"""initial schema: organisation, yearly roster, catalogues, rounds and answers

Revision ID: 1f9217efef6b
Revises: 
Create Date: 2026-11-22 04:00:19.896961

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1f9217efef6b'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('person',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('employee_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('password_hash', sa.String(length=256), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person')),
    sa.UniqueConstraint('employee_id', name=op.f('uq_person_employee_id'))
    )
    op.create_table('section_kind',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_section_kind')),
    sa.UniqueConstraint('name', name=op.f('uq_section_kind_name'))
    )
    op.create_table('ward',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ward')),
    sa.UniqueConstraint('name', name=op.f('uq_ward_name'))
    )
    op.create_table('catalogue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('ward_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ward_id'], ['ward.id'], name=op.f('fk_catalogue_ward_id_ward')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue')),
    sa.UniqueConstraint('key', name=op.f('uq_catalogue_key'))
    )
    with op.batch_alter_table('catalogue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalogue_fiscal_year'), ['fiscal_year'], unique=False)

    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ward_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['ward_id'], ['ward.id'], name=op.f('fk_department_ward_id_ward')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department')),
    sa.UniqueConstraint('ward_id', 'name', name=op.f('uq_department_ward_id_name'))
    )
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_department_ward_id'), ['ward_id'], unique=False)

    op.create_table('role_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('committee', 'admin', name='grant_role', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('ward_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_role_grant_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ward_id'], ['ward.id'], name=op.f('fk_role_grant_ward_id_ward')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_grant')),
    sa.UniqueConstraint('person_id', 'role', 'ward_id', name=op.f('uq_role_grant_person_id_role_ward_id'))
    )
    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_grant_person_id'), ['person_id'], unique=False)

    op.create_table('round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('catalogue_id', sa.Integer(), nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('opens_at < closes_at', name=op.f('ck_round_opens_before_closes')),
    sa.ForeignKeyConstraint(['catalogue_id'], ['catalogue.id'], name=op.f('fk_round_catalogue_id_catalogue')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_round'))
    )
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_round_catalogue_id'), ['catalogue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_round_fiscal_year'), ['fiscal_year'], unique=False)

    op.create_table('section',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ward_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_section_department_id_department')),
    sa.ForeignKeyConstraint(['ward_id'], ['ward.id'], name=op.f('fk_section_ward_id_ward')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_section')),
    sa.UniqueConstraint('ward_id', 'name', name=op.f('uq_section_ward_id_name'))
    )
    with op.batch_alter_table('section', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_section_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_section_ward_id'), ['ward_id'], unique=False)

    op.create_table('standard',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('catalogue_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('scene', sa.String(length=20), nullable=False),
    sa.Column('audience', sa.Enum('everyone', 'section', name='audience', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('ward_specific', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['catalogue_id'], ['catalogue.id'], name=op.f('fk_standard_catalogue_id_catalogue'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standard')),
    sa.UniqueConstraint('catalogue_id', 'key', name=op.f('uq_standard_catalogue_id_key')),
    sa.UniqueConstraint('catalogue_id', 'number', name=op.f('uq_standard_catalogue_id_number'))
    )
    with op.batch_alter_table('standard', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standard_catalogue_id'), ['catalogue_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_standard_key'), ['key'], unique=False)

    op.create_table('assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('staff', 'chief', name='role', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_assignment_person_id_person')),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_assignment_section_id_section')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment')),
    sa.UniqueConstraint('person_id', 'fiscal_year', name=op.f('uq_assignment_person_id_fiscal_year'))
    )
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index('ix_assignment_fiscal_year_section_id', ['fiscal_year', 'section_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignment_person_id'), ['person_id'], unique=False)
        batch_op.create_index('uq_assignment_one_chief', ['section_id', 'fiscal_year'], unique=True, sqlite_where=sa.text("role = 'chief'"), postgresql_where=sa.text("role = 'chief'"))

    op.create_table('response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('staff', 'chief', name='role', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', name='status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_response_person_id_person')),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_response_round_id_round')),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_response_section_id_section')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response')),
    sa.UniqueConstraint('round_id', 'person_id', name=op.f('uq_response_round_id_person_id'))
    )
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_response_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_response_round_id_status', ['round_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_response_section_id'), ['section_id'], unique=False)

    op.create_table('round_ward',
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('ward_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_round_ward_round_id_round'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ward_id'], ['ward.id'], name=op.f('fk_round_ward_ward_id_ward')),
    sa.PrimaryKeyConstraint('round_id', 'ward_id', name=op.f('pk_round_ward'))
    )
    op.create_table('section_kind_link',
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('kind_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['kind_id'], ['section_kind.id'], name=op.f('fk_section_kind_link_kind_id_section_kind')),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_section_kind_link_section_id_section'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('section_id', 'kind_id', name=op.f('pk_section_kind_link'))
    )
    op.create_table('standard_kind_link',
    sa.Column('standard_id', sa.Integer(), nullable=False),
    sa.Column('kind_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['kind_id'], ['section_kind.id'], name=op.f('fk_standard_kind_link_kind_id_section_kind')),
    sa.ForeignKeyConstraint(['standard_id'], ['standard.id'], name=op.f('fk_standard_kind_link_standard_id_standard'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('standard_id', 'kind_id', name=op.f('pk_standard_kind_link'))
    )
    op.create_table('answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('standard_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Enum('yes', 'no', 'na', name='value', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['response_id'], ['response.id'], name=op.f('fk_answer_response_id_response'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['standard_id'], ['standard.id'], name=op.f('fk_answer_standard_id_standard')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answer')),
    sa.UniqueConstraint('response_id', 'standard_id', name=op.f('uq_answer_response_id_standard_id'))
    )
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_standard_id'), ['standard_id'], unique=False)

    op.create_table('section_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('standard_id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Enum('yes', 'no', 'na', name='value', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['response_id'], ['response.id'], name=op.f('fk_section_answer_response_id_response'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_section_answer_round_id_round')),
    sa.ForeignKeyConstraint(['section_id'], ['section.id'], name=op.f('fk_section_answer_section_id_section')),
    sa.ForeignKeyConstraint(['standard_id'], ['standard.id'], name=op.f('fk_section_answer_standard_id_standard')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_section_answer')),
    sa.UniqueConstraint('round_id', 'section_id', 'standard_id', name=op.f('uq_section_answer_round_id_section_id_standard_id'))
    )
    with op.batch_alter_table('section_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_section_answer_response_id'), ['response_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_section_answer_section_id'), ['section_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_section_answer_standard_id'), ['standard_id'], unique=False)



def downgrade():
    with op.batch_alter_table('section_answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_section_answer_standard_id'))
        batch_op.drop_index(batch_op.f('ix_section_answer_section_id'))
        batch_op.drop_index(batch_op.f('ix_section_answer_response_id'))

    op.drop_table('section_answer')
    with op.batch_alter_table('answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_standard_id'))

    op.drop_table('answer')
    op.drop_table('standard_kind_link')
    op.drop_table('section_kind_link')
    op.drop_table('round_ward')
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_response_section_id'))
        batch_op.drop_index('ix_response_round_id_status')
        batch_op.drop_index(batch_op.f('ix_response_person_id'))

    op.drop_table('response')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index('uq_assignment_one_chief', sqlite_where=sa.text("role = 'chief'"), postgresql_where=sa.text("role = 'chief'"))
        batch_op.drop_index(batch_op.f('ix_assignment_person_id'))
        batch_op.drop_index('ix_assignment_fiscal_year_section_id')

    op.drop_table('assignment')
    with op.batch_alter_table('standard', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standard_key'))
        batch_op.drop_index(batch_op.f('ix_standard_catalogue_id'))

    op.drop_table('standard')
    with op.batch_alter_table('section', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_section_ward_id'))
        batch_op.drop_index(batch_op.f('ix_section_department_id'))

    op.drop_table('section')
    with op.batch_alter_table('round', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_round_fiscal_year'))
        batch_op.drop_index(batch_op.f('ix_round_catalogue_id'))

    op.drop_table('round')
    with op.batch_alter_table('role_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_grant_person_id'))

    op.drop_table('role_grant')
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_department_ward_id'))

    op.drop_table('department')
    with op.batch_alter_table('catalogue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalogue_fiscal_year'))

    op.drop_table('catalogue')
    op.drop_table('ward')
    op.drop_table('section_kind')
    op.drop_table('person')
