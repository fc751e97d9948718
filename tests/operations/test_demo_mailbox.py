"""Trying Kijun: ``flask demo serve`` serves the app and runs the scheduler in one process,
and the demo's mail goes to files and the /demo/mail page, never to an SMTP server."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.extensions import db
from app.scheduler import tick
from tests import factories
from tests.operations.test_scheduler import SmtpServer, free_port

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC)


@pytest.fixture
def smtp(app):
    """An aiosmtpd the MAIL_* settings point at: the demo must never use it."""
    server = SmtpServer()
    app.config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=server.port, MAIL_FROM="kijun@city.test")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(app, tmp_path):
    """DEMO_MAILBOX on, its folder in the test's directory; an open round of two people."""
    folder = tmp_path / "demo-mail"
    app.config.update(DEMO_MAILBOX=True, DEMO_MAIL_DIR=str(folder))
    with app.app_context():
        section = factories.section("区民課")
        people = [factories.person(section=section, fiscal_year=2026) for _ in range(2)]
        factories.round_(
            factories.catalogue("demo-mail-2026", fiscal_year=2026),
            opens_at=NOW - timedelta(hours=1), closes_at=NOW + timedelta(days=10),
            fiscal_year=2026,
        )
        db.session.commit()
        return folder, [p.email for p in people]


def test_the_demos_mail_goes_to_files_never_to_smtp(app, smtp, mailbox):
    """With DEMO_MAILBOX on, a tick writes one private .eml per message and sends nothing to
    the SMTP server of the MAIL_* settings."""
    folder, addresses = mailbox
    with app.app_context():
        result = tick()
    assert result.sent == 2
    assert smtp.inbox.recipients() == []
    files = sorted(folder.iterdir())
    assert [f.name.startswith("kijun-mail-") and f.suffix == ".eml" for f in files] == [True] * 2
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    text = b"".join(f.read_bytes() for f in files).decode()
    assert all(address in text for address in addresses)


def test_the_demo_mailbox_page_lists_and_shows_the_mail(app, client, mailbox):
    """/demo/mail lists the messages newest first, filters by address, and shows each one's
    text with the link to the checklist."""
    folder, addresses = mailbox
    with app.app_context():
        tick()
    page = client.get("/demo/mail").get_data(as_text=True)
    assert "2 通" in page and all(address in page for address in addresses)
    only = client.get("/demo/mail", query_string={"to": addresses[0]}).get_data(as_text=True)
    assert "1 通" in only and addresses[1] not in only
    name = sorted(folder.iterdir())[0].name
    message = client.get(f"/demo/mail/{name}")
    assert message.status_code == 200
    # The mail's personal sign-in link leads to that person's checklist.
    link = re.search(r"https?://[^/\s]+(/r/[\w-]+)", message.get_data(as_text=True))
    assert link is not None
    followed = app.test_client().get(link.group(1))
    assert followed.status_code == 302 and "/rounds/" in followed.headers["Location"]
    assert "回答のお願い" in message.get_data(as_text=True) or "受付" in message.get_data(
        as_text=True)


def test_the_demo_mailbox_is_a_404_unless_it_is_on(app, client, mailbox):
    """Without DEMO_MAILBOX the list and every message are 404, files there or not."""
    with app.app_context():
        tick()
    folder, _addresses = mailbox
    name = sorted(folder.iterdir())[0].name
    app.config["DEMO_MAILBOX"] = False
    assert client.get("/demo/mail").status_code == 404
    assert client.get(f"/demo/mail/{name}").status_code == 404


def test_the_demo_mailbox_opens_no_other_file(app, client, mailbox, tmp_path):
    """Attacks: a path outside the folder, an encoded one, another name in the folder and a
    symbolic link named like a message are all 404; the secret is never shown."""
    folder, _addresses = mailbox
    with app.app_context():
        tick()
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET_KEY = 'x'", encoding="utf-8")
    (folder / "notes.eml").write_text("Subject: not a message\n\nx", encoding="utf-8")
    (folder / "kijun-mail-999999.eml").symlink_to(secret)
    for name in ("../secret.txt", "..%2Fsecret.txt", "%2e%2e%2fsecret.txt", "notes.eml",
                 "kijun-mail-999999.eml", "kijun-mail-1.eml%00", "kijun-mail-x.eml"):
        response = client.get(f"/demo/mail/{name}")
        assert response.status_code in (400, 404), name
        assert "SECRET_KEY" not in response.get_data(as_text=True)
    listing = client.get("/demo/mail").get_data(as_text=True)
    assert "not a message" not in listing and "SECRET_KEY" not in listing


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - 127.0.0.1
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_demo_serve_runs_the_app_and_the_scheduler_with_one_command(tmp_path):
    """`flask demo serve` (a real process on a fresh SQLite database) builds the demo, serves
    it, and its scheduler ticks: the open round's mail appears at /demo/mail and in
    DEMO_MAIL_DIR, /readyz/scheduler says ok; Ctrl-C stops both."""
    port = free_port()
    folder = tmp_path / "demo-mail"
    env = {
        **os.environ,
        "FLASK_SECRET_KEY": "test-secret",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "FLASK_DEMO_MAIL_DIR": str(folder),
        "FLASK_ROSTER_UPLOAD_DIR": str(tmp_path / "uploads"),
        # Its own anchor: the checkout's instance/ is not the test's (nor the other suite's).
        "FLASK_AUDIT_ANCHOR_PATH": str(tmp_path / "audit-anchor.json"),
    }
    env.pop("KIJUN_TEST_DATABASE_URL", None)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    process = subprocess.Popen(
        [*flask, "demo", "serve", "--port", str(port), "--interval", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        listed = ""
        for _ in range(600):  # the demo's build, then the first tick (a bound, not a timing)
            if process.poll() is not None:
                break
            try:
                status, listed = _get(f"http://127.0.0.1:{port}/demo/mail")
            except (urllib.error.URLError, ConnectionError):
                status = 0
            if status == 200 and "k900001@city.example.jp" in listed:
                break
            time.sleep(0.5)
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert "k900001@city.example.jp" in listed
        assert any(folder.glob("kijun-mail-*.eml"))
        status, body = _get(f"http://127.0.0.1:{port}/readyz/scheduler")
        assert status == 200 and '"scheduler":"ok"' in body.replace(" ", "")
    finally:
        process.send_signal(signal.SIGINT)
        stopped = True
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            stopped = False
            process.kill()
            output, _ = process.communicate()
    assert stopped, output
    assert "スケジューラーを始めました" in output
    assert "ERROR" not in output, output
