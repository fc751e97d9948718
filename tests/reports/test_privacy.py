"""Small-group protection in reports/privacy.py, without an app."""

import pytest

from reports.privacy import suppress


def test_a_cell_of_fewer_than_the_minimum_is_hidden():
    """Cells of 1 to 4 people are hidden at a minimum of 5; 0 and 5 are not."""
    sizes = {"a": 4, "b": 5, "c": 0, "d": 1}
    assert suppress(sizes, [], 5) == {"a", "d"}


def test_the_smallest_sibling_is_hidden_when_one_part_of_a_total_is():
    """Total 20 = 3 + 9 + 8: hiding 3 alone would leave it as 20 - 9 - 8, so 8 goes too."""
    sizes = {"total": 20, "x": 3, "y": 9, "z": 8}
    assert suppress(sizes, [("total", ["x", "y", "z"])], 5) == {"x", "z"}


def test_two_hidden_parts_need_no_more():
    """Two hidden parts of a total cannot be told apart, so nothing more is hidden."""
    sizes = {"total": 20, "x": 3, "y": 2, "z": 15}
    assert suppress(sizes, [("total", ["x", "y", "z"])], 5) == {"x", "y"}


def test_the_total_is_hidden_when_no_sibling_can_be():
    """A total with one small part and only empty siblings is hidden itself."""
    sizes = {"total": 3, "x": 3, "y": 0}
    hidden = suppress(sizes, [("total", ["x", "y"])], 3)
    assert hidden == set()
    sizes = {"total": 6, "x": 2, "y": 0, "grand": 12, "other": 6}
    hidden = suppress(sizes, [("total", ["x", "y"]), ("grand", ["total", "other"])], 5)
    assert hidden == {"x", "total", "other"}


def test_hiding_cascades_through_nested_totals():
    """A sibling hidden for one total exposes a cell of another; that is protected too."""
    sizes = {"ward": 40, "d1": 20, "d2": 20, "s1": 3, "s2": 17, "s3": 10, "s4": 10}
    totals = [("ward", ["d1", "d2"]), ("d1", ["s1", "s2"]), ("d2", ["s3", "s4"])]
    hidden = suppress(sizes, totals, 5)
    # s1 is small; its only sibling s2 goes; d1 itself stays shown (two hidden parts)
    assert hidden == {"s1", "s2"}


def test_exempt_cells_are_never_hidden_and_count_as_known():
    """A section's own answers are shown whatever the count and do not protect others."""
    sizes = {"total": 10, "x": 1, "sec": 1, "y": 8}
    hidden = suppress(sizes, [("total", ["x", "sec", "y"])], 5, exempt={"sec"})
    assert "sec" not in hidden
    assert hidden == {"x", "y"}


def test_also_hide_cells_are_protected_like_small_ones():
    """A cell hidden for another reason gets its sibling hidden as well."""
    sizes = {"total": 30, "x": 10, "y": 20}
    assert suppress(sizes, [("total", ["x", "y"])], 5, also_hide={"y"}) == {"x", "y"}


def test_a_weak_total_is_hidden_instead_of_a_sibling():
    """Staff + chief of a section: with the chief hidden, the sum goes, not the staff."""
    sizes = {"all": 7, "staff": 6, "chief": 1}
    hidden = suppress(sizes, [], 5, weak_totals=[("all", ["staff", "chief"])])
    assert hidden == {"chief", "all"}


def test_an_open_total_is_hidden_and_no_part_of_it_is():
    """City 30 = a 3 + b 10 + c 17, each ward on its own page: hiding b here would hide
    nothing (its page shows it), so the city goes instead, and b and c stay."""
    sizes = {"city": 30, "a": 3, "b": 10, "c": 17}
    assert suppress(sizes, [], 5, open_totals=[("city", ["a", "b", "c"])]) == {"a", "city"}


def test_an_open_total_over_two_hidden_parts_is_hidden_too():
    """City 30 = a 2 + b 3 + c 25: a + b would be the city read before a third small part joins
    minus after, so the city is hidden with two hidden parts as with one; parts hidden for
    another reason (also_hide) count the same, exempt ones never."""
    sizes = {"city": 30, "a": 2, "b": 3, "c": 25}
    assert suppress(sizes, [], 5, open_totals=[("city", ["a", "b", "c"])]) == {"a", "b", "city"}
    sizes = {"city": 30, "a": 10, "b": 20, "sec": 1}
    opened = [("city", ["a", "b", "sec"])]
    assert suppress(sizes, [], 5, exempt={"sec"}, open_totals=opened) == set()
    assert suppress(sizes, [], 5, exempt={"sec"}, also_hide={"b"}, open_totals=opened) == {
        "b", "city"
    }


def test_the_minimum_cannot_be_set_below_three():
    """A minimum group of 2 is refused."""
    with pytest.raises(ValueError, match="3"):
        suppress({}, [], 2)


def test_a_hidden_total_is_not_left_to_be_added_up_from_its_parts():
    """Ward 30 = d1 10 + d2 20, d1 = s1 4 + s2 6: s1 hides s2, and d1 then hides d2; if d1 were
    hidden with both its parts shown, they would add up to it."""
    sizes = {"ward": 30, "d1": 10, "d2": 20, "s1": 4, "s2": 6, "d2a": 10, "d2b": 10}
    totals = [("ward", ["d1", "d2"]), ("d1", ["s1", "s2"]), ("d2", ["d2a", "d2b"])]
    assert suppress(sizes, totals, 5) == {"s1", "s2"}
    # a department hidden for its sibling's sake must not keep both its sections shown
    sizes = {"ward": 24, "d1": 4, "d2": 10, "d3": 10, "s3a": 5, "s3b": 5}
    totals = [("ward", ["d1", "d2", "d3"]), ("d3", ["s3a", "s3b"])]
    hidden = suppress(sizes, totals, 5)
    assert {"d1", "d2"} <= hidden
    sizes2 = {"ward": 24, "d1": 4, "d2": 10, "d3": 10, "s2a": 5, "s2b": 5}
    totals2 = [("ward", ["d1", "d2", "d3"]), ("d2", ["s2a", "s2b"])]
    hidden2 = suppress(sizes2, totals2, 5)
    assert "d2" in hidden2 and ({"s2a", "s2b"} & hidden2)


def test_too_small_hides_one_to_below_min_and_never_nobody() -> None:
    """too_small is true from one person up to one under the minimum, never for 0 or the minimum."""
    from reports.privacy import too_small

    assert [n for n in range(8) if too_small(n, 5)] == [1, 2, 3, 4]
