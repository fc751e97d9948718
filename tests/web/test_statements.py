"""``first_row`` (app/statements.py), the hot path's reads past SQLAlchemy's per-execution work,
gives what ``Session.execute`` gives: the same values of the same types, inside the request's
transaction, with the engine's events and SQLAlchemy's errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import g

from app.access import _AHEAD, _signed_in_query, load_signed_in
from app.extensions import READ_AHEAD, db
from app.models import GrantRole, Person, Role, Round
from app.services.organisation.grants import grant_role
from app.services.rounds.checklist_page import _page_query, _round_of, checklist_for, page_read
from app.statements import first_row, side_by_side
from app.wareki import fiscal_year_of, tokyo
from tests import factories

NOW = datetime.now(UTC)
YEAR = fiscal_year_of(tokyo(NOW))


@pytest.fixture
def world(app) -> dict[str, int]:
    """A chief with a grant and a staff member with a draft (one comment) in an open round."""
    with app.app_context():
        section = factories.section()
        chief = factories.person(section=section, role=Role.CHIEF, fiscal_year=YEAR)
        staff = factories.person(section=section, fiscal_year=YEAR, name="山田 <花子>")
        catalogue = factories.catalogue(f"stmt-{YEAR}", fiscal_year=YEAR, standards=3)
        round_ = factories.round_(catalogue)
        factories.response(round_, staff, {"std-1": "yes", "std-2": "na"}, section=section,
                           submitted=False, comments={"std-2": "窓口が\"ない\" & <閉鎖>"})
        grant_role(chief, GrantRole.COMMITTEE)
        db.session.commit()
        return {"round": round_.id, "chief": chief.id, "staff": staff.id}


def _both(statement, params):
    """The row as Session.execute gives it (ORM entities as their columns), and first_row's."""
    expected = db.session.connection().execute(statement, params).first()
    return (None if expected is None else tuple(expected)), first_row(statement, params)


def test_the_sign_in_row_is_the_sessions_row(app, world):
    """The sign-in query's row (booleans for the roles and the left flag) is the same, value
    and type, through first_row as through SQLAlchemy's execution, for each person and for
    nobody."""
    with app.app_context():
        for who in ("chief", "staff"):
            params = {"value": world[who], "fiscal_year": YEAR}
            expected, got = _both(_signed_in_query("id"), params)
            assert got == expected and expected is not None
            assert [type(v) for v in got] == [type(v) for v in expected]
        assert _both(_signed_in_query("id"), {"value": -1, "fiscal_year": YEAR}) == (None, None)


def test_the_page_row_is_the_sessions_row(app, world):
    """The checklist page's row (the round's aware datetimes, the role and status enums, the
    answers decoded from JSON with the comment as stored) is the same through first_row as
    through SQLAlchemy's execution, and the round built from it equals the loaded round."""
    with app.app_context():
        params = {"round_id": world["round"], "person_id": world["staff"]}
        expected, got = _both(_page_query(), params)
        assert got == expected and got is not None
        assert [type(v) for v in got] == [type(v) for v in expected]
        assert got[-1] and any(comment == "窓口が\"ない\" & <閉鎖>" for _s, _v, comment in got[-1])
        built, loaded = _round_of(got), db.session.get_one(Round, world["round"])
        for column in sa.inspect(Round).column_attrs:
            assert getattr(built, column.key) == getattr(loaded, column.key), column.key
        assert built.opens_at.tzinfo is not None and built.state() == loaded.state() == "open"
        assert sa.inspect(built).transient  # the page's round is not the session's


def test_it_reads_inside_the_requests_transaction(app, world):
    """Changes made in this transaction and not yet flushed are seen (as autoflush would), and
    are gone with its rollback."""
    with app.app_context():
        person = db.session.get_one(Person, world["staff"])
        person.name = "改名 太郎"
        signed = load_signed_in("id", world["staff"])
        assert signed is not None and signed.name == "改名 太郎"
        db.session.rollback()
        signed = load_signed_in("id", world["staff"])
        assert signed is not None and signed.name == "山田 <花子>"


def test_it_fires_the_engines_events_and_raises_sqlalchemys_errors(app, world):
    """The engine's before/after_cursor_execute listeners see the statement (statement counts
    stay true), and a bad statement is SQLAlchemy's DBAPIError, the connection left valid."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    with app.app_context():
        staff = db.session.get_one(Person, world["staff"])
        checklist_for(world["round"], staff)  # the standards are read and kept
        engine = db.engine
        for name in ("before_cursor_execute", "after_cursor_execute"):
            sa.event.listen(engine, name, record)
        try:
            checklist_for(world["round"], staff)
        finally:
            for name in ("before_cursor_execute", "after_cursor_execute"):
                sa.event.remove(engine, name, record)
        assert len(seen) == 2 and seen[0] == seen[1] and "answer" in seen[0]
        missing: sa.Select[Any] = sa.select(sa.column("x")).select_from(sa.table("no_such_table"))
        with pytest.raises(sa.exc.DBAPIError) as raised:
            first_row(missing, {})
        assert not raised.value.connection_invalidated
        db.session.rollback()
        assert load_signed_in("id", world["chief"]) is not None


def test_a_checklist_page_runs_no_orm_execution(app, client, sign_in, world):
    """A staff member's checklist page reads the person and the round past the ORM's
    execution (``first_row``): no ``do_orm_execute`` while the page is served, and the page
    still shows the stored comment, escaped."""
    sign_in(world["staff"])
    url = f"/rounds/{world['round']}/checklist"
    assert client.get(url).status_code == 200  # the standards are read and kept
    executed: list[object] = []

    def record(state):
        executed.append(state.statement)

    sa.event.listen(so.Session, "do_orm_execute", record)
    try:
        page = client.get(url).get_data(as_text=True)
    finally:
        sa.event.remove(so.Session, "do_orm_execute", record)
    assert executed == []
    assert "窓口が&#34;ない&#34; &amp; &lt;閉鎖&gt;" in page


# --- reading ahead ---------------------------------------------------------------------------


@contextmanager
def _statements() -> Iterator[list[str]]:
    """The statements sent to the database inside the block."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)


def _reading_ahead(round_id: int) -> None:
    """Make this request's sign-in read the page's query ahead, as ``reads_ahead`` does."""
    g.setdefault(_AHEAD, lambda: page_read(round_id))


@pytest.mark.parametrize("who", ["chief", "staff"])
def test_a_row_read_with_the_sign_in_is_the_row_read_apart(app, world, who):
    """The sign-in with the page's query beside it (one statement) signs in the same person
    with the same roles, and the page's row it keeps is, value and type, the row the page's
    query reads on its own; it is handed out once, after which the database is asked."""
    with app.test_request_context():
        params = {"round_id": world["round"], "person_id": world[who]}
        alone = first_row(_page_query(), params)
        expected = load_signed_in("id", str(world[who]))
        roles = dict(g.kijun_roles)
        g.kijun_roles.clear()
        _reading_ahead(world["round"])
        with _statements() as seen:
            signed = load_signed_in("id", str(world[who]))
            got = first_row(_page_query(), params)
        assert signed is not None and expected is not None and len(seen) == 1
        assert vars(signed) == vars(expected) and g.kijun_roles == roles
        assert got == alone and got is not None and alone is not None
        assert [type(v) for v in got] == [type(v) for v in alone]
        with _statements() as seen:
            assert first_row(_page_query(), params) == alone
        assert len(seen) == 1  # the kept row was used once


def test_a_row_read_ahead_serves_only_its_own_person_and_round(app, world):
    """Attack: the staff member's page row, read with their sign-in, never answers a read for
    another person or another round; those go to the database and get their own rows."""
    with app.test_request_context():
        other_round = factories.round_(
            factories.catalogue(f"stmt-other-{YEAR}", fiscal_year=YEAR, standards=2))
        db.session.commit()
        _reading_ahead(world["round"])
        load_signed_in("id", str(world["staff"]))
        chiefs = {"round_id": world["round"], "person_id": world["chief"]}
        elsewhere = {"round_id": other_round.id, "person_id": world["staff"]}
        with _statements() as seen:
            chief_row = first_row(_page_query(), chiefs)
            elsewhere_row = first_row(_page_query(), elsewhere)
        assert len(seen) == 2
        assert chief_row is not None and not chief_row[-1]  # the chief has no answers
        assert elsewhere_row is not None and elsewhere_row[0] == other_round.id


def test_a_write_drops_the_row_read_ahead(app, world):
    """A write after the sign-in drops the row read ahead: the next read asks the database and
    sees the change."""
    with app.test_request_context():
        _reading_ahead(world["round"])
        load_signed_in("id", str(world["staff"]))
        db.session.execute(sa.update(Round).where(Round.id == world["round"])
                           .values(title="書き換えた題"))
        params = {"round_id": world["round"], "person_id": world["staff"]}
        with _statements() as seen:
            row = first_row(_page_query(), params)
        assert len(seen) == 1 and row is not None and row[1] == "書き換えた題"
        db.session.rollback()


def test_nobody_and_a_person_outside_the_round_read_ahead_nothing(app, world):
    """An unknown id signs nobody in and keeps nothing; a person the round does not ask gets
    no row (as the page's own query gives none), and the page says 404."""
    with app.test_request_context():
        _reading_ahead(world["round"])
        assert load_signed_in("id", "-1") is None
        assert not g.get(READ_AHEAD)
        elsewhere = factories.section(ward_name="宮前区")
        outsider = factories.person(section=elsewhere, fiscal_year=YEAR)
        db.session.commit()
        params = {"round_id": world["round"], "person_id": outsider.id}
        assert first_row(_page_query(), params) is None
        _reading_ahead(world["round"])
        with _statements() as seen:
            assert load_signed_in("id", str(outsider.id)) is not None
            assert first_row(_page_query(), params) is None
        assert len(seen) == 1


def test_statements_that_share_a_parameter_are_not_read_side_by_side():
    """Two statements whose parameters share a name would take one value: refused."""
    first = sa.select(Person.id).where(Person.id == sa.bindparam("round_id"))
    with pytest.raises(ValueError, match="share a parameter"):
        side_by_side(first, _page_query(), {"person_id": sa.literal(1)})
