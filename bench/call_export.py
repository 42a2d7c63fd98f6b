"""Benchmark: the call log export streams in constant memory, whatever the number of calls.

    .venv/bin/python bench/call_export.py                      # SQLite in a temp dir
    HOTLINE_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/hotline_bench \\
        .venv/bin/python bench/call_export.py                  # an empty PostgreSQL DB (wiped)

Seeds one local day with 10,000 and then 100,000 calls and exports it; prints
rows per second and the peak of Python memory (tracemalloc) while exporting.
The peak should stay flat as the day grows tenfold: rows are fetched in
batches (a server-side cursor on PostgreSQL) and written as they come.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from app import create_app, migrations_runner  # noqa: E402
from app.call_export import DayRange, export_csv  # noqa: E402
from app.database import Base, get_db  # noqa: E402
from app.models import Call  # noqa: E402

DAY = date(2026, 3, 29)  # a DST day, for good measure


def seed(url: str, calls: int) -> None:
    engine = create_engine(url)
    start = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    step = timedelta(hours=23) / calls
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM calls"))
        for offset in range(0, calls, 5000):
            connection.execute(
                insert(Call),
                [
                    {
                        "call_sid": f"CA{n:032d}",
                        "from_number": f"+49301{n:07d}",
                        "to_number": "+4930555000",
                        "started_at": start + step * n,
                        "duration_seconds": 90,
                        "status": "completed",
                        "status_sequence": 3,
                        "language": "de",
                        "postcode": "10115",
                        "request_type": "shopping",
                        "last_step": "done",
                        "outcome": "request_created",
                        "request_reference": "HX7-K4M",
                    }
                    for n in range(offset, min(offset + 5000, calls))
                ],
            )
    engine.dispose()


def measure(app, calls: int) -> None:
    """Time one export, then run it again under tracemalloc (which slows it) for the peak."""
    settings = app.config["HOTLINE"]

    def export() -> int:
        with app.app_context(), get_db(app).session() as session:
            chunks = export_csv(session, DayRange.single(DAY), settings, language="de")
            return sum(len(chunk) for chunk in chunks)

    began = time.perf_counter()
    size = export()
    seconds = time.perf_counter() - began
    tracemalloc.start()
    export()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{calls:>7} calls: {seconds:6.2f} s, {calls / seconds:8.0f} rows/s, "
        f"{size / 1e6:6.1f} MB of CSV, peak Python memory {peak / 1e6:5.2f} MB"
    )


def main() -> None:
    url = os.environ.get("HOTLINE_BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as tmp:
        if not url:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        else:
            engine = create_engine(url)
            with engine.begin() as connection:
                names = ", ".join(t.name for t in Base.metadata.sorted_tables)
                connection.execute(text(f"DROP TABLE IF EXISTS {names}, alembic_version CASCADE"))
            engine.dispose()
        migrations_runner.upgrade(url)
        app = create_app({"database_url": url, "secret_key": "bench"}, instance_path=tmp)
        print(f"Export of one day on {url.split(':')[0]}:")
        for calls in (10_000, 100_000):
            seed(url, calls)
            measure(app, calls)
        get_db(app).engine.dispose()


if __name__ == "__main__":
    main()
