"""The call log export's rows written by the database: one line of text per call.

A big export is hundreds of thousands of rows, and Python spends several
microseconds on each (fetching a dozen values, formatting, the csv writer).
Here the database puts each row together itself, in one SELECT: local times
(from the zone's offsets, worked out in Python once per export), labels and
masks (CASE over the codes, their text translated in Python), so Python only
joins lines and checks them in bulk.

What the database cannot do exactly stays with the Python formatting of
app.call_export (the reference), for the rows that need it:
- Rows the SQL marks (with a quote, see ASK_PYTHON): a number that is not
  plain E.164 or a withheld word, a time outside the offsets worked out, a
  stored value of an odd type or shape, text from outside (call SIDs,
  postcodes, zone names, unknown codes) that starts with + or -.
- Cells that need CSV quoting or start like a formula otherwise (a label
  with the delimiter, a postcode with "="): the lines are checked in bulk
  for these characters, and a batch where one shows up is checked line by
  line.
The result is the same file byte for byte; tests compare both on hostile data.
"""

from __future__ import annotations

import csv
import io
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

from app.call_labels import IN_PROGRESS
from app.models import CallOutcome
from app.phone_numbers import MASK, WITHHELD_KEYPAD, WITHHELD_SPELLINGS, country_code

# Between cells and after each row. Neither can be typed on a phone or sent
# by Twilio, and a line is only taken as it is when it holds exactly the
# expected number of each (see plain_text).
SEP = "\x1f"
END = "\x1e"
COLUMNS = 14
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# How far after the last day an end time is converted in SQL; a call that
# ends later than that (or has a strange end) is formatted in Python.
END_MARGIN = timedelta(days=2)
# The step the zone's offsets are sampled at to find its transitions. Real
# zones change their offset at most a few times a year, never twice an hour.
STEP = timedelta(hours=1)


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Segment:
    """UTC instants from `start` (inclusive) to `end` (exclusive) with one offset."""

    start: datetime
    end: datetime
    minutes: int
    offset_text: str  # "UTC+01:00", as the Python formatting writes it


def segments(tz: ZoneInfo, start: datetime, end: datetime) -> list[Segment] | None:
    """The zone's offsets from a whole UTC hour up to `end`; None where SQL can't match Python.

    Python's formatting converts per UTC minute (app.call_export.LocalTimes),
    so a transition or an offset that is not whole minutes is left to it.
    """
    result: list[Segment] = []
    begin = moment = start
    offset = _offset(begin, tz)
    if offset.seconds % 60:
        return None
    while moment < end:
        following = moment + STEP
        after = _offset(following, tz)
        if after != offset:
            change = _transition(moment, following, tz)
            if change.second or change.microsecond or after.seconds % 60:
                return None
            result.append(_segment(begin, change, offset, tz))
            begin, offset = change, after
        moment = following
    result.append(_segment(begin, moment, offset, tz))
    return result


def whole_hour(moment: datetime, *, up: bool = False) -> datetime:
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor + STEP if up and floor != moment else floor


def _offset(moment: datetime, tz: ZoneInfo) -> timedelta:
    return moment.astimezone(tz).utcoffset()


def _transition(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The first instant (to the second) with the offset of `after`, between the two."""
    target = _offset(after, tz)
    low, high = before, after  # offset at low differs, at high it is the target
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            middle = low + timedelta(seconds=1)
        if _offset(middle, tz) == target:
            high = middle
        else:
            low = middle
    return high


def _segment(start: datetime, end: datetime, offset: timedelta, tz: ZoneInfo) -> Segment:
    raw = start.astimezone(tz).strftime("%z")
    return Segment(start, end, int(offset.total_seconds()) // 60, f"UTC{raw[:3]}:{raw[3:]}")


class Dialect:
    """The SQL that differs between SQLite and PostgreSQL.

    A cell is a list of pieces: SQL expressions, and Text for fixed text.
    """

    name = ""

    def line(self, cells: Sequence[Sequence[str]]) -> str:
        """The cells as one line of text: SEP between them, END after the last."""
        pieces = []
        for i, cell in enumerate(cells):
            pieces.extend(cell)
            pieces.append(Text(SEP if i < len(cells) - 1 else END))
        return self.concat(pieces)

    def concat(self, pieces: Sequence[str]) -> str:
        """Pieces joined into one expression; a NULL piece counts as empty text."""
        raise NotImplementedError

    def instant(self, moment: datetime) -> str:
        """A UTC instant as a literal that compares with the column."""
        raise NotImplementedError

    def local_time(self, column: str, minutes: int) -> list[str]:
        """The local wall-clock text of the column at this offset, as pieces (NULL if it is)."""
        raise NotImplementedError

    def last_two(self, column: str) -> str:
        raise NotImplementedError

    def nonzero_second(self, column: str) -> str:
        """The second character of a plus and digits is not 0."""
        return f"substr({column}, 2, 1) <> '0'"

    def sign_first(self, column: str) -> str:
        """The text starts with + or - (a spreadsheet would take it for a formula)."""
        raise NotImplementedError

    def plus_and_country_code_length(self, column: str) -> str:
        """How many characters of an E.164 number are the plus and the country code."""
        lengths = country_code_lengths()
        by_length = {n: [p for p, m in lengths.items() if m == n] for n in (2, 3, 4)}
        # +1 and +7 (one digit) are told by their first digit alone.
        first = sorted({p[0] for p in by_length[2]})
        if not all(lengths[p] == 2 for p in lengths if p[0] in first):
            raise AssertionError("one-digit country codes are prefix-free")
        return (
            f"CASE WHEN substr({column}, 2, 1) IN ({', '.join(map(sql_literal, first))}) THEN 2 "
            f"WHEN substr({column}, 2, 2) IN ({', '.join(map(sql_literal, by_length[3]))}) "
            "THEN 3 ELSE 4 END"
        )

    def odd_value(self, column: str, kind: str) -> str | None:
        """A condition for a stored value the SQL formatting doesn't read as Python does."""
        return None

    def outside_text(self, column: str) -> str:
        """Text from outside that the line can't carry as it is: it starts with a sign, ..."""
        return self.sign_first(column)


class Text(str):
    """Fixed text in a cell (SQLite puts it into printf's format)."""


class SQLiteDialect(Dialect):
    """SQLite keeps timestamps as UTC text, "YYYY-MM-DD HH:MM:SS.ffffff" (26 characters)."""

    name = "sqlite"

    def concat(self, pieces):
        # One printf instead of a chain of ||: each || copies the whole string.
        fmt = "".join(p.replace("%", "%%") if isinstance(p, Text) else "%s" for p in pieces)
        args = [p for p in pieces if not isinstance(p, Text)]
        return f"printf({', '.join([sql_literal(fmt), *args])})"

    def instant(self, moment):
        return sql_literal(moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))

    def local_time(self, column, minutes):
        if minutes % 60:
            shifted = sql_literal(f"{minutes:+d} minutes")
            minute = f"substr({column}, 1, 16)"
            return [
                f"strftime('%Y-%m-%d', {minute}, {shifted})",
                f"strftime(' %H:%M:', {minute}, {shifted})",
                f"substr({column}, 18, 2)",
            ]
        hours = minutes // 60
        # The local hour (and the space before it) looked up in a string of
        # 24 of them; the date moves only for the hours that cross midnight.
        table = sql_literal("".join(f" {(h + hours) % 24:02d}" for h in range(24)))
        hour = f"substr({table}, 3 * substr({column}, 12, 2) + 1, 3)"
        day = f"substr({column}, 1, 10)"
        if hours > 0:
            crossing = sql_literal(f"{24 - hours:02d}")
            day = (
                f"CASE WHEN substr({column}, 12, 2) >= {crossing} "
                f"THEN date({day}, '+1 day') ELSE {day} END"
            )
        elif hours < 0:
            crossing = sql_literal(f"{-hours:02d}")
            day = (
                f"CASE WHEN substr({column}, 12, 2) < {crossing} "
                f"THEN date({day}, '-1 day') ELSE {day} END"
            )
        return [day, hour, f"substr({column}, 14, 6)"]

    def last_two(self, column):
        return f"substr({column}, -2)"

    def plus_and_country_code_length(self, column):
        # Looked up by the first two digits in a string of the 90 lengths.
        lengths = "".join(str(n) for n in country_code_lengths().values())
        return f"substr({sql_literal(lengths)}, substr({column}, 2, 2) - 9, 1)"

    def nonzero_second(self, column):
        # Text compares by its bytes here, and "+0..." sorts before "+1".
        return f"{column} >= '+1'"

    def sign_first(self, column):
        # "+", "," and "-" follow each other; a comma start goes to Python too.
        # (Text compares by its bytes here; a cell of just "." goes to Python too.)
        return f"{column} BETWEEN '+' AND '.'"

    def outside_text(self, column):
        # printf() ends a text at a NUL character (PostgreSQL's text has none).
        return f"({self.sign_first(column)} OR instr({column}, char(0)) > 0)"

    def odd_value(self, column, kind):
        if kind == "timestamp":
            return f"length({column}) <> 26"
        if kind == "integer":
            return f"typeof({column}) NOT IN ('integer', 'null')"
        return None


class PostgreSQLDialect(Dialect):
    name = "postgresql"

    def concat(self, pieces):
        # concat() reads NULL as empty text, as SQLite's printf does.
        args = [sql_literal(p) if isinstance(p, Text) else p for p in pieces]
        return f"concat({', '.join(args)})"

    def instant(self, moment):
        return f"{sql_literal(moment.astimezone(UTC).isoformat(sep=' '))}::timestamptz"

    def local_time(self, column, minutes):
        return [
            f"to_char(timezone('UTC', {column}) + interval '{minutes} minutes', "
            "'YYYY-MM-DD HH24:MI:SS')"
        ]

    def last_two(self, column):
        return f"right({column}, 2)"

    def sign_first(self, column):
        return f"left({column}, 1) IN ('+', '-')"


def dialect_for(name: str) -> Dialect | None:
    return {"sqlite": SQLiteDialect(), "postgresql": PostgreSQLDialect()}.get(name)


def time_case(column: str, parts: list[list[str]], bounds: list[str]) -> list[str]:
    """Each piece of the local time, chosen by segment with a binary tree of CASEs."""
    result = []
    for i in range(len(parts[0])):
        pieces = [p[i] for p in parts]
        if len(set(pieces)) == 1:
            result.append(pieces[0])
        else:
            result.append(_tree(column, pieces, bounds))
    return result


def _tree(column: str, pieces: list[str], bounds: list[str]) -> str:
    # bounds[k] is where pieces[k + 1] starts.
    if len(pieces) == 1:
        return pieces[0]
    middle = len(pieces) // 2
    return (
        f"(CASE WHEN {column} < {bounds[middle - 1]} "
        f"THEN {_tree(column, pieces[:middle], bounds[: middle - 1])} "
        f"ELSE {_tree(column, pieces[middle:], bounds[middle:])} END)"
    )


def plain_text(text: str, delimiter: str, rows: int) -> bool:
    """True when joined lines need no CSV quoting and no formula mark anywhere.

    Every cell is then written as it is: the lines hold the expected number
    of separators (no cell carries one of its own), no quote, delimiter or
    line break, and no cell starts like a formula.
    """
    if text.count(SEP) != (COLUMNS - 1) * rows or text.count(END) != rows:
        return False
    for special in ('"', delimiter, "\n", "\r"):
        if special in text:
            return False
    # A cell from outside that starts with + or - is left to Python by the
    # SQL (Dialect.outside_text): these two are in every line (dates, offsets).
    return not any(
        start in text and (text.startswith(start) or SEP + start in text or END + start in text)
        for start in ("=", "@", "\t")
    )


def csv_text(text: str, delimiter: str) -> str:
    """Plain lines (see plain_text) as CSV: the separators become the delimiter and CRLF."""
    return text.replace(SEP, delimiter).replace(END, "\r\n")


def csv_line(cells: list[str], delimiter: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, dialect="excel", delimiter=delimiter).writerow(cells)
    return buffer.getvalue()


class Prefetch:
    """Batches of rows fetched by a thread of their own, while the batch before is written.

    The database works out the next lines (SQLite in C without the GIL,
    PostgreSQL in its own process) while Python checks and writes the last
    ones. At most two batches wait, so memory stays flat.
    """

    def __init__(self, cursor, sql: str, size: int) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fetch, args=(cursor, sql, size), daemon=True)
        self._thread.start()

    def _fetch(self, cursor, sql: str, size: int) -> None:
        try:
            cursor.execute(sql)
            while not self._stop.is_set():
                rows = cursor.fetchmany(size)
                self._put(rows)
                if not rows:
                    return
        except BaseException as e:  # handed to the reader, raised there
            self._put(e)

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self) -> list:
        """The next batch; empty after the last."""
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stop fetching (after the batch under way) and wait for the thread."""
        self._stop.set()
        self._thread.join()


def chunks(
    fetch: Callable[[], list],
    reference: Callable[[list[int]], dict[int, list[str]]],
    delimiter: str,
) -> Iterator[tuple[int, str]]:
    """(rows, CSV text) per batch of fetched (line, id) rows.

    A batch of plain lines is written as it is; otherwise each line is
    checked, and the rows whose line isn't plain are formatted in Python:
    `reference(ids)` gives their cells.
    """
    while True:
        rows = fetch()
        if not rows:
            return
        text = "".join(map(itemgetter(0), rows))
        if plain_text(text, delimiter, len(rows)):
            yield len(rows), csv_text(text, delimiter)
        else:
            yield len(rows), _line_by_line(rows, reference, delimiter)


def _line_by_line(rows: list, reference, delimiter: str) -> str:
    wanted = [row_id for line, row_id in rows if not plain_text(line, delimiter, 1)]
    formatted = reference(wanted) if wanted else {}
    out = []
    for line, row_id in rows:
        cells = formatted.get(row_id)
        out.append(csv_text(line, delimiter) if cells is None else csv_line(cells, delimiter))
    return "".join(out)


@dataclass(frozen=True)
class Texts:
    """The final text of every cell that is worked out from a code (see app.call_export._Labels)."""

    statuses: dict[str, str]
    languages: dict[str, str]
    request_types: dict[str, str]
    outcomes: dict[str, str]  # the outcomes with a label of their own
    in_progress: str
    live_statuses: tuple[str, ...]
    abandoned_at: dict[str, str]  # abandoned, by the last step
    abandoned: str  # abandoned at a step without a label
    withheld: str
    erased: str

    def all(self) -> list[str]:
        return [
            *self.statuses.values(),
            *self.languages.values(),
            *self.request_types.values(),
            *self.outcomes.values(),
            *self.abandoned_at.values(),
            self.in_progress,
            self.abandoned,
            self.withheld,
            self.erased,
        ]


# A cell the SQL can't write as Python would: the quote makes its line fail
# plain_text(), so that row is formatted in Python.
ASK_PYTHON = sql_literal('"')


def select_lines(
    dialect: Dialect,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    texts: Texts,
    *,
    with_numbers: bool,
    first: datetime,
    last: datetime,
) -> str | None:
    """The SELECT of (line, id) for the calls that started between two UTC instants, in order.

    `first` and `last` are the first and last start among these calls: the
    zone's offsets are worked out from the first to a little after the last.
    None when some text can't be put into SQL as it is (a NUL character).
    """
    if any("\x00" in text for text in texts.all()):
        return None
    spans = segments(tz, whole_hour(first), whole_hour(last + END_MARGIN, up=True))
    if spans is None:
        return None
    bounds = [dialect.instant(span.start) for span in spans[1:]]
    started, ended = "calls.started_at", "calls.ended_at"
    start_parts = [dialect.local_time(started, span.minutes) for span in spans]
    end_parts = [dialect.local_time(ended, span.minutes) for span in spans]
    offsets = [[sql_literal(span.offset_text)] for span in spans]
    # A start or an end outside the segments (a call that came in meanwhile,
    # an end long after): Python's. SQLite's instant literals leave out the
    # microseconds, so the last second is left to Python too: harmless.
    within = (
        f"BETWEEN {dialect.instant(spans[0].start)} "
        f"AND {dialect.instant(spans[-1].end - timedelta(microseconds=1))}"
    )
    odd = [f"{started} NOT {within}", f"{ended} NOT {within}"]
    for column in ("calls.call_sid", "calls.postcode", "zones.name", "calls.request_reference"):
        odd.append(dialect.outside_text(column))
    odd.append("calls.duration_seconds < 0")
    for column, kind in (
        (started, "timestamp"),
        (ended, "timestamp"),
        ("calls.duration_seconds", "integer"),
    ):
        condition = dialect.odd_value(column, kind)
        if condition:
            odd.append(condition)
    check = f"CASE WHEN {' OR '.join(odd)} THEN {ASK_PYTHON} ELSE '' END"
    withheld = (
        f"CASE WHEN calls.numbers_erased_at IS NULL THEN {sql_literal(texts.withheld)} "
        f"ELSE {sql_literal(texts.erased)} END"
    )
    # The same spellings as is_withheld(); one in other case or with spaces is Python's.
    number_words = sorted(WITHHELD_SPELLINGS)
    caller = (
        "CASE WHEN calls.from_number IS NULL THEN "
        f"{withheld} "
        f"WHEN {_e164(dialect, 'calls.from_number')} "
        f"THEN {_shown(dialect, 'calls.from_number', with_numbers)} "
        f"WHEN calls.from_number IN ({', '.join(map(sql_literal, number_words))}) THEN {withheld} "
        f"ELSE {ASK_PYTHON} END"
    )
    callback = (
        "CASE WHEN calls.callback_number IS NULL OR calls.callback_number = '' THEN '' "
        f"WHEN {_e164(dialect, 'calls.callback_number')} "
        f"THEN {_shown(dialect, 'calls.callback_number', with_numbers)} "
        f"ELSE {ASK_PYTHON} END"
    )
    parts = [
        ["calls.call_sid", check],
        time_case(started, start_parts, bounds),
        time_case(ended, end_parts, bounds),
        time_case(started, offsets, bounds),
        ["calls.duration_seconds"],
        [_case("calls.status", texts.statuses, _outside(dialect, "calls.status"))],
        [_case("calls.language", texts.languages, _outside(dialect, "calls.language"))],
        ["calls.postcode"],
        ["zones.name"],
        [_case("calls.request_type", texts.request_types, _outside(dialect, "calls.request_type"))],
        [_outcome(dialect, texts)],
        ["calls.request_reference"],
        [caller],
        [callback],
    ]
    assert len(parts) == COLUMNS
    return (
        f"SELECT {dialect.line(parts)}, calls.id "
        "FROM calls LEFT OUTER JOIN zones ON zones.id = calls.zone_id "
        f"WHERE calls.started_at >= {dialect.instant(start)} "
        f"AND calls.started_at < {dialect.instant(end)} "
        "ORDER BY calls.started_at, calls.id"
    )


def _case(subject: str, branches: dict[str, str], default: str) -> str:
    if not branches:
        return default
    whens = " ".join(
        f"WHEN {sql_literal(code)} THEN {sql_literal(text)}" for code, text in branches.items()
    )
    return f"CASE {subject} {whens} ELSE {default} END"


def _outside(dialect: Dialect, column: str) -> str:
    """A code without a label, written as it is unless it starts with a sign (or so)."""
    return f"CASE WHEN {dialect.outside_text(column)} THEN {ASK_PYTHON} ELSE {column} END"


def _outcome(dialect: Dialect, texts: Texts) -> str:
    """The outcome's label: app.call_labels.call_end() and call_end_label() as SQL."""
    steps = _case("calls.last_step", texts.abandoned_at, sql_literal(texts.abandoned))
    live = ", ".join(map(sql_literal, texts.live_statuses))
    whens = " ".join(
        f"WHEN {sql_literal(code)} THEN {sql_literal(text)}"
        for code, text in texts.outcomes.items()
    )
    return (
        f"CASE calls.outcome {whens} "
        f"WHEN {sql_literal(IN_PROGRESS)} THEN {sql_literal(texts.in_progress)} "
        f"WHEN '' THEN CASE WHEN calls.status IN ({live}) THEN {sql_literal(texts.in_progress)} "
        f"ELSE {steps} END "
        f"WHEN {sql_literal(CallOutcome.ABANDONED)} THEN {steps} "
        f"ELSE {_outside(dialect, 'calls.outcome')} END"
    )


def _e164(dialect: Dialect, column: str) -> str:
    """app.phone_numbers.E164.fullmatch(), and not a withheld keypad placeholder."""
    keypad = ", ".join(map(sql_literal, sorted(WITHHELD_KEYPAD)))
    return (
        # A plus and digits only, the first not 0, 7 to 16 characters.
        f"rtrim({column}, '0123456789') = '+' AND {dialect.nonzero_second(column)} "
        f"AND length({column}) BETWEEN 7 AND 16 "
        f"AND {column} NOT IN ({keypad})"
    )


def _shown(dialect: Dialect, column: str, with_numbers: bool) -> str:
    """An E.164 number as the export shows it: in full, or its country code and last two digits."""
    mark = sql_literal("'")
    if with_numbers:
        return f"{mark} || {column}"
    head = dialect.plus_and_country_code_length(column)
    mask = sql_literal(" " + MASK)
    return f"{mark} || substr({column}, 1, {head}) || {mask} || {dialect.last_two(column)}"


def country_code_lengths() -> dict[str, int]:
    """The length of "+" and the country code of an E.164 number, by its first two digits."""
    return {str(p): 1 + len(country_code(f"+{p}00000")) for p in range(10, 100)}
