"""The export benchmark's baseline: the call log export a typical Flask app would write.

An ORM query of the calls (`session.scalars(select(Call)...)`, ORM objects)
written with the `csv` module: the same fourteen columns as `hotline calls
export`, but raw values as the database keeps them (UTC times, codes, the
zone's id, full numbers): no labels, no masks, no local times, no formula
marks. It starts the way our command does (a process that builds the app's
core: configuration, database, translations), so both pay the same start-up.

    python -m bench.export_baseline --from 2026-03-01 --to 2026-03-31 -o calls.csv
"""

from __future__ import annotations

import argparse
import csv
from datetime import date

from sqlalchemy import select

from app import core_app
from app.calls.export import DayRange
from app.database import get_db
from app.models import Call


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.export_baseline")
    parser.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
    parser.add_argument("--to", dest="last", type=date.fromisoformat, required=True)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)

    app = core_app()
    start, end = DayRange(args.first, args.last).utc_bounds(app.config["HOTLINE"].timezone)
    with app.app_context(), get_db().session() as session, open(args.output, "w", newline="") as f:
        calls = session.scalars(
            select(Call)
            .where(Call.started_at >= start, Call.started_at < end)
            .order_by(Call.started_at, Call.id)
        )
        writer = csv.writer(f)
        writer.writerow(
            ["call_sid", "started_at", "ended_at", "duration_seconds", "status", "language"]
            + ["postcode", "zone_id", "request_type", "last_step", "outcome"]
            + ["request_reference", "from_number", "callback_number"]
        )
        for call in calls:
            writer.writerow(
                [
                    call.call_sid,
                    call.started_at,
                    call.ended_at,
                    call.duration_seconds,
                    call.status,
                    call.language,
                    call.postcode,
                    call.zone_id,
                    call.request_type,
                    call.last_step,
                    call.outcome,
                    call.request_reference,
                    call.from_number,
                    call.callback_number,
                ]
            )


if __name__ == "__main__":
    main()
