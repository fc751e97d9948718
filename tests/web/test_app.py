"""The factory, configuration order, the embedded database settings and the public pages."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app import create_app
from app.auth.sessions import session_values
from app.extensions import db
from app.models import Round
from app.wareki import fiscal_year_label, fiscal_year_of, reiwa_date
from tests import factories


def test_config_order_env_beats_instance_file_and_test_mapping_beats_env(tmp_path, monkeypatch):
    """Defaults < instance/config.py < FLASK_* variables < the test mapping."""
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        "SECRET_KEY = 'from-file'\nTIMEZONE = 'from-file'\nBABEL_DEFAULT_LOCALE = 'from-file'\n"
    )
    monkeypatch.setenv("FLASK_TIMEZONE", "from-env")
    monkeypatch.setenv("FLASK_BABEL_DEFAULT_LOCALE", "from-env")
    import app as app_package

    monkeypatch.setattr(
        app_package, "Flask", _flask_with_instance_path(str(instance)), raising=True
    )
    app = create_app({"BABEL_DEFAULT_LOCALE": "from-test", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SECRET_KEY"] == "from-file"
    assert app.config["TIMEZONE"] == "from-env"
    assert app.config["BABEL_DEFAULT_LOCALE"] == "from-test"


def _flask_with_instance_path(path):
    from flask import Flask

    class InstanceFlask(Flask):
        def __init__(self, *args, **kwargs):
            kwargs["instance_path"] = path
            super().__init__(*args, **kwargs)

    return InstanceFlask


def test_database_url_selects_postgresql_with_psycopg(monkeypatch):
    """DATABASE_URL=postgres://... becomes the psycopg 3 driver URL."""
    monkeypatch.setenv("DATABASE_URL", "postgres://kijun:pw@db.example:5432/kijun")
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg://kijun:pw@db.example:5432/kijun"
    )


def test_default_database_is_sqlite_under_instance(monkeypatch):
    """Without DATABASE_URL the app uses instance/kijun.sqlite3."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("FLASK_SQLALCHEMY_DATABASE_URI", raising=False)
    app = create_app({"TESTING": True})
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    assert uri.startswith("sqlite:///") and uri.endswith("instance/kijun.sqlite3")


def test_create_app_creates_no_tables(tmp_path):
    """The factory never creates or migrates tables."""
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    )
    with app.app_context():
        with db.engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
        db.engine.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(app_ctx):
    """The embedded database has WAL, foreign keys and a busy timeout switched on."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 5000


def test_foreign_keys_are_enforced(app_ctx):
    """A round pointing at a missing catalogue is refused by the database."""
    now = datetime.now(UTC)
    db.session.add(
        Round(
            title="x",
            catalogue_id=999,
            fiscal_year=2025,
            opens_at=now,
            closes_at=now + timedelta(days=1),
        )
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_datetimes_come_back_aware_in_utc(app_ctx):
    """A round's times keep their instant, whatever zone they were given in."""
    jst = timezone(timedelta(hours=9))
    catalogue = factories.catalogue()
    opens = datetime(2025, 11, 4, 9, 0, tzinfo=jst)
    round_ = Round(
        title="x",
        catalogue=catalogue,
        fiscal_year=2025,
        opens_at=opens,
        closes_at=opens + timedelta(days=20),
    )
    db.session.add(round_)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get_one(Round, round_.id)
    assert stored.opens_at == opens
    assert stored.opens_at.tzinfo is not None
    assert stored.is_open(opens) and not stored.is_open(opens - timedelta(seconds=1))
    assert not stored.is_open(opens + timedelta(days=20))


def test_naive_datetimes_are_refused(app_ctx):
    """Storing a time without a zone is an error, not a silent guess."""
    catalogue = factories.catalogue()
    db.session.add(
        Round(
            title="x",
            catalogue=catalogue,
            fiscal_year=2025,
            opens_at=datetime(2025, 11, 4, 9),
            closes_at=datetime(2025, 11, 30, 9),
        )
    )
    with pytest.raises(sa.exc.StatementError):
        db.session.flush()
    db.session.rollback()


def test_one_chief_per_section_and_year_is_enforced_by_the_database(app_ctx):
    """A second chief for the same section and year is refused by the unique index."""
    from app.models import Role

    section = factories.section("総務課")
    factories.person(section=section, role=Role.CHIEF)
    with pytest.raises(sa.exc.IntegrityError):
        factories.person(section=section, role=Role.CHIEF)
    db.session.rollback()


def test_reiwa_labels():
    """Fiscal years and dates are written in the 令和 era as the city writes them."""
    assert fiscal_year_label(2025) == "令和7年度"
    assert fiscal_year_label(2019) == "令和元年度"
    assert reiwa_date(date(2026, 3, 31)) == "令和8年3月31日"
    assert fiscal_year_of(date(2026, 3, 31)) == 2025
    assert fiscal_year_of(date(2026, 4, 1)) == 2026


def test_an_instant_is_dated_on_the_citys_clock():
    """20:00 UTC on 31 March is already 1 April in Tokyo, and is dated so."""
    from datetime import UTC, datetime

    assert reiwa_date(datetime(2026, 3, 31, 20, 0, tzinfo=UTC)) == "令和8年4月1日"


def test_home_lists_catalogues_and_catalogue_page_shows_standards(app, client):
    """The public pages list the loaded catalogues and a catalogue's standards in Japanese."""
    with app.app_context():
        factories.catalogue("test-2025", standards=2)
        db.session.commit()
    home = client.get("/")
    assert home.status_code == 200
    page = home.get_data(as_text=True)
    assert '<html lang="ja">' in page
    assert "令和7年度" in page and "/catalogues/test-2025" in page
    detail = client.get("/catalogues/test-2025").get_data(as_text=True)
    assert "基準1の文" in detail and "基準2の文" in detail
    assert client.get("/catalogues/nope").status_code == 404


def test_home_explains_how_to_load_catalogues_when_there_are_none(client):
    """An empty install tells the administrator which command loads the catalogues."""
    page = client.get("/").get_data(as_text=True)
    assert "catalogue load" in page


def test_a_server_error_gets_a_page_that_needs_no_database(tmp_path):
    """With the database unreachable, a page answers 503 (retried once, then unavailable) with
    a plain page in the person's language (skip link, main, a way back, nothing saved) that is
    built without the database."""
    app = create_app(
        {
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'no-such-folder' / 'x.sqlite3'}",
        }
    )
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert '<html lang="ja">' in text
    assert "<h1>うまく表示できませんでした</h1>" in text
    assert "いまの操作は保存されていません" in text
    assert 'class="skip-link" href="#main"' in text and '<main id="main"' in text
    client.set_cookie("lang", "en")
    english = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in english and "<h1>Something went wrong</h1>" in english


@pytest.mark.parametrize("how", ["session", "header"])
def test_a_signed_in_person_gets_the_server_error_page_when_the_database_is_down(tmp_path, how):
    """Signed in (by the session or by the intranet's header) when the database is unreachable:
    the same plain page with 503, not the server's bare error (loading the person for the
    page's menu would fail a second time)."""
    app = create_app(
        {
            "SECRET_KEY": "test-secret",
            "AUTH_TRUSTED_HEADER": "X-Remote-User",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'no-such-folder' / 'x.sqlite3'}",
        }
    )
    client = app.test_client()
    headers = {}
    if how == "session":
        with client.session_transaction() as session:
            session.update(session_values(1, 0))
    else:
        headers["X-Remote-User"] = "0000001"
    response = client.get("/me", headers=headers)
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert "<h1>うまく表示できませんでした</h1>" in text and '<html lang="ja">' in text
