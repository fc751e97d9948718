"""The command line: the README's table names every command and each answers --help; the
report commands write to standard output and list the groups `--group` takes."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from app.extensions import db
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
# Flask-Migrate's group: the README names only `db upgrade`; the rest is Alembic's own
# documentation (docs/data-model.md).
THIRD_PARTY_GROUPS = {"db"}


def _readme_commands() -> dict[tuple[str, ...], set[str]]:
    """Each command path in the first column of the README's command table, with the options
    its row names (``goals lock\\|unlock`` is two commands)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| command | what it does |") :].split("\n\n", 1)[0]
    commands: dict[tuple[str, ...], set[str]] = {}
    for row in table.splitlines()[2:]:
        first_cell = re.split(r"(?<!\\)\|", row)[1]
        for code in re.findall(r"`([^`]+)`", first_cell):
            words = code.replace("\\|", "|").split()
            options = {w.split("=")[0] for w in re.findall(r"--[a-z-]+", code)}
            group = words[0]
            subcommands = words[1].split("|") if len(words) > 1 and words[1][0].isalpha() else []
            for sub in subcommands or [None]:
                path = (group, sub) if sub else (group,)
                commands.setdefault(path, set()).update(options)
    return commands


def _app_commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], click.Command]:
    """Every leaf command under ``app.cli``, by its path, and every group that runs on its
    own too (``demo``, and ``demo serve`` under it)."""
    found: dict[tuple[str, ...], click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_app_commands(command, (*prefix, name)))
            if command.invoke_without_command:
                found[(*prefix, name)] = command
        else:
            found[(*prefix, name)] = command
    return found


def test_the_readme_table_lists_every_command(app):
    """Each command of ``app.cli`` (every group walked) has a row in the README's table."""
    documented = set(_readme_commands())
    missing = sorted(
        " ".join(path)
        for path in _app_commands(app.cli)
        if path not in documented and path[0] not in THIRD_PARTY_GROUPS
    )
    assert missing == []


def test_every_command_in_the_readme_answers_help_with_the_options_it_names(app):
    """`flask <command> --help` works for each command of the table, and each option the table
    names for it is one of the command's options."""
    runner = app.test_cli_runner()
    commands = _app_commands(app.cli)
    for path, options in _readme_commands().items():
        assert path in commands, f"the README names {' '.join(path)}, which does not exist"
        result = runner.invoke(args=[*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        known = {o for p in commands[path].params for o in getattr(p, "opts", [])}
        assert options <= known, (path, options - known)


@pytest.fixture
def round_id(app) -> int:
    """A closed round of 総務課 (6 staff, all answered), for the report commands."""
    with app.app_context():
        ward = factories.ward()
        section = factories.section("総務課")
        round_ = factories.closed_round(factories.catalogue(), wards=[ward])
        for _ in range(6):
            person = factories.person(section=section)
            factories.response(round_, person, {"std-1": "yes", "std-2": "no"}, section=section)
        db.session.commit()
        return round_.id


def test_output_dash_writes_the_table_to_standard_output(runner, round_id, tmp_path, monkeypatch):
    """`report compliance --output -` writes the CSV to standard output and no file named -."""
    monkeypatch.chdir(tmp_path)
    args = ["report", "compliance", "--round", str(round_id), "--format", "csv"]
    result = runner.invoke(args=[*args, "--output", "-"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("\ufeff基準 No,基準の内容")
    assert "基準1の文" in result.stdout
    assert "書き出しました" not in result.stdout
    assert "標準出力 に書き出しました" in result.stderr
    assert not (tmp_path / "-").exists()


def test_report_groups_lists_the_keys_group_takes(runner, round_id):
    """`report groups` lists each visible group's key and name; each key, and the same with
    the name instead of the id, selects that group in `report compliance`."""
    listed = runner.invoke(args=["report", "groups", "--round", str(round_id)])
    assert listed.exit_code == 0, listed.output
    rows = [line.split(None, 2) for line in listed.output.splitlines()]
    keys = {key: name for key, _level, name in rows}
    section_key = next(k for k in keys if k.startswith("section:"))
    ward_key = next(k for k in keys if k.startswith("ward:"))
    assert keys[section_key].endswith("総務課")
    assert keys[ward_key] == "高津区"
    args = ["report", "compliance", "--round", str(round_id), "--format", "csv", "--output", "-"]
    for given in (section_key, "section:総務課", ward_key, "ward:高津区"):
        result = runner.invoke(args=[*args, "--group", given])
        assert result.exit_code == 0, (given, result.output)
    section_only = runner.invoke(args=[*args, "--group", "section:総務課"])
    assert "総務課、" in section_only.stderr


def test_an_unknown_group_points_to_report_groups(runner, round_id):
    """An unknown --group exits 1 and names the command that lists the groups."""
    args = ["report", "compliance", "--round", str(round_id), "--group", "ward:999"]
    result = runner.invoke(args=[*args, "--output", "-"])
    assert result.exit_code == 1
    assert f"report groups --round {round_id}" in result.output


HIRAGANA = re.compile(r"[\u3040-\u309f]")
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
# Words English help still quotes in Japanese because the command prints them so.
JAPANESE_DATA = ("課の遵守率", "変更なし")


def _own_commands(app) -> dict[tuple[str, ...], click.Command]:
    return {
        path: command
        for path, command in _app_commands(app.cli).items()
        if path[0] not in THIRD_PARTY_GROUPS
    }


def test_every_help_text_is_japanese_by_default(app):
    """Each group's, command's and option's help is written in Japanese (no English help mixed
    in), and `--help` shows it in Japanese, the help option's line included."""
    runner = app.test_cli_runner()
    for path, command in _own_commands(app).items():
        texts = [command.help or ""] + [
            p.help for p in command.params if isinstance(p, click.Option) and p.help
        ]
        assert all(JAPANESE.search(text) for text in texts), (path, texts)
        shown = runner.invoke(args=[*path, "--help"]).output
        assert "このヘルプを表示して終わる。" in shown and "Show this" not in shown, path
    for name, group in app.cli.commands.items():
        if name not in THIRD_PARTY_GROUPS:
            assert JAPANESE.search(group.help or ""), name


def test_help_follows_the_ui_language_setting(database_url):
    """With BABEL_DEFAULT_LOCALE = "en" every command's --help, and the group listing, is in
    English throughout."""
    from app import create_app

    english = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "BABEL_DEFAULT_LOCALE": "en"}
    )
    runner = english.test_cli_runner()
    # `flask` pushes the app's context before it formats any help; the test runner does not.
    with english.app_context():
        for path in _own_commands(english):
            shown = runner.invoke(args=[*path, "--help"]).output
            for data in JAPANESE_DATA:
                shown = shown.replace(data, "")
            assert not HIRAGANA.search(shown), (path, shown)
            assert "Show this help and exit." in shown
        for name in english.cli.commands:
            shown = runner.invoke(args=[name, "--help"]).output
            assert not HIRAGANA.search(shown), (name, shown)


def test_every_ward_option_resolves_names_one_way(runner, app, tmp_path):
    """`--ward` goes through one helper for every command: `高津` finds 高津区 (goals, users),
    and an unknown ward exits 1 listing the wards there are (goals, published, users)."""
    with app.app_context():
        factories.ward()
        factories.person(employee_id="E1001")
        db.session.commit()
    short = runner.invoke(args=["goals", "lock", "--ward", "高津", "--fiscal-year", "2025"])
    assert short.exit_code == 0 and "高津区" in short.output, short.output
    granted = runner.invoke(args=["users", "grant", "committee", "E1001", "--ward", "高津"])
    assert granted.exit_code == 0 and "高津区" in granted.output, granted.output
    sheet = tmp_path / "table.csv"
    sheet.write_text("x\n", encoding="utf-8")
    for args in (
        ["goals", "lock", "--ward", "火星区", "--fiscal-year", "2025"],
        ["published", "import", str(sheet), "--ward", "火星区", "--year", "2024"],
        ["users", "grant", "committee", "E1001", "--ward", "火星区"],
    ):
        refused = runner.invoke(args=args)
        assert refused.exit_code == 1, args
        assert "区「火星区」はありません。登録されている区: 高津区" in refused.output, args
