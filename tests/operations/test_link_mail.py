"""The round's mail with personal sign-in links, through a real SMTP server (aiosmtpd): the
opening mail and the reminders carry each person's own link, the clerk's bulk send goes
through the send ledger once per person, and SIGN_IN_LINKS off links to the page as before."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from app.access import VIA_LINK
from app.extensions import db
from app.models import (
    AuditEvent,
    Grant,
    GrantRole,
    MailLedger,
    Person,
    Role,
    Round,
    Section,
    SignInLink,
)
from app.scheduler import tick
from app.wareki import fiscal_year_of, tokyo
from tests import factories
from tests.operations.test_scheduler import SmtpServer

LINK = re.compile(r"^(http://127\.0\.0\.1:5000)(/r/[A-Za-z0-9_-]{43})$", re.MULTILINE)


@pytest.fixture
def smtp(app: Flask):
    """A running SMTP server the app sends to."""
    server = SmtpServer()
    app.config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=server.port, MAIL_FROM="kijun@city.test")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ward(app: Flask) -> dict[str, object]:
    """A round of 高津区 open now (closing in two days, a reminder three days before the
    close, so one is due): three staff, a chief who is an admin, a blocked staff member."""
    year = fiscal_year_of(tokyo(datetime.now(UTC)))
    now = datetime.now(UTC)
    with app.app_context():
        section = factories.section("区民課")
        staff = [factories.person(section=section, fiscal_year=year) for _ in range(3)]
        chief = factories.person(section=section, role=Role.CHIEF, fiscal_year=year)
        chief.grants.append(Grant(role=GrantRole.ADMIN))
        blocked = factories.person(section=section, fiscal_year=year)
        blocked.sign_in_blocked = True
        catalogue = factories.catalogue("mail-links", fiscal_year=year)
        round_ = factories.round_(catalogue, opens_at=now - timedelta(days=10),
                                  closes_at=now + timedelta(days=2))
        round_.reminder_days = "3"
        db.session.commit()
        return {
            "round": round_.id,
            "section": section.id,
            "staff": [p.id for p in staff],
            "chief": chief.id,
            "blocked": blocked.id,
            "email": {p.id: p.email for p in [*staff, chief, blocked]},
        }


def links_in(smtp: SmtpServer, address: str, subject: str) -> list[str]:
    """The sign-in links (paths) in the messages to ``address`` whose subject has ``subject``."""
    return [
        match.group(2)
        for message in smtp.inbox.to(address)
        if subject in message["Subject"]
        for match in LINK.finditer(message.get_content())
    ]


def test_the_opening_mail_and_the_reminder_carry_each_persons_own_link(app, smtp, ward):
    """Every message goes to one person, with a link of its own that signs in that person
    only, for that round; the opening mail's link still works after the reminder's; a blocked
    person's mail links to the page instead; the tick audits how many links it made."""
    with app.app_context():
        result = tick(datetime.now(UTC))
    assert result.sent == 11  # five opening mails, five reminders, the chief's digest
    assert all(len(tos) == 1 for tos, _message, _port in smtp.inbox.received)
    paths: dict[int, list[str]] = {}
    for person_id in [*ward["staff"], ward["chief"]]:
        address = ward["email"][person_id]
        paths[person_id] = links_in(smtp, address, "回答のお願い") + links_in(
            smtp, address, "締め切りまであと")
        assert len(paths[person_id]) == 2
    every = [path for found in paths.values() for path in found]
    assert len(set(every)) == 8
    for person_id, found in paths.items():
        for path in found:
            browser = app.test_client()
            response = browser.get(path)
            assert response.headers["Location"] == f"/rounds/{ward['round']}/checklist"
            with browser.session_transaction() as session:
                assert session["_user_id"] == str(person_id)
                assert session[VIA_LINK] == ward["round"]
    blocked_mail = smtp.inbox.to(ward["email"][ward["blocked"]])
    assert len(blocked_mail) == 2
    for message in blocked_mail:
        body = message.get_content()
        assert "/r/" not in body
        assert f"http://127.0.0.1:5000/rounds/{ward['round']}/checklist" in body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(SignInLink.id))) == 8
        audit = [(r.action, r.after) for r in db.session.scalars(sa.select(AuditEvent))]
    assert ("sign_in_link.issue", '{"links":8}') in audit


def test_with_links_off_the_mail_links_to_the_page_as_before(app, smtp, ward):
    """SIGN_IN_LINKS = False: the checklist's address, no link made, nothing audited of them."""
    app.config["SIGN_IN_LINKS"] = False
    with app.app_context():
        tick(datetime.now(UTC))
        assert db.session.scalar(sa.select(sa.func.count(SignInLink.id))) == 0
        actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert "sign_in_link.issue" not in actions
    body = smtp.inbox.to(ward["email"][ward["staff"][0]])[0].get_content()
    assert f"http://127.0.0.1:5000/rounds/{ward['round']}/checklist" in body
    assert "/r/" not in body


def test_the_token_is_in_no_log_line_of_the_tick(app, smtp, ward, caplog):
    """The scheduler logs nothing that holds a token it mailed, at any level."""
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        tick(datetime.now(UTC))
    tokens = [m.group(2)[3:] for _t, message, _p in smtp.inbox.received
              for m in LINK.finditer(message.get_content())]
    assert len(tokens) == 8
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert not any(token in text for token in tokens)


def _submit(app: Flask, ward: dict[str, object], person_id: int) -> None:
    with app.app_context():
        round_ = db.session.get_one(Round, ward["round"])
        person = db.session.get_one(Person, person_id)
        section = db.session.get_one(Section, ward["section"])
        factories.response(round_, person, {s.key: "yes" for s in round_.catalogue.standards},
                           section=section, submitted=True)
        db.session.commit()


def test_the_clerks_bulk_send_reaches_each_non_respondent_once_per_send(
    app, client, sign_in, smtp, ward
):
    """サインイン用リンクをまとめて送る: the page names how many; the send goes through the
    ledger, so a second press sends nothing more; sending again needs a confirmation that
    names how many; each non-respondent gets one mail per send with a working link, those who
    submitted and the blocked person none."""
    with app.app_context():
        tick(datetime.now(UTC))  # the opening mail and the reminder
    smtp.inbox.received.clear()
    _submit(app, ward, ward["staff"][0])
    sign_in(ward["chief"])
    page = client.get(f"/admin/rounds/{ward['round']}/links").get_data(as_text=True)
    assert "3 人にサインイン用リンクを送る" in page  # two staff and the chief
    assert client.post(f"/admin/rounds/{ward['round']}/links",
                       data={"send": "1"}).status_code == 302
    again = client.post(f"/admin/rounds/{ward['round']}/links", data={"send": "1"},
                        follow_redirects=True)
    assert "もう送信待ちに記録されています" in again.get_data(as_text=True)
    with app.app_context():
        rows = list(db.session.scalars(sa.select(MailLedger).where(MailLedger.kind == "signin:1")))
        assert sorted(r.person_id for r in rows) == sorted([*ward["staff"][1:], ward["chief"]])
        tick(datetime.now(UTC))
    reached = smtp.inbox.recipients()
    assert reached == sorted(ward["email"][p] for p in [*ward["staff"][1:], ward["chief"]])
    path = links_in(smtp, ward["email"][ward["staff"][1]], "サインイン用リンク")[0]
    assert app.test_client().get(path).status_code == 302

    page = client.get(f"/admin/rounds/{ward['round']}/links").get_data(as_text=True)
    assert "すでに 1 回まとめて送っています" in page
    assert "3 人にもう一度送ることを確かめました" in page
    unconfirmed = client.post(f"/admin/rounds/{ward['round']}/links", data={"send": "2"})
    assert unconfirmed.status_code == 400
    assert "確かめたことにチェックを入れてください" in unconfirmed.get_data(as_text=True)
    confirmed = client.post(f"/admin/rounds/{ward['round']}/links",
                            data={"send": "2", "confirm_again": "y"})
    assert confirmed.status_code == 302
    with app.app_context():
        tick(datetime.now(UTC))
        kinds = [(r.action, r.after) for r in db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "round.send_links"))]
    assert kinds == [("round.send_links", '{"people":3,"send":1}'),
                     ("round.send_links", '{"people":3,"send":2}')]
    assert sorted(reached * 2) == smtp.inbox.recipients()


def test_a_bulk_send_waiting_is_skipped_for_who_submits_first(app, client, sign_in, smtp, ward):
    """A link queued for someone who submits before the tick sends it is not sent."""
    sign_in(ward["chief"])
    client.post(f"/admin/rounds/{ward['round']}/links", data={"send": "1"})
    _submit(app, ward, ward["staff"][1])
    with app.app_context():
        tick(datetime.now(UTC))
    assert links_in(smtp, ward["email"][ward["staff"][1]], "サインイン用リンク") == []
    assert len(links_in(smtp, ward["email"][ward["staff"][2]], "サインイン用リンク")) == 1


def test_the_bulk_send_is_refused_when_links_are_off_or_the_round_is_closed(
    app, client, sign_in, ward
):
    """No link can be sent with SIGN_IN_LINKS off, nor for a round that has closed."""
    sign_in(ward["chief"])
    app.config["SIGN_IN_LINKS"] = False
    response = client.post(f"/admin/rounds/{ward['round']}/links", data={"send": "1"})
    assert response.status_code == 409
    assert "SIGN_IN_LINKS = False" in response.get_data(as_text=True)
    app.config["SIGN_IN_LINKS"] = True
    with app.app_context():
        round_ = db.session.get_one(Round, ward["round"])
        round_.closes_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    assert client.post(f"/admin/rounds/{ward['round']}/links",
                       data={"send": "1"}).status_code == 409
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(MailLedger.id))) == 0
