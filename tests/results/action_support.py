"""What the improvement actions' tests share: the world of tests/results_world.py (高津区's
区民課 on the FY2025 roster: staff ``world.staff``, chief ``world.chief``), signing another
person in, and recording an action through the service."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import g

from app.extensions import db
from app.models import AuditEvent, ImprovementAction, Person, Section
from app.services.results import action_records
from app.services.results.compliance import final_results
from tests.results_world import World


def switch(sign_in, person_id: int) -> None:
    """Sign another person in (app_ctx keeps ``g``, where Flask-Login caches the person)."""
    for name in ("_login_user", "kijun_roles", "can_read_results", "can_manage_rounds"):
        g.pop(name, None)
    sign_in(person_id)


def section_id(name: str) -> int:
    return db.session.scalars(sa.select(Section.id).where(Section.name == name)).one()


def owner(section: str, person_id: int) -> str:
    """The form's value for a person of a section's roster."""
    return f"{section_id(section)}:{person_id}"


def record(
    world: World,
    person_id: int,
    *,
    section: str = "区民課",
    key: str = "std-1",
    text: str = "朝礼で手順を確認する",
    due: date = date(2027, 1, 31),
    round_id: int | None = None,
) -> ImprovementAction:
    """An action recorded by 高津区's committee member through the service (committed)."""
    results = final_results(round_id or world.previous_round_id, [world.takatsu_ward_id])
    by = db.session.get_one(Person, world.takatsu_committee)
    plan = action_records.ActionPlan(key, text, owner(section, person_id), due)
    action = action_records.create_action(results, plan, by)
    db.session.commit()
    return action


def audit_rows(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )
