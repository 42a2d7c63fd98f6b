"""The daily call log export: one CSV row per call, for local days, streamed.

One implementation behind `hotline calls export` and the operator page's
download, so both give the same file for the same days.

The file format, chosen so that it opens right with a double click:
- UTF-8 with a byte-order mark: Excel reads a BOM-less file as the Windows
  code page and garbles "Neukölln"; LibreOffice and Python's "utf-8-sig"
  read the BOM as what it is.
- CRLF line ends and RFC 4180 quoting (Python's csv "excel" dialect).
- The delimiter follows the export's language: where the decimal mark is a
  comma (German, Polish), spreadsheets expect ";" as the list separator and
  would put a comma-separated file into one column; English gets ",".
- Cells that would start with =, +, - or @ get a leading apostrophe, the
  spreadsheet's "this is text" mark: a phone number then stays "+49..."
  instead of turning into the number 49... (or a formula). Excel hides the
  apostrophe; LibreOffice 7.4 shows it, with the number intact behind it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from flask_babel import force_locale, gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit
from app.call_labels import outcome_label, status_label
from app.config import Settings
from app.i18n import LANGUAGE_NAMES
from app.models import Call, User, Zone
from app.phone_numbers import is_withheld, masked_number

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows fetched per round trip. PostgreSQL streams them through a server-side
# cursor, so memory stays the same for a day or for a year of calls.
BATCH = 500
# The days an export can name. Local midnights are computed through UTC, and
# the calendar's ends have no UTC instant on both sides (0001-01-01 00:00 in
# Berlin is before the first UTC instant; 9999-12-31 has no next day). These
# bounds keep every day far inside what that arithmetic handles and still
# cover any call log this helpline will keep.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2999, 12, 31)


@dataclass(frozen=True)
class DayRange:
    """Local calendar days, first to last inclusive, in the helpline's time zone."""

    first: date
    last: date

    def __post_init__(self) -> None:
        for day in (self.first, self.last):
            if not within_export_days(day):
                raise ValueError(f"{day} is not between {FIRST_DAY} and {LAST_DAY}")
        if self.last < self.first:
            raise ValueError(f"the range ends ({self.last}) before it starts ({self.first})")

    @classmethod
    def single(cls, day: date) -> DayRange:
        return cls(day, day)

    def utc_bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The UTC instants of the first day's local midnight and the midnight after the last."""
        return local_midnight(self.first, tz), local_midnight(self.last + timedelta(days=1), tz)

    def __str__(self) -> str:
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()} to {self.last.isoformat()}"

    @property
    def filename(self) -> str:
        if self.first == self.last:
            return f"calls-{self.first.isoformat()}.csv"
        return f"calls-{self.first.isoformat()}_{self.last.isoformat()}.csv"


def within_export_days(day: date) -> bool:
    """True for a day an export can cover (FIRST_DAY to LAST_DAY)."""
    return FIRST_DAY <= day <= LAST_DAY


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant a local day begins.

    Computed by zoneinfo, never by adding 24 hours: the day clocks go forward
    (Europe/Berlin 2026-03-29) has 23 hours and the day they go back has 25.
    Where a zone skips midnight itself (a DST gap at 00:00), fold=0 takes the
    offset before the gap, which lands exactly on the first instant of the day.
    """
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(tz).date()


def count_calls(session: Session, days: DayRange, tz: ZoneInfo) -> int:
    """How many calls started on these local days."""
    start, end = days.utc_bounds(tz)
    query = select(func.count(Call.id)).where(Call.started_at >= start, Call.started_at < end)
    return session.scalar(query)


def default_delimiter(language: str) -> str:
    """';' where the language writes decimals with a comma (so spreadsheets list with ';')."""
    try:
        decimal = Locale.parse(language).number_symbols["latn"]["decimal"]
    except (ValueError, LookupError):
        return ","
    return ";" if decimal == "," else ","


def header(language: str) -> list[str]:
    with force_locale(language):
        return [
            gettext("Call SID"),
            gettext("Start (local time)"),
            gettext("End (local time)"),
            gettext("UTC offset"),
            gettext("Duration (seconds)"),
            gettext("Final status"),
            gettext("Language"),
            gettext("Postcode"),
            gettext("Zone"),
            gettext("Request type"),
            gettext("Outcome"),
            gettext("Request reference"),
            gettext("Caller number"),
            gettext("Callback number (typed by the caller)"),
        ]


def export_rows(
    session: Session,
    days: DayRange,
    settings: Settings,
    *,
    language: str,
    with_numbers: bool = False,
) -> Iterator[list[str]]:
    """The calls of these local days, oldest first, as rows of text (no header).

    Numbers are masked unless `with_numbers`; the caller of this function
    records the audit event for a full-number export (record_export()). The
    callback number is what a caller who withheld their number typed to be
    called back on.
    """
    tz = settings.timezone
    start, end = days.utc_bounds(tz)
    query = (
        select(
            Call.call_sid,
            Call.started_at,
            Call.ended_at,
            Call.duration_seconds,
            Call.status,
            Call.language,
            Call.postcode,
            Zone.name,
            Call.request_type,
            Call.last_step,
            Call.outcome,
            Call.request_reference,
            Call.from_number,
            Call.callback_number,
            Call.numbers_erased_at,
        )
        .outerjoin(Zone, Call.zone_id == Zone.id)
        .where(Call.started_at >= start, Call.started_at < end)
        .order_by(Call.started_at, Call.id)
        .execution_options(yield_per=BATCH)
    )
    # Labels repeat on every row: translate each one once.
    outcomes: dict[tuple[str, str, str], str] = {}
    with force_locale(language):
        withheld, erased = gettext("withheld"), gettext("erased")
        statuses = {}
        for row in session.execute(query):
            key = (row.outcome, row.last_step, row.status)
            if key not in outcomes:
                outcomes[key] = outcome_label(*key)
            if row.status not in statuses:
                statuses[row.status] = status_label(row.status)
            started = row.started_at.astimezone(tz)
            request_type = settings.request_type(row.request_type)
            if not is_withheld(row.from_number):
                number = _shown(row.from_number, with_numbers)
            elif row.numbers_erased_at is not None:
                # Erased by the retention purge; before it, the number was there
                # (or withheld with a typed callback number, which went with it).
                number = erased
            else:
                number = withheld
            callback = _shown(row.callback_number, with_numbers) if row.callback_number else ""
            yield [
                row.call_sid,
                _local(started),
                _local(row.ended_at.astimezone(tz)) if row.ended_at else "",
                _offset(started),
                "" if row.duration_seconds is None else str(row.duration_seconds),
                statuses[row.status],
                LANGUAGE_NAMES.get(row.language, row.language),
                row.postcode,
                row.name or "",
                request_type.label(language) if request_type else row.request_type,
                outcomes[key],
                row.request_reference,
                number,
                callback,
            ]


def csv_bytes(
    rows: Iterable[list[str]], *, delimiter: str = ",", bom: bool = True
) -> Iterator[bytes]:
    """Encode rows as CSV (UTF-8, CRLF, RFC 4180 quoting), a chunk per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel", delimiter=delimiter)
    if bom:
        buffer.write(BOM)
    for row in rows:
        writer.writerow([_text_cell(cell) for cell in row])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()


def export_csv(
    session: Session,
    days: DayRange,
    settings: Settings,
    *,
    language: str,
    with_numbers: bool = False,
    delimiter: str | None = None,
) -> Iterator[bytes]:
    """The whole export file, header first, as a stream of bytes."""
    rows = export_rows(session, days, settings, language=language, with_numbers=with_numbers)

    def with_header() -> Iterator[list[str]]:
        yield header(language)
        yield from rows

    return csv_bytes(with_header(), delimiter=delimiter or default_delimiter(language))


def record_export(
    session: Session,
    days: DayRange,
    *,
    calls: int,
    operator: User | None,
    via: str,
) -> None:
    """The audit event for an export with full numbers; committed before any row leaves.

    Committed first on purpose: if the export then fails half-way, the trail
    still says numbers may have left the system, never the other way round.
    """
    audit.record(
        session,
        audit.Action.EXPORTED,
        user=operator,
        detail=f"call log {days} with full caller numbers ({calls} calls), via {via}",
    )
    session.commit()


def _shown(number: str, with_numbers: bool) -> str:
    return number.strip() if with_numbers else (masked_number(number) or "")


def _text_cell(value: str) -> str:
    # A cell starting like a formula is a formula to Excel and LibreOffice:
    # "+4930..." would become a number and "=HYPERLINK(...)" would run. The
    # apostrophe makes them show the text as it is.
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _offset(moment: datetime) -> str:
    # Two calls at 02:30 on the night clocks go back are an hour apart; the
    # offset column tells them apart (and the rows are in true order).
    raw = moment.strftime("%z")
    return f"UTC{raw[:3]}:{raw[3:]}"
