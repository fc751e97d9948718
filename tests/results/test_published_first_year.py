"""A ward's first year in Kijun: last year's catalogue was never loaded, so the admin uploads it
(YAML, checked as `flask catalogue load` checks it) and then imports last year's published table,
all in the browser; and where Kijun has a round of that year, the preview and the results page
say which figures are shown, and why (app/services/catalogue/uploads.py,
app/services/results/published.py)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g

from app.extensions import db
from app.models import AuditEvent, Catalogue, Grant, GrantRole, PublishedTable, Role, Ward
from app.services.catalogue.catalogues import load_catalogues
from app.services.catalogue.uploads import CatalogueUploadError, load_uploaded_catalogue
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
SURVEYS = ROOT / "surveys"
SEED_CSV = ROOT / "tests" / "data" / "takatsu-published-r6-r7.csv"
OPENS = datetime(2025, 11, 4, tzinfo=UTC)


@pytest.fixture
def first_year(app_ctx, sign_in):
    """高津区's closed FY2025 round on takatsu-2025 (the only catalogue loaded: FY2024's never
    was), 5 staff and 5 chiefs answering; a signed-in admin of 高津区."""
    load_catalogues(SURVEYS / "takatsu-2025.yaml")
    catalogue = db.session.scalars(sa.select(Catalogue)).one()
    ward = db.session.scalars(sa.select(Ward).where(Ward.name == "高津区")).one()
    round_ = factories.round_(
        catalogue, wards=[ward], opens_at=OPENS, closes_at=OPENS + timedelta(days=20)
    )
    everyone = {s.key: "yes" for s in catalogue.standards if s.audience.value == "everyone"}
    section_level = {s.key: "yes" for s in catalogue.standards if s.audience.value == "section"}
    for index in range(5):
        section = factories.section(f"課{index}")
        factories.response(round_, factories.person(section=section), everyone, section=section)
        chief = factories.person(section=section, role=Role.CHIEF)
        factories.response(round_, chief, {**everyone, **section_level}, section=section,
                           role=Role.CHIEF)
    admin = factories.person(name="高津 管理")
    admin.grants.append(Grant(role=GrantRole.ADMIN, ward_id=ward.id))
    db.session.commit()
    sign_in(admin)
    return {"round": round_.id, "ward": ward.id, "admin": admin.id}


def _upload_catalogue(client, data: bytes, name: str = "takatsu-2024.yaml"):
    return client.post("/admin/published/catalogue",
                       data={"catalogue": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def _preview(client, ward_id: int, year: int = 2024):
    return client.post(
        "/admin/published/preview",
        data={"ward": ward_id, "fiscal_year": str(year),
              "table": (io.BytesIO(SEED_CSV.read_bytes()), "r6.csv")},
        content_type="multipart/form-data",
    )


def _import(client, ward_id: int, html: str):
    payload = html.split('name="payload" type="hidden" value="')[1].split('"')[0]
    return client.post("/admin/published/import", data={
        "ward": ward_id, "fiscal_year": "2024", "filename": "r6.csv", "payload": payload})


def test_last_years_table_imports_in_the_browser_when_its_catalogue_was_never_loaded(
    client, first_year
):
    """Without FY2024's catalogue the preview says to load it first; the admin uploads
    surveys/takatsu-2024.yaml (its `extends: city-2024` found as `catalogue load` would), the
    audit log names the admin, and the table then imports and fills the round's 前年度."""
    refused = _preview(client, first_year["ward"])
    assert refused.status_code == 400
    assert "その年度のカタログを読み込む" in refused.get_data(as_text=True)

    loaded = _upload_catalogue(client, (SURVEYS / "takatsu-2024.yaml").read_bytes())
    assert loaded.status_code == 302
    page = client.get("/admin/published").get_data(as_text=True)
    assert "takatsu-2024" in page and "基準 31 件" in page
    keys = set(db.session.scalars(sa.select(Catalogue.key)))
    assert keys == {"takatsu-2025", "takatsu-2024"}  # the city's file only resolved, not loaded
    (event,) = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "catalogue.create")).all()
    assert (event.actor_id, event.target_id) == (first_year["admin"], "takatsu-2024")

    preview = _preview(client, first_year["ward"])
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert "令和6年度 区役所サービス基準（高津区）" in html
    assert 'id="kijun-round-notice"' not in html
    assert _import(client, first_year["ward"], html).status_code == 302
    round_page = client.get(f"/results/rounds/{first_year['round']}").get_data(as_text=True)
    assert 'id="imported-note"' in round_page and "99.3" in round_page


def test_an_uploaded_catalogue_is_checked_as_catalogue_load_checks_it(client, first_year):
    """Every problem the command would report is listed, naming the uploaded file (not a
    temporary path), and nothing is written."""
    text = (SURVEYS / "takatsu-2024.yaml").read_text(encoding="utf-8")
    broken = text.replace("scene: 共通", "scene: 宇宙", 1).replace("number: 31", "number: 32", 1)
    assert broken != text
    refused = _upload_catalogue(client, broken.encode(), "mine.yaml")
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "カタログを読み込めませんでした" in html
    assert "mine.yaml" in html and "/tmp" not in html and "kijun-catalogue-upload" not in html
    assert "宇宙" in html and "32" in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Catalogue)) == 1


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"", "empty.yaml", "ファイルが空です"),
    (b"key: x\n", "table.csv", ".yaml のファイルを選んでください"),
    (b"!!python/object/apply:os.system ['touch /tmp/kijun-pwned']\n", "evil.yaml", ""),
    (b"a: &a [1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b]\n",
     "laughs.yaml", ""),
])
def test_attacks_and_bad_files_are_refused_writing_nothing(client, first_year, data, name,
                                                           message):
    """An empty file, another file type, a Python object tag and nested aliases are refused
    with a message (never a 500), and nothing is written or run."""
    response = _upload_catalogue(client, data, name)
    assert response.status_code in (400, 413)
    assert message in response.get_data(as_text=True)
    assert not Path("/tmp/kijun-pwned").exists()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Catalogue)) == 1


def test_an_oversize_catalogue_is_refused_before_it_is_read(first_year):
    """A file over 1 MB is refused unread (the service: the test client would spool the
    upload to a file of its own)."""
    with pytest.raises(CatalogueUploadError) as refused:
        load_uploaded_catalogue(b"key: x\n" + b"#" * (1024 * 1024), "big.yaml", None)
    assert refused.value.errors == ["ファイルが大きすぎます（1 MB まで）。"]


def test_an_admin_of_one_ward_loads_only_that_wards_new_catalogues(
    client, first_year, sign_in
):
    """A ward admin may not load the city's catalogue, another ward's, or one whose key is
    already loaded; a city-wide admin may load the city's."""
    city = (SURVEYS / "city-2024.yaml").read_bytes()
    assert "全区共通のカタログは、全市の管理者" in _upload_catalogue(
        client, city, "city-2024.yaml").get_data(as_text=True)
    miyamae = (SURVEYS / "miyamae-2020.yaml").read_bytes()
    assert "担当していない区のカタログ" in _upload_catalogue(
        client, miyamae, "miyamae-2020.yaml").get_data(as_text=True)
    again = _upload_catalogue(client, (SURVEYS / "takatsu-2025.yaml").read_bytes())
    assert again.status_code == 400 and "もう読み込まれています" in again.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Catalogue)) == 1
    everywhere = factories.person(name="全市 管理")
    everywhere.grants.append(Grant(role=GrantRole.ADMIN))
    db.session.commit()
    g.pop("_login_user", None)  # app_ctx keeps ``g`` between requests (Flask-Login's cache)
    sign_in(everywhere)
    done = _upload_catalogue(client, city, "city-2024.yaml")
    assert done.status_code == 302, done.get_data(as_text=True)[-3000:]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Catalogue)) == 2


def test_a_kijun_round_of_the_same_year_is_shown_and_the_pages_say_why(client, first_year):
    """With a Kijun round of FY2024 for the ward, the import's preview says the table will not
    be shown (the round's counts win), and the FY2025 results page names the unused table."""
    assert _upload_catalogue(client, (SURVEYS / "takatsu-2024.yaml").read_bytes()).status_code \
        == 302
    old = db.session.scalars(sa.select(Catalogue).where(Catalogue.key == "takatsu-2024")).one()
    ward = db.session.get_one(Ward, first_year["ward"])
    factories.round_(old, wards=[ward], opens_at=OPENS - timedelta(days=365),
                     closes_at=OPENS - timedelta(days=345), title="令和6年度の自己点検")
    db.session.commit()
    preview = _preview(client, first_year["ward"])
    html = preview.get_data(as_text=True)
    assert 'id="kijun-round-notice"' in html
    assert "令和6年度の自己点検" in html and "この表の値は表示しません" in html
    assert _import(client, first_year["ward"], html).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PublishedTable)) == 1
    committee = factories.person(name="委員")
    committee.grants.append(Grant(role=GrantRole.COMMITTEE))
    db.session.commit()
    round_page = client.get(f"/results/rounds/{first_year['round']}").get_data(as_text=True)
    assert 'id="published-unused"' in round_page
    assert "高津区の令和6年度の公表値の表も取り込まれていますが" in round_page
    assert 'id="imported-note"' not in round_page
