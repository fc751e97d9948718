"""English translations: complete, compiled, no Japanese UI text outside ``_()``, real pages in
English (docs/language.md)."""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import Environment, nodes

from app.extensions import db
from app.i18n import LANG_COOKIE
from app.models import (
    SCENES,
    Answer,
    Catalogue,
    Department,
    ImprovementAction,
    Person,
    PublishedTable,
    Role,
    Round,
    Section,
    SectionAnswer,
    SectionKind,
    ServiceGoal,
    Standard,
    Ward,
    WorkingTeam,
    YearPlan,
)
from tests import factories
from tests.results_world import World, build_world

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "app" / "translations"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo"
# The keywords of the extraction command in docs/language.md (babel's defaults plus these).
KEYWORDS = ("_", "gettext", "ngettext", "_l", "lazy_gettext", "N_")

# Kana and kanji: Japanese words. The middle dot ・ and the full-width punctuation are not
# counted (they join data such as ward names).
JAPANESE = re.compile(r"[\u3040-\u309f\u30a0-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def _source_messages() -> set[str]:
    """The msgids in the source now, extracted with babel.cfg's method map."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, str(ROOT / "babel.cfg"))
    keywords = {k: None for k in KEYWORDS}
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_in_the_source_has_an_english_translation():
    """Each msgid extracted from the code and templates now has a non-empty, non-fuzzy English
    msgstr in the .po (run the update commands of docs/language.md when this fails)."""
    source = _source_messages()
    assert len(source) > 300  # the extraction really read the code and templates
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    missing = sorted(
        msgid
        for msgid in source
        if (m := catalog.get(msgid)) is None or not m.string or m.fuzzy
    )
    assert not missing, "no English translation for:\n" + "\n".join(missing)


def test_translations_keep_every_placeholder():
    """Babel's checks pass: each msgstr has the same %(name)s placeholders as its msgid."""
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="en")
    problems = [f"{m.id}: {errors}" for m, errors in catalog.check()]
    assert not problems, "\n".join(problems)


def test_the_committed_mo_matches_the_po():
    """The compiled messages.mo holds exactly the .po's translations (recompile when it fails:
    ``pybabel compile -d app/translations``)."""
    with PO.open("rb") as fh:
        po = {m.id: m.string for m in read_po(fh, locale="en") if m.id and m.string}
    with MO.open("rb") as fh:
        mo = {m.id: m.string for m in read_mo(fh) if m.id}
    assert mo == po


# --- Japanese outside _() -------------------------------------------------------------------

# Intentional Japanese in templates, by file: (text, why).
TEMPLATE_ALLOWLIST: dict[str, set[str]] = {
    # The language switch names each language in itself, on every page.
    "_account.html": {"日本語"},
}
GETTEXT_CALLS = {"_", "gettext", "ngettext"}


def _template_japanese(source: str) -> list[tuple[int, str]]:
    """Japanese in a template's static text or in string literals outside ``_()`` calls."""
    found: list[tuple[int, str]] = []

    def walk(node: nodes.Node, inside: bool) -> None:
        if (
            isinstance(node, nodes.Call)
            and isinstance(node.node, nodes.Name)
            and node.node.name in GETTEXT_CALLS
        ):
            inside = True
        if isinstance(node, nodes.TemplateData):
            found.extend((node.lineno, text) for text in _japanese_runs(node.data))
        elif isinstance(node, nodes.Const) and isinstance(node.value, str) and not inside:
            found.extend((node.lineno, text) for text in _japanese_runs(node.value))
        for child in node.iter_child_nodes():
            walk(child, inside)

    walk(Environment(extensions=["jinja2.ext.i18n"]).parse(source), False)
    return found


def _japanese_runs(text: str) -> list[str]:
    """The runs of Japanese words in a text (the comments of templates are not parsed)."""
    return [run for run in re.findall(r"\S+", text) if JAPANESE.search(run)]


def test_templates_have_no_japanese_outside_gettext():
    """Every Japanese word on the pages and in the mails is inside ``_()`` (allowlist above)."""
    problems = []
    for path in sorted((ROOT / "app" / "templates").rglob("*")):
        if path.suffix not in {".html", ".txt"}:
            continue
        allowed = TEMPLATE_ALLOWLIST.get(path.name, set())
        for line, text in _template_japanese(path.read_text(encoding="utf-8")):
            if not any(ok in text for ok in allowed):
                problems.append(f"{path.relative_to(ROOT)}:{line}: {text}")
    assert not problems, "Japanese outside _():\n" + "\n".join(problems)


def test_the_template_scan_finds_unwrapped_japanese():
    """The scan itself reports static text and literals, and lets ``_()`` through."""
    found = _template_japanese(
        "<p>保存しました</p>{{ _('一時保存') }}{{ x or '全員' }}{{ _('%(a)s', a='課') }}"
    )
    assert [text for _line, text in found] == ["<p>保存しました</p>", "全員"]


# The Python modules that speak to people on the web (routes, forms, API errors, services whose
# messages reach a page, the charts). Others are data (catalogues, demo data, the era's dates),
# the city's report layouts (exports, annual report) or command-line output for the
# administrator (docs/language.md).
PY_UI_MODULES = (
    "app/__init__.py",
    "app/admin/audit_sentences.py",
    "app/admin/forms.py",
    "app/admin/routes.py",
    "app/api/__init__.py",
    "app/api/routes.py",
    "app/auth/forms.py",
    "app/auth/routes.py",
    "app/checklist/routes.py",
    "app/goals/forms.py",
    "app/results/forms.py",
    "app/results/routes.py",
    "app/results/figures.py",
    "app/goals/routes.py",
    "app/annual/routes.py",
    "app/main/routes.py",
    "app/errors.py",
    "app/checklist/forms.py",
    "app/services/rounds/checklist.py",
    "app/services/rounds/checklist_page.py",
    "app/services/rounds/checklist_save.py",
    "app/services/rounds/rounds.py",
    "app/services/operations/schedule.py",
    "app/services/goals/goals.py",
    "app/services/goals/sheet.py",
    "app/services/goals/teams.py",
    "app/i18n.py",
    "reports/charts.py",
)
# Intentional Japanese literals in those modules: (module, text) -> why.
PY_ALLOWLIST = {
    # western_date writes 2025年11月28日 beside the 令和 date on Japanese pages only.
    ("app/checklist/routes.py", "年"),
    ("app/checklist/routes.py", "月"),
    ("app/checklist/routes.py", "日"),
    ("app/i18n.py", "年"),
    ("app/i18n.py", "月"),
    ("app/i18n.py", "日"),
    # Data: the committee's default name, and the default round title after the 令和 year.
    ("app/goals/routes.py", "サービス推進部会"),
    ("app/services/rounds/rounds.py", " 区役所サービス基準 自己点検"),
    # Stored in the mail ledger in Japanese; shown through reason_label's messages.
    ("app/services/operations/schedule.py", "メールアドレスが登録されていません"),
    ("app/services/operations/schedule.py", "送る前に提出されました"),
    ("app/services/operations/schedule.py", "新しい催促に置き換わったか、予定が変わりました"),
    ("app/services/operations/schedule.py", "送る前に締め切られました"),
    ("app/services/operations/schedule.py", "送る前に課の全員が提出しました"),
    # stored like the reasons above
    ("app/services/operations/schedule.py", "管理者が今すぐ送りました"),
    ("app/services/operations/schedule.py", "サインイン用リンクを使わない設定です"),
    ("app/services/operations/schedule.py", "送る前にサインインが止められました"),
    # Data in the goals service: the city's scenes, a chief's title in the report (区民課長)
    # and the committee's 委員; the goal sheet's column headings (the report's own).
    *(
        ("app/services/goals/goals.py", text)
        for text in (
            "お知らせ", "応対", "対面応対", "地域訪問", "共通", "庁内体制", "庁舎案内",
            "課", "所", "長", "課長", "委員",
        )
    ),  # fmt: skip
    *(
        ("app/services/goals/sheet.py", text)
        for text in (
            "部署名", "部署", "課", "番号", "場面", "目標", "目標及び具体的な取組内容",
            "実施結果", "実施結果及び目標の達成度", "結果",
        )
    ),  # fmt: skip
    # The roles' identities in reports/charts.py; role_name says them through gettext.
    ("reports/charts.py", "職員"),
    ("reports/charts.py", "所属長"),
    ("reports/charts.py", "全体"),
}
PY_GETTEXT_CALLS = {"_", "_l", "gettext", "lazy_gettext", "ngettext"}


def _python_japanese(source: str) -> list[tuple[int, str]]:
    """Japanese string literals outside gettext calls; docstrings and comments do not count."""
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (
            isinstance(node.func, ast.Name) and node.func.id in PY_GETTEXT_CALLS
        ):
            skip.update(id(n) for n in ast.walk(node))
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            skip.add(id(body[0].value))
    return [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and JAPANESE.search(n.value)
        and id(n) not in skip
    ]


@pytest.mark.parametrize("module", PY_UI_MODULES)
def test_python_ui_modules_have_no_japanese_outside_gettext(module):
    """Flash messages, form labels and API errors of the web modules go through gettext."""
    path = ROOT / module
    if not path.exists():
        pytest.skip(f"{module} is gone")
    problems = [
        f"{module}:{line}: {text!r}"
        for line, text in _python_japanese(path.read_text(encoding="utf-8"))
        if (module, text) not in PY_ALLOWLIST
    ]
    assert not problems, "\n".join(problems)


def test_the_python_scan_finds_unwrapped_japanese():
    """The Python scan reports a bare literal and skips docstrings and gettext calls."""
    source = '"""説明。"""\nx = _("保存")\ny = "保存しました"\n'
    assert _python_japanese(source) == [(3, "保存しました")]


# --- pages in English -----------------------------------------------------------------------


class _Text(HTMLParser):
    """The text a person reads or hears: text outside script and style, and labels."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.lang: str | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang")
        if tag in {"script", "style", "template"}:
            self._skip += 1
        for name in ("aria-label", "title", "alt", "placeholder"):
            if found.get(name):
                self.parts.append(str(found[name]))
        if tag == "input" and found.get("type") in {"submit", "button"} and found.get("value"):
            self.parts.append(str(found["value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "template"} and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


# The columns whose values are data, not UI: the names of wards, sections and people, the
# titles of rounds and catalogues, the texts of the standards, goals, plans and actions, comments.
# The scenes of the standards are not among them: they are a fixed list (app/models.py SCENES)
# that the pages name in the page's language.
DATA_COLUMNS = (
    Standard.text,
    Section.name,
    Department.name,
    Ward.name,
    SectionKind.name,
    Person.name,
    Round.title,
    Catalogue.title,
    ServiceGoal.scene,
    ServiceGoal.goal,
    ServiceGoal.result,
    WorkingTeam.name,
    WorkingTeam.purpose,
    YearPlan.policy,
    YearPlan.summary,
    YearPlan.committee_name,
    YearPlan.committee_members,
    Answer.comment,
    SectionAnswer.comment,
    ImprovementAction.action,
    ImprovementAction.outcome,
    PublishedTable.source,
)


def data_strings(extra: set[str] | None = None) -> list[str]:
    """Everything Japanese that is data, not UI (``DATA_COLUMNS``, and ``extra``), each as the
    page's text reads it (runs of white space as one), longest first."""
    found: set[str] = {"日本語"}  # the language switch
    for column in DATA_COLUMNS:
        found.update(v for v in db.session.scalars(sa.select(column).distinct()) if v)
    found.update(extra or ())
    normalised = {" ".join(text.split()) for text in found}
    # A scene of a goal that is also a scene of the standards is a word of the fixed list.
    normalised -= set(SCENES)
    # Only what a page could be faulted for: Japanese, or Japanese punctuation ("3" is no data).
    japanese = (t for t in normalised if JAPANESE.search(t) or re.search("[（）：、。「」]", t))
    return sorted(japanese, key=len, reverse=True)


def _english_page(app: Flask, client: FlaskClient, url: str) -> str:
    """The page's readable text in English; fails on any Japanese left once data is removed."""
    client.set_cookie(LANG_COOKIE, "en")
    response = client.get(url)
    assert response.status_code == 200, url
    parser = _Text()
    parser.feed(response.get_data(as_text=True))
    assert parser.lang == "en", url
    text = " ".join(" ".join(parser.parts).split())
    with app.app_context():
        stripped = text
        for data in data_strings():
            stripped = stripped.replace(data, " ")
    leftovers = sorted({run for run in re.findall(r"\S+", stripped) if JAPANESE.search(run)})
    assert not leftovers, f"{url}: Japanese UI text left: {leftovers}"
    return text


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        return build_world()


def test_sign_in_page_is_english(app, client):
    """The sign-in page in English: its labels and button, no Japanese, lang="en"."""
    text = _english_page(app, client, "/auth/login")
    assert "Staff number" in text and "Password" in text and "Sign in" in text


def test_home_page_is_english_with_catalogue_titles_as_data(app, client):
    """The home page lists the catalogues in English around their Japanese titles."""
    with app.app_context():
        factories.catalogue()
        db.session.commit()
    text = _english_page(app, client, "/")
    assert "Ward office service standards self-check" in text and "All wards" in text
    assert "テスト基準 test-2025" in text  # the catalogue's title is data and stays


def test_my_page_and_checklist_are_english_with_western_dates(app, client, sign_in):
    """/me, the checklist and the chief's section page in English: the status, the deadline as
    a Western date (no 令和), the three choices; the standards' texts stay Japanese."""
    from app.models import utcnow
    from app.wareki import fiscal_year_of, tokyo

    year = fiscal_year_of(tokyo(utcnow()))  # chiefs are chiefs of the current fiscal year
    with app.app_context():
        section = factories.section("総務課")
        person = factories.person(section=section, role=Role.CHIEF, fiscal_year=year)
        factories.person(section=section, fiscal_year=year)
        round_ = factories.round_(factories.catalogue(fiscal_year=year))
        round_id = round_.id
        closes = round_.closes_at
        db.session.commit()
        sign_in(person)
    from app.i18n import english_datetime

    me = _english_page(app, client, "/me")
    assert "My rounds" in me and "Not started" in me and "Deadline" in me
    assert english_datetime(closes) in me and "令和" not in me
    checklist = _english_page(app, client, f"/rounds/{round_id}/checklist")
    for words in ("Complies", "Does not comply", "Not applicable", "Save draft", "Submit"):
        assert words in checklist
    assert "基準1の文" in checklist  # catalogue content is data, not UI
    section_page = _english_page(app, client, f"/rounds/{round_id}/section")
    assert "Who in the section has answered" in section_page and "Not started" in section_page


def test_results_page_is_english(client, app, sign_in, world):
    """The committee's results page in English: the table's headings and notes, FY labels."""
    sign_in(world.takatsu_committee)
    text = _english_page(app, client, f"/results/rounds/{world.round_id}")
    assert "Compliance rate" in text and "Response rate" in text
    assert "FY2024" in text and "FY2025" in text
    assert "4 November 2025, 9:00" in text  # the period, as a Western date


def test_japanese_results_page_shows_the_period_as_reiwa_and_western(client, sign_in, world):
    """On the Japanese results page the round's period is in 令和 with the Western dates beside."""
    sign_in(world.takatsu_committee)
    html = client.get(f"/results/rounds/{world.round_id}").get_data(as_text=True)
    assert "令和7年11月4日 9時00分" in html and "（2025年11月4日〜" in html


@pytest.mark.parametrize(
    ("who", "url", "words"),
    [
        ("admin", "/admin/rounds", "Manage rounds"),
        ("admin", "/admin/rounds/new", "Create a round"),
        ("admin", "/admin/rounds/{round_id}/mail", "Email sending status"),
        ("admin", "/results/", "Results of the rounds"),
        ("takatsu_committee", "/results/rounds/{round_id}/breakdown", "Results by ward"),
        ("takatsu_committee", "/catalogues/t-2025", "Who answers"),
        ("takatsu_committee", "/goals/", "Goals and policy"),
        ("takatsu_committee", "/goals/wards/{ward_id}/2025", "Working teams"),
        ("takatsu_committee", "/annual-report/", "Annual report"),
    ],
)
def test_more_pages_are_english(client, app, sign_in, world, who, url, words):
    """The admin's round pages, the results list and breakdown, a catalogue, the goals and
    annual report pages: English, no Japanese UI text left."""
    sign_in(getattr(world, who))
    text = _english_page(
        app, client, url.format(round_id=world.round_id, ward_id=world.takatsu_ward_id)
    )
    assert words in text


def test_japanese_is_still_the_default(app, client):
    """Without the cookie the sign-in page is Japanese (the service is Japanese first)."""
    html = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="ja">' in html and "職員番号" in html and "Staff number" not in html


def test_japanese_my_page_shows_the_deadline_as_reiwa_and_western(app, client, sign_in):
    """On Japanese pages the deadline is written in 令和 and, beside it, as a Western date."""
    from app.checklist.routes import western_date
    from app.wareki import reiwa_datetime

    with app.app_context():
        person = factories.person(section=factories.section("総務課"))
        closes = factories.round_(factories.catalogue()).closes_at
        db.session.commit()
        sign_in(person)
    html = client.get("/me").get_data(as_text=True)
    assert reiwa_datetime(closes) in html and f"（{western_date(closes)}）" in html


def test_templates_follow_force_locale_within_a_request(app):
    """Inside one request, a template's ``_()`` follows Flask-Babel's force_locale and returns
    to the page's language after it."""
    from flask import render_template_string
    from flask_babel import force_locale

    template = "{{ _('サインイン') }}"
    with app.test_request_context("/"):
        assert render_template_string(template) == "サインイン"
        with force_locale("en"):
            assert render_template_string(template) == "Sign in"
        assert render_template_string(template) == "サインイン"
    with app.test_request_context("/", headers={"Cookie": f"{LANG_COOKIE}=en"}):
        assert render_template_string(template) == "Sign in"
