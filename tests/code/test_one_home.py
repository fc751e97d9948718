"""Each rule is written once, in its home (docs/architecture.md): a copy of its shape elsewhere
fails this test.

- the ward scope's "None means every ward": only in app/access.py (``is_city``, ``covers``,
  ``in_scope_clause``);
- the small-group threshold (``0 < n < min_size``, a comparison with ``min_size``,
  ``min_group_size`` or ``MIN_GROUP_SIZE``): only in reports/privacy.py (``too_small``);
- a hand-written join of a round's people (an assignment's fiscal year against the round's):
  only in app/services/rounds/audience.py (``join_audience``, ``section_members_in_year``).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SHAPES: dict[str, tuple[str, re.Pattern[str]]] = {
    "ward scope": ("app/access.py", re.compile(r"\bscope is (not )?None\b")),
    "small-group threshold": (
        "reports/privacy.py",
        re.compile(
            r"\b0 < [\w.\[\]\"']+ < |[<>]=? *[\w.]*\b(min_size|min_group_size)\b"
            r"|MIN_GROUP_SIZE\b[\"'\]]* *[<>]"
            r"|[<>]=? *[\w.]*(\[[\"'])?MIN_GROUP_SIZE\b"
        ),
    ),
    "audience join": (
        "app/services/rounds/audience.py",
        re.compile(
            r"\b\w+\.fiscal_year == (round_|Round)\.fiscal_year\b"
            r"|\bRound\.fiscal_year == \w+\.fiscal_year\s*[,)\n]"
        ),
    ),
}


def _application_files() -> list[Path]:
    """app/ (without its migrations), reports/ and wsgi.py."""
    files = [ROOT / "wsgi.py"]
    for folder in ("app", "reports"):
        files += [p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def copies(path: Path, text: str) -> list[str]:
    """``path:line rule`` for each line of ``text`` holding a rule's shape outside its home."""
    where = path.relative_to(ROOT).as_posix() if path.is_absolute() else path.as_posix()
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for rule, (home, pattern) in SHAPES.items():
            if where != home and pattern.search(line):
                found.append(f"{where}:{number} {rule}: {line.strip()}")
    return found


def test_each_rule_is_written_only_in_its_home() -> None:
    """No application file outside a rule's home writes the scope, threshold or audience rule."""
    found = [
        hit for path in _application_files() for hit in copies(path, path.read_text("utf-8"))
    ]
    assert found == []


def test_the_check_catches_planted_copies() -> None:
    """Each shape planted in a file outside its home is caught; the same lines at home are not."""
    planted = "\n".join(
        [
            "    if scope is None:",
            "    return scope is not None and x",
            "    hidden = 0 < c.answering < min_size",
            "    if size >= results.min_group_size:",
            '    if n < current_app.config["MIN_GROUP_SIZE"]:',
            "    .where(member.fiscal_year == round_.fiscal_year)",
            "    sa.and_(Assignment.fiscal_year == Round.fiscal_year)",
            "    .join(Round, Round.fiscal_year == Assignment.fiscal_year)",
        ]
    )
    hits = copies(Path("app/services/elsewhere.py"), planted)
    assert [int(hit.split(":")[1].split()[0]) for hit in hits] == [1, 2, 3, 4, 5, 6, 7, 8]
    for rule, (home, _pattern) in SHAPES.items():
        at_home = [hit for hit in copies(Path(home), planted) if f" {rule}:" in hit]
        assert at_home == []


def test_the_check_leaves_other_comparisons_alone() -> None:
    """Lines that only look alike (a previous year, a typed parameter) are not copies."""
    innocent = "\n".join(
        [
            "    Round.fiscal_year == info.fiscal_year - 1,",
            "    min_size: int,",
            "    if too_small(n, min_size):",
            "    scope = ward_scope(me, 'committee')",
        ]
    )
    assert copies(Path("app/services/elsewhere.py"), innocent) == []
