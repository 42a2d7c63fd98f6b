"""The daily call log export, as an operator opens it: right days, right rows, numbers masked."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.calls.export import DayRange, export_csv, local_midnight
from app.models import AuditEvent, CallOutcome, Zone
from app.phone_numbers import is_withheld, masked_number
from app.zones.postcodes import oldest_helpline_id
from tests.seeding import call, utc

BERLIN = ZoneInfo("Europe/Berlin")


def read_csv(data: bytes, delimiter: str = ";") -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 byte-order mark first, for Excel"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))


def export(app, db, first: date, last: date | None = None, **options) -> list[list[str]]:
    options.setdefault("language", "en")
    settings = app.config["HOTLINE"]
    data = b"".join(export_csv(db, DayRange(first, last or first), settings, **options))
    return read_csv(data, delimiter="," if options["language"] == "en" else ";")


def export_cli(runner, *args) -> tuple[int, list[list[str]], str]:
    result = runner.invoke(args=["calls", "export", "--language", "en", *args])
    rows = read_csv(result.stdout_bytes, ",") if result.stdout_bytes else []
    return result.exit_code, rows, result.stderr


# -- masking ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("+4930123456", "+49 *** **56"),
        ("+4915112345678", "+49 *** **78"),
        ("+48585551234", "+48 *** **34"),
        ("+14155550123", "+1 *** **23"),
        ("+79161234567", "+7 *** **67"),
        ("+353871234567", "+353 *** **67"),
        ("+380441234567", "+380 *** **67"),
        ("+886212345678", "+886 *** **78"),
        ("+905321234567", "+90 *** **67"),
        (" +4930123456 ", "+49 *** **56"),
        ("030 1234567", "*** **67"),
        ("sip:anna.schmidt@example.org", "***"),
        ("client:anna", "***"),
    ],
)
def test_a_number_keeps_only_its_country_code_and_last_two_digits(number, shown):
    assert masked_number(number) == shown


@pytest.mark.parametrize(
    "number",
    [None, "", "  ", "anonymous", "RESTRICTED", "unknown", "Withheld", "private"]
    + ["+266696687", "+86282452253", "+7378742833", "8656696", "+2562533"],
)
def test_a_withheld_number_has_nothing_to_mask(number):
    assert masked_number(number) is None


def test_the_mask_does_not_tell_how_long_the_number_is():
    assert len(masked_number("+4930123456")) == len(masked_number("+4915112345678"))


# -- days in local time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "zone", "start", "hours"),
    [
        (date(2026, 6, 1), "Europe/Berlin", utc(2026, 5, 31, 22), 24),
        (date(2026, 3, 29), "Europe/Berlin", utc(2026, 3, 28, 23), 23),  # clocks go forward
        (date(2026, 10, 25), "Europe/Berlin", utc(2026, 10, 24, 22), 25),  # clocks go back
        (date(2026, 9, 6), "America/Santiago", utc(2026, 9, 6, 4), 23),  # midnight is skipped
        (date(2026, 4, 4), "America/Santiago", utc(2026, 4, 4, 3), 25),
    ],
)
def test_a_local_day_has_the_hours_its_clocks_show(day, zone, start, hours):
    first, end = DayRange.single(day).utc_bounds(ZoneInfo(zone))
    assert first == start
    assert end - first == timedelta(hours=hours)
    assert local_midnight(day, ZoneInfo(zone)) == start


@pytest.mark.parametrize("day", [date.min, date(1999, 12, 31), date(3000, 1, 1), date.max])
def test_a_range_stays_within_the_days_local_midnights_can_be_computed_for(day):
    with pytest.raises(ValueError, match="not between 2000-01-01 and 2999-12-31"):
        DayRange.single(day)


def test_the_first_and_the_last_day_an_export_covers_have_their_local_midnights():
    days = DayRange(date(2000, 1, 1), date(2999, 12, 31))
    start, end = days.utc_bounds(ZoneInfo("Pacific/Kiritimati"))  # UTC+14
    assert start == utc(1999, 12, 31, 10) and end == utc(2999, 12, 31, 10)
    start, end = days.utc_bounds(ZoneInfo("Pacific/Pago_Pago"))  # UTC-11
    assert start == utc(2000, 1, 1, 11) and end == utc(3000, 1, 1, 11)


def test_a_range_cannot_end_before_it_starts():
    with pytest.raises(ValueError):
        DayRange(date(2026, 3, 2), date(2026, 3, 1))


# -- content ---------------------------------------------------------------------------------


def test_the_spring_dst_day_has_exactly_its_own_calls(app, berlin):
    call(berlin, utc(2026, 3, 28, 22, 59, 59), sid="CA-before")  # 23:59:59 on the 28th
    call(berlin, utc(2026, 3, 28, 23, 0, 0), sid="CA-midnight")  # 00:00 on the 29th
    call(berlin, utc(2026, 3, 29, 0, 30), sid="CA-winter")  # 01:30 CET
    call(berlin, utc(2026, 3, 29, 1, 30), sid="CA-summer")  # 03:30 CEST
    call(berlin, utc(2026, 3, 29, 21, 59, 59), sid="CA-last")  # 23:59:59 CEST
    call(berlin, utc(2026, 3, 29, 22, 0, 0), sid="CA-after")  # 00:00 on the 30th

    rows = export(app, berlin, date(2026, 3, 29))

    assert [r[0] for r in rows[1:]] == ["CA-midnight", "CA-winter", "CA-summer", "CA-last"]
    starts = {r[0]: (r[1], r[3]) for r in rows[1:]}
    assert starts["CA-midnight"] == ("2026-03-29 00:00:00", "UTC+01:00")
    assert starts["CA-winter"] == ("2026-03-29 01:30:00", "UTC+01:00")
    assert starts["CA-summer"] == ("2026-03-29 03:30:00", "UTC+02:00")
    assert starts["CA-last"] == ("2026-03-29 23:59:59", "UTC+02:00")


def test_the_autumn_dst_day_shows_the_repeated_hour_twice_in_order(app, berlin):
    call(berlin, utc(2026, 10, 24, 21, 59), sid="CA-before")  # 23:59 on the 24th
    call(berlin, utc(2026, 10, 25, 0, 30), sid="CA-first-0230")  # 02:30 CEST
    call(berlin, utc(2026, 10, 25, 1, 30), sid="CA-second-0230")  # 02:30 CET
    call(berlin, utc(2026, 10, 25, 22, 30), sid="CA-late")  # 23:30 CET
    call(berlin, utc(2026, 10, 25, 23, 0), sid="CA-after")  # 00:00 on the 26th

    rows = export(app, berlin, date(2026, 10, 25))

    assert [r[0] for r in rows[1:]] == ["CA-first-0230", "CA-second-0230", "CA-late"]
    assert [(r[1], r[3]) for r in rows[1:3]] == [
        ("2026-10-25 02:30:00", "UTC+02:00"),
        ("2026-10-25 02:30:00", "UTC+01:00"),
    ]


def test_a_call_across_local_midnight_belongs_to_the_day_it_started(app, berlin):
    call(berlin, utc(2026, 6, 1, 21, 58), seconds=300, sid="CA-late-night")  # 23:58 CEST

    first_day = export(app, berlin, date(2026, 6, 1))
    second_day = export(app, berlin, date(2026, 6, 2))

    assert [r[0] for r in first_day[1:]] == ["CA-late-night"]
    assert first_day[1][1:5] == ["2026-06-01 23:58:00", "2026-06-02 00:03:00", "UTC+02:00", "300"]
    assert len(second_day) == 1, "only the header"


def test_one_row_per_call_with_every_column(app, berlin):
    call(
        berlin,
        utc(2026, 6, 1, 8, 0),
        seconds=130,
        number="+4930123467",
        postcode="12043",
        zone_slug="neukoelln",
        request_type="pharmacy",
        reference="HX7-K4M",
        language="pl",
        sid="CA-full",
    )

    header, row = export(app, berlin, date(2026, 6, 1))

    assert header == [
        "Call SID",
        "Start (local time)",
        "End (local time)",
        "UTC offset",
        "Duration (seconds)",
        "Final status",
        "Language",
        "Postcode",
        "Zone",
        "Request type",
        "Outcome",
        "Request reference",
        "Caller number",
        "Callback number (typed by the caller: not verified)",
    ]
    assert row == [
        "CA-full",
        "2026-06-01 10:00:00",
        "2026-06-01 10:02:10",
        "UTC+02:00",
        "130",
        "completed",
        "Polski",
        "12043",
        "Neukölln",
        "pharmacy",
        "request created",
        "HX7-K4M",
        "'+49 *** **67",
        "",
    ]


@pytest.mark.parametrize(
    ("outcome", "last_step", "status", "text"),
    [
        (CallOutcome.REQUEST_CREATED, "done", "completed", "request created"),
        (CallOutcome.REPEAT_CALLER, "existing_request", "completed", "repeat caller"),
        (CallOutcome.CANCELLED, "existing_request", "completed", "cancelled"),
        (CallOutcome.OUT_OF_AREA, "confirm_postcode", "completed", "out of area"),
        (CallOutcome.TRANSFERRED, "operator", "completed", "transferred to operator"),
        (CallOutcome.ABANDONED, "postcode", "completed", "abandoned at step: postcode"),
        (CallOutcome.ABANDONED, "request_type", "completed", "abandoned at step: type of help"),
        ("", "confirm_postcode", "completed", "abandoned at step: confirming the postcode"),
        (
            "",
            "callback_number",
            "completed",
            "abandoned at step: typing a number to be called back on",
        ),
        ("", "confirm_cancel", "completed", "abandoned at step: confirming the cancellation"),
        ("", "operator_message", "completed", "abandoned at step: voice message for the operators"),
        ("", "language", "in-progress", "still in progress"),
        (CallOutcome.ERROR, "postcode", "failed", "error"),
    ],
)
def test_the_outcome_says_how_the_call_ended(app, berlin, outcome, last_step, status, text):
    call(berlin, utc(2026, 6, 1, 8), outcome=outcome, last_step=last_step, status=status)
    assert export(app, berlin, date(2026, 6, 1))[1][10] == text


def test_labels_follow_the_export_language(app, berlin):
    call(berlin, utc(2026, 6, 1, 8), outcome=CallOutcome.ABANDONED, last_step="postcode")
    call(berlin, utc(2026, 6, 1, 9), number="anonymous")

    header, abandoned, withheld = export(app, berlin, date(2026, 6, 1), language="de")

    assert header[0:2] == ["Anruf-SID", "Beginn (Ortszeit)"]
    assert abandoned[5] == "abgeschlossen"
    assert abandoned[9] == "Einkäufe"
    assert abandoned[10] == "aufgelegt bei Schritt: Postleitzahl"
    assert withheld[12] == "unterdrückt"


def test_german_and_polish_files_use_semicolons_english_commas(app, berlin):
    call(berlin, utc(2026, 6, 1, 8), outcome=CallOutcome.GAVE_UP, last_step="postcode")
    settings = app.config["HOTLINE"]
    day = DayRange.single(date(2026, 6, 1))
    german = b"".join(export_csv(berlin, day, settings, language="de"))
    polish = b"".join(export_csv(berlin, day, settings, language="pl"))
    english = b"".join(export_csv(berlin, day, settings, language="en"))

    assert german.split(b"\r\n")[0].count(b";") == 13
    assert polish.split(b"\r\n")[0].count(b";") == 13
    assert english.split(b"\r\n")[0].count(b",") == 13
    # Lines end in CRLF, and a text with the delimiter in it is quoted.
    assert english.endswith(b"\r\n") and b'"no valid answer, told the helpline hours"' in english


def test_numbers_are_masked_unless_asked_for(app, berlin):
    call(berlin, utc(2026, 6, 1, 8), number="+4930123456")
    call(berlin, utc(2026, 6, 1, 9), number=None)

    masked = export(app, berlin, date(2026, 6, 1))
    full = export(app, berlin, date(2026, 6, 1), with_numbers=True)

    assert [r[12] for r in masked[1:]] == ["'+49 *** **56", "withheld"]
    assert [r[12] for r in full[1:]] == ["'+4930123456", "withheld"]


def test_a_withheld_callers_typed_callback_number_is_masked_unless_asked_for(app, berlin):
    withheld = call(berlin, utc(2026, 6, 1, 8), number=None, outcome=CallOutcome.OPERATOR_MESSAGE)
    withheld.callback_number = "01701234567"
    call(berlin, utc(2026, 6, 1, 9), number="+4930123456")
    berlin.commit()

    masked = export(app, berlin, date(2026, 6, 1))
    full = export(app, berlin, date(2026, 6, 1), with_numbers=True)

    assert [r[12:] for r in masked[1:]] == [["withheld", "*** **67"], ["'+49 *** **56", ""]]
    assert [r[12:] for r in full[1:]] == [["withheld", "01701234567"], ["'+4930123456", ""]]


def test_a_number_erased_after_retention_reads_erased_not_withheld(app, berlin):
    from app.retention import purge

    call(berlin, utc(2026, 6, 1, 8), number="+4930123456")
    call(berlin, utc(2026, 6, 1, 9), number=None)  # withheld, nothing typed: nothing to erase
    typed = call(berlin, utc(2026, 6, 1, 10), number=None)
    typed.callback_number = "01701234567"
    berlin.commit()
    purge(berlin, retention_days=30, now=utc(2026, 8, 1))

    for with_numbers in (False, True):
        rows = export(app, berlin, date(2026, 6, 1), with_numbers=with_numbers)
        assert [r[12:] for r in rows[1:]] == [["erased", ""], ["withheld", ""], ["erased", ""]]
    german = export(app, berlin, date(2026, 6, 1), language="de")
    polish = export(app, berlin, date(2026, 6, 1), language="pl")
    assert [r[12] for r in german[1:]] == ["gelöscht", "unterdrückt", "gelöscht"]
    assert polish[1][12] == "usunięty" and polish[2][12] != polish[1][12]


def test_a_cell_that_looks_like_a_formula_stays_text(app, berlin):
    call(berlin, utc(2026, 6, 1, 8), request_type='=HYPERLINK("http://evil.example")')
    row = export(app, berlin, date(2026, 6, 1))[1]
    assert row[9] == '\'=HYPERLINK("http://evil.example")'


# -- the command ---------------------------------------------------------------------------------


def test_the_command_writes_the_day_to_stdout(app, berlin, runner):
    call(berlin, utc(2026, 3, 28, 22, 59), sid="CA-before")
    call(berlin, utc(2026, 3, 29, 9), sid="CA-day")

    code, rows, messages = export_cli(runner, "--date", "2026-03-29")

    assert code == 0
    assert [r[0] for r in rows[1:]] == ["CA-day"]
    assert rows == export(app, berlin, date(2026, 3, 29))
    assert "1 calls on 2026-03-29" in messages


def test_a_range_covers_every_day_from_first_to_last(berlin, runner):
    for day in (1, 2, 3, 4):
        call(berlin, utc(2026, 6, day, 10), sid=f"CA-june-{day}")

    code, rows, _ = export_cli(runner, "--from", "2026-06-02", "--to", "2026-06-03")

    assert code == 0
    assert [r[0] for r in rows[1:]] == ["CA-june-2", "CA-june-3"]


def test_the_command_writes_a_file_identical_to_stdout(berlin, runner, tmp_path):
    call(berlin, utc(2026, 6, 1, 10))
    target = tmp_path / "calls.csv"

    to_file = runner.invoke(args=["calls", "export", "--date", "2026-06-01", "-o", str(target)])
    to_stdout = runner.invoke(args=["calls", "export", "--date", "2026-06-01"])

    assert to_file.exit_code == 0, to_file.output
    assert target.read_bytes() == to_stdout.stdout_bytes
    assert to_file.stdout_bytes == b""  # no progress bar when not on a terminal
    assert "Wrote 1 calls on 2026-06-01" in to_file.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no draft left"


def test_the_console_script_exports_as_the_apps_command_does(
    app, berlin, runner, tmp_path, monkeypatch
):
    # `hotline calls export` from cron: the same file, messages and exit codes
    # as the command run inside the test app.
    import sys

    from app import cli

    call(berlin, utc(2026, 6, 1, 10), number="+4930123456")
    settings = app.config["HOTLINE"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOTLINE_SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "test-token")

    def main(*args) -> int:
        monkeypatch.setattr(sys, "argv", ["hotline", "calls", "export", *args])
        with pytest.raises(SystemExit) as exit_:
            cli.main()
        return exit_.value.code

    target = tmp_path / "calls.csv"
    assert main("--date", "2026-06-01", "--language", "en", "-o", str(target)) == 0
    expected = runner.invoke(args=["calls", "export", "--date", "2026-06-01", "--language", "en"])
    assert target.read_bytes() == expected.stdout_bytes
    assert main("--date", "2026-06-02", "-o", str(tmp_path / "none.csv")) == 1
    assert not (tmp_path / "none.csv").exists()
    assert main("--date", "2026-13-01") == 2


def test_full_numbers_are_written_to_the_audit_log_with_the_range(berlin, runner):
    call(berlin, utc(2026, 6, 1, 10), number="+4930123456")

    code, masked_rows, _ = export_cli(runner, "--date", "2026-06-01")
    assert berlin.scalars(select(AuditEvent)).all() == []

    code, rows, _ = export_cli(runner, "--date", "2026-06-01", "--with-numbers")

    assert code == 0
    assert rows[1][12] == "'+4930123456"
    event = berlin.scalars(select(AuditEvent)).one()
    assert event.action == "exported"
    assert "2026-06-01" in event.detail and "full caller numbers" in event.detail
    assert "1 calls" in event.detail and "command line" in event.detail


def test_an_empty_range_says_so_and_writes_nothing(berlin, runner, tmp_path):
    call(berlin, utc(2026, 6, 1, 10))
    target = tmp_path / "calls.csv"
    target.write_text("yesterday's export")

    result = runner.invoke(
        args=["calls", "export", "--date", "2026-06-02", "-o", str(target), "--with-numbers"]
    )

    assert result.exit_code == 1
    assert "No calls on 2026-06-02" in result.stderr
    assert target.read_text() == "yesterday's export"
    assert berlin.scalars(select(AuditEvent)).all() == [], "nothing left the system"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2026-13-01"], "is not a date"),
        (["--date", "29.03.2026"], "is not a date"),
        (["--date", "2026-3-9"], "is not a date"),
        (["--date", "tomorrowish"], "is not a date"),
        (["--date", "9999-12-31"], "outside the days an export covers (2000-01-01 to 2999-12-31)"),
        (["--date", "0001-01-01"], "outside the days an export covers"),
        (["--from", "1999-12-31"], "outside the days an export covers"),
        (["--from", "2026-06-01", "--to", "3000-01-01"], "outside the days an export covers"),
        (["--from", "2026-06-03", "--to", "2026-06-01"], "is before --from"),
        (["--date", "2026-06-01", "--from", "2026-06-01"], "not both"),
        (["--to", "2026-06-01"], "--to needs --from"),
        ([], "give a day with --date"),
        (["--date", "2026-06-01", "--language", "tr"], "--language must be one of"),
    ],
)
def test_wrong_usage_gets_a_message_and_exit_code_2(berlin, runner, args, message):
    result = runner.invoke(args=["calls", "export", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout_bytes == b""


def test_yesterday_is_the_local_yesterday(app, berlin, runner):
    from app.calls.export import local_today

    yesterday = local_today(BERLIN) - timedelta(days=1)
    call(berlin, local_midnight(yesterday, BERLIN) + timedelta(hours=12), sid="CA-yesterday")

    code, rows, _ = export_cli(runner, "--date", "yesterday")

    assert code == 0 and [r[0] for r in rows[1:]] == ["CA-yesterday"]


def test_an_output_folder_that_does_not_exist_is_wrong_usage(berlin, runner, tmp_path):
    call(berlin, utc(2026, 6, 1, 10))
    missing = tmp_path / "no-such-folder" / "calls.csv"
    result = runner.invoke(args=["calls", "export", "--date", "2026-06-01", "-o", str(missing)])
    assert result.exit_code == 2
    assert "there is no folder" in result.stderr


def test_a_file_that_cannot_be_written_leaves_the_old_one_and_no_draft(
    berlin, runner, tmp_path, monkeypatch
):
    import app.cli.calls

    call(berlin, utc(2026, 6, 1, 10))
    exports = tmp_path / "exports"
    exports.mkdir()
    target = exports / "calls.csv"
    target.write_text("the export of last week")

    def full_disk(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(app.cli.calls.os, "replace", full_disk)
    result = runner.invoke(args=["calls", "export", "--date", "2026-06-01", "-o", str(target)])

    assert result.exit_code == 3
    assert "cannot write" in result.stderr and "No space left on device" in result.stderr
    assert target.read_text() == "the export of last week"
    assert [p.name for p in exports.iterdir()] == ["calls.csv"]


# -- local times by the minute, odd numbers, odd text ----------------------------------------


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
)
def test_local_times_match_zoneinfo_around_the_clock_changes(zone):
    # The export formats local times from a per-minute cache; every second of
    # the hours around both 2026 clock changes must read as strftime says.
    from datetime import UTC, datetime

    from app.calls.export import LocalTimes

    tz = ZoneInfo(zone)
    local_times = LocalTimes(tz)
    changes = [
        datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=h)
        for h in range(365 * 24)
        if (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=h)).astimezone(tz).utcoffset()
        != (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=h + 1)).astimezone(tz).utcoffset()
    ]
    for change in changes or [datetime(2026, 6, 1, tzinfo=UTC)]:
        for second in range(0, 3 * 3600, 7):
            moment = change - timedelta(hours=1) + timedelta(seconds=second, microseconds=999)
            local = moment.astimezone(tz)
            utc_text = moment.replace(tzinfo=None).isoformat(" ")
            raw = local.strftime("%z")
            expected = (local.strftime("%Y-%m-%d %H:%M:%S"), f"UTC{raw[:3]}:{raw[3:]}")
            assert local_times(utc_text) == expected, utc_text


NUMBERS = ["+4930123456", "+12025550143", "+79161234567", "+420601234567", "+8613812345678"]
NUMBERS += ["+266696687", "+2562533", " +4930123456 ", "anonymous", "sip:anna@example.org"]
NUMBERS += ["030 1234", "+0301234567", "+49 30 123456", "ANONYMOUS", ""]


@pytest.mark.parametrize("with_numbers", [False, True])
def test_every_number_in_the_export_follows_the_masking_rules(app, berlin, with_numbers):
    for minute, number in enumerate(NUMBERS):
        typed = call(berlin, utc(2026, 6, 1, 8, minute), number=None)
        typed.callback_number = number
        call(berlin, utc(2026, 6, 1, 9, minute), number=number)
    berlin.commit()

    rows = export(app, berlin, date(2026, 6, 1), with_numbers=with_numbers)[1:]

    def shown(number):
        text = number.strip() if with_numbers else (masked_number(number) or "")
        return "'" + text if text.startswith(("+", "-", "=", "@")) else text

    typed_numbers, own_numbers = rows[: len(NUMBERS)], rows[len(NUMBERS) :]
    assert [r[13] for r in typed_numbers] == [shown(n) for n in NUMBERS]
    assert [r[12] for r in own_numbers] == [
        "withheld" if is_withheld(n) else shown(n) for n in NUMBERS
    ]


# Text from outside (Twilio's webhooks, a caller's keys, a zone profile) that starts
# like a formula, carries a delimiter, a quote or a line break, or odd characters.
ODD_TEXTS = ["=1+1", "+49", "-5", "@cmd", "\tx", "\rx", "a,b", "a;b", 'say "hi"', "two\nlines"]
ODD_TEXTS += ["cr\rlf\r\n", "back\\slash", "Neukölln ✓", "'=quoted", "."]


@pytest.mark.parametrize("language", ["en", "de"])
def test_odd_text_from_outside_reads_back_as_it_was_and_never_as_a_formula(app, berlin, language):
    odd_zone = Zone(
        helpline_id=oldest_helpline_id(berlin),
        slug="odd",
        name='=Mitte, "Tiergarten"; ok',
        area="berlin",
    )
    berlin.add(odd_zone)
    berlin.flush()
    for n, text in enumerate(ODD_TEXTS):
        row = call(
            berlin,
            utc(2026, 6, 1, 8, n),
            sid=f"{text}CA{n}",
            postcode=text[:10],
            reference=text[:16],
            request_type=text,
        )
        row.zone_id = odd_zone.id
    berlin.commit()

    rows = export(app, berlin, date(2026, 6, 1), language=language)[1:]

    def cell(text):
        return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text

    assert len(rows) == len(ODD_TEXTS) and all(len(r) == 14 for r in rows)
    for n, (row, text) in enumerate(zip(rows, ODD_TEXTS, strict=True)):
        assert row[0] == cell(f"{text}CA{n}")
        assert (row[7], row[8], row[9], row[11]) == (
            cell(text[:10]),
            '\'=Mitte, "Tiergarten"; ok',
            cell(text),
            cell(text[:16]),
        )
