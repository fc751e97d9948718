"""Benchmarks 1 and 5: the checklist under gunicorn, and the deadline spike.

gunicorn serves ``wsgi:app`` with several sync workers on 127.0.0.1; people are signed in by
the trusted header (``AUTH_TRUSTED_HEADER = X-Remote-User``, docs/auth.md), as behind the
intranet proxy. The load generator is a small Python client on the same machine: ``clients``
threads, each sending its next request as soon as the previous one is answered (a closed
loop), for ``seconds`` per endpoint. Every endpoint is measured the same way, and the trivial
``GET /healthz`` of the same app on the same server is the baseline.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from bench.common import ROOT, percentiles

HEADER = "X-Remote-User"
SERVER_PIDS: dict[int, int] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int | str) -> tuple[str, int, float] | None:
    """(command name, parent pid, CPU seconds used) of a process, from /proc (Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    name = data[data.index("(") + 1 : data.rindex(")")]
    fields = data[data.rindex(")") + 2 :].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the app (gunicorn and its workers), the database (local
    ``postgres`` processes; none when the server is elsewhere) and this load generator."""
    totals = {"app": 0.0, "database": 0.0, "client": time.process_time()}
    pids = [p for p in os.listdir("/proc") if p.isdigit()] if os.path.isdir("/proc") else []
    for pid in pids:
        stat = _stat(pid)
        if stat is None:
            continue
        name, parent, used = stat
        if int(pid) == server_pid or parent == server_pid:
            totals["app"] += used
        elif name == "postgres":
            totals["database"] += used
    return totals


@contextmanager
def gunicorn(database_url: str, workers: int = 4) -> Iterator[int]:
    """Serve the app with gunicorn on a free loopback port; yields the port (and records the
    server's pid in ``SERVER_PIDS[port]`` for the CPU meter)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLASK_AUTH_TRUSTED_HEADER": HEADER,
        "FLASK_SECRET_KEY": "bench-only-secret",
    }
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = request(port, "GET", "/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"gunicorn did not start: {log.read().decode()[-2000:]}")
            time.sleep(0.2)
        SERVER_PIDS[port] = proc.pid
        yield port
    finally:
        SERVER_PIDS.pop(port, None)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def request(
    port: int, method: str, path: str, user: str | None = None, body: Any = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {HEADER: user} if user else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
        return response.status, payload
    finally:
        if own:
            conn.close()


def load(
    port: int, make: Callable[[int], tuple[str, str, str | None, Any]],
    clients: int, seconds: float, warmup: float = 1.0,
) -> dict[str, Any]:
    """Closed-loop load: ``clients`` threads calling ``make(i)`` -> (method, path, user, body)
    for request number i. Latencies of requests started after the warm-up count."""
    stop_at = time.perf_counter() + warmup + seconds
    measure_from = time.perf_counter() + warmup
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    lock = threading.Lock()

    def worker() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next(counter)
            method, path, user, body = make(i)
            start = time.perf_counter()
            if start >= stop_at:
                break
            try:
                status, _ = request(port, method, path, user, body, conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                status = 0
            took = time.perf_counter() - start
            if start >= measure_from:
                with lock:
                    latencies.append(took)
                    if status != 200:
                        errors += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    server_pid = SERVER_PIDS.get(port)
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    before = cpu_seconds(server_pid) if server_pid else None
    for t in threads:
        t.join()
    result: dict[str, Any] = {"requests": len(latencies), "errors": errors,
                              "rps": len(latencies) / seconds, **percentiles(latencies)}
    if before is not None and server_pid and latencies:
        # Where each request's CPU went (all processes share the machine's cores): the ratio
        # of two endpoints' medians follows the ratio of these sums once the cores are busy.
        after = cpu_seconds(server_pid)
        result["cpu_ms_per_request"] = {
            part: (after[part] - before[part]) * 1000 / len(latencies) for part in after
        }
    return result


def staff_of_open_round(database_url: str) -> tuple[int, list[str], list[str]]:
    """The open round, the employee ids of its staff (not chiefs) and the standard keys staff
    answer in it (the catalogue's person-level standards that are asked)."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        round_id, year, catalogue_id = conn.execute(sa.text(
            "SELECT id, fiscal_year, catalogue_id FROM round WHERE closes_at > now() "
            "ORDER BY id DESC LIMIT 1")).one()
        people = conn.execute(sa.text(
            "SELECT p.employee_id FROM person p JOIN assignment a ON a.person_id = p.id "
            "WHERE a.fiscal_year = :y AND a.role = 'staff' ORDER BY p.id"), {"y": year}
        ).scalars().all()
        keys = conn.execute(sa.text(
            "SELECT key FROM standard WHERE catalogue_id = :c AND audience = 'everyone' "
            "AND NOT ward_specific ORDER BY position"), {"c": catalogue_id}).scalars().all()
    engine.dispose()
    return round_id, list(people), list(keys)


def unanswered_staff(database_url: str, round_id: int, staff: list[str]) -> list[str]:
    """The staff who have not answered the round yet, last first."""
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        answered = set(conn.execute(sa.text(
            "SELECT p.employee_id FROM response r JOIN person p ON p.id = r.person_id "
            "WHERE r.round_id = :r"), {"r": round_id}).scalars())
    engine.dispose()
    return [e for e in reversed(staff) if e not in answered]


def answers_for(keys: list[str], seed: int) -> dict[str, Any]:
    """A submit body: every item answered (a realistic mix), a comment on the first."""
    rng = random.Random(seed)
    values = {k: rng.choices(("yes", "no", "na"), (93, 2, 5))[0] for k in keys}
    return {"answers": values, "comments": {keys[0]: f"ベンチ {seed}"}, "submit": True}


def checklist_load(
    database_url: str, workers: int = 4, clients: int = 8, seconds: float = 10.0,
    people: int | None = None,
) -> dict[str, Any]:
    """Benchmark 1: /healthz, the checklist page and the checklist submit, one after the
    other on the same server. Ratios are each endpoint's median ÷ /healthz's median."""
    round_id, staff, keys = staff_of_open_round(database_url)
    pool = staff[: people or len(staff) // 2]  # the other half is left for the spike
    page = f"/rounds/{round_id}/checklist"
    api = f"/api/v1/rounds/{round_id}/checklist"
    bodies = [answers_for(keys, seed) for seed in range(64)]
    with gunicorn(database_url, workers) as port:
        results = {
            "GET /healthz": load(port, lambda i: ("GET", "/healthz", None, None), clients,
                                 seconds),
            "GET checklist page": load(
                port, lambda i: ("GET", page, pool[i % len(pool)], None), clients, seconds),
            "PUT checklist submit": load(
                port, lambda i: ("PUT", api, pool[i % len(pool)], bodies[i % len(bodies)]),
                clients, seconds),
        }
    base = results["GET /healthz"]["median_ms"]
    for row in results.values():
        row["ratio"] = row["median_ms"] / base
    return {"workers": workers, "clients": clients, "seconds": seconds,
            "answers_per_submit": len(keys), "endpoints": results}


def spike(
    database_url: str, people: int = 2000, window: float = 60.0, clients: int = 32,
    workers: int = 4,
) -> dict[str, Any]:
    """Benchmark 5: ``people`` staff who have not answered yet each submit once, at times
    spread evenly over ``window`` seconds (sent at once when the clients fall behind), then
    the database is read back: every one submitted, with exactly the answers sent."""
    round_id, staff, keys = staff_of_open_round(database_url)
    fresh = unanswered_staff(database_url, round_id, staff)[:people]
    if len(fresh) < people:
        raise RuntimeError(f"only {len(fresh)} staff have not answered the open round")
    api = f"/api/v1/rounds/{round_id}/checklist"
    sent = {e: answers_for(keys, 10_000 + n) for n, e in enumerate(fresh)}
    latencies: list[float] = []
    failures: list[tuple[str, int]] = []
    lock = threading.Lock()
    jobs = iter(enumerate(fresh))
    with gunicorn(database_url, workers) as port:
        begin = time.perf_counter()

        def worker() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            while True:
                with lock:
                    job = next(jobs, None)
                if job is None:
                    break
                n, employee = job
                due = begin + window * n / people
                time.sleep(max(0.0, due - time.perf_counter()))
                start = time.perf_counter()
                try:
                    status, _ = request(port, "PUT", api, employee, sent[employee], conn)
                except (OSError, http.client.HTTPException):
                    conn.close()
                    status = 0
                with lock:
                    latencies.append(time.perf_counter() - start)
                    if status != 200:
                        failures.append((employee, status))
            conn.close()

        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.perf_counter() - begin
    stored: dict[str, dict[str, str]] = {e: {} for e in fresh}
    comments: dict[str, dict[str, str]] = {e: {} for e in fresh}
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        submitted = conn.execute(sa.text(
            "SELECT count(*) FROM response r JOIN person p ON p.id = r.person_id "
            "WHERE r.round_id = :r AND r.status = 'submitted' AND p.employee_id = ANY(:e)"),
            {"r": round_id, "e": fresh}).scalar_one()
        for employee, key, value, comment in conn.execute(sa.text(
            "SELECT p.employee_id, s.key, a.value, a.comment FROM answer a "
            "JOIN response r ON r.id = a.response_id JOIN person p ON p.id = r.person_id "
            "JOIN standard s ON s.id = a.standard_id "
            "WHERE r.round_id = :r AND p.employee_id = ANY(:e)"),
            {"r": round_id, "e": fresh}):
            stored[employee][key] = value
            if comment:
                comments[employee][key] = comment
    engine.dispose()
    mismatched = [
        e for e in fresh
        if stored[e] != sent[e]["answers"] or comments[e] != sent[e]["comments"]
    ]
    return {
        "people": people,
        "window_s": window,
        "clients": clients,
        "workers": workers,
        "took_s": took,
        "errors": len(failures),
        "failures": failures[:10],
        "submitted_in_db": int(submitted),
        "answers_sent": sum(len(b["answers"]) for b in sent.values()),
        "answers_stored": sum(len(v) for v in stored.values()),
        "mismatched_people": len(mismatched),
        "exact": not failures and not mismatched and submitted == people,
        "rps": people / took,
        **percentiles(latencies),
    }
