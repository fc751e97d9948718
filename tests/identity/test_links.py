"""Personal sign-in links (docs/auth.md, "Sign-in links"), attacked: guessing, enumeration,
another person's link, a link of one round on another, fixation, leaks of the token, people
who left or are blocked, the close, revoking and sign-out; and the step-up of a link session."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from app.access import VIA_LINK
from app.extensions import db
from app.models import (
    Assignment,
    AuditEvent,
    Grant,
    GrantRole,
    LoginAttempt,
    Person,
    Role,
    SignInLink,
)
from app.services.identity import links
from app.wareki import fiscal_year_of, tokyo
from tests import factories

PASSWORD = "correct-horse-battery"
STEP_UP = "この操作にはパスワードでのサインインが必要です。"
REFUSED = "このリンクは使えません。無効にされたか、正しくないリンクです。"
NOT_OPEN = "この調査は受付中ではないため、このリンクは使えません。"


@pytest.fixture
def world(app: Flask) -> dict[str, int]:
    """高津区 this fiscal year: a staff member, a second one, a chief who is also a city-wide
    admin and committee member (with a password), a blocked person and one who left; two
    open rounds (A and B) and one that closed yesterday (C)."""
    year = fiscal_year_of(tokyo(datetime.now(UTC)))
    with app.app_context():
        section = factories.section("区民課")
        staff = factories.person(section=section, fiscal_year=year, employee_id="S0001")
        other = factories.person(section=section, fiscal_year=year, employee_id="S0002")
        boss = factories.person(
            section=section, role=Role.CHIEF, fiscal_year=year, employee_id="B0001"
        )
        boss.password_hash = generate_password_hash(PASSWORD)
        boss.grants.append(Grant(role=GrantRole.ADMIN))
        boss.grants.append(Grant(role=GrantRole.COMMITTEE))
        blocked = factories.person(section=section, fiscal_year=year, employee_id="X0001")
        blocked.sign_in_blocked = True
        left = factories.person(section=section, fiscal_year=year - 1, employee_id="L0001")
        catalogue = factories.catalogue("links-test", fiscal_year=year)
        round_a = factories.round_(catalogue, title="調査A")
        round_b = factories.round_(catalogue, title="調査B")
        round_c = factories.closed_round(catalogue, title="調査C")
        db.session.commit()
        return {
            "staff": staff.id, "other": other.id, "boss": boss.id, "blocked": blocked.id,
            "left": left.id, "a": round_a.id, "b": round_b.id, "c": round_c.id,
        }


def issue(app: Flask, person_id: int, round_id: int) -> str:
    """A link of the person for the round, as the scheduler makes one (the token in clear)."""
    with app.app_context():
        (token,) = links.issue_links([(person_id, round_id)], datetime.now(UTC))
        db.session.commit()
    return token


def signed_in(client: FlaskClient) -> tuple[str | None, int | None]:
    """(person id, link round) of the client's session."""
    with client.session_transaction() as session:
        return session.get("_user_id"), session.get(VIA_LINK)


def audit_rows(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))
        db.session.expunge_all()
        return rows


# --- The link signs in, and leaves the token behind ----------------------------------------------


def test_a_link_signs_its_person_in_and_redirects_to_the_checklist_without_the_token(
    app, client, world
):
    """One click: a session of the person, limited to the link's round, and a redirect to the
    checklist at a URL without the token, with no Referer allowed and nothing cached."""
    token = issue(app, world["staff"], world["a"])
    response = client.get(f"/r/{token}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/rounds/{world['a']}/checklist"
    assert token not in response.headers["Location"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert signed_in(client) == (str(world["staff"]), world["a"])
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert token not in page.get_data(as_text=True)


def test_only_the_tokens_hash_is_stored(app, client, world):
    """The database holds the SHA-256 of the token, in no table the token itself."""
    token = issue(app, world["staff"], world["a"])
    client.get(f"/r/{token}")
    with app.app_context():
        (link,) = db.session.scalars(sa.select(SignInLink))
        assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)):
                assert token not in repr(tuple(row)), table.name


def test_a_link_session_can_answer_its_own_checklist_and_read_the_receipt(app, client, world):
    """The person who came by the link saves, submits and reads their receipt."""
    token = issue(app, world["staff"], world["a"])
    client.get(f"/r/{token}")
    answers = {f"std-{i}": "yes" for i in range(1, 4)}
    response = client.post(
        f"/rounds/{world['a']}/checklist", data={**answers, "submit_answers": "1"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/rounds/{world['a']}/receipt")
    receipt = client.get(response.headers["Location"])
    assert receipt.status_code == 200
    assert client.get("/api/v1/rounds").status_code == 200


# --- Guessing and enumeration ---------------------------------------------------------------------


def test_guessing_is_throttled_per_address_like_passwords(app, client, world):
    """Twenty wrong tokens from one address are each refused and recorded; then even the right
    token is refused unchecked (429) from that address, while another address still works."""
    token = issue(app, world["staff"], world["a"])
    for n in range(20):
        response = client.get(f"/r/guess{n:040d}")
        assert response.status_code == 400
        assert REFUSED in response.get_data(as_text=True)
    blocked = client.get(f"/r/{token}")
    assert blocked.status_code == 429
    assert "しばらく（15分）お待ちください" in blocked.get_data(as_text=True)
    assert signed_in(client) == (None, None)
    elsewhere = client.get(f"/r/{token}", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert elsewhere.status_code == 302
    with app.app_context():
        attempts = list(db.session.scalars(sa.select(LoginAttempt)))
    assert len(attempts) == 20
    assert {(a.employee_id, a.succeeded) for a in attempts} == {(links.LINK_ATTEMPT, False)}


def test_wrong_passwords_and_wrong_tokens_share_the_address_limit(app, client, world):
    """Fifteen wrong passwords and five wrong tokens use up the address: the next link waits."""
    token = issue(app, world["staff"], world["a"])
    for n in range(15):
        client.post("/auth/login", data={"employee_id": f"N{n:04d}", "password": "wrong-one!"})
    for n in range(5):
        client.get(f"/r/wrong{n}")
    assert client.get(f"/r/{token}").status_code == 429


def test_the_stored_hash_is_compared_in_constant_time(app, client, world, monkeypatch):
    """The found row's hash is checked against the token's with hmac.compare_digest."""
    token = issue(app, world["staff"], world["a"])
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def compare(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare)
    assert client.get(f"/r/{token}").status_code == 302
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert (digest, digest) in calls


def test_unknown_revoked_blocked_and_left_links_look_alike(app, client, world):
    """A made-up token, a revoked link, a blocked person's and a leaver's get the same page
    and status: the answer does not tell which tokens exist or whose they are."""
    revoked = issue(app, world["other"], world["a"])
    with app.app_context():
        db.session.execute(sa.update(SignInLink).values(revoked_at=datetime.now(UTC)))
        db.session.commit()
    pages = {
        "unknown": client.get("/r/" + "A" * 43),
        "revoked": client.get(f"/r/{revoked}"),
        "blocked": client.get(f"/r/{issue(app, world['blocked'], world['a'])}"),
        "left": client.get(f"/r/{issue(app, world['left'], world['a'])}"),
    }
    bodies = {key: (r.status_code, r.get_data(as_text=True)) for key, r in pages.items()}
    assert bodies["unknown"][0] == 400
    assert REFUSED in bodies["unknown"][1]
    assert len(set(bodies.values())) == 1, bodies.keys()
    assert all(r.headers["Referrer-Policy"] == "no-referrer" for r in pages.values())
    assert all("/r/" not in body for _status, body in bodies.values())  # nor in its own links
    assert signed_in(client) == (None, None)
    # Only the made-up token is a failed attempt; none is in the audit log (anonymous clients
    # must not grow it).
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LoginAttempt.id))) == 1
    assert audit_rows(app) == []


def test_a_link_is_refused_once_the_years_roster_no_longer_names_its_person(app, client, world):
    """A ward's first year: a roster of the year without the person (who has no earlier year,
    so is no leaver by the previous roster) ends their link: refused as a leaver's, nobody
    signed in, while a colleague's link still works."""
    token = issue(app, world["other"], world["a"])
    kept = issue(app, world["staff"], world["a"])
    with app.app_context():
        db.session.execute(sa.delete(Assignment).where(Assignment.person_id == world["other"]))
        db.session.commit()
    refused = client.get(f"/r/{token}")
    assert refused.status_code == 400 and REFUSED in refused.get_data(as_text=True)
    assert signed_in(client) == (None, None)
    assert client.get(f"/r/{kept}").status_code == 302


# --- Whose link, which round ----------------------------------------------------------------------


def test_a_link_signs_in_only_its_own_person(app, client, sign_in, world):
    """Someone signed in as themself who opens another person's link is that person now, on
    a fresh session limited to that person's checklists: never their own roles with the
    other's link, never the other's checklist under their own name."""
    sign_in(world["boss"])
    assert client.get("/admin/rounds").status_code == 200
    token = issue(app, world["staff"], world["a"])
    client.get(f"/r/{token}")
    assert signed_in(client) == (str(world["staff"]), world["a"])
    with app.app_context():
        staff_name = db.session.get_one(Person, world["staff"]).name
        boss_name = db.session.get_one(Person, world["boss"]).name
    page = client.get("/me").get_data(as_text=True)
    assert staff_name in page and boss_name not in page
    refused = client.get("/admin/rounds")
    assert refused.status_code == 302 and "/auth/login" in refused.headers["Location"]


def test_the_same_person_already_signed_in_with_a_password_keeps_that_session(
    app, client, sign_in, world
):
    """A chief and admin who opens their own mail's link stays fully signed in."""
    sign_in(world["boss"])
    client.get(f"/r/{issue(app, world['boss'], world['a'])}")
    assert signed_in(client) == (str(world["boss"]), None)
    assert client.get("/admin/rounds").status_code == 200


def test_a_link_of_round_a_works_only_while_round_a_is_open(app, client, world):
    """The session opens the person's own checklists (round B's too), but the link itself is
    refused once round A has closed, although round B is still open."""
    token = issue(app, world["staff"], world["a"])
    client.get(f"/r/{token}")
    assert client.get(f"/rounds/{world['b']}/checklist").status_code == 200
    with app.app_context():
        from app.models import Round

        round_a = db.session.get_one(Round, world["a"])
        round_a.closes_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    other_browser = app.test_client()
    response = other_browser.get(f"/r/{token}")
    assert response.status_code == 410
    assert NOT_OPEN in response.get_data(as_text=True)
    assert signed_in(other_browser) == (None, None)


def test_a_link_of_a_closed_round_is_refused(app, client, world):
    """A link of a round that has closed signs nobody in."""
    response = client.get(f"/r/{issue(app, world['staff'], world['c'])}")
    assert response.status_code == 410
    assert signed_in(client) == (None, None)


# --- Fixation, sign-out, revoking -----------------------------------------------------------------


def test_the_link_starts_a_fresh_session(app, client, world):
    """Whatever the browser's session held before the click is gone after it (a session
    planted before the link is followed does not survive), and a copy of the old cookie is
    signed in as nobody."""
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
        session[VIA_LINK] = world["b"]
    before = client.get_cookie("session")
    assert before is not None
    client.get(f"/r/{issue(app, world['staff'], world['a'])}")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session[VIA_LINK] == world["a"]
    after = client.get_cookie("session")
    assert after is not None and after.value != before.value
    attacker = app.test_client()
    attacker.set_cookie("session", before.value)
    assert attacker.get("/me").status_code == 302


def test_sign_out_ends_the_session_and_the_links_of_that_round(app, client, world):
    """Signing out of a link session signs out, and that round's links of the person stop
    working; the person's link of another round still works."""
    token_a = issue(app, world["staff"], world["a"])
    token_b = issue(app, world["staff"], world["b"])
    client.get(f"/r/{token_a}")
    client.post("/auth/logout")
    assert signed_in(client) == (None, None)
    assert client.get(f"/r/{token_a}").status_code == 400
    assert client.get(f"/r/{token_b}").status_code == 302
    rows = [(r.action, r.actor_id, r.after) for r in audit_rows(app)]
    assert ("sign_in_link.revoke", world["staff"], '{"links":1,"sign_out":true}') in rows


def test_an_admin_revokes_one_persons_links_and_their_link_session_ends(
    app, client, sign_in, world
):
    """The person's page revokes their links (counted in the audit log, never a token); the
    session a link had opened ends at its next request."""
    token = issue(app, world["staff"], world["a"])
    issue(app, world["staff"], world["b"])
    victim_browser = app.test_client()
    victim_browser.get(f"/r/{token}")
    sign_in(world["boss"])
    page = client.get(f"/admin/people/{world['staff']}").get_data(as_text=True)
    assert "使えるサインイン用リンク（受付中の調査のメールに入れたもの）: 2 件" in page
    response = client.post(f"/admin/people/{world['staff']}/sign-in-links/revoke")
    assert response.status_code == 302
    assert victim_browser.get("/me").status_code == 302
    assert app.test_client().get(f"/r/{token}").status_code == 400
    (row,) = [r for r in audit_rows(app) if r.action == "sign_in_link.revoke"]
    assert (row.actor_id, row.target_type, row.target_id, row.after) == (
        world["boss"], "person", str(world["staff"]), '{"links":2}')
    assert token not in (row.after or "") + (row.before or "")


def test_an_admin_revokes_a_whole_rounds_links(app, client, sign_in, world):
    """The round's mail page revokes every link of that round, not the other rounds'."""
    tokens = [issue(app, world[p], world["a"]) for p in ("staff", "other")]
    keep = issue(app, world["staff"], world["b"])
    sign_in(world["boss"])
    page = client.get(f"/admin/rounds/{world['a']}/mail").get_data(as_text=True)
    assert "使えるリンク: 2 件" in page
    client.post(f"/admin/rounds/{world['a']}/links/revoke")
    for token in tokens:
        assert app.test_client().get(f"/r/{token}").status_code == 400
    assert app.test_client().get(f"/r/{keep}").status_code == 302
    assert client.get("/admin/rounds").status_code == 200  # the admin is still signed in
    (row,) = [r for r in audit_rows(app) if r.action == "sign_in_link.revoke"]
    assert (row.target_type, row.target_id, row.after) == ("round", str(world["a"]),
                                                          '{"links":2}')


def test_the_links_stop_when_the_person_is_blocked_or_leaves(app, client, world):
    """A link that worked is refused once an admin blocks the person, and once the roster
    shows them as having left."""
    token = issue(app, world["staff"], world["a"])
    assert app.test_client().get(f"/r/{token}").status_code == 302
    with app.app_context():
        db.session.get_one(Person, world["staff"]).sign_in_blocked = True
        db.session.commit()
    assert app.test_client().get(f"/r/{token}").status_code == 400
    with app.app_context():
        db.session.get_one(Person, world["staff"]).sign_in_blocked = False
        db.session.execute(
            sa.update(Assignment)
            .where(Assignment.person_id == world["staff"])
            .values(fiscal_year=Assignment.fiscal_year - 1)
        )
        db.session.commit()
    assert app.test_client().get(f"/r/{token}").status_code == 400


# --- Step-up -------------------------------------------------------------------------------------


def test_a_link_session_is_a_person_only_and_steps_up_elsewhere(app, client, world):
    """An admin, committee member and chief who came by link sees no admin, results or goals
    menu; their section page asks for the password first and says so, and after signing in
    with the password they are back where they asked, with every role."""
    client.get(f"/r/{issue(app, world['boss'], world['a'])}")
    nav = client.get("/me").get_data(as_text=True).split('class="site-nav"', 1)[1]
    nav = nav.split("</nav>", 1)[0]
    for label in ("調査の管理", "目標", "結果"):
        assert label not in nav
    response = client.get(f"/rounds/{world['a']}/section")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/auth/login?next=")
    login_page = client.get(location)
    assert login_page.status_code == 200  # the form, not a redirect back (no loop)
    assert STEP_UP in login_page.get_data(as_text=True)
    done = client.post(location, data={"employee_id": "B0001", "password": PASSWORD})
    assert done.headers["Location"] == f"/rounds/{world['a']}/section"
    assert signed_in(client) == (str(world["boss"]), None)
    assert client.get("/admin/rounds").status_code == 200


def test_a_link_session_gets_a_step_up_answer_from_the_api(app, client, world):
    """The API's committee routes answer a link session 401 with the reason."""
    client.get(f"/r/{issue(app, world['boss'], world['c'])}")  # closed: refused, no session
    client.get(f"/r/{issue(app, world['boss'], world['a'])}")
    response = client.get(f"/api/v1/rounds/{world['c']}/compliance")
    assert response.status_code == 401
    assert response.get_json() == {"error": "password_sign_in_required", "message": STEP_UP}


# --- Leaks ---------------------------------------------------------------------------------------


def test_the_token_is_in_no_log_line(app, client, sign_in, world, caplog):
    """Following, refusing and revoking a link logs nothing that holds the token, at any level."""
    caplog.set_level(logging.DEBUG)
    token = issue(app, world["staff"], world["a"])
    client.get(f"/r/{token}")
    client.post("/auth/logout")
    client.get(f"/r/{token}")  # revoked by the sign-out
    client.get(f"/r/{token[:-1]}")
    for record in caplog.records:
        assert token not in record.getMessage()
        assert token[:-1] not in record.getMessage()
    for row in audit_rows(app):
        assert token[:20] not in " ".join(str(v) for v in vars(row).values())


def test_links_are_off_when_the_setting_says_so(app, client, world):
    """With SIGN_IN_LINKS off a link is a 404, as if there were none."""
    token = issue(app, world["staff"], world["a"])
    app.config["SIGN_IN_LINKS"] = False
    assert client.get(f"/r/{token}").status_code == 404
    assert signed_in(client) == (None, None)
