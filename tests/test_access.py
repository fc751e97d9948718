"""Every route declares who may use it, and refuses everyone else."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Assignment, Grant, GrantRole, Role, Round
from app.wareki import fiscal_year_of, tokyo
from tests import factories

# Sample values for URL arguments, by argument name.
ARGUMENT_SAMPLES = {"key": "test-2025", "token": "not-a-token", "code": "ja", "filename": "x"}


def _audience_allows(access: frozenset[str], who: str) -> bool:
    if "public" in access:
        return True
    if who == "anonymous":
        return False
    return "person" in access or who in access


@pytest.fixture
def people(app):
    """One signed-in person per audience, and an open round to point URLs at."""
    with app.app_context():
        section = factories.section("総務課")
        fiscal_year = fiscal_year_of(tokyo(datetime.now(UTC)))
        staff = factories.person(section=section, role=Role.STAFF, fiscal_year=fiscal_year)
        chief = factories.person(section=section, role=Role.CHIEF, fiscal_year=fiscal_year)
        committee = factories.person()
        admin = factories.person()
        committee.grants.append(Grant(role=GrantRole.COMMITTEE))
        admin.grants.append(Grant(role=GrantRole.ADMIN))
        catalogue = factories.catalogue()
        now = datetime.now(UTC)
        round_ = Round(
            title="t",
            catalogue=catalogue,
            fiscal_year=fiscal_year,
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=1),
            wards=[section.ward],
        )
        db.session.add(round_)
        db.session.commit()
        return {
            "staff": staff.id,
            "chief": chief.id,
            "committee": committee.id,
            "admin": admin.id,
            "round_id": round_.id,
        }


def _routes(app, round_id):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        values = {arg: ARGUMENT_SAMPLES.get(arg, round_id) for arg in rule.arguments}
        url = rule.build(values)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def test_every_route_declares_its_audience(app):
    """No view is reachable without an explicit @access declaration."""
    missing = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        and not getattr(app.view_functions[rule.endpoint], "access", None)
    ]
    assert missing == []


@pytest.mark.parametrize("who", ["anonymous", "staff", "chief", "committee", "admin"])
def test_routes_refuse_whoever_is_not_allowed(app, client, sign_in, people, who):
    """Anonymous users get 401 or the sign-in page; signed-in people outside the audience 403."""
    if who != "anonymous":
        with app.app_context():
            from app.models import Person

            sign_in(db.session.get(Person, people[who]))
    checked = 0
    for endpoint, method, url in _routes(app, people["round_id"]):
        access = app.view_functions[endpoint].access
        if _audience_allows(access, who):
            continue
        response = client.open(url, method=method, json={} if "/api/" in url else None)
        checked += 1
        if who == "anonymous":
            refused = response.status_code == 401 or (
                response.status_code == 302 and "/auth/login" in response.headers["Location"]
            )
        else:
            refused = response.status_code == 403
        assert refused, f"{who} {method} {url} -> {response.status_code}"
    protected = any("public" not in f.access for f in _declared_views(app))
    if protected and who in {"anonymous", "staff"}:
        assert checked > 0


def _declared_views(app):
    return [
        app.view_functions[r.endpoint] for r in app.url_map.iter_rules() if r.endpoint != "static"
    ]


@pytest.mark.parametrize("signed_in_by", ["session", "header"])
def test_the_person_and_their_roles_come_in_one_query(app, client, sign_in, signed_in_by):
    """A chief who is also an administrator and on the committee is loaded with all three
    roles by one statement (session cookie or trusted header), and the menu asks no more;
    last year's chief gets none of those menus."""
    with app.app_context():
        fiscal_year = fiscal_year_of(tokyo(datetime.now(UTC)))
        section = factories.section("総務課")
        both = factories.person(section=section, role=Role.CHIEF, fiscal_year=fiscal_year)
        both.grants.append(Grant(role=GrantRole.ADMIN))
        both.grants.append(Grant(role=GrantRole.COMMITTEE))
        last_year_chief = factories.person(
            section=section, role=Role.CHIEF, fiscal_year=fiscal_year - 1
        )
        # Staff this year (without an assignment this year they would have left).
        db.session.add(
            Assignment(
                person=last_year_chief, fiscal_year=fiscal_year, section=section, role=Role.STAFF
            )
        )
        db.session.commit()
        ids = {
            "both": (both.id, both.employee_id),
            "old": (last_year_chief.id, last_year_chief.employee_id),
        }
    app.config["AUTH_TRUSTED_HEADER"] = "X-Remote-User"
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    for who, menu in (("both", ("調査の管理", "目標", "結果")), ("old", ())):
        person_id, employee_id = ids[who]
        headers = {}
        if signed_in_by == "session":
            sign_in(person_id)
        else:
            with client.session_transaction() as session:
                session.clear()
            headers = {"X-Remote-User": employee_id}
        statements.clear()
        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", record)
            try:
                page = client.get("/me", headers=headers).get_data(as_text=True)
            finally:
                sa.event.remove(db.engine, "before_cursor_execute", record)
        nav = page.split('class="site-nav"', 1)[1].split("</nav>", 1)[0]
        for label in ("調査の管理", "目標", "結果"):
            assert (label in nav) == (label in menu), (who, label)
        grant_statements = [s for s in statements if "role_grant" in s]
        assert len(grant_statements) == 1, grant_statements
        assert "FROM person" in grant_statements[0]
