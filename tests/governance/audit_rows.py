"""One audit row of every action, with the values its writer in the app records, for the tests
of how the log reads (tests/governance/test_audit_reading.py, the English walk, the browser).

Each row goes through ``audit.record`` (the only writer) with the values the app's own code
writes for that action (``round_values``, ``catalogue_values``, ``standard_values`` where the
app uses them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.models import Catalogue, Person, Round, Section, WorkingTeam
from app.services.catalogue.drafts import catalogue_values, standard_values
from app.services.governance import audit
from app.services.rounds.rounds import round_values


@dataclass(frozen=True)
class Objects:
    """What the rows name: who acts, on whom, and the objects of the actions."""

    admin: Person
    person: Person
    round: Round
    catalogue: Catalogue
    section: Section
    team: WorkingTeam
    fiscal_year: int


def _goals(goal: str, result: str | None) -> list[dict[str, str | None]]:
    return [{"scene": "対面応対", "goal": goal, "result": result}]


def record_every_action(o: Objects) -> list[str]:
    """Record one row (two for some) of each action in ``audit.ACTIONS``; the actions written."""
    ward_id = o.section.ward_id
    fy = o.fiscal_year
    plan = f"{ward_id}:{fy}"
    standard = o.catalogue.standards[0]
    values = round_values(o.round)
    rows: list[tuple[str, Person | None, str, object, object, object, int | None]] = [
        ("roster.import", o.admin, "roster", fy, None,
         {"fiscal_year": fy, "summary": ["令和7年度（2025年度）の名簿: 高津区、3人"],
          "sha256": "ab" * 32}, ward_id),
        ("roster.transfer_out", o.admin, "roster", fy, None,
         {"fiscal_year": fy, "employee_ids": [o.person.employee_id, "999999"]}, ward_id),
        ("catalogue.create", o.admin, "catalogue", o.catalogue.key, None,
         {**catalogue_values(o.catalogue), "from": o.catalogue.key}, o.catalogue.ward_id),
        ("catalogue.update", o.admin, "catalogue", o.catalogue.key,
         standard_values(standard), {**(standard_values(standard) or {}), "number": 40},
         o.catalogue.ward_id),
        ("catalogue.update", o.admin, "catalogue", o.catalogue.key, None,
         {"added": standard_values(standard)}, o.catalogue.ward_id),
        ("catalogue.publish", o.admin, "catalogue", o.catalogue.key, {"published": False},
         catalogue_values(o.catalogue), o.catalogue.ward_id),
        ("round.create", o.admin, "round", o.round.id, None, values, ward_id),
        ("round.update", o.admin, "round", o.round.id, {**values, "reminder_days": "7,3,1"},
         {**values, "reminder_days": "3"}, ward_id),
        ("round.remind_now", o.admin, "round", o.round.id, None, {"reminders": 4}, ward_id),
        ("round.send_links", o.admin, "round", o.round.id, None, {"people": 4, "send": 2},
         ward_id),
        ("sign_in_link.issue", None, "round", o.round.id, None, {"links": 12}, ward_id),
        ("sign_in_link.revoke", o.admin, "round", o.round.id, None, {"links": 12}, ward_id),
        ("sign_in_link.revoke", o.admin, "person", o.person.id, None, {"links": 2}, ward_id),
        ("sign_in_link.revoke", o.person, "person", o.person.id, None,
         {"links": 1, "sign_out": True}, ward_id),
        ("grant.add", o.admin, "person", o.person.id, None,
         {"role": "committee", "ward_id": ward_id}, ward_id),
        ("grant.revoke", None, "person", o.person.id, {"role": "admin", "ward_id": None}, None,
         ward_id),
        ("person.password_link", o.admin, "person", o.person.id, None,
         {"expires": datetime(2025, 11, 30, 8, 0, tzinfo=UTC).isoformat()}, ward_id),
        ("person.sign_in_blocked", o.admin, "person", o.person.id, {"sign_in_blocked": False},
         {"sign_in_blocked": True}, ward_id),
        ("person.sign_in_allowed", o.admin, "person", o.person.id, {"sign_in_blocked": True},
         {"sign_in_blocked": False}, ward_id),
        ("goals.update", o.admin, "section", o.section.id,
         {"fiscal_year": fy, "goals": _goals("丁寧に対応します。", None)},
         {"fiscal_year": fy, "goals": _goals("丁寧に対応します。", "できた")}, ward_id),
        ("goals.update", o.admin, "year_plan", plan, {"policy": "前の方針"},
         {"policy": "新しい方針"}, ward_id),
        ("goals.update", o.admin, "working_team", o.team.id, None,
         {"name": o.team.name, "purpose": "目的", "members": [o.person.employee_id]}, ward_id),
        ("goals.import", o.admin, "year_plan", plan, None,
         {"file": "goals.xlsx", "summary": ["目標 3件を取り込みました"]}, ward_id),
        ("year.lock", o.admin, "year_plan", plan, {"locked": False}, {"locked": True}, ward_id),
        ("year.unlock", o.admin, "year_plan", plan, {"locked": True}, {"locked": False},
         ward_id),
        ("auth.sign_in_failed", None, "person", o.person.id, None,
         {"employee_id": o.person.employee_id}, ward_id),
        ("auth.sign_in_throttled", None, "person", None, None, {"employee_id": "NOBODY1"},
         None),
        ("results.download", o.admin, "round", o.round.id, None,
         {"format": "xlsx", "group": f"section:{o.section.id}"}, ward_id),
        ("results.download", o.admin, "city", fy, None,
         {"format": "city.xlsx", "fiscal_year": fy}, None),
        ("scheduler.plan", None, "round", o.round.id, None,
         {"planned": {"opened": 12, "reminder:3": 5}}, ward_id),
        ("retention.purge", None, "fiscal_year", fy - 5, None,
         {"before_fiscal_year": fy - 5, "people": 3, "responses": 9, "answers": 120,
          "comments": 2, "section_answers": 1, "mail": 30, "login_attempts": 4, "grants": 0,
          "fiscal_years": [fy - 6], "counted_round_ids": []}, None),
        ("comment.hide", o.admin, "round", o.round.id, None, {"comment": "t0ken"}, ward_id),
        ("comment.show", o.admin, "round", o.round.id, {"comment": "t0ken"}, None, ward_id),
    ]  # fmt: skip
    for action, actor, target_type, target_id, before, after, ward in rows:
        audit.record(action, actor=actor, target_type=target_type, target_id=target_id,
                     before=before, after=after, ward_id=ward)
    return [row[0] for row in rows]
