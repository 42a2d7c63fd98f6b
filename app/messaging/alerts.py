"""New-request alerts: the zone's volunteers hear of a request, by e-mail or SMS, in batches.

How a request becomes an alert:

1. The phone line stores a request and, in the same transaction, queues a fan-out
   job (request_stored()).
2. The fan-out job writes an alert item for every approved volunteer of the
   request's zone who wants alerts (one INSERT ... SELECT).
3. The dispatcher (a periodic task of the worker) gathers each volunteer's
   waiting items into one send job, when their batch window is open
   (users.next_alert_at: at most one alert per `[alerts] batch_minutes`) and it
   is not quiet hours. Items of requests taken meanwhile are dropped.
4. The send job renders the alert in the volunteer's board language and sends it
   once (app/messaging/deliveries.py). During quiet hours it waits for the morning.

Each request is alerted by its own helpline's rules: its `[alerts]` (batch
minutes, quiet hours) in its time zone. A volunteer of two lines gets the items
of the line that is awake; those of the line in its quiet hours wait.

A request nobody has taken after `unclaimed_alert_hours` goes through 2-4 once
more (remind_unclaimed()). An alert never holds the caller's number or code.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from babel import Locale, UnknownLocaleError
from flask import Flask, render_template
from flask_babel import force_locale, format_timedelta
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection, delete, exists, func, literal, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.config import Settings
from app.database import utcnow
from app.helplines import Helpline, helpline_of_row
from app.jobs.handlers import JobRun, Later, handler, periodic
from app.jobs.queue import enqueue
from app.messaging import mail, sms
from app.messaging.deliveries import deliver_once
from app.messaging.links import public_url
from app.messaging.outbox import send_sms_once
from app.messaging.quiet_hours import quiet_until
from app.models import (
    AccountStatus,
    AlertChannel,
    AlertItem,
    HelplineRow,
    HelpRequest,
    Job,
    Postcode,
    RequestStatus,
    Role,
    User,
    user_zones,
)
from app.phone_numbers import number_for_reading

log = logging.getLogger(__name__)

FAN_OUT_JOB = "alerts.fan_out"
SEND_JOB = "alerts.send"
NEW, UNCLAIMED = "new", "unclaimed"
# An e-mail lists this many requests, an SMS fewer; the rest are a link to the board.
LISTED_IN_MAIL = 20
LISTED_IN_SMS = 2
# Volunteers dispatched per pass of the dispatcher (it runs again at once when there are more).
DISPATCH_BATCH = 500
UNSUBSCRIBE_SALT = "alerts-unsubscribe"


def request_stored(connection: Session | Connection, request_id: int) -> None:
    """Queue the alerts for a new request, in the transaction that stored it."""
    enqueue(
        connection,
        FAN_OUT_JOB,
        {"request_id": request_id, "reason": NEW},
        key=f"{FAN_OUT_JOB}:{NEW}:{request_id}",
    )


@handler(FAN_OUT_JOB)
def fan_out(run: JobRun) -> None:
    """An alert item for every approved volunteer of the request's zone who wants alerts."""
    request_id, reason = run.job.payload["request_id"], run.job.payload["reason"]
    users, requests = User.__table__, HelpRequest.__table__
    chosen = (
        select(users.c.id, literal(request_id), literal(reason), literal(utcnow()))
        .join(user_zones, user_zones.c.user_id == users.c.id)
        .join(requests, requests.c.zone_id == user_zones.c.zone_id)
        .where(
            requests.c.id == request_id,
            requests.c.status == RequestStatus.OPEN,
            users.c.status == AccountStatus.APPROVED,
            users.c.role == Role.VOLUNTEER,
            users.c.alert_channel != AlertChannel.NONE,
        )
    )
    insert = postgresql_insert if _dialect(run.session) == "postgresql" else sqlite_insert
    run.session.execute(
        insert(AlertItem.__table__)
        .from_select(["user_id", "request_id", "reason", "created_at"], chosen)
        .on_conflict_do_nothing()
    )


@periodic(every_seconds=5)
def dispatch(session: Session, app: Flask, now: datetime) -> int:
    """Gather each volunteer's waiting items into one send job, when their window is open.

    Only the items of requests whose helpline is outside its quiet hours: a
    night on one line keeps its items waiting, not another line's.
    """
    settings: Settings = app.config["HOTLINE"]
    lines = _helplines_by_id(session, settings)
    awake = {row_id for row_id, line in lines.items() if not _quiet(line, now)}
    if not awake:
        return 0
    # Requests taken or closed meanwhile are nobody's news any more.
    session.execute(
        delete(AlertItem).where(
            AlertItem.job_id.is_(None),
            exists().where(
                HelpRequest.id == AlertItem.request_id, HelpRequest.status != RequestStatus.OPEN
            ),
        )
    )
    first = next(iter(lines))  # a request without a helpline is the first's (never stored so)
    line_of_request = func.coalesce(HelpRequest.helpline_id, first)
    # The items of awake lines' requests (every item, the usual case, when all are awake).
    of_awake_lines = (
        exists().where(HelpRequest.id == AlertItem.request_id, line_of_request.in_(awake))
        if len(awake) < len(lines)
        else true()
    )
    due = session.execute(
        select(AlertItem.user_id, line_of_request)
        .join(User, User.id == AlertItem.user_id)
        .join(HelpRequest, HelpRequest.id == AlertItem.request_id)
        .where(
            AlertItem.job_id.is_(None),
            line_of_request.in_(awake),
            or_(User.next_alert_at.is_(None), User.next_alert_at <= now),
        )
        .distinct()
        .limit(DISPATCH_BATCH)
    ).all()
    helplines_of: dict[int, set[int]] = {}
    for user_id, helpline_id in due:
        helplines_of.setdefault(user_id, set()).add(helpline_id)
    sent = 0
    for user_id, helpline_ids in helplines_of.items():
        # The shortest window of the lines whose news this is: none waits longer than its own.
        minutes = min(lines[h].alerts.batch_minutes for h in helpline_ids)
        window = timedelta(minutes=minutes)
        # The window is taken first, by a conditional UPDATE: a second worker dispatching
        # at the same time waits for this row and then finds the window closed.
        opened = session.execute(
            update(User)
            .where(
                User.id == user_id,
                or_(User.next_alert_at.is_(None), User.next_alert_at <= now),
            )
            .values(next_alert_at=now + window)
            .returning(User.id)
        ).first()
        if opened is None:
            continue
        job_id = enqueue(
            session,
            SEND_JOB,
            {"user_id": user_id, "as_of": now.isoformat()},
            key=f"{SEND_JOB}:{user_id}:{now.isoformat()}",
        )
        # Conditional: a second worker dispatching at the same moment takes none twice.
        taken = session.execute(
            update(AlertItem)
            .where(
                AlertItem.user_id == user_id,
                AlertItem.job_id.is_(None),
                of_awake_lines,
            )
            .values(job_id=job_id)
            .returning(AlertItem.id)
        ).all()
        if not taken:  # another worker sent them: the window stays as it set it
            session.execute(delete(Job).where(Job.id == job_id))
            continue
        sent += 1
    return sent


def _helplines_by_id(session: Session, settings: Settings) -> dict[int, Helpline]:
    """Each helpline row's configured helpline (its alerts, time zone, name), oldest first."""
    rows = session.execute(select(HelplineRow.id, HelplineRow.slug).order_by(HelplineRow.id))
    return {row_id: helpline_of_row(settings.helplines, slug) for row_id, slug in rows}


def _quiet(helpline: Helpline, now: datetime | None = None) -> datetime | None:
    """When the helpline's quiet hours end (UTC), or None when it is not quiet now."""
    return quiet_until(helpline.alerts.quiet_hours, helpline.timezone, now)


@periodic(every_seconds=60)
def remind_unclaimed(session: Session, app: Flask, now: datetime) -> int:
    """Alert once more about each request nobody has taken for unclaimed_alert_hours."""
    settings: Settings = app.config["HOTLINE"]
    cutoff = now - timedelta(hours=settings.unclaimed_alert_hours)
    requests = HelpRequest.__table__
    # Conditional UPDATE: each request is reminded of once, whichever worker gets there.
    reminded = session.scalars(
        update(requests)
        .where(
            requests.c.status == RequestStatus.OPEN,
            requests.c.created_at < cutoff,
            requests.c.unclaimed_alert_at.is_(None),
        )
        .values(unclaimed_alert_at=now)
        .returning(requests.c.id)
    ).all()
    for request_id in reminded:
        enqueue(
            session,
            FAN_OUT_JOB,
            {"request_id": request_id, "reason": UNCLAIMED},
            key=f"{FAN_OUT_JOB}:{UNCLAIMED}:{request_id}",
        )
    return len(reminded)


@dataclass(frozen=True)
class AlertLine:
    """One request as an alert tells it: never the caller's number or code."""

    kind: str
    postcode: str
    neighbourhood: str
    language: str
    waited: str
    link: str
    reminder: bool
    # The helpline the caller rang and its number, when the deployment has several.
    helpline: str = ""
    helpline_number: str = ""


@handler(SEND_JOB)
def send_alert(run: JobRun) -> None:
    """Send one volunteer the alert of their gathered items, once, in their language."""
    settings = run.settings
    user = run.session.get(User, run.job.payload["user_id"])
    if user is None or not wants_alerts(user):
        return
    rows = run.session.execute(
        select(HelpRequest, AlertItem.reason, Postcode.neighbourhood, HelplineRow.slug)
        .join(AlertItem, AlertItem.request_id == HelpRequest.id)
        # In the request's own zone: another helpline may have the same code.
        .outerjoin(
            Postcode,
            (Postcode.code == HelpRequest.postcode) & (Postcode.zone_id == HelpRequest.zone_id),
        )
        .outerjoin(HelplineRow, HelplineRow.id == HelpRequest.helpline_id)
        .where(AlertItem.job_id == run.job.id)
        .order_by(HelpRequest.created_at, HelpRequest.id)
    ).all()
    if not rows:
        return
    # Sent while every line it tells of is awake (a retry may come later than planned).
    ends = [_quiet(helpline_of_row(settings.helplines, slug)) for slug in {r.slug for r in rows}]
    if any(ends):
        raise Later(max(end for end in ends if end is not None))
    as_of = datetime.fromisoformat(run.job.payload["as_of"])
    language = user.language if user.language in settings.web_languages else ""
    language = language or settings.web_languages[0]
    with force_locale(language):
        # Only the lines a message lists are worked out; the others are counted.
        lines = [_line(settings, row, as_of, language) for row in rows[:LISTED_IN_MAIL]]
    context = {
        "name": user.name,
        "lines": lines,
        "total": len(rows),
        "board": public_url(settings, "/requests"),
        "account": public_url(settings, "/account"),
        "unsubscribe": unsubscribe_link(settings, user.id),
    }
    if user.alert_channel == AlertChannel.SMS:
        _send_sms(run, user, language, context)
    else:
        _send_mail(run, user, language, context)


def _line(settings: Settings, row, as_of: datetime, language: str) -> AlertLine:
    request, reason, neighbourhood, slug = row
    kind = settings.request_type(request.request_type)
    label = kind.label(language) if kind else request.request_type
    helpline = helpline_of_row(settings.helplines, slug)
    several = len(settings.helplines) > 1
    number = helpline.public_number
    return AlertLine(
        helpline=helpline.name if several else "",
        helpline_number=number_for_reading(number) if several and number else "",
        kind=label[:1].upper() + label[1:],
        postcode=request.postcode,
        neighbourhood=neighbourhood or "",
        language=_language_name(request.language, language),
        waited=format_timedelta(as_of - request.created_at, threshold=1.0),
        link=public_url(settings, f"/requests/{request.reference}"),
        reminder=reason == UNCLAIMED,
    )


def _send_mail(run: JobRun, user: User, language: str, context: dict) -> None:
    settings = run.settings
    message = mail.render("alert", language, listed=LISTED_IN_MAIL, **context)
    # One click, no login (RFC 8058): mail programs POST "List-Unsubscribe=One-Click" there.
    headers = {
        "List-Unsubscribe": f"<{context['unsubscribe']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    deliver_once(
        run.db,
        key=f"{run.job.key}:{user.email}",
        channel="email",
        recipient=user.email,
        send=lambda _delivery: mail.send(
            settings,
            user.email,
            message.subject,
            message.text,
            html=message.html,
            headers=headers,
            msgid=mail.message_id(settings, run.job.key),
        ),
    )


def _send_sms(run: JobRun, user: User, language: str, context: dict) -> None:
    with force_locale(language):
        body = render_template("sms/alert.txt", listed=LISTED_IN_SMS, **context).strip()
    try:
        send_sms_once(run, user.phone, body)
    except sms.RecipientUnsubscribed:
        # They texted STOP to the hotline's number: Twilio sends them nothing more,
        # so neither do we (they can choose again on their account page).
        user.alert_channel = AlertChannel.NONE
        log.info("Volunteer %s texted STOP: no more SMS alerts", user.id)


def wants_alerts(user: User) -> bool:
    """An approved volunteer who has not turned alerts off."""
    return (
        user.status == AccountStatus.APPROVED
        and user.role == Role.VOLUNTEER
        and user.alert_channel != AlertChannel.NONE
    )


def set_channel(session: Session, user: User, channel: AlertChannel, phone: str = "") -> None:
    """Change how a volunteer hears of new requests (flushed; the view commits).

    Turning alerts off drops the items waiting for their next alert.
    """
    user.alert_channel = channel
    if phone:
        user.phone = phone
    if channel == AlertChannel.NONE:
        session.execute(
            delete(AlertItem).where(AlertItem.user_id == user.id, AlertItem.job_id.is_(None))
        )
    session.flush()


def unsubscribe_link(settings: Settings, user_id: int) -> str:
    """A link that turns a volunteer's alerts off, signed, without signing in."""
    token = URLSafeSerializer(settings.secret_key, salt=UNSUBSCRIBE_SALT).dumps(user_id)
    return public_url(settings, f"/alerts/stop/{token}")


def user_of_unsubscribe_token(settings: Settings, token: str) -> int | None:
    """The user id an unsubscribe token was made for; None if it is not one of ours."""
    with contextlib.suppress(BadSignature):
        user_id = URLSafeSerializer(settings.secret_key, salt=UNSUBSCRIBE_SALT).loads(token)
        return user_id if isinstance(user_id, int) else None
    return None


def _language_name(code: str, viewer: str) -> str:
    """'pl' named in the reader's language: 'Polnisch' for a German reader."""
    try:
        return Locale.parse(code).get_display_name(viewer) or code
    except (ValueError, UnknownLocaleError):
        return code


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name
