"""Two floors: the checklist page's and the first submit's work in the fewest lines the stack
allows, to measure how far the stack itself is from /healthz under the same load.

- ``app``, the floor of Kijun's extensions: Flask, Flask-Login (the trusted header's request
  loader returning the ORM person), Flask-SQLAlchemy's session, Flask-WTF's CSRF token and the
  session cookie, as Kijun uses them.
- ``bare``, the floor of the fixed stack: Flask, SQLAlchemy Core on an engine's connection and
  Flask-WTF's CSRF token; the person is a row, with no Flask-Login and no ORM session.

Both do nothing else: no access rules beyond "signed in", no round checks, no roles, no
validation, no template (the page is one kept string with the person's name, the token and
their answers put in). Two statements a request, in AUTOCOMMIT. ``bench/http_load.py`` serves
them beside Kijun; they are yardsticks, not product paths.
"""

from __future__ import annotations

import os
from html import escape
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, Request, abort, request
from flask_login import LoginManager, UserMixin, current_user
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect, generate_csrf


class Base(so.DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Person(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "person"
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    employee_id: so.Mapped[str] = so.mapped_column(sa.String(32))
    name: so.Mapped[str] = so.mapped_column(sa.String(100))


response = sa.table("response", sa.column("id"), sa.column("round_id"), sa.column("person_id"))
answer = sa.table("answer", sa.column("response_id"), sa.column("standard_id"),
                  sa.column("value"), sa.column("comment"))
ANSWERS = (
    sa.select(answer.c.standard_id, answer.c.value, answer.c.comment)
    .join(response, response.c.id == answer.c.response_id)
    .where(response.c.round_id == sa.bindparam("round_id"),
           response.c.person_id == sa.bindparam("person_id"))
)
PAGE = ("<!doctype html><title>checklist</title><header>{name}</header><form method=post>"
        "<input type=hidden name=csrf_token value={csrf}>{items}<button>提出する</button></form>")
# The first submit in one statement, as Kijun's (without its checks): the response, then its
# answers by standard key. The bench's people are staff of the round's year.
FIRST_SUBMIT = sa.text("""
WITH saved AS (
  INSERT INTO response (round_id, person_id, role, section_id, status, created_at, updated_at,
                        submitted_at)
  SELECT r.id, :person_id, 'staff', a.section_id, 'submitted', now(), now(), now()
  FROM round r JOIN assignment a ON a.fiscal_year = r.fiscal_year AND a.person_id = :person_id
  WHERE r.id = :round_id LIMIT 1
  RETURNING id, round_id)
INSERT INTO answer (response_id, standard_id, value, comment)
SELECT saved.id, s.id, sent.value, sent.comment
FROM saved JOIN round r ON r.id = saved.round_id
CROSS JOIN unnest(CAST(:keys AS text[]), CAST(:values AS text[]), CAST(:comments AS text[]))
  AS sent(key, value, comment)
JOIN standard s ON s.catalogue_id = r.catalogue_id AND s.key = sent.key
""")
ITEM = ("<fieldset><legend>{sid}</legend>" + "".join(
    f"<label><input type=radio name=s{{sid}} value={v}{{{v}}}>{v}</label>" for v in
    ("yes", "no", "na")) + "<textarea name=c{sid}>{comment}</textarea></fieldset>")


def _page(name: str, rows: Any) -> str:
    items = "".join(
        ITEM.format(sid=sid, comment=escape(comment or ""),
                    **{v: " checked" if v == value else "" for v in ("yes", "no", "na")})
        for sid, value, comment in rows)
    return PAGE.format(name=escape(name), csrf=generate_csrf(), items=items)


def _submit_parameters(round_id: int, person_id: int) -> dict[str, Any]:
    body = request.get_json()
    keys = list(body["answers"])
    comments = body.get("comments", {})
    return {"round_id": round_id, "person_id": person_id, "keys": keys,
            "values": [body["answers"][k] for k in keys],
            "comments": [comments.get(k) for k in keys]}


def _flask(name: str) -> tuple[Flask, CSRFProtect]:
    flask_app = Flask(name)
    flask_app.config["SECRET_KEY"] = os.environ["FLASK_SECRET_KEY"]
    flask_app.add_url_rule("/healthz", "healthz", lambda: "ok")
    return flask_app, CSRFProtect(flask_app)


def create_app() -> Flask:
    """The floor of Kijun's extensions (Flask-Login and Flask-SQLAlchemy's ORM session)."""
    floor, csrf = _flask("floor")
    floor.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ["DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS={"pool_recycle": 1800, "isolation_level": "AUTOCOMMIT"},
    )
    db.init_app(floor)
    login = LoginManager(floor)
    header = os.environ["FLASK_AUTH_TRUSTED_HEADER"]

    @login.request_loader
    def load_person(request: Request) -> Person | None:
        return db.session.scalars(
            sa.select(Person).where(Person.employee_id == request.headers.get(header, ""))
        ).first()

    @floor.get("/rounds/<int:round_id>/checklist")
    def checklist(round_id: int) -> str:
        if not current_user.is_authenticated:
            abort(401)
        rows = db.session.execute(ANSWERS, {"round_id": round_id, "person_id": current_user.id})
        return _page(current_user.name, rows)

    @floor.put("/api/v1/rounds/<int:round_id>/checklist")
    @csrf.exempt
    def submit(round_id: int) -> dict[str, bool]:
        if not current_user.is_authenticated:
            abort(401)
        db.session.execute(FIRST_SUBMIT, _submit_parameters(round_id, current_user.id))
        return {"submitted": True}

    return floor


PERSON = sa.text("SELECT id, name FROM person WHERE employee_id = :employee_id")


def create_bare() -> Flask:
    """The floor of the fixed stack: Flask, SQLAlchemy Core and Flask-WTF's token."""
    bare_app, csrf = _flask("bare")
    engine = sa.create_engine(
        os.environ["DATABASE_URL"], pool_recycle=1800, isolation_level="AUTOCOMMIT")
    header = os.environ["FLASK_AUTH_TRUSTED_HEADER"]

    def signed_in(conn: sa.Connection) -> sa.Row[Any]:
        me = conn.execute(PERSON, {"employee_id": request.headers.get(header, "")}).first()
        if me is None:
            abort(401)
        return me

    @bare_app.get("/rounds/<int:round_id>/checklist")
    def checklist(round_id: int) -> str:
        with engine.connect() as conn:
            me = signed_in(conn)
            rows = conn.execute(ANSWERS, {"round_id": round_id, "person_id": me.id}).all()
        return _page(me.name, rows)

    @bare_app.put("/api/v1/rounds/<int:round_id>/checklist")
    @csrf.exempt
    def submit(round_id: int) -> dict[str, bool]:
        with engine.connect() as conn:
            me = signed_in(conn)
            conn.execute(FIRST_SUBMIT, _submit_parameters(round_id, me.id))
        return {"submitted": True}

    return bare_app


app = create_app()
bare = create_bare()
