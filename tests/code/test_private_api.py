"""The application uses its libraries through their public names only.

A name that starts with one underscore is a library's own business: SQLAlchemy, Flask,
Flask-Babel or python-docx may rename or drop it in any release, and the code that leaned on it
breaks silently. This test walks the syntax of app/ and reports/ (and wsgi.py) and fails on:

- an attribute ``x._name`` read or written, unless ``_name`` is defined somewhere in the
  project's own code (a ``def``, a ``class``, an assignment or an attribute set), so that the
  project's own private helpers stay free to use;
- ``getattr(x, "_name")`` (and ``setattr``, ``hasattr``, ``delattr``) with such a name;
- ``from lib import _name``, ``from lib._module import ...`` or ``import lib._module`` where
  ``lib`` is not the project.

Dunder names (``__name__``, ``__table__``) are the language's, not private.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = frozenset({"app", "reports"})

# Names their libraries document as public although they start with an underscore.
DOCUMENTED_PUBLIC = frozenset({
    "_get_current_object",  # werkzeug.local.LocalProxy: the documented way to the real object
    "_asdict", "_fields", "_replace", "_make",  # collections.namedtuple, and sqlalchemy's Row
    "_mapping", "_t", "_tuple",  # sqlalchemy Row: the documented mapping and tuple views
})


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def application_files(root: Path = ROOT) -> list[Path]:
    """app/, reports/ and wsgi.py: the code that runs in production."""
    files = [root / "wsgi.py"] if (root / "wsgi.py").exists() else []
    for folder in sorted(PROJECT_PACKAGES):
        files += sorted((root / folder).rglob("*.py"))
    return files


def _defined_names(trees: Iterable[ast.AST]) -> set[str]:
    """Every name the project defines: functions, classes, assigned names and attributes set
    (``self._x = ...``), and parameters."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store | ast.Del):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias) and node.asname:
                names.add(node.asname)
    return names


def _foreign(module: str | None, level: int) -> bool:
    """Whether an import names a module outside the project (a library)."""
    return level == 0 and module is not None and module.split(".")[0] not in PROJECT_PACKAGES


def _uses(node: ast.AST, own: set[str]) -> Iterable[str]:
    """The private library names this node uses (none for the project's own names)."""
    if isinstance(node, ast.Attribute):
        if _private(node.attr) and node.attr not in own and node.attr not in DOCUMENTED_PUBLIC:
            yield f"attribute .{node.attr}"
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in {"getattr", "setattr", "hasattr", "delattr"} and len(node.args) > 1:
            name = node.args[1]
            if (
                isinstance(name, ast.Constant)
                and isinstance(name.value, str)
                and _private(name.value)
                and name.value not in own
                and name.value not in DOCUMENTED_PUBLIC
            ):
                yield f"{node.func.id}(..., {name.value!r})"
    elif isinstance(node, ast.ImportFrom) and _foreign(node.module, node.level):
        assert node.module is not None
        if any(_private(part) for part in node.module.split(".")):
            yield f"from {node.module} import ..."
        for alias in node.names:
            if _private(alias.name) and alias.name not in DOCUMENTED_PUBLIC:
                yield f"from {node.module} import {alias.name}"
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if _foreign(alias.name, 0) and any(_private(p) for p in alias.name.split(".")):
                yield f"import {alias.name}"


def private_uses(files: list[Path], root: Path = ROOT) -> list[str]:
    """``path:line what`` for each use of a library's private name in ``files``."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in files}
    own = _defined_names(trees.values())
    found = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            for use in _uses(node, own):
                found.append(f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)} {use}")
    return sorted(found)


def test_the_application_uses_no_private_name_of_a_library() -> None:
    """No attribute, getattr or import in app/, reports/ or wsgi.py reaches a library's
    underscored name (only the project's own, and the few documented as public)."""
    found = private_uses(application_files())
    assert not found, "private names of libraries in use:\n" + "\n".join(found)


def test_the_scan_finds_a_planted_private_use(tmp_path: Path) -> None:
    """A planted use of each kind (an attribute, getattr, an import of a private name and of a
    private module) is found; the project's own underscored names, dunders and the documented
    public names are not."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "own.py").write_text(
        "class Kept:\n"
        "    def __init__(self):\n"
        "        self._cache = {}\n"
        "def _helper():\n"
        "    return 1\n"
    )
    (app / "planted.py").write_text(
        "import sqlalchemy._private\n"
        "from flask_babel import _get_current_context\n"
        "from docx.oxml._sections import X\n"
        "from app.own import _helper\n"
        "from werkzeug.local import LocalProxy\n"
        "def view(connection, g, user, row, kept):\n"
        "    connection._handle_dbapi_exception(None)\n"
        "    getattr(g, '_flask_babel')\n"
        "    kept._cache.clear()\n"
        "    _helper()\n"
        "    user._get_current_object()\n"
        "    row._mapping\n"
        "    return kept.__class__.__name__\n"
    )
    found = private_uses(application_files(tmp_path), tmp_path)
    assert found == [
        "app/planted.py:1 import sqlalchemy._private",
        "app/planted.py:2 from flask_babel import _get_current_context",
        "app/planted.py:3 from docx.oxml._sections import ...",
        "app/planted.py:7 attribute ._handle_dbapi_exception",
        "app/planted.py:8 getattr(..., '_flask_babel')",
    ]
