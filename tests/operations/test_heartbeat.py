"""The scheduler nobody can forget: every tick's heartbeat, the admin pages' banner and last
mail, the wording of queued mail while it is stale, and ``/readyz/scheduler``."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Grant, GrantRole, MailLedger, Role, SchedulerHeartbeat
from app.scheduler import tick
from app.services.operations import heartbeat
from app.services.operations.heartbeat import scheduler_status
from app.services.operations.mail import MailSettings, SmtpMailer
from tests import factories
from tests.operations.test_scheduler import SmtpServer

NOW = datetime.now(UTC)


@pytest.fixture
def smtp(app):
    """A running aiosmtpd the app sends to."""
    server = SmtpServer()
    app.config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=server.port, MAIL_FROM="kijun@city.test")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ward_round(app):
    """An open round of 高津区 with two staff (addresses) and a signed-in-able admin."""
    with app.app_context():
        section = factories.section("総務課")
        staff = [factories.person(section=section, fiscal_year=2026) for _ in range(2)]
        admin = factories.person()
        admin.grants.append(Grant(role=GrantRole.ADMIN))
        round_ = factories.round_(
            factories.catalogue("beat-2026", fiscal_year=2026),
            opens_at=NOW - timedelta(days=1), closes_at=NOW + timedelta(days=10),
            fiscal_year=2026,
        )
        db.session.commit()
        return {"round": round_.id, "admin": admin.id, "staff": [p.id for p in staff]}


def _age_heartbeat(app, minutes: int) -> None:
    """Move the heartbeat ``minutes`` into the past, as if no tick had run since."""
    with app.app_context():
        row = db.session.get(SchedulerHeartbeat, 1)
        assert row is not None
        past = datetime.now(UTC) - timedelta(minutes=minutes)
        row.beat_at = row.tick_started_at = past
        row.tick_finished_at = past
        db.session.commit()


def test_a_tick_records_its_heartbeat_with_host_pid_and_the_last_mail(app, smtp, ward_round):
    """A tick writes its start, end, host and process id; a tick that mails sets the last mail
    time, one that sends nothing leaves it."""
    with app.app_context():
        before = datetime.now(UTC)
        result = tick()
        assert result.sent == 2
        row = db.session.get(SchedulerHeartbeat, 1)
        assert row is not None
        assert (row.host, row.pid) == (socket.gethostname(), os.getpid())
        assert row.tick_finished_at is not None
        assert before <= row.tick_started_at <= row.tick_finished_at <= datetime.now(UTC)
        assert row.last_mail_at is not None and before <= row.last_mail_at
        first_mail = row.last_mail_at
        tick()  # nothing left to send
        db.session.expire_all()
        row = db.session.get_one(SchedulerHeartbeat, 1)
        assert row.last_mail_at == first_mail
        assert row.tick_finished_at is not None and row.tick_finished_at >= first_mail
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SchedulerHeartbeat)) == 1


class _Watching(SmtpMailer):
    """The SMTP mailer, noting the heartbeat as each batch's connection opens."""

    def __init__(self, settings: MailSettings) -> None:
        super().__init__(settings)
        self.seen: list[tuple[datetime | None, datetime | None]] = []

    def connect(self):
        row = db.session.get_one(SchedulerHeartbeat, 1)
        self.seen.append((row.tick_started_at, row.tick_finished_at))
        return super().connect()


def test_the_heartbeat_is_written_before_the_tick_sends(app, smtp, ward_round):
    """A tick's start is recorded before its first batch goes out, and each batch beats: a
    tick that mails 20,000 people for minutes is never taken for a stopped scheduler."""
    app.config["MAIL_BATCH_SIZE"] = 1
    with app.app_context():
        before = datetime.now(UTC)
        mailer = _Watching(MailSettings.from_config(app.config))
        tick(mailer=mailer)
        assert len(mailer.seen) == 2
        (started, finished), _second = mailer.seen
        assert started is not None and started >= before and finished is None
        row = db.session.get_one(SchedulerHeartbeat, 1)
        assert row.beat_at >= row.tick_started_at


def test_a_dry_run_is_no_heartbeat(app, ward_round):
    """`tick --dry-run` writes nothing, the heartbeat included: the scheduler still never ran."""
    with app.app_context():
        tick(dry_run=True)
        assert db.session.get(SchedulerHeartbeat, 1) is None
        assert scheduler_status().never_ran


def test_admin_pages_name_the_command_while_no_tick_ran_for_five_minutes(
    app, client, sign_in, smtp, ward_round
):
    """Before any tick and 5 minutes after the last one, every admin page shows the banner
    with the command and the service to start; after a tick it shows when mail last went out."""
    sign_in(ward_round["admin"])
    pages = ["/admin/rounds", "/admin/people", "/admin/roster", "/admin/audit",
             f"/admin/rounds/{ward_round['round']}/mail"]
    for url in pages:
        html = client.get(url).get_data(as_text=True)
        assert "スケジューラーが止まっています" in html, url
        assert "systemctl start kijun-scheduler" in html
        assert "flask --app wsgi scheduler run" in html
        assert "まだ一度も動いていません" in html
    with app.app_context():
        tick()
    for url in pages:
        html = client.get(url).get_data(as_text=True)
        assert "スケジューラーが止まっています" not in html, url
        assert "メールの最終送信: 令和" in html
    _age_heartbeat(app, minutes=6)
    html = client.get("/admin/rounds").get_data(as_text=True)
    assert "スケジューラーが止まっています" in html and "5分以上前" in html
    assert "メールの最終送信: 令和" in html  # the last mail is still told
    _age_heartbeat(app, minutes=4)
    assert "スケジューラーが止まっています" not in client.get("/admin/rounds").get_data(
        as_text=True)


def test_remind_now_promises_a_minute_only_while_the_scheduler_ticks(
    app, client, sign_in, ward_round
):
    """With no tick for 5 minutes "Remind now" says the reminders wait for the scheduler;
    with a recent tick it says they arrive in about a minute."""
    sign_in(ward_round["admin"])
    url = f"/admin/rounds/{ward_round['round']}/remind"
    page = client.post(url, follow_redirects=True).get_data(as_text=True)
    assert "スケジューラーが動き出してから送られます" in page
    assert "1分ほどで届きます" not in page
    with app.app_context():
        db.session.execute(sa.delete(MailLedger))
        _beat()
    page = client.post(url, follow_redirects=True).get_data(as_text=True)
    assert "1分ほどで届きます" in page
    assert "スケジューラーが動き出してから" not in page


def _beat() -> None:
    """A tick's heartbeat, now (what ``tick`` records; proven above)."""
    heartbeat.tick_started()
    heartbeat.tick_finished()
    db.session.commit()


def test_receipt_mail_says_it_waits_while_the_scheduler_is_stale(app, client, sign_in):
    """A receipt copy asked for while no tick ran says it is queued until the scheduler runs;
    after a tick it says it arrives within minutes."""
    with app.app_context():
        section = factories.section("総務課")
        person = factories.person(section=section, role=Role.STAFF, fiscal_year=2026)
        other = factories.person(section=section, role=Role.STAFF, fiscal_year=2026)
        round_ = factories.round_(
            factories.catalogue("receipt-2026", fiscal_year=2026),
            opens_at=NOW - timedelta(days=1), closes_at=NOW + timedelta(days=10),
            fiscal_year=2026,
        )
        values = {s.key: "yes" for s in round_.catalogue.standards}
        factories.response(round_, person, values, section=section, role=Role.STAFF)
        factories.response(round_, other, values, section=section, role=Role.STAFF)
        db.session.commit()
        ids = (round_.id, person.id, other.id)
    sign_in(ids[1])
    page = client.post(f"/rounds/{ids[0]}/receipt/mail", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "動き出してから届きます" in text and "数分以内に届きます" not in text
    with app.app_context():
        _beat()
    sign_in(ids[2])
    text = client.post(f"/rounds/{ids[0]}/receipt/mail", follow_redirects=True).get_data(
        as_text=True)
    assert "数分以内に届きます" in text and "動き出してから" not in text


def test_readyz_scheduler_tells_monitoring_whether_ticks_run(app, client, ward_round):
    """/readyz/scheduler is 503 "never" before any tick, 200 "ok" after one, 503 "stale" five
    minutes later; it needs no sign-in and names no host or process."""
    never = client.get("/readyz/scheduler")
    assert never.status_code == 503 and never.json["scheduler"] == "never"
    with app.app_context():
        _beat()
    fresh = client.get("/readyz/scheduler")
    assert fresh.status_code == 200
    body = fresh.json
    assert body["scheduler"] == "ok" and body["stale_after_seconds"] == 300
    assert body["seconds_since_beat"] < 300 and body["last_mail_at"] is None
    assert datetime.fromisoformat(body["last_tick_finished_at"]) <= datetime.now(UTC)
    assert socket.gethostname() not in fresh.get_data(as_text=True)
    assert '"pid"' not in fresh.get_data(as_text=True)
    _age_heartbeat(app, minutes=6)
    stale = client.get("/readyz/scheduler")
    assert stale.status_code == 503 and stale.json["scheduler"] == "stale"
    assert stale.json["seconds_since_beat"] >= 360
    assert stale.headers["Cache-Control"].startswith("no-store")


def test_stale_after_follows_its_setting(app, client):
    """SCHEDULER_STALE_SECONDS sets how long without a tick is stale."""
    app.config["SCHEDULER_STALE_SECONDS"] = 30
    with app.app_context():
        _beat()
    assert client.get("/readyz/scheduler").status_code == 200
    with app.app_context():
        row = db.session.get_one(SchedulerHeartbeat, 1)
        row.beat_at = datetime.now(UTC) - timedelta(seconds=45)
        db.session.commit()
    assert client.get("/readyz/scheduler").json["scheduler"] == "stale"
