"""The retention purge: old personal data goes, counts stay, and running it twice is safe."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.database import utcnow
from app.models import AuditEvent, Call, HelpRequest, RequestStatus
from app.retention import purge
from tests.seeding import call, help_request

DAY = timedelta(days=1)


@pytest.fixture
def seeded(berlin):
    """Requests and calls either side of the 30-day line, in every state."""
    now = utcnow()
    old, recent = now - 40 * DAY, now - 5 * DAY
    rows = {
        "done_old": help_request(
            berlin,
            created_at=old - DAY,
            status=RequestStatus.DONE,
            claimed_at=old - DAY,
            closed_at=old,
            voice_message_url="https://api.twilio.com/rec/RE1",
        ),
        "cancelled_old": help_request(
            berlin, created_at=old, status=RequestStatus.CANCELLED, closed_at=old
        ),
        "expired_old": help_request(
            berlin, created_at=old, status=RequestStatus.EXPIRED, closed_at=old, number=None
        ),
        "done_recent": help_request(
            berlin, created_at=old, status=RequestStatus.DONE, claimed_at=old, closed_at=recent
        ),
        # Still waiting after 40 days: someone must still call back.
        "open_old": help_request(berlin, created_at=old, status=RequestStatus.OPEN),
        "claimed_old": help_request(
            berlin, created_at=old, status=RequestStatus.CLAIMED, claimed_at=old
        ),
        "call_old": call(
            berlin, old, number="+4930111111", operator_message_url="https://api.twilio.com/rec/RE2"
        ),
        "call_old_withheld": call(berlin, old, number=None),
        "call_recent": call(
            berlin, recent, number="+4930222222", operator_message_url="https://api.twilio.com/R3"
        ),
    }
    # A withheld caller typed a number to be called back on.
    rows["call_old_withheld"].callback_number = "+4930999888"
    berlin.commit()
    return {name: row.id for name, row in rows.items()}


def request(db, seeded, name) -> HelpRequest:
    db.expire_all()
    return db.get(HelpRequest, seeded[name])


def test_purge_erases_old_numbers_codes_and_voice_messages(berlin, seeded):
    result = purge(berlin, retention_days=30)

    assert (result.request_numbers, result.verification_codes) == (2, 3)
    assert (result.request_voice_messages, result.call_numbers, result.operator_messages) == (
        1,
        2,
        1,
    )
    for name in ("done_old", "cancelled_old", "expired_old"):
        erased = request(berlin, seeded, name)
        assert erased.caller_number is None and erased.verification_code is None
    done_old = request(berlin, seeded, "done_old")
    assert done_old.voice_message_url is None and done_old.voice_message_seconds is None
    old_call = berlin.get(Call, seeded["call_old"])
    assert old_call.from_number is None
    assert berlin.get(Call, seeded["call_old_withheld"]).callback_number is None
    assert old_call.operator_message_url is None and old_call.operator_message_seconds is None


def test_purge_keeps_what_is_recent_or_still_needed(berlin, seeded):
    purge(berlin, retention_days=30)

    for name in ("done_recent", "open_old", "claimed_old"):
        kept = request(berlin, seeded, name)
        assert kept.caller_number == "+4930123456" and kept.verification_code == "4711"
    recent_call = berlin.get(Call, seeded["call_recent"])
    assert recent_call.from_number == "+4930222222"
    assert recent_call.operator_message_url == "https://api.twilio.com/R3"


def test_purge_keeps_every_row_and_what_counts_are_made_of(berlin, seeded):
    def census():
        return (
            berlin.scalar(select(func.count()).select_from(HelpRequest)),
            berlin.scalar(select(func.count()).select_from(Call)),
            sorted(berlin.scalars(select(HelpRequest.status))),
            sorted(berlin.scalars(select(HelpRequest.zone_id))),
            sorted(berlin.scalars(select(Call.outcome))),
        )

    before = census()
    purge(berlin, retention_days=30)
    assert census() == before


def test_purging_twice_erases_nothing_more(berlin, seeded):
    first = purge(berlin, retention_days=30)
    second = purge(berlin, retention_days=30)

    assert first.total == 9
    assert second.total == 0
    assert "0 caller numbers" in second.report()[0]


def test_a_dry_run_counts_and_changes_nothing(berlin, seeded):
    dry = purge(berlin, retention_days=30, dry_run=True)

    assert dry.total == 9
    assert request(berlin, seeded, "done_old").caller_number == "+4930123456"
    assert berlin.scalars(select(AuditEvent)).all() == []
    assert purge(berlin, retention_days=30).total == dry.total


def test_a_longer_retention_erases_less(berlin, seeded):
    assert purge(berlin, retention_days=60).total == 0
    assert request(berlin, seeded, "done_old").caller_number == "+4930123456"


def test_every_real_purge_is_in_the_audit_log(berlin, seeded):
    purge(berlin, retention_days=30)
    purge(berlin, retention_days=30)

    events = berlin.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["purged", "purged"]
    assert "2 caller numbers, 3 verification codes, 1 voice messages" in events[0].detail
    assert "0 caller numbers" in events[1].detail


def test_the_command_prints_what_it_erased_and_is_safe_to_repeat(berlin, seeded, runner):
    dry = runner.invoke(args=["retention", "purge", "--dry-run"])
    first = runner.invoke(args=["retention", "purge"])
    second = runner.invoke(args=["retention", "purge"])

    assert dry.exit_code == first.exit_code == second.exit_code == 0
    assert "Would erase" in dry.output and "Dry run: nothing was changed." in dry.output
    assert "Erased, from requests closed before" in first.output
    assert "2 caller numbers, 3 verification codes, 1 voice messages" in first.output
    assert "2 caller numbers, 1 voice messages for the operators" in first.output
    assert "0 caller numbers, 0 verification codes, 0 voice messages" in second.output
    assert request(berlin, seeded, "cancelled_old").caller_number is None


def test_the_command_uses_the_configured_retention(app, berlin, seeded, runner):
    settings = app.config["HOTLINE"]
    app.config["HOTLINE"] = dataclasses.replace(settings, retention_days=90)

    result = runner.invoke(args=["retention", "purge"])

    assert "Retention: 90 days." in result.output
    assert request(berlin, seeded, "done_old").caller_number == "+4930123456"
