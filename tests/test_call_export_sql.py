"""The export's lines written by the database are the Python formatting's, byte for byte.

export_csv() has the database put each row together (app.export_sql) and
leaves the rows it can't write exactly to the Python formatting
(export_batches() and csv_chunks(), the reference). Hostile and odd calls
here must come out the same either way, in every language and zone.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

import app.call_export as call_export
from app.call_export import (
    BOM,
    DayRange,
    _text_cell,
    csv_chunks,
    default_delimiter,
    export_batches,
    export_csv,
    header,
)
from app.call_labels import OUTCOMES, STATUSES, STEPS
from app.models import CallOutcome, Zone
from tests.seeding import call, utc

# Starts like a formula, carries a delimiter, a quote or a line break, or one
# of the characters the SQL lines are put together with.
ODD_TEXTS = [
    "=1+1",
    "+49",
    "-5",
    "@cmd",
    "\tx",
    "\rx",
    "a,b",
    "a;b",
    'say "hi"',
    "two\nlines",
    "cr\rlf\r\n",
    "sep\x1fend\x1e",
    "back\\slash",
    "Neukölln ✓",
    "nul\x00byte",
    ".",
    ",",
    "'=quoted",
    "",
]
NUMBERS = [
    "+4930123456",
    "+493012345678901",
    "+14155550123",
    "+79161234567",
    "+201234567",
    "+353871234567",
    "+886212345678",
    "+905321234567",
    "+2125550143",
    "+266696687",  # ANONYMOUS on the keypad
    "+2562533",
    "+7378742833",  # RESTRICTED
    "8656696",  # UNKNOWN, without the plus
    "anonymous",
    "withheld",
    "Private",
    "ANONYMOUS",
    " anonymous ",
    "",
    None,
    " +4930123456 ",
    "+0301234567",
    "+12345",
    "+1234567",
    "+12345678901234567",
    "+49301234567a",
    "030 1234567",
    "sip:anna@example.org",
    "+49 30 123456",
    "١٢٣٤٥٦٧٨",
]


def reference_csv(db, days, settings, **options) -> bytes:
    language = options["language"]
    delimiter = options.pop("delimiter", None) or default_delimiter(language)
    head = [[_text_cell(cell) for cell in header(language)]]
    _, head_chunk = next(csv_chunks([head], delimiter=delimiter))
    batches = export_batches(db, days, settings, **options)
    return (
        BOM.encode() + head_chunk + b"".join(c for _, c in csv_chunks(batches, delimiter=delimiter))
    )


def seed_odd_calls(db, postgresql: bool) -> None:
    """Plain calls at moments around clock changes, each with one odd value (or none)."""
    odd_zone = Zone(slug="odd", name='=Mitte, "Tiergarten"; ok', area="berlin")
    db.add(odd_zone)
    db.flush()
    variants: list[dict] = [{}]
    variants += [{"sid": f"{t[:20]}CA"} for t in ODD_TEXTS]
    variants += [{"postcode": t[:10]} for t in ODD_TEXTS]
    variants += [{"reference": t[:16]} for t in ODD_TEXTS]
    variants += [{"status": t[:16]} for t in ODD_TEXTS]
    variants += [{"language": t[:8]} for t in ODD_TEXTS]
    variants += [{"request_type": t} for t in ODD_TEXTS]
    variants += [{"outcome": t} for t in ODD_TEXTS]
    variants += [{"number": n} for n in NUMBERS]
    variants += [{"callback": n} for n in NUMBERS]
    variants += [{"number": None, "erased": True}, {"number": "anonymous", "erased": True}]
    variants += [{"seconds": s} for s in (None, 0, 3600, 4 * 86400, 40 * 86400)]
    variants += [{"end_before_start": True}, {"duration": -7}, {"zone": None}, {"odd_zone": True}]
    variants += [{"language": code} for code in ("de", "en", "pl", "tr", "uk", "xx")]
    variants += [{"request_type": code} for code in ("shopping", "other", "unknown")]
    variants += [{"status": status} for status in [*STATUSES, "weird"]]
    variants += [
        {"outcome": outcome, "last_step": step, "status": status}
        for outcome in [*OUTCOMES, "", CallOutcome.ABANDONED, "in_progress", "odd"]
        for step in [*STEPS, "", "unknown"]
        for status in ("completed", "in-progress", "ringing")
    ]
    # Around both clock changes of 2026 in Berlin and New York, and across
    # local midnights, on whole seconds and with microseconds.
    moments = [
        utc(2026, 3, 28, 22, 59, 59),
        utc(2026, 3, 28, 23, 0, 0),
        utc(2026, 3, 29, 0, 59, 59, 999999),
        utc(2026, 3, 29, 1, 0, 0),
        utc(2026, 3, 29, 1, 30, 15, 500000),
        utc(2026, 3, 29, 21, 59, 0),
        utc(2026, 3, 29, 22, 0, 1),
        utc(2026, 10, 24, 23, 30, 0),
        utc(2026, 10, 25, 0, 30, 0),
        utc(2026, 10, 25, 1, 0, 0),
        utc(2026, 10, 25, 1, 30, 0),
        utc(2026, 10, 25, 22, 59, 59),
        utc(2026, 3, 8, 6, 59, 59),
        utc(2026, 3, 8, 7, 0, 0),
        utc(2026, 11, 1, 5, 59, 59),
        utc(2026, 11, 1, 6, 0, 0),
    ]
    for n, variant in enumerate(variants):
        moment = moments[n % len(moments)] + timedelta(seconds=n % 3, microseconds=n % 2)
        texts = {k: v for k, v in variant.items() if not (postgresql and "\x00" in str(v))}
        row = call(
            db,
            moment,
            seconds=texts.get("seconds", 95),
            number=texts.get("number", "+4930123456"),
            outcome=texts.get("outcome", CallOutcome.REQUEST_CREATED),
            last_step=texts.get("last_step", "done"),
            status=texts.get("status", "completed"),
            postcode=texts.get("postcode", "10115"),
            zone_slug=texts.get("zone", "mitte"),
            request_type=texts.get("request_type", "shopping"),
            reference=texts.get("reference", "HX7-K4M"),
            language=texts.get("language", "de"),
            sid=f"{texts.get('sid', 'CA')}{n:010d}",
        )
        row.callback_number = texts.get("callback")
        if texts.get("odd_zone"):
            row.zone_id = odd_zone.id
        if texts.get("erased"):
            row.numbers_erased_at = moment
        if texts.get("end_before_start"):
            row.ended_at = moment - timedelta(days=1)
        if "duration" in texts:
            row.duration_seconds = texts["duration"]
    db.commit()


DAYS = [
    DayRange(date(2026, 3, 28), date(2026, 3, 30)),
    DayRange.single(date(2026, 3, 29)),
    DayRange(date(2026, 10, 24), date(2026, 11, 2)),
    DayRange(date(2026, 3, 1), date(2026, 12, 31)),
    DayRange(date(2000, 1, 1), date(2999, 12, 31)),
]


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"]
)
def test_the_database_lines_are_the_python_formatting(app, berlin, zone, monkeypatch):
    postgresql = berlin.get_bind().dialect.name == "postgresql"
    seed_odd_calls(berlin, postgresql)
    settings = dataclasses.replace(app.config["HOTLINE"], timezone=ZoneInfo(zone))
    for batch in (3, call_export.BATCH):
        # Small batches: plain batches and batches checked line by line mix.
        monkeypatch.setattr(call_export, "BATCH", batch)
        for days, language, with_numbers in itertools.product(
            DAYS, ["de", "en", "pl"], [False, True]
        ):
            options = {"language": language, "with_numbers": with_numbers}
            fast = b"".join(export_csv(berlin, days, settings, **options))
            assert fast == reference_csv(berlin, days, settings, **options), (days, options)


def test_the_database_writes_the_lines_of_plain_calls(app, berlin, monkeypatch):
    # The comparison above means something only if the SQL lines are used.
    for n in range(30):
        call(berlin, utc(2026, 3, 29, 0, n), number=f"+49301234{n:04d}")
    berlin.commit()
    asked: list[int] = []

    def reference(*args, **kwargs):
        asked.append(1)
        return original(*args, **kwargs)

    original = call_export.export_batches
    monkeypatch.setattr(call_export, "export_batches", reference)
    settings = app.config["HOTLINE"]
    days = DayRange.single(date(2026, 3, 29))
    fast = b"".join(export_csv(berlin, days, settings, language="de"))
    assert not asked
    assert fast == reference_csv(berlin, days, settings, language="de", with_numbers=False)
    assert fast.count(b"\r\n") == 31


def test_an_odd_timestamp_stored_in_sqlite_is_formatted_in_python(app, berlin):
    if berlin.get_bind().dialect.name != "sqlite":
        pytest.skip("only SQLite stores timestamps as text")
    call(berlin, utc(2026, 3, 29, 10, 0, 0))
    call(berlin, utc(2026, 3, 29, 11, 0, 0))
    berlin.commit()
    berlin.execute(
        text(
            "UPDATE calls SET started_at = '2026-03-29 10:00:00', duration_seconds = 1.5 "
            "WHERE id = 1"
        )
    )
    berlin.commit()
    settings = app.config["HOTLINE"]
    days = DayRange.single(date(2026, 3, 29))
    fast = b"".join(export_csv(berlin, days, settings, language="en"))
    assert fast == reference_csv(berlin, days, settings, language="en", with_numbers=False)
    assert b"2026-03-29 12:00:00" in fast and b",1.5," in fast


def test_a_nul_character_stored_in_sqlite_is_formatted_in_python(app, berlin):
    if berlin.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL's text has no NUL characters")
    zone = Zone(slug="nul", name="Mitte\x00Tiergarten", area="berlin")
    berlin.add(zone)
    berlin.flush()
    call(berlin, utc(2026, 3, 29, 10, 0, 0)).zone_id = zone.id
    call(berlin, utc(2026, 3, 29, 11, 0, 0), sid="CA\x00nul")
    berlin.commit()
    settings = app.config["HOTLINE"]
    days = DayRange.single(date(2026, 3, 29))
    fast = b"".join(export_csv(berlin, days, settings, language="en"))
    assert fast == reference_csv(berlin, days, settings, language="en", with_numbers=False)
    assert b"Mitte\x00Tiergarten" in fast and b"CA\x00nul" in fast
