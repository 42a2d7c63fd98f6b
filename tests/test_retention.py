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
        "withheld_old": help_request(
            berlin, created_at=old, status=RequestStatus.CANCELLED, closed_at=old, number=None
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
    for name in ("done_old", "cancelled_old", "withheld_old"):
        erased = request(berlin, seeded, name)
        assert erased.caller_number is None and erased.verification_code is None
    done_old = request(berlin, seeded, "done_old")
    assert done_old.voice_message_url is None and done_old.voice_message_seconds is None
    old_call = berlin.get(Call, seeded["call_old"])
    assert old_call.from_number is None
    assert berlin.get(Call, seeded["call_old_withheld"]).callback_number is None
    assert old_call.operator_message_url is None and old_call.operator_message_seconds is None


def test_purge_marks_the_calls_whose_numbers_it_erased(berlin, seeded):
    """A withheld number and an erased one are both empty: the mark tells them apart."""
    berlin.add(Call(call_sid="CA-old-withheld-nothing-typed", started_at=utcnow() - 40 * DAY))
    berlin.commit()
    purged_at = utcnow()
    purge(berlin, retention_days=30, now=purged_at)
    purge(berlin, retention_days=30, now=purged_at + DAY)

    marks = dict(berlin.execute(select(Call.call_sid, Call.numbers_erased_at)).all())
    erased = {sid for sid, at in marks.items() if at is not None}
    assert erased == {
        berlin.get(Call, seeded["call_old"]).call_sid,
        berlin.get(Call, seeded["call_old_withheld"]).call_sid,  # its typed number went
    }
    assert {marks[sid] for sid in erased} == {purged_at}, "a second run leaves the first's mark"


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


# -- notes people typed ---------------------------------------------------------------------------


@pytest.fixture
def noted(berlin, operator):
    """Old and recent requests with the notes volunteers and operators typed about them."""
    from app import audit
    from app.accounts import approval
    from app.requests import attention
    from app.requests.claims import complete_request, record_unreachable, release_request
    from tests.seeding import volunteer

    anna = volunteer(berlin, "anna@example.org", zones=["mitte"], approved=True)
    old = utcnow() - 40 * DAY
    done = help_request(
        berlin, created_at=old, status=RequestStatus.CLAIMED, claimed_by=anna, claimed_at=old
    )
    record_unreachable(berlin, done, anna)
    release_request(berlin, done, anna, "no_time: she lives at Hauptstr. 5, 3rd floor")
    done.status, done.claimed_by_id, done.claimed_at = RequestStatus.CLAIMED, anna.id, old
    audit.record(berlin, audit.Action.RELEASED, request=done, detail="claim released: suspended")
    berlin.commit()
    complete_request(berlin, done, anna, "Mrs K. is diabetic; key under the mat", now=old)

    closed = help_request(berlin, created_at=old)
    attention.return_to_board(berlin, closed.id, operator, "reached her at her daughter's")
    attention.close_request(berlin, closed.id, operator, "neighbour Mr P. helps now")
    closed.closed_at = old
    recent = help_request(berlin, created_at=old, status=RequestStatus.CLAIMED, claimed_by=anna)
    berlin.commit()
    complete_request(berlin, recent, anna, "brought the shopping to Mr Z.")
    approval.decide(
        berlin, anna.id, approval.Decision.SUSPEND, operator=operator, note="rude to a caller"
    )
    berlin.commit()
    return {"done": done.id, "closed": closed.id, "recent": recent.id}


def details(db, request_id) -> list[tuple[str, str]]:
    db.expire_all()
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(AuditEvent.id)
    )
    return [(e.action, e.detail) for e in events]


def test_purge_erases_the_notes_people_typed_about_old_requests(berlin, noted):
    before = {name: details(berlin, request_id) for name, request_id in noted.items()}

    result = purge(berlin, retention_days=30)

    assert (result.outcome_notes, result.audit_notes) == (2, 4)
    assert "2 outcome notes; 4 notes in the audit log" in result.report()[0]
    for name in ("done", "closed"):
        assert request(berlin, noted, name).outcome_note == ""
    assert details(berlin, noted["done"]) == [
        ("unreachable", "attempt 1"),
        ("released", "no_time"),  # the reason from the list stays, the note goes
        ("released", "claim released: suspended"),
        ("completed", ""),
    ]
    assert details(berlin, noted["closed"]) == [
        ("returned_to_board", ""),
        ("closed_by_operator", ""),
    ]
    assert request(berlin, noted, "recent").outcome_note == "brought the shopping to Mr Z."
    assert details(berlin, noted["recent"]) == before["recent"]
    suspension = berlin.scalars(select(AuditEvent).where(AuditEvent.action == "suspended")).one()
    assert "rude to a caller" in suspension.detail, "about the volunteer's account: kept"


def test_erasing_notes_is_counted_by_a_dry_run_and_done_once(berlin, noted):
    dry = purge(berlin, retention_days=30, dry_run=True)
    assert (dry.outcome_notes, dry.audit_notes) == (2, 4)
    assert request(berlin, noted, "done").outcome_note != ""

    first = purge(berlin, retention_days=30)
    second = purge(berlin, retention_days=30)

    assert (first.outcome_notes, first.audit_notes) == (2, 4)
    assert (second.outcome_notes, second.audit_notes, second.total) == (0, 0, 0)
