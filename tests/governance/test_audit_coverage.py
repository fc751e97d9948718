"""Every state-changing route and command writes an audit row (docs/audit.md).

Walked from ``app.url_map`` (every route that answers POST, PUT, PATCH or DELETE) and from
``app.cli`` (every command of the app's own groups): each is either performed here, validly,
on a small world, and must add at least one row to the log, or is in an allowlist that says
why it changes no shared state. A new route or command fails the first test until it is put
in one or the other.
"""

from __future__ import annotations

import base64
import io
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from app.extensions import db
from app.models import (
    Answer,
    AuditEvent,
    Catalogue,
    Grant,
    GrantRole,
    ImprovementAction,
    LoginAttempt,
    Person,
    Section,
    Standard,
    Ward,
)
from app.services.catalogue.catalogues import load_catalogues
from app.services.goals import goals as goal_service
from app.services.governance import audit
from app.services.identity.auth import password_link_token
from app.services.results.published import preview_import, save_import
from app.wareki import TOKYO
from tests import factories
from tests.results_world import World, build_world

ROOT = Path(__file__).resolve().parents[2]
SEED_CSV = ROOT / "tests" / "data" / "takatsu-published-r6-r7.csv"
YEAR = 2025  # the world's roster year (tests/results_world.py)
THIRD_PARTY_GROUPS = {"db"}  # Flask-Migrate's commands

# Routes that change no shared state, and so write no row by design.
UNLOGGED_ROUTES = {
    # A person's own answers are not logged (docs/audit.md, "What is not logged").
    "checklist.checklist": "a person's own answers",
    "api.save": "a person's own answers, through the API",
    "checklist.receipt_mail": "a copy of one's own answers, mailed to oneself",
    # Signing in and out: the login-attempt table keeps the tries (an anonymous client must
    # not be able to grow the log); signing out ends one's own sessions.
    "auth.login": "signing in (the login-attempt table)",
    "auth.logout": "signing out",
    # Previews write nothing; their confirmations (roster_confirm, published_import) do.
    "admin.roster_upload": "the roster's preview",
    "admin.published_preview": "the published table's preview",
    "admin.roster_cancel": "drops a preview's waiting file; the database is unchanged",
}

# Commands that change no shared state.
UNLOGGED_COMMANDS = {
    ("audit", "verify"): "reads the log",
    # It builds the demo as ``flask demo`` does (that row: demo.build), then serves it.
    ("demo", "serve"): "serves the app and runs the scheduler until stopped",
    ("backup", "create"): "writes a file; the database is unchanged",
    ("catalogue", "list"): "reads",
    ("round", "list"): "reads",
    ("users", "list-grants"): "reads",
    # Reading a closed round's results; the counts they may write first are written once,
    # whoever asks first (docs/results.md), and are no one's action.
    ("report", "compliance"): "reads results",
    ("report", "groups"): "reads results",
    ("report", "sections"): "reads results",
    ("scheduler", "run"): "runs `scheduler tick` every minute: its rows are the tick's",
}


@dataclass
class Ctx:
    """The app, a client and a command runner, and the world, built when first asked for."""

    app: Flask
    client: FlaskClient
    runner: FlaskCliRunner
    sign_in: Callable[..., None]
    tmp_path: Path
    built: list[World] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def world(self) -> World:
        if not self.built:
            with self.app.app_context():
                self.built.append(build_world())
        return self.built[0]

    def as_(self, person_id: int) -> None:
        self.sign_in(person_id)

    def surveys(self) -> None:
        """Every catalogue of surveys/ (takatsu-2024 and -2025 among them)."""
        with self.app.app_context():
            load_catalogues(ROOT / "surveys")
            db.session.commit()

    def section_id(self, name: str) -> int:
        self.world  # noqa: B018 - the sections are the world's
        with self.app.app_context():
            return db.session.scalars(sa.select(Section.id).where(Section.name == name)).one()

    def employee_id(self, person_id: int) -> str:
        with self.app.app_context():
            return db.session.get_one(Person, person_id).employee_id


Request = tuple[str, str, dict[str, Any]]  # (method, url, keyword arguments of the client)
# Each route and command performed: how to set it up, and the action its row must have.
ROUTES: dict[str, tuple[Callable[[Ctx], Request], str]] = {}
COMMANDS: dict[tuple[str, ...], tuple[Callable[[Ctx], list[str]], str]] = {}


def route(
    endpoint: str, action: str
) -> Callable[[Callable[[Ctx], Request]], Callable[[Ctx], Request]]:
    def register(setup: Callable[[Ctx], Request]) -> Callable[[Ctx], Request]:
        ROUTES[endpoint] = (setup, action)
        return setup

    return register


def command(
    *path: str, action: str
) -> Callable[[Callable[[Ctx], list[str]]], Callable[[Ctx], list[str]]]:
    def register(setup: Callable[[Ctx], list[str]]) -> Callable[[Ctx], list[str]]:
        COMMANDS[path] = (setup, action)
        return setup

    return register


def post(url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Request:
    return ("post", url, {"data": data or {}, **kwargs})


def _logged(app: Flask) -> list[str]:
    """The log's actions in order (the test's before and after)."""
    with app.app_context():
        actions = list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))
        db.session.remove()
        return actions


# --- Catalogues ----------------------------------------------------------------------------------

DRAFT = "/admin/catalogues/takatsu-2026"


def _draft(ctx: Ctx) -> None:
    ctx.surveys()
    ctx.as_(ctx.world.admin)
    made = ctx.client.post("/admin/catalogues/takatsu-2025/next",
                           data={"key": "takatsu-2026", "title": "令和8年度 基準（高津区）"})
    assert made.status_code == 302


def _standard_form(**changes: str) -> dict[str, str]:
    return {"number": "34", "text": "待ち時間を伝えています。", "scene": "応対",
            "audience": "everyone", **changes}


@route("admin.catalogue_next", "catalogue.create")
def _catalogue_next(ctx: Ctx) -> Request:
    ctx.surveys()
    ctx.as_(ctx.world.admin)
    return post("/admin/catalogues/takatsu-2025/next",
                {"key": "takatsu-2026", "title": "令和8年度 基準（高津区）"})


@route("admin.catalogue_add_standard", "catalogue.update")
def _catalogue_add(ctx: Ctx) -> Request:
    _draft(ctx)
    return post(f"{DRAFT}/standards/new", _standard_form())


@route("admin.catalogue_edit_standard", "catalogue.update")
def _catalogue_edit(ctx: Ctx) -> Request:
    _draft(ctx)
    return post(f"{DRAFT}/standards/takatsu-hygiene",
                _standard_form(number="33", text="清潔な身だしなみを心がけています。"))


@route("admin.catalogue_retire_standard", "catalogue.update")
def _catalogue_retire(ctx: Ctx) -> Request:
    _draft(ctx)
    return post(f"{DRAFT}/standards/takatsu-hygiene/retire")


@route("admin.catalogue_numbers", "catalogue.update")
def _catalogue_numbers(ctx: Ctx) -> Request:
    _draft(ctx)
    with ctx.app.app_context():
        standards = db.session.scalars(
            sa.select(Standard).join(Standard.catalogue).where(Standard.catalogue.has(
                key="takatsu-2026")))
        data = {f"n-{s.key}": str(s.number) for s in standards}
    data.update({"n-takatsu-listen-closely": "29", "n-takatsu-hygiene": "30"})
    return post(f"{DRAFT}/numbers", data)


@route("admin.catalogue_publish", "catalogue.publish")
def _catalogue_publish(ctx: Ctx) -> Request:
    _draft(ctx)
    ctx.client.post(f"{DRAFT}/standards/new", data=_standard_form())
    return post(f"{DRAFT}/publish", {"confirm": "y"})


# --- People, the roster and published tables --------------------------------------------------


@route("admin.person_grant", "grant.add")
def _person_grant(ctx: Ctx) -> Request:
    ctx.as_(ctx.world.admin)
    return post(f"/admin/people/{ctx.world.staff}/grants", {
        "role": "committee", "ward": str(ctx.world.takatsu_ward_id), "operation": "grant"})


@route("admin.person_password_link", "person.password_link")
def _person_password_link(ctx: Ctx) -> Request:
    ctx.as_(ctx.world.admin)
    return post(f"/admin/people/{ctx.world.staff}/password-link")


@route("admin.person_sign_in", "person.sign_in_blocked")
def _person_sign_in(ctx: Ctx) -> Request:
    ctx.as_(ctx.world.admin)
    return post(f"/admin/people/{ctx.world.staff}/sign-in", {"blocked": "1"})


ROSTER = ("職員番号,氏名,メールアドレス,区,部,課,役割\n"
          "C000001,高津 一,c1@example.jp,高津区,,総務課,職員\n")


@route("admin.roster_confirm", "roster.import")
def _roster_confirm(ctx: Ctx) -> Request:
    ctx.as_(ctx.world.admin)
    preview = ctx.client.post("/admin/roster", data={
        "fiscal_year": str(YEAR + 1), "roster": (io.BytesIO(ROSTER.encode()), "roster.csv")},
        content_type="multipart/form-data")
    assert preview.status_code == 200
    fields = re.findall(r'name="(sha256|suffix|fiscal_year|summary_digest)"[^>]*value="([^"]*)"',
                        preview.get_data(as_text=True))
    return post("/admin/roster/confirm", {**dict(fields), "acknowledged": "y"})


def _takatsu_id(ctx: Ctx) -> int:
    return ctx.world.takatsu_ward_id


@route("admin.published_import", "published.import")
def _published_import(ctx: Ctx) -> Request:
    ctx.surveys()
    ctx.as_(ctx.world.admin)
    return post("/admin/published/import", {
        "ward": str(_takatsu_id(ctx)), "fiscal_year": "2024", "filename": SEED_CSV.name,
        "payload": base64.b64encode(SEED_CSV.read_bytes()).decode("ascii")})


@route("admin.published_catalogue", "catalogue.create")
def _published_catalogue(ctx: Ctx) -> Request:
    ctx.as_(ctx.world.admin)
    data = (ROOT / "surveys" / "city-2024.yaml").read_bytes()
    return ("post", "/admin/published/catalogue", {
        "data": {"catalogue": (io.BytesIO(data), "city-2024.yaml")},
        "content_type": "multipart/form-data"})


@route("admin.published_delete", "published.delete")
def _published_delete(ctx: Ctx) -> Request:
    ctx.surveys()
    ward_id = _takatsu_id(ctx)
    with ctx.app.app_context():
        preview = preview_import(ward_id, 2024, SEED_CSV.read_bytes(), SEED_CSV.name)
        table_id = save_import(preview, SEED_CSV.name, None).id
        db.session.commit()
    ctx.as_(ctx.world.admin)
    return post(f"/admin/published/{table_id}/delete")


# --- Rounds --------------------------------------------------------------------------------------


def _round_form(catalogue: str, opens: datetime) -> dict[str, Any]:
    def local(at: datetime) -> str:
        return at.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M")

    return {"catalogue": catalogue, "wards": ["高津区"], "title": "秋の自己点検",
            "opens": local(opens), "closes": local(opens + timedelta(days=20)),
            "reminder_days": "7,3,1"}


def _next_years_catalogue(ctx: Ctx) -> str:
    ctx.world  # noqa: B018 - the wards
    with ctx.app.app_context():
        factories.catalogue("cov-2026", fiscal_year=2026)
        db.session.commit()
    return "cov-2026"


@route("admin.new_round", "round.create")
def _new_round(ctx: Ctx) -> Request:
    key = _next_years_catalogue(ctx)
    ctx.as_(ctx.world.admin)
    return post("/admin/rounds/new", _round_form(key, datetime.now(UTC) + timedelta(days=10)))


@route("admin.edit_round", "round.update")
def _edit_round(ctx: Ctx) -> Request:
    key = _next_years_catalogue(ctx)
    opens = datetime.now(UTC) + timedelta(days=10)
    with ctx.app.app_context():
        found = db.session.scalars(sa.select(Catalogue).where(Catalogue.key == key)).one()
        takatsu = db.session.get_one(Ward, ctx.world.takatsu_ward_id)
        round_id = factories.round_(found, wards=[takatsu], opens_at=opens,
                                    closes_at=opens + timedelta(days=20)).id
        db.session.commit()
    ctx.as_(ctx.world.admin)
    return post(f"/admin/rounds/{round_id}/edit", {**_round_form(key, opens), "title": "冬"})


def _open_round(ctx: Ctx) -> int:
    """A round of the world's FY2025 catalogue open now in 高津区 (its FY2025 people)."""
    world = ctx.world
    with ctx.app.app_context():
        catalogue = db.session.scalars(sa.select(Catalogue).where(Catalogue.key == "t-2025")).one()
        takatsu = db.session.get_one(Ward, world.takatsu_ward_id)
        round_id = factories.round_(catalogue, wards=[takatsu], title="開いている調査").id
        db.session.commit()
        return round_id


@route("admin.remind", "round.remind_now")
def _remind(ctx: Ctx) -> Request:
    round_id = _open_round(ctx)
    ctx.as_(ctx.world.admin)
    return post(f"/admin/rounds/{round_id}/remind")


def _issue_link(ctx: Ctx, round_id: int) -> None:
    """A sign-in link of the world's staff member for the round, as the scheduler makes one."""
    from app.services.identity.links import issue_links

    with ctx.app.app_context():
        issue_links([(ctx.world.staff, round_id)], datetime.now(UTC))
        db.session.commit()


@route("admin.links", "round.send_links")
def _send_links(ctx: Ctx) -> Request:
    round_id = _open_round(ctx)
    ctx.as_(ctx.world.admin)
    return post(f"/admin/rounds/{round_id}/links", {"send": "1"})


@route("admin.revoke_links", "sign_in_link.revoke")
def _revoke_round_links(ctx: Ctx) -> Request:
    round_id = _open_round(ctx)
    _issue_link(ctx, round_id)
    ctx.as_(ctx.world.admin)
    return post(f"/admin/rounds/{round_id}/links/revoke")


@route("admin.person_revoke_links", "sign_in_link.revoke")
def _revoke_person_links(ctx: Ctx) -> Request:
    _issue_link(ctx, _open_round(ctx))
    ctx.as_(ctx.world.admin)
    return post(f"/admin/people/{ctx.world.staff}/sign-in-links/revoke")


# --- Signing in ----------------------------------------------------------------------------------


@route("auth.set_password", "person.password_set")
def _set_password(ctx: Ctx) -> Request:
    with ctx.app.app_context():
        token = password_link_token(db.session.get_one(Person, ctx.world.staff))
    password = "correct horse battery staple"
    return post(f"/auth/set-password/{token}", {"password": password, "confirm": password})


# --- Goals ---------------------------------------------------------------------------------------


def _slots(*slots: tuple[str, str, str]) -> dict[str, str]:
    data = {}
    for i, (scene, goal, result) in enumerate(slots):
        data.update({f"goals-{i}-scene": scene, f"goals-{i}-goal": goal,
                     f"goals-{i}-result": result})
    return data


def _year_url(ctx: Ctx, tail: str) -> str:
    return f"/goals/wards/{ctx.world.takatsu_ward_id}/{YEAR}/{tail}"


def _team(ctx: Ctx, fiscal_year: int = YEAR) -> int:
    with ctx.app.app_context():
        ward = db.session.get_one(Ward, ctx.world.takatsu_ward_id)
        team_id = factories.working_team(ward, fiscal_year=fiscal_year).id
        db.session.commit()
        return team_id


@route("goals.section_goals", "goals.update")
def _section_goals(ctx: Ctx) -> Request:
    ctx.as_(ctx.world.city_committee)
    return post(f"/goals/sections/{ctx.section_id('区民課')}/{YEAR}",
                _slots(("共通", "丁寧に応対します。", "")))


@route("goals.copy_section_goals", "goals.update")
def _copy_section_goals(ctx: Ctx) -> Request:
    section_id = ctx.section_id("区民課")
    with ctx.app.app_context():
        factories.service_goal(section=db.session.get(Section, section_id),
                               fiscal_year=YEAR - 1, goal="去年の目標")
        db.session.commit()
    ctx.as_(ctx.world.city_committee)
    return post(f"/goals/sections/{section_id}/{YEAR}/copy")


@route("goals.plan", "goals.update")
def _plan(ctx: Ctx) -> Request:
    ctx.as_(ctx.world.city_committee)
    return post(_year_url(ctx, "plan"), {"policy": "方針", "summary": "総括",
                                         "committee_name": "部会", "committee_members": ""})


@route("goals.new_team", "goals.update")
def _new_team(ctx: Ctx) -> Request:
    ctx.as_(ctx.world.city_committee)
    return post(_year_url(ctx, "teams/new"),
                {"team-name": "研修WT", "team-purpose": "研修", "team-members": ""})


@route("goals.team", "goals.update")
def _team_route(ctx: Ctx) -> Request:
    team_id = _team(ctx)
    ctx.as_(ctx.world.city_committee)
    return post(f"/goals/teams/{team_id}",
                {"team-name": "新しい名前", "team-purpose": "目的", "team-members": ""})


@route("goals.team_goals", "goals.update")
def _team_goals(ctx: Ctx) -> Request:
    team_id = _team(ctx)
    ctx.as_(ctx.world.city_committee)
    return post(f"/goals/teams/{team_id}/goals", _slots(("庁内体制", "研修をします。", "")))


@route("goals.delete_team", "goals.update")
def _delete_team(ctx: Ctx) -> Request:
    team_id = _team(ctx)
    ctx.as_(ctx.world.city_committee)
    return post(f"/goals/teams/{team_id}/delete", {"confirmed": "yes"})


@route("goals.copy_teams", "goals.update")
def _copy_teams(ctx: Ctx) -> Request:
    _team(ctx, fiscal_year=YEAR - 1)
    ctx.as_(ctx.world.city_committee)
    return post(_year_url(ctx, "copy-teams"))


GOAL_SHEET = "部署名,No,場面,目標,実施結果\n区民課,1,共通,丁寧に応対します。,\n"


@route("goals.import_sheet", "goals.import")
def _import_sheet(ctx: Ctx) -> Request:
    ctx.as_(ctx.world.city_committee)
    return post(_year_url(ctx, "import"),
                {"sheet": (io.BytesIO(GOAL_SHEET.encode()), "goals.csv")},
                content_type="multipart/form-data")


@route("goals.lock", "year.lock")
def _lock(ctx: Ctx) -> Request:
    ctx.as_(ctx.world.city_committee)
    return post(_year_url(ctx, "lock"), {"confirmed": "yes"})


@route("goals.unlock", "year.unlock")
def _unlock(ctx: Ctx) -> Request:
    with ctx.app.app_context():
        goal_service.lock_year(ctx.world.takatsu_ward_id, YEAR, None)
        db.session.commit()
    ctx.as_(ctx.world.city_committee)
    return post(_year_url(ctx, "unlock"))


# --- Results -------------------------------------------------------------------------------------


def _action_form(ctx: Ctx) -> dict[str, str]:
    section = ctx.section_id("区民課")
    return {"standard": "std-1", "action": "朝礼で手順を確認する",
            "owner": f"{section}:{ctx.world.chief}", "due": f"{YEAR + 1}-03-31"}


def _made_action(ctx: Ctx) -> int:
    ctx.as_(ctx.world.takatsu_committee)
    made = ctx.client.post(f"/results/rounds/{ctx.world.previous_round_id}/actions",
                           data=_action_form(ctx))
    assert made.status_code == 302, made.get_data(as_text=True)
    with ctx.app.app_context():
        return db.session.scalars(sa.select(ImprovementAction.id)).one()


@route("results.edit_action", "action.update")
def _edit_action(ctx: Ctx) -> Request:
    action_id = _made_action(ctx)
    return post(f"/results/actions/{action_id}/edit",
                {**_action_form(ctx), "action": "終礼でも確認する", "status": "doing"})


@route("results.delete_action", "action.delete")
def _delete_action(ctx: Ctx) -> Request:
    action_id = _made_action(ctx)
    return post(f"/results/actions/{action_id}/delete", {"confirmed": "yes"})


@route("results.actions", "action.create")
def _results_actions(ctx: Ctx) -> Request:
    ctx.as_(ctx.world.takatsu_committee)
    return post(f"/results/rounds/{ctx.world.previous_round_id}/actions", _action_form(ctx))


@route("results.outcome", "action.update")
def _outcome(ctx: Ctx) -> Request:
    ctx.as_(ctx.world.takatsu_committee)
    made = ctx.client.post(f"/results/rounds/{ctx.world.previous_round_id}/actions",
                           data=_action_form(ctx))
    assert made.status_code == 302
    with ctx.app.app_context():
        action_id = db.session.scalars(sa.select(ImprovementAction.id)).one()
    ctx.as_(ctx.world.chief)  # 区民課長
    return post(f"/results/actions/{action_id}/outcome", {"outcome": "毎週確認した"})


@route("results.hide", "comment.hide")
def _hide(ctx: Ctx) -> Request:
    round_id = ctx.world.round_id
    with ctx.app.app_context():
        answers = db.session.scalars(sa.select(Answer).join(Answer.standard).where(
            Standard.key == "std-1"))
        for n, answer in enumerate(answers):
            answer.comment = f"コメント{n}"
        db.session.commit()
    ctx.as_(ctx.world.city_committee)
    page = ctx.client.get(f"/results/rounds/{round_id}/comments").get_data(as_text=True)
    token = page.split('name="token" value="')[1].split('"')[0]
    return post(f"/results/rounds/{round_id}/comments/hide", {"token": token, "group": "all"})


# --- Commands ------------------------------------------------------------------------------------


def _file(ctx: Ctx, name: str, text: str) -> str:
    path = ctx.tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


WARD = ["--ward", "高津区"]


@command("catalogue", "load", action="catalogue.create")
def _catalogue_load(ctx: Ctx) -> list[str]:
    return ["catalogue", "load", str(ROOT / "surveys")]


@command("demo", action="demo.build")
def _demo(ctx: Ctx) -> list[str]:
    return ["demo"]


@command("goals", "import", action="goals.import")
def _goals_import(ctx: Ctx) -> list[str]:
    ctx.world  # noqa: B018 - 高津区 and its sections
    return ["goals", "import", _file(ctx, "goals.csv", GOAL_SHEET), *WARD,
            "--fiscal-year", str(YEAR)]


@command("goals", "lock", action="year.lock")
def _goals_lock(ctx: Ctx) -> list[str]:
    ctx.world  # noqa: B018
    return ["goals", "lock", *WARD, "--fiscal-year", str(YEAR)]


@command("goals", "unlock", action="year.unlock")
def _goals_unlock(ctx: Ctx) -> list[str]:
    with ctx.app.app_context():
        goal_service.lock_year(ctx.world.takatsu_ward_id, YEAR, None)
        db.session.commit()
    return ["goals", "unlock", *WARD, "--fiscal-year", str(YEAR)]


@command("published", "import", action="published.import")
def _published_import_command(ctx: Ctx) -> list[str]:
    ctx.surveys()
    return ["published", "import", str(SEED_CSV), *WARD, "--year", "2024"]


@command("retention", "purge", action="retention.purge")
def _retention(ctx: Ctx) -> list[str]:
    ctx.world  # noqa: B018 - FY2024's people are on no roster since FY2025
    return ["retention", "purge", "--before-fiscal-year", str(YEAR)]


@command("roster", "import", action="roster.import")
def _roster_import(ctx: Ctx) -> list[str]:
    ctx.world  # noqa: B018
    return ["roster", "import", _file(ctx, "roster.csv", ROSTER), "--fiscal-year",
            str(YEAR + 1)]


@command("round", "create", action="round.create")
def _round_create(ctx: Ctx) -> list[str]:
    key = _next_years_catalogue(ctx)
    return ["round", "create", "--catalogue", key, *WARD, "--opens", "2026-12-20 09:00",
            "--closes", "2027-01-20 17:15"]


@command("users", "set-password", action="person.password_set")
def _users_set_password(ctx: Ctx) -> list[str]:
    return ["users", "set-password", ctx.employee_id(ctx.world.staff), "--password-stdin"]


@command("users", "create-admin", action="person.first_admin")
def _users_create_admin(ctx: Ctx) -> list[str]:
    # The app's fresh database (the world is never built here): no admin yet.
    return ["users", "create-admin", "900001", "--name", "総務 事務",
            "--email", "soumu@example.jp", *WARD]


@command("users", "password-link", action="person.password_link")
def _users_password_link(ctx: Ctx) -> list[str]:
    return ["users", "password-link", ctx.employee_id(ctx.world.staff)]


@command("users", "grant", action="grant.add")
def _users_grant(ctx: Ctx) -> list[str]:
    return ["users", "grant", "committee", ctx.employee_id(ctx.world.staff), *WARD]


@command("users", "revoke", action="grant.revoke")
def _users_revoke(ctx: Ctx) -> list[str]:
    world = ctx.world
    with ctx.app.app_context():
        staff = db.session.get_one(Person, world.staff)
        staff.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=world.takatsu_ward_id))
        db.session.commit()
    return ["users", "revoke", "committee", ctx.employee_id(ctx.world.staff), *WARD]


@command("users", "prune-attempts", action="auth.attempts_pruned")
def _users_prune(ctx: Ctx) -> list[str]:
    with ctx.app.app_context():
        db.session.add(LoginAttempt(employee_id="X1", address="10.0.0.1",
                                    at=datetime.now(UTC) - timedelta(days=40)))
        db.session.commit()
    return ["users", "prune-attempts"]


@command("backup", "restore", action="backup.restore")
def _backup_restore(ctx: Ctx) -> list[str]:
    ctx.world  # noqa: B018
    backup = ctx.tmp_path / "kijun.backup"
    made = ctx.runner.invoke(args=["backup", "create", "--output", str(backup)])
    assert made.exit_code == 0, made.output
    return ["backup", "restore", "--force", str(backup)]


class _Accept:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "250 OK"


@command("scheduler", "tick", action="scheduler.plan")
def _scheduler_tick(ctx: Ctx) -> list[str]:
    _open_round(ctx)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(_Accept(), hostname="127.0.0.1", port=port)
    smtp.start()
    ctx.cleanups.append(smtp.stop)
    ctx.app.config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=port, MAIL_FROM="kijun@city.test")
    return ["scheduler", "tick"]


# --- The tests -----------------------------------------------------------------------------------


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            found |= _commands(cmd, (*prefix, name))
            if cmd.invoke_without_command:  # a group that also runs alone (``flask demo``)
                found.add((*prefix, name))
        else:
            found.add((*prefix, name))
    return found


def test_every_state_changing_route_and_command_is_performed_or_allowed(app):
    """Each route that answers POST/PUT/PATCH/DELETE and each command of the app is in the
    table of what is performed below or in the allowlist with its reason, never both."""
    changing = {
        rule.endpoint for rule in app.url_map.iter_rules()
        if (rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}
    }
    assert changing == set(ROUTES) | set(UNLOGGED_ROUTES)
    assert not set(ROUTES) & set(UNLOGGED_ROUTES)
    own = {path for path in _commands(app.cli) if path[0] not in THIRD_PARTY_GROUPS}
    assert own == set(COMMANDS) | set(UNLOGGED_COMMANDS)
    assert not set(COMMANDS) & set(UNLOGGED_COMMANDS)


@pytest.fixture
def ctx(app, client, runner, sign_in, tmp_path):
    made = Ctx(app, client, runner, sign_in, tmp_path)
    yield made
    for cleanup in made.cleanups:
        cleanup()



@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_a_state_changing_route_writes_a_row(ctx, endpoint):
    """A valid request to the route succeeds and adds its row to the log, which still
    verifies."""
    setup, action = ROUTES[endpoint]
    method, url, kwargs = setup(ctx)
    before = _logged(ctx.app)
    response = getattr(ctx.client, method)(url, **kwargs)
    assert response.status_code in (200, 302), response.get_data(as_text=True)[:2000]
    after = _logged(ctx.app)
    assert after[: len(before)] == before
    assert action in after[len(before):]
    with ctx.app.app_context():
        assert list(audit.verify_chain()) == []


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_a_state_changing_command_writes_a_row(ctx, path):
    """The command succeeds and adds its row to the log, which still verifies."""
    setup, action = COMMANDS[path]
    args = setup(ctx)
    before = _logged(ctx.app)
    with ctx.app.app_context():
        db.engine.dispose()  # a restore replaces the database under the pool
    result = ctx.runner.invoke(args=args, input="correct horse battery staple\n")
    assert result.exit_code == 0, result.output
    after = _logged(ctx.app)
    assert after[: len(before)] == before
    assert action in after[len(before):]
    with ctx.app.app_context():
        assert list(audit.verify_chain()) == []
