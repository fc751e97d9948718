"""Bad input gets a clear 4xx and nothing is written: NUL and lone surrogates, deep JSON,
ids beyond the database's integers, oversize bodies and uploads, spreadsheets too large once
unpacked or too long, NUL bytes in a CSV, and the API's request contract (docs/deploy.md)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import Answer, Grant, GrantRole, Person, Role, ServiceGoal
from app.services.organisation.roster_file import RosterError, read_roster
from tests import factories

API = "/api/v1/rounds/{}/checklist"
FISCAL_YEAR = 2025


@pytest.fixture
def world(app):
    """An open round of three standards in 高津区, a staff member of 区民課 who answers it, and
    an administrator who is also a chief and on the committee (so that every page opens)."""
    with app.app_context():
        catalogue = factories.catalogue("limits-2025", standards=3)
        section = factories.section("区民課")
        staff = factories.person(section=section)
        boss = factories.person(section=section, role=Role.CHIEF)
        boss.grants.append(Grant(role=GrantRole.ADMIN, ward_id=None))
        boss.grants.append(Grant(role=GrantRole.COMMITTEE, ward_id=section.ward_id))
        open_round = factories.round_(catalogue)
        db.session.commit()
        return {
            "staff": staff.id,
            "boss": boss.id,
            "round": open_round.id,
            "ward": section.ward_id,
            "section": section.id,
        }


def _answers(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Answer.id))) or 0


def _goals(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(ServiceGoal.id))) or 0


# --- Comments: NUL and lone surrogates -----------------------------------------------------


def test_nul_in_a_comment_via_the_api_is_a_422_on_the_comment(client, sign_in, world, app):
    """A NUL character in a comment is refused with 422 naming the comment; nothing is saved."""
    sign_in(world["staff"])
    response = client.put(
        API.format(world["round"]),
        json={"answers": {"std-1": "yes"}, "comments": {"std-1": "窓口\x00です"}},
    )
    assert response.status_code == 422
    assert "使えない文字" in response.get_json()["fields"]["comments.std-1"]
    assert _answers(app) == 0


def test_a_lone_surrogate_in_json_is_a_422_on_the_comment(client, sign_in, world, app):
    """A comment that is half a UTF-16 pair ("\\ud800") is refused with 422; nothing saved."""
    sign_in(world["staff"])
    body = '{"answers": {"std-1": "yes"}, "comments": {"std-1": "a\\ud800b"}}'
    response = client.put(API.format(world["round"]), data=body, content_type="application/json")
    assert response.status_code == 422
    assert "使えない文字" in response.get_json()["fields"]["comments.std-1"]
    assert _answers(app) == 0


def test_nul_in_a_comment_via_the_form_is_a_400_beside_the_comment(client, sign_in, world, app):
    """The checklist form refuses a comment with a NUL with 400 and the item's message."""
    sign_in(world["staff"])
    response = client.post(
        f"/rounds/{world['round']}/checklist",
        data={"std-1": "yes", "comment__std-1": "窓口\x00です", "save_draft": "一時保存"},
    )
    assert response.status_code == 400
    assert "ひとことに使えない文字" in response.get_data(as_text=True)
    assert _answers(app) == 0


def test_nul_in_any_other_form_is_a_400_page_that_says_so(client, sign_in, world, app):
    """A NUL in a field of any other form (here a chief's section goals) gets a 400 page
    naming the NUL, in the page's language, and nothing is written."""
    sign_in(world["boss"])
    section_id = world["section"]
    url = f"/goals/sections/{section_id}/{FISCAL_YEAR}"
    # The NUL in the second value of a repeated field: every value is checked.
    data = MultiDict(
        [
            ("goals-0-scene", "共通"),
            ("goals-0-goal", "目標"),
            ("goals-0-goal", "目\x00標"),
            ("goals-0-result", ""),
        ]
    )
    response = client.post(url, data=data)
    assert response.status_code == 400
    assert "使えない文字（NUL" in response.get_data(as_text=True)
    client.set_cookie("lang", "en")
    response = client.post(url, data=data)
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)
    assert _goals(app) == 0


def test_other_control_characters_in_a_form_are_refused_but_tab_and_newlines_are_kept(
    client, sign_in, world, app
):
    """A BEL or an ESC in a form field is a 400 like a NUL; tab, CR and LF (a pasted
    paragraph) are not refused."""
    sign_in(world["boss"])
    url = f"/goals/sections/{world['section']}/{FISCAL_YEAR}"
    for bad in ("\x07", "\x1b[31m", "\x0b"):
        data = {"goals-0-scene": "共通", "goals-0-goal": f"目{bad}標", "goals-0-result": ""}
        response = client.post(url, data=data)
        assert response.status_code == 400, repr(bad)
        assert "制御文字" in response.get_data(as_text=True)
    assert _goals(app) == 0
    data = {"goals-0-scene": "共通", "goals-0-goal": "窓口の\t目標\r\n二行目", "goals-0-result": ""}
    response = client.post(url, data=data)
    assert response.status_code != 400
    assert _goals(app) == 1


# --- JSON bodies and the API's request contract ---------------------------------------------


def test_deeply_nested_json_is_a_422_on_the_body(client, sign_in, world, app):
    """JSON nested 100,000 deep (and 40 deep, past JSON_MAX_DEPTH) is a 422, not a 500."""
    sign_in(world["staff"])
    for depth in (100_000, 40):
        body = '{"answers": ' + "[" * depth + "]" * depth + "}"
        response = client.put(
            API.format(world["round"]), data=body, content_type="application/json"
        )
        assert response.status_code == 422, depth
        assert "入れ子が深すぎ" in response.get_json()["fields"]["body"]
    assert _answers(app) == 0


def test_json_depth_is_bounded_exactly(app):
    """A document nested JSON_MAX_DEPTH deep is read and one level more is refused; brackets
    inside strings do not count as depth."""
    bound = app.config["JSON_MAX_DEPTH"]
    with app.app_context():
        assert app.json.loads("[" * bound + "]" * bound) is not None
        with pytest.raises(ValueError, match="deeper"):
            app.json.loads(b"[" * (bound + 1) + b"]" * (bound + 1))
        assert app.json.loads('{"c": "' + "[{" * bound + '"}') == {"c": "[{" * bound}
        save = {"answers": {f"std-{n}": "yes" for n in range(40)}, "comments": {}, "submit": True}
        assert app.json.loads(json.dumps(save)) == save


@pytest.mark.parametrize("part", ["answers", "comments"])
def test_null_instead_of_an_object_is_a_422(client, sign_in, world, app, part):
    """``comments: null`` (or ``answers: null``) is refused as the schema says object."""
    sign_in(world["staff"])
    body = {"answers": {"std-1": "yes"}, part: None}
    response = client.put(API.format(world["round"]), json=body)
    assert response.status_code == 422
    assert part in response.get_json()["fields"]
    assert _answers(app) == 0


@pytest.mark.parametrize(
    "content_type",
    ["application/vnd.api+json", "text/plain", "application/x-www-form-urlencoded"],
)
def test_a_body_that_is_not_application_json_is_a_415(client, sign_in, world, app, content_type):
    """Only application/json is accepted (as documented); anything else gets 415 as JSON."""
    sign_in(world["staff"])
    response = client.put(
        API.format(world["round"]),
        data='{"answers": {"std-1": "yes"}}',
        content_type=content_type,
    )
    assert response.status_code == 415
    assert response.get_json()["error"] == "unsupported_media_type"
    assert _answers(app) == 0


def test_an_oversize_json_body_is_a_short_413(client, sign_in, world, app):
    """A JSON body over MAX_CONTENT_LENGTH gets 413 with a short JSON error, unparsed."""
    sign_in(world["staff"])
    size = app.config["MAX_CONTENT_LENGTH"] + 1
    body = '{"comments": {"std-1": "' + "x" * size + '"}}'
    response = client.put(API.format(world["round"]), data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload_too_large"
    assert len(response.get_data()) < 1000
    assert _answers(app) == 0


def test_an_oversize_form_is_a_short_413_page(client, sign_in, world, app):
    """A form post over MAX_CONTENT_LENGTH gets the short 413 page, never the input back."""
    sign_in(world["staff"])
    size = app.config["MAX_CONTENT_LENGTH"] + 1
    response = client.post(
        f"/rounds/{world['round']}/checklist",
        data={"std-1": "yes", "comment__std-1": "x" * size, "save_draft": "一時保存"},
    )
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "大きすぎます" in page and "xxxxxxxxxx" not in page
    assert len(page) < 20_000
    assert _answers(app) == 0


# --- Ids in URLs --------------------------------------------------------------------------


def _int_routes(app) -> list[tuple[str, str]]:
    """(method, url) for every rule with an ``<int:...>``, each int set to a placeholder."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, url))
    return routes


def test_an_id_beyond_the_databases_integers_is_a_404_on_every_route(client, sign_in, world, app):
    """Every ``<int:...>`` route answers 2³¹ and 2⁶⁴ with 404 (JSON under /api/), never 500."""
    sign_in(world["boss"])
    routes = _int_routes(app)
    assert len(routes) >= 13
    for huge in (2**31, 2**64):
        for method, pattern in routes:
            names = re.findall(r"{(\w+)}", pattern)
            url = pattern.format(**dict.fromkeys(names, huge))
            response = client.open(url, method=method)
            assert response.status_code == 404, (method, url, response.status_code)
            if url.startswith("/api/"):
                assert response.get_json()["error"] == "not_found"
    # The largest id PostgreSQL stores still reaches the view (which finds nothing).
    response = client.get(API.format(2**31 - 1))
    assert response.status_code == 404
    assert response.get_json()["message"] != "見つかりません。"
    assert _answers(app) == 0


# --- Control characters in the path and the query, and page numbers ---------------------

HUGE_PAGE = "99999999999999999999"  # past PostgreSQL's bigint (an OFFSET it cannot take)


def _every_route(app, samples: dict[str, object]) -> list[tuple[str, str, str]]:
    """(method, url with a NUL in a path segment, plain url) for every rule and method. The
    NUL goes in the rule's text arguments (a catalogue's key, a token, a format), or, for a
    rule with none, at the end of its path (no rule matches that: the check runs first)."""
    routes = []
    for rule in app.url_map.iter_rules():
        values = {arg: samples.get(arg, 1) for arg in rule.arguments}
        plain = rule.build(values)[1]
        texts = [arg for arg in rule.arguments if not isinstance(values[arg], int)]
        if texts:
            poisoned = rule.build(values | dict.fromkeys(texts, "a\x00b"))[1]
        else:
            poisoned = plain.rstrip("/") + "%00"
        assert "%00" in poisoned, poisoned
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, poisoned, plain))
    return routes


def _samples(world) -> dict[str, object]:
    """A value for every URL argument: the world's ids, and real keys for the text ones."""
    return {"key": "limits-2025", "round_id": world["round"], "ward_id": world["ward"],
            "section_id": world["section"], "person_id": world["staff"],
            "fiscal_year": FISCAL_YEAR, "fmt": "xlsx", "code": "ja", "filename": "x.css",
            "token": "not-a-token", "standard_key": "std-1"}


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_a_control_character_in_any_path_or_query_is_a_400_never_a_500(
    client, sign_in, world, app, who
):
    """Every route answers a NUL in its path, a NUL in a query value and a control character
    in a query name with 400 (a page that says so; JSON under /api/), anonymous or signed in
    as an admin who is also a chief and on the committee; nothing is written."""
    if who == "admin":
        sign_in(world["boss"])
    routes = _every_route(app, _samples(world))
    assert len(routes) >= 80
    for method, poisoned, plain in routes:
        for url in (poisoned, plain + "?q=%00&person=a%00b", plain + "?x%1by=1&next=%0a"):
            response = client.open(url, method=method, data={"title": "t"})
            assert response.status_code == 400, (who, method, url, response.status_code)
            if url.startswith("/api/"):
                assert "URL" in response.get_json()["message"]
            else:
                assert "使えない文字（NUL などの制御文字）" in response.get_data(as_text=True)
    assert _answers(app) == 0 and _goals(app) == 0
    # In English too.
    client.set_cookie("lang", "en")
    response = client.get("/catalogues/%00")
    assert response.status_code == 400 and "control character" in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_a_page_number_past_the_databases_integers_is_a_400_never_a_500(
    client, sign_in, world, app, who
):
    """``?page=`` and ``?per_page=`` past 2³¹−1 are a 400 on every route (a page that says
    so; JSON under /api/); the largest page allowed still reaches the paged lists, which
    find nothing there (404)."""
    if who == "admin":
        sign_in(world["boss"])
    for method, _poisoned, plain in _every_route(app, _samples(world)):
        for query in (f"page={HUGE_PAGE}", f"page=-{HUGE_PAGE}", f"per_page={HUGE_PAGE}",
                      f"page=1&page={2**31}"):
            response = client.open(f"{plain}?{query}", method=method)
            assert response.status_code == 400, (who, method, plain, query)
            if not plain.startswith("/api/"):
                assert "ページの番号が大きすぎます" in response.get_data(as_text=True)
    if who == "admin":
        for paged in ("/admin/audit", f"/admin/rounds/{world['round']}/mail"):
            assert client.get(f"{paged}?page=1").status_code == 200
            assert client.get(f"{paged}?page={2**31 - 1}").status_code == 404


# --- Roster and goal sheets -----------------------------------------------------------------

ROSTER_HEADER = "職員番号,氏名,メールアドレス,区,部,課,役割\n"


def _roster_line(n: int) -> str:
    return f"E{n:05d},職員{n},e{n}@example.jp,高津区,区民サービス部,区民課,職員\n"


def test_a_nul_byte_in_a_roster_csv_is_a_line_numbered_error(app, runner, tmp_path):
    """`roster import` of a CSV with a NUL byte on line 3 names line 3 and writes nothing."""
    path = tmp_path / "roster.csv"
    text = ROSTER_HEADER + _roster_line(1) + _roster_line(2).replace("職員2", "職\x00員2")
    path.write_bytes(text.encode("utf-8"))
    result = runner.invoke(args=["roster", "import", str(path), "--fiscal-year", "2025"])
    assert result.exit_code == 1
    assert "3行目: 使えない文字（NUL）" in result.stderr
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Person.id))) == 0


def test_a_roster_csv_past_the_row_limit_stops_with_the_line(app_ctx, tmp_path):
    """A CSV longer than IMPORT_MAX_ROWS is refused naming the first line past the limit."""
    app_ctx.config["IMPORT_MAX_ROWS"] = 10
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER_HEADER + "".join(_roster_line(n) for n in range(1, 20)))
    with pytest.raises(RosterError) as refused:
        read_roster(path)
    assert refused.value.errors == [
        "11行目: 行が多すぎます。見出しを含めて 10 行までにしてください"
        "（ここで読むのをやめました）。"
    ]


def _xlsx(path: Path, rows: int) -> Path:
    workbook = Workbook()
    sheet = workbook.worksheets[0]
    sheet.append(["職員番号", "氏名", "メールアドレス", "区", "部", "課", "役割"])
    for n in range(1, rows):
        sheet.append(_roster_line(n).strip().split(","))
    workbook.save(path)
    return path


def test_a_roster_xlsx_past_the_row_limit_stops_with_the_line(app_ctx, tmp_path):
    """An .xlsx longer than IMPORT_MAX_ROWS is refused naming the first line past the limit."""
    app_ctx.config["IMPORT_MAX_ROWS"] = 10
    with pytest.raises(RosterError) as refused:
        read_roster(_xlsx(tmp_path / "roster.xlsx", 30))
    assert refused.value.errors[0].startswith("11行目: 行が多すぎます")


def test_an_xlsx_that_unpacks_too_large_is_refused_before_it_is_opened(
    app_ctx, tmp_path, monkeypatch
):
    """An .xlsx whose parts add up to more than IMPORT_MAX_UNPACKED_BYTES is refused from the
    zip's directory alone: openpyxl never opens it."""
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<row/>" * 2_000_000)  # 12 MB
    assert path.stat().st_size < 100_000
    app_ctx.config["IMPORT_MAX_UNPACKED_BYTES"] = 10 * 1024 * 1024

    def never(*args, **kwargs):
        raise AssertionError("openpyxl opened the file")

    monkeypatch.setattr("openpyxl.load_workbook", never)
    with pytest.raises(RosterError) as refused:
        read_roster(path)
    assert "展開すると 11.4 MB" in refused.value.errors[0]


def test_a_roster_file_over_the_size_limit_is_refused(app_ctx, tmp_path):
    """A file larger than IMPORT_MAX_BYTES is refused before it is read."""
    app_ctx.config["IMPORT_MAX_BYTES"] = 1000
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER_HEADER + "".join(_roster_line(n) for n in range(1, 40)))
    with pytest.raises(RosterError) as refused:
        read_roster(path)
    assert refused.value.errors[0].startswith("ファイルが大きすぎます")


GOALS_HEADER = "部署名,No,場面,目標,実施結果\n"


def _upload(client, world, name: str, data: bytes):
    return client.post(
        f"/goals/wards/{world['ward']}/{FISCAL_YEAR}/import",
        data={"sheet": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_a_goal_sheet_upload_may_exceed_the_request_limit_up_to_its_own(
    client, sign_in, world, app
):
    """The goals import takes files up to IMPORT_MAX_BYTES although larger than
    MAX_CONTENT_LENGTH; past IMPORT_MAX_BYTES it gets a short 413 page and writes nothing."""
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    app.config["IMPORT_MAX_BYTES"] = 100_000
    sign_in(world["boss"])
    padding = "," * 30_000 + "\n"  # blank lines: read and skipped
    fits = (GOALS_HEADER + "区民課,1,共通,目標\n" + padding).encode()
    response = _upload(client, world, "goals.csv", fits)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert _goals(app) == 1

    # Over IMPORT_MAX_BYTES but within the request's room for the form: the file is refused.
    over = (GOALS_HEADER + "区民課,2,共通,目標\n" + padding * 4).encode()
    response = _upload(client, world, "goals.csv", over)
    assert response.status_code == 400
    assert "ファイルが大きすぎます" in response.get_data(as_text=True)

    too_big = (GOALS_HEADER + "区民課,2,共通,目標\n" + padding * 8).encode()
    response = _upload(client, world, "goals.csv", too_big)
    assert response.status_code == 413
    assert len(response.get_data()) < 20_000
    assert _goals(app) == 1


def test_a_goal_sheet_with_a_nul_byte_names_the_line(client, sign_in, world, app):
    """A goal sheet CSV with a NUL byte gets 400 naming its line in the page's language, and
    nothing is written."""
    sign_in(world["boss"])
    data = (GOALS_HEADER + "区民課,1,共通,目標\n区民課,2,共通,目\x00標\n").encode()
    response = _upload(client, world, "goals.csv", data)
    assert response.status_code == 400
    assert "3行目: 使えない文字（NUL）" in response.get_data(as_text=True)
    client.set_cookie("lang", "en")
    response = _upload(client, world, "goals.csv", data)
    assert response.status_code == 400
    assert "Line 3: contains a NUL character" in response.get_data(as_text=True)
    assert _goals(app) == 0


def test_a_goal_sheet_with_thousands_of_bad_lines_gets_a_short_page(client, sign_in, world, app):
    """A thousand bad lines with long cells: the page lists 50, counts the rest, and quotes
    no cell at length. (The client's body stays under 500 kB, which werkzeug's test client
    would spool to a file it never closes.)"""
    sign_in(world["boss"])
    huge = "無" * 100
    lines = "".join(f"{huge}{n},1,共通,目標\n" for n in range(1000))
    response = _upload(client, world, "goals.csv", (GOALS_HEADER + lines).encode())
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "ほかに 950 件の誤りがあります" in page
    assert "無" * 50 not in page
    assert len(page) < 100_000
    assert _goals(app) == 0
