"""The checklist service: who sees what, saving, submitting, closing, concurrency, queries."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Answer,
    AnswerValue,
    Assignment,
    Audience,
    Catalogue,
    Person,
    Response,
    ResponseStatus,
    Role,
    SectionAnswer,
    Standard,
)
from app.services.catalogue.catalogues import load_catalogues
from app.services.rounds.checklist import InvalidAnswers, NotInRound, RoundClosed, SectionMember
from app.services.rounds.checklist_page import checklist_for, rounds_for, section_progress
from app.services.rounds.checklist_save import save_checklist
from app.wareki import reiwa_datetime
from tests import factories

NOW = datetime(2025, 11, 10, 3, 0, tzinfo=UTC)  # 令和7年11月10日 12時00分 in Tokyo
OPENS = datetime(2025, 11, 1, 0, 0, tzinfo=UTC)
CLOSES = datetime(2025, 11, 28, 8, 15, tzinfo=UTC)  # 17時15分 in Tokyo


@contextmanager
def count_statements():
    """Count the SQL statements sent to the database inside the block."""
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA")):
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listener)


@pytest.fixture
def takatsu(app):
    """高津区 FY2025: the takatsu-2025 catalogue, a 庁舎管理担当課 section and a plain one, each
    with a chief and staff, and a round open from 1 to 28 November 2025."""
    with app.app_context():
        load_catalogues(Path(app.config["SURVEYS_DIR"]) / "takatsu-2025.yaml")
        catalogue = db.session.scalars(
            sa.select(Catalogue).where(Catalogue.key == "takatsu-2025")
        ).one()
        building = factories.section("総務課", kinds=("庁舎管理担当課",))
        plain = factories.section("区民課")
        people = {
            "building_chief": factories.person(
                section=building, role=Role.CHIEF, name="総務 課長"
            ),
            "building_staff": factories.person(section=building, name="総務 一郎"),
            "plain_chief": factories.person(section=plain, role=Role.CHIEF, name="区民 課長"),
            "plain_staff": factories.person(section=plain, name="区民 花子"),
            "plain_staff2": factories.person(section=plain, name="区民 次郎"),
        }
        round_ = factories.round_(
            catalogue, fiscal_year=2025, opens_at=OPENS, closes_at=CLOSES
        )
        db.session.commit()
        ids: dict[str, Any] = {name: p.id for name, p in people.items()}
        ids.update(round=round_.id, building=building.id, plain=plain.id)
        everyone = db.session.scalars(
            sa.select(Standard.key)
            .where(Standard.catalogue_id == catalogue.id, Standard.audience == Audience.EVERYONE)
            .order_by(Standard.position)
        ).all()
        ids["everyone_keys"] = list(everyone)
    return ids


def _person(person_id: int) -> Person:
    found = db.session.get(Person, person_id)
    assert found is not None
    return found


def _all_yes(checklist) -> dict[str, str]:
    return {item.key: "yes" for item in checklist.items}


def test_staff_see_exactly_the_everyone_standards(app_ctx, takatsu):
    """A staff member's checklist is the catalogue's everyone standards, in order, all "self"."""
    checklist = checklist_for(takatsu["round"], _person(takatsu["plain_staff"]), NOW)
    assert [item.key for item in checklist.items] == takatsu["everyone_keys"]
    assert [item.number for item in checklist.items] == [*range(1, 24), 31, 32, 33]
    assert {item.part for item in checklist.items} == {"self"}
    assert checklist.role is Role.STAFF
    assert checklist.section_name == "区民課"
    assert checklist.status == "not_started"
    assert checklist.is_open
    assert (checklist.answered, checklist.total) == (0, 26)


def test_staff_of_a_building_section_never_see_section_standards(app_ctx, takatsu):
    """Staff never see section standards, even in a section of a kind that has some."""
    checklist = checklist_for(takatsu["round"], _person(takatsu["building_staff"]), NOW)
    assert [item.key for item in checklist.items] == takatsu["everyone_keys"]
    assert all(item.part == "self" for item in checklist.items)


def test_chief_of_building_section_sees_26_27_in_the_section_part(app_ctx, takatsu):
    """A chief of a 庁舎管理担当課 section answers 24-27 for the section, besides their own."""
    checklist = checklist_for(takatsu["round"], _person(takatsu["building_chief"]), NOW)
    own = [item for item in checklist.items if item.part == "self"]
    section = [item for item in checklist.items if item.part == "section"]
    assert [item.key for item in own] == takatsu["everyone_keys"]
    assert [item.number for item in section] == [24, 25, 26, 27]
    assert checklist.role is Role.CHIEF


def test_chief_of_another_section_sees_only_24_25(app_ctx, takatsu):
    """A chief of a section without kinds answers 24-25, never the kind-specific 26-28."""
    checklist = checklist_for(takatsu["round"], _person(takatsu["plain_chief"]), NOW)
    section = [item.number for item in checklist.items if item.part == "section"]
    assert section == [24, 25]


def test_city_wide_catalogue_leaves_out_ward_specific_standards(app_ctx):
    """A city-wide catalogue's ward-specific list (31-36) belongs to no ward and is not asked."""
    load_catalogues(Path(app_ctx.config["SURVEYS_DIR"]) / "city-2024.yaml")
    catalogue = db.session.scalars(sa.select(Catalogue).where(Catalogue.key == "city-2024")).one()
    staff = factories.person(section=factories.section(), fiscal_year=2024)
    round_ = factories.round_(catalogue, fiscal_year=2024)
    numbers = [item.number for item in checklist_for(round_.id, staff).items]
    assert numbers == list(range(1, 24))


def test_people_outside_the_round_are_refused(app_ctx, takatsu):
    """Another ward's people, people without an assignment that year and unknown rounds: no."""
    elsewhere = factories.person(section=factories.section(ward_name="宮前区"))
    last_year = factories.person(section=factories.section(), fiscal_year=2024)
    for person in (elsewhere, last_year):
        with pytest.raises(NotInRound):
            checklist_for(takatsu["round"], person, NOW)
        with pytest.raises(NotInRound):
            save_checklist(takatsu["round"], person, {}, now=NOW)
        assert rounds_for(person, NOW) == []
    with pytest.raises(NotInRound):
        checklist_for(999_999, _person(takatsu["plain_staff"]), NOW)


def test_submit_with_missing_items_is_refused_and_kept_as_draft(app_ctx, takatsu):
    """Submitting with items unanswered submits nothing, lists them and keeps the given answers."""
    person = _person(takatsu["plain_staff"])
    given = {"notice-media": "yes", "call-back": "na"}
    result = save_checklist(takatsu["round"], person, given, submit=True, now=NOW)
    db.session.commit()
    assert result.submitted is False
    assert result.status == "draft"
    expected_missing = [k for k in takatsu["everyone_keys"] if k not in given]
    assert [item.key for item in result.missing] == expected_missing

    checklist = checklist_for(takatsu["round"], person, NOW)
    assert checklist.status == "draft"
    stored = {item.key: item.value for item in checklist.items if item.value is not None}
    assert stored == {"notice-media": AnswerValue.YES, "call-back": AnswerValue.NA}
    response = db.session.scalars(sa.select(Response)).one()
    assert response.submitted_at is None


def test_a_partial_draft_keeps_the_other_answers(app_ctx, takatsu):
    """A draft save with only some answers leaves the other stored answers as they were."""
    person = _person(takatsu["plain_staff"])
    save_checklist(takatsu["round"], person, {"notice-media": "yes", "appearance": "no"}, now=NOW)
    db.session.commit()
    save_checklist(takatsu["round"], person, {"appearance": "yes", "call-back": ""}, now=NOW)
    db.session.commit()
    values = {i.key: i.value for i in checklist_for(takatsu["round"], person, NOW).items}
    assert values["notice-media"] is AnswerValue.YES
    assert values["appearance"] is AnswerValue.YES
    assert values["call-back"] is None


def test_complete_submit_then_edit_before_close(app_ctx, takatsu):
    """Edits and re-submits work before the close; a draft save keeps a submission."""
    person = _person(takatsu["plain_staff"])
    everything = {key: "yes" for key in takatsu["everyone_keys"]}
    first = save_checklist(takatsu["round"], person, everything, submit=True, now=NOW)
    db.session.commit()
    assert (first.submitted, first.status, first.missing) == (True, "submitted", [])

    later = NOW + timedelta(days=2)
    edit = save_checklist(takatsu["round"], person, {"appearance": "no"}, now=later)
    db.session.commit()
    assert (edit.submitted, edit.status) == (False, "submitted")
    checklist = checklist_for(takatsu["round"], person, later)
    assert checklist.status == "submitted"
    assert {i.key: i.value for i in checklist.items}["appearance"] is AnswerValue.NO

    again = NOW + timedelta(days=3)
    resubmit = save_checklist(takatsu["round"], person, {}, submit=True, now=again)
    db.session.commit()
    assert resubmit.submitted is True
    response = db.session.scalars(sa.select(Response)).one()
    assert response.submitted_at == again  # the latest submission
    assert db.session.scalar(sa.select(sa.func.count(Answer.id))) == len(everything)


def test_a_late_save_is_refused_and_changes_nothing(app_ctx, takatsu):
    """After the close a save raises RoundClosed with the deadline, and the answers stay."""
    person = _person(takatsu["plain_staff"])
    save_checklist(takatsu["round"], person, {"notice-media": "yes"}, now=NOW)
    db.session.commit()
    with pytest.raises(RoundClosed) as caught:
        save_checklist(
            takatsu["round"], person, {"notice-media": "no"}, submit=True, now=CLOSES
        )
    assert caught.value.message == (
        "この調査は令和7年11月28日 17時15分に締め切られました。回答は変更できません。"
    )
    db.session.rollback()
    checklist = checklist_for(takatsu["round"], person, CLOSES)
    assert not checklist.is_open
    assert {i.key: i.value for i in checklist.items}["notice-media"] is AnswerValue.YES
    assert db.session.scalars(sa.select(Response.status)).one() is ResponseStatus.DRAFT


def test_a_save_before_the_round_opens_is_refused(app_ctx, takatsu):
    """Before opens_at nothing can be saved, and no response is created."""
    person = _person(takatsu["plain_staff"])
    early = OPENS - timedelta(seconds=1)
    with pytest.raises(RoundClosed) as caught:
        save_checklist(takatsu["round"], person, {"notice-media": "yes"}, now=early)
    assert reiwa_datetime(OPENS) in caught.value.message
    assert "始まります" in caught.value.message
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 0


def test_invalid_keys_values_and_comments_change_nothing(app_ctx, takatsu):
    """Every bad key, value or comment is named in InvalidAnswers and nothing is written."""
    person = _person(takatsu["plain_staff"])
    with pytest.raises(InvalidAnswers) as caught:
        save_checklist(
            takatsu["round"],
            person,
            {"notice-media": "maybe", "no-such-standard": "yes", "managers-share-projects": "yes"},
            {"appearance": "x" * 1001, "call-back": "ひとこと"},
            submit=True,
            now=NOW,
        )
    assert set(caught.value.fields) == {
        "answers.notice-media",
        "answers.no-such-standard",
        "answers.managers-share-projects",
        "comments.appearance",
        "comments.call-back",  # a comment needs an answer
    }
    assert set(caught.value.field_errors) == {
        "notice-media",
        "no-such-standard",
        "managers-share-projects",
        "appearance",
        "call-back",
    }
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 0


def test_comments_are_stripped_kept_and_cleared(app_ctx, takatsu):
    """A comment is stored stripped, kept when not given again, and cleared by ""."""
    person = _person(takatsu["plain_staff"])
    save_checklist(
        takatsu["round"], person, {"call-back": "na"}, {"call-back": "  窓口のみ  "}, now=NOW
    )
    save_checklist(takatsu["round"], person, {"call-back": "yes"}, now=NOW)
    item = {i.key: i for i in checklist_for(takatsu["round"], person, NOW).items}["call-back"]
    assert (item.value, item.comment) == (AnswerValue.YES, "窓口のみ")
    save_checklist(takatsu["round"], person, {}, {"call-back": "", "appearance": ""}, now=NOW)
    item = {i.key: i for i in checklist_for(takatsu["round"], person, NOW).items}["call-back"]
    assert item.comment is None


def test_role_and_section_are_stored_on_the_response(app_ctx, takatsu):
    """The response stores the assignment's role and section, updated at each later save."""
    person = _person(takatsu["plain_staff"])
    save_checklist(takatsu["round"], person, {"notice-media": "yes"}, now=NOW)
    db.session.commit()
    response = db.session.scalars(sa.select(Response)).one()
    assert (response.role, response.section_id) == (Role.STAFF, takatsu["plain"])

    assignment = db.session.scalars(
        sa.select(Assignment).where(Assignment.person_id == person.id)
    ).one()
    assignment.section_id = takatsu["building"]
    db.session.commit()
    save_checklist(takatsu["round"], person, {"appearance": "yes"}, now=NOW)
    db.session.commit()
    response = db.session.scalars(sa.select(Response)).one()
    assert (response.role, response.section_id) == (Role.STAFF, takatsu["building"])


def test_chief_section_answers_are_stored_once_for_the_section(app_ctx, takatsu):
    """A chief's section part is stored as SectionAnswer rows linked to the chief's response."""
    chief = _person(takatsu["building_chief"])
    checklist = checklist_for(takatsu["round"], chief, NOW)
    result = save_checklist(takatsu["round"], chief, _all_yes(checklist), submit=True, now=NOW)
    db.session.commit()
    assert result.submitted
    response = db.session.scalars(sa.select(Response)).one()
    assert response.role is Role.CHIEF
    rows = db.session.scalars(sa.select(SectionAnswer)).all()
    assert sorted(r.standard.number for r in rows) == [24, 25, 26, 27]
    assert {(r.round_id, r.section_id, r.response_id) for r in rows} == {
        (takatsu["round"], takatsu["building"], response.id)
    }
    assert db.session.scalar(sa.select(sa.func.count(Answer.id))) == 26


def test_rounds_for_lists_the_persons_rounds_with_status(app_ctx, takatsu):
    """rounds_for gives each round the person answers with their role, section and status."""
    person = _person(takatsu["plain_chief"])
    [mine] = rounds_for(person, NOW)
    assert (mine.round_id, mine.status, mine.role, mine.section_name) == (
        takatsu["round"],
        "not_started",
        Role.CHIEF,
        "区民課",
    )
    assert mine.is_open
    save_checklist(takatsu["round"], person, {"notice-media": "yes"}, now=NOW)
    assert rounds_for(person, NOW)[0].status == "draft"
    assert rounds_for(person, CLOSES)[0].is_open is False


def test_section_progress_shows_names_and_status_only(app_ctx, takatsu):
    """The chief sees each member of the section with their status, and nothing of answers."""
    round_id = takatsu["round"]
    staff = _person(takatsu["plain_staff"])
    staff2 = _person(takatsu["plain_staff2"])
    save_checklist(round_id, staff, {"notice-media": "no"}, now=NOW)
    everything = {item.key: "yes" for item in checklist_for(round_id, staff2, NOW).items}
    save_checklist(round_id, staff2, everything, submit=True, now=NOW)
    db.session.commit()

    name, members = section_progress(round_id, _person(takatsu["plain_chief"]), NOW)
    assert name == "区民課"
    assert [f.name for f in fields(SectionMember)] == ["employee_id", "name", "role", "status"]
    assert [(m.name, m.role, m.status) for m in members] == [
        ("区民 課長", Role.CHIEF, "not_started"),
        ("区民 花子", Role.STAFF, "draft"),
        ("区民 次郎", Role.STAFF, "submitted"),
    ]
    with pytest.raises(NotInRound):
        section_progress(round_id, staff, NOW)


def test_section_progress_takes_two_queries(app_ctx, takatsu):
    """section_progress asks the database twice, whatever the size of the section."""
    chief = _person(takatsu["plain_chief"])
    with count_statements() as statements:
        section_progress(takatsu["round"], chief, NOW)
    assert len(statements) == 2


def _catalogue_round(key: str, standards: int, section) -> int:
    catalogue = factories.catalogue(key, standards=standards)
    factories.section_standards(catalogue, (900, ()), (901, ("庁舎管理担当課",)))
    return factories.round_(catalogue, wards=[section.ward]).id


def test_checklist_queries_do_not_grow_with_standards(app_ctx):
    """checklist_for and save_checklist use as many statements for 40 standards as for 3."""
    section = factories.section(kinds=("庁舎管理担当課",))
    chief = factories.person(section=section, role=Role.CHIEF)
    small = _catalogue_round("small-2025", 3, section)
    large = _catalogue_round("large-2025", 40, section)
    db.session.commit()

    counts = {}
    for round_id in (small, large):
        person = _person(chief.id)
        everything = _all_yes(checklist_for(round_id, person))
        db.session.commit()
        assert person.id  # loaded again after the commit, as at the start of a request
        with count_statements() as read:
            checklist_for(round_id, person)
        with count_statements() as write:
            save_checklist(round_id, person, everything, submit=True)
        db.session.commit()
        counts[round_id] = (len(read), len(write))
    assert counts[small] == counts[large]
    assert counts[small][0] <= 3


def test_answers_with_and_without_comments_are_written_by_one_statement(app_ctx, takatsu):
    """A save where some answers have a comment and the others none writes all of them with
    one statement, and each comment lands on its own item only."""
    keys = takatsu["everyone_keys"]
    person = _person(takatsu["plain_staff"])
    answers = {key: "yes" for key in keys}
    comments = {keys[0]: "窓口に案内表示がない", keys[5]: "研修待ち"}
    with count_statements() as statements:
        save_checklist(takatsu["round"], person, answers, comments, submit=True, now=NOW)
    db.session.commit()
    inserts = [s for s in statements if "INSERT INTO ANSWER" in s.upper()]
    assert len(inserts) == 1
    stored = {item.key: item.comment for item in checklist_for(takatsu["round"], person, NOW).items}
    assert stored == {key: comments.get(key) for key in keys}


def test_rounds_for_queries_do_not_grow_with_rounds(app_ctx):
    """rounds_for asks the database once, for one round as for six."""
    one = factories.person(section=factories.section(ward_name="幸区"))
    six = factories.person(section=factories.section(ward_name="中原区"))
    factories.round_(factories.catalogue("one-2025"), wards=[factories.ward("幸区")])
    for n in range(6):
        factories.round_(factories.catalogue(f"six-{n}-2025"), wards=[factories.ward("中原区")])
    db.session.commit()
    for person, expected in ((one, 1), (six, 6)):
        assert person.id  # loaded again after the commit, as at the start of a request
        with count_statements() as statements:
            assert len(rounds_for(person)) == expected
        assert len(statements) == 1


# --- Concurrency -------------------------------------------------------------------------------


@pytest.mark.parametrize("existing", [False, True], ids=["first-save", "after-a-draft"])
def test_concurrent_submits_never_mix_or_duplicate(app, takatsu, existing):
    """Two simultaneous submits leave one response, one answer per standard, from one set."""
    round_id, person_id = takatsu["round"], takatsu["plain_staff"]
    keys = takatsu["everyone_keys"]
    sets = {
        "A": ({k: "yes" for k in keys}, {k: "A" for k in keys}),
        "B": ({k: ("no" if i % 2 else "na") for i, k in enumerate(keys)}, {k: "B" for k in keys}),
    }
    if existing:
        # A draft that already holds one answer of each set: a save that trusted what it read
        # before the other commits would skip "unchanged" rows and end up with a mix.
        draft = {keys[0]: sets["B"][0][keys[0]], keys[1]: sets["A"][0][keys[1]]}
        notes = {keys[0]: "B", keys[1]: "A"}
        with app.app_context():
            save_checklist(round_id, _person(person_id), draft, notes, now=NOW)
            db.session.commit()

    postgres = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    start = threading.Barrier(2, timeout=30)
    # On PostgreSQL both transactions meet again right before creating the response, so the
    # race on the row is real; SQLite's BEGIN IMMEDIATE lets only one in at a time.
    at_insert = threading.Barrier(2, timeout=30)
    workers: set[threading.Thread] = set()
    met: list[str] = []

    def meet_before_insert(conn, cursor, statement, parameters, context, executemany):
        if (
            postgres
            and threading.current_thread() in workers
            and "INSERT INTO response" in statement
        ):
            met.append(threading.current_thread().name)
            at_insert.wait()

    results: dict[str, object] = {}
    errors: list[BaseException] = []

    def submit(name: str) -> None:
        answers, comments = sets[name]
        try:
            with app.app_context():
                person = _person(person_id)
                db.session.rollback()  # start the transaction after the barrier
                start.wait()
                results[name] = save_checklist(
                    round_id, person, answers, comments, submit=True, now=NOW
                )
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            start.abort()
            at_insert.abort()

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", meet_before_insert)
        try:
            threads = [threading.Thread(target=submit, args=(name,)) for name in sets]
            workers.update(threads)
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", meet_before_insert)
    assert errors == []
    assert len(met) == (2 if postgres else 0)
    assert all(r.submitted for r in results.values())  # type: ignore[attr-defined]  # Progress or an error

    with app.app_context():
        responses = db.session.scalars(sa.select(Response)).all()
        assert len(responses) == 1
        assert responses[0].status is ResponseStatus.SUBMITTED
        rows = db.session.execute(
            sa.select(Standard.key, Answer.value, Answer.comment).join(Answer.standard)
        ).all()
        assert len(rows) == len(keys) == len({key for key, _, _ in rows})
        stored = ({k: v.value for k, v, _ in rows}, {k: c for k, _, c in rows})
        assert stored in (sets["A"], sets["B"])


def test_stored_answers_come_back_exactly_through_the_pages_one_row(app_ctx, takatsu):
    """The page reads a person's answers as one JSON column (``_page_query``): every value and
    every comment, with quotes, backslashes, line breaks, "null" and emoji, comes back as
    stored by a first save and by a later one, and an item without a comment has None, not ""
    or "None"."""
    person = _person(takatsu["plain_staff"])
    keys = takatsu["everyone_keys"]
    awkward = ['"引用" \\ バックスラッシュ', "一行目\n二行目\t", "null", "🙂 ＡＢＣ", "[1, 2]"]
    values = ["yes", "no", "na"]
    answers = {key: values[n % 3] for n, key in enumerate(keys)}
    comments = {key: awkward[n] for n, key in enumerate(keys[: len(awkward)])}
    save_checklist(takatsu["round"], person, answers, comments, now=NOW)
    db.session.commit()
    db.session.expire_all()

    read = {i.key: (i.value, i.comment) for i in checklist_for(takatsu["round"], person, NOW).items}
    expected = {
        key: (AnswerValue(answers[key]), comments.get(key, "").strip() or None) for key in keys
    }
    assert read == expected
    assert len(comments) == len(awkward) < len(keys)  # some items carry no comment
    # A later save keeps them exact too.
    again = {key: awkward[-1 - n] for n, key in enumerate(keys[: len(awkward)])}
    save_checklist(takatsu["round"], person, answers, again, now=NOW)
    db.session.commit()
    db.session.expire_all()
    comments_read = {i.key: i.comment for i in checklist_for(takatsu["round"], person, NOW).items}
    assert comments_read == {key: again.get(key, "").strip() or None for key in keys}
