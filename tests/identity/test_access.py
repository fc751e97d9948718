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


def test_a_link_session_reaches_only_the_pages_declared_for_links(app, client, people):
    """A session started by a sign-in link, even an admin's, reaches only the views declared
    ``link=True`` (the person's own rounds, checklists and receipts); every other view that
    needs a sign-in sends it to the sign-in page (401 with the reason under /api/), before it
    runs."""
    from app.access import VIA_LINK
    from app.auth.sessions import session_values

    with client.session_transaction() as session:
        session.update(session_values(people["admin"], 0))
        session[VIA_LINK] = people["round_id"]
    reached: set[str] = set()
    stepped_up: set[str] = set()
    for endpoint, method, url in _routes(app, people["round_id"]):
        view = app.view_functions[endpoint]
        if "public" in view.access:
            continue
        response = client.open(url, method=method, json={} if "/api/" in url else None)
        if "/api/" in url:
            step_up = response.status_code == 401 and (response.get_json() or {}).get(
                "error") == "password_sign_in_required"
        else:
            step_up = response.status_code == 302 and response.headers["Location"].startswith(
                "/auth/login?next=")
        assert step_up != view.by_link, f"{method} {url} -> {response.status_code}"
        (reached if view.by_link else stepped_up).add(endpoint)
    assert reached == {
        "checklist.my_rounds", "checklist.checklist", "checklist.receipt",
        "checklist.receipt_mail", "api.rounds", "api.checklist", "api.save",
    }
    assert {"admin.rounds", "checklist.section", "results.round_page", "api.compliance"} <= (
        stepped_up
    )


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


# --- The ward dimension: people of another ward are refused, and nothing is written ----------

# Arguments that name something belonging to a ward.
WARD_BOUND = frozenset({"round_id", "section_id", "ward_id", "team_id", "person_id"})

# One form body that every POST form of the app would accept (forms ignore what they do not
# have), so that a refusal proves the ward check, not a form error.
HOSTILE_FORM = {
    "catalogue": "test-2025",
    "wards": ["高津区", "宮前区"],
    "title": "書き換えた題名",
    "reminder_days": "1",
    "confirm": "y",
    "confirmed": "yes",
    "goals-0-scene": "応対",
    "goals-0-goal": "書き換えた目標",
    "policy": "書き換えた方針",
    "summary": "書き換えた総括",
    "committee_name": "部会",
    "committee_members": "",
    "team-name": "書き換えたチーム",
    "team-purpose": "目的",
    "team-members": "",
    "role": "committee",
    "ward": "",
    "operation": "grant",
    "blocked": "1",
}


@pytest.fixture
def two_wards(app):
    """高津区 with a section (its chief and staff), a working team and a closed round;
    a committee member, an admin and a chief for 高津区 and the same three for 宮前区."""
    with app.app_context():
        now = datetime.now(UTC)
        opens, closes = now - timedelta(days=10), now - timedelta(hours=1)
        years = {fiscal_year_of(tokyo(opens)), fiscal_year_of(tokyo(now))}
        home = factories.section("総務課", ward_name="高津区")
        other = factories.section("総務課", ward_name="宮前区")
        ids: dict[str, int] = {}
        for ward, section in (("home", home), ("other", other)):
            chief = factories.person()
            for year in years:
                db.session.add(
                    Assignment(person=chief, fiscal_year=year, section=section, role=Role.CHIEF)
                )
            committee, admin = factories.person(), factories.person()
            committee.grants.append(Grant(role=GrantRole.COMMITTEE, ward=section.ward))
            admin.grants.append(Grant(role=GrantRole.ADMIN, ward=section.ward))
            ids |= {f"chief_{ward}": chief.id, f"committee_{ward}": committee.id,
                    f"admin_{ward}": admin.id}
        for year in years:
            for _ in range(3):
                staff = factories.person()
                ids["staff_home"] = staff.id
                db.session.add(
                    Assignment(person=staff, fiscal_year=year, section=home, role=Role.STAFF)
                )
        round_ = factories.round_(
            factories.catalogue(), wards=[home.ward], fiscal_year=fiscal_year_of(tokyo(opens)),
            opens_at=opens, closes_at=closes, title="高津区の調査",
        )
        team = factories.working_team(home.ward, fiscal_year=fiscal_year_of(tokyo(now)))
        db.session.commit()
        samples = dict(ARGUMENT_SAMPLES) | {
            "round_id": round_.id, "section_id": home.id, "ward_id": home.ward_id,
            "team_id": team.id, "fiscal_year": fiscal_year_of(tokyo(now)), "fmt": "xlsx",
            "person_id": ids["staff_home"],  # the admin's people pages
        }
        return ids, samples


def _ward_bound_routes(app, samples):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or not rule.arguments & WARD_BOUND:
            continue
        url = rule.build({arg: samples[arg] for arg in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield app.view_functions[rule.endpoint].access, method, url


def _dump() -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted: the database's whole state."""
    return {
        table.name: sorted(
            (tuple(map(repr, row)) for row in db.session.execute(sa.select(table))), key=repr
        )
        for table in db.metadata.sorted_tables
    }


def _send(client, method, url):
    if "/api/" in url:
        return client.open(url, method=method, json={"answers": {"std-1": "yes"}})
    return client.open(url, method=method, data=HOSTILE_FORM if method != "GET" else None)


@pytest.mark.parametrize("who", ["committee", "admin", "chief"])
def test_people_of_another_ward_get_nothing_and_change_nothing(app, client, sign_in, two_wards,
                                                               who):
    """宮前区's committee member, admin and chief get 404 or 403 on every route that names
    高津区's round, section, ward or team, and no request of theirs changes any table."""
    ids, samples = two_wards
    sign_in(ids[f"{who}_other"])
    checked = 0
    for access_, method, url in _ward_bound_routes(app, samples):
        if "person" not in access_ and who not in access_:
            continue  # refused by its audience: test_routes_refuse_whoever_is_not_allowed
        with app.app_context():
            before = _dump() if method != "GET" else None
        response = _send(client, method, url)
        assert response.status_code in (403, 404), f"{who} {method} {url}"
        if before is not None:
            with app.app_context():
                assert _dump() == before, f"{who} {method} {url} wrote to the database"
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize("who", ["committee", "admin", "chief"])
def test_people_of_the_ward_itself_reach_the_same_pages(app, client, sign_in, two_wards, who):
    """The same URLs are not refused to 高津区's own committee member, admin or chief, so
    the refusals above come from the ward, not from a broken sample URL."""
    ids, samples = two_wards
    sign_in(ids[f"{who}_home"])
    reached = 0
    for access_, method, url in _ward_bound_routes(app, samples):
        if method != "GET" or who not in access_ or url.endswith(".pdf"):
            continue  # (the PDF is the print view rendered, slow; the refusal walk has it)
        response = client.get(url)
        assert response.status_code not in (403, 404), f"{who} GET {url}"
        reached += 1
    assert reached >= 3


def test_ward_scope_reads_the_grants_of_each_role(app_ctx):
    """Reading ("committee") comes with committee and admin grants, managing ("admin") with
    admin grants only; a grant without a ward is the whole city (None)."""
    from app.access import covers, ward_scope

    takatsu, miyamae = factories.ward("高津区"), factories.ward("宮前区")
    both = factories.person()
    both.grants += [Grant(role=GrantRole.COMMITTEE, ward=takatsu),
                    Grant(role=GrantRole.ADMIN, ward=miyamae)]
    city = factories.person()
    city.grants.append(Grant(role=GrantRole.COMMITTEE))
    nobody = factories.person()
    db.session.flush()
    assert ward_scope(both, "committee") == {takatsu.id, miyamae.id}
    assert ward_scope(both, "admin") == {miyamae.id}
    assert ward_scope(city, "committee") is None and ward_scope(city, "admin") == set()
    assert ward_scope(nobody, "committee") == set()
    assert covers(None, [takatsu.id]) and not covers({takatsu.id}, [takatsu.id, miyamae.id])
    assert not covers({takatsu.id}, [])
