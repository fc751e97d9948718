"""Run every benchmark and write the report (bench/results/latest.md and latest.json).

    python -m bench.run --server-url postgresql+psycopg://postgres@127.0.0.1:PORT/postgres

``bash bench/run`` starts a throwaway PostgreSQL server and calls this. For each size in
``--sizes`` a scratch database ``kijun_bench_<people>`` is built by bench/generate.py (and
dropped at the end unless ``--keep``; ``--reuse`` runs on such kept databases instead of
building them); the results and export benchmarks run at every size,
the HTTP benchmarks and the deadline spike at the largest.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench import exports, http_load, links, queries, reminders, stages
from bench.common import ROOT, machine, recreate_database, with_database
from bench.generate import generate, table_counts


def run_all(
    server_url: str,
    sizes: tuple[int, ...] = (1_000, 5_000, 20_000),
    years: int = 10,
    wards: int = 7,
    sections_per_ward: int = 25,
    repeat: int = 5,
    http_seconds: float = 10.0,
    http_repeat: int = 3,
    workers: int = 4,
    clients: int = 8,
    spike_people: int = 2_000,
    spike_window: float = 60.0,
    spike_clients: int = 32,
    stage_requests: int = 300,
    keep: bool = False,
    reuse: bool = False,
    echo: bool = True,
    prefix: str = "kijun_bench",
) -> dict[str, Any]:
    def say(message: str) -> None:
        if echo:
            print(message, flush=True)

    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine(server_url),
        "settings": {"sizes": list(sizes), "years": years, "wards": wards,
                     "sections_per_ward": sections_per_ward, "repeat": repeat,
                     "http_seconds": http_seconds, "http_repeat": http_repeat,
                     "workers": workers, "clients": clients,
                     "spike_people": spike_people, "spike_window": spike_window},
        "sizes": {},
    }
    databases = []
    try:
        for people in sorted(sizes):
            name = f"{prefix}_{people}"
            entry: dict[str, Any]
            if reuse:  # built before (bench/generate.py, or a run with --keep): kept after
                url = with_database(server_url, name)
                say(f"== {people} people: reusing {name}")
                entry = {"generate_s": None, "counts": table_counts(url)}
            else:
                url = recreate_database(server_url, name)
                databases.append(name)
                say(f"== {people} people: generating {name}")
                start = time.perf_counter()
                counts = generate(url, people, years, wards, sections_per_ward, echo=echo)
                entry = {"generate_s": time.perf_counter() - start, "counts": counts}
            say(f"== {people} people: results and trend")
            entry["results"] = queries.run(url, repeat)
            say(f"== {people} people: exports")
            entry["exports"] = exports.run(url)
            report["sizes"][str(people)] = entry
        largest = max(sizes)
        url = with_database(server_url, f"{prefix}_{largest}")
        say(f"== {largest} people: the checklist and the two floors under gunicorn")
        reserved = spike_people + stage_requests + 5
        loads = http_load.checklist_load(
            url, {"checklist": http_load.KIJUN, "floor": http_load.FLOOR,
                  "bare": http_load.BARE},
            workers, clients, http_seconds, http_repeat, keep_fresh=reserved)
        report.update(loads)
        say(f"== {largest} people: deadline spike")
        report["spike"] = http_load.spike(url, spike_people, spike_window, spike_clients,
                                          workers)
        say(f"== {largest} people: result pages over HTTP")
        report["result_pages"] = http_load.result_pages(url, workers)
        say(f"== {largest} people: web workers' memory after exports")
        report["memory"] = http_load.worker_memory(url, workers=min(workers, 2), repeat=2)
        say(f"== {largest} people: reminder tick")
        report["reminders"] = reminders.run(url)
        say(f"== {largest} people: the opening tick with sign-in links and without")
        report["links"] = links.run(url)
        say(f"== {largest} people: where a checklist request spends its time")
        report["stages"] = stages.run(url, stage_requests)
    finally:
        if not keep:
            for name in databases:
                recreate_database(server_url, name, drop_only=True)
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
    return report


def _range(values: list[float]) -> str:
    return f"{values[0]:.2f}–{values[-1]:.2f}"


def _f(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _load_table(c: dict[str, Any], heading: str, intro: str = "") -> list[str]:
    """The lines of one gunicorn + wrk table (one target of ``http_load.checklist_load``)."""
    lines = ["", f"{heading} ({c['workers']} sync workers; wrk, one thread, "
             f"{c['clients']} connections, {c['seconds']:g} s a run, {c['repeat']} repeats "
             f"interleaved with the other apps'; {c['answers_per_submit']} answers per submit, "
             "each a different person's first save)", ""]
    if intro:
        lines += [intro, ""]
    lines += ["| endpoint | requests | errors | req/s | median (ms) | p95 (ms) | p99 (ms) | "
              "median ÷ /healthz (range) | server CPU ÷ /healthz's (range) | "
              "median ÷ the floor's (range) | server CPU ÷ the floor's (range) | "
              "CPU ms a request: app / database / client |",
              "| --- |" + " ---: |" * 11]
    for name, row in c["endpoints"].items():
        cpu = row["cpu_ms_per_request"]
        split = f"{_f(cpu['app'], 2)} / {_f(cpu['database'], 2)} / {_f(cpu['client'], 3)}"
        lines.append(
            f"| {name} | {row['requests']} | {row['errors']} | {_f(row['rps'], 1)} | "
            f"{_f(row['median_ms'], 2)} | {_f(row['p95_ms'], 1)} | {_f(row['p99_ms'], 1)} | "
            f"{_ratio(row, 'ratio')} | {_ratio(row, 'cpu_ratio')} | "
            f"{_ratio(row, 'floor_ratio')} | {_ratio(row, 'floor_cpu_ratio')} | {split} |")
    if c.get("first_saves_ran_out"):
        lines += ["", "The first submits ran out of people before wrk's time was up: their "
                  "runs were shorter than asked."]
    return lines


def _ratio(row: dict[str, Any], key: str) -> str:
    """``1.23× (1.10–1.40)``: a ratio's median over the repeats and its range; "-" if none."""
    if key not in row:
        return "-"
    return f"{_f(row[key], 2)}× ({_range(row[key + '_range'])})"


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables (the numbers docs/benchmarks.md quotes)."""
    m = report["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Run {report['started']} – {report['finished']} at commit `{m.get('commit', '')}`.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; "
        f"PostgreSQL {m.get('postgresql')}; Python {m['python']}; {m['os']}.",
        "",
        "Every ratio compares two numbers measured in this run on this machine; absolute "
        "numbers vary with the load of the machine.",
        "",
    ]
    largest = max(report["sizes"], key=int)
    lines += [f"## Results and trend ({largest} people)", "",
              "| what | service (s) | hand-written query (s) | ratio |",
              "| --- | ---: | ---: | ---: |"]
    for name, row in report["sizes"][largest]["results"].items():
        lines.append(f"| {name} | {_f(row['service_s'])} | {_f(row['hand_s'])} | "
                     f"{_f(row['ratio'], 2)}× |")
    lines += ["", "## How cost grows with the number of people", "",
              "| people | answers | generate (s) | round_results one round (s) | ratio | "
              "with last year (s) | ratio | trend (s) | ratio | xlsx (s) | xlsx peak Python (MB)"
              " | PDF (s) | PDF peak Python (MB) | PDF RSS growth (MB) |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
              "---: | ---: | ---: |"]
    for people, entry in sorted(report["sizes"].items(), key=lambda kv: int(kv[0])):
        r = entry["results"]
        one, both, trend = (r["round_results (one round)"], r["round_results (with last year)"],
                            r["compliance_trend (10 years)"])
        x, p = entry["exports"]["xlsx"], entry["exports"]["pdf"]
        built = "reused" if entry["generate_s"] is None else _f(entry["generate_s"], 1)
        lines.append(
            f"| {people} | {entry['counts']['answer']:,} | {built} | "
            f"{_f(one['service_s'])} | {_f(one['ratio'], 2)}× | {_f(both['service_s'])} | "
            f"{_f(both['ratio'], 2)}× | {_f(trend['service_s'])} | {_f(trend['ratio'], 2)}× | "
            f"{_f(x['seconds'], 2)} | {_f(x['python_peak_mb'], 1)} | {_f(p['seconds'], 2)} | "
            f"{_f(p['python_peak_mb'], 1)} | {_f(p['rss_growth_mb'], 1)} |"
        )
    smallest = min(report["sizes"], key=int)
    if smallest != largest:
        lines += ["", f"Export peak memory at {largest} ÷ at {smallest} people: "
                  + ", ".join(
                      f"{fmt} {report['sizes'][largest]['exports'][fmt]['python_peak_mb'] / max(report['sizes'][smallest]['exports'][fmt]['python_peak_mb'], 1e-9):.2f}×"  # noqa: E501
                      for fmt in ("xlsx", "pdf"))]
    lines += _load_table(
        report["checklist"], "## Checklist under gunicorn")
    lines += _load_table(
        report["floor"], "## The floor of Kijun's extensions under gunicorn (bench/floor_app.py "
        "`app`)", "The same page and first submit in the fewest lines Flask, Flask-Login, "
        "Flask-SQLAlchemy (the ORM person) and Flask-WTF allow: sign-in by the header, one "
        "statement each, the CSRF token and session cookie; no rules, roles or template.")
    lines += _load_table(
        report["bare"], "## The fixed stack's floor under gunicorn (bench/floor_app.py `bare`)",
        "The same again with Flask, SQLAlchemy Core on a connection and Flask-WTF's token only: "
        "the person is a row (no Flask-Login, no ORM session).")
    s = report["spike"]
    lines += ["", "## Deadline spike", "",
              f"{s['people']} people submitting at the deadline, all at once (wrk, "
              f"{s['clients']} connections, closed loop; {s['workers']} workers): took "
              f"{_f(s['took_s'], 1)} s ({'within' if s['within_window'] else 'NOT within'} "
              f"{s['window_s']:g} s), {s['requests']} requests, "
              f"{s['errors']} errors, median {_f(s['median_ms'], 1)} ms, p95 "
              f"{_f(s['p95_ms'], 1)} ms, p99 {_f(s['p99_ms'], 1)} ms; in the database "
              f"{s['submitted_in_db']} submitted, {s['answers_stored']} answers stored of "
              f"{s['answers_sent']} sent, {s['mismatched_people']} people differing: "
              f"**{'exactly what was sent' if s['exact'] else 'NOT what was sent'}**."]
    lines += ["", f"## Result pages over HTTP ({largest} people; latest closed round beside "
              "last year; wrk, one connection, after one unmeasured visit)", "",
              "| page | requests | errors | first visit (s) | median (s) | p95 (s) | under 0.3 s |",
              "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, row in report["result_pages"].items():
        lines.append(f"| {name} (`{row['path']}`) | {row['requests']} | {row['errors']} | "
                     f"{_f(row.get('first_s'))} | {_f(row['median_s'])} | {_f(row['p95_s'])} | "
                     f"{'yes' if row['target_met'] else '**no**'} |")
    mem = report["memory"]
    lines += ["", "## Web workers' memory after exports", "",
              f"{mem['exports']} exports by the committee, one after another (wrk, one "
              f"connection; {', '.join(mem['paths'])}, twice over), {mem['errors']} errors, "
              f"median {_f(mem['median_s'], 2)} s an export; PDF and Word written by a "
              f"subprocess (app/render_worker.py). Each of the {mem['workers']} gunicorn "
              "workers' resident set (VmRSS): before "
              f"{', '.join(_f(v, 1) for v in mem['rss_before_mb'])} MB, after "
              f"{', '.join(_f(v, 1) for v in mem['rss_after_mb'])} MB: "
              f"**{'under' if mem['target_met'] else 'NOT under'} 150 MB**."]
    rem = report["reminders"]
    lines += ["", "## Reminder tick", ""]
    if rem.get("available"):
        lines += [
            f"{rem['non_respondents']} non-respondents and {rem['chiefs']} chiefs: one tick "
            f"wrote and sent {rem['messages']} messages ({rem['average_bytes']} bytes on average)"
            f" over {rem['connections']} SMTP connections in {_f(rem['seconds'], 1)} s "
            f"({_f(rem['seconds'] / max(rem['messages'], 1) * 1000, 2)} ms a message); peak "
            f"Python memory {_f(rem['python_peak_mb'], 1)} MB, resident set growth "
            f"{_f(rem['rss_growth_mb'], 1)} MB. Each person got exactly one reminder and each "
            f"chief one digest: **{'yes' if rem['exact'] else 'NO'}**.",
            "",
            f"Baseline: the same {rem['messages']} messages of the same size sent by plain "
            f"smtplib over {rem['baseline_connections']} connections to the same sink: "
            f"{_f(rem['baseline_seconds'], 1)} s. Tick ÷ baseline: **{_f(rem['ratio'], 2)}×**.",
        ]
    else:
        lines.append(f"Not run: {rem.get('reason')}")
    lines += ["", "## Opening tick with sign-in links", "", *links.markdown(report["links"])]
    lines += _stages_markdown(report["stages"])
    lines += _targets_markdown(report)
    return "\n".join(lines) + "\n"


# The budget of the checklist's hot path (docs/benchmarks.md): at most this many times the
# floor of Kijun's extensions (bench/floor_app.py ``app``), same endpoint, same repeat.
FLOOR_BUDGET = 1.5


def _targets_markdown(report: dict[str, Any]) -> list[str]:
    """Each target of the budget (docs/benchmarks.md) beside this run's figure."""
    largest = max(report["sizes"], key=int)
    kijun = report["checklist"]["endpoints"]

    def beside_floor(endpoint: str) -> tuple[str, bool]:
        row = kijun[endpoint]
        return (f"{_ratio(row, 'floor_ratio')} of the floor's median; server CPU "
                f"{_ratio(row, 'floor_cpu_ratio')}", row["floor_ratio"] <= FLOOR_BUDGET)
    trend = report["sizes"][largest]["results"]["compliance_trend (10 years)"]["service_s"]
    slowest = max(row["median_s"] for row in report["result_pages"].values())
    rows = [
        (f"checklist page ≤ {FLOOR_BUDGET}× the floor's page", *beside_floor(http_load.PAGE)),
        (f"first submit ≤ {FLOOR_BUDGET}× the floor's submit", *beside_floor(http_load.SUBMIT)),
        ("each result page < 0.3 s, with last year", f"slowest {_f(slowest)} s",
         all(row["target_met"] for row in report["result_pages"].values())),
        ("trend < 0.5 s", f"{_f(trend)} s", trend < 0.5),
        ("web worker RSS < 150 MB after exports",
         f"{_f(report['memory']['max_rss_after_mb'], 0)} MB", report["memory"]["target_met"]),
        ("deadline spike: nothing lost, stored = sent", f"{report['spike']['errors']} errors",
         report["spike"]["exact"] and report["spike"]["errors"] == 0),
        ("reminder tick: each message once", f"{report['reminders']['sent']} sent",
         bool(report["reminders"].get("exact"))),
        ("opening tick with sign-in links ≤ 1.5× without", f"{_f(report['links']['ratio'], 2)}×",
         bool(report["links"].get("target_met") and report["links"].get("exact"))),
    ]
    lines = ["", f"## Targets ({largest} people)", "", "| target | this run | met |",
             "| --- | --- | --- |"]
    lines += [f"| {what} | {figure} | {'yes' if met else '**no**'} |"
              for what, figure, met in rows]
    return lines


def _stages_markdown(st: dict[str, Any]) -> list[str]:
    page, submit, health = st["page"], st["submit"], st["healthz"]
    lines = ["", "## Where a checklist request spends its time (in-process, one at a time)", "",
             f"Flask's test client in the benchmark's process, {page['requests']} requests each "
             "(bench/stages.py); wall time, database waits included. /healthz: "
             f"{_f(health['ms_per_request'], 2)} ms.", ""]
    for title, row in (("the checklist page (GET)", page),
                       ("a first submit (PUT, 23 answers)", submit)):
        lines += [f"| {title} | ms | share |", "| --- | ---: | ---: |"]
        whole = row["ms_per_request"]
        for label, ms in row["parts_ms"].items():
            lines.append(f"| {label} | {_f(ms, 2)} | {ms / whole:.0%} |")
        lines += [f"| **whole request** (CPU {_f(row['cpu_ms_per_request'], 2)} ms) | "
                  f"**{_f(whole, 2)}** | 100% |", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server-url", required=True,
                        help="a PostgreSQL server where databases may be created")
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--wards", type=int, default=7)
    parser.add_argument("--sections-per-ward", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--http-seconds", type=float, default=10.0)
    parser.add_argument("--http-repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--spike-people", type=int, default=2000)
    parser.add_argument("--spike-window", type=float, default=60.0)
    parser.add_argument("--output-dir", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    parser.add_argument("--reuse", action="store_true",
                        help="use the databases a run with --keep (or bench/generate.py) built")
    args = parser.parse_args()
    report = run_all(
        args.server_url, tuple(int(s) for s in args.sizes.split(",")), args.years, args.wards,
        args.sections_per_ward, args.repeat, args.http_seconds, args.http_repeat, args.workers,
        args.clients, args.spike_people, args.spike_window, keep=args.keep, reuse=args.reuse,
    )
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (out / "latest.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
