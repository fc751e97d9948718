"""Helpers shared by the benchmarks: the machine, timing, statistics, database URLs."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent


def machine(database_url: str | None = None) -> dict[str, Any]:
    """CPU model, cores, memory, Python and (given a URL) PostgreSQL versions."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "os": platform.platform(),
    }
    if database_url:
        engine = sa.create_engine(database_url)
        with engine.connect() as conn:
            info["postgresql"] = conn.execute(sa.text("SHOW server_version")).scalar_one()
        engine.dispose()
    try:
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        info["commit"] = ""
    return info


def timed_pair(
    first: Callable[[], Any], second: Callable[[], Any], repeat: int = 5, warmup: int = 1
) -> tuple[dict[str, float], dict[str, float]]:
    """Median, best and worst wall time in seconds of ``repeat`` calls of each of two functions
    after ``warmup`` ones, called in turn (first, second, first, ...), so that a
    change in the machine's load during the run falls on both alike."""
    for _ in range(warmup):
        first()
        second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, out in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    def summary(t: list[float]) -> dict[str, float]:
        return {"median": statistics.median(t), "min": min(t), "max": max(t)}

    return summary(times[0]), summary(times[1])


def percentiles(latencies: list[float]) -> dict[str, float]:
    """Median, p95 and p99 in milliseconds."""
    if not latencies:
        return {"median_ms": float("nan"), "p95_ms": float("nan"), "p99_ms": float("nan")}
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    return {"median_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99)}


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    return str(sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False))


def recreate_database(server_url: str, name: str, drop_only: bool = False) -> str:
    """Drop and (unless ``drop_only``) create a scratch database; returns its URL."""
    engine = sa.create_engine(with_database(server_url, "postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not drop_only:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return with_database(server_url, name)
