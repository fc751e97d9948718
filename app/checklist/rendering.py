"""The checklist's items as HTML, one ``<fieldset>`` per standard, and their parts and scenes.

A checklist page is mostly the same 36 fieldsets again and again: an item without a comment or
an error looks the same for everybody who chose the same answer in the same language. Those
are written once per process and kept; writing them anew with Jinja was about half of the
page's time (docs/benchmarks.md). An item with a comment is kept with a mark where the comment
goes, and the comment (escaped) is put in per request; an item with an error is always written
fresh.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from flask import current_app, get_template_attribute
from flask_babel import get_locale
from markupsafe import Markup, escape

from app.checklist.forms import COMMENT_PREFIX, ChecklistForm
from app.services.rounds.checklist import COMMENT_MAX_LENGTH, ChecklistItem

ITEM_TEMPLATE = "checklist/_item.html"
CACHE_KEY = "kijun.checklist_item_html"
CACHE_SIZE = 4096  # 36 standards x 4 answers x 2 (open or not) x 2 (comment) x 2 languages: 1152
ANSWER_VALUES = frozenset({None, "yes", "no", "na"})
# Where a kept item's comment goes: a mark no comment can hold (a NUL is refused).
COMMENT_SLOT = Markup("\x00kijun-comment\x00")


@dataclass(frozen=True)
class ItemState:
    """What the page shows for one item: the chosen answer, the comment and their errors."""

    value: str | None
    comment: str = ""
    comment_errors: tuple[str, ...] = ()


# The state of an item answered (or not) without a comment: one per answer, shared.
_PLAIN_STATES = {value: ItemState(value) for value in ANSWER_VALUES}


@dataclass(frozen=True)
class Part:
    """The 'self' or 'section' part of the checklist, its items grouped by scene."""

    name: str
    scenes: list[tuple[str, list[ChecklistItem]]]


def parts_of(items: Sequence[ChecklistItem]) -> list[Part]:
    """Items in the catalogue's order, which is the paper form's and the published table's
    (seed 000: 1-23, 24-28, then the ward's own 31-33), in runs of one part (answered for
    myself, or once for the section), with a scene heading wherever the scene changes. The
    checklist page and the catalogue's preview show them through one macro
    (``checklist_parts`` in checklist/_macros.html); the receipt as a table a part."""
    parts: list[Part] = []
    for item in items:
        if not parts or parts[-1].name != item.part:
            parts.append(Part(item.part, []))
        scenes = parts[-1].scenes
        if not scenes or scenes[-1][0] != item.scene:
            scenes.append((item.scene, []))
        scenes[-1][1].append(item)
    return parts


def stored_states(items: Sequence[ChecklistItem]) -> dict[str, ItemState]:
    """The stored answers and comments by standard key."""
    states = {}
    for item in items:
        value = str(item.value) if item.value is not None else None
        states[item.key] = (
            ItemState(value, item.comment)
            if item.comment
            else _PLAIN_STATES.get(value) or ItemState(value)
        )
    return states


def form_states(items: Sequence[ChecklistItem], form: ChecklistForm) -> dict[str, ItemState]:
    """The answers and comments as sent in ``form``, with the comments' errors."""
    states = {}
    for item in items:
        comment = form.comment_field(item.key)
        states[item.key] = ItemState(
        form[item.key].data or None,
        comment.data or "",
        tuple(str(error) for error in comment.errors),
        )
    return states


def items_html(
    items: Sequence[ChecklistItem],
    states: Mapping[str, ItemState],
    errors: Mapping[str, Sequence[str]],
    *,
    disabled: bool,
) -> dict[str, Markup]:
    """Each item's fieldset by standard key; ``errors`` are the problems beside each item."""
    macro = get_template_attribute(ITEM_TEMPLATE, "checklist_item")
    # The development server reloads changed templates; kept HTML would hide the change.
    cache: dict[tuple[object, ...], tuple[Markup, ...]] | None = None
    if not current_app.jinja_env.auto_reload:
        cache = current_app.extensions.setdefault(CACHE_KEY, {})
    locale = str(get_locale())
    html = {}
    for item in items:
        state = states[item.key]
        item_errors = tuple(errors.get(item.key, ()))
        if cache is None or item_errors or state.comment_errors or state.value not in ANSWER_VALUES:
            html[item.key] = _render(macro, item, state, item_errors, disabled)
            continue
        key = (locale, item.key, item.number, item.text, state.value, disabled, bool(state.comment))
        pieces = cache.get(key)
        if pieces is None:
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            kept = ItemState(state.value, COMMENT_SLOT if state.comment else "")
            pieces = cache[key] = tuple(
                _render(macro, item, kept, (), disabled).split(COMMENT_SLOT)
            )
        # The comment goes where the kept HTML has its mark, escaped as Jinja would.
        html[item.key] = escape(state.comment).join(pieces) if state.comment else pieces[0]
    return html


def _render(
    macro: Callable[..., Markup],
    item: ChecklistItem,
    state: ItemState,
    errors: tuple[str, ...],
    disabled: bool,
) -> Markup:
    html: Markup = macro(
        key=item.key,
        number=item.number,
        text=item.text,
        value=state.value,
        comment=state.comment,
        comment_name=COMMENT_PREFIX + item.key,
        comment_errors=state.comment_errors,
        errors=errors,
        max_length=COMMENT_MAX_LENGTH,
        choices=ChecklistForm.choice_labels(),
        disabled=disabled,
    )
    return html
