"""Characterization test (issue 17): what the committee and the scheduler get from every round,
compared byte for byte with golden files captured before a refactoring.

For each data set (the demo and a generated 7-ward city, tests/characterization_data.py) and
each round, under ``tests/golden/<data set>/<catalogue key>/<fiscal year>/<wards>/``:

- ``compliance-api.txt``: ``GET /api/v1/rounds/<id>/compliance`` for every group the city-wide
  committee member may read (a round not final yet: its widest group only, the refusal), then
  each ward's committee member's own view; status and the raw body, one block per request;
- ``export-wide.csv``, ``export-long.csv``: the results exports (wide: every group; long: the
  round and its wards), raw bytes decoded as UTF-8 (BOM included), one block per group;
- ``export-xlsx.txt``: the xlsx export of the widest group, unzipped: each part's name and text.
  An xlsx is a zip whose entries carry the time they were written (and docProps/core.xml its
  created/modified times), so the zip itself can never be equal twice; those timestamps are
  replaced by ``<normalised>`` and the parts are compared instead;
  A refusal is the error page, whose sign-out form's CSRF token (random) is normalised too;
- ``progress.txt``: the response progress (``response_progress``) of the city-wide reader;
- ``scheduler-dry-run.txt``: ``flask scheduler tick --dry-run --now ...`` two days after the
  round opened and one hour after it closed (FIXED times, from the round's own dates).

And per data set: ``overview.txt`` (``rounds_for_committee``) and ``trend.txt``
(``compliance_trend`` at a fixed now), for the city and for each ward.

A golden that is missing, differs, or no longer produced fails the test. Nothing is ever
rewritten unless ``KIJUN_UPDATE_GOLDEN=1`` is set (docs/testing.md): then the files are
written (new rounds add files; the per-data-set overview and trend are rewritten) and the
test passes. The goldens must be the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import Grant, GrantRole, Person, Round
from app.services.results.compliance import (
    ROLES,
    compliance_trend,
    final_results,
    response_progress,
    round_results,
    rounds_for_committee,
)
from app.services.results.tally import ensure_counted
from tests.characterization_data import build_city7, build_demo_fixed

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("KIJUN_UPDATE_GOLDEN") == "1"
TREND_NOW = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
CSRF = re.compile(r'(name="csrf_token" value=")[^"]*(")')
XLSX_TIMES = re.compile(r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")

DATASETS: dict[str, Callable[[], None]] = {"demo": build_demo_fixed, "city7": build_city7}


def _readers() -> list[tuple[str, int, int | None]]:
    """The data set's own committee members (employee ids K…, not the demo's accounts):
    (label, person id, ward id or None for the city)."""
    rows = db.session.execute(
        sa.select(Grant.person_id, Grant.ward_id)
        .join(Person, Person.id == Grant.person_id)
        .where(Grant.role == GrantRole.COMMITTEE, Person.employee_id.like("K%"))
        .order_by(Grant.ward_id.is_not(None), Grant.ward_id)
    ).all()
    return [("city" if w is None else f"ward-{w}", p, w) for p, w in rows]


def _round_dir(round_: Round) -> str:
    wards = "・".join(w.name for w in round_.wards)
    return f"{round_.catalogue.key}/{round_.fiscal_year}/{wards}"


def _xlsx_text(data: bytes) -> str:
    parts = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in sorted(archive.namelist()):
            text = XLSX_TIMES.sub(r"\1<normalised>\3", archive.read(name).decode("utf-8"))
            parts.append(f"--- {name}\n{text}\n")
    return "".join(parts)


def _round_outputs(client: FlaskClient, sign_in, runner, round_: Round) -> dict[str, str]:
    readers = _readers()
    city_label, city_id, _ = readers[0]
    sign_in(city_id)
    ensure_counted([round_.id])  # as the scheduler would have, a minute after the close
    db.session.commit()
    results = round_results(round_.id, None)
    group_keys = [g.key for g in results.groups]
    api: list[str] = []
    wide: list[str] = []
    long_: list[str] = []
    xlsx: list[str] = []
    for key in group_keys if results.final else group_keys[:1]:
        reply = client.get(f"/api/v1/rounds/{round_.id}/compliance?group={key}")
        api.append(f"## {city_label} {key} {reply.status_code}\n{reply.get_data(as_text=True)}\n")
        # Every group's wide CSV; the long CSV of the round and its wards, the xlsx of the
        # widest group only (the same cells as the CSVs, much larger): the goldens stay small.
        level = results.group(key).level
        exports = [("csv", wide)]
        if results.final and level in ("all", "ward"):
            exports.append(("csv-long", long_))
        if key == results.top.key:
            exports.append(("xlsx", xlsx))
        for fmt, sink in exports:
            got = client.get(f"/results/rounds/{round_.id}/export/{fmt}?group={key}")
            body = (
                _xlsx_text(got.data)
                if fmt == "xlsx" and got.status_code == 200
                else CSRF.sub(r"\1<normalised>\2", got.get_data(as_text=True))
            )
            sink.append(f"## {key} {got.status_code}\n{body}\n")
    for label, person_id, ward_id in readers[1:]:
        if ward_id not in {w.id for w in round_.wards}:
            continue
        sign_in(person_id)
        reply = client.get(f"/api/v1/rounds/{round_.id}/compliance")
        api.append(f"## {label} top {reply.status_code}\n{reply.get_data(as_text=True)}\n")
    progress = []
    if results.final:
        for point in response_progress(final_results(round_.id, None)):
            cells = " ".join(f"{r.value if r else 'all'}={point.submitted[r]}"
                             for r in (*ROLES, None))
            progress.append(f"{point.day.isoformat()} {cells}\n")
    scheduler = []
    for label, at in (("mid-round", round_.opens_at + timedelta(days=2)),
                      ("after-close", round_.closes_at + timedelta(hours=1))):
        stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M+00:00")
        out = runner.invoke(args=["scheduler", "tick", "--dry-run", "--now", stamp])
        scheduler.append(f"## {label} --now {stamp} exit {out.exit_code}\n{out.output}\n")
    db.session.rollback()
    base = _round_dir(round_)
    return {
        f"{base}/compliance-api.txt": "".join(api),
        f"{base}/export-wide.csv": "".join(wide),
        f"{base}/export-long.csv": "".join(long_),
        f"{base}/export-xlsx.txt": "".join(xlsx),
        f"{base}/progress.txt": "".join(progress),
        f"{base}/scheduler-dry-run.txt": "".join(scheduler),
    }


def _dataset_outputs() -> dict[str, str]:
    overview, trend = [], []
    for label, _person, ward_id in _readers():
        wards = None if ward_id is None else [ward_id]
        overview.append(f"## {label}\n")
        for item in rounds_for_committee(wards, TREND_NOW):
            overview.append(f"{item.round.id} {item.round.title} final={item.round.counted} "
                            f"{item.expected} {item.submitted} {item.rate}\n")
        found = compliance_trend(wards, now=TREND_NOW)
        trend.append(f"## {label} years={list(found.fiscal_years)} "
                     f"min={found.min_group_size} {found.rounding}\n")
        for standard in found.standards:
            trend.append(f"{standard.key} No.{standard.number} {standard.text} "
                         f"section={standard.section_level}\n")
            for role in ROLES:
                for year in found.fiscal_years:
                    cell = found.cell(standard.key, role, year)
                    trend.append(f"  {role.value} {year} {cell.state} {cell.complies} "
                                 f"{cell.not_complies} {cell.not_applicable} {cell.rate} "
                                 f"imported={cell.imported}\n")
    db.session.rollback()
    return {"overview.txt": "".join(overview), "trend.txt": "".join(trend)}


def _compare(dataset: str, produced: dict[str, str]) -> list[str]:
    """The problems (missing, different, stale goldens); with KIJUN_UPDATE_GOLDEN=1, none:
    the goldens are written instead."""
    root = GOLDEN / dataset
    existing = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    problems = []
    for name, text in sorted(produced.items()):
        path = root / name
        if UPDATE:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
            continue
        if not path.exists():
            problems.append(f"missing golden {dataset}/{name} (KIJUN_UPDATE_GOLDEN=1 writes it)")
            continue
        golden = path.read_bytes().decode("utf-8")
        if golden != text:
            diff = difflib.unified_diff(golden.splitlines(), text.splitlines(),
                                        "golden", "now", lineterm="", n=1)
            problems.append(f"{dataset}/{name} differs:\n" + "\n".join(list(diff)[:40]))
    for name in sorted(existing - set(produced)):
        if UPDATE:
            (root / name).unlink()
        else:
            problems.append(f"stale golden {dataset}/{name}: no round produces it any more")
    return problems


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_every_output_matches_its_golden(
    dataset: str, app: Flask, client: FlaskClient, sign_in
) -> None:
    """Every round's compliance API replies, exports, progress and scheduler dry-run, and the
    overview and trend, are byte for byte the goldens captured before the refactoring."""
    runner = app.test_cli_runner()
    with app.app_context():
        DATASETS[dataset]()
        produced: dict[str, str] = {}
        rounds = db.session.scalars(sa.select(Round).order_by(Round.id)).all()
        for round_ in rounds:
            outputs = _round_outputs(client, sign_in, runner, round_)
            assert not set(outputs) & set(produced), f"two rounds share {_round_dir(round_)}"
            produced.update(outputs)
        produced.update(_dataset_outputs())
        problems = _compare(dataset, produced)
    assert not problems, "\n\n".join(problems)
