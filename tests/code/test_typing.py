"""The type check CI runs: mypy strict on app/ and reports/, the tests checked too (docs/testing.md,
"Types")."""

import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _mypy() -> dict[str, Any]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    config: dict[str, Any] = pyproject["tool"]["mypy"]
    return config


def test_ci_runs_mypy_bare_so_that_pyproject_decides():
    """.ci/test calls `mypy` with no arguments: no flag or path can narrow the configured check."""
    ci = (ROOT / ".ci" / "test").read_text(encoding="utf-8")
    calls = re.findall(r"^\s*mypy\b.*$", ci, re.M)
    assert calls == ["mypy || status=$?"]


def test_mypy_is_strict_and_checks_the_tests():
    """strict for everything, app/ reports/ tests/ bench/ in files, and no module of ours (nor the
    whole world) excused from missing imports."""
    config = _mypy()
    assert config["strict"] is True
    assert {"app", "reports", "tests", "bench"} <= set(config["files"])
    assert "ignore_missing_imports" not in config
    for override in config.get("overrides", []):
        modules = override["module"]
        modules = [modules] if isinstance(modules, str) else modules
        if override.get("ignore_missing_imports"):
            assert not any(m.split(".")[0] in {"app", "reports", "tests", "bench"} for m in modules)
        # Only the tests may leave functions unannotated; app/ and reports/ never.
        if override.get("disallow_untyped_defs") is False:
            assert all(m.startswith(("tests", "bench")) for m in modules)
