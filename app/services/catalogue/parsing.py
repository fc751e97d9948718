"""Parsing one catalogue file: its YAML read strictly and every field checked (docs/catalogue.md).

``parse_file`` collects every error of the file; ``extends`` is only read here and resolved
across the folder by ``app/services/catalogue/reading.py`` ``read_catalogues``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from app.models import SCENES, SECTION_KINDS, Audience
from app.services.errors import DomainError
from app.services.one_line import one_line_problem

# A key is a lowercase ASCII slug: "notice-media", "takatsu-hygiene", "city-2024".
KEY_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


KEY_MAX_LENGTH = 64  # Catalogue.key and Standard.key are String(64)


TITLE_MAX_LENGTH = 200


SOURCE_MAX_LENGTH = 200


WARD_MAX_LENGTH = 50


FISCAL_YEAR_RANGE = range(1989, 2101)


REQUIRED_TOP_FIELDS: tuple[str, ...] = ("key", "title", "fiscal_year", "source")


TOP_FIELDS: frozenset[str] = frozenset(
    {*REQUIRED_TOP_FIELDS, "ward", "extends", "only", "exclude", "overrides", "standards"}
)


STANDARD_FIELDS: frozenset[str] = frozenset(
    {"number", "key", "text", "scene", "audience", "section_kinds", "ward_specific"}
)


OVERRIDE_FIELDS: frozenset[str] = frozenset(
    {"text", "scene", "audience", "section_kinds", "ward_specific"}
)


AUDIENCES: tuple[str, ...] = tuple(a.value for a in Audience)


CATALOGUE_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")


class CatalogueError(DomainError):
    """A catalogue cannot be read or loaded; ``errors`` holds every problem found, one per line.

    Each message names the file and, where it concerns one standard, its number and key.
    """


@dataclass(frozen=True)
class StandardSpec:
    """One standard as a catalogue file describes it, after ``extends`` has been resolved."""

    key: str
    number: int
    text: str
    scene: str
    audience: Audience
    section_kinds: tuple[str, ...] = ()
    ward_specific: bool = False


@dataclass(frozen=True)
class CatalogueSpec:
    """One catalogue read from a file, with its full list of standards in display order."""

    key: str
    title: str
    fiscal_year: int
    ward: str | None
    source: str
    path: Path
    standards: tuple[StandardSpec, ...]
    extends: str | None = None


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping key written twice (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: let PyYAML report it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"項目 {key} が2回書かれています", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def standard_label(number: Any, key: Any, index: int) -> str:
    """``基準 No.5 (notice-media)``, ``基準 No.5 (key なし)`` or ``3番目の基準 (…)``."""
    key_part = key if isinstance(key, str) and key else "key なし"
    if is_int(number):
        return f"基準 No.{number} ({key_part})"
    return f"{index}番目の基準 (No なし, {key_part})"


def _check_key(value: Any) -> str | None:
    """The problem with a key, or None when it is a valid slug."""
    if not isinstance(value, str) or not value:
        return "key がありません"
    if len(value) > KEY_MAX_LENGTH or not KEY_PATTERN.match(value):
        return (
            f'key "{value}" は英小文字・数字・ハイフンだけで書いてください'
            f"（{KEY_MAX_LENGTH}文字まで。例: notice-media）"
        )
    return None


def _parse_numbers(value: Any) -> list[int] | None:
    """``"1-28"``, ``"1-28, 31"``, ``5`` or ``[1, "3-5"]`` as numbers; None if unreadable."""
    items: list[Any]
    if is_int(value):
        items = [value]
    elif isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        return None
    numbers: list[int] = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            if item < 1:
                return None
            numbers.append(item)
            continue
        if not isinstance(item, str):
            return None
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", item)
        if match is None:
            return None
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first < 1 or last < first:
            return None
        numbers.extend(range(first, last + 1))
    return numbers


@dataclass
class _Fields:
    """Validated standard fields, each present only when the file gave it."""

    values: dict[str, Any] = field(default_factory=dict)
    ok: bool = True


def _check_fields(raw: dict[Any, Any], prefix: str, errors: list[str]) -> _Fields:
    """Validate text, scene, audience, section_kinds and ward_specific where present."""
    out = _Fields()

    def bad(message: str) -> None:
        errors.append(f"{prefix}: {message}")
        out.ok = False

    if "text" in raw:
        text = raw["text"]
        if not isinstance(text, str) or not text.strip():
            bad("基準の文 (text) がありません")
        else:
            out.values["text"] = text.strip()
    if "scene" in raw:
        scene = raw["scene"]
        if isinstance(scene, str) and scene.replace(" ", "").replace("\u3000", "") in SCENES:
            out.values["scene"] = scene.replace(" ", "").replace("\u3000", "")
        else:
            bad(f'場面 (scene) "{scene}" は使えません（使えるのは {"・".join(SCENES)}）')
    if "audience" in raw:
        audience = raw["audience"]
        if isinstance(audience, str) and audience in AUDIENCES:
            out.values["audience"] = Audience(audience)
        else:
            bad(
                f'audience "{audience}" は使えません（everyone: 全員が答える、'
                "section: 所属長が課として答える）"
            )
    if "section_kinds" in raw:
        kinds = _check_section_kinds(raw["section_kinds"], bad)
        if kinds is not None:
            out.values["section_kinds"] = kinds
    if "ward_specific" in raw:
        flag = raw["ward_specific"]
        if isinstance(flag, bool):
            out.values["ward_specific"] = flag
        else:
            bad(f'ward_specific "{flag}" は true か false で書いてください')
    return out


def _check_section_kinds(
    kinds: Any, bad: Callable[[str], None]
) -> tuple[str, ...] | None:
    """A standard's ``section_kinds`` (one kind, a list or empty), or None after telling
    ``bad`` each problem: not a list, an unknown kind, a kind twice."""
    if kinds is None:
        kinds = []
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list):
        bad("section_kinds は課の種類の一覧で書いてください（例: [庁舎管理担当課]）")
        return None
    unknown = [k for k in kinds if not isinstance(k, str) or k not in SECTION_KINDS]
    for kind in unknown:
        bad(
            f'section_kinds の "{kind}" は知らない課の種類です'
            f"（使えるのは {'・'.join(SECTION_KINDS)}）"
        )
    if unknown:
        return None
    if len(set(kinds)) != len(kinds):
        bad("section_kinds に同じ課の種類が2回書かれています")
        return None
    return tuple(kinds)


def kinds_on_everyone(spec: StandardSpec) -> bool:
    return spec.audience is Audience.EVERYONE and bool(spec.section_kinds)


KINDS_ON_EVERYONE = (
    "section_kinds は audience: section の基準にだけ書けます（everyone の基準は全員が答えるため）"
)


@dataclass(eq=False)
class CatalogueDoc:
    """One parsed file: its own fields and standards, not yet resolved against ``extends``."""

    path: Path
    errors: list[str] = field(default_factory=list)
    readable: bool = False
    key: str | None = None
    title: str | None = None
    fiscal_year: int | None = None
    ward: str | None = None
    source: str | None = None
    extends: str | None = None
    only: list[int] | None = None
    exclude: list[int] | None = None
    overrides: list[tuple[int | str, dict[str, Any]]] = field(default_factory=list)
    own: list[StandardSpec] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.path)

    def error(self, message: str) -> None:
        self.errors.append(f"{self.name}: {message}")


def _read_yaml(doc: CatalogueDoc) -> Any:
    """The file's YAML content, or None with an error recorded."""
    try:
        text = doc.path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        doc.error("文字コードが UTF-8 ではありません。UTF-8 で保存してください")
        return None
    except OSError as exc:
        doc.error(f"ファイルを読めません（{exc.strerror}）")
        return None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        where = ""
        if exc.problem_mark is not None:
            mark = exc.problem_mark
            where = f"（{mark.line + 1}行目 {mark.column + 1}文字目）"
        doc.error(f"YAML の書き方に誤りがあります{where}: {exc.problem or exc}")
    except yaml.YAMLError as exc:
        doc.error(f"YAML の書き方に誤りがあります: {exc}")
    return None


def parse_file(path: Path) -> CatalogueDoc:
    """Read one catalogue file and check everything that does not depend on other files."""
    doc = CatalogueDoc(path=path)
    data = _read_yaml(doc)
    if data is None:
        if not doc.errors:
            doc.error("ファイルが空です")
        return doc
    if not isinstance(data, dict):
        doc.error("ファイルの中身が「項目: 値」の形になっていません")
        return doc
    doc.readable = True

    for name in REQUIRED_TOP_FIELDS:
        if data.get(name) in (None, ""):
            doc.error(f"必須の項目 {name} がありません")
    for name in sorted(str(k) for k in data if k not in TOP_FIELDS):
        doc.error(f"知らない項目 {name} があります（書き間違いではありませんか）")

    _parse_catalogue_fields(doc, data)
    _parse_extends(doc, data)
    standards = data.get("standards")
    if standards is None and doc.extends is None and "extends" not in data:
        doc.error(
            "standards も extends もありません（基準を書くか、ほかのカタログを継承してください）"
        )
    elif standards is not None and not isinstance(standards, list):
        doc.error("standards は一覧（「- 」で始まる行）で書いてください")
    elif standards:
        _parse_standards(doc, standards)
    return doc


def _parse_catalogue_fields(doc: CatalogueDoc, data: dict[Any, Any]) -> None:
    """Check the catalogue's own fields where given: key, title, source, fiscal_year, ward."""
    if data.get("key") not in (None, ""):
        problem = _check_key(data["key"])
        if problem:
            doc.error(f"カタログの{problem}")
        else:
            doc.key = data["key"]
    for name, limit in (("title", TITLE_MAX_LENGTH), ("source", SOURCE_MAX_LENGTH)):
        value = data.get(name)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or len(value.strip()) > limit:
            doc.error(f"{name} は{limit}文字までの文字列で書いてください")
        elif name == "title" and (problem := one_line_problem(value.strip(), name)):
            doc.error(problem)  # a catalogue's title is a line of pages, files and mail
        else:
            setattr(doc, name, value.strip())
    fiscal_year = data.get("fiscal_year")
    if fiscal_year is not None:
        if is_int(fiscal_year) and fiscal_year in FISCAL_YEAR_RANGE:
            doc.fiscal_year = fiscal_year
        else:
            doc.error(f'fiscal_year "{fiscal_year}" は年度の西暦で書いてください（例: 2024）')
    ward = data.get("ward")
    if ward is not None:
        if not (isinstance(ward, str) and ward.strip() and len(ward.strip()) <= WARD_MAX_LENGTH):
            doc.error(f"ward は区の名前で書いてください（例: 高津区、{WARD_MAX_LENGTH}文字まで）")
        elif problem := one_line_problem(ward.strip(), "ward"):
            doc.error(problem)  # a new ward's name comes from here
        else:
            doc.ward = ward.strip()


def _parse_extends(doc: CatalogueDoc, data: dict[Any, Any]) -> None:
    """Check ``extends``, ``only``, ``exclude`` and ``overrides`` (not yet against the base)."""
    extends = data.get("extends")
    if extends is not None:
        problem = _check_key(extends)
        if problem:
            doc.error(f"extends の{problem}")
        else:
            doc.extends = extends
    elif any(name in data for name in ("only", "exclude", "overrides")):
        doc.error("only・exclude・overrides は extends と一緒にだけ書けます")
        return
    if "only" in data and "exclude" in data:
        doc.error("only と exclude は同時に書けません（どちらか一方にしてください）")
    for name in ("only", "exclude"):
        if name not in data:
            continue
        numbers = _parse_numbers(data[name])
        if not numbers:
            doc.error(f'{name} "{data[name]}" が読めません（例: "1-28"、"1-23, 31" や [24, 25]）')
        else:
            setattr(doc, name, numbers)
    if data.get("overrides") is not None:
        _parse_overrides(doc, data["overrides"])


def _parse_overrides(doc: CatalogueDoc, overrides: Any) -> None:
    """Check ``overrides``: standard number or key -> the fields it changes."""
    if not isinstance(overrides, dict):
        doc.error("overrides は「番号か key: 変える項目」の形で書いてください（例: 8: {text: …}）")
        return
    for target, raw in overrides.items():
        if is_int(target):
            label = f"overrides の No.{target}"
        elif isinstance(target, str) and _check_key(target) is None:
            label = f"overrides の {target}"
        else:
            doc.error(f'overrides の "{target}" は基準の番号か key で書いてください')
            continue
        if not isinstance(raw, dict) or not raw:
            doc.error(f"{label}: 変える項目（text など）を書いてください")
            continue
        unknown = sorted(str(k) for k in raw if k not in OVERRIDE_FIELDS)
        for name in unknown:
            if name in ("key", "number"):
                doc.error(
                    f"{label}: {name} は上書きできません（番号や key を変えるには exclude で外し、"
                    "standards に新しく書いてください）"
                )
            else:
                doc.error(f"{label}: 知らない項目 {name} があります（書き間違いではありませんか）")
        fields = _check_fields(raw, f"{doc.name}: {label}", doc.errors)
        if fields.ok and not unknown:
            doc.overrides.append((target, fields.values))


def _parse_standards(doc: CatalogueDoc, standards: list[Any]) -> None:
    """Check the file's own standards; valid ones go to ``doc.own``."""
    first_by_number: dict[int, str] = {}
    first_by_key: dict[str, str] = {}
    for index, raw in enumerate(standards, start=1):
        if not isinstance(raw, dict):
            doc.error(f"{index}番目の基準が「項目: 値」の形になっていません")
            continue
        number: Any = raw.get("number")
        key: Any = raw.get("key")
        label = standard_label(number, key, index)
        prefix = f"{doc.name}: {label}"
        errors_before = len(doc.errors)

        for name in sorted(str(k) for k in raw if k not in STANDARD_FIELDS):
            doc.errors.append(
                f"{prefix}: 知らない項目 {name} があります（書き間違いではありませんか）"
            )
        if number is None:
            doc.errors.append(f"{prefix}: 番号 (number) がありません")
        elif not is_int(number) or number < 1:
            doc.errors.append(f'{prefix}: 番号 (number) "{number}" は1以上の整数で書いてください')
        elif number in first_by_number:
            doc.errors.append(
                f"{prefix}: No.{number} が重複しています（{first_by_number[number]} と同じ番号）"
            )
        else:
            first_by_number[number] = label
        key_problem = _check_key(key)
        if key_problem:
            doc.errors.append(f"{prefix}: {key_problem}")
        elif key in first_by_key:
            doc.errors.append(
                f"{prefix}: key {key} が重複しています（{first_by_key[key]} と同じ key）"
            )
        else:
            first_by_key[key] = label
        for name in ("text", "scene", "audience"):
            if raw.get(name) is None:
                what = {"text": "基準の文 (text)", "scene": "場面 (scene)", "audience": "audience"}
                doc.errors.append(f"{prefix}: {what[name]} がありません")
        present = {k: v for k, v in raw.items() if k in OVERRIDE_FIELDS and v is not None}
        fields = _check_fields(present, prefix, doc.errors)
        if len(doc.errors) > errors_before:
            continue
        spec = StandardSpec(
            key=key,
            number=number,
            text=fields.values["text"],
            scene=fields.values["scene"],
            audience=fields.values["audience"],
            section_kinds=fields.values.get("section_kinds", ()),
            # A ward's own standards are ward-specific unless the file says otherwise.
            ward_specific=fields.values.get("ward_specific", doc.ward is not None),
        )
        if kinds_on_everyone(spec):
            doc.errors.append(f"{prefix}: {KINDS_ON_EVERYONE}")
            continue
        doc.own.append(spec)
