"""The checklist's hot path keeps the behaviour: its per-process standards follow every edit, a
dropped database connection is retried once and then answered 503, the page and a first submit
make a few statements whatever the number of people and answers (counts, never timings)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    AnswerValue,
    Audience,
    Catalogue,
    Person,
    Response,
    ResponseStatus,
    Role,
    Round,
    Section,
    SectionAnswer,
    Standard,
    Ward,
    utcnow,
)
from app.services.rounds.rounds import update_round
from app.wareki import fiscal_year_of, tokyo
from tests import factories
from tests.conftest import PG_URL


@pytest.fixture
def world(app) -> dict[str, int]:
    """An open round of a three-standard catalogue and one staff member who answers it."""
    # This fiscal year's, so that the admin's round form (whose year follows the opening)
    # keeps it.
    year = fiscal_year_of(tokyo(utcnow()))
    with app.app_context():
        section = factories.section()
        person = factories.person(section=section, fiscal_year=year)
        catalogue = factories.catalogue(f"test-{year}", fiscal_year=year, standards=3)
        round_ = factories.round_(catalogue)
        db.session.commit()
        return {"round": round_.id, "person": person.id, "catalogue": catalogue.id,
                "section": section.id, "year": year}


def _page(client, world) -> str:
    response = client.get(f"/rounds/{world['round']}/checklist")
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


@contextmanager
def statements(app) -> Iterator[list[tuple[str, bool]]]:
    """The statements sent to the database, each with whether it ran outside a transaction."""
    seen: list[tuple[str, bool]] = []

    def record(conn, _cursor, statement, *_args):
        autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        seen.append((statement, autocommit))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


# --- the per-process standards follow every edit ------------------------------------------------


def test_an_edited_standard_text_shows_on_the_next_page(app, client, sign_in, world):
    """A standard's text changed after the page was shown (as the catalogue editor does, through
    the ORM) shows on the next page, and the catalogue's revision went up."""
    sign_in(world["person"])
    assert "基準1の文" in _page(client, world)
    with app.app_context():
        before = db.session.get_one(Catalogue, world["catalogue"]).revision
        standard = db.session.scalars(
            sa.select(Standard).where(Standard.catalogue_id == world["catalogue"],
                                      Standard.key == "std-1")).one()
        standard.text = "窓口で名札を見えるように着けている"
        db.session.commit()
        assert db.session.get_one(Catalogue, world["catalogue"]).revision == before + 1
    html = _page(client, world)
    assert "窓口で名札を見えるように着けている" in html
    assert "基準1の文" not in html


def test_standards_added_to_or_removed_from_a_catalogue_show_on_the_next_page(
    app, client, sign_in, world
):
    """A standard added to the catalogue appears and a removed one disappears at once."""
    sign_in(world["person"])
    html = _page(client, world)
    assert "基準2の文" in html and "新しい基準の文" not in html
    with app.app_context():
        catalogue = db.session.get_one(Catalogue, world["catalogue"])
        removed = next(s for s in catalogue.standards if s.key == "std-2")
        catalogue.standards.remove(removed)
        catalogue.standards.append(Standard(key="std-9", number=9, position=9,
                                            text="新しい基準の文", scene="応対",
                                            audience=Audience.EVERYONE))
        db.session.commit()
    html = _page(client, world)
    assert "新しい基準の文" in html
    assert "基準2の文" not in html


def test_a_standard_moved_to_the_sections_part_leaves_the_staff_page(app, client, sign_in, world):
    """A standard whose audience changes to the section's (answered by chiefs only) is no
    longer on a staff member's page."""
    sign_in(world["person"])
    assert "基準3の文" in _page(client, world)
    with app.app_context():
        standard = db.session.scalars(
            sa.select(Standard).where(Standard.catalogue_id == world["catalogue"],
                                      Standard.key == "std-3")).one()
        standard.audience = Audience.SECTION
        db.session.commit()
    assert "基準3の文" not in _page(client, world)


def test_new_round_dates_show_on_the_next_page(app, client, sign_in, world):
    """A round's close moved by the admin's round form (update_round) shows on the next page,
    and the round's revision went up."""
    sign_in(world["person"])
    _page(client, world)
    new_close = datetime(2099, 3, 31, 8, 0, tzinfo=UTC)
    with app.app_context():
        round_ = db.session.get_one(Round, world["round"])
        before = round_.revision
        update_round(round_, round_.catalogue.key, [w.name for w in round_.wards],
                     round_.opens_at, new_close)
        db.session.commit()
        assert db.session.get_one(Round, world["round"]).revision == before + 1
    assert "2099年3月31日" in _page(client, world)


def test_a_catalogue_reloaded_by_the_cli_shows_on_the_next_page(app, client, sign_in, tmp_path):
    """``flask catalogue load`` of a changed file shows the new wording on the next page."""
    from app.services.catalogue.catalogues import load_catalogues

    text = """key: perf-2025
title: 性能テスト基準
fiscal_year: 2025
source: test
standards:
  - {number: 1, key: perf-1, text: "%s", scene: 応対, audience: everyone}
"""
    (tmp_path / "perf.yaml").write_text(text % "最初の文", encoding="utf-8")
    with app.app_context():
        load_catalogues(tmp_path)
        section = factories.section()
        person = factories.person(section=section)
        catalogue = db.session.scalars(
            sa.select(Catalogue).where(Catalogue.key == "perf-2025")).one()
        round_id = factories.round_(catalogue).id
        person_id = person.id
        db.session.commit()
    sign_in(person_id)
    world = {"round": round_id}
    assert "最初の文" in _page(client, world)
    (tmp_path / "perf.yaml").write_text(text % "直した文", encoding="utf-8")
    with app.app_context():
        load_catalogues(tmp_path)
        db.session.commit()
    html = _page(client, world)
    assert "直した文" in html and "最初の文" not in html


# --- round trips ----------------------------------------------------------------------------------


def _asked(seen: list[tuple[str, bool]]) -> list[str]:
    """The statements that asked or wrote something (SQLite's ``BEGIN IMMEDIATE``, which the
    engine sends at the start of each transaction, left out)."""
    return [s for s, _autocommit in seen if not s.lstrip().upper().startswith("BEGIN")]


def _more_people_and_answers(app, world, people: int = 20) -> None:
    """Twenty more people in the round's section, each with a submitted response."""
    with app.app_context():
        section = db.session.get_one(Section, world["section"])
        round_ = db.session.get_one(Round, world["round"])
        for _n in range(people):
            other = factories.person(section=section, fiscal_year=world["year"])
            factories.response(round_, other, {f"std-{i}": "yes" for i in (1, 2, 3)},
                               section=section)
        db.session.commit()


def test_the_checklist_page_is_two_statements_whatever_the_number_of_people(
    app, client, sign_in, world
):
    """Once the round's standards are kept, a staff member's page asks the database twice
    (the person with their roles; the round with their place and answers), each on its own
    without a transaction (no BEGIN, no COMMIT), with twenty more people answering as with
    none; the connection is back in the pool afterwards."""
    sign_in(world["person"])
    _page(client, world)  # the standards are read and kept
    with statements(app) as seen:
        _page(client, world)
    assert len(seen) == 2, seen
    assert all(autocommit for _statement, autocommit in seen)
    _more_people_and_answers(app, world)
    client.put(f"/api/v1/rounds/{world['round']}/checklist",
               json={"answers": {"std-1": "no"}, "comments": {"std-1": "一言"}})
    with statements(app) as more:
        _page(client, world)
    assert len(more) == 2, more
    with app.app_context():
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # QueuePool


def test_a_chiefs_page_asks_for_the_sections_standards_too(app, client, sign_in):
    """A chief's page asks once more than a staff member's (the section's standards with
    the section's answers), without a transaction too, and hands its connection back."""
    year = fiscal_year_of(tokyo(utcnow()))
    with app.app_context():
        section = factories.section(kinds=("窓口",))
        chief = factories.person(section=section, role=Role.CHIEF, fiscal_year=year)
        catalogue = factories.catalogue(f"chief-{year}", fiscal_year=year, standards=2)
        factories.section_standards(catalogue, (3, ("窓口",)))
        round_ = factories.round_(catalogue)
        db.session.commit()
        world = {"round": round_.id, "person": chief.id}
    sign_in(world["person"])
    _page(client, world)
    with statements(app) as seen:
        page = _page(client, world)
    assert "課の基準3の文" in page
    assert len(seen) == 3, seen
    assert all(autocommit for _statement, autocommit in seen)
    with app.app_context():
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # QueuePool


def test_a_page_reads_the_signed_in_person_without_their_password_hash(
    app, client, sign_in, world
):
    """Every page signs the person in from their id, name and session number with their roles
    (``SignedIn``), not the whole ORM person: no page view reads the password hash, and the
    checklist page loads no Person object into the session."""
    sign_in(world["person"])
    _page(client, world)
    loaded: list[object] = []

    def on_load(target, _context):
        loaded.append(target)

    sa.event.listen(Person, "load", on_load)
    try:
        with statements(app) as seen:
            page = _page(client, world)
    finally:
        sa.event.remove(Person, "load", on_load)
    assert "password_hash" not in " ".join(statement for statement, _a in seen)
    assert loaded == []
    with app.app_context():
        person = db.session.get(Person, world["person"])
        assert person is not None and person.name in page  # the name is still shown


def _first_submit_statements(app, client, url, body) -> list[tuple[str, bool]]:
    with statements(app) as seen:
        response = client.put(url, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "submitted"  # as the save's statement returned it
    return seen


def test_a_first_submit_is_a_few_statements_whatever_the_number_of_people(
    app, client, sign_in, world
):
    """A staff member's first submit after a page of the round, with twenty more people
    answering as with none: on PostgreSQL two statements without a transaction (the person;
    one statement that reads their place under the round's share lock, creates the response,
    writes the answers and marks it submitted); on SQLite the person and the round, then a
    transaction that reads the round again, creates the response and writes the answers. It
    is stored, submitted, and the connection is back in the pool."""
    sign_in(world["person"])
    _page(client, world)
    body = {"answers": {f"std-{i}": "yes" for i in (1, 2, 3)}, "submit": True}
    url = f"/api/v1/rounds/{world['round']}/checklist"
    seen = _first_submit_statements(app, client, url, body)
    kinds = [(s.lstrip().split()[0].upper(), autocommit) for s, autocommit in seen]
    if PG_URL:
        assert kinds == [("SELECT", True), ("WITH", True)], seen
        assert ["FOR SHARE" in statement for statement, _a in seen] == [False, True]
    else:
        assert kinds == [("SELECT", True), ("SELECT", True), ("BEGIN", False),
                         ("SELECT", False), ("INSERT", False), ("INSERT", False)], seen
    with app.app_context():
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # QueuePool
        stored = db.session.scalars(
            sa.select(Response).where(Response.person_id == world["person"])).one()
        assert stored.status is ResponseStatus.SUBMITTED and stored.submitted_at is not None
        assert len(stored.answers) == 3
        newcomer = factories.person(section=db.session.get_one(Section, world["section"]),
                                    fiscal_year=world["year"])
        db.session.commit()
        newcomer_id = newcomer.id
    _more_people_and_answers(app, world)
    sign_in(newcomer_id)
    assert len(_first_submit_statements(app, client, url, body)) == len(seen)


# --- dropped connections --------------------------------------------------------------------------


def _dropped() -> sa.exc.OperationalError:
    return sa.exc.OperationalError(
        "SELECT 1", {}, Exception("server closed the connection unexpectedly"),
        connection_invalidated=True,
    )


@pytest.mark.skipif(not PG_URL, reason="pg_terminate_backend is PostgreSQL's")
def test_a_killed_backend_is_replaced_and_the_page_still_shows(app, client, sign_in, world):
    """The backend of the pooled connection is killed between two requests (as a server restart
    would): the next page is served on a fresh connection, not a 500."""
    sign_in(world["person"])
    _page(client, world)
    with app.app_context():
        pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        db.session.remove()
        assert PG_URL is not None
        killer = sa.create_engine(PG_URL)
        with killer.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        killer.dispose()
    assert "基準1の文" in _page(client, world)
    with app.app_context():
        assert db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid


def test_a_connection_dropped_twice_is_a_clean_503(app, client, sign_in, world, monkeypatch):
    """A view whose connection drops again on the retry is answered with the 503 page after
    exactly two tries, never a 500."""
    sign_in(world["person"])
    calls: list[int] = []

    def dropped(*_args, **_kwargs):
        calls.append(1)
        raise _dropped()

    monkeypatch.setattr("app.checklist.routes.checklist_for", dropped)
    response = client.get(f"/rounds/{world['round']}/checklist")
    assert response.status_code == 503
    assert "うまく表示できませんでした" in response.get_data(as_text=True)
    assert len(calls) == 2


def test_a_connection_dropped_after_a_write_is_not_retried(app, client, sign_in, world,
                                                           monkeypatch):
    """A save whose connection drops after it wrote is not run again (it might have been
    done): one try, then 503."""
    sign_in(world["person"])
    calls: list[int] = []

    def write_then_drop(*_args, **_kwargs):
        calls.append(1)
        db.session.execute(sa.update(Round).where(Round.id == -1).values(title="x"))
        raise _dropped()

    monkeypatch.setattr("app.api.routes.save_checklist", write_then_drop)
    body = {"answers": {"std-1": "yes"}, "submit": False}
    response = client.put(f"/api/v1/rounds/{world['round']}/checklist", json=body)
    assert response.status_code == 503
    assert len(calls) == 1


def test_a_dropped_connection_before_any_write_is_retried_once(app, client, sign_in, world,
                                                               monkeypatch):
    """A connection that drops once before anything was written: the view runs again and the
    page shows (two tries)."""
    from app.services.rounds.checklist_page import checklist_for as real

    sign_in(world["person"])
    calls: list[int] = []

    def once_dropped(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise _dropped()
        return real(*args, **kwargs)

    monkeypatch.setattr("app.checklist.routes.checklist_for", once_dropped)
    assert "基準1の文" in _page(client, world)
    assert len(calls) == 2



# --- PDF and Word from a subprocess ---------------------------------------------------------------


def _same_file(data: bytes | None) -> bytes | dict[str, bytes]:
    """A file without what changes from one writing to the next (none found so far: the
    bytes themselves; a .docx is compared part by part)."""
    assert data is not None
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as parts:
            return {name: parts.read(name) for name in parts.namelist()}
    return data


def test_the_render_subprocess_writes_the_files_the_functions_write(app, runner):
    """The annual report's PDF and Word files and a round's compliance PDF, written by the
    subprocess the web worker now hands them to, are the files the ``reports/`` functions
    write in-process."""
    from app.render_worker import render
    from app.services.goals.annual_report import annual_report
    from app.services.results.exports import round_table
    from reports.annual import annual_docx, annual_pdf
    from reports.printing import compliance_pdf

    assert runner.invoke(args=["demo"]).exit_code == 0
    with app.app_context():
        ward_id = db.session.scalars(sa.select(Ward.id).where(Ward.name == "高津区")).one()
        report = annual_report(ward_id, 2025)
        closed = db.session.scalars(
            sa.select(Round.id).where(Round.closed_by(utcnow()))
            .order_by(Round.closes_at.desc()).limit(1)).one()
        table = round_table(closed)
        db.session.commit()
    assert _same_file(render("annual_docx", report)) == _same_file(annual_docx(report))
    assert _same_file(render("annual_pdf", report)) == _same_file(annual_pdf(report))
    assert _same_file(render("compliance_pdf", table)) == _same_file(compliance_pdf(table))


@pytest.mark.skipif(not PG_URL, reason="row locks are PostgreSQL's (SQLite locks it all)")
def test_a_first_submit_after_the_count_is_refused_and_stores_nothing(
    app, client, sign_in, world
):
    """The round is counted (and committed) by another request just before the first submit
    reads it under its share lock: the save finds the round no longer taking answers, so the
    submit is refused with 409 and no response or answer is stored."""
    sign_in(world["person"])
    body = {"answers": {f"std-{i}": "yes" for i in (1, 2, 3)}, "submit": True}
    with app.app_context():
        engine = db.engine

    def count_first(_conn, _cursor, statement, *_args):
        if "FOR SHARE" in statement:
            with engine.connect() as other:  # another request: the count, committed
                other.execute(sa.update(Round).where(Round.id == world["round"])
                              .values(counted_at=sa.func.now()))
                other.commit()

    sa.event.listen(engine, "before_cursor_execute", count_first)
    try:
        response = client.put(f"/api/v1/rounds/{world['round']}/checklist", json=body)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count_first)
    assert response.status_code == 409, response.get_data(as_text=True)
    assert _responses(app) == 0


@pytest.mark.skipif(not PG_URL, reason="the one-statement first save is PostgreSQL's")
def test_a_first_submit_before_any_page_of_the_round_reads_the_round_first(
    app, client, sign_in, world
):
    """When this process has read nothing of the round yet, a first submit reads the person's
    place and the round's standards first, then saves in the one statement: the person, the
    place, the standards, the save, none in a transaction; and the submit is stored."""
    from app.services.rounds.checklist_page import LATEST_READ, STANDARDS_CACHE

    app.extensions.pop(LATEST_READ, None)
    app.extensions.pop(STANDARDS_CACHE, None)
    sign_in(world["person"])
    body = {"answers": {f"std-{i}": "yes" for i in (1, 2, 3)}, "submit": True}
    seen = _first_submit_statements(app, client, f"/api/v1/rounds/{world['round']}/checklist",
                                    body)
    kinds = [(s.lstrip().split()[0].upper(), autocommit) for s, autocommit in seen]
    assert kinds == [("SELECT", True), ("SELECT", True), ("SELECT", True), ("WITH", True)], seen


def _submit_every_answer(client, world):
    """The signed-in person's submit of every standard of ``world``'s round, through the API."""
    body = {"answers": {f"std-{i}": "yes" for i in (1, 2, 3)}, "submit": True}
    return client.put(f"/api/v1/rounds/{world['round']}/checklist", json=body)


def _responses(app) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count(Response.id))) or 0)


def _add_standard(app, world, key: str) -> None:
    with app.app_context():
        catalogue = db.session.get_one(Catalogue, world["catalogue"])
        catalogue.standards.append(Standard(
            key=key, number=99, position=99, text="新しい基準の文", scene="窓口",
            audience=Audience.EVERYONE))
        db.session.commit()


def test_a_standard_added_after_the_page_keeps_a_complete_looking_submit_a_draft(
    app, client, sign_in, world
):
    """The page was read with three standards; a fourth is added; a submit answering the
    three is checked against the round as it now stands, not as the page read it: it is kept
    as a draft, the fourth named as missing, and nothing says submitted."""
    sign_in(world["person"])
    _page(client, world)
    _add_standard(app, world, "std-new")
    response = _submit_every_answer(client, world)
    assert response.status_code == 200, response.get_data(as_text=True)
    reply = response.get_json()
    assert reply["status"] == "draft" and reply["submitted"] is False
    assert reply["missing"] == ["std-new"] and reply["total"] == 4
    with app.app_context():
        stored = db.session.scalars(sa.select(Response)).one()
        assert stored.status is ResponseStatus.DRAFT and stored.submitted_at is None
        assert len(stored.answers) == 3


def test_an_answer_to_a_standard_added_after_the_page_is_taken(app, client, sign_in, world):
    """A standard added after the page was read is answered at once (the submit's check is not
    the page's copy of the round): all four stored, submitted."""
    sign_in(world["person"])
    _page(client, world)
    _add_standard(app, world, "std-new")
    body = {"answers": {**{f"std-{i}": "yes" for i in (1, 2, 3)}, "std-new": "no"},
            "submit": True}
    response = client.put(f"/api/v1/rounds/{world['round']}/checklist", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "submitted"
    with app.app_context():
        stored = db.session.scalars(sa.select(Response)).one()
        assert stored.status is ResponseStatus.SUBMITTED and len(stored.answers) == 4


def test_a_round_closed_after_the_page_refuses_the_first_submit(app, client, sign_in, world):
    """The round's closing is moved to the past after the page was read: the first submit is
    refused with 409 and nothing is stored."""
    sign_in(world["person"])
    _page(client, world)
    with app.app_context():
        round_ = db.session.get_one(Round, world["round"])
        round_.closes_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    response = _submit_every_answer(client, world)
    assert response.status_code == 409, response.get_data(as_text=True)
    assert _responses(app) == 0


def test_someone_outside_the_round_cannot_first_save_after_a_members_page(
    app, client, sign_in, world
):
    """A member's page leaves the round known to the process; a person of another ward's
    section, outside the round, then submits every answer: 404, and nothing is stored."""
    sign_in(world["person"])
    _page(client, world)
    with app.app_context():
        outsider = factories.person(section=factories.section(ward_name="遠い区"),
                                    fiscal_year=world["year"])
        db.session.commit()
        outsider_id = outsider.id
    sign_in(outsider_id)
    response = _submit_every_answer(client, world)
    assert response.status_code == 404, response.get_data(as_text=True)
    assert _responses(app) == 0


def test_a_chiefs_first_save_after_a_staff_page_stores_the_section_answers(
    app, client, sign_in, world
):
    """A staff member's page leaves the round known to the process; the section's chief then
    saves first, an answer staff are asked too, then the section's: each save is the chief's
    (the sheet with the section standard, the section's answer stored for the section, the
    response a chief's), never a staff member's one statement."""
    sign_in(world["person"])
    _page(client, world)
    with app.app_context():
        catalogue = db.session.get_one(Catalogue, world["catalogue"])
        factories.section_standards(catalogue, (50, ()))
        chief = factories.person(section=db.session.get_one(Section, world["section"]),
                                 role=Role.CHIEF, fiscal_year=world["year"])
        db.session.commit()
        chief_id = chief.id
    _page(client, world)  # the staff member's page again: the round as it now stands
    sign_in(chief_id)
    url = f"/api/v1/rounds/{world['round']}/checklist"
    # Only a standard staff are asked too: answers the staff member's check would take.
    own = client.put(url, json={"answers": {"std-1": "yes"}, "submit": False})
    assert own.status_code == 200, own.get_data(as_text=True)
    assert own.get_json()["total"] == 4 and own.get_json()["section"] is not None
    body = {"answers": {"sec-50": "no"}, "submit": False}
    response = client.put(url, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["role"] == "chief"
    with app.app_context():
        stored = db.session.scalars(sa.select(Response)).one()
        assert stored.role is Role.CHIEF and [a.value for a in stored.answers] == [
            AnswerValue.YES]
        section = db.session.scalars(sa.select(SectionAnswer)).one()
        assert section.value is AnswerValue.NO and section.section_id == world["section"]


def test_a_later_save_is_one_transaction(app, client, sign_in, world):
    """A save over a stored draft reads the round under its share lock inside its own
    transaction (PostgreSQL; the first save's one statement before it writes nothing), and one
    that fails in the middle (its answers cannot be written) leaves nothing of itself: the
    response keeps its time and the stored answers their values."""
    sign_in(world["person"])
    url = f"/api/v1/rounds/{world['round']}/checklist"
    draft = {"answers": {"std-1": "yes", "std-2": "no"}, "submit": False}
    assert client.put(url, json=draft).status_code == 200
    with app.app_context():
        before = db.session.scalars(sa.select(Response)).one()
        stored_before = {a.standard_id: a.value for a in before.answers}
        updated_before = before.updated_at
    with statements(app) as seen:
        response = client.put(url, json={"answers": {"std-1": "na"}, "submit": False})
    assert response.status_code == 200, response.get_data(as_text=True)
    # The round is read again under its lock inside the save's transaction (on PostgreSQL
    # after the first save's one statement, which found the response and wrote nothing).
    locked = [autocommit for s, autocommit in seen if "FOR SHARE" in s]
    assert locked == ([True, False] if PG_URL else [])

    with app.app_context():
        engine = db.engine
        after_first = db.session.scalars(sa.select(Response)).one()
        stored_after_first = {a.standard_id: a.value for a in after_first.answers}
        updated_after_first = after_first.updated_at
    assert stored_after_first != stored_before and updated_after_first > updated_before

    def fail_on_answers(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("INSERT INTO ANSWER"):
            raise RuntimeError("the answers could not be written")

    sa.event.listen(engine, "before_cursor_execute", fail_on_answers)
    try:
        with pytest.raises(RuntimeError):
            client.put(url, json={"answers": {"std-1": "yes", "std-3": "no"}, "submit": False})
    finally:
        sa.event.remove(engine, "before_cursor_execute", fail_on_answers)
    with app.app_context():
        kept = db.session.scalars(sa.select(Response)).one()
        assert kept.updated_at == updated_after_first
        assert {a.standard_id: a.value for a in kept.answers} == stored_after_first
