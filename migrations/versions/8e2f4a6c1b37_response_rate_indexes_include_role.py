"""assignment and response: the indexes a round's response rates read carry the role (and
the response's section) on PostgreSQL, so that both counts are index-only scans
(docs/benchmarks.md)

Revision ID: 8e2f4a6c1b37
Revises: 5c1e0a7b9d21
Create Date: 2026-11-23 14:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '8e2f4a6c1b37'
down_revision = '5c1e0a7b9d21'
branch_labels = None
depends_on = None

INDEXES = {
    # name: (table, key columns, included columns)
    'ix_assignment_fiscal_year_section_id': ('assignment', ['fiscal_year', 'section_id'], ['role']),
    'ix_response_round_id_status': ('response', ['round_id', 'status'], ['section_id', 'role']),
}


def upgrade():
    # SQLite has no INCLUDE: its indexes stay as they are.
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name, (table, columns, included) in INDEXES.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, postgresql_include=included)


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name, (table, columns, _included) in INDEXES.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
