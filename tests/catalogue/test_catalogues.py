"""The standards catalogues: YAML files in surveys/, their validation, loading and CLI."""

from __future__ import annotations

import shutil
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from flask import Flask
from flask.testing import FlaskCliRunner

from app.extensions import db
from app.models import (
    Answer,
    AnswerValue,
    Audience,
    Catalogue,
    Response,
    Role,
    Round,
    SectionAnswer,
    SectionKind,
    Standard,
    Ward,
)
from app.services.catalogue.catalogues import list_catalogues, load_catalogues
from app.services.catalogue.parsing import CatalogueError
from app.services.catalogue.reading import read_catalogues
from tests import factories

SURVEYS = Path(__file__).resolve().parents[2] / "surveys"
EXPECTED_COUNTS = {"city-2024": 36, "takatsu-2024": 31, "takatsu-2025": 31, "miyamae-2020": 33}

HEADER = """\
key: test-2024
title: テスト基準
fiscal_year: 2024
source: tests
"""


def with_header(body: str) -> str:
    """HEADER followed by a dedented catalogue body."""
    return HEADER + textwrap.dedent(body)


def write(directory: Path, name: str, text: str) -> Path:
    """Write a catalogue file (dedented) and return its path."""
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    """The errors ``read_catalogues`` raises for ``path``."""
    with pytest.raises(CatalogueError) as caught:
        read_catalogues(path)
    assert caught.value.errors, "CatalogueError without messages"
    return caught.value.errors


def standards_of(key: str) -> list[Standard]:
    """The loaded standards of one catalogue, in display order."""
    return list(
        db.session.scalars(
            sa.select(Standard)
            .join(Catalogue)
            .where(Catalogue.key == key)
            .order_by(Standard.position)
        )
    )


def by_number(key: str) -> dict[int, Standard]:
    return {s.number: s for s in standards_of(key)}


def copy_surveys(tmp_path: Path) -> Path:
    """A private copy of surveys/ that a test may edit."""
    target = tmp_path / "surveys"
    shutil.copytree(SURVEYS, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact occurrence of ``old`` in a file."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def answer_standards(standard_numbers: dict[int, str], catalogue_key: str) -> None:
    """Answer some standards of a catalogue: a Response with Answer or SectionAnswer rows."""
    catalogue = db.session.scalars(sa.select(Catalogue).where(Catalogue.key == catalogue_key)).one()
    section = factories.section("総務課", kinds=("庁舎管理担当課",))
    chief = factories.person(section=section, role=Role.CHIEF, fiscal_year=catalogue.fiscal_year)
    round_ = Round(
        title="テスト調査",
        catalogue=catalogue,
        fiscal_year=catalogue.fiscal_year,
        opens_at=datetime(2024, 11, 1, tzinfo=UTC),
        closes_at=datetime(2024, 11, 30, tzinfo=UTC),
    )
    response = Response(round=round_, person_id=chief.id, role=Role.CHIEF, section_id=section.id)
    db.session.add_all([round_, response])
    db.session.flush()
    numbers = by_number(catalogue_key)
    for number, kind in standard_numbers.items():
        standard = numbers[number]
        if kind == "section":
            db.session.add(
                SectionAnswer(
                    round_id=round_.id,
                    section_id=section.id,
                    standard_id=standard.id,
                    response_id=response.id,
                    value=AnswerValue.YES,
                )
            )
        else:
            response.answers.append(Answer(standard_id=standard.id, value=AnswerValue.YES))
    db.session.commit()


# --- Validation --------------------------------------------------------------------------------


def test_missing_key_names_file_and_standard(tmp_path: Path) -> None:
    """A standard without key is reported with the file, its number and 'key なし'."""
    path = write(
        tmp_path,
        "x.yaml",
        with_header(
            """\
            standards:
              - {number: 5, text: 文, scene: 応対, audience: everyone}
            """
        ),
    )
    assert errors_of(path) == [f"{path}: 基準 No.5 (key なし): key がありません"]


def test_duplicate_number_is_reported(tmp_path: Path) -> None:
    """Two standards with one number: the message names the file, the number and both keys."""
    path = write(
        tmp_path,
        "x.yaml",
        with_header(
            """\
            standards:
              - {number: 1, key: first, text: 文, scene: 応対, audience: everyone}
              - {number: 1, key: second, text: 文, scene: 応対, audience: everyone}
            """
        ),
    )
    [message] = errors_of(path)
    assert message.startswith(f"{path}: 基準 No.1 (second): No.1 が重複しています")
    assert "first" in message


def test_duplicate_key_is_reported(tmp_path: Path) -> None:
    """Two standards with one key: the message names the file, the standard and the other one."""
    path = write(
        tmp_path,
        "x.yaml",
        with_header(
            """\
            standards:
              - {number: 1, key: same, text: 文, scene: 応対, audience: everyone}
              - {number: 2, key: same, text: 文, scene: 応対, audience: everyone}
            """
        ),
    )
    [message] = errors_of(path)
    assert message.startswith(f"{path}: 基準 No.2 (same): key same が重複しています")
    assert "No.1" in message


def test_unknown_audience_is_reported(tmp_path: Path) -> None:
    """An audience other than everyone/section names the file, the standard and the value."""
    path = write(
        tmp_path,
        "x.yaml",
        with_header(
            """\
            standards:
              - {number: 3, key: three, text: 文, scene: 応対, audience: staff}
            """
        ),
    )
    [message] = errors_of(path)
    assert message.startswith(f'{path}: 基準 No.3 (three): audience "staff" は使えません')


def test_unknown_scene_is_reported(tmp_path: Path) -> None:
    """A scene outside SCENES (the 「対応」 of 宮前区's FY2020 action plan) names the file, the
    standard and the scene."""
    path = write(
        tmp_path,
        "x.yaml",
        with_header(
            """\
            standards:
              - {number: 4, key: four, text: 文, scene: 対応, audience: everyone}
            """
        ),
    )
    [message] = errors_of(path)
    assert message.startswith(f'{path}: 基準 No.4 (four): 場面 (scene) "対応" は使えません')
    assert "応対" in message  # the vocabulary is listed


def test_unknown_section_kind_is_reported(tmp_path: Path) -> None:
    """A section kind outside SECTION_KINDS names the file, the standard and the kind."""
    path = write(
        tmp_path,
        "x.yaml",
        with_header(
            """\
            standards:
              - number: 26
                key: reception
                text: 文
                scene: 庁舎案内
                audience: section
                section_kinds: [庁舎管理担当課, 経理課]
            """
        ),
    )
    [message] = errors_of(path)
    assert message.startswith(f'{path}: 基準 No.26 (reception): section_kinds の "経理課"')


def test_section_kinds_on_everyone_standard_is_reported(tmp_path: Path) -> None:
    """section_kinds on an everyone standard is refused, naming the file and the standard."""
    path = write(
        tmp_path,
        "x.yaml",
        with_header(
            """\
            standards:
              - {number: 1, key: one, text: 文, scene: 応対, audience: everyone,
                 section_kinds: [研修担当課]}
            """
        ),
    )
    [message] = errors_of(path)
    assert message.startswith(f"{path}: 基準 No.1 (one): section_kinds は audience: section")


def test_missing_text_and_top_level_fields_are_reported(tmp_path: Path) -> None:
    """Missing title/source and an empty text are all reported, each naming the file."""
    path = write(
        tmp_path,
        "x.yaml",
        """\
        key: test-2024
        fiscal_year: 2024
        standards:
          - {number: 1, key: one, text: "  ", scene: 応対, audience: everyone}
        """,
    )
    errors = errors_of(path)
    assert f"{path}: 必須の項目 title がありません" in errors
    assert f"{path}: 必須の項目 source がありません" in errors
    assert f"{path}: 基準 No.1 (one): 基準の文 (text) がありません" in errors


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    """Broken YAML is reported with the file and the line, not as a traceback."""
    path = write(tmp_path, "x.yaml", "key: test-2024\ntitle: [テスト\n")
    [message] = errors_of(path)
    assert message.startswith(f"{path}: YAML の書き方に誤りがあります（")
    assert "行目" in message


def test_key_written_twice_in_yaml_is_an_error(tmp_path: Path) -> None:
    """A mapping key written twice is an error instead of PyYAML silently keeping the last."""
    path = write(tmp_path, "x.yaml", HEADER + "title: もう一つ\nstandards: []\n")
    [message] = errors_of(path)
    assert "項目 title が2回書かれています" in message


def test_bad_extends_target_is_reported(tmp_path: Path) -> None:
    """extends naming no catalogue of the directory is reported with the file and the key."""
    path = write(tmp_path, "x.yaml", HEADER + "extends: city-1999\n")
    [message] = errors_of(path)
    assert message.startswith(f"{path}: extends の対象 city-1999 が同じフォルダー")


def test_extends_cycle_is_reported_on_each_file(tmp_path: Path) -> None:
    """Two catalogues extending each other: each file gets the cycle message."""
    a = write(tmp_path, "a.yaml", "key: a\ntitle: A\nfiscal_year: 2024\nsource: t\nextends: b\n")
    b = write(tmp_path, "b.yaml", "key: b\ntitle: B\nfiscal_year: 2024\nsource: t\nextends: a\n")
    errors = errors_of(tmp_path)
    assert any(m.startswith(f"{a}: extends が循環しています") for m in errors)
    assert any(m.startswith(f"{b}: extends が循環しています") for m in errors)


def test_override_of_number_not_in_base_is_reported(tmp_path: Path) -> None:
    """Overriding No.29 when only 1-28 are inherited names the file and the number."""
    shutil.copy(SURVEYS / "city-2024.yaml", tmp_path)
    path = write(
        tmp_path,
        "x.yaml",
        with_header(
            """\
            extends: city-2024
            only: "1-28"
            overrides:
              29: {text: 変えた文}
            """
        ),
    )
    [message] = errors_of(path)
    assert message.startswith(f"{path}: overrides の No.29 は継承する基準")


def test_own_number_clashing_with_inherited_is_reported(tmp_path: Path) -> None:
    """A ward's own standard reusing an inherited number is a duplicate number."""
    shutil.copy(SURVEYS / "city-2024.yaml", tmp_path)
    path = write(
        tmp_path,
        "x.yaml",
        with_header(
            """\
            ward: 高津区
            extends: city-2024
            only: "1-28"
            standards:
              - {number: 28, key: mine, text: 文, scene: 共通, audience: everyone}
            """
        ),
    )
    [message] = errors_of(path)
    assert message.startswith(f"{path}: 基準 No.28 (mine): No.28 が city-2024 から継承した基準")


def test_catalogue_key_in_two_files_is_reported(tmp_path: Path) -> None:
    """Two files of a directory with one catalogue key: the second names the first."""
    body = "standards:\n  - {number: 1, key: one, text: 文, scene: 応対, audience: everyone}\n"
    write(tmp_path, "a.yaml", HEADER + body)
    second = write(tmp_path, "b.yaml", HEADER + body)
    [message] = errors_of(tmp_path)
    assert message.startswith(f"{second}: カタログの key test-2024 は")
    assert "a.yaml" in message


def test_all_errors_of_all_files_are_collected(tmp_path: Path) -> None:
    """Every error of every file comes back in one CatalogueError, not just the first."""
    write(
        tmp_path,
        "a.yaml",
        with_header(
            """\
            standards:
              - {number: 1, text: 文, scene: 対応, audience: all}
              - {number: 1, key: b, text: 文, scene: 応対, audience: everyone}
            """
        ),
    )
    write(tmp_path, "b.yaml", "key: other-2024\ntitle: x\nfiscal_year: 2024\nsource: t\n")
    errors = errors_of(tmp_path)
    assert len(errors) == 5, errors
    assert sum("a.yaml" in m for m in errors) == 4
    assert any("b.yaml: standards も extends もありません" in m for m in errors)


def test_invalid_file_writes_nothing(app_ctx: Flask, tmp_path: Path) -> None:
    """When one file of a directory is invalid, load_catalogues writes no catalogue at all."""
    shutil.copy(SURVEYS / "city-2024.yaml", tmp_path)
    write(tmp_path, "zz.yaml", HEADER + "extends: nowhere\n")
    with pytest.raises(CatalogueError):
        load_catalogues(tmp_path)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Catalogue.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Ward.id))) == 0


# --- The catalogues in surveys/ ----------------------------------------------------------------


@pytest.mark.parametrize(("key", "count"), sorted(EXPECTED_COUNTS.items()))
def test_each_survey_file_loads_with_expected_count(app_ctx: Flask, key: str, count: int) -> None:
    """Each file of surveys/ loads on its own (resolving extends) with its number of standards."""
    [result] = load_catalogues(SURVEYS / f"{key}.yaml")
    assert (result.key, result.status, result.count) == (key, "added", count)
    standards = standards_of(key)
    assert len(standards) == count
    assert [s.position for s in standards] == list(range(1, count + 1))
    assert len({s.key for s in standards}) == count


def test_surveys_directory_loads_all_catalogues(app_ctx: Flask) -> None:
    """Loading surveys/ adds the four catalogues, with their years and wards."""
    results = load_catalogues(SURVEYS)
    assert {r.key: r.count for r in results} == EXPECTED_COUNTS
    assert {r.status for r in results} == {"added"}
    catalogues = {c.key: c for c in db.session.scalars(sa.select(Catalogue))}
    assert catalogues["city-2024"].ward is None
    takatsu, miyamae = catalogues["takatsu-2024"].ward, catalogues["miyamae-2020"].ward
    assert takatsu is not None and takatsu.name == "高津区"
    assert catalogues["takatsu-2025"].fiscal_year == 2025
    assert miyamae is not None and miyamae.name == "宮前区"
    assert catalogues["miyamae-2020"].fiscal_year == 2020


def test_city_section_standards_and_kinds(app_ctx: Flask) -> None:
    """City 24-30 are section standards; 26-27, 28, 29-30 belong to their section kinds."""
    load_catalogues(SURVEYS / "city-2024.yaml")
    city = by_number("city-2024")
    kinds = {n: [k.name for k in s.section_kinds] for n, s in city.items()}
    assert {n for n, s in city.items() if s.audience is Audience.SECTION} == set(range(24, 31))
    assert kinds[24] == kinds[25] == []
    assert kinds[26] == kinds[27] == ["庁舎管理担当課"]
    assert kinds[28] == ["研修担当課"]
    assert kinds[29] == kinds[30] == ["本庁業務所管課"]
    assert city[26].scene == "庁舎案内" and city[28].scene == "庁内体制"
    assert city[4].scene == "応対" and city[13].scene == "対面" and city[18].scene == "地域訪問"
    assert {n for n, s in city.items() if s.ward_specific} == set(range(31, 37))
    assert db.session.scalar(sa.select(sa.func.count(SectionKind.id))) == 3


def test_takatsu_inherits_city_text_without_copying_it(app_ctx: Flask) -> None:
    """高津 No.1 carries the city's text although takatsu-2024.yaml does not contain it."""
    city_text = yaml.safe_load((SURVEYS / "city-2024.yaml").read_text("utf-8"))["standards"][0]
    assert city_text["number"] == 1
    for name in ("takatsu-2024.yaml", "takatsu-2025.yaml"):
        assert city_text["text"] not in (SURVEYS / name).read_text("utf-8")
    load_catalogues(SURVEYS)
    city, takatsu = by_number("city-2024"), by_number("takatsu-2025")
    assert takatsu[1].text == city[1].text == city_text["text"]
    assert takatsu[1].key == city[1].key == "notice-media"
    assert sorted(takatsu) == [*range(1, 29), 31, 32, 33]
    assert takatsu[27].audience is Audience.SECTION
    assert [k.name for k in takatsu[27].section_kinds] == ["庁舎管理担当課"]
    own = [s for s in takatsu.values() if s.ward_specific]
    assert [s.number for s in own] == [31, 32, 33]
    assert all(s.key.startswith("takatsu-") for s in own)


def test_miyamae_23_reworded_but_same_key(app_ctx: Flask) -> None:
    """宮前 FY2020 No.23 has its own wording and keeps the key of the city's No.23."""
    load_catalogues(SURVEYS)
    city, miyamae = by_number("city-2024"), by_number("miyamae-2020")
    assert miyamae[23].key == city[23].key == "premises-clean"
    assert (
        miyamae[23].text == "市民が快適さを感じられるか、年に1回、所属の庁舎環境を点検しています。"
    )
    assert miyamae[23].text != city[23].text
    assert "「川崎市個人情報保護条例」等に基づき" in miyamae[22].text
    assert miyamae[8].text.endswith("丁寧な話し方で対応しています。")
    assert miyamae[1].text == city[1].text
    own = [s for s in miyamae.values() if s.ward_specific]
    assert [s.number for s in own] == [31, 32, 33]
    assert all(s.key.startswith("miyamae-") for s in own)


def test_ward_specific_keys_differ_between_catalogues(app_ctx: Flask) -> None:
    """Ward-specific standards of 高津, 宮前 and the city list never share a key."""
    load_catalogues(SURVEYS)
    own = {
        key: {s.key for s in standards_of(key) if s.ward_specific}
        for key in ("city-2024", "takatsu-2024", "miyamae-2020")
    }
    assert not own["city-2024"] & own["takatsu-2024"]
    assert not own["city-2024"] & own["miyamae-2020"]
    assert not own["takatsu-2024"] & own["miyamae-2020"]


# --- Loading -------------------------------------------------------------------------------------


def test_reload_is_idempotent(app_ctx: Flask) -> None:
    """Loading the same files twice reports unchanged and leaves every row as it was."""
    load_catalogues(SURVEYS)
    db.session.commit()
    before = [
        (s.id, s.catalogue_id, s.key, s.number, s.position, s.text)
        for s in db.session.scalars(sa.select(Standard).order_by(Standard.id))
    ]
    loaded_at = {c.key: c.loaded_at for c in db.session.scalars(sa.select(Catalogue))}

    results = load_catalogues(SURVEYS)
    assert {r.status for r in results} == {"unchanged"}
    assert not db.session.new and not db.session.dirty and not db.session.deleted
    db.session.commit()
    db.session.expire_all()
    after = [
        (s.id, s.catalogue_id, s.key, s.number, s.position, s.text)
        for s in db.session.scalars(sa.select(Standard).order_by(Standard.id))
    ]
    assert after == before
    assert {c.key: c.loaded_at for c in db.session.scalars(sa.select(Catalogue))} == loaded_at
    assert db.session.scalar(sa.select(sa.func.count(Ward.id))) == 2


def test_changes_without_answers_are_applied(app_ctx: Flask, tmp_path: Path) -> None:
    """Without answers, a text change, a removal and a renumbering update the catalogue."""
    surveys = copy_surveys(tmp_path)
    load_catalogues(surveys)
    db.session.commit()
    old_ids = {s.key: s.id for s in standards_of("city-2024")}
    city = surveys / "city-2024.yaml"
    edit(city, "温かみのある丁寧な話し方で応対", "温かく丁寧な話し方で応対")
    # Drop No.36 and give No.35 the number 40.
    text = city.read_text("utf-8")
    text = text[: text.index("  - number: 36")]
    city.write_text(text.replace("  - number: 35\n", "  - number: 40\n"), encoding="utf-8")

    results = {r.key: r for r in load_catalogues(city)}
    db.session.commit()
    result = results["city-2024"]
    assert (result.status, result.count) == ("updated", 35)
    assert (result.added, result.changed, result.removed) == (0, 2, 1)
    numbers = by_number("city-2024")
    assert numbers[8].text.endswith("温かく丁寧な話し方で応対しています。")
    assert numbers[8].id == old_ids["polite-speech"]  # updated in place, same row
    assert numbers[40].key == "error-check" and 35 not in numbers and 36 not in numbers


def test_refuses_text_change_of_answered_standard(app_ctx: Flask, tmp_path: Path) -> None:
    """Changing the text of a standard with answers is refused, naming it; nothing changes."""
    surveys = copy_surveys(tmp_path)
    load_catalogues(surveys)
    db.session.commit()
    answer_standards({8: "everyone"}, "city-2024")
    original = by_number("city-2024")[8].text
    city = surveys / "city-2024.yaml"
    edit(city, "温かみのある丁寧な話し方で応対", "温かく丁寧な話し方で応対")
    edit(city, "各階にフロア案内図を掲示しています。", "各階に案内図を掲示しています。")

    with pytest.raises(CatalogueError) as caught:
        load_catalogues(surveys)
    [message] = caught.value.errors
    assert "city-2024" in message and "No.8 (polite-speech)" in message
    assert "すでに回答がある" in message and "文 (text)" in message
    assert not db.session.new and not db.session.dirty and not db.session.deleted
    db.session.rollback()
    numbers = by_number("city-2024")
    assert numbers[8].text == original
    assert numbers[27].text == "各階にフロア案内図を掲示しています。"  # unanswered, yet not written


def test_refuses_scene_change_and_removal_of_answered_standards(
    app_ctx: Flask, tmp_path: Path
) -> None:
    """A section answer also protects its standard: no scene change and no removal."""
    surveys = copy_surveys(tmp_path)
    load_catalogues(surveys)
    db.session.commit()
    answer_standards({26: "section", 33: "everyone"}, "takatsu-2024")
    takatsu = surveys / "takatsu-2024.yaml"
    edit(takatsu, 'only: "1-28"', 'only: "1-25, 27-28"')
    edit(takatsu, "    scene: 共通\n", "    scene: 庁舎案内\n")

    with pytest.raises(CatalogueError) as caught:
        load_catalogues(takatsu)
    errors = caught.value.errors
    assert len(errors) == 2, errors
    assert any("No.26 (reception-desk)" in m and "外せません" in m for m in errors)
    assert any("No.33 (takatsu-hygiene)" in m and "場面 (scene)" in m for m in errors)
    db.session.rollback()
    assert len(standards_of("takatsu-2024")) == 31


def test_answered_standard_may_still_move(app_ctx: Flask, tmp_path: Path) -> None:
    """Answers do not pin number or position: renumbering an answered standard is allowed."""
    surveys = copy_surveys(tmp_path)
    load_catalogues(surveys)
    db.session.commit()
    answer_standards({33: "everyone"}, "takatsu-2024")
    edit(surveys / "takatsu-2024.yaml", "  - number: 33\n", "  - number: 34\n")
    [result] = load_catalogues(surveys / "takatsu-2024.yaml")
    db.session.commit()
    assert result.status == "updated"
    assert by_number("takatsu-2024")[34].key == "takatsu-hygiene"


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_load_and_list(runner: FlaskCliRunner) -> None:
    """`catalogue load surveys` prints 追加 then 変更なし; `catalogue list` shows each one."""
    first = runner.invoke(args=["catalogue", "load", str(SURVEYS)])
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert len(lines) == 4
    assert any(line.startswith("追加") and "city-2024" in line and "36" in line for line in lines)

    again = runner.invoke(args=["catalogue", "load", str(SURVEYS)])
    assert again.exit_code == 0, again.output
    assert all(line.startswith("変更なし") for line in again.stdout.splitlines())

    listed = runner.invoke(args=["catalogue", "list"])
    assert listed.exit_code == 0, listed.output
    rows = {line.split()[0]: line.split()[1:] for line in listed.stdout.splitlines()}
    assert rows["city-2024"][:2] == ["令和6年度", "全区共通"]
    assert rows["takatsu-2025"][:2] == ["令和7年度", "高津区"]
    assert rows["miyamae-2020"][:2] == ["令和2年度", "宮前区"]
    assert "31" in rows["takatsu-2024"] and "33" in rows["miyamae-2020"]


def test_cli_load_commits(app: Flask, runner: FlaskCliRunner) -> None:
    """`catalogue load` commits: the catalogues are there in a new session."""
    assert runner.invoke(args=["catalogue", "load", str(SURVEYS)]).exit_code == 0
    with app.app_context():
        assert [s.key for s in list_catalogues()] == [
            "miyamae-2020",
            "city-2024",
            "takatsu-2024",
            "takatsu-2025",
        ]


def test_cli_load_bad_file_exits_nonzero(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """A bad file: every error on stderr, exit status 1, and nothing in the database."""
    path = write(
        tmp_path,
        "bad.yaml",
        with_header(
            """\
            standards:
              - {number: 1, text: 文, scene: 応対, audience: everyone}
              - {number: 2, key: two, text: 文, scene: 応対, audience: nobody}
            """
        ),
    )
    result = runner.invoke(args=["catalogue", "load", str(path)])
    assert result.exit_code == 1
    assert f"{path}: 基準 No.1 (key なし): key がありません" in result.stderr
    assert f'{path}: 基準 No.2 (two): audience "nobody" は使えません' in result.stderr
    assert "エラーが 2 件あります" in result.stderr
    assert result.stdout == ""
    with app.app_context():
        assert list_catalogues() == []


def _exported_with_ward(app: Flask, key: str, tmp_path: Path, old: str, new: str) -> Path:
    """The catalogue exported as the browser exports it, with its ``ward:`` line rewritten."""
    from app.services.catalogue.drafts import export_yaml

    with app.app_context():
        catalogue = db.session.scalars(sa.select(Catalogue).where(Catalogue.key == key)).one()
        text = export_yaml(catalogue)
    assert text.count(old) == 1, text[:400]
    path = tmp_path / f"{key}.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_cli_refuses_to_move_a_catalogue_with_rounds_to_another_ward(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """An exported catalogue with rounds, loaded back with another ``ward:``, exits 1 naming
    the catalogue and its rounds, and stays in its ward; without rounds the move is allowed."""
    assert runner.invoke(args=["catalogue", "load", str(SURVEYS)]).exit_code == 0
    with app.app_context():
        catalogue = db.session.scalars(
            sa.select(Catalogue).where(Catalogue.key == "takatsu-2025")
        ).one()
        assert catalogue.ward is not None
        first = factories.round_(catalogue, wards=[catalogue.ward], title="令和7年度 点検")
        second = factories.round_(catalogue, wards=[catalogue.ward], title="追加の点検")
        db.session.commit()
        ids = (first.id, second.id)
    for new in ("ward: 宮前区\n", ""):  # another ward, or none (city-wide)
        path = _exported_with_ward(app, "takatsu-2025", tmp_path, "ward: 高津区\n", new)
        result = runner.invoke(args=["catalogue", "load", str(path)])
        assert result.exit_code == 1, result.output
        assert "takatsu-2025" in result.stderr and "区を 高津区 から" in result.stderr
        assert f"#{ids[0]} 令和7年度 点検" in result.stderr
        assert f"#{ids[1]} 追加の点検" in result.stderr
        with app.app_context():
            rows = db.session.execute(
                sa.select(Catalogue.key, Ward.name).join(Ward, Catalogue.ward_id == Ward.id)
            ).all()
            assert ("takatsu-2025", "高津区") in rows
            assert "宮前区" not in {name for _key, name in rows if _key == "takatsu-2025"}

    # The same move of a catalogue nobody has used yet (takatsu-2024 has no round) loads.
    path = _exported_with_ward(app, "takatsu-2024", tmp_path, "ward: 高津区\n", "ward: 宮前区\n")
    result = runner.invoke(args=["catalogue", "load", str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        moved = db.session.scalars(
            sa.select(Catalogue).where(Catalogue.key == "takatsu-2024")
        ).one()
        assert moved.ward is not None and moved.ward.name == "宮前区"
