"""Titles and names on one line: control characters in existing rows become a space

Round titles, people's names, wards', departments' and sections' names and catalogues' titles
reach mail headers and lines (app/services/one_line.py refuses control characters at every
entry point now). Rows written before are repaired: every control character (C0, DEL, C1,
U+2028, U+2029) becomes a space, runs of spaces become one and the ends are trimmed; a
repaired name another row of its ward already has (or, for a ward, another ward) gets the
row's id after it, 「総務課 (12)」, as the unique constraints ask. A round or catalogue
repaired has its ``revision`` bumped, as every Core update of those tables must.

The rule is written out here, not imported: a migration does tomorrow what it does today.
Nothing to undo: a downgrade leaves the repaired rows as they are.

Revision ID: citycrlf0001
Revises: f21a0bef0001
Create Date: 2026-12-01 09:00:00.000000

"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'citycrlf0001'
down_revision = 'f21a0bef0001'
branch_labels = None
depends_on = None

# (table, column, its length, the columns a name is unique within (None: not unique),
# whether the table has a revision to bump)
COLUMNS = (
    ("round", "title", 200, None, True),
    ("catalogue", "title", 200, None, True),
    ("person", "name", 100, None, False),
    ("ward", "name", 50, (), False),
    ("department", "name", 100, ("ward_id",), False),
    ("section", "name", 100, ("ward_id",), False),
)


def is_control(char):
    return char in "\u2028\u2029" or unicodedata.category(char) == "Cc"


def repaired(text):
    """``text`` on one line: each control character a space, spaces collapsed, trimmed."""
    spaced = "".join(" " if is_control(c) else c for c in text)
    return re.sub(r" {2,}", " ", spaced).strip() or "-"


def _repair_column(bind, name, column, length, scope, revised):
    columns = [sa.column("id"), sa.column(column), *(sa.column(c) for c in scope or ())]
    if revised:
        columns.append(sa.column("revision"))
    table = sa.table(name, *columns)
    rows = bind.execute(sa.select(*columns).order_by(table.c.id)).mappings().all()
    taken = {(*(r[c] for c in scope), r[column]) for r in rows} if scope is not None else set()
    for row in rows:
        if not any(is_control(c) for c in row[column]):
            continue
        value = repaired(row[column])
        if scope is not None:
            where = tuple(row[c] for c in scope)
            if (*where, value) in taken:
                suffix = f" ({row['id']})"
                value = value[: length - len(suffix)] + suffix
            taken.add((*where, value))
        values = {column: value}
        if revised:
            values["revision"] = table.c.revision + 1
        bind.execute(sa.update(table).where(table.c.id == row["id"]).values(**values))


def upgrade():
    bind = op.get_bind()
    for name, column, length, scope, revised in COLUMNS:
        _repair_column(bind, name, column, length, scope, revised)


def downgrade():
    pass
