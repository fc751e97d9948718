"""The improvement actions' migration (actions0001) on an action recorded before it: the
action becomes 未着手 with no owner, and the ledger accepts its mail."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db
from app.models import ActionStatus, ImprovementAction
from tests import factories
from tests.operations.test_migrations import empty_database_url  # noqa: F401 - a fixture


def test_an_older_action_becomes_not_started_with_no_owner(empty_database_url):  # noqa: F811
    """An action written at the revision before, then the upgrade: status 'todo' (未着手), no
    owner, no evidence; the downgrade and the upgrade keep the row."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade(revision="citycrlf0001")
        section = factories.section("区民課")
        round_ = factories.closed_round(factories.catalogue("t-2025"), wards=[section.ward])
        db.session.execute(
            sa.text(
                "INSERT INTO improvement_action (round_id, ward_id, standard_key, action, "
                "section_id, due, created_at) VALUES (:r, :w, 'std-1', '確認する', :s, :d, :c)"
            ),
            {"r": round_.id, "w": section.ward_id, "s": section.id, "d": date(2026, 3, 31),
             "c": round_.closes_at},
        )
        db.session.commit()
        db.session.remove()
        upgrade()
        action = db.session.scalars(sa.select(ImprovementAction)).one()
        assert (action.status, action.owner_id, action.evidence_url) == (
            ActionStatus.TODO, None, None)
        db.session.remove()
        downgrade(revision="citycrlf0001")
        upgrade()
        assert db.session.scalar(sa.select(sa.func.count(ImprovementAction.id))) == 1
        db.session.remove()
        db.engine.dispose()
