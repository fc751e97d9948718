"""Every read of a closed round's results is in the audit log, and a round whose results
anyone has read is never reopened (app/services/results/readers.py): otherwise one more
colleague's submit between two closes would be the difference between two downloads.

The world is tests/results_world.py: the FY2025 round of 高津区 and 宮前区, closed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import (
    Assignment,
    AuditEvent,
    Person,
    Role,
    Round,
    RoundCount,
    RoundSection,
    utcnow,
)
from app.services.results.readers import note_round_reads, reopen_refusal
from app.services.results.tally import count_round
from app.services.rounds.rounds import RoundError, update_round
from app.wareki import TOKYO, fiscal_year_of, tokyo
from tests.results_world import World, build_world

LATER = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=7)

# Every page of a closed round's results (who reads it, its address) ...
READS = [
    ("committee", "/results/rounds/{round}"),
    ("committee", "/results/rounds/{round}/breakdown?level=section&role=staff"),
    ("committee", "/results/rounds/{round}/comments"),
    ("committee", "/results/rounds/{round}/actions"),
    ("committee", "/api/v1/rounds/{round}/compliance"),
    ("chief", "/results/rounds/{round}/sections/{section}"),
    ("committee", "/results/city?year=2025"),
    ("committee", "/annual-report/{ward}/2025"),
]
# ... and every file of them.
DOWNLOADS = [
    *(("committee", f"/results/rounds/{{round}}/export/{fmt}")
      for fmt in ("xlsx", "csv", "csv-long", "html")),
    ("chief", "/results/rounds/{round}/sections/{section}/export/csv"),
    ("committee", "/results/rounds/{round}/comments.xlsx"),
    ("committee", "/results/city.xlsx?year=2025"),
    ("committee", "/annual-report/{ward}/2025/report.docx"),
]


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        return build_world()


def _url(app: Flask, world: World, template: str) -> str:
    """The address, for the chief's section; the chief is still its chief this year (a
    chief's pages are open to the chiefs of the current roster)."""
    with app.app_context():
        section = db.session.scalars(
            sa.select(Assignment.section_id).where(Assignment.person_id == world.chief)
        ).one()
        this_year = fiscal_year_of(tokyo(utcnow()))
        if this_year != 2025:
            db.session.add(Assignment(person_id=world.chief, fiscal_year=this_year,
                                      section_id=section, role=Role.CHIEF))
            db.session.commit()
    return template.format(round=world.round_id, section=section, ward=world.takatsu_ward_id)


def _reader(world: World, who: str) -> int:
    return world.city_committee if who == "committee" else world.chief


def _events(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def _reopen(world: World) -> None:
    """Move the closed round's close a week later (what reopening is)."""
    round_ = db.session.get_one(Round, world.round_id)
    wards = [w.name for w in round_.wards]
    update_round(round_, round_.catalogue.key, wards, round_.opens_at, LATER)


@pytest.mark.parametrize(("who", "template"), READS + DOWNLOADS)
def test_after_any_read_or_download_the_round_is_not_reopened(
    app, client, sign_in, world, who, template
):
    """Each results page and file of a closed round writes a row naming the round; then
    reopening it is refused with the day of the first read and the number of readers, and its
    counts stay."""
    sign_in(_reader(world, who))
    response = client.get(_url(app, world, template))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    response.close()
    with app.app_context():
        rows = [e for e in _events("results.read") + _events("results.download")
                if e.target_id == str(world.round_id)]
        assert [(e.target_type, e.actor_id) for e in rows] == [("round", _reader(world, who))]
        with pytest.raises(RoundError) as refused:
            _reopen(world)
        db.session.rollback()
        today = datetime.now(TOKYO)
        (message,) = refused.value.errors
        assert f"令和{today.year - 2018}年{today.month}月{today.day}日から読まれています" in message
        assert "これまでに1人" in message
        assert db.session.get_one(Round, world.round_id).counted_at is not None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RoundCount))


def test_before_any_read_the_admin_reopens_after_confirming_and_it_is_logged(
    app, client, sign_in, world
):
    """Nobody has read the round: the admin's form asks 「締め切り後の調査を再開します。…
    よろしいですか」 first, and saving with the confirmation reopens it (counts and the kept
    organisation discarded) with a round.reopen row in the log."""
    from tests.rounds.test_admin import local

    with app.app_context():
        assert count_round(world.round_id)
        db.session.commit()
        round_ = db.session.get_one(Round, world.round_id)
        data = {
            "catalogue": round_.catalogue.key,
            "wards": [w.name for w in round_.wards],
            "title": round_.title,
            "opens": local(round_.opens_at),
            "closes": local(LATER),
            "reminder_days": round_.reminder_days,
        }
    sign_in(world.admin)
    url = f"/admin/rounds/{world.round_id}/edit"
    asked = client.post(url, data=data)
    assert asked.status_code == 200
    assert "締め切り後の調査を再開します。" in asked.get_data(as_text=True)
    assert "よろしいですか" in asked.get_data(as_text=True)
    with app.app_context():
        assert db.session.get_one(Round, world.round_id).counted_at is not None
    assert client.post(url, data={**data, "confirm": "y"}).status_code == 302
    with app.app_context():
        round_ = db.session.get_one(Round, world.round_id)
        assert round_.counted_at is None and round_.is_open()
        for model in (RoundCount, RoundSection):
            assert not db.session.scalar(sa.select(sa.func.count()).select_from(model))
        (event,) = _events("round.reopen")
        assert (event.actor_id, event.target_id) == (world.admin, str(world.round_id))
        assert not _events("round.update")


def test_after_a_read_the_admin_form_says_why_and_refuses(app, client, sign_in, world):
    """Once the committee has read the round's page, the admin's form says it can no longer
    be reopened, and saving a later close with the confirmation is refused (400, the reason
    on the page): the round stays closed with its counts, and no round.reopen row."""
    from tests.rounds.test_admin import local

    sign_in(world.city_committee)
    assert client.get(f"/results/rounds/{world.round_id}").status_code == 200
    with app.app_context():
        round_ = db.session.get_one(Round, world.round_id)
        data = {
            "catalogue": round_.catalogue.key,
            "wards": [w.name for w in round_.wards],
            "title": round_.title,
            "opens": local(round_.opens_at),
            "closes": local(LATER),
            "reminder_days": round_.reminder_days,
            "confirm": "y",
        }
    sign_in(world.admin)
    url = f"/admin/rounds/{world.round_id}/edit"
    form_page = client.get(url).get_data(as_text=True)
    assert "変えられるのは題名だけです" in form_page and "から読まれています" in form_page
    refused = client.post(url, data=data)
    assert refused.status_code == 400
    assert "再開できません" in refused.get_data(as_text=True)
    with app.app_context():
        round_ = db.session.get_one(Round, world.round_id)
        assert round_.counted_at is not None and not round_.is_open()
        assert not _events("round.reopen")
    assert client.post(url, data={**data, "closes": local(round_.closes_at),
                                  "title": "改題"}).status_code == 302  # the title still may


def test_a_read_is_logged_once_a_day_and_every_download_each_time(app, client, sign_in, world):
    """The same reader's pages of one day are one results.read row per round (this year's and
    last year's beside it); each download is its own row; another reader or another day adds
    a read; the refusal counts the people."""
    sign_in(world.city_committee)
    base = f"/results/rounds/{world.round_id}"
    for url in (base, base, f"{base}/breakdown", f"/api/v1/rounds/{world.round_id}/compliance"):
        assert client.get(url).status_code == 200
    for _ in range(2):
        assert client.get(f"{base}/export/csv").status_code == 200
    sign_in(world.takatsu_committee)
    assert client.get(base).status_code == 200
    with app.app_context():
        reads = [(e.actor_id, e.target_id) for e in _events("results.read")]
        this, last = str(world.round_id), str(world.previous_round_id)
        city, takatsu = world.city_committee, world.takatsu_committee
        assert sorted(reads) == sorted(
            [(city, this), (city, last), (takatsu, this), (takatsu, last)]
        )
        downloads = [(e.actor_id, e.target_id) for e in _events("results.download")]
        assert downloads == [(city, this), (city, this)]
        reader = db.session.get_one(Person, city)
        note_round_reads([(world.round_id, [world.takatsu_ward_id])], reader)
        assert len(_events("results.read")) == 4  # the same day: nothing new
        note_round_reads([(world.round_id, [world.takatsu_ward_id])], reader,
                         now=utcnow() + timedelta(days=1))
        assert len(_events("results.read")) == 5
        refusal = reopen_refusal(world.round_id)
        assert refusal is not None and "これまでに2人" in refusal


def test_a_command_line_export_is_a_download_too(app, runner, world):
    """`flask report compliance` writes the table like a download (a row with no actor, from
    the command line), and the round can no longer be reopened."""
    result = runner.invoke(
        args=["report", "compliance", "--round", str(world.round_id), "--format", "csv",
              "--output", "-"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        (event,) = _events("results.download")
        assert (event.actor_id, event.target_id) == (None, str(world.round_id))
        assert '"source":"cli"' in (event.after or "")
        assert reopen_refusal(world.round_id) is not None
