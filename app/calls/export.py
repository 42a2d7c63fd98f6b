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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from flask_babel import force_locale, gettext
from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session

from app import audit
from app.calls.labels import outcome_label, status_label
from app.config import Settings
from app.i18n import LANGUAGE_NAMES
from app.models import Call, User, Zone
from app.phone_numbers import is_withheld, masked_number

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows fetched per round trip. PostgreSQL streams them through a server-side
# cursor, so memory stays the same for a day or for a year of calls.
BATCH = 2000
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


def export_filename(days: DayRange, *, with_numbers: bool) -> str:
    """The download's file name: its days, and whether it holds full numbers.

    Every variant has a name of its own, so that a file with full numbers
    (personal data, to be deleted soon) is never mistaken for a masked one:
    'calls-2026-03-29-masked.csv', 'calls-2026-06-01-to-2026-06-02-full-numbers.csv'.
    """
    span = days.first.isoformat()
    if days.last != days.first:
        span += f"-to-{days.last.isoformat()}"
    return f"calls-{span}-{'full-numbers' if with_numbers else 'masked'}.csv"


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


def count_calls(
    session: Session, days: DayRange, tz: ZoneInfo, helpline_id: int | None = None
) -> int:
    """How many calls started on these local days (to one helpline, when given)."""
    start, end = days.utc_bounds(tz)
    query = select(func.count(Call.id)).where(
        Call.started_at >= start, Call.started_at < end, *_of_helpline(helpline_id)
    )
    return session.scalar(query)


def _of_helpline(helpline_id: int | None) -> tuple:
    """The condition of calls to one helpline (none: every call)."""
    return () if helpline_id is None else (Call.helpline_id == helpline_id,)


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
            gettext("Callback number (typed by the caller: not verified)"),
        ]


def export_csv(
    session: Session,
    days: DayRange,
    settings: Settings,
    *,
    language: str,
    with_numbers: bool = False,
    delimiter: str | None = None,
    progress: Callable[[int], object] | None = None,
    helpline_id: int | None = None,
) -> Iterator[bytes]:
    """The export file of these local days, BOM and header first, as a stream of bytes.

    The one export behind `hotline calls export`, the operator page's download
    and the tests. The calls come oldest first. Numbers are masked unless
    `with_numbers`; the caller commits the audit event of a full-number export
    first (prepare_export()). The callback number is what a caller who
    withheld their number typed to be called back on. `progress` is told how
    many rows each chunk holds (for a progress bar). `helpline_id`: only the
    calls to that helpline.
    """
    delimiter = delimiter or default_delimiter(language)
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel", delimiter=delimiter)
    writer.writerow([_text_cell(cell) for cell in header(language)])
    yield (BOM + _drain(buffer)).encode("utf-8")
    for batch in _row_batches(session, days, settings, language, with_numbers, helpline_id):
        writer.writerows(batch)
        yield _drain(buffer).encode("utf-8")
        if progress is not None:
            progress(len(batch))


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _row_batches(
    session: Session,
    days: DayRange,
    settings: Settings,
    language: str,
    with_numbers: bool,
    helpline_id: int | None = None,
) -> Iterator[list[list[str]]]:
    """The calls as batches of rows of final cells (formula-like text already marked).

    A big export is hundreds of thousands of rows, so the loop does per row
    only what differs per row: labels, zone names and local times are worked
    out once per distinct value and looked up after that.
    """
    tz = settings.timezone
    start, end = days.utc_bounds(tz)
    query = (
        select(
            Call.call_sid,
            _utc_text(Call.started_at, session),
            _utc_text(Call.ended_at, session),
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
            Call.numbers_erased_at.is_not(None),
        )
        .outerjoin(Zone, Call.zone_id == Zone.id)
        .where(Call.started_at >= start, Call.started_at < end, *_of_helpline(helpline_id))
        .order_by(Call.started_at, Call.id)
    )
    local_time = LocalTimes(tz)
    with force_locale(language):
        labels = _Labels(settings, language, with_numbers)
        # Core rows straight from the connection: the ORM's row loading is a
        # good part of the time per row and adds nothing to plain columns.
        # yield_per streams them (a server-side cursor on PostgreSQL), so
        # memory stays the same for a day or for a year of calls.
        result = session.connection().execute(query.execution_options(yield_per=BATCH))
        for partition in result.partitions(BATCH):
            yield [_cells(row, local_time, labels) for row in partition]


def _cells(row, local_time: LocalTimes, labels: _Labels) -> list[str]:
    (
        call_sid,
        started_at,
        ended_at,
        duration,
        status,
        call_language,
        postcode,
        zone,
        request_type,
        last_step,
        outcome,
        reference,
        from_number,
        callback_number,
        numbers_erased,
    ) = row
    started, offset = local_time(started_at)
    return [
        # Outside text (from Twilio's webhooks or the caller's keys): checked
        # on every row.
        _text_cell(call_sid),
        started,
        local_time(ended_at)[0] if ended_at else "",
        offset,
        "" if duration is None else _text_cell(str(duration)),
        # Labels and names repeat: each is looked up (and checked for
        # formula starts) once per distinct value.
        labels.status(status),
        labels.language(call_language),
        _text_cell(postcode),
        labels.zone(zone),
        labels.request_type(request_type),
        labels.outcome(outcome, last_step, status),
        _text_cell(reference),
        labels.caller(from_number, numbers_erased),
        labels.number(callback_number) if callback_number else "",
    ]


class _Labels:
    """The text of the cells that repeat, each worked out once per distinct value.

    Every value is passed through the formula check as it is cached: zone
    names and request types come from configuration files, an unknown status
    or language is shown as Twilio sent it.
    """

    def __init__(self, settings: Settings, language: str, with_numbers: bool) -> None:
        self._settings = settings
        self._language = language
        self._with_numbers = with_numbers
        self._withheld = _text_cell(gettext("withheld"))
        # Erased by the retention purge; before it, the number was there
        # (or withheld with a typed callback number, which went with it).
        self._erased = _text_cell(gettext("erased"))
        self._statuses: dict[str, str] = {}
        self._languages: dict[str, str] = {}
        self._zones: dict[str | None, str] = {}
        self._request_types: dict[str, str] = {}
        self._outcomes: dict[tuple[str, str, str], str] = {}

    def status(self, status: str) -> str:
        try:
            return self._statuses[status]
        except KeyError:
            text = self._statuses[status] = _text_cell(status_label(status))
            return text

    def language(self, code: str) -> str:
        try:
            return self._languages[code]
        except KeyError:
            text = self._languages[code] = _text_cell(LANGUAGE_NAMES.get(code, code))
            return text

    def zone(self, name: str | None) -> str:
        try:
            return self._zones[name]
        except KeyError:
            text = self._zones[name] = _text_cell(name or "")
            return text

    def request_type(self, code: str) -> str:
        try:
            return self._request_types[code]
        except KeyError:
            found = self._settings.request_type(code)
            label = found.label(self._language) if found else code
            text = self._request_types[code] = _text_cell(label)
            return text

    def outcome(self, outcome: str, last_step: str, status: str) -> str:
        key = (outcome, last_step, status)
        try:
            return self._outcomes[key]
        except KeyError:
            text = self._outcomes[key] = _text_cell(outcome_label(*key))
            return text

    def caller(self, number: str | None, erased: bool) -> str:
        """The caller's own number: masked or full, or why there is none."""
        if is_withheld(number):
            return self._erased if erased else self._withheld
        return self.number(number)

    def number(self, number: str) -> str:
        """A number as the export shows it: masked (app.phone_numbers), or in full if asked."""
        shown = number.strip() if self._with_numbers else (masked_number(number) or "")
        return _text_cell(shown)


class LocalTimes:
    """UTC instants as local wall-clock text ("2026-03-29 03:15:42") and UTC offset ("UTC+02:00").

    The same as astimezone(tz), for a fraction of the cost: the instants come
    as UTC text (see _utc_text()), and in a UTC hour whose offset is the same
    whole number of hours at both ends (no clock change in it, and not a zone
    like Asia/Kathmandu's +05:45) the local text differs from the UTC text
    only in its date and hour. Those and the offset are worked out through
    zoneinfo once per hour; the minutes and seconds are copied per value.
    Every other hour takes the exact conversion for each value.
    """

    MAX_HOURS = 100_000  # a decade of hours with calls; then the cache starts again

    def __init__(self, tz: ZoneInfo) -> None:
        self._tz = tz
        self._hours: dict[str, tuple[str, str] | None] = {}

    def __call__(self, utc: str) -> tuple[str, str]:
        """Local text and offset of a UTC instant given as "YYYY-MM-DD HH:MM:SS[.ffffff]"."""
        hour = utc[:13]
        cached = self._hours.get(hour, False)
        if cached is False:
            cached = self._hour(hour)
        if cached is None:
            return self._exact(datetime.fromisoformat(utc))
        return cached[0] + utc[13:19], cached[1]

    def _hour(self, hour: str) -> tuple[str, str] | None:
        if len(self._hours) >= self.MAX_HOURS:
            self._hours.clear()
        start = datetime.fromisoformat(f"{hour}:00")
        first = start.replace(tzinfo=UTC).astimezone(self._tz).utcoffset()
        last = (start + timedelta(hours=1) - timedelta(microseconds=1)).replace(tzinfo=UTC)
        same = first == last.astimezone(self._tz).utcoffset()
        whole_hours = first is not None and first % timedelta(hours=1) == timedelta(0)
        local, offset = self._exact(start) if same and whole_hours else ("", "")
        cached = self._hours[hour] = (local[:13], offset) if local else None
        return cached

    def _exact(self, utc: datetime) -> tuple[str, str]:
        # Two calls at 02:30 on the night clocks go back are an hour apart; the
        # offset tells them apart (and the rows are in true order).
        local = utc.replace(tzinfo=UTC).astimezone(self._tz).isoformat(" ", "seconds")
        return local[:19], f"UTC{local[19:]}"


def _utc_text(column, session: Session):
    """A timestamp column as UTC text, "YYYY-MM-DD HH:MM:SS" and maybe a fraction after it.

    What SQLite stores already; PostgreSQL formats it on the server. No
    datetime is built (and taken apart) per value: LocalTimes reads the text.
    """
    if session.get_bind().dialect.name == "postgresql":
        column = func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS")
    return type_coerce(column, String())


def prepare_export(
    session: Session,
    days: DayRange,
    settings: Settings,
    *,
    with_numbers: bool,
    operator: User | None,
    via: str,
    helpline: tuple[int, str] | None = None,
) -> int:
    """How many calls the export of these days holds, and the audit event it needs.

    An export with full numbers adds an audit event naming the days and the
    count; one without calls adds none (nothing leaves the system). The
    event is flushed, not committed: the command or the request commits it
    before the first row leaves, on purpose, so that if the export then fails
    half-way the trail still says numbers may have left, never the other way
    round. `helpline`: (id, slug) of the one helpline exported, else every call.
    """
    total = count_calls(session, days, settings.timezone, helpline[0] if helpline else None)
    if total and with_numbers:
        of = f" of helpline {helpline[1]}" if helpline else ""
        audit.record(
            session,
            audit.Action.EXPORTED,
            user=operator,
            detail=f"call log{of} {days} with full caller numbers ({total} calls), via {via}",
        )
        session.flush()
    return total


def _text_cell(value: str) -> str:
    # A cell starting like a formula is a formula to Excel and LibreOffice:
    # "+4930..." would become a number and "=HYPERLINK(...)" would run. The
    # apostrophe makes them show the text as it is.
    return "'" + value if value.startswith(FORMULA_STARTS) else value
