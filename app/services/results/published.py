"""Last year's published table: a ward's compliance table of a past fiscal year, imported from
the CSV or xlsx of its annual report (in the layout Kijun exports) because that year's answers
were never in Kijun (docs/results.md, "Last year's published table").

The rows are matched to standard keys by their number through **that year's** catalogue (the
ward's own catalogue of the year, else the city's), so that the figures follow the standards
into later years as counted rounds do. "-" is kept as "-" and ＊ as hidden. Rows that do not
fit (no number, a number the catalogue does not have, a number twice) are named by line and
left out; a cell that is not a rate makes the whole file refused.

The figures carry rates only, never counts: they fill the 前年度 columns, the year-over-year
chart and the trend (``app.services.results.compliance``), marked as imported, and never enter a
count, a total over several wards or the small-group rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _

from app.extensions import db
from app.i18n import localized_fiscal_year_label
from app.models import (
    Audience,
    Catalogue,
    Person,
    PublishedRate,
    PublishedTable,
    Role,
    Round,
    Standard,
    Ward,
    round_ward,
)
from app.services import tabular
from app.services.errors import DomainError
from app.services.governance import audit
from app.wareki import fiscal_year_label
from reports.published import PublishedCell, PublishedFile, parse_csv, parse_sheet

MAX_FILE_BYTES = 1024 * 1024  # a table of forty standards is a few kilobytes


class PublishedImportError(DomainError):
    """The file cannot be imported; ``messages`` say why, in the page's language."""

    @property
    def messages(self) -> list[str]:
        return self.errors


@dataclass(frozen=True)
class ImportRow:
    """A row that matched a standard of the year's catalogue."""

    line: int
    number: int
    key: str
    text: str
    staff: PublishedCell
    chief: PublishedCell


@dataclass(frozen=True)
class SkippedLine:
    line: int
    reason: str


@dataclass(frozen=True)
class ImportPreview:
    """What an import would write, shown to the admin before it is saved."""

    ward_id: int
    ward_name: str
    fiscal_year: int
    catalogue_id: int
    catalogue_title: str
    column_group: str
    rows: tuple[ImportRow, ...]
    skipped: tuple[SkippedLine, ...]
    missing: tuple[int, ...]  # numbers of the catalogue that the file has no row for
    replaces: datetime | None  # when the table it replaces was imported
    # Kijun's own rounds of that year for the ward (titles): their counts are shown as the
    # next year's 前年度, never this table (``compliance.round_results``).
    kijun_rounds: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublishedSummary:
    """An imported table in the admin's list."""

    id: int
    ward_name: str
    fiscal_year: int
    catalogue_title: str
    source: str
    imported_at: datetime
    rates: int


def year_catalogue(ward_id: int, fiscal_year: int) -> Catalogue | None:
    """The catalogue a ward answered in a fiscal year: its own, else the city's (the latest
    loaded when there are several)."""
    return db.session.scalars(
        sa.select(Catalogue)
        .where(
            Catalogue.fiscal_year == fiscal_year,
            sa.or_(Catalogue.ward_id == ward_id, Catalogue.ward_id.is_(None)),
        )
        .order_by(Catalogue.ward_id.is_(None), Catalogue.loaded_at.desc(), Catalogue.id.desc())
        .limit(1)
    ).first()


def read_table(data: bytes, filename: str) -> PublishedFile:
    """A published table's CSV or xlsx (by its name's ending, or the zip signature of an xlsx
    however named), read by ``app.services.tabular``: the 「遵守率」 sheet of a workbook (else
    its first), its cells as stored. PublishedImportError when the file cannot be read."""
    try:
        if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
            return parse_sheet(tabular.read_xlsx_values(data, name=filename, sheet="遵守率"))
        return parse_csv(tabular.read_csv(data))
    except tabular.TabularError as error:
        raise PublishedImportError(error.errors) from error


def _problem_message(code: str, line: int, detail: str) -> str:
    if code == "no_header":
        return str(_(
            "%(line)s行目: 見出しの行（「基準 No」「基準の内容」、続いて年度ごとの「職員」"
            "「所属長」）が見つかりません。Kijun が書き出す CSV か Excel の形にしてください。",
            line=line,
        ))
    if code == "bad_rate":
        return str(_(
            "%(line)s行目: 遵守率として読めない値があります（%(cells)s）。0〜100 の数（小数第1位"
            "まで）か「-」「＊」にしてください。",
            line=line, cells=detail,
        ))
    return str(_("%(line)s行目: 基準 No がない行です（「%(label)s」）。", line=line, label=detail))


def preview_import(
    ward_id: int, fiscal_year: int, data: bytes, filename: str
) -> ImportPreview:
    """Read a file and match its column group of ``fiscal_year`` to that year's catalogue.
    PublishedImportError (nothing written) when the file, the ward or the year does not fit."""
    ward = db.session.get(Ward, ward_id)
    if ward is None:
        raise PublishedImportError([_("区が見つかりません。")])
    if not data:
        raise PublishedImportError([_("ファイルが空です。")])
    if len(data) > MAX_FILE_BYTES:
        raise PublishedImportError([_("ファイルが大きすぎます（1 MB まで）。")])
    catalogue = year_catalogue(ward_id, fiscal_year)
    year = localized_fiscal_year_label(fiscal_year)
    if catalogue is None:
        raise PublishedImportError(
            [_("%(year)sのカタログがありません。先にその年度のカタログのファイル（YAML）を読み込んで"
               "ください（このページの「その年度のカタログを読み込む」、またはコマンド flask "
               "catalogue load）。", year=year)]
        )
    parsed = read_table(data, filename)
    if parsed.unreadable:
        raise PublishedImportError(
            [_problem_message(p.code, p.line, p.detail)
             for p in parsed.problems if p.code in ("no_header", "bad_rate")]
        )
    index = _year_column(parsed, fiscal_year)
    standards = {
        number: (key, text)
        for number, key, text in db.session.execute(
            sa.select(Standard.number, Standard.key, Standard.text).where(
                Standard.catalogue_id == catalogue.id
            )
        )
    }
    skipped = [
        SkippedLine(p.line, _problem_message(p.code, p.line, p.detail))
        for p in parsed.problems
    ]
    rows = _matched_rows(parsed, index, standards, catalogue, year, skipped)
    if not rows:
        raise PublishedImportError(
            [_("カタログの基準に合う行が1つもありません。"), *(s.reason for s in skipped)]
        )
    existing = _existing(ward_id, fiscal_year)
    return ImportPreview(
        ward_id=ward.id,
        ward_name=ward.name,
        fiscal_year=fiscal_year,
        catalogue_id=catalogue.id,
        catalogue_title=catalogue.title,
        column_group=parsed.groups[index],
        rows=tuple(rows),
        skipped=tuple(sorted(skipped, key=lambda s: s.line)),
        missing=tuple(sorted(set(standards) - {row.number for row in rows})),
        replaces=existing.imported_at if existing is not None else None,
        kijun_rounds=tuple(rounds_of_year(ward_id, fiscal_year)),
    )


def rounds_of_year(ward_id: int, fiscal_year: int) -> list[str]:
    """The titles of Kijun's rounds of a fiscal year that ask the ward: when there is one, the
    next year's results compare with it, and the ward's imported table of that year is not
    shown (a round's counts always win over an imported table)."""
    return list(db.session.scalars(
        sa.select(Round.title)
        .join(round_ward, round_ward.c.round_id == Round.id)
        .where(Round.fiscal_year == fiscal_year, round_ward.c.ward_id == ward_id)
        .order_by(Round.closes_at, Round.id)
    ))


def published_ward_names(ward_ids: Iterable[int], fiscal_year: int) -> tuple[str, ...]:
    """The names of the wards among ``ward_ids`` with an imported table of ``fiscal_year``."""
    wards = list(ward_ids)
    if not wards:
        return ()
    return tuple(db.session.scalars(
        sa.select(Ward.name)
        .join(PublishedTable, PublishedTable.ward_id == Ward.id)
        .where(PublishedTable.ward_id.in_(wards), PublishedTable.fiscal_year == fiscal_year)
        .order_by(Ward.sort_order, Ward.id)
    ))


def _year_column(parsed: PublishedFile, fiscal_year: int) -> int:
    """The index of the file's column group of ``fiscal_year`` (its label starts with the
    year's Japanese name); PublishedImportError naming the groups when there is none."""
    wanted = fiscal_year_label(fiscal_year)
    index = next((i for i, g in enumerate(parsed.groups) if g.startswith(wanted)), None)
    if index is None:
        raise PublishedImportError([
            _("この表には%(year)sの列がありません（列: %(groups)s）。",
              year=localized_fiscal_year_label(fiscal_year), groups="、".join(parsed.groups))
        ])
    return index


def _matched_rows(
    parsed: PublishedFile,
    index: int,
    standards: dict[int, tuple[str, str]],
    catalogue: Catalogue,
    year: str,
    skipped: list[SkippedLine],
) -> list[ImportRow]:
    """The file's rows matched to the catalogue's standards by number, the first of each
    number; every other row goes to ``skipped`` with the reason."""
    rows: list[ImportRow] = []
    seen: set[int] = set()
    for row in parsed.rows:
        if row.number is None or row.number not in standards:
            skipped.append(SkippedLine(row.line, _(
                "%(line)s行目: 基準%(n)sは%(year)sのカタログ（%(title)s）にありません。",
                line=row.line, n=row.number, year=year, title=catalogue.title,
            )))
            continue
        if row.number in seen:
            skipped.append(SkippedLine(row.line, _(
                "%(line)s行目: 基準%(n)sがもう一度出てきます。最初の行を使います。",
                line=row.line, n=row.number,
            )))
            continue
        seen.add(row.number)
        key, text = standards[row.number]
        staff, chief = row.groups[index]
        rows.append(ImportRow(row.line, row.number, key, text, staff, chief))
    return rows


def _existing(ward_id: int, fiscal_year: int) -> PublishedTable | None:
    return db.session.scalars(
        sa.select(PublishedTable).where(
            PublishedTable.ward_id == ward_id, PublishedTable.fiscal_year == fiscal_year
        )
    ).first()


def _tenths(cell: PublishedCell) -> int | None:
    return None if cell.rate is None else int(cell.rate * 10)


def _table_values(table: PublishedTable) -> dict[str, object]:
    """What the audit log says of a table: its year, file and import."""
    return {"fiscal_year": table.fiscal_year, "source": table.source,
            "imported_at": table.imported_at.isoformat() if table.imported_at else None}


def save_import(preview: ImportPreview, source: str, by: Person | None) -> PublishedTable:
    """Write the previewed table, replacing the ward's table of that year if there is one,
    with its audit row (``published.import``; ``by`` None: the command line). Flushes, never
    commits."""
    existing = _existing(preview.ward_id, preview.fiscal_year)
    before = None
    if existing is not None:
        before = _table_values(existing)
        db.session.delete(existing)
        db.session.flush()
    table = PublishedTable(
        ward_id=preview.ward_id,
        fiscal_year=preview.fiscal_year,
        catalogue_id=preview.catalogue_id,
        source=source[:200],
        imported_by_id=by.id if by is not None else None,
    )
    for row in preview.rows:
        for role, cell in ((Role.STAFF, row.staff), (Role.CHIEF, row.chief)):
            table.rates.append(
                PublishedRate(
                    standard_key=row.key,
                    role=role,
                    rate_tenths=_tenths(cell),
                    hidden=cell.hidden,
                )
            )
    db.session.add(table)
    db.session.flush()
    audit.record(
        "published.import",
        actor=by,
        target_type="published_table",
        target_id=table.id,
        before=before,
        after={**_table_values(table), "catalogue_id": preview.catalogue_id,
               "standards": len(preview.rows)},
        ward_id=preview.ward_id,
    )
    return table


def delete_published(table_id: int, ward_ids: Iterable[int] | None, by: Person) -> bool:
    """Remove an imported table of one of ``ward_ids`` (None: any), with its audit row
    (``published.delete``). Flushes, never commits."""
    table = db.session.get(PublishedTable, table_id)
    if table is None or (ward_ids is not None and table.ward_id not in set(ward_ids)):
        return False
    audit.record(
        "published.delete",
        actor=by,
        target_type="published_table",
        target_id=table.id,
        before=_table_values(table),
        ward_id=table.ward_id,
    )
    db.session.delete(table)
    db.session.flush()
    return True


def published_tables(ward_ids: Iterable[int] | None) -> list[PublishedSummary]:
    """The imported tables of ``ward_ids`` (None: every ward), newest year first."""
    rates = (
        sa.select(sa.func.count())
        .where(PublishedRate.table_id == PublishedTable.id)
        .scalar_subquery()
    )
    query = (
        sa.select(
            PublishedTable.id, Ward.name, PublishedTable.fiscal_year, Catalogue.title,
            PublishedTable.source, PublishedTable.imported_at, rates,
        )
        .join(Ward, Ward.id == PublishedTable.ward_id)
        .join(Catalogue, Catalogue.id == PublishedTable.catalogue_id)
        .order_by(PublishedTable.fiscal_year.desc(), Ward.sort_order, Ward.id)
    )
    if ward_ids is not None:
        query = query.where(PublishedTable.ward_id.in_(list(ward_ids)))
    return [PublishedSummary(*row) for row in db.session.execute(query)]


@dataclass(frozen=True)
class PublishedFigures:
    """A ward's published table of a year as the results read it: rates by (standard key,
    role) with "-" as None, the keys of ＊ cells, and the catalogue's numbers and texts."""

    ward_id: int
    fiscal_year: int
    source: str
    imported_at: datetime
    rates: dict[tuple[str, Role], Decimal | None]
    hidden: set[tuple[str, Role]]
    numbers: dict[str, int]
    texts: dict[str, str]
    section_level: set[str]  # keys the chief answers once for the section


def published_years(ward_id: int) -> list[int]:
    """The fiscal years of which a ward has an imported table."""
    return list(
        db.session.scalars(
            sa.select(PublishedTable.fiscal_year).where(PublishedTable.ward_id == ward_id)
        )
    )


def published_figures(
    ward_ids: Iterable[int], fiscal_years: Iterable[int]
) -> dict[tuple[int, int], PublishedFigures]:
    """The imported tables of some wards and years, by (ward, fiscal year). One query (the
    rows number standards × roles per table)."""
    wards, years = list(ward_ids), list(fiscal_years)
    if not wards or not years:
        return {}
    rows = db.session.execute(
        sa.select(
            PublishedTable.ward_id, PublishedTable.fiscal_year, PublishedTable.source,
            PublishedTable.imported_at, PublishedRate.standard_key, PublishedRate.role,
            PublishedRate.rate_tenths, PublishedRate.hidden, Standard.number, Standard.text,
            Standard.audience,
        )
        .join(PublishedRate, PublishedRate.table_id == PublishedTable.id)
        .outerjoin(
            Standard,
            sa.and_(
                Standard.catalogue_id == PublishedTable.catalogue_id,
                Standard.key == PublishedRate.standard_key,
            ),
        )
        .where(PublishedTable.ward_id.in_(wards), PublishedTable.fiscal_year.in_(years))
    ).all()
    found: dict[tuple[int, int], PublishedFigures] = {}
    for ward, year, source, at, key, role, tenths, hidden, number, text, audience in rows:
        figures = found.get((ward, year))
        if figures is None:
            figures = found[(ward, year)] = PublishedFigures(
                ward, year, source, at, {}, set(), {}, {}, set()
            )
        role = Role(role)
        figures.rates[(key, role)] = None if tenths is None else Decimal(tenths).scaleb(-1)
        if hidden:
            figures.hidden.add((key, role))
        if number is not None:
            figures.numbers[key] = number
            figures.texts[key] = text
            if Audience(audience) is Audience.SECTION:
                figures.section_level.add(key)
    return found
