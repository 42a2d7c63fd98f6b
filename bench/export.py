"""Benchmark 3, the call log export: `hotline calls export` for one big day and a long range.

Seeds `--day-calls` calls on one local day and `--range-calls` calls in all
over a range of `RANGE_DAYS` days around it (the day included), once per size
and database (kept like the board's). Then, as an operator would run it, it
runs the real command in a subprocess and measures its wall time and its peak
memory (the child's maximum resident set size, from wait4):

    hotline calls export --date DAY -o FILE
    hotline calls export --from FIRST --to LAST -o FILE

Baseline: the same rows as CSV straight from the database's own command-line
tool: `sqlite3 -csv` for SQLite (Debian's sqlite3 package), and psql's
`\\copy (...) TO STDOUT CSV` for PostgreSQL. Targets: at most 3 times the
baseline's time, peak memory under 150 MB whatever the size.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from bench.databases import WORK_DIR, driver_url
from bench.databases import seeded_database as seeded
from bench.report import table

DAY = date(2026, 3, 16)
RANGE_DAYS = 30  # the range: DAY - 15 .. DAY + 14
TIMEZONE = ZoneInfo("Europe/Berlin")
OUTCOMES = ["request_created"] * 6 + ["repeat_caller", "abandoned", "out_of_area", "transferred"]
STEPS = ["done", "postcode", "request_type", "language", "operator"]


@dataclass(frozen=True)
class ExportOptions:
    databases: tuple[str, ...] = ("sqlite", "postgresql")
    day_calls: int = 20_000
    range_calls: int = 100_000
    repeat: int = 1
    reseed: bool = False
    postgresql_server: str = ""


def first_and_last() -> tuple[date, date]:
    first = DAY - timedelta(days=RANGE_DAYS // 2)
    return first, first + timedelta(days=RANGE_DAYS - 1)


def run(options: ExportOptions) -> dict:
    figures: dict = {"options": options.__dict__ | {"databases": list(options.databases)}}
    hotline = Path(sys.executable).with_name("hotline")
    help_text = subprocess.run([hotline, "calls", "--help"], capture_output=True, text=True)
    if help_text.returncode != 0 or "export" not in help_text.stdout:
        figures["missing"] = "`hotline calls export` is not in this checkout (branch operator)"
        print(f"   {figures['missing']}")
        return figures
    for kind in options.databases:
        url = seeded_database(kind, options)
        figures[kind] = measure(kind, url, options, hotline)
    return figures


# -- seeding ---------------------------------------------------------------------------


def seeded_database(kind: str, options: ExportOptions) -> str:
    return seeded(
        kind,
        f"export_{options.day_calls}_{options.range_calls}",
        options.postgresql_server,
        partial(_seed, options=options),
        options.reseed,
    )


def _local_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), TIMEZONE).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), TIMEZONE)
    return start, end.astimezone(UTC)


def _seed(url: str, options: ExportOptions) -> None:
    started = time.perf_counter()
    rng = random.Random(11)
    sqlite = url.startswith("sqlite")
    first, last = first_and_last()
    other_days = [first + timedelta(days=i) for i in range(RANGE_DAYS)]
    other_days.remove(DAY)
    per_day = {DAY: options.day_calls}
    rest = options.range_calls - options.day_calls
    for i, day in enumerate(other_days):
        per_day[day] = rest // len(other_days) + (1 if i < rest % len(other_days) else 0)

    if sqlite:
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("PRAGMA synchronous=OFF")
    else:
        conn = psycopg.connect(driver_url(url))
    zones = [row[0] for row in conn.execute("SELECT id FROM zones").fetchall()]
    postcodes = [row[0] for row in conn.execute("SELECT code FROM postcodes").fetchall()]

    def stamp(value: datetime):
        if sqlite:
            return (
                value.astimezone(UTC)
                .replace(tzinfo=None)
                .isoformat(sep=" ", timespec="microseconds")
            )
        return value

    columns = (
        "call_sid, from_number, to_number, started_at, ended_at, duration_seconds, status, "
        "status_sequence, language, postcode, zone_id, request_type, last_step, outcome, "
        "request_reference"
    )
    n = 0
    rows = []
    for day in sorted(per_day):
        begin, end = _local_day_bounds(day)
        span = (end - begin).total_seconds()
        count = per_day[day]
        for k in range(count):
            n += 1
            at = begin + timedelta(seconds=span * (k + rng.random()) / count)
            duration = rng.randint(20, 240)
            outcome = rng.choice(OUTCOMES)
            rows.append(
                (
                    f"CA{n:032d}",
                    None if n % 50 == 0 else f"+4930{n:08d}",
                    "+4930000000000",
                    stamp(at),
                    stamp(at + timedelta(seconds=duration)),
                    duration,
                    "completed",
                    3,
                    rng.choice(["de", "de", "de", "en", "pl", "tr"]),
                    rng.choice(postcodes),
                    rng.choice(zones),
                    rng.choice(["shopping", "pharmacy", "pets", "chat", "other"]),
                    "done" if outcome == "request_created" else rng.choice(STEPS),
                    outcome,
                    f"HX{n % 10:1d}-K4M" if outcome == "request_created" else "",
                )
            )
        if len(rows) >= 100_000:
            _insert(conn, sqlite, columns, rows)
            rows = []
    _insert(conn, sqlite, columns, rows)
    conn.commit()
    if sqlite:
        conn.execute("ANALYZE")
    else:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE calls")
    conn.close()
    print(f"   seeded {n} calls in {time.perf_counter() - started:.0f} s")


def _insert(conn, sqlite: bool, columns: str, rows: list) -> None:
    if not rows:
        return
    if sqlite:
        marks = ", ".join("?" * len(columns.split(",")))
        conn.executemany(f"INSERT INTO calls ({columns}) VALUES ({marks})", rows)
        return
    with conn.cursor().copy(f"COPY calls ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# -- measuring -------------------------------------------------------------------------


TIME = shutil.which("time", path="/usr/bin:/bin")


def _timed_child(
    command: list[str], env: dict | None = None, stdout=None
) -> tuple[float, int, int]:
    """Run a command; its wall seconds, peak resident memory (bytes) and exit code.

    The peak comes from GNU time (`time -f %M`): the rusage that wait4 reports for
    a child forked from this process counts this process's own memory at the fork.
    """
    measured = [TIME, "-f", "%M", *command] if TIME else command
    started = time.perf_counter()
    process = subprocess.run(
        measured, env=env, stdout=stdout or subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    seconds = time.perf_counter() - started
    errors = process.stderr.decode(errors="replace").strip().splitlines()
    if process.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, command))} failed ({process.returncode}): {errors[-5:]}"
        )
    peak = int(errors[-1]) * 1024 if TIME and errors and errors[-1].isdigit() else -1
    return seconds, peak, process.returncode


def _rows(path: Path) -> int:
    """CSV records in a file (every seeded field is free of line breaks)."""
    with path.open("rb") as f:
        return sum(1 for _ in f) - 1


def measure(kind: str, url: str, options: ExportOptions, hotline: Path) -> dict:
    directory = WORK_DIR / "export"
    directory.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "HOTLINE_DATABASE_URL": url,
        "HOTLINE_SECRET_KEY": "bench-secret",
        "TWILIO_AUTH_TOKEN": "bench-token",
        "HOTLINE_CONFIG": str(directory / "config.toml"),
    }
    (directory / "config.toml").write_text('timezone = "Europe/Berlin"\n')
    first, last = first_and_last()
    cases = {
        "day": (["--date", DAY.isoformat()], DAY, DAY, options.day_calls),
        "range": (
            ["--from", first.isoformat(), "--to", last.isoformat()],
            first,
            last,
            options.range_calls,
        ),
    }
    figures: dict = {}
    for case, (arguments, day_from, day_to, expected) in cases.items():
        out = directory / f"{kind}-{case}.csv"
        baseline_out = directory / f"{kind}-{case}-baseline.csv"
        runs, baseline_runs = [], []
        for _ in range(options.repeat):
            out.unlink(missing_ok=True)
            runs.append(
                _timed_child([str(hotline), "calls", "export", *arguments, "-o", str(out)], env)
            )
            baseline_runs.append(_baseline(kind, url, day_from, day_to, baseline_out))
        rows = _rows(out)
        seconds = sorted(r[0] for r in runs)[len(runs) // 2]
        peak = max(r[1] for r in runs)  # -1: not measured (no GNU time)
        entry = {
            "rows": rows,
            "rows_expected": expected,
            "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds),
            "peak_rss_mb": round(peak / 1e6, 1),
            "file_mb": round(out.stat().st_size / 1e6, 1),
        }
        if baseline_runs and baseline_runs[0] is not None:
            b_seconds = sorted(r[0] for r in baseline_runs)[len(baseline_runs) // 2]
            entry.update(
                baseline_tool=baseline_runs[0][3],
                baseline_rows=_rows(baseline_out),
                baseline_seconds=round(b_seconds, 2),
                baseline_peak_rss_mb=round(max(r[1] for r in baseline_runs) / 1e6, 1),
                ratio_to_baseline=round(seconds / b_seconds, 2),
                time_target_met=seconds <= 3 * b_seconds,
            )
        else:
            entry["baseline_tool"] = "unavailable: install Debian's sqlite3 package (or psql)"
        entry["memory_target_met"] = 0 <= peak < 150e6
        entry["all_rows"] = rows == expected
        figures[case] = entry
        out.unlink(missing_ok=True)
        baseline_out.unlink(missing_ok=True)
    return figures


BASELINE_QUERY = (
    "SELECT call_sid, started_at, ended_at, duration_seconds, status, language, postcode, "
    "zone_id, request_type, outcome, request_reference, from_number FROM calls "
    "WHERE started_at >= '{start}' AND started_at < '{end}' ORDER BY started_at"
)


def _baseline(kind: str, url: str, first: date, last: date, out: Path):
    start, _ = _local_day_bounds(first)
    _, end = _local_day_bounds(last)
    if kind == "sqlite":
        tool = shutil.which("sqlite3")
        if tool is None:
            return None
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        query = BASELINE_QUERY.format(start=start.strftime(fmt), end=end.strftime(fmt))
        command = [tool, "-csv", "-header", url.removeprefix("sqlite:///"), query]
    else:
        tool = shutil.which("psql")
        if tool is None:
            return None
        query = BASELINE_QUERY.format(start=start.isoformat(), end=end.isoformat())
        command = [tool, "-q", driver_url(url), "-c", f"\\copy ({query}) TO STDOUT CSV HEADER"]
    with out.open("wb") as f:
        seconds, peak, code = _timed_child(command, stdout=f)
    return seconds, peak, code, Path(tool).name


def print_summary(figures: dict) -> None:
    if "missing" in figures:
        print(f"Export: not measured: {figures['missing']}")
        return
    rows = []
    for kind in figures["options"]["databases"]:
        for case, f in figures[kind].items():
            rows.append(
                [
                    kind,
                    f"{case} ({f['rows']} rows{'' if f['all_rows'] else ', MISSING ROWS'})",
                    f["seconds"],
                    f["peak_rss_mb"],
                    f"{f.get('baseline_tool', '')} {f.get('baseline_seconds', '')} s",
                    f.get("ratio_to_baseline", "-"),
                    "yes"
                    if f.get("time_target_met") and f["memory_target_met"] and f["all_rows"]
                    else "NO",
                ]
            )
    print(
        table(
            "Export: hotline calls export (subprocess)",
            ["db", "what", "seconds", "peak MB", "baseline", "x baseline", "target"],
            rows,
        )
    )


def targets_met(figures: dict) -> bool:
    if "missing" in figures:
        return False
    return all(
        f.get("time_target_met", False) and f["memory_target_met"] and f["all_rows"]
        for kind in figures["options"]["databases"]
        for f in figures[kind].values()
    )
