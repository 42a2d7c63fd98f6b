"""E-mails about accounts: a volunteer hears of each decision; operators of waiting sign-ups.

A decision's mail is queued in the transaction of the decision
(app/accounts/approval.py): a decision rolled back mails nobody. The operators'
mail about waiting sign-ups is a periodic task of the worker: once a local day
at most, outside quiet hours, and only when confirmed sign-ups wait (the job
key names the day, so several workers, or a restart, send it once).
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.operator_scope import volunteer_in_scope
from app.config import Settings
from app.jobs.handlers import periodic
from app.messaging.links import public_url
from app.messaging.mail import render
from app.messaging.outbox import queue_mail
from app.messaging.quiet_hours import quiet_until
from app.models import OPERATOR_ROLES, AccountStatus, AuditEvent, Role, User

# The decision (the status it led to) -> its mail template.
DECISION_MAILS = {
    AccountStatus.APPROVED: "account_approved",
    AccountStatus.REJECTED: "account_rejected",
    AccountStatus.SUSPENDED: "account_suspended",
}


def decision_made(session: Session, volunteer: User, event: AuditEvent) -> None:
    """Queue the mail telling a volunteer of a decision about their account (flushed).

    The operator's note is not in it: it is written for the audit log.
    """
    settings: Settings = current_app.config["HOTLINE"]
    template = DECISION_MAILS.get(volunteer.status)
    if template is None or not volunteer.email:
        return
    mail = render(
        template,
        volunteer.language,
        name=volunteer.name,
        login=public_url(settings, "/login"),
        account=public_url(settings, "/account"),
    )
    session.flush()  # the event's id names the mail: one per decision
    queue_mail(session, volunteer.email, mail, key=f"account-decision:{event.id}")


def waiting_sign_ups(
    session: Session, *, viewer: User | None = None
) -> tuple[int, datetime | None]:
    """How many confirmed sign-ups wait for an operator (for `viewer`'s helplines), and
    since when the oldest."""
    count, oldest = session.execute(
        select(func.count(User.id), func.min(User.created_at)).where(
            User.role == Role.VOLUNTEER,
            User.status == AccountStatus.PENDING,
            User.email_confirmed_at.is_not(None),
            volunteer_in_scope(viewer),
        )
    ).one()
    return count or 0, oldest


@periodic(every_seconds=600)
def mail_operators_about_sign_ups(session: Session, app: Flask, now: datetime) -> int:
    """Once a day at most, each operator hears how many sign-ups wait for their helplines
    (app/accounts/operator_scope.py); mails queued now."""
    settings: Settings = app.config["HOTLINE"]
    if quiet_until(settings.alerts.quiet_hours, settings.timezone, now):
        return 0
    if not waiting_sign_ups(session)[0]:
        return 0
    day = now.astimezone(settings.timezone).date().isoformat()
    operators = session.scalars(
        select(User).where(User.role.in_(OPERATOR_ROLES), User.status == AccountStatus.APPROVED)
    ).all()
    queued = 0
    for operator in operators:
        count, oldest = waiting_sign_ups(session, viewer=operator)
        if not count:
            continue
        mail = render(
            "sign_ups_waiting",
            operator.language,
            name=operator.name,
            count=count,
            days=(now - oldest).days if oldest else 0,
            link=public_url(settings, "/operator/volunteers"),
        )
        key = f"sign-ups:{day}:{operator.id}"
        queued += queue_mail(session, operator.email, mail, key=key) is not None
    return queued
