"""`flask users create-admin`: the first admin of an empty database, made once from the command
line (docs/admin.md "The first admin"), and refused, with nothing written, once any admin
exists."""

from __future__ import annotations

import os
import re
import threading

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, Grant, GrantRole, Person, Ward
from app.services.governance import audit
from app.services.organisation.first_admin import FirstAdminError, create_first_admin
from tests import factories

NEW = ["--name", "総務 事務", "--email", "soumu@example.jp"]
LINK = re.compile(r"^http://[^/]+(/auth/set-password/\S+)$", re.MULTILINE)


def _counts(app) -> tuple[int, int, int, int]:
    """People, wards, grants and audit rows."""
    with app.app_context():
        return tuple(  # type: ignore[return-value]
            db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Person, Ward, Grant, AuditEvent)
        )


def test_the_first_admin_is_made_with_the_ward_and_signs_in_through_the_printed_link(
    app, runner, client
):
    """On an empty database: 高津 becomes the ward 高津区, the person is created with the admin
    grant of that ward, the log has 最初の管理者の作成, and the printed link sets the password
    with which the admin then signs in."""
    result = runner.invoke(args=["users", "create-admin", "９００００１", *NEW, "--ward", "高津"])
    assert result.exit_code == 0, result.output
    assert "区「高津区」を作りました" in result.output
    with app.app_context():
        person = db.session.scalars(sa.select(Person)).one()
        assert (person.employee_id, person.name, person.email) == (
            "900001", "総務 事務", "soumu@example.jp")
        (grant,) = person.grants
        assert grant.role == GrantRole.ADMIN and grant.ward is not None
        assert grant.ward.name == "高津区"
        actions = list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))
        assert actions == ["person.first_admin", "person.password_link"]
        assert list(audit.verify_chain()) == []
    found = LINK.search(result.output)
    assert found is not None, result.output
    password = "correct horse battery staple"
    set_ = client.post(found.group(1), data={"password": password, "confirm": password})
    assert set_.status_code == 302 and "/auth/login" in set_.headers["Location"]
    signed = client.post("/auth/login", data={"employee_id": "900001", "password": password})
    assert signed.status_code == 302
    assert client.get("/admin/rounds").status_code == 200


def test_city_makes_a_city_wide_admin_and_takes_an_existing_person_as_stored(app, runner):
    """--city gives the admin grant for the whole city; a person already on a roster keeps
    their stored name and mail (--name and --email are then not needed), and no ward is made."""
    with app.app_context():
        factories.person(section=factories.section("総務課"), employee_id="E1", name="元 名前")
        db.session.commit()
    before = _counts(app)
    result = runner.invoke(args=["users", "create-admin", "E1", "--name", "別 名前", "--city"])
    assert result.exit_code == 0, result.output
    assert "すでにいたので" in result.output
    with app.app_context():
        person = db.session.scalars(sa.select(Person).where(Person.employee_id == "E1")).one()
        assert person.name == "元 名前"
        assert [(g.role, g.ward_id) for g in person.grants] == [(GrantRole.ADMIN, None)]
    assert _counts(app)[:2] == before[:2]


@pytest.mark.parametrize("existing", ["ward admin", "city admin", "admin not in force"])
def test_once_an_admin_exists_it_is_refused_and_writes_nothing(app, runner, existing):
    """Any admin grant (a ward's, the city's, or one no longer in force because its holder
    moved) makes the command exit 1 with the message pointing to `users grant`, with no
    person, ward, grant, log row or link written."""
    with app.app_context():
        holder = factories.person(section=factories.section("総務課"), employee_id="A1")
        ward = None if existing == "city admin" else factories.ward(
            "幸区" if existing == "admin not in force" else "高津区")
        holder.grants.append(Grant(role=GrantRole.ADMIN, ward=ward))
        factories.person(employee_id="E2")
        db.session.commit()
    before = _counts(app)
    for args in (["E9", *NEW, "--ward", "宮前区"], ["E9", *NEW, "--city"], ["E2", "--city"]):
        result = runner.invoke(args=["users", "create-admin", *args])
        assert result.exit_code == 1, result.output
        assert "管理者がすでにいます" in result.output and "users grant" in result.output
        assert "set-password" not in result.output
    assert _counts(app) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["E9", "--name", "総務\r\nBcc: x@example.jp", "--email", "a@example.jp", "--city"],
         "改行"),
        (["E9", *NEW, "--ward", "高津\n区"], "改行"),
        (["E9", *NEW, "--ward", "区" * 60], "長すぎます"),
        (["E9", "--name", "総務 事務", "--email", "not-an-address", "--city"], "形式"),
        (["E9", "--name", "総務 事務", "--city"], "--email"),
        (["E9", *NEW], "--ward"),
        (["E9", *NEW, "--ward", "高津区", "--city"], "--ward"),
    ],
    ids=["name on two lines", "ward on two lines", "ward too long", "bad mail", "no mail",
         "no scope", "two scopes"],
)
def test_wrong_values_are_refused_with_nothing_written(app, runner, args, message):
    """A name or ward on more than one line, a ward too long, a wrong or missing mail address,
    and neither or both of --ward and --city: exit 1 with the reason, nothing written."""
    result = runner.invoke(args=["users", "create-admin", *args])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert _counts(app) == (0, 0, 0, 0)


def test_an_existing_ward_is_found_the_one_way(app, runner):
    """`--ward 高津` finds the existing 高津区 (app/cli/wards.py) and makes no second ward."""
    with app.app_context():
        ward_id = factories.ward("高津区").id
        db.session.commit()
    result = runner.invoke(args=["users", "create-admin", "E9", *NEW, "--ward", "高津"])
    assert result.exit_code == 0, result.output
    assert "を作りました（名簿" not in result.output
    with app.app_context():
        assert db.session.scalars(sa.select(Ward.id)).all() == [ward_id]
        assert db.session.scalars(sa.select(Grant.ward_id)).all() == [ward_id]


@pytest.mark.skipif(not os.environ.get("KIJUN_TEST_DATABASE_URL"),
                    reason="two writers at once: PostgreSQL's row visibility (SQLite locks)")
def test_two_commands_at_once_make_one_admin(app):
    """Two first-admin runs whose checks both found no admin: the second waits for the first's
    commit at the log's lock, sees its grant, and is refused; one admin is made."""
    first_flushed = threading.Event()
    outcome: dict[str, object] = {}

    def second() -> None:
        with app.app_context():
            first_flushed.wait()
            try:
                create_first_admin("E2", "二 番", "two@example.jp", None)
                db.session.commit()
                outcome["second"] = "made"
            except FirstAdminError as exc:
                db.session.rollback()
                outcome["second"] = exc.message

    thread = threading.Thread(target=second)
    thread.start()
    with app.app_context():
        create_first_admin("E1", "一 番", "one@example.jp", None)
        first_flushed.set()
        thread.join(timeout=2)  # the second is now blocked at the lock (or done, wrongly)
        db.session.commit()
    thread.join()
    assert str(outcome["second"]).startswith("管理者がすでにいます")
    with app.app_context():
        assert db.session.scalars(sa.select(Person.employee_id).join(Grant)).all() == ["E1"]
