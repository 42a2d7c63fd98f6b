"""`hotline calls`: the call log export and its upkeep.

A thin wrapper over app.calls.export, which the operators' web export uses as well.

Exit codes of `hotline calls export`: 0 written; 1 no calls on those days
(nothing written, no file created); 2 wrong usage (a bad date, --to before
--from, --date together with --from); 3 the file could not be written.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.calls import call_log
from app.calls.export import (
    FIRST_DAY,
    LAST_DAY,
    DayRange,
    export_csv,
    local_today,
    prepare_export,
    within_export_days,
)
from app.cli.who import cli_user
from app.database import get_db
from app.helplines import helpline_by_slug
from app.models import HelplineRow

NO_CALLS = 1  # exit code: the range holds no calls
NOT_WRITTEN = 3  # exit code: the output file could not be written
DAYS_COVERED = f"{FIRST_DAY} to {LAST_DAY}"
MAX_STALE_HOURS = 24 * 366  # more would only be a typo


class LocalDay(click.ParamType):
    """A local calendar day: YYYY-MM-DD, 'today' or 'yesterday' (in the configured zone)."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        if value in ("today", "yesterday"):
            return value
        day = value if isinstance(value, date) else None
        if day is None and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            with contextlib.suppress(ValueError):
                day = date.fromisoformat(value)
        if day is None:
            self.fail(f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-03-29", param)
        if not within_export_days(day):
            self.fail(f"{value} is outside the days an export covers ({DAYS_COVERED})", param)
        return day


def _resolve(day: date | str | None) -> date | None:
    if not isinstance(day, str):
        return day
    today = local_today(current_app.config["HOTLINE"].timezone)
    return today if day == "today" else today - timedelta(days=1)


@click.group("calls", cls=AppGroup, help="The call log.")
def calls_group() -> None:
    pass


@calls_group.command(
    "export",
    epilog="Exit codes: 0 written, 1 no calls on those days (nothing written), 2 wrong usage, "
    "3 the file could not be written.",
)
@click.option("--date", "day", type=LocalDay(), help="One local day (or 'yesterday', 'today').")
@click.option("--from", "first", type=LocalDay(), help="First day of a range.")
@click.option("--to", "last", type=LocalDay(), help="Last day of a range (default: today).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output.",
)
@click.option(
    "--with-numbers",
    is_flag=True,
    help="Full caller numbers instead of masked ones (recorded in the audit log).",
)
@click.option("--language", help="Language of headings and labels (default: the first web one).")
@click.option(
    "--helpline",
    "slug",
    help="Only the calls to this helpline (its slug), its days in its own time zone.",
)
@click.option(
    "--delimiter",
    type=click.Choice([",", ";"]),
    help="Field separator (default: ';' for languages with a decimal comma, else ',').",
)
def calls_export(
    day, first, last, output: Path | None, with_numbers: bool, language, slug, delimiter
) -> None:
    """Export the call log of local days as CSV (UTF-8 with BOM, for Excel and LibreOffice).

    One row per call: CallSid, local start and end, duration, status,
    language, postcode, zone, request type, outcome, request reference and
    the caller's number, masked unless --with-numbers.
    """
    settings = current_app.config["HOTLINE"]
    helpline = None
    if slug is not None:
        found = helpline_by_slug(settings.helplines, slug)
        if found is None:
            known = ", ".join(h.slug for h in settings.helplines)
            raise click.UsageError(f"--helpline: no helpline {slug!r} (known: {known})")
        # Its local days: a helpline in another time zone has its own midnight.
        settings = replace(settings, timezone=found.timezone)
        with get_db().session() as session:
            helpline_id = session.scalar(select(HelplineRow.id).where(HelplineRow.slug == slug))
        # Not in the database yet (never imported): no call can have reached it.
        helpline = (helpline_id if helpline_id is not None else -1, slug)
    days = _day_range(_resolve(day), _resolve(first), _resolve(last), settings.timezone)
    if output is not None and not output.resolve().parent.is_dir():
        raise click.UsageError(f"--output: there is no folder {str(output.parent)!r}")
    language = language or settings.web_languages[0]
    if language not in settings.web_languages:
        raise click.UsageError(
            f"--language must be one of {', '.join(settings.web_languages)}, not {language!r}"
        )
    with get_db().session() as session:
        total = prepare_export(
            session,
            days,
            settings,
            with_numbers=with_numbers,
            operator=None,
            via=cli_user(),
            helpline=helpline,
        )
        if total == 0:
            click.echo(f"No calls on {days} ({settings.timezone.key}); nothing written.", err=True)
            sys.exit(NO_CALLS)
        session.commit()  # the audit event of full numbers, before any row leaves
        chunks = partial(
            export_csv,
            session,
            days,
            settings,
            language=language,
            with_numbers=with_numbers,
            delimiter=delimiter,
            helpline_id=helpline[0] if helpline else None,
        )
        if output is None:
            stdout = sys.stdout.buffer
            for chunk in chunks():
                stdout.write(chunk)
            stdout.flush()
            click.echo(f"{total} calls on {days}.", err=True)
            return
        try:
            with _progress(total) as advance:
                _write_file(output, chunks(progress=advance))
        except OSError as e:
            click.echo(
                f"Error: cannot write {output}: {e.strerror or e}. Nothing was written.", err=True
            )
            sys.exit(NOT_WRITTEN)
    masked = "full numbers" if with_numbers else "numbers masked"
    click.echo(f"Wrote {total} calls on {days} to {output} ({masked}).", err=True)


@calls_group.command("close-stale")
@click.option(
    "--hours",
    type=click.IntRange(1, MAX_STALE_HOURS),
    default=call_log.STALE_CALL_HOURS,
    show_default=True,
    help="Close calls that started at least this many hours ago.",
)
def calls_close_stale(hours: int) -> None:
    """Close calls whose end never reached the log, as status 'unknown' (run it from cron).

    Twilio ends a call after four hours at most, so a call still not over
    hours after it started lost its last status callback. Until closed it
    reads "still in progress" on the dashboard and in the export. Safe to run
    at any time: Twilio's real end, should it still arrive, replaces 'unknown'.
    """
    with get_db().session() as session:
        closed = call_log.close_stale_calls(session, hours)
        session.commit()
    click.echo(
        f"Closed {closed} call(s) not over {hours} hours after they started: status unknown."
    )


def _day_range(day: date | None, first: date | None, last: date | None, tz) -> DayRange:
    if day is not None and (first is not None or last is not None):
        raise click.UsageError("give either --date or --from/--to, not both")
    if day is not None:
        return DayRange.single(day)
    if first is None:
        if last is not None:
            raise click.UsageError("--to needs --from")
        raise click.UsageError("give a day with --date YYYY-MM-DD, or a range with --from/--to")
    last = last or local_today(tz)
    if last < first:
        raise click.UsageError(f"--to {last} is before --from {first}")
    return DayRange(first, last)


def _write_file(output: Path, chunks: Iterable[bytes]) -> None:
    """Write to a temporary file beside the target, then rename it into place.

    An export that fails half-way (a full disk, Ctrl-C) leaves no truncated
    file that could pass for the day's log, and an earlier file stays intact.
    """
    directory = output.resolve().parent
    fd, draft = tempfile.mkstemp(prefix=f".{output.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.chmod(draft, 0o640)  # personal data, with or without full numbers
        os.replace(draft, output)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(draft)
        raise


@contextlib.contextmanager
def _progress(total: int):
    """A progress bar for a person at a terminal; nothing at all for cron and pipes."""
    if not sys.stderr.isatty():
        yield lambda _n: None
        return
    with click.progressbar(length=total, label="Exporting calls", file=sys.stderr) as bar:
        yield bar.update
