"""Benchmark 1, calls: simulated callers walking the German happy path against gunicorn.

Three scenarios, each on SQLite and PostgreSQL, with the baseline (a Flask app
answering one static <Gather>, bench/baseline_app.py) run under the same
gunicorn settings in the same run:

- throughput: `--throughput-callers` callers call again and again without
  pausing for `--duration` seconds; completed calls and webhooks per second,
  compared with the baseline's webhooks per second (target: at least 50%).
- concurrent N (`--concurrent 50,500`): N callers ring within `--ramp` seconds
  and wait `--think` seconds (+-50%) before each key, as people listening to
  the prompts do; webhook latency (target: p99 under 50 ms at 50 calls), and
  errors and lost requests (target: none at 500 calls).

A request is lost when a caller heard the end of the happy path but no help
request with its CallSid is in the database (or its call log does not say so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from app.database import Database
from app.models import Call, CallOutcome, HelpRequest
from bench import load
from bench.databases import WORK_DIR, fresh_database
from bench.report import latency_summary, median, spread, table
from bench.servers import (
    BENCH_AUTH_TOKEN,
    BENCH_PUBLIC_URL,
    ServerSettings,
    gunicorn,
    hotline_environment,
)


@dataclass(frozen=True)
class CallsOptions:
    databases: tuple[str, ...] = ("sqlite", "postgresql")
    server: ServerSettings = ServerSettings()
    throughput_callers: int = 16
    duration: float = 8.0
    concurrent: tuple[int, ...] = (50,)
    think: float = 1.0
    ramp: float = 2.0
    repeat: int = 1
    processes: int = 2
    postgresql_server: str = ""


def run(options: CallsOptions) -> dict:
    figures: dict = {"server": options.server.describe(), "options": _plain(options), "runs": []}
    for attempt in range(options.repeat):
        print(f"-- calls, run {attempt + 1} of {options.repeat}", flush=True)
        figures["runs"].append(_one_run(options))
    figures["summary"] = _summary(figures["runs"], options)
    return figures


def _one_run(options: CallsOptions) -> dict:
    run: dict = {}
    directory = WORK_DIR / "calls"
    with gunicorn(
        "bench.baseline_app:create_app()", options.server, directory / "baseline", env={}
    ) as server:
        run["baseline"] = _scenarios(server, options, database_url=None)
    for kind in options.databases:
        with fresh_database(kind, "hotline_bench_calls", options.postgresql_server) as url:
            env = hotline_environment(directory / kind, url)
            with gunicorn("app:create_app()", options.server, directory / kind, env) as server:
                run[kind] = _scenarios(server, options, database_url=url)
    return run


def _scenarios(server, options: CallsOptions, database_url: str | None) -> dict:
    label = "baseline" if database_url is None else database_url.split(":", 1)[0]
    # Warm up: every worker imports, connects and compiles its queries once.
    _load(server, options, callers=options.server.workers * 2, duration=None, think=0, ramp=0)
    scenarios = {}
    cpu = server.cpu_seconds()
    result = _load(
        server, options, options.throughput_callers, options.duration, think=0.0, ramp=0.0
    )
    scenarios["throughput"] = _figures(result, server.cpu_seconds() - cpu, database_url)
    print(f"   {label:10} throughput: {_line(scenarios['throughput'])}", flush=True)
    for n in options.concurrent:
        cpu = server.cpu_seconds()
        result = _load(server, options, n, None, think=options.think, ramp=options.ramp)
        scenarios[f"concurrent_{n}"] = _figures(result, server.cpu_seconds() - cpu, database_url)
        print(f"   {label:10} {n:4} calls:  {_line(scenarios[f'concurrent_{n}'])}", flush=True)
    return scenarios


def _load(server, options, callers, duration, think, ramp) -> load.LoadResults:
    plan = load.LoadPlan(
        server_url=server.url,
        auth_token=BENCH_AUTH_TOKEN,
        public_base_url=BENCH_PUBLIC_URL,
        callers=callers,
        processes=min(options.processes, callers),
        duration=duration,
        think=think,
        ramp=ramp,
    )
    return load.run(plan)


def _figures(result: load.LoadResults, server_cpu: float, database_url: str | None) -> dict:
    elapsed = result.elapsed or math.nan
    figures = {
        "calls_started": result.calls_started,
        "calls_completed": len(result.completed),
        "webhooks": result.requests,
        "webhooks_per_call": round(result.requests / max(1, result.calls_started), 2),
        "elapsed_s": round(elapsed, 2),
        "calls_per_s": round(len(result.completed) / elapsed, 2),
        "webhooks_per_s": round(result.requests / elapsed, 1),
        "latency": latency_summary(result.latencies_ms),
        "errors": len(result.errors),
        "error_samples": sorted(set(result.errors))[:5],
        "peak_concurrent_calls": result.peak_concurrent_calls,
        "server_cpu_ms_per_webhook": round(server_cpu * 1000 / max(1, result.requests), 2),
        "client_cpu_ms_per_webhook": round(
            result.client_cpu_seconds * 1000 / max(1, result.requests), 2
        ),
    }
    if database_url is not None:
        figures.update(_lost(database_url, result.completed))
    return figures


def _lost(database_url: str, completed: list[str]) -> dict:
    """Completed calls whose help request or call log entry is missing from the database."""
    database = Database(database_url)
    stored = logged = 0
    try:
        with database.session() as session:
            for i in range(0, len(completed), 500):
                chunk = completed[i : i + 500]
                stored += session.scalar(
                    select(func.count()).where(HelpRequest.call_sid.in_(chunk))
                )
                logged += session.scalar(
                    select(func.count()).where(
                        Call.call_sid.in_(chunk),
                        Call.outcome == CallOutcome.REQUEST_CREATED,
                        Call.status == "completed",
                    )
                )
    finally:
        database.engine.dispose()
    return {
        "requests_stored": stored,
        "lost_requests": len(completed) - stored,
        "calls_logged_complete": logged,
        "lost_call_log_entries": len(completed) - logged,
    }


def _line(f: dict) -> str:
    lost = f" lost {f['lost_requests']}" if "lost_requests" in f else ""
    lat = f["latency"]
    return (
        f"{f['calls_completed']} calls, {f['calls_per_s']} calls/s, {f['webhooks_per_s']} "
        f"webhooks/s, p50 {lat['p50_ms']} p95 {lat['p95_ms']} p99 {lat['p99_ms']} ms, "
        f"errors {f['errors']}{lost}, server CPU {f['server_cpu_ms_per_webhook']} ms/webhook"
    )


def _summary(runs: list[dict], options: CallsOptions) -> dict:
    """Medians over the runs, and the ratios against the baseline of the same run."""
    summary: dict = {}
    for kind in options.databases:
        entry: dict = {}
        ratios = [
            r[kind]["throughput"]["webhooks_per_s"] / r["baseline"]["throughput"]["webhooks_per_s"]
            for r in runs
        ]
        cpu_ratios = [
            r["baseline"]["throughput"]["server_cpu_ms_per_webhook"]
            / r[kind]["throughput"]["server_cpu_ms_per_webhook"]
            for r in runs
        ]
        entry["throughput"] = {
            "calls_per_s": median([r[kind]["throughput"]["calls_per_s"] for r in runs]),
            "webhooks_per_s": median([r[kind]["throughput"]["webhooks_per_s"] for r in runs]),
            "baseline_webhooks_per_s": median(
                [r["baseline"]["throughput"]["webhooks_per_s"] for r in runs]
            ),
            "ratio_to_baseline": round(median(ratios), 3),
            "ratio_spread": spread(ratios),
            "cpu_ratio_to_baseline": round(median(cpu_ratios), 3),
            "p99_ms": median([r[kind]["throughput"]["latency"]["p99_ms"] for r in runs]),
            "errors": sum(r[kind]["throughput"]["errors"] for r in runs),
            "lost_requests": sum(r[kind]["throughput"]["lost_requests"] for r in runs),
            "target_met": median(ratios) >= 0.5,
        }
        for n in options.concurrent:
            key = f"concurrent_{n}"
            p99s = [r[kind][key]["latency"]["p99_ms"] for r in runs]
            base = [r["baseline"][key]["latency"]["p99_ms"] for r in runs]
            errors = sum(r[kind][key]["errors"] for r in runs)
            lost = sum(
                r[kind][key]["lost_requests"] + r[kind][key]["lost_call_log_entries"] for r in runs
            )
            entry[key] = {
                "p50_ms": median([r[kind][key]["latency"]["p50_ms"] for r in runs]),
                "p95_ms": median([r[kind][key]["latency"]["p95_ms"] for r in runs]),
                "p99_ms": median(p99s),
                "p99_spread": spread(p99s),
                "baseline_p99_ms": median(base),
                "calls_completed": sum(r[kind][key]["calls_completed"] for r in runs),
                "peak_concurrent_calls": max(r[kind][key]["peak_concurrent_calls"] for r in runs),
                "errors": errors,
                "lost": lost,
                "target_met": (median(p99s) < 50 if n <= 50 else True)
                and (errors == 0 and lost == 0),
            }
        summary[kind] = entry
    return summary


def print_summary(figures: dict, options: CallsOptions) -> None:
    rows = []
    for kind, entry in figures["summary"].items():
        t = entry["throughput"]
        rows.append(
            [
                kind,
                f"throughput ({options.throughput_callers} callers, no pauses)",
                t["calls_per_s"],
                t["webhooks_per_s"],
                f"{t['ratio_to_baseline']:.2f} ({t['ratio_spread']})",
                t["p99_ms"],
                t["errors"],
                t["lost_requests"],
                "yes" if t["target_met"] else "NO",
            ]
        )
        for n in options.concurrent:
            c = entry[f"concurrent_{n}"]
            rows.append(
                [
                    kind,
                    f"{n} calls ({c['peak_concurrent_calls']} at once, think {options.think} s)",
                    "",
                    "",
                    f"p50 {c['p50_ms']} p95 {c['p95_ms']}",
                    f"{c['p99_ms']} ({c['p99_spread']}; baseline {c['baseline_p99_ms']})",
                    c["errors"],
                    c["lost"],
                    "yes" if c["target_met"] else "NO",
                ]
            )
    print(
        table(
            f"Calls: {figures['server']}, median of {options.repeat} run(s)",
            [
                "db",
                "scenario",
                "calls/s",
                "webhooks/s",
                "vs baseline",
                "p99 ms",
                "errors",
                "lost",
                "target",
            ],
            rows,
        )
    )


def _plain(options: CallsOptions) -> dict:
    return {
        "databases": list(options.databases),
        "throughput_callers": options.throughput_callers,
        "duration_s": options.duration,
        "concurrent": list(options.concurrent),
        "think_s": options.think,
        "ramp_s": options.ramp,
        "repeat": options.repeat,
        "processes": options.processes,
        "workers": options.server.workers,
        "threads": options.server.threads,
    }


__all__ = ["CallsOptions", "Path", "print_summary", "run"]
