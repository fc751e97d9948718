"""Small-group protection: which cells of a set of published tables must be hidden.

A cell is built from some number of people. A cell built from at least one but fewer than
``min_size`` people is hidden (primary suppression). Tables also publish totals: a ward's
cell is the sum of its departments' cells, a scene's cell the sum of its standards' cells.
When exactly one part of a published total is hidden, it could be worked out as the total
minus the other parts, so another part is hidden too, the smallest one (complementary
suppression); when no other part can be hidden, the total is. This repeats until no published
total has exactly one hidden part, since hiding a cell can expose a cell of another total.

Cells built from nobody (0 people) are published as "-": they reveal nothing and never need
hiding. Cells listed in ``exempt`` are never hidden (a section's own answers are statements
about the section, not about a person) and are not used to protect others.

A total whose parts another page publishes, or hides, on its own (the city's sum of the wards'
figures, each on its ward's round page) cannot be protected by hiding a part here: a part shown
there stays known, and a part hidden there is hidden already. Such a total (``open_totals``)
is hidden as soon as any of its parts is. Hidden beside two or more hidden parts too: their sum
would be worked out against the same page read at another time (a third small ward's round
closes later: after minus before gives it) or against the other page's own totals.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

MIN_GROUP_SIZE_FLOOR = 3
DEFAULT_MIN_GROUP_SIZE = 5


def too_small(n: int, min_size: int) -> bool:
    """Whether a cell built from ``n`` people is hidden for its own size: at least one person
    but fewer than ``min_size`` (a cell of nobody reveals nothing and is shown as "-")."""
    return 0 < n < min_size


def check_min_size(min_size: int) -> int:
    """The configured smallest group, refused below the floor of 3."""
    if int(min_size) < MIN_GROUP_SIZE_FLOOR:
        raise ValueError(
            f"MIN_GROUP_SIZE は {MIN_GROUP_SIZE_FLOOR} 以上にしてください（設定値: {min_size}）。"
        )
    return int(min_size)


def suppress(
    sizes: Mapping[K, int],
    totals: Iterable[tuple[K, Sequence[K]]],
    min_size: int,
    exempt: Iterable[K] = (),
    also_hide: Iterable[K] = (),
    weak_totals: Iterable[tuple[K, Sequence[K]]] = (),
    open_totals: Iterable[tuple[K, Sequence[K]]] = (),
) -> set[K]:
    """The cells to hide.

    ``sizes`` maps every published cell to the number of people it is built from; ``totals``
    lists each published total with its parts (total = sum of parts); cells missing from
    ``sizes`` count as empty. ``also_hide`` names cells to hide for another reason (a rate
    built from fewer people than the cell's size, say); they are protected the same way.
    ``weak_totals`` are totals that are worth less than their parts (staff and chiefs of a
    section added up, say): when one of their parts is hidden, the total is hidden instead of
    another part. ``open_totals`` are totals of cells that other pages publish or hide on
    their own: when any of their parts is hidden, the total is hidden, and no part is.
    """
    min_size = check_min_size(min_size)
    never = set(exempt)
    hidden = {
        cell for cell, size in sizes.items() if too_small(size, min_size) and cell not in never
    }
    hidden.update(cell for cell in also_hide if cell not in never)
    relations = [
        (total, [p for p in parts if p not in never], kind)
        for kind, group in (("total", totals), ("weak", weak_totals), ("open", open_totals))
        for total, parts in group
        if total not in never
    ]
    changed = True
    while changed:
        changed = False
        for total, parts, kind in relations:
            if sizes.get(total, 0) == 0:
                continue
            hidden_parts = [p for p in parts if p in hidden]
            if kind == "open":
                if hidden_parts and total not in hidden:
                    hidden.add(total)
                    changed = True
                continue
            weak = kind == "weak"
            if total in hidden:
                # A hidden total is the sum of its parts: when every part is shown, it could be
                # worked out from them, so the smallest part is hidden too.
                shown = [p for p in parts if sizes.get(p, 0) > 0]
                if not weak and shown and not hidden_parts:
                    hidden.add(min(shown, key=lambda p: (sizes[p], parts.index(p))))
                    changed = True
                continue
            if len(hidden_parts) != 1:
                continue
            candidates = [] if weak else [
                p for p in parts if p not in hidden and sizes.get(p, 0) > 0
            ]
            if candidates:
                hidden.add(min(candidates, key=lambda p: (sizes[p], parts.index(p))))
            else:
                hidden.add(total)
            changed = True
    return hidden
