"""What a roster's preview warns about: importable, but probably not what the clerk meant.

A warning is not an error (``roster_file.check_rows`` has those: two chiefs in a section, an id
twice …): the file imports, once the clerk ticks 「確認しました」 on the preview
(``roster_upload.confirm_upload`` refuses without the tick when there are warnings). Each names
the lines it is about:

- a section with no 所属長: nobody answers its section-level standards, and nobody gets its
  chief's digest of who has not answered;
- people without a mail address: they get no mail from the rounds (no opening mail, no
  reminders, no sign-in links);
- a ward whose headcount drops by more than a third from the previous fiscal year's roster
  (``HEADCOUNT_DROP``): usually a file that holds only part of the ward, whose missing people
  would lose this year's assignment.

Reads the previous year's headcounts (one query); writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import sqlalchemy as sa
from flask_babel import gettext as _

from app.extensions import db
from app.models import Assignment, Role, Section, Ward
from app.services.organisation.roster_file import RosterRow, name_key

# A ward with fewer people than this share of last year's is warned about (a drop of more
# than a third).
HEADCOUNT_DROP = Fraction(2, 3)
LINES_SHOWN = 50  # lines named in one warning; the rest are counted


@dataclass(frozen=True)
class RosterWarning:
    """One warning: its kind (``no_chief``, ``no_email``, ``headcount``), the message in the
    page's language, and the file's lines it is about (empty for a ward's headcount)."""

    kind: str
    message: str
    lines: tuple[int, ...] = ()

    @property
    def lines_text(self) -> str:
        """The lines, as the page lists them (the first ``LINES_SHOWN``, then how many more)."""
        shown = "、".join(str(line) for line in self.lines[:LINES_SHOWN])
        if len(self.lines) > LINES_SHOWN:
            return str(_("%(lines)s 行目ほか %(n)s 行", lines=shown,
                         n=len(self.lines) - LINES_SHOWN))
        return str(_("%(lines)s 行目", lines=shown))


def roster_warnings(rows: Sequence[RosterRow], fiscal_year: int) -> list[RosterWarning]:
    """Every warning of an importable roster for ``fiscal_year``, sections first (in the
    file's order), then the people without an address, then the wards' headcounts."""
    return [*_without_chief(rows), *_without_email(rows), *_headcount_drops(rows, fiscal_year)]


def _without_chief(rows: Sequence[RosterRow]) -> list[RosterWarning]:
    several_wards = len({name_key(r.ward) for r in rows}) > 1
    sections: dict[tuple[str, str], list[RosterRow]] = {}
    for row in rows:
        sections.setdefault((name_key(row.ward), name_key(row.section)), []).append(row)
    warnings = []
    for members in sections.values():
        if any(r.role is Role.CHIEF for r in members):
            continue
        first = members[0]
        label = f"{first.ward} {first.section}" if several_wards else first.section
        warnings.append(RosterWarning(
            "no_chief",
            str(_("%(section)s に所属長がいません（%(n)s 人とも職員）。この課の課としての基準に"
                  "答える人がいなくなり、未回答者の一覧もだれにも届きません。",
                  section=label, n=len(members))),
            tuple(r.line for r in members),
        ))
    return warnings


def _without_email(rows: Sequence[RosterRow]) -> list[RosterWarning]:
    lines = tuple(r.line for r in rows if not r.email)
    if not lines:
        return []
    return [RosterWarning(
        "no_email",
        str(_("メールアドレスのない人が %(n)s 人います。この人たちには調査のお知らせ・催促・"
              "サインイン用のリンクのメールが届きません。", n=len(lines))),
        lines,
    )]


def _headcount_drops(rows: Sequence[RosterRow], fiscal_year: int) -> list[RosterWarning]:
    in_file: dict[str, int] = {}
    names: dict[str, str] = {}
    for row in rows:
        key = name_key(row.ward)
        in_file[key] = in_file.get(key, 0) + 1
        names.setdefault(key, row.ward)
    last_year = {
        name_key(name): count
        for name, count in db.session.execute(
            sa.select(Ward.name, sa.func.count(Assignment.id))
            .join(Section, Section.ward_id == Ward.id)
            .join(Assignment, Assignment.section_id == Section.id)
            .where(Assignment.fiscal_year == fiscal_year - 1)
            .group_by(Ward.name)
        )
    }
    warnings = []
    for key, count in in_file.items():
        before = last_year.get(key, 0)
        if before and Fraction(count, before) < HEADCOUNT_DROP:
            warnings.append(RosterWarning(
                "headcount",
                str(_("%(ward)s の人数が前年度の %(before)s 人から %(after)s 人に減ります"
                      "（3分の1より多い減少）。区の全員が載っているか確かめてください。載って"
                      "いない人は、この年度の所属がなくなります。",
                      ward=names[key], before=before, after=count)),
            ))
    return warnings
