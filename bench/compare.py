"""Compare commits of Kijun beside the floor: the checklist page and the first submit, A/B.

    python -m bench.compare --database-url postgresql+psycopg://postgres@127.0.0.1:PORT/DB \\
        --variant now=. --variant before=main [--variant no-frame=HEAD~1] \\
        [--seconds 5] [--repeat 3] [--output compare.json]

Each ``--variant NAME=REF`` is served from that commit's files (``git archive``; ``.`` is this
checkout as it is; a folder is served as it is), each by its own gunicorn, beside the floor of
Kijun's extensions (bench/floor_app.py ``app``, from this checkout).
``http_load.checklist_load`` loads them in turn, interleaved: in each repeat the page of every
app, then the first submit of every app, the order rotated from one repeat to the next, so
that the load of a shared machine falls on all of them alike. The same people submit in every
run (their responses are deleted after each run), so any number of runs fits the database.
How docs/benchmarks.md measures what an optimisation buys: the code with it against the code
without it, in the same run.

The database is one built by bench/generate.py (it must hold the open round); all the
variants must share its schema.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import http_load
from bench.common import ROOT, machine


def export_tree(ref: str, into: Path) -> Path:
    """The files of commit ``ref`` in a new folder under ``into`` (``.``: this checkout; a
    folder: served as it is)."""
    if ref == ".":
        return ROOT
    if Path(ref).is_dir():
        return Path(ref).resolve()
    tree = Path(tempfile.mkdtemp(prefix="kijun-variant-", dir=into))
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def compare(
    database_url: str, variants: dict[str, str], seconds: float = 5.0, repeat: int = 3,
    workers: int = 4, clients: int = 8, people: int = 3000, healthz: bool = False,
) -> dict[str, Any]:
    """Load the floor and each variant (name → commit) in turn; the report of each."""
    commits = {name: _commit(ref) for name, ref in variants.items()}
    with tempfile.TemporaryDirectory(prefix="kijun-compare-") as folder:
        targets = {"floor": http_load.FLOOR}
        targets.update({name: http_load.Target(tree=export_tree(ref, Path(folder)))
                        for name, ref in variants.items()})
        started = time.strftime("%Y-%m-%d %H:%M:%S %z")
        loads = http_load.checklist_load(
            database_url, targets, workers, clients, seconds, repeat, max_fresh=people,
            healthz=healthz, recycle=True)
    return {"started": started, "finished": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": machine(database_url), "commits": commits,
            "load_average": _load_average(), "loads": loads}


def _commit(ref: str) -> str:
    if ref != "." and Path(ref).is_dir():
        return f"the files in {ref}"
    if ref == ".":
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
        ref = "HEAD"
    else:
        dirty = ""
    short = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.strip()
    return short + (" + uncommitted changes" if dirty else "")


def _load_average() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def table(report: dict[str, Any]) -> str:
    """The comparison as Markdown: each app's medians and ratios to the floor."""
    lines = ["| app (commit) | page median (ms) | page ÷ floor (range) | page CPU ms app / db | "
             "page CPU ÷ floor | submit median (ms) | submit ÷ floor (range) | "
             "submit CPU ms app / db | submit CPU ÷ floor |", "| --- |" + " ---: |" * 8]
    for name, load in report["loads"].items():
        cells = [f"{name} ({report['commits'].get(name, 'bench/floor_app.py')})"]
        for endpoint in (http_load.PAGE, http_load.SUBMIT):
            row = load["endpoints"][endpoint]
            cpu = row["cpu_ms_per_request"]
            ratio, low_high = row["floor_ratio"], row["floor_ratio_range"]
            cells += [f"{row['median_ms']:.2f}",
                      f"{ratio:.2f}× ({low_high[0]:.2f}–{low_high[1]:.2f})",
                      f"{cpu['app']:.2f} / {cpu['database']:.2f}",
                      f"{row['floor_cpu_ratio']:.2f}×"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--variant", action="append", required=True,
                        help="NAME=REF: a commit to serve (. for this checkout)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--people", type=int, default=3000,
                        help="staff who submit in each run (deleted again after it)")
    parser.add_argument("--healthz", action="store_true",
                        help="also load each app's /healthz before each run")
    parser.add_argument("--output", help="write the whole report here as JSON")
    args = parser.parse_args()
    variants = dict(v.split("=", 1) for v in args.variant)
    report = compare(args.database_url, variants, args.seconds, args.repeat, args.workers,
                     args.clients, args.people, args.healthz)
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(table(report))


if __name__ == "__main__":
    main()
