"""The code keeps a shape a newcomer can read: no function of the application over 80 lines,
no view under more than four decorators.

ruff's C901 (pyproject.toml, ``max-complexity``) bounds the branches of a function; this test
bounds its length, which ruff does not check. tests/ and bench/ are not walked: a test may
spell out a long scenario. The migrations are generated code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_FUNCTION_LINES = 80


def _application_files() -> list[Path]:
    """app/ (without its migrations), reports/ and wsgi.py."""
    files = [ROOT / "wsgi.py"]
    for folder in ("app", "reports"):
        files += [p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """``path:line name (n lines)`` for each function or method of the file over ``limit``
    lines, from its ``def`` to its last line (the docstring included, the decorators not: a
    click command's options are declarations, not logic)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > limit:
                where = path.relative_to(ROOT)
                found.append(f"{where}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_of_the_application_is_over_80_lines() -> None:
    """Every function under app/, reports/ and wsgi.py is at most 80 lines long."""
    too_long = [entry for path in _application_files() for entry in long_functions(path)]
    assert not too_long, "split these functions (at most 80 lines each):\n" + "\n".join(too_long)


def test_the_check_names_a_function_over_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file with an 81-line function is reported by name; one of 80 lines is not."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    body = "\n".join(f"    x{i} = {i}" for i in range(79))
    (tmp_path / "long.py").write_text(f"@decorator\ndef long():\n{body}\n    x = 0\n")
    (tmp_path / "short.py").write_text(f"@decorator\ndef short():\n{body}\n")
    assert long_functions(tmp_path / "long.py") == ["long.py:2 long (81 lines)"]
    assert long_functions(tmp_path / "short.py") == []


MAX_VIEW_DECORATORS = 4
_ROUTE_METHODS = frozenset({"route", "get", "post", "put", "patch", "delete"})


def crowded_views(path: Path, limit: int = MAX_VIEW_DECORATORS) -> list[str]:
    """``path:line name (n decorators)`` for each view of the file (a function under a
    blueprint's ``route``/``get``/``post``… decorator) with more than ``limit`` decorators,
    the route's own included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        calls = [d.func for d in node.decorator_list if isinstance(d, ast.Call)]
        routed = any(isinstance(f, ast.Attribute) and f.attr in _ROUTE_METHODS for f in calls)
        if routed and len(node.decorator_list) > limit:
            where = path.relative_to(ROOT)
            found.append(f"{where}:{node.lineno} {node.name} ({len(node.decorator_list)} "
                         "decorators)")
    return found


def test_no_view_carries_more_than_four_decorators() -> None:
    """Every view under app/ has at most four decorators, its route included: what a request
    goes through is the route, who may use it (``access``) and at most two more."""
    crowded = [entry for path in _application_files() for entry in crowded_views(path)]
    assert not crowded, "views with too many decorators:\n" + "\n".join(crowded)


def test_the_check_names_a_view_with_five_decorators(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A view under five decorators is reported by name; one under four, and a plain function
    under five that is no view, are not."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "views.py").write_text(
        "@csrf.exempt\n@bp.route('/a', methods=['GET'])\n@one\n@two\n@access('person')\n"
        "def crowded():\n    pass\n\n\n"
        "@bp.get('/b')\n@one\n@two\n@access('person')\ndef fine():\n    pass\n\n\n"
        "@a\n@b\n@c\n@d\n@e\ndef helper():\n    pass\n"
    )
    assert crowded_views(tmp_path / "views.py") == ["views.py:6 crowded (5 decorators)"]
