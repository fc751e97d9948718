"""Survey rounds: open a catalogue for a period in some wards (``flask --app wsgi round ...``).

A round asks the standards of one catalogue of the people of one or more wards, between
``opens_at`` (inclusive) and ``closes_at`` (exclusive): it is open exactly when
``opens_at <= now < closes_at``. Times are stored in UTC and shown on the city's clock
(Asia/Tokyo).

The fiscal year rule: ``round.fiscal_year`` is the fiscal year (April-March, Asia/Tokyo) in
which the round opens. It decides whose roster answers (each person's assignment of that year:
section and role). The catalogue's own fiscal year is usually the same; it may be older when the
new year's list is not yet published (last year's catalogue asked again), and the round then
still uses the roster of the year it runs in. A round that opens in March and closes after
1 April keeps the opening year's roster.

Like every service it flushes but never commits: the caller commits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import Catalogue, Round, Ward, round_ward
from app.wareki import TOKYO, fiscal_year_label, fiscal_year_of, tokyo

TITLE_MAX_LENGTH = 200  # Round.title is String(200)

# 2026-11-01 09:00, 2026-11-01T09:00, optional seconds, optional offset (Z, +09:00, +0900).
_DATETIME = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?P<offset>Z|[+-]\d{2}:?\d{2})?$"
)


class RoundError(Exception):
    """A round cannot be created; ``errors`` holds every problem found, in plain Japanese."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors: list[str] = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True)
class RoundSummary:
    """A round as ``flask round list`` shows it."""

    id: int
    title: str
    fiscal_year: int
    catalogue_key: str
    wards: tuple[str, ...]
    opens_at: datetime
    closes_at: datetime
    is_open: bool


def default_title(fiscal_year: int) -> str:
    """``2025`` -> ``令和7年度 区役所サービス基準 自己点検``."""
    return f"{fiscal_year_label(fiscal_year)} 区役所サービス基準 自己点検"


def parse_datetime(text: str) -> datetime:
    """``2026-11-01 09:00`` or ``2026-11-01T09:00`` (seconds optional) as an aware datetime.

    Without an offset the time is on the city's clock (Asia/Tokyo); ``Z`` or ``+09:00`` style
    offsets are honoured. Raises ValueError with a plain Japanese message otherwise.
    """
    cleaned = text.strip()
    match = _DATETIME.match(cleaned)
    if match is None:
        raise ValueError(
            f"日時「{text}」が読めません。2026-11-01 09:00 のように"
            "「年-月-日 時:分」で書いてください（時差は +09:00 のように付けられます）。"
        )
    offset = match["offset"] or ""
    if offset and offset != "Z" and ":" not in offset:
        offset = f"{offset[:3]}:{offset[3:]}"
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}{offset}")
    except ValueError as exc:
        raise ValueError(f"日時「{text}」はありえない日付か時刻です。") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TOKYO)
    return moment


def create_round(
    catalogue_key: str,
    ward_names: Sequence[str],
    opens_at: datetime,
    closes_at: datetime,
    title: str | None = None,
) -> Round:
    """Create a round of the catalogue ``catalogue_key`` for the named wards.

    Checks, collecting every problem before giving up (RoundError): the catalogue and each ward
    exist; at least one ward; a ward's own catalogue (``catalogue.ward`` set) only for that
    ward; both times are aware and ``opens_at < closes_at``; the title fits. The fiscal year
    is the opening's (see the module docstring); the default title is
    「令和N年度 区役所サービス基準 自己点検」 for that year. Flushes, never commits.
    """
    errors: list[str] = []
    catalogue = db.session.scalar(sa.select(Catalogue).where(Catalogue.key == catalogue_key))
    if catalogue is None:
        errors.append(
            f"カタログ「{catalogue_key}」は読み込まれていません"
            "（flask --app wsgi catalogue list で確かめてください）。"
        )

    names = list(dict.fromkeys(name.strip() for name in ward_names if name.strip()))
    wards: list[Ward] = []
    if not names:
        errors.append("対象の区を1つ以上指定してください（--ward 高津区）。")
    else:
        found = {
            w.name: w for w in db.session.scalars(sa.select(Ward).where(Ward.name.in_(names)))
        }
        for name in names:
            if name not in found:
                errors.append(f"区「{name}」はありません。")
        wards = [found[name] for name in names if name in found]

    if catalogue is not None and catalogue.ward_id is not None:
        own = catalogue.ward.name if catalogue.ward is not None else ""
        others = [w.name for w in wards if w.id != catalogue.ward_id]
        if others:
            errors.append(
                f"カタログ「{catalogue.key}」は{own}の基準です。"
                f"ほかの区（{'、'.join(others)}）には使えません。"
            )

    aware = True
    for label, moment in (("開始", opens_at), ("締切", closes_at)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            errors.append(f"{label}の日時に時差（タイムゾーン）がありません。")
            aware = False
    if aware and not opens_at < closes_at:
        errors.append("締切は開始より後にしてください。")

    fiscal_year = fiscal_year_of(tokyo(opens_at)) if aware else 0
    final_title = (title or "").strip() or default_title(fiscal_year)
    if len(final_title) > TITLE_MAX_LENGTH:
        errors.append(f"題名は {TITLE_MAX_LENGTH} 文字までにしてください。")

    if errors or catalogue is None:
        raise RoundError(errors)

    round_ = Round(
        title=final_title,
        catalogue=catalogue,
        fiscal_year=fiscal_year,
        opens_at=opens_at,
        closes_at=closes_at,
        wards=wards,
    )
    db.session.add(round_)
    db.session.flush()
    return round_


def list_rounds(now: datetime | None = None) -> list[RoundSummary]:
    """Every round, newest opening first, with its catalogue and wards (two queries)."""
    rows = db.session.execute(
        sa.select(Round, Catalogue.key)
        .join(Catalogue, Catalogue.id == Round.catalogue_id)
        .order_by(Round.opens_at.desc(), Round.id.desc())
    ).all()
    wards_by_round: dict[int, list[str]] = {}
    if rows:
        for round_id, ward_name in db.session.execute(
            sa.select(round_ward.c.round_id, Ward.name)
            .join(Ward, Ward.id == round_ward.c.ward_id)
            .where(round_ward.c.round_id.in_([r.id for r, _ in rows]))
            .order_by(Ward.sort_order, Ward.name)
        ):
            wards_by_round.setdefault(round_id, []).append(ward_name)
    return [
        RoundSummary(
            id=r.id,
            title=r.title,
            fiscal_year=r.fiscal_year,
            catalogue_key=key,
            wards=tuple(wards_by_round.get(r.id, ())),
            opens_at=r.opens_at,
            closes_at=r.closes_at,
            is_open=r.is_open(now),
        )
        for r, key in rows
    ]
