"""The audit log: one hash-chained row per change, `flask audit verify`, the admin's page."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, Grant, GrantRole, LoginAttempt, Person, Role
from app.services.governance import audit
from app.services.governance.audit_anchor import audit_key, read_anchor
from app.services.identity.auth import set_password
from app.wareki import TOKYO, fiscal_year_of, tokyo
from tests import factories

NOW = datetime.now(UTC)
YEAR = fiscal_year_of(tokyo(NOW))


def events() -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))


@pytest.fixture
def wards(app):
    """高津区 (a section with a chief and a staff member) and 幸区 (a section), an admin of each
    and a city-wide admin."""
    with app.app_context():
        takatsu = factories.section("総務課", ward_name="高津区")
        saiwai = factories.section("幸総務課", ward_name="幸区")
        chief = factories.person(section=takatsu, role=Role.CHIEF, fiscal_year=YEAR)
        staff = factories.person(section=takatsu, fiscal_year=YEAR, employee_id="S000001")
        ids = {"takatsu": takatsu.ward_id, "saiwai": saiwai.ward_id}
        admins = {}
        for name, ward_id in (("takatsu", ids["takatsu"]), ("saiwai", ids["saiwai"]),
                              ("city", None)):
            admin = factories.person(employee_id=f"A-{name}")
            admin.grants.append(Grant(role=GrantRole.ADMIN, ward_id=ward_id))
            admins[name] = admin
        factories.catalogue(f"cat-{YEAR}", fiscal_year=YEAR)
        db.session.commit()
        return {**ids, "chief": chief.id, "staff": staff.id,
                **{f"admin_{k}": v.id for k, v in admins.items()}}


def _as(app, sign_in, world, who):
    with app.app_context():
        sign_in(db.session.get(Person, world[who]))


def test_rows_are_chained_and_verify_passes(app, runner, wards):
    """Each row's prev_hash is the previous row's hash and `audit verify` says the log is intact."""
    with app.app_context():
        admin = db.session.get(Person, wards["admin_takatsu"])
        for n in range(3):
            audit.record("round.update", actor=admin, target_type="round", target_id=n,
                         before={"title": "前"}, after={"title": f"後{n}"},
                         ward_id=wards["takatsu"])
        db.session.commit()
        rows = events()
        assert rows[0].prev_hash == audit.GENESIS
        assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
        assert rows[2].actor_employee_id == "A-takatsu"
        assert rows[2].after == '{"title":"後2"}'
        assert list(audit.verify_chain()) == []
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_verify_fails_after_a_row_is_altered_in_the_database(app, runner, wards):
    """An UPDATE behind the app's back (a rate made to look right) fails `audit verify`."""
    with app.app_context():
        admin = db.session.get(Person, wards["admin_takatsu"])
        for n in range(3):
            audit.record("round.update", actor=admin, target_type="round", target_id=n,
                         after={"reminder_days": "7,3,1"}, ward_id=wards["takatsu"])
        db.session.commit()
        second = events()[1].id
        db.session.execute(
            sa.update(AuditEvent).where(AuditEvent.id == second).values(after='{"x":1}')
        )
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"記録 {second}" in result.output


def test_verify_fails_after_a_row_is_deleted(app, runner, wards):
    """Deleting a row in the middle breaks the link of the next one, and the anchored last row
    is no longer at its anchored place."""
    with app.app_context():
        for n in range(3):
            audit.record("round.update", actor=None, target_type="round", target_id=n)
        db.session.commit()
        middle = events()[1].id
        db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == middle))
        db.session.commit()
        assert [p.reason for p in audit.verify_chain()] == ["link", "anchor"]
    assert runner.invoke(args=["audit", "verify"]).exit_code == 1


def test_an_unknown_action_is_refused(app_ctx):
    """Action names are a fixed list: a typo is a programming error, not a new action."""
    with pytest.raises(audit.AuditError):
        audit.record("round.updated", actor=None, target_type="round", target_id=1)


def test_a_rolled_back_action_leaves_no_row(app, wards):
    """The row is part of the action's transaction: a rollback takes it away too."""
    with app.app_context():
        audit.record("round.update", actor=None, target_type="round", target_id=1)
        db.session.rollback()
        assert events() == []


def test_concurrent_writers_keep_one_chain(app, wards):
    """Two writers at once never fork the chain (advisory lock on PostgreSQL, SQLite's lock),
    and the anchor they leave names the last row, whichever wrote it last."""
    errors: list[BaseException] = []

    def write(tag: str) -> None:
        try:
            with app.app_context():
                for n in range(8):
                    audit.record("round.update", actor=None, target_type="round",
                                 target_id=f"{tag}{n}")
                    db.session.commit()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(tag,)) for tag in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        assert len(events()) == 16
        assert list(audit.verify_chain()) == []
        anchor = read_anchor(audit_key())
        assert anchor is not None and (anchor.seq, anchor.hash) == (16, events()[-1].hash)


def test_creating_and_editing_a_round_are_logged_with_before_and_after(
    app, client, sign_in, wards
):
    """The round form writes round.create with the values, then round.update with both."""
    _as(app, sign_in, wards, "admin_takatsu")
    opens = NOW + timedelta(days=10)
    data = {
        "catalogue": f"cat-{YEAR}", "wards": ["高津区"], "title": "秋の自己点検",
        "opens": opens.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M"),
        "closes": (opens + timedelta(days=9)).astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M"),
        "reminder_days": "7,3,1",
    }
    assert client.post("/admin/rounds/new", data=data).status_code == 302
    with app.app_context():
        (created,) = events()
        round_id = int(created.target_id or 0)
    data["reminder_days"] = "3"
    assert client.post(f"/admin/rounds/{round_id}/edit", data=data).status_code == 302
    with app.app_context():
        created, updated = events()
        assert (created.action, created.before, created.ward_id) == (
            "round.create", None, wards["takatsu"])
        assert created.address == "127.0.0.1"
        assert '"reminder_days":"7,3,1"' in (updated.before or "")
        assert '"reminder_days":"3"' in (updated.after or "")
        assert updated.actor_id == wards["admin_takatsu"]


def test_refused_sign_ins_do_not_grow_the_log(app, client, wards):
    """50 refused sign-ins from an anonymous client (unknown ids, a wrong password, then the
    throttle) add no row to the chain; the failures are in the login-attempt table."""
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 1000
    with app.app_context():
        set_password(db.session.get_one(Person, wards["staff"]), "correct horse battery")
        db.session.commit()
    statuses = set()
    for n in range(50):
        employee_id = "S000001" if n % 2 else f"NOBODY{n:03d}"
        response = client.post(
            "/auth/login", data={"employee_id": employee_id, "password": "wrong-guess-1"})
        statuses.add(response.status_code)
    assert statuses == {200, 429}  # wrong ids and passwords, then the account's throttle
    with app.app_context():
        assert events() == []
        failures = db.session.scalar(
            sa.select(sa.func.count(LoginAttempt.id)).where(LoginAttempt.succeeded.is_(False)))
        assert failures == 25 + app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]


def test_locking_and_unlocking_a_year_are_logged(app, client, sign_in, wards):
    """The goals pages' lock and unlock each write one row for the ward's year."""
    _as(app, sign_in, wards, "admin_takatsu")
    base = f"/goals/wards/{wards['takatsu']}/{YEAR}"
    assert client.post(f"{base}/lock", data={"confirmed": "yes"}).status_code == 302
    assert client.post(f"{base}/unlock").status_code == 302
    with app.app_context():
        assert [(r.action, r.target_id, r.ward_id) for r in events()] == [
            ("year.lock", f"{wards['takatsu']}:{YEAR}", wards["takatsu"]),
            ("year.unlock", f"{wards['takatsu']}:{YEAR}", wards["takatsu"]),
        ]


def _seed_rows(app, wards):
    with app.app_context():
        admin = db.session.get(Person, wards["admin_takatsu"])
        audit.record("grant.add", actor=admin, target_type="person", target_id=wards["staff"],
                     after={"role": "committee"}, ward_id=wards["takatsu"])
        audit.record("round.update", actor=None, target_type="round", target_id=7,
                     after={"title": "=HYPERLINK(\"http://x\")"}, ward_id=wards["saiwai"])
        audit.record("auth.sign_in_failed", actor=None, target_type="person", target_id=None,
                     after={"employee_id": "nobody"})
        db.session.commit()


def test_the_log_page_shows_only_my_wards(app, client, sign_in, wards):
    """An admin of 高津区 reads 高津区's rows only; a city-wide admin reads every row."""
    _seed_rows(app, wards)
    _as(app, sign_in, wards, "admin_takatsu")
    page = client.get("/admin/audit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<td>権限の付与</td>" in text and "HYPERLINK" not in text and "nobody" not in text
    _as(app, sign_in, wards, "admin_city")
    text = client.get("/admin/audit").get_data(as_text=True)
    assert "<td>権限の付与</td>" in text and "HYPERLINK" in text and "nobody" in text


def test_the_log_filters_by_person_action_object_and_date(app, client, sign_in, wards):
    """Filters narrow the rows; a person matches as actor or as the person acted on."""
    _seed_rows(app, wards)
    _as(app, sign_in, wards, "admin_city")
    by_person = client.get("/admin/audit?person=S000001").get_data(as_text=True)
    assert "<td>権限の付与</td>" in by_person and "HYPERLINK" not in by_person
    by_action = client.get("/admin/audit?action=round.update").get_data(as_text=True)
    assert "HYPERLINK" in by_action and "<td>権限の付与</td>" not in by_action
    by_object = client.get("/admin/audit?target_type=round&target_id=7").get_data(as_text=True)
    assert "HYPERLINK" in by_object and "nobody" not in by_object
    # Tomorrow as of now, after the rows were written: the module's NOW may be yesterday in
    # Tokyo when a run crosses midnight there (15:00 UTC).
    tomorrow = (tokyo(datetime.now(UTC)) + timedelta(days=1)).date().isoformat()
    later = client.get(f"/admin/audit?since={tomorrow}").get_data(as_text=True)
    assert "条件に合う記録はありません" in later
    bad = client.get(f"/admin/audit?since={tomorrow}&until=2000-01-01")
    assert bad.status_code == 400


def test_the_csv_is_scoped_and_formula_safe(app, client, sign_in, wards):
    """The CSV holds the scope's rows only, and a value that starts like a formula is quoted."""
    _seed_rows(app, wards)
    _as(app, sign_in, wards, "admin_saiwai")
    response = client.get("/admin/audit.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "id" and len(rows) == 2
    assert rows[1][4] == "round.update"
    # The after value is JSON text ({"title":"=HYPERLINK...}); the object's number is "7".
    assert rows[1][9].startswith('{"title"')
    _as(app, sign_in, wards, "admin_city")
    rows = list(csv.reader(io.StringIO(
        client.get("/admin/audit.csv?action=round.update").get_data(as_text=True))))
    assert len(rows) == 2


def test_a_formula_in_a_cell_is_neutralised(app, client, sign_in, wards):
    """A target id typed as a formula comes back with a leading quote in the CSV."""
    with app.app_context():
        audit.record("round.update", actor=None, target_type="round", target_id="=1+1")
        db.session.commit()
    _as(app, sign_in, wards, "admin_city")
    body = client.get("/admin/audit.csv").get_data(as_text=True)
    assert "'=1+1" in body


def test_the_log_is_for_admins_only(app, client, sign_in, wards):
    """A chief or a committee member gets 403 for the page and the CSV."""
    _as(app, sign_in, wards, "chief")
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.csv").status_code == 403


def test_the_commands_are_audited_too(app, runner, wards, tmp_path):
    """`users grant`, `users revoke`, `users password-link` and `roster import` write their
    rows, with no actor (the command line)."""
    assert runner.invoke(args=["users", "grant", "committee", "S000001", "--ward", "高津区"]
                         ).exit_code == 0
    assert runner.invoke(args=["users", "revoke", "committee", "S000001", "--ward", "高津区"]
                         ).exit_code == 0
    assert runner.invoke(args=["users", "password-link", "S000001"]).exit_code == 0
    roster = tmp_path / "roster.csv"
    roster.write_text("職員番号,氏名,メールアドレス,区,部,課,役割\n"
                      "S000001,高津 一,s@example.jp,高津区,,総務課,職員\n", encoding="utf-8")
    result = runner.invoke(args=["roster", "import", str(roster), "--fiscal-year", str(YEAR + 1)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        rows = events()
        assert [(r.action, r.actor_id, r.ward_id) for r in rows] == [
            ("grant.add", None, wards["takatsu"]),
            ("grant.revoke", None, wards["takatsu"]),
            ("person.password_link", None, wards["takatsu"]),
            ("roster.import", None, wards["takatsu"]),
        ]
        assert "/auth/set-password/" not in (rows[2].after or "")
