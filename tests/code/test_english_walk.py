"""Every page in English, walked: each GET route of ``app.url_map`` as each role (anonymous,
staff, chief, committee, admin, the city-wide committee member) on the demo's world, with the
``lang=en`` cookie. A page fails on Japanese UI text once the data is taken out (names, titles,
the standards' texts: ``data_strings``), on full-width punctuation in its English text, and on
an object shown by its key or number instead of its name (「Standard takatsu-2026」,
「Rounds 3」) (docs/language.md)."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, url_for
from flask.testing import FlaskClient

from app.auth.sessions import session_values
from app.extensions import db
from app.i18n import LANG_COOKIE, scene_label
from app.models import (
    SCENES,
    AuditEvent,
    Catalogue,
    ImprovementAction,
    Person,
    Round,
    Section,
    Ward,
    WorkingTeam,
)
from app.services.catalogue.drafts import create_next_year
from app.services.identity.auth import password_link_token
from app.services.operations import schedule, sending
from app.services.operations.demo import DEMO_WARD, build_demo
from app.services.operations.demo_goals import DEMO_GOALS_YEAR
from app.services.organisation import roster_export
from app.wareki import fiscal_year_of, tokyo
from tests.code.test_translations import JAPANESE, _Text, data_strings
from tests.governance.audit_rows import Objects, record_every_action

# The demo's accounts (app/services/operations/demo.py), and who signs in as none of them.
ROLES: dict[str, str | None] = {
    "anonymous": None,
    "staff": "900001",  # 区民課の職員
    "chief": "900002",  # 総務課長
    "committee": "900003",  # 区民課長, committee member for 高津区
    "admin": "900004",  # 総務課の職員, admin for 高津区
    "city": "900005",  # a committee member for the whole city
}
# GET endpoints no role reaches with a 200, and why.
NEVER_A_PAGE = {
    "auth.language": "sets the language cookie and redirects back",
    "auth.sign_in_link": "a personal sign-in link: signs in and redirects to a URL without the"
    " token; a refused one answers 400 or 429",
    "admin.roster_download": "a file (CSV or xlsx) in the import's own Japanese columns",
    "admin.roster_template": "a file (CSV or xlsx) in the import's own Japanese columns",
    "main.readyz_scheduler": "a JSON line for monitoring",
    "demo.mailbox": "the demo's mailbox, off outside `flask demo serve` (a 404 here)",
    "demo.message": "the demo's mailbox, off outside `flask demo serve` (a 404 here)",
}
# Pages that are Japanese documents in every language (docs/language.md): the city's layouts.
JAPANESE_DOCUMENTS = {
    "annual.view": "the annual report (実施状況報告書), the city's own layout",
    "results.export": "the print view of the compliance table, the report's layout",
    "results.section_export": "the print view of a chief's sheet, the report's layout",
}
# Japanese that an English page shows on purpose, by endpoint: (text, why).
INTENDED: dict[str, tuple[tuple[str, str], ...]] = {
    "admin.published": (
        ("“基準 No”", "the file's own column headings, which the file must carry"),
        ("“基準の内容”", "the same"),
        ("“職員”", "the same"),
        ("“所属長”", "the same"),
        ("2024 is FY2024, 令和6年度", "how a Western year reads as the era the tables use"),
    ),
    "goals.section_goals": (
        ("対面応対, 庁内体制, 共通, お知らせ", "examples of a goal's scene, typed in Japanese"
                                                " as the goal sheet has them"),
    ),
    "goals.team": (("対面応対, 庁内体制, 共通, お知らせ", "the same"),),
}
# The roster page's example is the import's own file: its Japanese column headings and an
# example row of Japanese names, which a file for a Japanese ward must carry as they are.
INTENDED["admin.roster_upload"] = tuple(
    (cell, "the roster file's own headings and example row, which the import reads")
    for cell in (*roster_export.HEADER,
                 *(value for row in roster_export.template_rows(DEMO_WARD) for cell in row
                   for value in (cell, *cell.split(roster_export.KIND_SEPARATOR))))
    if cell
)
# Punctuation of Japanese text that English text writes otherwise ( ( ) : , . " ).
FULL_WIDTH = re.compile(r"[（）：、。「」]")
# An object named by its type and a number (an id), not by its name: 「Rounds 3」, 「Staff 19」.
BY_NUMBER = re.compile(
    r"\b(?:Rounds?|Surveys?|Catalogues?|Persons?|Sections?|Wards?|Teams?|Actions?)\s+#?\d+\b"
)


@dataclass(frozen=True)
class WalkWorld:
    """The ids the routes' arguments take."""

    values: dict[str, list[Any]]
    queries: dict[str, list[dict[str, Any]]]


def _build(app: Flask) -> WalkWorld:
    """The demo, a round open now with some mail, next year's draft standards and one audit
    row of every action."""
    with app.app_context():
        build_demo(Path(app.config["SURVEYS_DIR"]))
        ward = db.session.scalars(sa.select(Ward).where(Ward.name == DEMO_WARD)).one()
        catalogue = db.session.scalars(
            sa.select(Catalogue).where(Catalogue.key == "takatsu-2025")).one()
        now = datetime.now(UTC)
        open_round = Round(
            title="いまの自己点検（英語の試験）", catalogue=catalogue,
            fiscal_year=fiscal_year_of(tokyo(now)), opens_at=now - timedelta(days=2),
            closes_at=now + timedelta(days=5), wards=[ward],
        )
        db.session.add(open_round)
        db.session.flush()
        schedule.plan(now)
        for n, ledger_id in enumerate(sending.claim(now, 4)):
            if n % 2:
                sending.mark_sent(ledger_id, now)
            else:
                sending.mark_failed([ledger_id], now, "550 mailbox unavailable")
        create_next_year(catalogue, "takatsu-2026", "令和8年度 区役所サービス基準（高津区）")
        rounds = list(db.session.scalars(sa.select(Round).order_by(Round.fiscal_year)))
        sections = {s.name: s for s in db.session.scalars(
            sa.select(Section).where(Section.ward_id == ward.id))}
        staff = db.session.scalars(sa.select(Person).where(Person.employee_id == "100050")).one()
        admin = db.session.scalars(sa.select(Person).where(Person.employee_id == "900004")).one()
        team = db.session.scalars(
            sa.select(WorkingTeam).where(WorkingTeam.ward_id == ward.id).limit(1)).one()
        record_every_action(Objects(admin, staff, rounds[-1], catalogue, sections["総務課"],
                                    team, DEMO_GOALS_YEAR))
        kumin = sections["区民課"].id
        world = WalkWorld(
            values={
                "round_id": [r.id for r in rounds],
                "section_id": [kumin, sections["総務課"].id],
                "ward_id": [ward.id],
                "fiscal_year": [DEMO_GOALS_YEAR],
                "team_id": [team.id],
                "action_id": list(db.session.scalars(sa.select(ImprovementAction.id))),
                "person_id": [staff.id],
                "key": ["takatsu-2025", "takatsu-2026"],
                "standard_key": ["takatsu-hygiene"],
                "token": [password_link_token(staff)],
                "fmt": ["html"],
                "filename": ["kijun.css"],
                "code": ["en"],
                "name": ["missing.eml"],  # the demo mailbox (off here: its 404 page)
            },
            queries={
                "results.round_page": [{"group": f"section:{kumin}"}],
                "results.breakdown": [{"level": "section"}, {"level": "ward"},
                                      {"level": "department", "role": "chief"}],
                "results.city": [{"year": 2024, "role": "chief"}],
                "admin.people_list": [{"q": "9000"}],
                "admin.catalogue_preview": [{"as": "chief:庁舎管理担当課"}],
            },
        )
        db.session.commit()
        return world


def _urls(app: Flask, world: WalkWorld) -> list[tuple[str, str]]:
    """(endpoint, url) for every GET route, with every combination of the world's ids (built
    before any request: a request inside this context would share its ``g``)."""
    return list(_each_url(app, world))


def _each_url(app: Flask, world: WalkWorld) -> Iterator[tuple[str, str]]:
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in (rule.methods or ()):
                continue
            names = sorted(rule.arguments)
            choices = [world.values[name] for name in names]
            for combination in itertools.product(*choices):
                args = dict(zip(names, combination, strict=True))
                for query in [{}, *world.queries.get(rule.endpoint, [])]:
                    yield rule.endpoint, url_for(rule.endpoint, **args, **query)


def _client(app: Flask, employee_id: str | None) -> FlaskClient:
    client = app.test_client()
    client.set_cookie(LANG_COOKIE, "en")
    if employee_id is not None:
        with app.app_context():
            person = db.session.scalars(
                sa.select(Person).where(Person.employee_id == employee_id)).one()
            values = session_values(person.id, person.session_version)
        with client.session_transaction() as session:
            session.update(values)
    return client


def _audit_strings() -> set[str]:
    """Every text the audit log keeps in its values: data, as written."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for before, after in db.session.execute(sa.select(AuditEvent.before, AuditEvent.after)):
        for text in (before, after):
            if text:
                found.add(text)  # as stored, shown behind the row's disclosure
                walk(json.loads(text))
    return found


def page_problems(
    html: str, data: list[str], keys: dict[str, str], intended: tuple[str, ...] = ()
) -> list[str]:
    """What is not English in a page: Japanese UI text, full-width punctuation, objects by key
    or number (``data``: the data's strings, longest first; ``keys``: catalogue key -> title;
    ``intended``: Japanese the page shows on purpose)."""
    parser = _Text()
    parser.feed(html)
    if parser.lang != "en":
        return [f"<html lang={parser.lang!r}>"]
    text = " ".join(" ".join(parser.parts).split())
    stripped = text
    for one in (*sorted(intended, key=len, reverse=True), *data):  # 課の種類 before 課
        stripped = stripped.replace(one, " ")
    stripped = " ".join(token for token in stripped.split() if not _in_data(token, data))
    found = [f"Japanese: {run}" for run in sorted(
        {run for run in re.findall(r"\S+", stripped) if JAPANESE.search(run)})]
    found += [f"full-width punctuation: …{stripped[max(0, m.start() - 20):m.end() + 20]}…"
              for m in FULL_WIDTH.finditer(stripped)]
    # Within one piece of text (a cell, a label): 「Rounds 3」 is one piece, 「Action」 in a
    # column's heading and 「1」 in the cell below are two.
    found += [f"by number: {m.group(0)}" for part in parser.parts
              for m in BY_NUMBER.finditer(part)]
    found += [f"catalogue key without its title: {key}" for key, title in keys.items()
              if re.search(rf"(?<![\w-])(?<!e\.g\. ){re.escape(key)}(?![\w-])", stripped)
              and title not in text]
    return found


def _in_data(token: str, data: list[str]) -> bool:
    """A long token that is a piece of a data string (a text cut short on the page)."""
    cut = token.strip(".…")
    return len(cut) >= 6 and any(cut in one for one in data)


@pytest.fixture
def world(app: Flask) -> WalkWorld:
    return _build(app)


def test_every_page_reads_in_english(app: Flask, world: WalkWorld):
    """Each HTML page that some role reaches is English but for its data, for every role."""
    with app.app_context():
        data = data_strings(extra=_audit_strings())
        keys = dict(db.session.execute(sa.select(Catalogue.key, Catalogue.title)).all())
    clients = {role: _client(app, employee_id) for role, employee_id in ROLES.items()}
    reached: set[str] = set()
    pages: set[str] = set()
    problems: dict[str, list[str]] = {}
    for endpoint, url in _urls(app, world):
        for role, client in clients.items():
            response = client.get(url)
            status, mimetype, body = response.status_code, response.mimetype, response.get_data()
            response.close()
            if status != 200:
                continue
            reached.add(endpoint)
            if mimetype != "text/html":
                break  # a file (PDF, xlsx, Word, CSV): no page to read; one role reached it
            if endpoint in JAPANESE_DOCUMENTS:
                continue
            pages.add(endpoint)
            intended = tuple(text for text, _why in INTENDED.get(endpoint, ()))
            found = page_problems(body.decode(), data, keys, intended)
            if found:
                problems.setdefault(f"{role} {url}", found)
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if "GET" in (r.methods or ())}
    assert endpoints - reached == set(NEVER_A_PAGE), f"never reached: {endpoints - reached}"
    assert len(pages) > 40
    assert not problems, "\n".join(f"{where}: {found}" for where, found in problems.items())


def test_the_walk_finds_planted_slips():
    """Japanese left in the UI, a full-width colon, a catalogue key for its title and a round by
    its number are each reported; data is not."""
    html = ('<html lang="en"><body><h1>Results</h1><p>高津区</p><p>保存しました</p>'
            "<p>Scene：Notices</p><p>Standard takatsu-2026</p><p>Rounds 3</p></body></html>")
    found = page_problems(html, ["高津区"], {"takatsu-2026": "令和8年度 区役所サービス基準"})
    assert [problem.split(":")[0] for problem in found] == [
        "Japanese", "full-width punctuation", "by number", "catalogue key without its title"]
    assert found[0] == "Japanese: 保存しました" and "Scene：Notices" in found[1]
    assert found[2:] == ["by number: Rounds 3", "catalogue key without its title: takatsu-2026"]
    assert page_problems(html, ["高津区"], {}, intended=("保存しました",))[0].startswith("full")
    beside = '<html lang="en"><p>令和8年度 区役所サービス基準 (takatsu-2026)</p></html>'
    assert page_problems(beside, ["令和8年度 区役所サービス基準"],
                         {"takatsu-2026": "令和8年度 区役所サービス基準"}) == []


def test_the_scenes_are_named_in_the_pages_language(app: Flask):
    """Each scene of the standards is itself on Japanese pages and an English word on English
    ones; a goal's own scene (free text) is shown as written."""
    with app.test_request_context("/"):
        assert [scene_label(scene) for scene in SCENES] == list(SCENES)
    with app.test_request_context("/", headers={"Cookie": f"{LANG_COOKIE}=en"}):
        english = [scene_label(scene) for scene in SCENES]
        assert scene_label("窓口の混雑") == "窓口の混雑"
    assert english[:2] == ["Notices", "Responding"]
    assert not any(JAPANESE.search(label) for label in english)
    assert len(set(english)) == len(SCENES)
