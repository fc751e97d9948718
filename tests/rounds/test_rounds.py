"""Rounds: parsing times, creating rounds (fiscal year, title, checks) and the round CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Round
from app.services.catalogue.catalogues import load_catalogues
from app.services.rounds.rounds import RoundError, create_round, list_rounds, parse_datetime
from app.wareki import TOKYO
from tests import factories


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01 09:00", datetime(2026, 11, 1, 0, 0, tzinfo=UTC)),
        ("2026-11-01T09:00", datetime(2026, 11, 1, 0, 0, tzinfo=UTC)),
        (" 2026-11-01 09:00:30 ", datetime(2026, 11, 1, 0, 0, 30, tzinfo=UTC)),
        ("2026-11-01T09:00+00:00", datetime(2026, 11, 1, 9, 0, tzinfo=UTC)),
        ("2026-11-01T09:00Z", datetime(2026, 11, 1, 9, 0, tzinfo=UTC)),
        ("2026-11-01 09:00+0900", datetime(2026, 11, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_parse_datetime_tokyo_unless_an_offset_is_given(text, expected):
    """Times without an offset are on Tokyo's clock; an explicit offset wins."""
    parsed = parse_datetime(text)
    assert parsed.tzinfo is not None
    assert parsed == expected


@pytest.mark.parametrize(
    "text", ["2026-11-01", "11/01/2026 09:00", "2026-13-01 09:00", "2026-11-01 25:00", "明日"]
)
def test_parse_datetime_refuses_other_text(text):
    """A date alone, other formats and impossible dates raise ValueError in Japanese."""
    with pytest.raises(ValueError, match="日時"):
        parse_datetime(text)


@pytest.fixture
def catalogues(app_ctx):
    load_catalogues(Path(app_ctx.config["SURVEYS_DIR"]))
    factories.ward("宮前区")
    db.session.commit()


def _tokyo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def test_create_round_fiscal_year_and_default_title(catalogues):
    """The fiscal year is the opening's on Tokyo's clock; the default title names it."""
    round_ = create_round(
        "takatsu-2025", ["高津区"], _tokyo(2025, 11, 1, 9), _tokyo(2025, 11, 28, 17, 15)
    )
    assert round_.fiscal_year == 2025
    assert round_.title == "令和7年度 区役所サービス基準 自己点検"
    assert [w.name for w in round_.wards] == ["高津区"]
    assert round_.opens_at == datetime(2025, 11, 1, 0, 0, tzinfo=UTC)

    # 1 April 00:30 in Tokyo is still 31 March in UTC: the new fiscal year already.
    april = create_round(
        "takatsu-2025", ["高津区"], _tokyo(2026, 4, 1, 0, 30), _tokyo(2026, 4, 30), title=" 春 "
    )
    assert (april.fiscal_year, april.title) == (2026, "春")
    march = create_round("takatsu-2025", ["高津区"], _tokyo(2026, 3, 31, 23), _tokyo(2026, 4, 10))
    assert march.fiscal_year == 2025


def test_city_catalogue_for_several_wards(catalogues):
    """A city-wide catalogue may be opened in several wards at once."""
    round_ = create_round(
        "city-2024", ["高津区", "宮前区"], _tokyo(2024, 11, 1, 9), _tokyo(2024, 11, 29)
    )
    assert sorted(w.name for w in round_.wards) == ["宮前区", "高津区"]
    assert round_.fiscal_year == 2024


def test_create_round_collects_every_problem(catalogues):
    """Unknown catalogue and ward, times in the wrong order: all reported, nothing written."""
    with pytest.raises(RoundError) as caught:
        create_round("no-such", ["川崎区"], _tokyo(2025, 11, 2), _tokyo(2025, 11, 1))
    text = "\n".join(caught.value.errors)
    assert "no-such" in text and "川崎区" in text and "締め切りは受付開始より後" in text
    with pytest.raises(RoundError, match="区を1つ以上"):
        create_round("city-2024", [], _tokyo(2025, 11, 1), _tokyo(2025, 11, 2))
    with pytest.raises(RoundError, match="時差"):
        create_round("city-2024", ["高津区"], datetime(2025, 11, 1), _tokyo(2025, 11, 2))
    assert db.session.scalar(sa.select(sa.func.count(Round.id))) == 0


def test_ward_catalogue_only_for_its_own_ward(catalogues):
    """高津区's own catalogue cannot be opened in another ward."""
    with pytest.raises(RoundError, match="宮前区"):
        create_round(
            "takatsu-2025", ["高津区", "宮前区"], _tokyo(2025, 11, 1), _tokyo(2025, 11, 2)
        )


def test_round_create_cli_tokyo_by_default(runner, catalogues, app):
    """`round create` reads times on Tokyo's clock, prints a line and the id on the last line."""
    result = runner.invoke(
        args=[
            "round",
            "create",
            "--catalogue",
            "takatsu-2025",
            "--ward",
            "高津区",
            "--opens",
            "2025-11-01 09:00",
            "--closes",
            "2025-11-28T17:15",
        ]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    round_id = int(lines[-1])
    assert "令和7年11月1日 9時00分" in lines[0] and "令和7年11月28日 17時15分" in lines[0]
    round_ = db.session.get(Round, round_id)
    assert round_ is not None
    assert round_.opens_at == datetime(2025, 11, 1, 0, 0, tzinfo=UTC)
    assert round_.closes_at == datetime(2025, 11, 28, 8, 15, tzinfo=UTC)
    assert round_.title == "令和7年度 区役所サービス基準 自己点検"

    listed = runner.invoke(args=["round", "list"])
    assert listed.exit_code == 0
    assert str(round_id) in listed.stdout and "takatsu-2025" in listed.stdout


def test_round_create_cli_explicit_offset_and_title(runner, catalogues):
    """An explicit offset is honoured, --ward repeats, --title replaces the default."""
    result = runner.invoke(
        args=[
            "round",
            "create",
            "--catalogue",
            "city-2024",
            "--ward",
            "高津区",
            "--ward",
            "宮前区",
            "--opens",
            "2024-11-01T09:00+00:00",
            "--closes",
            "2024-11-20T00:00Z",
            "--title",
            "秋の点検",
        ]
    )
    assert result.exit_code == 0, result.output
    round_ = db.session.get(Round, int(result.stdout.splitlines()[-1]))
    assert round_ is not None
    assert round_.opens_at == datetime(2024, 11, 1, 9, 0, tzinfo=UTC)
    assert round_.opens_at.astimezone(timezone(timedelta(hours=9))).hour == 18
    assert round_.title == "秋の点検"
    assert len(round_.wards) == 2


def test_round_create_cli_errors_go_to_stderr(runner, catalogues):
    """Bad input: every error on stderr, exit status 1, no round."""
    result = runner.invoke(
        args=[
            "round",
            "create",
            "--catalogue",
            "takatsu-2025",
            "--ward",
            "宮前区",
            "--opens",
            "2025-11-01 09:00",
            "--closes",
            "来週",
        ]
    )
    assert result.exit_code == 1
    assert "来週" in result.stderr
    assert result.stdout == ""
    result = runner.invoke(
        args=[
            "round",
            "create",
            "--catalogue",
            "takatsu-2025",
            "--ward",
            "宮前区",
            "--opens",
            "2025-11-01 09:00",
            "--closes",
            "2025-11-02 09:00",
        ]
    )
    assert result.exit_code == 1
    assert "ほかの区（宮前区）には使えません" in result.stderr
    assert list_rounds() == []


def test_round_list_when_empty(runner, app_ctx):
    """`round list` says so when there are no rounds."""
    result = runner.invoke(args=["round", "list"])
    assert result.exit_code == 0
    assert "調査はまだありません" in result.stdout


def test_round_create_cli_sets_the_reminder_days(runner, catalogues):
    """--reminder-days sets the round's cadence (full-width and 、 accepted), "" turns reminders
    off, the default is 7, 3 and 1, and an unreadable cadence creates nothing."""
    base = ["round", "create", "--catalogue", "takatsu-2025", "--ward", "高津区",
            "--opens", "2025-11-01 09:00", "--closes", "2025-11-28 17:15"]

    result = runner.invoke(args=[*base, "--reminder-days", "１０、２"])
    assert result.exit_code == 0, result.output
    round_ = db.session.get(Round, int(result.stdout.splitlines()[-1]))
    assert round_ is not None and round_.reminder_days == "10,2"
    assert "10日前、2日前に送る" in result.stdout

    result = runner.invoke(args=[*base, "--reminder-days", ""])
    assert result.exit_code == 0, result.output
    round_ = db.session.get(Round, int(result.stdout.splitlines()[-1]))
    assert round_ is not None and round_.reminder_days == ""
    assert "お知らせ: 送らない" in result.stdout

    result = runner.invoke(args=base)
    round_ = db.session.get(Round, int(result.stdout.splitlines()[-1]))
    assert round_ is not None and round_.reminder_days == "7,3,1"

    before = db.session.scalar(sa.select(sa.func.count()).select_from(Round))
    result = runner.invoke(args=[*base, "--reminder-days", "7,あした"])
    assert result.exit_code == 1
    assert "あした" in result.stderr and "調査は作成していません" in result.stderr
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Round)) == before
