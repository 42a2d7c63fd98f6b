"""Figures: percentiles, the readable table, and the JSON kept under bench/results/."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank), or NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(ms: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of latencies in milliseconds."""
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2) if ms else math.nan,
    }


def median(values: list[float]) -> float:
    return percentile(values, 50)


def spread(values: list[float]) -> str:
    """min..max of repeated measures, to show how noisy a figure was."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "-"
    return f"{min(values):.3g}..{max(values):.3g}"


def table(title: str, header: list[str], rows: list[list]) -> str:
    """A plain text table that reads well in a terminal and in a closing note."""
    cells = [[_cell(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def machine() -> dict:
    """What the figures were measured on; the load average says how busy it was."""
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def save(name: str, figures: dict) -> Path:
    """Write figures to bench/results/<name>-<timestamp>.json and <name>-latest.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    document = {"benchmark": name, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **figures}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    text = json.dumps(document, indent=2, default=str)
    path.write_text(text)
    (RESULTS_DIR / f"{name}-latest.json").write_text(text)
    return path
