"""Titles and names that reach a mail header or a line are one line (app/services/one_line.py):
the rule itself, then every entry point refusing a line break: the round form, `round
create`, a closed round's new title, catalogue YAML (`catalogue load`) and the browser's
catalogue editor, and roster files (CSV and xlsx, with the line number). The scheduler's side
is in tests/operations/test_scheduler.py, the repair of old rows in
tests/operations/test_migrations.py."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Catalogue, Grant, GrantRole, Person, Round, Ward
from app.services.catalogue.catalogues import load_catalogues
from app.services.one_line import control_characters, one_line_problem
from app.services.organisation.roster_file import RosterError, read_roster
from app.services.rounds.rounds import RoundError, update_round
from app.wareki import TOKYO
from tests import factories

INJECTED = "秋の点検\r\nBcc: evil@example.jp"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("令和7年度　区役所サービス基準 自己点検", []),  # a full-width space is a space
        ("高津区役所「総務課」・ＡＢＣ", []),
        ("a\r\nb", ["U+000D", "U+000A"]),
        ("a\tb", ["U+0009"]),
        ("a\x00b\x1fc", ["U+0000", "U+001F"]),
        ("a\x7fb", ["U+007F"]),
        ("a\x85b\x9fc", ["U+0085", "U+009F"]),
        ("a\u2028b\u2029c", ["U+2028", "U+2029"]),
        ("a\nb\nc", ["U+000A"]),
    ],
)
def test_the_rule_finds_every_control_character(app_ctx, text, found):
    """C0 (tab and line feed too), DEL, C1 and the Unicode line and paragraph separators are
    found, each once; ordinary Japanese text, full-width spaces included, is one line."""
    assert control_characters(text) == found
    problem = one_line_problem(text, "題名")
    assert (problem is None) == (not found)
    if problem is not None:
        assert problem.startswith("題名に改行やタブなどの制御文字") and found[0] in problem


# --- The round: the admin's form, the CLI, the service ---------------------------------------


@pytest.fixture
def admin(app, client, sign_in):
    """A signed-in city admin, 高津区 and a catalogue of FY2026."""
    with app.app_context():
        person = factories.person()
        person.grants.append(Grant(role=GrantRole.ADMIN))
        factories.ward("高津区")
        factories.catalogue("test-2026", fiscal_year=2026)
        db.session.commit()
        sign_in(person)
        return person.id


def _round_form(title: str) -> dict[str, object]:
    opens = (datetime.now(UTC) + timedelta(days=10)).astimezone(TOKYO)
    return {
        "catalogue": "test-2026",
        "wards": ["高津区"],
        "title": title,
        "opens": opens.strftime("%Y-%m-%dT%H:%M"),
        "closes": (opens + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M"),
        "reminder_days": "7,3,1",
    }


@pytest.mark.parametrize("title", [INJECTED, "秋の点検\n", "秋の\u2028点検", "秋の\x85点検"])
def test_the_round_form_refuses_a_title_on_two_lines(app, client, admin, title):
    """The admin's form: a title with CR/LF (also a line separator or NEL; a trailing line
    feed is trimmed, not refused) is a 400 naming the problem, and no round is written."""
    response = client.post("/admin/rounds/new", data=_round_form(title))
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count(Round.id)))
    if title == "秋の点検\n":  # the browser's trailing newline: stripped, one line
        assert response.status_code == 302 and count == 1
        return
    assert response.status_code == 400
    assert "題名に改行やタブなどの制御文字" in response.get_data(as_text=True)
    assert count == 0


def test_round_create_on_the_command_line_refuses_a_title_on_two_lines(app, runner, admin):
    """`flask round create --title`: exit status 1, the problem on stderr, no round."""
    result = runner.invoke(args=[
        "round", "create", "--catalogue", "test-2026", "--ward", "高津区",
        "--opens", "2026-11-01 09:00", "--closes", "2026-11-30 17:15", "--title", INJECTED,
    ])
    assert result.exit_code == 1
    assert "題名に改行やタブなどの制御文字（U+000D、U+000A）" in result.stderr
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Round.id))) == 0


def test_a_closed_rounds_new_title_is_one_line_too(app_ctx):
    """The service every entry point calls: a closed round may take a new title, not one on
    two lines (its closing summary is still to be mailed)."""
    catalogue = factories.catalogue("test-2026", fiscal_year=2026)
    round_ = factories.closed_round(catalogue)
    db.session.commit()
    with pytest.raises(RoundError, match="制御文字"):
        update_round(
            round_, catalogue.key, [w.name for w in round_.wards], round_.opens_at,
            round_.closes_at, title=INJECTED,
        )
    db.session.rollback()
    assert db.session.get_one(Round, round_.id).title == "テスト調査"


# --- Catalogues: YAML and the browser's editor ------------------------------------------------


CATALOGUE = """\
key: one-line-2026
title: {title}
fiscal_year: 2026
source: tests
{ward}standards:
  - number: 1
    key: one-line-1
    text: 窓口で名札を着けています。
    scene: 応対
    audience: everyone
"""


@pytest.mark.parametrize(
    ("title", "ward", "message"),
    [
        ('"令和8年度\\r\\nBcc: evil@example.jp"', "", "title に改行やタブなどの制御文字"),
        ("|\n  令和8年度\n  区役所サービス基準", "", "title に改行やタブなどの制御文字"),
        ("令和8年度 基準", 'ward: "高津\\n区"\n', "ward に改行やタブなどの制御文字"),
    ],
)
def test_catalogue_load_refuses_a_title_or_ward_on_two_lines(
    app, runner, tmp_path, title, ward, message
):
    """`flask catalogue load`: a quoted "\\r\\n", a block scalar of two lines, or a ward's name
    with a line feed: exit status 1, the problem on stderr, nothing written (no new ward)."""
    path = tmp_path / "one-line.yaml"
    path.write_text(CATALOGUE.format(title=title, ward=ward), encoding="utf-8")
    result = runner.invoke(args=["catalogue", "load", str(path)])
    assert result.exit_code == 1, result.output
    assert message.replace(" に", "に") in result.stderr
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Catalogue.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(Ward.id))) == 0


def test_the_same_catalogue_on_one_line_loads(app_ctx, tmp_path):
    """The control: the file above with its title on one line is loaded."""
    path = tmp_path / "one-line.yaml"
    path.write_text(CATALOGUE.format(title="令和8年度 基準", ward=""), encoding="utf-8")
    assert [r.key for r in load_catalogues(path)] == ["one-line-2026"]


def test_the_catalogue_editor_refuses_a_title_on_two_lines(app, client, sign_in):
    """The browser's editor: next year's draft with a title on two lines is a 400 naming the
    problem, and no draft is written."""
    with app.app_context():
        load_catalogues(Path(app.config["SURVEYS_DIR"]))
        person = factories.person()
        person.grants.append(Grant(role=GrantRole.ADMIN, ward=factories.ward("高津区")))
        db.session.commit()
        sign_in(person)
    response = client.post(
        "/admin/catalogues/takatsu-2025/next",
        data={"key": "takatsu-2026", "title": "令和8年度\r\nBcc: evil@example.jp"},
    )
    assert response.status_code == 400
    assert "題名に改行やタブなどの制御文字" in response.get_data(as_text=True)
    with app.app_context():
        keys = db.session.scalars(sa.select(Catalogue.key)).all()
        assert "takatsu-2026" not in keys


# --- Rosters ------------------------------------------------------------------------------------


HEADER = "employee_id,name,email,ward,department,section,role"


def test_a_csv_roster_refuses_names_on_two_lines_with_their_line_numbers(app_ctx, tmp_path):
    """A quoted CSV cell may hold a line break: in a person's, ward's, department's or
    section's name it is refused, each at the line where its record starts."""
    lines = [
        HEADER,
        "A0001,山田 太郎,yamada@example.jp,高津区,区民サービス部,区民課,chief",
        'A0002,"佐藤\r\nBcc: evil@example.jp",sato@example.jp,高津区,区民サービス部,区民課,staff',
        'A0003,鈴木 一郎,suzuki@example.jp,"高津\n区",区民サービス部,区民課,staff',
        'A0004,田中 美咲,tanaka@example.jp,高津区,"区民\tサービス部",区民課,staff',
        "A0005,伊藤 健一,ito@example.jp,高津区,区民サービス部,区民\u2028課,staff",
    ]
    path = tmp_path / "roster.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    with pytest.raises(RosterError) as caught:
        read_roster(path)
    problems = caught.value.errors
    assert [p.split("行目")[0] for p in problems] == ["3", "5", "7", "8"]
    assert "氏名に改行やタブなどの制御文字（U+000D、U+000A）" in problems[0]
    assert "区に改行" in problems[1] and "部に改行" in problems[2] and "課に改行" in problems[3]
    assert db.session.scalar(sa.select(sa.func.count(Person.id))) == 0


def test_an_xlsx_roster_refuses_a_name_on_two_lines_with_its_row(app_ctx, tmp_path):
    """An Excel cell with Alt+Enter in it: refused with its row number."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["職員番号", "氏名", "メールアドレス", "区", "部", "課", "役割"])
    sheet.append(["10001", "山田 太郎", "yamada@example.jp", "高津区", "区民サービス部", "区民課",
                  "所属長"])
    sheet.append(["10002", "佐藤\n花子", None, "高津区", "区民サービス部", "区民課", "職員"])
    path = tmp_path / "roster.xlsx"
    workbook.save(path)
    workbook.close()
    with pytest.raises(RosterError) as caught:
        read_roster(path)
    assert caught.value.errors == [
        "3行目: 氏名に改行やタブなどの制御文字（U+000A）は使えません。1行で書いてください。"
    ]


def test_the_roster_upload_page_shows_the_line(app, client, sign_in, tmp_path):
    """The admin's upload: the preview is refused with the line and the problem, in a page."""
    with app.app_context():
        person = factories.person()
        person.grants.append(Grant(role=GrantRole.ADMIN))
        factories.ward("高津区")
        db.session.commit()
        sign_in(person)
    csv = (HEADER + '\r\nA0001,"山田\r\n太郎",yamada@example.jp,高津区,区民サービス部,区民課,chief'
           "\r\n").encode("utf-8")
    response = client.post(
        "/admin/roster",
        data={"fiscal_year": "2026", "roster": (io.BytesIO(csv), "roster.csv")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code in (200, 400)
    assert "2行目: 氏名に改行やタブなどの制御文字" in page
