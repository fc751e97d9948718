"""The improvement actions' mail through the send ledger, with a real SMTP server (aiosmtpd on
127.0.0.1) and the scheduler's clock passed in: the owner and the section's chief hear of the
assignment once, and once more before the due date, and nothing after 完了 or 見送り."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import ActionStatus, ImprovementAction, MailLedger, MailState, Person
from app.scheduler import tick
from app.services.operations.action_mail import ACTION_CLOSED, ACTION_REASSIGNED
from app.services.operations.schedule import kind_label
from app.services.results import action_records
from app.services.results.compliance import final_results
from app.wareki import TOKYO, tokyo
from tests import factories
from tests.operations.test_scheduler import SmtpServer
from tests.results.action_support import owner, record
from tests.results_world import World, build_world

NOW = datetime.now(UTC)
DUE = (tokyo(NOW) + timedelta(days=30)).date()
# The reminder's day: 7 days before the due date, 9:00 in Tokyo.
REMINDER_DAY = datetime.combine(DUE - timedelta(days=7), time(9), tzinfo=TOKYO)


@pytest.fixture
def smtp(app: Flask) -> Iterator[SmtpServer]:
    server = SmtpServer()
    app.config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=server.port, MAIL_FROM="kijun@city.test")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        return build_world()


def _email(person_id: int) -> str:
    return db.session.get_one(Person, person_id).email or ""


def _progress(action: ImprovementAction, status: str, reason: str = "") -> None:
    by = db.session.get_one(Person, action.owner_id)
    action_records.record_progress(action, action_records.Progress(status, reason), by)
    db.session.commit()


def test_the_owner_and_the_chief_hear_of_the_assignment_once(app, smtp, world):
    """Recording the action on a round closed a year ago: the next tick mails its owner and
    区民課's chief once each, whatever the number of ticks; the message names the standard,
    the due date and the page to record progress, and no rate."""
    with app.app_context():
        action_id = record(world, world.staff, due=DUE).id
        first = tick(NOW + timedelta(minutes=1))
        tick(NOW + timedelta(minutes=2))
        tick(NOW + timedelta(days=1))
        staff, chief = _email(world.staff), _email(world.chief)
    assert first.sent == 2
    assert smtp.inbox.recipients() == sorted([staff, chief])
    [message] = smtp.inbox.to(staff)
    body = message.get_content()
    assert message["Subject"].startswith("【改善の取組】担当が決まりました：区民課")
    assert "基準1" in body and "朝礼で手順を確認する" in body
    assert f"/results/actions/{action_id}/outcome" in body
    assert "あなたが選ばれました" in body
    assert "所属長へのお知らせ" in smtp.inbox.to(chief)[0].get_content()
    assert "80.0" not in body and "%" not in body


def test_one_reminder_before_the_due_date_then_nothing(app, smtp, world):
    """Seven days before the due date the owner and the chief get one reminder; later ticks,
    up to the due date and after it, send nothing more."""
    with app.app_context():
        record(world, world.staff, due=DUE)
        tick(NOW + timedelta(minutes=1))
        before = tick(REMINDER_DAY - timedelta(days=1))
        reminded = tick(REMINDER_DAY)
        for days in (0, 1, 3, 7, 8):
            tick(REMINDER_DAY + timedelta(days=days, minutes=1))
        staff = _email(world.staff)
        kinds = sorted(m.kind.split(":")[0] for m in db.session.scalars(sa.select(MailLedger)))
    assert (before.sent, reminded.sent) == (0, 2)
    assert kinds == ["action", "action", "action-due", "action-due"]
    subjects = [m["Subject"] for m in smtp.inbox.to(staff)]
    assert len(subjects) == 2 and subjects[1] == "【改善の取組】期限まであと7日：区民課"


def test_completing_or_dropping_stops_the_mail(app, smtp, world):
    """An action done before the reminder's day gets no reminder; one dropped while its
    reminder waits (the SMTP server down) has the waiting messages skipped."""
    with app.app_context():
        done = record(world, world.staff, due=DUE)
        dropped = record(world, world.chief, due=DUE, text="課内で研修をする")
        tick(NOW + timedelta(minutes=1))
        _progress(done, "done")
        smtp.stop()
        tick(REMINDER_DAY)  # the reminders of `dropped` are written; sending fails
        _progress(dropped, "dropped", "人事異動で体制が変わった")
        smtp.start()
        later = tick(REMINDER_DAY + timedelta(hours=2))
        rows = [(r.action_id, r.state, r.reason) for r in db.session.scalars(
            sa.select(MailLedger).where(MailLedger.kind.startswith("action-due:"))
        )]
        expected = [(dropped.id, MailState.SKIPPED, ACTION_CLOSED)]  # owner and chief: one
    assert later.sent == 0
    assert rows == expected
    assert len(smtp.inbox.recipients()) == 3  # the assignments only: staff, chief, chief


def test_a_new_owner_is_told_and_the_old_one_is_not(app, smtp, world):
    """Given to someone else before the tick: the new owner gets the message, the first
    owner's waiting one is skipped (no longer the owner), the chief hears once."""
    with app.app_context():
        action = record(world, world.staff, due=DUE)
        other = db.session.scalars(sa.select(MailLedger.person_id)).all()
        newcomer = factories.person(section=action.section, fiscal_year=2025)
        db.session.commit()
        results = final_results(world.previous_round_id, [world.takatsu_ward_id])
        action_records.update_action(
            action, results,
            action_records.ActionPlan("std-1", action.action, owner("区民課", newcomer.id), DUE),
            action_records.Progress("todo"), db.session.get_one(Person, world.takatsu_committee),
        )
        db.session.commit()
        tick(NOW + timedelta(minutes=1))
        staff_row = db.session.scalars(
            sa.select(MailLedger).where(MailLedger.person_id == world.staff)).one()
        skipped = (staff_row.state, staff_row.reason)
        addresses = sorted([_email(newcomer.id), _email(world.chief)])
    assert sorted(other) == sorted([world.staff, world.chief])
    assert smtp.inbox.recipients() == addresses
    assert skipped == (MailState.SKIPPED, ACTION_REASSIGNED)


def test_given_within_the_last_week_no_second_message(app, smtp, world):
    """An action given five days before its due date: the assignment's message says the date,
    and no reminder follows."""
    with app.app_context():
        soon = (tokyo(NOW) + timedelta(days=5)).date()
        record(world, world.staff, due=soon)
        for hours in (0, 24, 48, 96):
            tick(NOW + timedelta(hours=hours, minutes=1))
        kinds = db.session.scalars(sa.select(MailLedger.kind)).all()
    assert all(k.startswith("action:") for k in kinds) and len(kinds) == 2
    assert len(smtp.inbox.recipients()) == 2


def test_the_ledger_refuses_a_second_row_for_the_same_message(app, world):
    """Exactly once is the database's rule: a second (round, person, kind) row for an
    action's message is refused by the unique constraint."""
    with app.app_context():
        action = record(world, world.staff, due=date(2027, 1, 31))
        db.session.add(MailLedger(round_id=action.round_id, person_id=world.staff,
                                  kind=f"action:{action.id}", action_id=action.id))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        db.session.rollback()
        assert kind_label(f"action-due:{action.id}").startswith("改善の取組の期限前")
        assert ActionStatus.TODO == db.session.get_one(ImprovementAction, action.id).status
