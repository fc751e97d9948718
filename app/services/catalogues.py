"""Standards catalogues: read and validate ``surveys/*.yaml``, then load them into the database.

A catalogue file describes one fiscal year's list of standards, city-wide or for one ward, and may
take its standards from another catalogue of the same directory (``extends`` with ``only`` or
``exclude`` and ``overrides``). The schema and its rules are in ``docs/catalogue.md``.

Reading collects every error of every file before giving up (:class:`CatalogueError`); loading
validates everything first, then checks that no standard which already has answers would change
its text, scene or audience or disappear, and only then writes. Like every service it flushes but
never commits: the caller (the ``flask catalogue load`` command, the demo builder) commits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
import sqlalchemy.orm as so
import yaml

from app.extensions import db
from app.models import (
    SCENES,
    SECTION_KINDS,
    Answer,
    Audience,
    Catalogue,
    SectionAnswer,
    SectionKind,
    Standard,
    Ward,
    utcnow,
)
from app.services.errors import DomainError

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

LoadStatus = Literal["added", "updated", "unchanged"]


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


@dataclass(frozen=True)
class LoadResult:
    """What loading did to one catalogue: ``added``, ``updated`` or ``unchanged``."""

    key: str
    status: LoadStatus
    count: int
    added: int = 0
    changed: int = 0
    removed: int = 0


@dataclass(frozen=True)
class CatalogueSummary:
    """A loaded catalogue as ``flask catalogue list`` shows it."""

    key: str
    title: str
    fiscal_year: int
    ward: str | None
    count: int


# --- Reading YAML ---------------------------------------------------------------------------


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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _standard_label(number: Any, key: Any, index: int) -> str:
    """``基準 No.5 (notice-media)``, ``基準 No.5 (key なし)`` or ``3番目の基準 (…)``."""
    key_part = key if isinstance(key, str) and key else "key なし"
    if _is_int(number):
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
    if _is_int(value):
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


def _kinds_on_everyone(spec: StandardSpec) -> bool:
    return spec.audience is Audience.EVERYONE and bool(spec.section_kinds)


KINDS_ON_EVERYONE = (
    "section_kinds は audience: section の基準にだけ書けます（everyone の基準は全員が答えるため）"
)


@dataclass(eq=False)
class _Doc:
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


def _read_yaml(doc: _Doc) -> Any:
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


def _parse_file(path: Path) -> _Doc:
    """Read one catalogue file and check everything that does not depend on other files."""
    doc = _Doc(path=path)
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


def _parse_catalogue_fields(doc: _Doc, data: dict[Any, Any]) -> None:
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
        else:
            setattr(doc, name, value.strip())
    fiscal_year = data.get("fiscal_year")
    if fiscal_year is not None:
        if _is_int(fiscal_year) and fiscal_year in FISCAL_YEAR_RANGE:
            doc.fiscal_year = fiscal_year
        else:
            doc.error(f'fiscal_year "{fiscal_year}" は年度の西暦で書いてください（例: 2024）')
    ward = data.get("ward")
    if ward is not None:
        if isinstance(ward, str) and ward.strip() and len(ward.strip()) <= WARD_MAX_LENGTH:
            doc.ward = ward.strip()
        else:
            doc.error(f"ward は区の名前で書いてください（例: 高津区、{WARD_MAX_LENGTH}文字まで）")


def _parse_extends(doc: _Doc, data: dict[Any, Any]) -> None:
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


def _parse_overrides(doc: _Doc, overrides: Any) -> None:
    """Check ``overrides``: standard number or key -> the fields it changes."""
    if not isinstance(overrides, dict):
        doc.error("overrides は「番号か key: 変える項目」の形で書いてください（例: 8: {text: …}）")
        return
    for target, raw in overrides.items():
        if _is_int(target):
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


def _parse_standards(doc: _Doc, standards: list[Any]) -> None:
    """Check the file's own standards; valid ones go to ``doc.own``."""
    first_by_number: dict[int, str] = {}
    first_by_key: dict[str, str] = {}
    for index, raw in enumerate(standards, start=1):
        if not isinstance(raw, dict):
            doc.error(f"{index}番目の基準が「項目: 値」の形になっていません")
            continue
        number: Any = raw.get("number")
        key: Any = raw.get("key")
        label = _standard_label(number, key, index)
        prefix = f"{doc.name}: {label}"
        errors_before = len(doc.errors)

        for name in sorted(str(k) for k in raw if k not in STANDARD_FIELDS):
            doc.errors.append(
                f"{prefix}: 知らない項目 {name} があります（書き間違いではありませんか）"
            )
        if number is None:
            doc.errors.append(f"{prefix}: 番号 (number) がありません")
        elif not _is_int(number) or number < 1:
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
        if _kinds_on_everyone(spec):
            doc.errors.append(f"{prefix}: {KINDS_ON_EVERYONE}")
            continue
        doc.own.append(spec)


# --- Resolving extends ----------------------------------------------------------------------


class _Resolver:
    """Resolves ``extends`` between the files being read and their siblings in the directory."""

    def __init__(self, directory: Path, targets: list[_Doc]) -> None:
        self.directory = directory
        self.targets = targets
        self.by_key: dict[str, list[_Doc]] = {}
        for doc in targets:
            if doc.key:
                self.by_key.setdefault(doc.key, []).append(doc)
        self.siblings_read = False
        self.unreadable: list[str] = []
        self.involved: list[_Doc] = list(targets)  # the docs whose errors are reported
        self.done: dict[Path, tuple[StandardSpec, ...] | None] = {}
        self.in_cycle: set[Path] = set()

    def _read_siblings(self) -> None:
        """Index the other catalogue files of the directory by key, once, when first needed."""
        if self.siblings_read:
            return
        self.siblings_read = True
        known = {doc.path.resolve() for doc in self.targets}
        for path in _catalogue_paths(self.directory):
            if path.resolve() in known:
                continue
            doc = _parse_file(path)
            if doc.key:
                self.by_key.setdefault(doc.key, []).append(doc)
            else:
                self.unreadable.append(path.name)

    def _base(self, doc: _Doc) -> _Doc | None:
        """The catalogue ``doc`` extends, or None with an error recorded on ``doc``."""
        if doc.extends is None:
            return None
        if doc.extends not in self.by_key:
            self._read_siblings()
        found = self.by_key.get(doc.extends, [])
        if not found:
            hint = ""
            if self.unreadable:
                hint = f"（読めなかったファイル: {'、'.join(self.unreadable)}）"
            doc.error(
                f"extends の対象 {doc.extends} が同じフォルダー ({self.directory}) の"
                f"カタログに見つかりません{hint}"
            )
            return None
        if len(found) > 1:
            names = "、".join(d.name for d in found)
            doc.error(f"extends の対象 {doc.extends} が複数のファイルにあります（{names}）")
            return None
        base = found[0]
        if base not in self.involved:
            self.involved.append(base)
        return base

    def resolve(self, doc: _Doc, stack: tuple[_Doc, ...] = ()) -> tuple[StandardSpec, ...] | None:
        """The full list of ``doc``'s standards, or None when it or a base has errors."""
        if doc.path in self.done:
            return self.done[doc.path]
        if not doc.readable:
            self.done[doc.path] = None
            return None
        if doc.extends is None:
            result = self._finish(doc, [], "")
            self.done[doc.path] = result
            return result

        base = self._base(doc)
        inherited: tuple[StandardSpec, ...] | None = None
        if base is not None:
            if base in stack or base is doc:
                cycle = [*stack[stack.index(base) :], doc, base] if base in stack else [doc, doc]
                chain = " → ".join(d.key or d.name for d in cycle)
                for member in {d.path: d for d in cycle}.values():
                    member.error(f"extends が循環しています（{chain}）")
                    self.in_cycle.add(member.path)
                    self.done[member.path] = None
                return None
            inherited = self.resolve(base, (*stack, doc))
            if doc.path in self.in_cycle:
                return None
            if inherited is None:
                doc.error(
                    f"extends の対象 {base.key} ({base.name}) に誤りがあるため、"
                    "基準を継承できません"
                )
        result = None
        if base is not None and inherited is not None:
            # Checked even when the file has other errors, so that all of them are reported.
            result = self._finish(doc, self._select(doc, base, inherited), base.key or "")
        self.done[doc.path] = result
        return result

    def _select(
        self, doc: _Doc, base: _Doc, inherited: tuple[StandardSpec, ...]
    ) -> list[StandardSpec]:
        """Apply ``only``/``exclude`` and ``overrides`` to the base's standards."""
        numbers = {s.number for s in inherited}
        chosen = list(inherited)
        for name in ("only", "exclude"):
            wanted: list[int] | None = getattr(doc, name)
            if wanted is None:
                continue
            missing = sorted(set(wanted) - numbers)
            if missing:
                listed = "、".join(f"No.{n}" for n in missing)
                doc.error(f"{name} の {listed} は継承元 {base.key} にありません")
            if name == "only":
                chosen = [s for s in chosen if s.number in set(wanted)]
            else:
                chosen = [s for s in chosen if s.number not in set(wanted)]
        scope = (
            base.key if doc.only is None and doc.exclude is None else f"{base.key} から選んだ基準"
        )
        overridden: dict[str, str] = {}
        for target, values in doc.overrides:
            label = f"overrides の No.{target}" if _is_int(target) else f"overrides の {target}"
            index = next(
                (
                    i
                    for i, s in enumerate(chosen)
                    if (s.number if _is_int(target) else s.key) == target
                ),
                None,
            )
            if index is None:
                doc.error(f"{label} は継承する基準（{scope}）にありません")
                continue
            spec = chosen[index]
            if spec.key in overridden:
                doc.error(f"{label}: {overridden[spec.key]} と同じ基準を2回上書きしています")
                continue
            overridden[spec.key] = label
            changed = replace(spec, **values)
            if _kinds_on_everyone(changed):
                doc.error(
                    f"{_standard_label(spec.number, spec.key, 0)}: {label} で audience を "
                    "everyone にすると section_kinds が残ります"
                    "（section_kinds: [] も書いてください）"
                )
                continue
            chosen[index] = changed
        return chosen

    def _finish(
        self, doc: _Doc, inherited: list[StandardSpec], base_key: str
    ) -> tuple[StandardSpec, ...] | None:
        """Append the file's own standards to the inherited ones and check the whole list."""
        by_number = {s.number: s for s in inherited}
        by_key = {s.key: s for s in inherited}
        for spec in doc.own:
            label = _standard_label(spec.number, spec.key, 0)
            if spec.number in by_number:
                other = by_number[spec.number]
                doc.error(
                    f"{label}: No.{spec.number} が {base_key} から継承した基準 ({other.key}) "
                    "と重複しています（exclude で外すか、別の番号にしてください）"
                )
            if spec.key in by_key:
                other = by_key[spec.key]
                doc.error(
                    f"{label}: key {spec.key} が {base_key} から継承した No.{other.number} "
                    "と重複しています"
                )
        standards = (*inherited, *doc.own)
        if not standards and not doc.errors:
            doc.error("基準が1つもありません")
        return None if doc.errors else standards


def _catalogue_paths(directory: Path) -> list[Path]:
    """The catalogue files of a directory, by name."""
    return sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in CATALOGUE_SUFFIXES
    )


def read_catalogues(path: str | Path) -> list[CatalogueSpec]:
    """Read and validate a catalogue file or every ``*.yaml`` file of a directory.

    ``extends`` targets are looked up by catalogue key among the files of the same directory
    (read only when needed if ``path`` is one file). Returns the catalogues in file-name order
    with their standards resolved; raises :class:`CatalogueError` with every error found.
    """
    path = Path(path)
    if path.is_dir():
        directory, files = path, _catalogue_paths(path)
        if not files:
            raise CatalogueError([f"{path}: カタログのファイル (*.yaml) がありません"])
    elif path.is_file():
        directory, files = path.parent, [path]
    else:
        raise CatalogueError([f"{path}: ファイルもフォルダーも見つかりません"])

    targets = [_parse_file(p) for p in files]
    resolver = _Resolver(directory, targets)
    first_file: dict[str, _Doc] = {}
    for doc in targets:
        if doc.key is None:
            continue
        if doc.key in first_file:
            doc.error(f"カタログの key {doc.key} は {first_file[doc.key].name} でも使われています")
        else:
            first_file[doc.key] = doc

    resolved = [(doc, resolver.resolve(doc)) for doc in targets]
    errors = [message for doc in resolver.involved for message in doc.errors]
    if errors:
        raise CatalogueError(errors)
    specs: list[CatalogueSpec] = []
    for doc, standards in resolved:
        if standards is None or not (doc.key and doc.title and doc.source and doc.fiscal_year):
            raise CatalogueError([f"{doc.name}: 読み込めませんでした"])  # not reached: no errors
        specs.append(
            CatalogueSpec(
                key=doc.key,
                title=doc.title,
                fiscal_year=doc.fiscal_year,
                ward=doc.ward,
                source=doc.source,
                path=doc.path,
                standards=standards,
                extends=doc.extends,
            )
        )
    return specs


# --- Loading into the database --------------------------------------------------------------


@dataclass
class _Plan:
    """What loading one catalogue will change, worked out before anything is written."""

    spec: CatalogueSpec
    catalogue: Catalogue | None
    catalogue_changed: bool = False
    to_add: list[tuple[int, StandardSpec]] = field(default_factory=list)
    to_update: list[tuple[Standard, int, StandardSpec]] = field(default_factory=list)
    to_remove: list[Standard] = field(default_factory=list)

    @property
    def status(self) -> LoadStatus:
        if self.catalogue is None:
            return "added"
        changed = self.catalogue_changed or self.to_add or self.to_update or self.to_remove
        return "updated" if changed else "unchanged"


def _standard_differs(row: Standard, position: int, spec: StandardSpec) -> bool:
    return (
        row.number != spec.number
        or row.position != position
        or row.text != spec.text
        or row.scene != spec.scene
        or row.audience != spec.audience
        or row.ward_specific != spec.ward_specific
        or tuple(sorted(k.name for k in row.section_kinds)) != tuple(sorted(spec.section_kinds))
    )


def _plan(spec: CatalogueSpec, catalogue: Catalogue | None) -> _Plan:
    """Compare a catalogue read from its file with its rows in the database, if any."""
    plan = _Plan(spec=spec, catalogue=catalogue)
    if catalogue is None:
        plan.to_add = list(enumerate(spec.standards, start=1))
        return plan
    ward_name = catalogue.ward.name if catalogue.ward is not None else None
    plan.catalogue_changed = (
        catalogue.title != spec.title
        or catalogue.fiscal_year != spec.fiscal_year
        or catalogue.source != spec.source
        or ward_name != spec.ward
    )
    rows = {row.key: row for row in catalogue.standards}
    for position, std in enumerate(spec.standards, start=1):
        row = rows.get(std.key)
        if row is None:
            plan.to_add.append((position, std))
        elif _standard_differs(row, position, std):
            plan.to_update.append((row, position, std))
    keep = {std.key for std in spec.standards}
    plan.to_remove = [row for row in catalogue.standards if row.key not in keep]
    return plan


def _refusals(plan: _Plan, answered: set[int]) -> list[str]:
    """Changes that would rewrite or drop a standard people have already answered."""
    where = f"{plan.spec.path}: カタログ {plan.spec.key} の"
    messages: list[str] = []
    for row, _position, std in plan.to_update:
        if row.id not in answered:
            continue
        what = [
            name
            for name, old, new in (
                ("文 (text)", row.text, std.text),
                ("場面 (scene)", row.scene, std.scene),
                ("audience", row.audience, std.audience),
            )
            if old != new
        ]
        if what:
            messages.append(
                f"{where}基準 No.{row.number} ({row.key}) にはすでに回答があるため、"
                f"{'・'.join(what)} を変更できません（変えるなら新しい key の基準か"
                "新しいカタログにしてください）"
            )
    for row in plan.to_remove:
        if row.id in answered:
            messages.append(
                f"{where}基準 No.{row.number} ({row.key}) にはすでに回答があるため、"
                "カタログから外せません"
            )
    return messages


def _answered_standard_ids(catalogue_ids: list[int]) -> set[int]:
    """Ids of the standards of these catalogues that have an answer or a section answer."""
    if not catalogue_ids:
        return set()
    query = (
        sa.select(Standard.id)
        .where(Standard.catalogue_id.in_(catalogue_ids))
        .where(
            sa.or_(
                sa.exists().where(Answer.standard_id == Standard.id),
                sa.exists().where(SectionAnswer.standard_id == Standard.id),
            )
        )
    )
    return set(db.session.scalars(query))


def _wards_by_name(names: set[str]) -> dict[str, Ward]:
    """The wards with these names, creating the missing ones."""
    if not names:
        return {}
    found = {w.name: w for w in db.session.scalars(sa.select(Ward).where(Ward.name.in_(names)))}
    for name in sorted(names - found.keys()):
        found[name] = Ward(name=name)
        db.session.add(found[name])
    return found


def _kinds_by_name(names: set[str]) -> dict[str, SectionKind]:
    """The section kinds with these names, creating the missing ones."""
    if not names:
        return {}
    query = sa.select(SectionKind).where(SectionKind.name.in_(names))
    found = {k.name: k for k in db.session.scalars(query)}
    for name in sorted(names - found.keys()):
        found[name] = SectionKind(name=name)
        db.session.add(found[name])
    return found


def _new_standard(position: int, std: StandardSpec, kinds: dict[str, SectionKind]) -> Standard:
    return Standard(
        key=std.key,
        number=std.number,
        position=position,
        text=std.text,
        scene=std.scene,
        audience=std.audience,
        ward_specific=std.ward_specific,
        section_kinds=[kinds[name] for name in std.section_kinds],
    )


def upsert_catalogues(specs: Sequence[CatalogueSpec]) -> list[LoadResult]:
    """Write catalogues that ``read_catalogues`` returned; flushes, never commits.

    Catalogues and standards are matched by key. Raises :class:`CatalogueError`, having
    written nothing, when a standard that already has answers would change its text, scene or
    audience or be removed.
    """
    existing = _stored_catalogues([spec.key for spec in specs])
    answered = _answered_standard_ids([c.id for c in existing.values()])
    plans = [_plan(spec, existing.get(spec.key)) for spec in specs]
    refusals = [message for plan in plans for message in _refusals(plan, answered)]
    if refusals:
        raise CatalogueError(refusals)

    changing = [plan for plan in plans if plan.status != "unchanged"]
    wards = _wards_by_name({p.spec.ward for p in changing if p.spec.ward is not None})
    kinds = _kinds_by_name(
        {k for p in changing for std in p.spec.standards for k in std.section_kinds}
    )
    now = utcnow()
    _free_numbers(changing)
    for plan in changing:
        _write_plan(plan, wards, kinds, now)
    if changing:
        db.session.flush()

    return [
        LoadResult(
            key=plan.spec.key,
            status=plan.status,
            count=len(plan.spec.standards),
            added=len(plan.to_add),
            changed=len(plan.to_update),
            removed=len(plan.to_remove),
        )
        for plan in plans
    ]


def _stored_catalogues(keys: list[str]) -> dict[str, Catalogue]:
    """The catalogues with these keys, with their ward and standards (and their kinds)."""
    return {
        c.key: c
        for c in db.session.scalars(
            sa.select(Catalogue)
            .where(Catalogue.key.in_(keys))
            .options(
                so.selectinload(Catalogue.ward),
                so.selectinload(Catalogue.standards).selectinload(Standard.section_kinds),
            )
        )
    }


def _free_numbers(changing: Sequence[_Plan]) -> None:
    """Remove the standards to remove and give the renumbered ones a temporary number, each
    step flushed, so that the unique (catalogue, number) never sees two rows with one number
    in between."""
    removed = False
    for plan in changing:
        if plan.catalogue is not None:
            for row in plan.to_remove:
                plan.catalogue.standards.remove(row)
                removed = True
    if removed:
        db.session.flush()
    renumbered = False
    for plan in changing:
        for row, _position, std in plan.to_update:
            if row.number != std.number:
                row.number = -row.id
                renumbered = True
    if renumbered:
        db.session.flush()


def _write_plan(
    plan: _Plan, wards: dict[str, Ward], kinds: dict[str, SectionKind], now: datetime
) -> None:
    """Add or update one catalogue and its standards as its file says (not flushed)."""
    spec = plan.spec
    catalogue = plan.catalogue
    if catalogue is None:
        catalogue = Catalogue(key=spec.key)
        db.session.add(catalogue)
    catalogue.title = spec.title
    catalogue.fiscal_year = spec.fiscal_year
    catalogue.source = spec.source
    catalogue.ward = wards[spec.ward] if spec.ward is not None else None
    catalogue.loaded_at = now
    for row, position, std in plan.to_update:
        row.number = std.number
        row.position = position
        row.text = std.text
        row.scene = std.scene
        row.audience = std.audience
        row.ward_specific = std.ward_specific
        if tuple(sorted(k.name for k in row.section_kinds)) != tuple(sorted(std.section_kinds)):
            row.section_kinds = [kinds[name] for name in std.section_kinds]
    for position, std in plan.to_add:
        catalogue.standards.append(_new_standard(position, std, kinds))


def load_catalogues(path: str | Path) -> list[LoadResult]:
    """Validate a catalogue file or directory, then add or update its catalogues.

    Idempotent: loading the same files again reports every catalogue ``unchanged`` and writes
    nothing. Raises :class:`CatalogueError` (with every error, nothing written) when a file is
    invalid or when a change would touch a standard that already has answers. Never commits.
    """
    return upsert_catalogues(read_catalogues(path))


def public_catalogues() -> list[Catalogue]:
    """Every published catalogue, newest year first (the public home page; drafts are not)."""
    return list(
        db.session.scalars(
            sa.select(Catalogue)
            .where(Catalogue.published_at.is_not(None))
            .order_by(Catalogue.fiscal_year.desc(), Catalogue.key)
        )
    )


def catalogue_with_standards(key: str) -> tuple[Catalogue, list[Standard]] | None:
    """A catalogue and its standards in order with their section kinds (two queries), or
    None when no published catalogue has that key."""
    found = db.session.scalar(sa.select(Catalogue).where(Catalogue.key == key))
    if found is None or found.published_at is None:
        return None
    standards = db.session.scalars(
        sa.select(Standard)
        .where(Standard.catalogue_id == found.id)
        .options(so.selectinload(Standard.section_kinds))
        .order_by(Standard.position)
    ).all()
    return found, list(standards)


def list_catalogues() -> list[CatalogueSummary]:
    """The loaded catalogues with their ward and number of standards, oldest year first."""
    count = sa.func.count(Standard.id)
    query = (
        sa.select(Catalogue.key, Catalogue.title, Catalogue.fiscal_year, Ward.name, count)
        .outerjoin(Ward, Catalogue.ward_id == Ward.id)
        .outerjoin(Standard, Standard.catalogue_id == Catalogue.id)
        .group_by(Catalogue.id, Catalogue.key, Catalogue.title, Catalogue.fiscal_year, Ward.name)
        .order_by(Catalogue.fiscal_year, Catalogue.key)
    )
    return [
        CatalogueSummary(key=key, title=title, fiscal_year=year, ward=ward, count=n)
        for key, title, year, ward, n in db.session.execute(query)
    ]


def catalogue_titles(keys: Iterable[str]) -> dict[str, str]:
    """The titles of the catalogues with these keys (a key with no catalogue is left out), in
    one query: the audit log names a catalogue by its title."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = db.session.execute(
        sa.select(Catalogue.key, Catalogue.title).where(Catalogue.key.in_(wanted))
    )
    return {key: title for key, title in rows}
