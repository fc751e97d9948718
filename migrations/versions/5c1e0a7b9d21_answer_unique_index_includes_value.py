"""answer: the (response_id, standard_id) unique index includes the value on PostgreSQL, so
that a round's answers are counted by an index-only scan (docs/benchmarks.md)

Revision ID: 5c1e0a7b9d21
Revises: 781d36fd838d
Create Date: 2026-11-23 11:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5c1e0a7b9d21'
down_revision = '781d36fd838d'
branch_labels = None
depends_on = None

NAME = 'uq_answer_response_id_standard_id'


def upgrade():
    # SQLite has no INCLUDE: its index stays as it is.
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_constraint(NAME, 'answer', type_='unique')
    # Raw SQL: Alembic's constraint op builds a table of the key columns only, without value.
    op.execute(
        f'ALTER TABLE answer ADD CONSTRAINT {NAME} UNIQUE (response_id, standard_id) INCLUDE (value)'
    )


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_constraint(NAME, 'answer', type_='unique')
    op.create_unique_constraint(NAME, 'answer', ['response_id', 'standard_id'])
