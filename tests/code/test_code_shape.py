"""The code keeps a shape a newcomer can read: no function of the application over 80 lines.

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
