"""The roster preview's warnings (not errors), each with its lines: a section without 所属長,
people without a mail address, a ward a third smaller than last year; the confirmation needs
「確認しました」 when there are any (app/services/organisation/roster_warnings.py)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Assignment, Grant, GrantRole, Person, Role
from app.services.organisation.roster_file import RosterRow
from app.services.organisation.roster_warnings import roster_warnings
from tests import factories
from tests.organisation.test_roster_upload import HEADER, confirm_fields, csv_bytes, upload

YEAR = 2027
CLEAN = [
    HEADER,
    "100001,川崎 花子,h@example.jp,高津区,区民サービス部,区民課,所属長",
    "100002,高津 太郎,t@example.jp,高津区,区民サービス部,区民課,職員",
    "100003,新人 一郎,n@example.jp,高津区,まちづくり推進部,総務課,所属長",
]
WARNED = [
    HEADER,
    "100001,川崎 花子,h@example.jp,高津区,区民サービス部,区民課,所属長",
    "100002,高津 太郎,,高津区,区民サービス部,区民課,職員",
    "100003,新人 一郎,n@example.jp,高津区,まちづくり推進部,総務課,職員",
    "100004,新人 二郎,n2@example.jp,高津区,まちづくり推進部,総務課,職員",
]


@pytest.fixture
def world(app, sign_in, tmp_path):
    """高津区 with 5 people on last year's roster, and a signed-in admin of 高津区."""
    app.config["ROSTER_UPLOAD_DIR"] = str(tmp_path / "uploads")
    with app.app_context():
        kumin = factories.section("区民課", ward_name="高津区", department="区民サービス部")
        factories.person(section=kumin, role=Role.CHIEF, fiscal_year=YEAR - 1,
                         employee_id="100001")
        for n in range(4):
            factories.person(section=kumin, fiscal_year=YEAR - 1, employee_id=f"9{n:05d}")
        admin = factories.person(employee_id="A1")
        admin.grants.append(Grant(role=GrantRole.ADMIN, ward_id=kumin.ward_id))
        db.session.commit()
        sign_in(admin)
        return tmp_path / "uploads"


def _this_year(app) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(Assignment).where(
            Assignment.fiscal_year == YEAR)) or 0)


def _warnings(page: str) -> dict[str, str]:
    return dict(re.findall(r'<li data-warning="(\w+)">(.*?)</li>', page, re.S))


def test_the_preview_warns_with_the_lines_and_writes_nothing(app, client, world):
    """A section with no chief (its lines 4, 5), a person without an address (line 3) and a
    ward that shrinks from 5 people to 2: each a warning with its lines; nothing is written."""
    three = WARNED[:3] + ["100003,新人 一郎,n@example.jp,高津区,まちづくり推進部,総務課,職員"]
    page = upload(client, csv_bytes(three)).get_data(as_text=True)
    found = _warnings(page)
    assert set(found) == {"no_chief", "no_email", "headcount"}
    assert "総務課 に所属長がいません" in found["no_chief"] and "4 行目" in found["no_chief"]
    assert "1 人います" in found["no_email"] and "3 行目" in found["no_email"]
    assert "5 人から 3 人" in found["headcount"]
    assert 'name="acknowledged"' in page and "確認しました" in page
    assert _this_year(app) == 0


def test_confirm_refuses_without_the_tick_and_imports_with_it(app, client, world):
    """With warnings, the confirmation without 「確認しました」 imports nothing and shows the
    preview again asking for the tick (the file kept); with the tick it imports."""
    page = upload(client, csv_bytes(WARNED)).get_data(as_text=True)
    refused = client.post("/admin/roster/confirm", data=confirm_fields(page, acknowledge=False))
    assert refused.status_code == 400
    again = refused.get_data(as_text=True)
    assert "「確認しました」にチェックを入れてから" in again and "data-warning" in again
    assert _this_year(app) == 0
    assert len(list(world.iterdir())) == 1  # kept for the confirmation with the tick
    done = client.post("/admin/roster/confirm", data=confirm_fields(again))
    assert done.status_code == 302
    assert _this_year(app) == 4
    assert list(world.iterdir()) == []


def test_a_roster_without_warnings_needs_no_tick(app, client, world):
    """No warning: no check box, and the confirmation imports as before."""
    page = upload(client, csv_bytes(CLEAN + [
        "100005,職員 五郎,g@example.jp,高津区,区民サービス部,区民課,職員"])).get_data(
        as_text=True)
    assert "data-warning" not in page and 'name="acknowledged"' not in page
    assert client.post("/admin/roster/confirm",
                       data=confirm_fields(page, acknowledge=False)).status_code == 302
    assert _this_year(app) == 4


def test_a_warning_that_appears_after_the_preview_is_never_imported_unseen(app, client, world):
    """Attack: preview a file without warnings, then last year's roster grows so the ward now
    shrinks by more than a third: the confirmation (no tick) is refused, nothing written."""
    lines = CLEAN + ["100005,職員 五郎,g@example.jp,高津区,区民サービス部,区民課,職員"]
    page = upload(client, csv_bytes(lines)).get_data(as_text=True)
    assert "data-warning" not in page
    with app.app_context():
        kumin = db.session.scalars(sa.select(Assignment.section_id)).first()
        for n in range(6):
            person = Person(employee_id=f"8{n:05d}", name=f"前年 {n}", email=None)
            db.session.add(person)
            db.session.flush()
            db.session.add(Assignment(person_id=person.id, fiscal_year=YEAR - 1,
                                      section_id=kumin, role=Role.STAFF))
        db.session.commit()
    refused = client.post("/admin/roster/confirm", data=confirm_fields(page, acknowledge=False))
    assert refused.status_code == 409
    assert _this_year(app) == 0


def _row(line: int, section: str, role: Role, email: str | None = "x@example.jp",
         ward: str = "高津区") -> RosterRow:
    return RosterRow(line, f"E{line}", f"名前{line}", email, ward, None, section, role, ())


def test_two_thirds_of_last_years_headcount_is_not_a_drop(app_ctx):
    """The headcount warning starts below two thirds of last year's (3 → 2 is fine, 3 → 1 is
    not); a ward new this year, or with no roster last year, is never warned about."""
    section = factories.section("区民課")
    for _ in range(3):
        factories.person(section=section, fiscal_year=YEAR - 1)
    two = [_row(2, "区民課", Role.CHIEF), _row(3, "区民課", Role.STAFF)]
    assert roster_warnings(two, YEAR) == []
    (drop,) = roster_warnings(two[:1], YEAR)
    assert drop.kind == "headcount" and drop.lines == ()
    assert roster_warnings([_row(2, "新課", Role.CHIEF, ward="麻生区")], YEAR) == []


def test_each_chiefless_section_is_its_own_warning_with_its_lines(app_ctx):
    """Two sections without a chief are two warnings, each naming its own lines (and its ward
    when the file holds several); a section with its chief is not named."""
    rows = [
        _row(2, "区民課", Role.STAFF), _row(3, "総務課", Role.CHIEF),
        _row(4, "区民課", Role.STAFF), _row(5, "総務課", Role.STAFF, ward="幸区"),
    ]
    found = [(w.kind, w.lines) for w in roster_warnings(rows, YEAR)]
    assert found == [("no_chief", (2, 4)), ("no_chief", (5,))]
    assert "幸区 総務課" in roster_warnings(rows, YEAR)[1].message


def test_the_command_prints_the_warnings_and_imports(app, runner, world, tmp_path):
    """`flask roster import` imports a warned file and prints each warning with its lines."""
    path = tmp_path / "roster.csv"
    path.write_bytes(csv_bytes(WARNED))
    result = runner.invoke(args=["roster", "import", str(path), "--fiscal-year", str(YEAR)])
    assert result.exit_code == 0, result.output
    assert "注意: 総務課 に所属長がいません" in result.stderr and "4、5 行目" in result.stderr
    assert "注意: メールアドレスのない人が 1 人います" in result.stderr
    assert _this_year(app) == 4
