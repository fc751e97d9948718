"""Take docs/checklist-360.png and docs/checklist-1280.png: the checklist as the demo's staff
member (900001, 区民課) sees it in Debian's chromium, a few answers chosen and saved; then the
receipt after submitting, the committee's comments and improvement actions and the admin's
published-table import, each at 360 px and 1280 px (docs/<page>-<width>.png).

Run from the repository root when the checklist's look changes (docs/accessibility.md):

    .venv/bin/python docs/screenshots.py [OUTPUT_DIR]

It builds the demo ward in a throwaway SQLite file, opens a round for this fiscal year, serves
the app on 127.0.0.1 (a free port) and drives /usr/bin/chromium with Playwright. Nothing is
downloaded; the test suite never writes into docs/.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Catalogue, Round, Ward  # noqa: E402
from app.services.operations.demo import DEMO_PASSWORD, DEMO_WARD, build_demo  # noqa: E402
from app.wareki import fiscal_year_label, fiscal_year_of, tokyo  # noqa: E402

STAFF = "900001"
# (width, height of the picture): the phone shows about two screens, the desktop one.
SIZES = ((360, 1480), (1280, 900))


def _open_round(app) -> int:  # type: ignore[no-untyped-def]
    """The demo ward and a round open now, titled like the demo's past rounds."""
    with app.app_context():
        db.create_all()
        build_demo(Path(app.config["SURVEYS_DIR"]))
        ward = db.session.scalars(sa.select(Ward).where(Ward.name == DEMO_WARD)).one()
        catalogue = db.session.scalars(
            sa.select(Catalogue).where(Catalogue.key == "takatsu-2025")
        ).one()
        now = datetime.now(UTC)
        fiscal_year = fiscal_year_of(tokyo(now))
        round_ = Round(
            title=f"{fiscal_year_label(fiscal_year)} 区役所サービス基準 自己点検",
            catalogue=catalogue,
            fiscal_year=fiscal_year,
            opens_at=now - timedelta(days=3),
            closes_at=now + timedelta(days=18),
            wards=[ward],
        )
        db.session.add(round_)
        db.session.commit()
        return round_.id


def _shoot(page, out: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    """The page as it is now at 360 px and 1280 px: docs/<name>-360.png, -1280.png."""
    url = page.url
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": min(height, 900)})
        page.goto(url)
        page.screenshot(
            path=str(out / f"{name}-{width}.png"),
            full_page=True,
            clip={"x": 0, "y": 0, "width": width, "height": height},
        )
        print(out / f"{name}-{width}.png")


def _sign_in(browser, base: str, account: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=base, locale="ja-JP", timezone_id="Asia/Tokyo",
        viewport={"width": 1280, "height": 900},
    )
    page = context.new_page()
    page.goto("/auth/login")
    page.fill("input[name=employee_id]", account)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.get_by_role("button", name="サインイン").click()
    page.wait_for_url("**/me")
    return page


def _new_pages(browser, base: str, round_id: int, out: Path) -> None:  # type: ignore[no-untyped-def]
    """The receipt (staff, after submitting), the comments, the improvement actions and the
    breakdown (committee), the published table import (admin), the city page (city-wide
    committee member)."""
    page = _sign_in(browser, base, STAFF)
    page.goto(f"/rounds/{round_id}/checklist")
    radios = page.locator("input[type=radio][value=yes]")
    for index in range(radios.count()):
        radios.nth(index).check()
    page.locator("[name=submit_answers]").click()
    page.wait_for_selector("#submitted-at")
    _shoot(page, out, "receipt")
    page = _sign_in(browser, base, "900003")
    page.goto("/results/")
    closed = page.locator("a[href^='/results/rounds/']")
    hrefs = sorted({closed.nth(i).get_attribute("href") or "" for i in range(closed.count())})
    ids = sorted(int(h.rsplit("/", 1)[1]) for h in hrefs if h.rsplit("/", 1)[1].isdigit())
    oldest, latest = ids[0], ids[1]
    page.goto(f"/results/rounds/{latest}/comments")
    _shoot(page, out, "comments")
    page.goto(f"/results/rounds/{oldest}/actions")
    _shoot(page, out, "actions")
    page.goto(f"/results/rounds/{latest}/breakdown?level=department")
    _shoot(page, out, "breakdown")
    page = _sign_in(browser, base, "900004")
    page.goto("/admin/published")
    _shoot(page, out, "published")
    _city(browser, base, out)


def _city(browser, base: str, out: Path) -> None:  # type: ignore[no-untyped-def]
    """The city page (the city-wide committee member), its chart drawn, at both widths."""
    page = _sign_in(browser, base, "900005")
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": min(height, 900)})
        page.goto("/results/city")
        page.wait_for_selector("#chart-city[data-rendered=true]")
        page.screenshot(
            path=str(out / f"city-{width}.png"),
            full_page=True,
            clip={"x": 0, "y": 0, "width": width, "height": height},
        )
        print(out / f"city-{width}.png")


def main(out: Path) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="kijun-shots-"))
    try:
        app = create_app(
            {
                "SECRET_KEY": "screenshots",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'demo.sqlite3'}",
                "WTF_CSRF_ENABLED": False,
            }
        )
        round_id = _open_round(app)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            context = browser.new_context(
                base_url=base, locale="ja-JP", timezone_id="Asia/Tokyo",
                viewport={"width": 1280, "height": 900},
            )
            page = context.new_page()
            page.goto("/auth/login")
            page.fill("input[name=employee_id]", STAFF)
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.get_by_role("button", name="サインイン").click()
            page.wait_for_url("**/me")
            page.goto(f"/rounds/{round_id}/checklist")
            groups = page.locator("fieldset.radio-group")
            for index, choice in enumerate(("yes", "yes", "no", "yes", "na")):
                groups.nth(index).locator(f"input[value='{choice}']").check()
            page.get_by_role("button", name="一時保存").click()
            page.wait_for_selector(".flash")
            out.mkdir(parents=True, exist_ok=True)
            for width, height in SIZES:
                page.set_viewport_size({"width": width, "height": min(height, 900)})
                page.goto(f"/rounds/{round_id}/checklist")
                page.screenshot(
                    path=str(out / f"checklist-{width}.png"),
                    full_page=True,
                    clip={"x": 0, "y": 0, "width": width, "height": height},
                )
                print(out / f"checklist-{width}.png")
            _new_pages(browser, base, round_id, out)
            browser.close()
        server.shutdown()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs")
