"""Benchmark 3, the call log export: `hotline calls export` for one big day and a year.

Seeds `--day-calls` calls on one local day and `--range-calls` calls in all
over a year around it (the day included), once per size and database (kept
like the board's). Then, as an operator would run it, it runs the real command
in a subprocess and measures its wall time and its peak memory (the child's
maximum resident set, from GNU time):

    hotline calls export --date DAY -o FILE
    hotline calls export --from FIRST --to LAST -o FILE

Baseline: the export a typical Flask app would write (bench/export_baseline.py:
an ORM query of the calls written with the csv module, raw values, no labels),
run the same way in the same run: a subprocess building the app's core, timed
and measured alike. Targets: ours at least 2 times as fast as the baseline,
peak memory under 150 MB whatever the size, every row there, and one code path
for the web and the command (the operator page's download of the day is the
command's file, byte for byte). The raw dump of the database's own tool
(`sqlite3 -csv`, psql's `\\copy`) is shown for reference, with no target.
"""

from __future__ import annotations

import os
import random
import secrets
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
from sqlalchemy import select

from bench.databases import WORK_DIR, driver_url
from bench.databases import seeded_database as seeded
from bench.report import median, spread, table

DAY = date(2026, 3, 16)
EMPTY_DAY = date(2001, 1, 1)  # no calls: what a run costs before its first row
RANGE_DAYS = 365  # the range, a year: DAY - 182 .. DAY + 182
SPEEDUP_TARGET = 2.0  # ours at least this many times as fast as the baseline
MEMORY_TARGET_MB = 150
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
        f"export_{options.day_calls}_{options.range_calls}_{RANGE_DAYS}d",
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
    command: list[str], env: dict | None = None, stdout=None, allowed: tuple[int, ...] = (0,)
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
    if process.returncode not in allowed:
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
    config = directory / "config.toml"
    config.write_text('timezone = "Europe/Berlin"\n')
    env = {
        **os.environ,
        "HOTLINE_DATABASE_URL": url,
        "HOTLINE_SECRET_KEY": "bench-secret",
        "TWILIO_AUTH_TOKEN": "bench-token",
        "HOTLINE_CONFIG": str(config),
    }
    first, last = first_and_last()
    cases = {
        "day": (DAY, DAY, options.day_calls),
        "range": (first, last, options.range_calls),
    }
    figures: dict = {"startup": _startup(hotline, env, directory, options.repeat)}
    for case, (day_from, day_to, expected) in cases.items():
        if day_from == day_to:
            arguments = ["--date", day_from.isoformat()]
        else:
            arguments = ["--from", day_from.isoformat(), "--to", day_to.isoformat()]
        span = ["--from", day_from.isoformat(), "--to", day_to.isoformat()]
        out = directory / f"{kind}-{case}.csv"
        baseline_out = directory / f"{kind}-{case}-baseline.csv"
        dump_out = directory / f"{kind}-{case}-dump.csv"
        ours, baseline, dumps = [], [], []
        for _ in range(options.repeat):
            out.unlink(missing_ok=True)
            ours.append(
                _timed_child([str(hotline), "calls", "export", *arguments, "-o", str(out)], env)
            )
            baseline.append(
                _timed_child(
                    [sys.executable, "-m", "bench.export_baseline", *span, "-o", str(baseline_out)],
                    env,
                )
            )
            dumps.append(_dump(kind, url, day_from, day_to, dump_out))
        seconds = [r[0] for r in ours]
        baseline_seconds = [r[0] for r in baseline]
        peak = max(r[1] for r in ours)  # -1: not measured (no GNU time)
        rows = _rows(out)
        entry = {
            "rows": rows,
            "rows_expected": expected,
            "seconds": round(median(seconds), 2),
            "seconds_runs": [round(x, 2) for x in seconds],
            "rows_per_s": round(rows / median(seconds)),
            "peak_rss_mb": round(peak / 1e6, 1),
            "file_mb": round(out.stat().st_size / 1e6, 1),
            "baseline_rows": _rows(baseline_out),
            "baseline_seconds": round(median(baseline_seconds), 2),
            "baseline_seconds_runs": [round(x, 2) for x in baseline_seconds],
            "baseline_peak_rss_mb": round(max(r[1] for r in baseline) / 1e6, 1),
            # How many times as fast as the baseline: of the medians, and per
            # run (each of ours beside the baseline run right after it).
            "speedup": round(median(baseline_seconds) / median(seconds), 2),
            "speedup_runs": [
                round(b / o, 2) for o, b in zip(seconds, baseline_seconds, strict=True)
            ],
        }
        # Beyond the start-up both pay alike: the time per row, as a reference.
        ours_rows = entry["seconds"] - figures["startup"]["seconds"]
        baseline_rows = entry["baseline_seconds"] - figures["startup"]["baseline_seconds"]
        if ours_rows > 0:
            entry["speedup_beyond_startup"] = round(baseline_rows / ours_rows, 2)
        if all(dumps):
            entry["dump_tool"] = dumps[0][3]
            entry["dump_seconds"] = round(median([d[0] for d in dumps]), 2)
        entry["time_target_met"] = entry["speedup"] >= SPEEDUP_TARGET
        entry["memory_target_met"] = 0 <= peak < MEMORY_TARGET_MB * 1e6
        entry["all_rows"] = rows == expected == entry["baseline_rows"]
        if case == "day":
            entry["web_is_the_command"] = _web_download(url, config, day_from, out)
        figures[case] = entry
        for path in (out, baseline_out, dump_out):
            path.unlink(missing_ok=True)
    return figures


def _startup(hotline: Path, env: dict, directory: Path, repeat: int) -> dict:
    """Seconds to export a day without calls: the start-up (imports, configuration, a query).

    Ours exits 1 for no calls, the baseline writes a header; both have read the
    configuration and asked the database by then.
    """
    empty = EMPTY_DAY.isoformat()
    out = directory / "empty.csv"
    ours = [
        _timed_child(
            [str(hotline), "calls", "export", "--date", empty, "-o", str(out)], env, allowed=(1,)
        )[0]
        for _ in range(repeat)
    ]
    baseline = [
        _timed_child(
            [sys.executable, "-m", "bench.export_baseline", "--from", empty, "--to", empty]
            + ["-o", str(out)],
            env,
        )[0]
        for _ in range(repeat)
    ]
    out.unlink(missing_ok=True)
    return {
        "seconds": round(median(ours), 2),
        "seconds_runs": [round(x, 2) for x in ours],
        "baseline_seconds": round(median(baseline), 2),
        "baseline_seconds_runs": [round(x, 2) for x in baseline],
    }


def _web_download(url: str, config: Path, day: date, command_file: Path) -> bool:
    """True when the operator page's download of the day is the command's file, byte for byte.

    The page runs in this process through Flask's test client, signed in as
    an operator (made once in the benchmark's database), in the command's
    default language.
    """
    from app import create_app
    from app.accounts.users import create_user
    from app.database import get_db
    from app.models import Role, User

    before = os.environ.get("HOTLINE_CONFIG")
    os.environ["HOTLINE_CONFIG"] = str(config)  # the command's configuration
    try:
        app = create_app(
            {"database_url": url, "secret_key": "bench-secret"},
            instance_path=str(WORK_DIR / "export" / "instance"),
        )
    finally:
        if before is None:
            del os.environ["HOTLINE_CONFIG"]
        else:
            os.environ["HOTLINE_CONFIG"] = before
    app.config["WTF_CSRF_ENABLED"] = False
    email = "bench-operator@example.org"
    with app.app_context(), get_db().session() as session:
        operator = session.scalars(select(User).where(User.email == email)).first()
        if operator is None:
            operator = create_user(
                session,
                name="Bench operator",
                email=email,
                password=secrets.token_urlsafe(16),
                role=Role.OPERATOR,
                approved=True,
            )
            session.commit()
        operator_id = operator.id
    language = app.config["HOTLINE"].web_languages[0]
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie.update({"_user_id": str(operator_id), "_fresh": True})
    response = client.post(
        "/operator/export",
        data={"first": day.isoformat()},
        headers={"Accept-Language": language},
    )
    same = response.status_code == 200 and response.data == command_file.read_bytes()
    get_db(app).engine.dispose()
    return same


DUMP_QUERY = (
    "SELECT call_sid, started_at, ended_at, duration_seconds, status, language, postcode, "
    "zone_id, request_type, outcome, request_reference, from_number FROM calls "
    "WHERE started_at >= '{start}' AND started_at < '{end}' ORDER BY started_at"
)


def _dump(kind: str, url: str, first: date, last: date, out: Path):
    """The same rows straight from the database's own command-line tool (a reference figure)."""
    start, _ = _local_day_bounds(first)
    _, end = _local_day_bounds(last)
    if kind == "sqlite":
        tool = shutil.which("sqlite3")
        if tool is None:
            return None
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        query = DUMP_QUERY.format(start=start.strftime(fmt), end=end.strftime(fmt))
        command = [tool, "-csv", "-header", url.removeprefix("sqlite:///"), query]
    else:
        tool = shutil.which("psql")
        if tool is None:
            return None
        query = DUMP_QUERY.format(start=start.isoformat(), end=end.isoformat())
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
        start = figures[kind]["startup"]
        rows.append(
            [
                kind,
                "start-up (no calls)",
                f"{start['seconds']} ({spread(start['seconds_runs'])})",
                f"{start['baseline_seconds']} ({spread(start['baseline_seconds_runs'])})",
                *["-"] * 7,
            ]
        )
        for case, f in _cases(figures[kind]):
            rows.append(
                [
                    kind,
                    f"{case} ({f['rows']} rows{'' if f['all_rows'] else ', MISSING ROWS'})",
                    f"{f['seconds']} ({spread(f['seconds_runs'])})",
                    f"{f['baseline_seconds']} ({spread(f['baseline_seconds_runs'])})",
                    f"{f['speedup']} ({spread(f['speedup_runs'])})",
                    f.get("speedup_beyond_startup", "-"),
                    f["peak_rss_mb"],
                    f["baseline_peak_rss_mb"],
                    {True: "same", False: "DIFFERS"}.get(f.get("web_is_the_command"), "-"),
                    f"{f.get('dump_tool', '')} {f.get('dump_seconds', '-')}",
                    "yes" if _met(f) else "NO",
                ]
            )
    print(
        table(
            "Export: hotline calls export against a typical Flask app's export (subprocesses; "
            "seconds: median (min..max))",
            [
                "db",
                "what",
                "ours s",
                "baseline s",
                "x faster",
                "x beyond start-up",
                "peak MB",
                "baseline MB",
                "web",
                "raw dump s",
                "target",
            ],
            rows,
        )
    )


def _met(f: dict) -> bool:
    return (
        f["time_target_met"]
        and f["memory_target_met"]
        and f["all_rows"]
        and f.get("web_is_the_command", True)
    )


def targets_met(figures: dict) -> bool:
    if "missing" in figures:
        return False
    return all(
        _met(f) for kind in figures["options"]["databases"] for _, f in _cases(figures[kind])
    )


def _cases(figures: dict) -> list[tuple[str, dict]]:
    return [(case, f) for case, f in figures.items() if case != "startup"]
