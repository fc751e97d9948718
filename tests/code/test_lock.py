"""requirements/constraints.txt pins every package the README's and CI's installs bring in, and
the install commands use it."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "constraints.txt"


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def _closure(requirements: list[str]) -> set[str]:
    """Every distribution these requirements install here, their extras followed."""
    # Every value of the marker environment is a str (its TypedDict says so field by field).
    environment: dict[str, str] = {key: str(value) for key, value in default_environment().items()}
    visited: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in visited:
            continue
        visited.add(key)
        for spec in metadata.requires(requirement.name) or []:
            dependency = Requirement(spec)
            wanted = dependency.marker is None or any(
                dependency.marker.evaluate({**environment, "extra": extra})
                for extra in ("", *requirement.extras)
            )
            if wanted:
                todo.append(dependency)
    return {name for name, _extras in visited}


def test_the_lock_pins_every_installed_dependency_at_its_installed_version():
    """Every package that `pip install -e '.[test]'` brings in is pinned in the lock, at the
    version installed here (run `bash .ci/lock` after changing pyproject's dependencies)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    needed = _closure(project["dependencies"] + project["optional-dependencies"]["test"])
    pins = _pins()
    assert sorted(needed - set(pins)) == []
    wrong = {
        name: (pins[name], metadata.version(name))
        for name in needed
        if metadata.version(name) != pins[name]
    }
    assert wrong == {}


def test_ci_and_the_readme_install_from_the_lock():
    """.ci/test and the README's commands install with `-c requirements/constraints.txt`."""
    ci = (ROOT / ".ci" / "test").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "-c requirements/constraints.txt -e '.[test]'" in ci
    assert "pip install -q -c requirements/constraints.txt -e ." in readme
