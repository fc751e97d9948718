"""The scheduler's mail: a real SMTP server (aiosmtpd on 127.0.0.1) and a clock passed in."""

from __future__ import annotations

import email
import os
import re
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from app.extensions import db
from app.models import (
    Grant,
    GrantRole,
    MailLedger,
    MailState,
    Person,
    Role,
    Round,
    Section,
)
from app.scheduler import SchedulerLock, build_scheduler, tick
from app.services.operations.mail import MailSettings, SmtpMailer
from app.services.operations.schedule import (
    AFTER_CLOSE,
    NO_EMAIL,
    due_reminder_days,
    plan,
    remind_now,
    remind_now_count,
)
from app.services.operations.sending import retry_delay
from app.services.rounds.rounds import update_round
from app.wareki import TOKYO
from tests import factories

PG_URL = os.environ.get("KIJUN_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parents[2]

OPENS = datetime(2026, 11, 2, 9, 0, tzinfo=TOKYO)
CLOSES = datetime(2026, 11, 30, 17, 15, tzinfo=TOKYO)
FY = 2026


# --- A real SMTP server -------------------------------------------------------------------------


class Inbox:
    """What the SMTP server received: (recipients, parsed message, client port) per message."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage, int]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), message, session.peer[1]))
        return "250 OK"

    def recipients(self) -> list[str]:
        with self.lock:
            return sorted(to for tos, _, _ in self.received for to in tos)

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for tos, m, _ in self.received if address in tos]

    def connections(self) -> int:
        with self.lock:
            return len({port for _, _, port in self.received})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SmtpServer:
    """aiosmtpd on 127.0.0.1 on a port chosen once; may be started late (SMTP down, then up)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_down(app):
    """The app pointed at a port where no SMTP server listens yet (``start()`` brings it up)."""
    server = SmtpServer()
    app.config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=server.port, MAIL_FROM="kijun@city.test")
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_down):
    """A running SMTP server the app sends to."""
    smtp_down.start()
    return smtp_down


# --- A small ward -------------------------------------------------------------------------------


@pytest.fixture
def world(app):
    """Two sections of 高津区 (a chief and staff each), one person without an address, people
    outside the round, a committee member, and the round of FY2026 (closes 30 Nov 17:15)."""
    with app.app_context():
        general = factories.section("総務課")
        residents = factories.section("区民課")
        chief1 = factories.person(section=general, role=Role.CHIEF, fiscal_year=FY)
        staff_a = factories.person(section=general, fiscal_year=FY)
        staff_b = factories.person(section=general, fiscal_year=FY)
        chief2 = factories.person(section=residents, role=Role.CHIEF, fiscal_year=FY)
        staff_c = factories.person(section=residents, fiscal_year=FY)
        no_mail = factories.person(section=residents, fiscal_year=FY)
        no_mail.email = None
        elsewhere = factories.person(
            section=factories.section("幸区役所総務課", ward_name="幸区"), fiscal_year=FY
        )
        last_year = factories.person(section=general, fiscal_year=FY - 1)
        committee = factories.person()
        committee.grants.append(Grant(role=GrantRole.COMMITTEE))
        other_committee = factories.person()
        other_committee.grants.append(Grant(role=GrantRole.COMMITTEE, ward=factories.ward("幸区")))
        catalogue = factories.catalogue("test-2026", fiscal_year=FY)
        round_ = factories.round_(catalogue, opens_at=OPENS, closes_at=CLOSES, fiscal_year=FY)
        db.session.commit()
        people = {
            "chief1": chief1,
            "a": staff_a,
            "b": staff_b,
            "chief2": chief2,
            "c": staff_c,
            "no_mail": no_mail,
            "elsewhere": elsewhere,
            "last_year": last_year,
            "committee": committee,
            "other_committee": other_committee,
        }
        return {
            "round": round_.id,
            "email": {k: p.email for k, p in people.items()},
            "id": {k: p.id for k, p in people.items()},
            "section": {"general": general.id, "residents": residents.id},
        }


RESPONDENTS = ["chief1", "a", "b", "chief2", "c"]


def addresses(world, *keys: str) -> list[str]:
    return sorted(world["email"][k] for k in keys)


def submit(world, key: str, section: str, *, role: Role = Role.STAFF, draft: bool = False):
    round_ = db.session.get_one(Round, world["round"])
    who = db.session.get_one(Person, world["id"][key])
    section_ = db.session.get_one(Section, world["section"][section])
    values = {s.key: "yes" for s in round_.catalogue.standards}
    factories.response(round_, who, values, section=section_, role=role, submitted=not draft)
    db.session.commit()


def ledger(kind: str | None = None) -> list[MailLedger]:
    query = sa.select(MailLedger).order_by(MailLedger.id)
    if kind:
        query = query.where(MailLedger.kind == kind)
    return list(db.session.scalars(query))


# --- The opened mail ---------------------------------------------------------------------------


def test_opened_mail_reaches_everyone_who_must_answer_once(app, smtp, world):
    """Everyone on the round's roster gets the opened mail once, however many ticks run."""
    with app.app_context():
        first = tick(OPENS + timedelta(minutes=1))
        tick(OPENS + timedelta(minutes=2))
        tick(OPENS + timedelta(hours=5))
    assert first.sent == 5
    assert smtp.inbox.recipients() == addresses(world, *RESPONDENTS)
    message = smtp.inbox.to(world["email"]["a"])[0]
    body = message.get_content()
    assert message["Subject"] == "【回答のお願い】テスト調査"
    assert "令和8年11月30日 17時15分" in body
    # The person's own sign-in link (SIGN_IN_LINKS is on by default): tests/identity/test_links.py
    assert re.search(r"^http://127\.0\.0\.1:5000/r/[A-Za-z0-9_-]{43}$", body, re.MULTILINE)
    assert message["Message-ID"].startswith("<kijun-mail-")


def test_opened_mail_waits_for_the_opening(app, smtp, world):
    """Before the opening nothing is written or sent."""
    with app.app_context():
        result = tick(OPENS - timedelta(seconds=1))
        assert ledger() == []
    assert result.sent == 0
    assert smtp.inbox.recipients() == []


def test_person_without_an_address_is_recorded_as_skipped(app, smtp, world):
    """Someone with no email address gets a skipped ledger row with the reason."""
    with app.app_context():
        tick(OPENS + timedelta(minutes=1))
        rows = {r.person_id: r for r in ledger("opened")}
        row = rows[world["id"]["no_mail"]]
        assert (row.state, row.reason) == (MailState.SKIPPED, NO_EMAIL)
        assert {r.state for pid, r in rows.items() if pid != row.person_id} == {MailState.SENT}


def test_several_messages_go_over_one_connection_per_batch(app, smtp, world):
    """A batch of messages shares one SMTP connection (MAIL_BATCH_SIZE per connection)."""
    app.config["MAIL_BATCH_SIZE"] = 2
    with app.app_context():
        tick(OPENS + timedelta(minutes=1))
    assert len(smtp.inbox.recipients()) == 5
    assert smtp.inbox.connections() == 3



def test_a_tick_told_to_stop_ends_after_the_batch_it_is_sending(app, smtp, world):
    """A tick whose ``stopping`` turns true (Ctrl-C, a stop of the service) sends the batch
    under way and no further one; the next tick sends the rest, each message once."""
    app.config["MAIL_BATCH_SIZE"] = 2
    with app.app_context():
        first = tick(OPENS + timedelta(minutes=1), stopping=lambda: True)
        assert first.sent == 2 and len(smtp.inbox.recipients()) == 2
        tick(OPENS + timedelta(minutes=2))
    recipients = smtp.inbox.recipients()
    assert len(recipients) == 5 and len(set(recipients)) == 5

# --- Reminders and digests ---------------------------------------------------------------------


def test_reminders_reach_only_non_respondents_and_stop_after_submitting(app, smtp, world):
    """A reminder goes to those without a submitted response; who submits before the next
    reminder gets no further one."""
    with app.app_context():
        tick(OPENS + timedelta(minutes=1))
        submit(world, "a", "general")
        submit(world, "b", "general", draft=True)
        submit(world, "chief2", "residents", role=Role.CHIEF)
        tick(CLOSES - timedelta(days=7))
        first = {m for m in smtp.inbox.recipients()}
        submit(world, "c", "residents")
        tick(CLOSES - timedelta(days=3))
        tick(CLOSES - timedelta(days=3) + timedelta(minutes=1))
    reminded = {
        key: [
            m["Subject"] for m in smtp.inbox.to(world["email"][key]) if "まであと" in m["Subject"]
        ]
        for key in RESPONDENTS
    }
    assert first
    assert reminded == {
        "chief1": ["【締め切りまであと7日】テスト調査", "【締め切りまであと3日】テスト調査"],
        "a": [],
        "b": ["【締め切りまであと7日】テスト調査", "【締め切りまであと3日】テスト調査"],
        "chief2": [],
        "c": ["【締め切りまであと7日】テスト調査"],
    }


def test_chief_digest_lists_the_sections_non_respondents(app, smtp, world):
    """Each chief gets a digest naming who in the section has not submitted; a section where
    everyone has submitted gets none."""
    with app.app_context():
        submit(world, "chief2", "residents", role=Role.CHIEF)
        submit(world, "c", "residents")
        submit(world, "no_mail", "residents")
        submit(world, "b", "general", draft=True)
        tick(CLOSES - timedelta(days=7))
        names = {k: db.session.get_one(Person, world["id"][k]).name for k in RESPONDENTS}
    digests = [
        m for m in smtp.inbox.to(world["email"]["chief1"]) if "提出していない" in m["Subject"]
    ]
    assert [m["Subject"] for m in digests] == ["【まだ提出していない人 3 人】総務課・テスト調査"]
    body = digests[0].get_content()
    assert names["a"] in body and f"{names['b']}" in body and "一時保存中" in body
    assert not [
        m for m in smtp.inbox.to(world["email"]["chief2"]) if "提出していない" in m["Subject"]
    ]


def test_after_downtime_only_the_latest_due_reminder_is_sent_once(app, smtp, world):
    """Down across the 7- and 3-day points: one reminder (the 3-day one) per person, once."""
    with app.app_context():
        for minute in range(3):
            tick(CLOSES - timedelta(days=2, minutes=-minute))
        kinds = sorted({r.kind for r in ledger()})
    reminders = [
        m["Subject"] for m in smtp.inbox.to(world["email"]["a"]) if "まであと" in m["Subject"]
    ]
    assert reminders == ["【締め切りまであと3日】テスト調査"]
    assert kinds == ["digest:3", "opened", "reminder:3"]


def test_reminder_made_pointless_by_the_close_is_skipped(app, smtp_down, world):
    """A reminder that could not be sent before the close is skipped, never sent late."""
    with app.app_context():
        tick(CLOSES - timedelta(days=1))
        assert {r.state for r in ledger("reminder:1") if r.reason is None} == {MailState.FAILED}
        smtp_down.start()
        tick(CLOSES + timedelta(minutes=1))
        rows = [r for r in ledger("reminder:1") if r.reason != NO_EMAIL]
        assert {(r.state, r.reason) for r in rows} == {(MailState.SKIPPED, AFTER_CLOSE)}
    assert not [m for m in smtp_down.inbox.to(world["email"]["a"]) if "まであと" in m["Subject"]]


def test_closed_summary_goes_to_the_rounds_committee_with_the_rate(app, smtp, world):
    """After the close the committee of the round's wards (or the city) gets the response
    rate; a committee member of another ward does not."""
    with app.app_context():
        submit(world, "a", "general")
        submit(world, "b", "general")
        tick(CLOSES)
        tick(CLOSES + timedelta(minutes=1))
    summaries = smtp.inbox.to(world["email"]["committee"])
    assert [m["Subject"] for m in summaries] == ["【締め切りました】テスト調査（回答率 33.3%）"]
    assert "対象 6 人のうち 2 人が提出" in summaries[0].get_content()
    assert smtp.inbox.to(world["email"]["other_committee"]) == []
    assert smtp.inbox.to(world["email"]["a"]) == []  # no opened mail after the close


def test_closed_summary_skips_a_committee_member_who_has_left(app, smtp, world):
    """A committee member whom this year's roster shows as having left (on last year's roster
    only) gets no summary: their grant stops working with the sign-in."""
    with app.app_context():
        from app.models import Person

        leaver = db.session.get_one(Person, world["id"]["last_year"])
        leaver.grants.append(Grant(role=GrantRole.COMMITTEE))
        db.session.commit()
        tick(CLOSES)
    assert smtp.inbox.to(world["email"]["committee"])
    assert smtp.inbox.to(world["email"]["last_year"]) == []


def test_closed_summary_skips_a_committee_member_whose_grant_ended(app, smtp, world):
    """A committee member whose grant ended the day before the close (Tokyo) gets no
    summary; one whose grant ends on the day of the close still does
    (``grants.in_force_clause``)."""
    with app.app_context():
        ended = factories.person()
        ended.grants.append(Grant(role=GrantRole.COMMITTEE,
                                  ends_on=CLOSES.date() - timedelta(days=1)))
        lasting = db.session.get_one(Person, world["id"]["committee"])
        lasting.grants[0].ends_on = CLOSES.date()
        db.session.commit()
        ended_email = ended.email
        tick(CLOSES)
    assert smtp.inbox.to(world["email"]["committee"])
    assert smtp.inbox.to(ended_email) == []


def test_closed_summary_is_not_sent_for_rounds_closed_long_ago(app, smtp, world):
    """Installing the scheduler does not mail about rounds closed before the summary window."""
    with app.app_context():
        tick(CLOSES + timedelta(days=8))
    assert smtp.inbox.recipients() == []


# --- Exactly once -------------------------------------------------------------------------------


class CrashingMailer(SmtpMailer):
    """SMTP that kills the "process" (raises) after ``after`` messages were sent."""

    def __init__(self, settings: MailSettings, after: int) -> None:
        super().__init__(settings)
        self.after = after
        self.sent = 0

    @contextmanager
    def connect(self):
        with super().connect() as connection:
            outer = self

            class Crashing:
                def send(self, message):
                    if outer.sent >= outer.after:
                        raise RuntimeError("the scheduler process died")
                    connection.send(message)
                    outer.sent += 1

            yield Crashing()


def test_no_duplicate_after_a_crash_between_sends_and_two_restarts(app, smtp, world):
    """A crash after 2 sends, then two restarts: each person gets the opened mail once."""
    now = OPENS + timedelta(minutes=1)
    with app.app_context():
        settings = MailSettings.from_config(app.config)
        with pytest.raises(RuntimeError):
            tick(now, mailer=CrashingMailer(settings, after=2))
        assert len(smtp.inbox.recipients()) == 2
        tick(now + timedelta(minutes=1), mailer=SmtpMailer(settings))  # restart: claim held
        assert len(smtp.inbox.recipients()) == 2
        tick(now + timedelta(minutes=11), mailer=SmtpMailer(settings))  # the claim expired
        tick(now + timedelta(minutes=12), mailer=SmtpMailer(settings))  # second restart
        states = {r.state for r in ledger("opened") if r.reason is None}
    assert smtp.inbox.recipients() == addresses(world, *RESPONDENTS)
    assert states == {MailState.SENT}


def test_smtp_down_then_up_delivers_each_pending_message_exactly_once(app, smtp_down, world):
    """While SMTP is down messages wait as failed with back-off; once up, each arrives once."""
    now = OPENS + timedelta(minutes=1)
    with app.app_context():
        down = tick(now)
        rows = ledger("opened")
        waiting = [r for r in rows if r.reason is None]
        assert down.smtp_error and down.failed == 5
        assert {(r.state, r.attempts) for r in waiting} == {(MailState.FAILED, 1)}
        assert all(
            r.last_error and r.next_attempt_at == now + timedelta(minutes=1) for r in waiting
        )
        tick(now + timedelta(seconds=30))  # before the back-off: not tried
        db.session.expire_all()
        assert {r.attempts for r in ledger("opened") if r.reason is None} == {1}
        tick(now + timedelta(minutes=1))  # still down: second try, longer back-off
        db.session.expire_all()
        again = [r for r in ledger("opened") if r.reason is None]
        assert {(r.attempts, r.next_attempt_at) for r in again} == {(2, now + timedelta(minutes=3))}
        smtp_down.start()
        up = tick(now + timedelta(minutes=3))
        tick(now + timedelta(minutes=4))
        tick(now + timedelta(hours=2))
        db.session.expire_all()
        assert {r.state for r in ledger("opened") if r.reason is None} == {MailState.SENT}
    assert up.sent == 5
    assert smtp_down.inbox.recipients() == addresses(world, *RESPONDENTS)


def test_plan_uses_the_same_number_of_queries_whatever_the_number_of_people(app, world):
    """Writing the ledger is INSERT ... SELECT: 30 more people add no query."""
    now = CLOSES - timedelta(days=3)

    def count_queries() -> int:
        statements: list[str] = []

        def record(conn, cursor, statement, *args):
            statements.append(statement)

        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", record)
            try:
                plan(now)
                db.session.rollback()
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", record)
        return len(statements)

    small = count_queries()
    with app.app_context():
        section = db.session.get(Section, world["section"]["general"])
        for _ in range(30):
            factories.person(section=section, fiscal_year=FY)
        db.session.commit()
    assert count_queries() == small


# --- Editing a round ----------------------------------------------------------------------------


def test_editing_the_close_keeps_the_ledger_consistent(app, smtp, world):
    """Moving the close later never sends the opened mail or a sent reminder again; the
    cadence points of the new close become due."""
    with app.app_context():
        tick(CLOSES - timedelta(days=3))
        round_ = db.session.get_one(Round, world["round"])
        new_close = CLOSES + timedelta(days=7)
        update_round(
            round_,
            "test-2026",
            ["高津区"],
            OPENS,
            new_close,
            "テスト調査",
            (5, 3, 1),
            now=CLOSES - timedelta(days=3),
        )
        db.session.commit()
        tick(new_close - timedelta(days=5))
        tick(new_close - timedelta(days=3))
        tick(new_close - timedelta(days=1))
    subjects = [m["Subject"] for m in smtp.inbox.to(world["email"]["a"])]
    assert subjects == [
        "【回答のお願い】テスト調査",
        "【締め切りまであと3日】テスト調査",
        "【締め切りまであと5日】テスト調査",
        "【締め切りまであと1日】テスト調査",
    ]


# --- Remind now (the admin's button) ---------------------------------------------------------


def _reminders(smtp, world, key: str) -> list[str]:
    return [m["Subject"] for m in smtp.inbox.to(world["email"][key]) if "まであと" in m["Subject"]]


def test_remind_now_and_the_tick_send_each_reminder_once(app, smtp, world):
    """The button at 5 days before the close (the 7-day point due but not yet sent) reminds the
    non-respondents once, saying 5 days: the tick at the same moment adds no 7-day reminder, a
    second press reaches nobody; the 3-day point follows as planned."""
    with app.app_context():
        tick(OPENS + timedelta(minutes=1))
        submit(world, "a", "general")
        now = CLOSES - timedelta(days=5)
        round_ = db.session.get_one(Round, world["round"])
        assert remind_now_count(round_, now) == 4  # chief1, b, chief2, c (no_mail has no address)
        assert remind_now(round_, now) == 4
        db.session.commit()
        tick(now)
        assert remind_now_count(round_, now + timedelta(minutes=1)) == 0
        tick(CLOSES - timedelta(days=3))
        tick(CLOSES - timedelta(days=3) + timedelta(minutes=1))
    reminded = {key: _reminders(smtp, world, key) for key in RESPONDENTS}
    both = ["【締め切りまであと5日】テスト調査", "【締め切りまであと3日】テスト調査"]
    assert reminded == {"chief1": both, "a": [], "b": both, "chief2": both, "c": both}


def test_remind_now_after_the_tick_brings_the_next_point_forward(app, smtp, world):
    """After the 3-day reminder, the button reminds again now and the 1-day point does not."""
    with app.app_context():
        tick(CLOSES - timedelta(days=3))
        round_ = db.session.get_one(Round, world["round"])
        remind_now(round_, CLOSES - timedelta(days=2))
        db.session.commit()
        tick(CLOSES - timedelta(days=2))
        tick(CLOSES - timedelta(days=1))
        tick(CLOSES - timedelta(days=1) + timedelta(minutes=1))
    assert _reminders(smtp, world, "b") == [
        "【締め切りまであと3日】テスト調査", "【締め切りまであと2日】テスト調査"]


def test_remind_now_refuses_a_round_that_is_not_open(app, world):
    """Before the opening or after the close nothing is written."""
    with app.app_context():
        round_ = db.session.get_one(Round, world["round"])
        for moment in (OPENS - timedelta(minutes=1), CLOSES):
            with pytest.raises(ValueError):
                remind_now(round_, moment)
        assert ledger() == []


# --- Commands -----------------------------------------------------------------------------------


def test_tick_command_dry_run_prints_and_sends_and_writes_nothing(app, runner, smtp, world):
    """`scheduler tick --dry-run` lists who would get what, and sends and writes nothing."""
    result = runner.invoke(args=["scheduler", "tick", "--dry-run", "--now", "2026-11-02 09:01"])
    assert result.exit_code == 0, result.output
    assert world["email"]["a"] in result.output
    assert "送信予定 5 通" in result.output
    assert smtp.inbox.recipients() == []
    with app.app_context():
        assert ledger() == []


def test_tick_command_sends_and_reports(app, runner, smtp, world):
    """`scheduler tick --now` sends what is due and says how many."""
    result = runner.invoke(args=["scheduler", "tick", "--now", "2026-11-02 09:01"])
    assert result.exit_code == 0, result.output
    assert "受付開始のお知らせ 6 通を記録しました" in result.output  # one without an address
    assert "送信 5 通・失敗 0 通" in result.output
    assert smtp.inbox.recipients() == addresses(world, *RESPONDENTS)


def test_tick_command_fails_when_smtp_is_down(app, runner, smtp_down, world):
    """With the SMTP server unreachable, `scheduler tick` exits 1 and keeps the messages."""
    result = runner.invoke(args=["scheduler", "tick", "--now", "2026-11-02 09:01"])
    assert result.exit_code == 1
    with app.app_context():
        assert {r.state for r in ledger("opened") if r.reason is None} == {MailState.FAILED}


def test_run_command_starts_a_coalesced_tick_every_minute(app, runner, smtp, world, monkeypatch):
    """`scheduler run` schedules one coalesced, non-overlapping tick a minute on Tokyo's clock
    and runs it (the blocking loop replaced by one run of the job)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    seen: dict[str, object] = {}

    def start_once(self, *args, **kwargs):
        (job,) = self.get_jobs()
        seen.update(
            interval=job.trigger.interval,
            coalesce=job.coalesce,
            max_instances=job.max_instances,
            timezone=str(self.timezone),
        )
        job.func()

    monkeypatch.setattr(BlockingScheduler, "start", start_once)
    monkeypatch.setattr("app.scheduler.utcnow", lambda: OPENS + timedelta(minutes=1))
    result = runner.invoke(args=["scheduler", "run"])
    assert result.exit_code == 0, result.output
    assert seen == {
        "interval": timedelta(minutes=1),
        "coalesce": True,
        "max_instances": 1,
        "timezone": "Asia/Tokyo",
    }
    assert smtp.inbox.recipients() == addresses(world, *RESPONDENTS)


def test_build_scheduler_adds_no_job_to_the_web_app(app):
    """Creating the app starts no scheduler thread: only the commands build one."""
    assert not [t for t in threading.enumerate() if "APScheduler" in t.name]
    scheduler = build_scheduler(app)
    assert [job.id for job in scheduler.get_jobs()] == ["tick"]
    assert not scheduler.running


# --- PostgreSQL: two schedulers -----------------------------------------------------------------


@pytest.mark.skipif(not PG_URL, reason="advisory locks and SKIP LOCKED need PostgreSQL")
def test_second_scheduler_waits_on_the_advisory_lock(app):
    """While one scheduler holds the lock a second cannot take it; it can once released."""
    with app.app_context():
        first = SchedulerLock(db.engine, 4242)
        second = SchedulerLock(db.engine, 4242)
        assert first.acquire(wait=False)
        try:
            assert not second.acquire(wait=False)
            assert first.alive()
        finally:
            first.release()
        assert second.acquire(wait=False)
        second.release()


@pytest.mark.skipif(not PG_URL, reason="two processes against one database need PostgreSQL")
def test_two_scheduler_processes_send_each_message_once(app, smtp, world):
    """Two `scheduler tick` processes at once on PostgreSQL: every message arrives once."""
    with app.app_context():
        sections = [db.session.get(Section, s) for s in world["section"].values()]
        added = [factories.person(section=sections[i % 2], fiscal_year=FY) for i in range(60)]
        expected = sorted(addresses(world, *RESPONDENTS) + [p.email or "" for p in added])
        db.session.commit()
    assert PG_URL is not None  # else skipped
    env = {
        **os.environ,
        "FLASK_SECRET_KEY": "test-secret",
        "DATABASE_URL": PG_URL,
        "FLASK_MAIL_HOST": "127.0.0.1",
        "FLASK_MAIL_PORT": str(smtp.port),
        "FLASK_MAIL_BATCH_SIZE": "7",
    }
    command = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "wsgi",
        "scheduler",
        "tick",
        "--now",
        "2026-11-02 09:01",
    ]
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    recipients = smtp.inbox.recipients()
    assert recipients == expected
    with app.app_context():
        assert {r.state for r in ledger("opened") if r.reason is None} == {MailState.SENT}


# --- The cadence ---------------------------------------------------------------------------------


def test_latest_due_reminder_point_and_points_before_the_opening():
    """Of the due points the nearest the close wins; a point before the opening never falls due."""
    opens = CLOSES - timedelta(days=5)
    assert due_reminder_days(opens, CLOSES, "7,3,1", CLOSES - timedelta(days=4)) is None
    assert due_reminder_days(opens, CLOSES, "7,3,1", CLOSES - timedelta(days=3)) == 3
    assert due_reminder_days(opens, CLOSES, "7,3,1", CLOSES - timedelta(hours=2)) == 1
    assert due_reminder_days(opens, CLOSES, "7,3,1", CLOSES) is None
    assert due_reminder_days(opens, CLOSES, "", CLOSES - timedelta(hours=2)) is None


def test_retry_back_off_doubles_up_to_an_hour(app_ctx):
    """Failed tries wait 1, 2, 4 … minutes, never more than MAIL_RETRY_MAX_SECONDS."""
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 7, 50)] == [
        60,
        120,
        240,
        3600,
        3600,
    ]


def test_a_tick_that_plans_mail_writes_one_audit_row_per_round(app, smtp, world):
    """The scheduler's changes are logged with no actor (the plan, and the sign-in links the
    messages carry, in counts); a tick that changes nothing adds none."""
    from app.models import AuditEvent

    with app.app_context():
        tick(OPENS + timedelta(minutes=1))
        tick(OPENS + timedelta(minutes=2))
        rows = list(db.session.scalars(sa.select(AuditEvent)))
    assert [(r.action, r.actor_id, r.target_id) for r in rows] == [
        ("scheduler.plan", None, str(world["round"])),
        ("sign_in_link.issue", None, str(world["round"])),
    ]
    assert '"opened":6' in (rows[0].after or "")
    assert rows[1].after == '{"links":5}'  # the five sent; the one without an address has none


# --- A message that cannot be built -----------------------------------------------------------


def test_a_round_title_with_a_line_break_fails_alone_and_every_other_message_goes(
    app, smtp, world, caplog
):
    """Old data (written before titles were one line): a round titled ``…\\r\\nBcc: …``, put
    in the database directly. Its messages cannot be built; each is marked failed with the
    reason and logged, the tick does not raise, and every other round's message is delivered,
    now and at the next ticks. Nothing reaches the injected Bcc."""
    with app.app_context():
        good = db.session.get_one(Round, world["round"])
        bad = factories.round_(good.catalogue, opens_at=OPENS, closes_at=CLOSES, fiscal_year=FY)
        db.session.commit()
        db.session.execute(
            sa.update(Round)
            .where(Round.id == bad.id)
            .values(title="点検\r\nBcc: evil@example.jp")
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        bad_id = bad.id
        with caplog.at_level("WARNING", logger="kijun.scheduler"):
            first = tick(OPENS + timedelta(minutes=1))
            later = tick(CLOSES - timedelta(days=7))
        rows = ledger()
        failed = [r for r in rows if r.round_id == bad_id and r.state is MailState.FAILED]
        assert {r.state for r in rows if r.round_id == bad_id} == {
            MailState.FAILED, MailState.SKIPPED  # skipped: the person without an address
        }
        assert all("改行" in (r.last_error or "") for r in failed)
        assert {r.state for r in rows if r.round_id == world["round"]} <= {
            MailState.SENT, MailState.SKIPPED
        }
    assert first.sent == 5 and first.failed == 5
    assert later.sent > 0
    assert "evil@example.jp" not in smtp.inbox.recipients()
    subjects = [m["Subject"] for m in smtp.inbox.to(world["email"]["a"])]
    assert subjects == ["【回答のお願い】テスト調査", "【締め切りまであと7日】テスト調査"]
    assert sum("cannot be built" in r.getMessage() for r in caplog.records) >= 5


def test_a_person_whose_address_breaks_a_header_fails_alone(app, smtp, world):
    """One person's old address with a line break in it: that message fails with the reason,
    the others of the same batch go."""
    with app.app_context():
        db.session.execute(
            sa.update(Person)
            .where(Person.id == world["id"]["b"])
            .values(email="b@example.jp\r\nBcc: evil@example.jp")
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        result = tick(OPENS + timedelta(minutes=1))
        states = {r.person_id: r.state for r in ledger("opened")}
    assert states[world["id"]["b"]] is MailState.FAILED
    assert result.sent == 4 and result.failed == 1
    assert smtp.inbox.recipients() == addresses(world, "chief1", "a", "chief2", "c")
