"""The roster in the browser: upload, a preview that writes nothing, confirm; a changed file
or database is refused at confirm; another ward's roster is refused
(app/services/organisation/roster_upload.py)."""

from __future__ import annotations

import io
import os
import re
import stat
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Assignment, AuditEvent, Grant, GrantRole, Person, Role
from app.services.organisation import roster_upload
from tests import factories

YEAR = 2027
HEADER = "職員番号,氏名,メールアドレス,区,部,課,役割"
GOOD = [
    HEADER,
    "100001,川崎 花子,h@example.jp,高津区,区民サービス部,区民課,所属長",
    "100002,高津 太郎,t@example.jp,高津区,区民サービス部,区民課,職員",
    "100003,新人 一郎,n@example.jp,高津区,まちづくり推進部,総務課,職員",
]


def csv_bytes(lines: list[str], encoding: str = "utf-8-sig") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


@pytest.fixture
def world(app, sign_in, tmp_path):
    """高津区 with last year's roster (花子 chief of 区民課, 太郎 staff of 総務課, 次郎 staff
    who leaves), 幸区, and a signed-in admin of 高津区."""
    app.config["ROSTER_UPLOAD_DIR"] = str(tmp_path / "uploads")
    with app.app_context():
        kumin = factories.section("区民課", ward_name="高津区", department="区民サービス部")
        somu = factories.section("総務課", ward_name="高津区", department="まちづくり推進部")
        factories.section("幸総務課", ward_name="幸区")
        factories.person(section=kumin, role=Role.CHIEF, fiscal_year=YEAR - 1,
                         employee_id="100001", name="川崎 花子")
        factories.person(section=somu, fiscal_year=YEAR - 1, employee_id="100002",
                         name="高津 太郎")
        factories.person(section=somu, fiscal_year=YEAR - 1, employee_id="100004",
                         name="退職 次郎")
        admin = factories.person(employee_id="A1")
        admin.grants.append(Grant(role=GrantRole.ADMIN, ward_id=kumin.ward_id))
        db.session.commit()
        sign_in(admin)
        return {"takatsu": kumin.ward_id}


def upload(client, data: bytes, name: str = "roster.csv", year: int = YEAR):
    return client.post("/admin/roster", data={
        "fiscal_year": str(year), "roster": (io.BytesIO(data), name)},
        content_type="multipart/form-data")


def confirm_fields(page: str, *, acknowledge: bool = True) -> dict[str, str]:
    """The confirmation's fields as the preview wrote them; 「確認しました」 ticked when the
    preview warned (``acknowledge``)."""
    fields = dict(re.findall(
        r'name="(sha256|suffix|fiscal_year|summary_digest)"[^>]*value="([^"]*)"', page))
    if acknowledge and 'name="acknowledged"' in page:
        fields["acknowledged"] = "y"
    return fields


def counts(app):
    with app.app_context():
        return (db.session.scalar(sa.select(sa.func.count(Person.id))),
                db.session.scalar(sa.select(sa.func.count(Assignment.id))),
                db.session.scalar(sa.select(sa.func.count(AuditEvent.id))))


def test_the_preview_lists_the_changes_and_writes_nothing(app, client, world):
    """New people, transfers (from → to), leavers and sections are shown; nothing is written."""
    before = counts(app)
    response = upload(client, csv_bytes(GOOD))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "新人 一郎" in page
    assert "高津区・総務課（職員）" in page and "高津区・区民課（職員）" in page  # 太郎's move
    assert "退職 次郎" in page
    assert "まだ何も書き込んでいません" in page
    assert counts(app) == before


def test_bad_rows_are_listed_with_their_line_numbers(app, client, world):
    """Every bad line is named by its number; nothing is written."""
    before = counts(app)
    bad = GOOD[:2] + ["100002,,t@example.jp,高津区,区民サービス部,区民課,部長"] + GOOD[3:]
    response = upload(client, csv_bytes(bad))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "3行目" in page
    assert counts(app) == before


def test_confirm_imports_the_previewed_file_and_logs_it(app, client, world):
    """Confirm writes the year's roster (Shift_JIS here) and one roster.import audit row."""
    page = upload(client, csv_bytes(GOOD, "cp932")).get_data(as_text=True)
    response = client.post("/admin/roster/confirm", data=confirm_fields(page))
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Assignment.id)).where(
            Assignment.fiscal_year == YEAR)) == 3
        (event,) = db.session.scalars(sa.select(AuditEvent)).all()
        assert (event.action, event.target_id, event.ward_id) == (
            "roster.import", str(YEAR), world["takatsu"])


def test_a_file_changed_after_the_preview_is_refused(app, client, world):
    """The stored file no longer has the previewed SHA-256: 409, nothing written."""
    page = upload(client, csv_bytes(GOOD)).get_data(as_text=True)
    fields = confirm_fields(page)
    with app.test_request_context():
        stored = roster_upload.upload_dir() / f"{fields['sha256']}{fields['suffix']}"
    stored.write_bytes(csv_bytes(GOOD[:2]))
    before = counts(app)
    response = client.post("/admin/roster/confirm", data=fields)
    assert response.status_code == 409
    assert "ファイルが変わりました" in response.get_data(as_text=True)
    assert counts(app) == before


def test_a_database_changed_after_the_preview_is_refused(app, client, world):
    """Another import in between changes what this one would do: 409, nothing written."""
    page = upload(client, csv_bytes(GOOD)).get_data(as_text=True)
    other = upload(client, csv_bytes(GOOD[:3])).get_data(as_text=True)
    assert client.post("/admin/roster/confirm", data=confirm_fields(other)).status_code == 302
    before = counts(app)
    response = client.post("/admin/roster/confirm", data=confirm_fields(page))
    assert response.status_code == 409
    assert counts(app) == before


def test_another_wards_roster_is_refused(app, client, world):
    """高津区's admin cannot preview or import a roster naming 幸区 (403, nothing written)."""
    before = counts(app)
    response = upload(client, csv_bytes(GOOD + ["200001,幸 三郎,s@example.jp,幸区,,幸総務課,職員"]))
    assert response.status_code == 403
    assert "幸区" in response.get_data(as_text=True)
    assert counts(app) == before


def test_a_forged_confirmation_is_refused(app, client, world):
    """A digest that names no stored file, or a path, is a clear 400/409, never a 500."""
    response = client.post("/admin/roster/confirm", data={
        "sha256": "../../etc/passwd", "suffix": ".csv", "fiscal_year": str(YEAR),
        "summary_digest": "x"})
    assert response.status_code == 400
    response = client.post("/admin/roster/confirm", data={
        "sha256": "0" * 64, "suffix": ".csv", "fiscal_year": str(YEAR), "summary_digest": "x"})
    assert response.status_code == 409


def test_a_file_of_another_type_is_refused(app, client, world):
    """A .txt file is refused in plain words."""
    response = upload(client, b"hello", name="roster.txt")
    assert response.status_code == 400
    assert ".csv または .xlsx" in response.get_data(as_text=True)


# --- The uploaded file: private while it waits, and never kept ------------------------------


def stored_files(app) -> list[Path]:
    with app.test_request_context():
        return sorted(roster_upload.upload_dir().iterdir())


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def age(path: Path, hours: float) -> None:
    """Make a stored upload look ``hours`` old."""
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def test_the_stored_upload_is_0600_in_a_0700_folder_and_removed_once_imported(
    app, client, world, tmp_path
):
    """The waiting file is readable by the app's user alone (an existing folder made 0755 by
    hand is made 0700), and the confirmation removes it."""
    folder = tmp_path / "uploads"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    page = upload(client, csv_bytes(GOOD)).get_data(as_text=True)
    fields = confirm_fields(page)
    [stored] = stored_files(app)
    assert stored.name == f"{fields['sha256']}{fields['suffix']}"
    assert mode(stored) == 0o600
    assert mode(folder) == 0o700
    assert client.post("/admin/roster/confirm", data=fields).status_code == 302
    assert stored_files(app) == []


def test_cancel_removes_the_file_and_writes_nothing(app, client, world):
    """The preview's 取り消す button removes the stored file; nothing is imported, and the
    same fields can no longer be confirmed."""
    before = counts(app)
    page = upload(client, csv_bytes(GOOD)).get_data(as_text=True)
    assert 'formaction="/admin/roster/cancel"' in page and "取込みを取り消す" in page
    fields = confirm_fields(page)
    assert len(stored_files(app)) == 1
    response = client.post("/admin/roster/cancel", data=fields, follow_redirects=True)
    assert response.status_code == 200
    assert "取込みを取り消しました" in response.get_data(as_text=True)
    assert stored_files(app) == []
    assert counts(app) == before
    assert client.post("/admin/roster/confirm", data=fields).status_code == 409
    assert counts(app) == before
    # A forged name is refused and removes nothing outside the folder.
    forged = dict(fields, sha256="../" * 3 + "etc/passwd")
    assert client.post("/admin/roster/cancel", data=forged).status_code == 400


def test_a_refused_preview_or_confirmation_removes_its_file_at_once(app, client, world):
    """A preview with bad lines, one naming another ward, and a confirmation refused because
    the file changed leave no file behind."""
    bad = GOOD[:2] + ["100002,,t@example.jp,高津区,区民サービス部,区民課,部長"] + GOOD[3:]
    assert upload(client, csv_bytes(bad)).status_code == 400
    assert stored_files(app) == []
    other_ward = GOOD + ["200001,幸 三郎,s@example.jp,幸区,,幸総務課,職員"]
    assert upload(client, csv_bytes(other_ward)).status_code == 403
    assert stored_files(app) == []
    fields = confirm_fields(upload(client, csv_bytes(GOOD)).get_data(as_text=True))
    [stored] = stored_files(app)
    stored.write_bytes(csv_bytes(GOOD[:2]))
    assert client.post("/admin/roster/confirm", data=fields).status_code == 409
    assert stored_files(app) == []


def test_uploads_older_than_a_day_are_swept_by_the_next_upload_and_the_scheduler_tick(
    app, client, world
):
    """A preview left open for more than 24 hours is removed when anyone uploads again, or
    by the scheduler's next tick; a younger one stays until then."""
    from app.models import utcnow
    from app.scheduler import tick

    upload(client, csv_bytes(GOOD))
    [first] = stored_files(app)
    age(first, 25)
    upload(client, csv_bytes(GOOD[:3]))
    [second] = stored_files(app)
    assert second != first and not first.exists()

    age(second, 23)
    with app.app_context():
        tick(utcnow())
    assert stored_files(app) == [second]
    age(second, 24.1)
    with app.app_context():
        tick(utcnow())
    assert stored_files(app) == []
