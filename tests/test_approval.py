"""Vetting volunteers from the command line and the service the pages share."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.accounts import approval
from app.database import get_db, utcnow
from app.models import AccountStatus, AuditEvent, User
from tests.seeding import call, volunteer


@pytest.fixture
def piotr(berlin):
    return volunteer(berlin, "piotr@example.org", zones=["pankow"], name="Piotr")


def status_of(db, user) -> str:
    db.expire_all()
    return db.get(User, user.id).status


@pytest.mark.parametrize(
    ("start", "decision", "end"),
    [
        (AccountStatus.PENDING, "approve", AccountStatus.APPROVED),
        (AccountStatus.PENDING, "reject", AccountStatus.REJECTED),
        (AccountStatus.APPROVED, "suspend", AccountStatus.SUSPENDED),
        (AccountStatus.SUSPENDED, "approve", AccountStatus.APPROVED),
        (AccountStatus.REJECTED, "approve", AccountStatus.APPROVED),
    ],
)
def test_the_decisions_an_operator_can_make(berlin, operator, piotr, start, decision, end):
    piotr.status = start
    berlin.commit()
    assert approval.Decision(decision) in approval.allowed_decisions(piotr)

    approval.decide(berlin, piotr.id, approval.Decision(decision), operator=operator)

    assert status_of(berlin, piotr) == end
    event = berlin.scalars(select(AuditEvent)).one()
    assert (event.user_id, event.subject_user_id) == (operator.id, piotr.id)
    assert f"{start} -> {end}" in event.detail


def test_approval_sets_the_time_of_approval(berlin, operator, piotr):
    before = utcnow()
    person = approval.decide(berlin, piotr.id, approval.Decision.APPROVE, operator=operator)
    assert person.approved_at >= before


def test_two_operators_approving_at_once_approve_once(app, berlin, operator, piotr):
    barrier = threading.Barrier(6)
    outcomes = []

    def approve():
        with app.app_context(), get_db(app).session() as session:
            barrier.wait()
            try:
                approval.decide(session, piotr.id, approval.Decision.APPROVE, operator=None)
                session.commit()  # as the operator page and the command do
                outcomes.append("approved")
            except approval.ApprovalError:
                outcomes.append("refused")

    threads = [threading.Thread(target=approve) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["approved"] + ["refused"] * 5
    assert len(berlin.scalars(select(AuditEvent)).all()) == 1


def test_two_operators_handling_one_voice_message_record_it_once(app, berlin, operator):
    from app.requests.attention import mark_message_handled

    message = call(berlin, utcnow(), operator_message_url="https://api.twilio.com/rec/RE1")
    barrier = threading.Barrier(6)
    results = []

    def handle():
        with app.app_context(), get_db(app).session() as session:
            barrier.wait()
            results.append(mark_message_handled(session, message.id, session.merge(operator)))
            session.commit()  # as the operator page does

    threads = [threading.Thread(target=handle) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == [False] * 5 + [True]
    assert len(berlin.scalars(select(AuditEvent)).all()) == 1


# -- the command line -------------------------------------------------------------------------


def test_users_list_shows_pending_volunteers_with_zones(runner, operator, piotr):
    result = runner.invoke(args=["users", "list", "--status", "pending"])
    assert result.exit_code == 0
    assert "piotr@example.org" in result.output and "Pankow" in result.output
    assert "olga@example.org" not in result.output


def test_users_approve_and_suspend_from_the_command_line(berlin, runner, piotr):
    approved = runner.invoke(args=["users", "approve", "piotr@example.org", "--note", "vetted"])
    suspended = runner.invoke(args=["users", "suspend", "PIOTR@example.org"])

    assert approved.exit_code == 0 and "piotr@example.org is now approved." in approved.output
    assert suspended.exit_code == 0 and "is now suspended." in suspended.output
    assert status_of(berlin, piotr) == AccountStatus.SUSPENDED
    details = [e.detail for e in berlin.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "vetted; via the command line" in details[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "approve", "nobody@example.org"], "no account for nobody@example.org"),
        (["users", "suspend", "piotr@example.org"], "cannot suspend an account that is pending"),
        (["users", "reject", "olga@example.org"], "no such volunteer"),
    ],
)
def test_a_decision_that_does_not_apply_fails_with_a_message(
    runner, operator, piotr, args, message
):
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert message in result.output
