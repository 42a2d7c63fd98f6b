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
from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app import audit, export_sql
from app.call_labels import (
    IN_PROGRESS,
    LIVE_STATUSES,
    OUTCOMES,
    STATUSES,
    STEPS,
    outcome_label,
    status_label,
)
from app.config import Settings
from app.i18n import LANGUAGE_NAMES
from app.models import Call, CallOutcome, User, Zone
from app.phone_numbers import (
    E164,
    MASK,
    WITHHELD_KEYPAD,
    country_code,
    is_withheld,
    masked_number,
)

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


def export_batches(
    session: Session,
    days: DayRange,
    settings: Settings,
    *,
    language: str,
    with_numbers: bool = False,
) -> Iterator[list[list[str]]]:
    """The calls of these local days, oldest first, as batches of rows of text (no header).

    The cells are final: formula-like text already carries its apostrophe.
    Numbers are masked unless `with_numbers`; the caller of this function
    records the audit event for a full-number export (record_export()). The
    callback number is what a caller who withheld their number typed to be
    called back on.

    A big export is hundreds of thousands of rows, so the loop does per row
    only what differs per row: labels, zone names, masks and local times are
    worked out once per distinct value and looked up after that.
    """
    tz = settings.timezone
    start, end = days.utc_bounds(tz)
    query = _reference_query(session).where(Call.started_at >= start, Call.started_at < end)
    local_time = LocalTimes(tz)
    with force_locale(language):
        labels = _Labels(settings, language, with_numbers)
        # Core rows straight from the connection: the ORM's row loading is a
        # good part of the time per row and adds nothing to plain columns.
        result = session.connection().execute(query.execution_options(yield_per=BATCH))
        for partition in result.partitions(BATCH):
            yield [_cells(row, local_time, labels) for row in partition]


def _reference_query(session: Session):
    """The columns the Python formatting reads, and the call's id last, oldest call first."""
    return (
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
            Call.id,
        )
        .outerjoin(Zone, Call.zone_id == Zone.id)
        .order_by(Call.started_at, Call.id)
    )


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
        _,
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


def export_rows(
    session: Session,
    days: DayRange,
    settings: Settings,
    *,
    language: str,
    with_numbers: bool = False,
) -> Iterator[list[str]]:
    """The rows of export_batches() one by one."""
    for batch in export_batches(
        session, days, settings, language=language, with_numbers=with_numbers
    ):
        yield from batch


class _Labels:
    """The text of the cells that repeat, each worked out once per distinct value.

    Every value is passed through the formula check as it is cached: zone
    names and request types come from configuration files, an unknown status
    or language is shown as Twilio sent it, and numbers come from callers.
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
        self._masks: dict[str, str] = {}

    def texts(self) -> export_sql.Texts:
        """Every label worked out from a code, for the SQL formatting (app.export_sql)."""
        unknown_step = "\x00"  # no step has this code: "abandoned" without a step
        abandoned = CallOutcome.ABANDONED
        return export_sql.Texts(
            statuses={code: self.status(code) for code in STATUSES},
            languages={code: self.language(code) for code in LANGUAGE_NAMES},
            request_types={
                t.code: self.request_type(t.code)
                for t in self._settings.request_types
                if self._settings.request_type(t.code) is t
            },
            outcomes={code: self.outcome(code, "", "") for code in OUTCOMES},
            in_progress=self.outcome(IN_PROGRESS, "", ""),
            live_statuses=tuple(sorted(LIVE_STATUSES)),
            abandoned_at={step: self.outcome(abandoned, step, "") for step in STEPS},
            abandoned=self.outcome(abandoned, unknown_step, ""),
            withheld=self._withheld,
            erased=self._erased,
        )

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

    def number(self, number: str) -> str:
        """A number the caller typed (the callback number)."""
        return self._shown(number)

    def caller(self, number: str | None, erased: bool) -> str:
        """The caller's own number: masked or full, or why there is none."""
        if number is not None and E164.fullmatch(number) and number not in WITHHELD_KEYPAD:
            return self._e164(number)
        if not is_withheld(number):
            return self._shown(number)
        return self._erased if erased else self._withheld

    def _shown(self, number: str) -> str:
        if E164.fullmatch(number) and number not in WITHHELD_KEYPAD:
            return self._e164(number)
        shown = number.strip() if self._with_numbers else (masked_number(number) or "")
        return _text_cell(shown)

    def _e164(self, number: str) -> str:
        # The common case, a plain E.164 number, without the general path's
        # checks (it is no withheld placeholder and needs no stripping): the
        # mask is the country code, the same for many calls, and the last
        # two digits; the plus makes every such cell formula-like.
        if self._with_numbers:
            return "'" + number
        # The country code is within the plus and three digits (E.164 codes
        # have one to three digits).
        prefix = number[:4]
        head = self._masks.get(prefix)
        if head is None:
            head = self._masks[prefix] = _text_cell(f"+{country_code(prefix)} {MASK}")
        return head + number[-2:]


class LocalTimes:
    """UTC instants as local wall-clock text ("2026-03-29 03:15:42") and UTC offset ("UTC+02:00").

    The same as astimezone(tz) and strftime, for a fraction of the cost: the
    instants come as UTC text (see _utc_text()), the local text up to the
    minute and the offset are computed through zoneinfo once per distinct UTC
    minute, and only the seconds are copied per value. Valid because every
    time zone's offsets and transitions are whole minutes (since 1972, and
    exports start in 2000); an offset with seconds takes the exact conversion.
    """

    MAX_MINUTES = 100_000

    def __init__(self, tz: ZoneInfo) -> None:
        self._tz = tz
        self._minutes: dict[str, tuple[str, str] | None] = {}

    def __call__(self, utc: str) -> tuple[str, str]:
        """Local text and offset of a UTC instant given as "YYYY-MM-DD HH:MM:SS[.ffffff]"."""
        cached = self._minutes.get(utc[:16], False)
        if cached is False:
            cached = self._minute(utc)
        if cached is None:
            local = self._local(utc)
            return _local(local), _offset(local)
        return cached[0] + utc[17:19], cached[1]

    def _local(self, utc: str) -> datetime:
        return datetime.fromisoformat(utc).replace(tzinfo=UTC).astimezone(self._tz)

    def _minute(self, utc: str) -> tuple[str, str] | None:
        if len(self._minutes) >= self.MAX_MINUTES:
            self._minutes.clear()
        local = self._local(utc[:16])
        offset = local.utcoffset()
        whole = offset is not None and offset.seconds % 60 == 0 and not offset.microseconds
        cached = (_local(local)[:-2], _offset(local)) if whole else None
        self._minutes[utc[:16]] = cached
        return cached


def _utc_text(column, session: Session):
    """A timestamp column as UTC text, "YYYY-MM-DD HH:MM:SS" and maybe a fraction after it.

    What SQLite stores already; PostgreSQL formats it on the server. No
    datetime is built (and taken apart) per value: LocalTimes reads the text.
    """
    if session.get_bind().dialect.name == "postgresql":
        column = func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS")
    return type_coerce(column, String())


def csv_chunks(
    batches: Iterable[list[list[str]]], *, delimiter: str = ","
) -> Iterator[tuple[int, bytes]]:
    """Encode batches of final cells as CSV (UTF-8, CRLF, RFC 4180 quoting): (rows, bytes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, dialect="excel", delimiter=delimiter)
    for batch in batches:
        writer.writerows(batch)
        yield len(batch), buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()


def export_chunks(
    session: Session,
    days: DayRange,
    settings: Settings,
    *,
    language: str,
    with_numbers: bool = False,
    delimiter: str | None = None,
) -> Iterator[tuple[int, bytes]]:
    """The whole export file as (rows in it, bytes): the BOM and header first (0 rows)."""
    delimiter = delimiter or default_delimiter(language)
    head = [[_text_cell(cell) for cell in header(language)]]
    _, chunk = next(csv_chunks([head], delimiter=delimiter))
    yield 0, BOM.encode("utf-8") + chunk
    lines = _database_lines(
        session, days, settings, language=language, with_numbers=with_numbers, delimiter=delimiter
    )
    if lines is not None:
        for rows, text in lines:
            yield rows, text.encode("utf-8")
        return
    batches = export_batches(session, days, settings, language=language, with_numbers=with_numbers)
    yield from csv_chunks(batches, delimiter=delimiter)


def _database_lines(
    session: Session,
    days: DayRange,
    settings: Settings,
    *,
    language: str,
    with_numbers: bool,
    delimiter: str,
) -> Iterator[tuple[int, str]] | None:
    """The rows as CSV text put together by the database (app.export_sql), or None if it can't.

    The same text as export_batches() and csv_chunks() give, several times
    faster: rows the SQL leaves to Python are formatted by _cells().
    """
    connection = session.connection()
    dialect = export_sql.dialect_for(connection.dialect.name)
    if dialect is None:
        return None
    tz = settings.timezone
    start, end = days.utc_bounds(tz)
    with force_locale(language):
        labels = _Labels(settings, language, with_numbers)
        texts = labels.texts()
    first, last = session.execute(
        select(func.min(Call.started_at), func.max(Call.started_at)).where(
            Call.started_at >= start, Call.started_at < end
        )
    ).one()
    if first is None:
        return None
    sql = export_sql.select_lines(
        dialect, start, end, tz, texts, with_numbers=with_numbers, first=first, last=last
    )
    if sql is None:
        return None

    def reference(ids: list[int]) -> dict[int, list[str]]:
        query = _reference_query(session).where(Call.id.in_(ids))
        with force_locale(language):
            return {row[-1]: _cells(row, local_time, labels) for row in connection.execute(query)}

    local_time = LocalTimes(tz)
    return _fetched_lines(connection, dialect, sql, reference, delimiter)


def _fetched_lines(connection, dialect, sql, reference, delimiter) -> Iterator[tuple[int, str]]:
    raw = connection.connection.driver_connection
    if dialect.name == "postgresql":
        # A server-side cursor: memory stays the same for a day or a year.
        cursor = raw.cursor(name="hotline_call_export")
        cursor.itersize = BATCH
    else:
        cursor = raw.cursor()
    batches = export_sql.Prefetch(cursor, sql, BATCH)
    try:
        yield from export_sql.chunks(batches.get, reference, delimiter)
    except connection.dialect.loaded_dbapi.Error as e:
        # Said as for any other query (the command line's "cannot use the database").
        raise DBAPIError.instance(sql, None, e, connection.dialect.loaded_dbapi.Error) from e
    finally:
        batches.close()
        cursor.close()


def export_csv(
    session: Session,
    days: DayRange,
    settings: Settings,
    *,
    language: str,
    with_numbers: bool = False,
    delimiter: str | None = None,
) -> Iterator[bytes]:
    """The whole export file, BOM and header first, as a stream of bytes."""
    for _, chunk in export_chunks(
        session,
        days,
        settings,
        language=language,
        with_numbers=with_numbers,
        delimiter=delimiter,
    ):
        yield chunk


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
