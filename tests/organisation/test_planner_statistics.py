"""A bulk load counts its own rows for PostgreSQL's planner (app/extensions.py
``refresh_statistics``), so that autovacuum analyzing a table in the middle of the load cannot
leave every later plan taking thousands of people for none.

Autovacuum's ANALYZE is played here by an ANALYZE on a second connection while the load's
transaction is still open: it sees the load's pages but none of its rows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import Answer, Person, Role, RoundCount
from app.services.operations.demo import build_demo
from app.services.organisation.roster import import_roster
from app.services.organisation.roster_file import RosterRow
from app.services.results.tally import count_closed_rounds
from tests import factories
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="autovacuum and the planner's statistics are PostgreSQL's"
)


def _analyze_elsewhere(table: str) -> None:
    """What autovacuum does: ANALYZE from another connection, outside the open transaction."""
    engine = sa.create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as other:
            other.exec_driver_sql(f"ANALYZE {table}")
    finally:
        engine.dispose()


def _statistics(table: str) -> tuple[float, int]:
    """The table's rows and pages as the planner knows them (pg_class), read in the session."""
    rows, pages = db.session.execute(
        sa.text("SELECT reltuples, relpages FROM pg_class WHERE oid = CAST(:t AS regclass)"),
        {"t": table},
    ).one()
    return float(rows), int(pages)


def _count(table: str) -> int:
    return int(db.session.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)  # noqa: S608


def _planned_rows(table: str) -> float:
    plan = db.session.scalar(sa.text(f"EXPLAIN (FORMAT JSON) SELECT * FROM {table}"))  # noqa: S608
    document = plan if isinstance(plan, list) else json.loads(plan)
    return float(document[0]["Plan"]["Plan Rows"])


def _roster(people: int) -> list[RosterRow]:
    return [
        RosterRow(
            line=n + 2,
            employee_id=f"R{n:05d}",
            name=f"職員 {n}",
            email=f"r{n}@example.jp",
            ward="高津区",
            department="区民サービス部",
            section=f"第{n % 4 + 1}課",
            role=Role.CHIEF if n < 4 else Role.STAFF,
            section_kinds=(),
        )
        for n in range(people)
    ]


def test_a_roster_import_recounts_what_autovacuum_took_for_empty(app: Flask):
    """Autovacuum analyzing ``person`` while a first roster is loading records no rows on its
    pages; the import's own ANALYZE puts the planner's count back to the rows really there."""
    with app.app_context():
        for n in range(300):  # the load so far, not committed yet
            db.session.add(Person(employee_id=f"E{n:05d}", name="職員", email=None))
        db.session.flush()
        _analyze_elsewhere("person")
        rows, pages = _statistics("person")
        assert (rows, pages > 0) == (0, True)  # the trap: pages, and no rows on them
        assert _planned_rows("person") == 1  # every plan now takes the table for empty

        import_roster(_roster(200), 2025)

        assert _statistics("person")[0] == _count("person") == 500
        assert _planned_rows("person") == 500
        assert _statistics("assignment")[0] == _count("assignment") == 200
        db.session.rollback()


def test_the_demo_counts_every_table_it_filled(app: Flask):
    """The demo fills every table in one transaction; the planner knows their rows before it
    commits (answers are loaded by the demo itself, not through a roster)."""
    with app.app_context():
        build_demo(Path(app.config["SURVEYS_DIR"]))
        answers = _count("answer")
        assert answers > 1000
        assert _statistics(Answer.__tablename__)[0] == answers
        assert _planned_rows("answer") == answers
        db.session.rollback()


def test_counting_a_round_counts_the_rows_it_wrote(app: Flask):
    """The first round a database counts fills ``round_count``; the planner knows its rows
    before the count commits."""
    with app.app_context():
        catalogue = factories.catalogue(standards=5)
        ward = factories.ward()
        round_ = factories.closed_round(catalogue, wards=[ward])
        for n in range(4):
            section = factories.section(f"課{n}")
            for _ in range(6):
                person = factories.person(section=section)
                values = {f"std-{k}": "yes" for k in range(1, 6)}
                factories.response(round_, person, values, section=section)
        db.session.flush()
        _analyze_elsewhere(RoundCount.__tablename__)

        assert count_closed_rounds(datetime.now(UTC)) == [round_.id]

        written = _count("round_count")
        assert written > 0
        assert _statistics("round_count")[0] == written
        db.session.rollback()
