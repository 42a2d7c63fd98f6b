"""Run the benchmarks: `python -m bench [calls|board|export|alerts|login-flood|all] [options]`.

Quick by default (a few minutes for everything); `--full` uses the sizes the
issue names. Figures are printed as a table and written as JSON under
bench/results/ (`<benchmark>-latest.json` and one file per run).
"""

from __future__ import annotations

import argparse
import os

from bench import alerts, board, calls, export, login_flood
from bench.databases import DEFAULT_POSTGRESQL
from bench.report import machine, save
from bench.servers import ServerSettings


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def _databases(text: str) -> tuple[str, ...]:
    chosen = tuple(x.strip() for x in text.split(",") if x.strip())
    for name in chosen:
        if name not in ("sqlite", "postgresql"):
            raise argparse.ArgumentTypeError(f"unknown database {name!r}")
    return chosen


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument(
        "benchmark",
        nargs="?",
        default="all",
        choices=["calls", "board", "export", "alerts", "login-flood", "all"],
    )
    p.add_argument("--full", action="store_true", help="the issue's sizes (takes much longer)")
    p.add_argument(
        "--db",
        type=_databases,
        default=("sqlite", "postgresql"),
        help="sqlite,postgresql (default both)",
    )
    p.add_argument(
        "--postgresql",
        default=os.environ.get("HOTLINE_BENCH_POSTGRESQL", DEFAULT_POSTGRESQL),
        help="a PostgreSQL server URL; databases hotline_bench_* are made there",
    )
    p.add_argument("--repeat", type=int, default=None, help="runs to take the median of")
    calls_ = p.add_argument_group("calls")
    calls_.add_argument("--workers", type=int, default=4, help="gunicorn workers (README: 4)")
    calls_.add_argument(
        "--threads", type=int, default=4, help="threads per worker (README: 4; 1: sync worker)"
    )
    calls_.add_argument("--throughput-callers", type=int, default=None)
    calls_.add_argument(
        "--duration", type=float, default=None, help="seconds of the throughput run"
    )
    calls_.add_argument("--concurrent", type=_numbers, default=None, help="e.g. 50,500")
    calls_.add_argument(
        "--think", type=float, default=None, help="seconds before each key (+-50%%)"
    )
    calls_.add_argument(
        "--ramp", type=float, default=None, help="callers ring within this many seconds"
    )
    calls_.add_argument("--processes", type=int, default=2, help="load generator processes")
    board_ = p.add_argument_group("board")
    board_.add_argument("--requests", type=int, default=None, help="help requests to seed")
    board_.add_argument("--volunteers", type=int, default=5000)
    board_.add_argument("--iterations", type=int, default=None, help="page loads per figure")
    board_.add_argument("--claims", type=int, default=None, help="claims per figure")
    board_.add_argument("--reseed", action="store_true", help="seed the cached databases again")
    export_ = p.add_argument_group("export")
    export_.add_argument("--day-calls", type=int, default=None, help="calls on the one day")
    export_.add_argument("--range-calls", type=int, default=None, help="calls over the range")
    alerts_ = p.add_argument_group("alerts")
    alerts_.add_argument("--alert-volunteers", type=int, default=1000)
    alerts_.add_argument("--alert-requests", type=int, default=100)
    alerts_.add_argument(
        "--alert-workers", type=int, default=2, help="workers of the second PostgreSQL run"
    )
    flood = p.add_argument_group("login-flood")
    flood.add_argument("--logins", type=int, default=128, help="concurrent sign-ins")
    flood.add_argument(
        "--flood-seconds", type=float, default=None, help="seconds of flood per mode"
    )
    flood.add_argument(
        "--limits-storage", default="", help="[limits] storage_url (default: the database)"
    )
    flood.add_argument(
        "--check-wait", type=float, default=0.1, help="[limits] password_check_wait_seconds"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    failed = False
    if args.benchmark in ("calls", "all"):
        failed |= not run_calls(args)
    if args.benchmark in ("board", "all"):
        failed |= not run_board(args)
    if args.benchmark in ("export", "all"):
        failed |= not run_export(args)
    if args.benchmark in ("alerts", "all"):
        failed |= not run_alerts(args)
    if args.benchmark in ("login-flood", "all"):
        failed |= not run_login_flood(args)
    return 1 if failed else 0


def run_calls(args) -> bool:
    full = args.full
    options = calls.CallsOptions(
        databases=args.db,
        server=ServerSettings(workers=args.workers, threads=args.threads),
        throughput_callers=args.throughput_callers or (50 if full else 16),
        duration=args.duration or (20.0 if full else 8.0),
        concurrent=args.concurrent or ((50, 500) if full else (50,)),
        think=args.think if args.think is not None else (5.0 if full else 1.0),
        ramp=args.ramp if args.ramp is not None else 2.0,
        repeat=args.repeat or (3 if full else 1),
        processes=args.processes,
        postgresql_server=args.postgresql,
    )
    before = machine()
    figures = calls.run(options)
    figures["machine"] = {"before": before, "after": machine()}
    path = save("calls", figures)
    calls.print_summary(figures, options)
    print(f"(JSON: {path})")
    return all(entry[key]["target_met"] for entry in figures["summary"].values() for key in entry)


def run_board(args) -> bool:
    options = board.BoardOptions(
        databases=args.db,
        requests=args.requests or (1_000_000 if args.full else 100_000),
        volunteers=args.volunteers,
        iterations=args.iterations or (300 if args.full else 100),
        claims=args.claims or (100 if args.full else 40),
        reseed=args.reseed,
        postgresql_server=args.postgresql,
        repeat=args.repeat or 1,
    )
    print(f"-- board, {options.requests} requests", flush=True)
    before = machine()
    figures = board.run(options)
    figures["machine"] = {"before": before, "after": machine()}
    path = save("board", figures)
    board.print_summary(figures)
    print(f"(JSON: {path})")
    return board.targets_met(figures)


def run_export(args) -> bool:
    options = export.ExportOptions(
        databases=args.db,
        day_calls=args.day_calls or (200_000 if args.full else 20_000),
        range_calls=args.range_calls or (1_000_000 if args.full else 100_000),
        repeat=args.repeat or (3 if args.full else 1),
        reseed=args.reseed,
        postgresql_server=args.postgresql,
    )
    print(f"-- export, {options.day_calls} calls a day, {options.range_calls} in all", flush=True)
    before = machine()
    figures = export.run(options)
    figures["machine"] = {"before": before, "after": machine()}
    path = save("export", figures)
    export.print_summary(figures)
    print(f"(JSON: {path})")
    return export.targets_met(figures)


def run_alerts(args) -> bool:
    options = alerts.AlertOptions(
        databases=args.db,
        volunteers=args.alert_volunteers,
        requests=args.alert_requests,
        workers=args.alert_workers,
        postgresql_server=args.postgresql,
    )
    print(f"-- alerts, {options.volunteers} volunteers, {options.requests} requests", flush=True)
    before = machine()
    figures = alerts.run(options)
    figures["machine"] = {"before": before, "after": machine()}
    path = save("alerts", figures)
    alerts.print_summary(figures)
    print(f"(JSON: {path})")
    # No target: every volunteer got exactly one alert and every job is done.
    return all(
        f["emails_per_volunteer"] == 1 and f["jobs_not_done"] == 0
        for name, f in figures.items()
        if isinstance(f, dict) and "jobs_done" in f
    )


def run_login_flood(args) -> bool:
    options = login_flood.FloodOptions(
        server=ServerSettings(workers=args.workers, threads=args.threads),
        logins=args.logins,
        duration=args.flood_seconds or (30.0 if args.full else 10.0),
        databases=args.db,
        postgresql_server=args.postgresql,
        limits_storage=args.limits_storage,
        check_wait=args.check_wait,
    )
    before = machine()
    figures = login_flood.run(options)
    figures["machine"] = {"before": before, "after": machine()}
    path = save("login-flood", figures)
    login_flood.print_summary(figures)
    print(f"(JSON: {path})")
    return figures["target_met"]


if __name__ == "__main__":
    raise SystemExit(main())
