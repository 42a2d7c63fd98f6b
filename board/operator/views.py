"""Operator pages: thin views over app.requests.dashboard, app.accounts.approval,
app.requests.attention, app.audit and app.calls.export (the same export as
`hotline calls export`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from flask import (
    Response,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from app import audit
from app.accounts import approval
from app.accounts.decisions import last_decisions
from app.accounts.operator_scope import helplines_of, in_scope, person_in_scope
from app.calls import calldown
from app.calls.export import DayRange, export_csv, export_filename, local_today, prepare_export
from app.calls.labels import call_end_label
from app.database import db_session, get_db
from app.helplines import helpline_by_slug
from app.i18n import LANGUAGE_NAMES, format_skeleton
from app.jobs import queue
from app.models import AccountStatus, HelplineRow, HelpRequest, User
from app.phone_numbers import masked_number
from app.requests import attention, churn
from app.requests.dashboard import dashboard as dashboard_figures
from board import settings
from board.account_settings import person_name
from board.operator import bp
from board.operator.audit_sentences import describe
from board.operator.bar_chart import bar_chart
from board.operator.forms import AuditFilterForm, ExportForm, NoteForm

AUDIT_PAGE = 100

ACTION_LABELS = {
    audit.Action.CLAIMED: _l("claimed"),
    audit.Action.RELEASED: _l("released"),
    audit.Action.COMPLETED: _l("marked done"),
    audit.Action.REOPENED: _l("undid done"),
    audit.Action.UNREACHABLE: _l("could not reach the caller"),
    audit.Action.NUMBER_VIEWED: _l("viewed the caller's number"),
    audit.Action.EXPIRED: _l("claim expired"),
    audit.Action.EXPORTED: _l("exported the call log"),
    audit.Action.APPROVED: _l("approved"),
    audit.Action.REJECTED: _l("rejected"),
    audit.Action.SUSPENDED: _l("suspended"),
    audit.Action.PURGED: _l("erased old personal data"),
    audit.Action.RETURNED_TO_BOARD: _l("put back on the board"),
    audit.Action.CLOSED_BY_OPERATOR: _l("closed by an operator"),
    audit.Action.MESSAGE_HANDLED: _l("handled a voice message"),
    audit.Action.ZONES_CHANGED: _l("changed the zones"),
    audit.Action.PASSWORD_CHANGED: _l("changed the password"),
    audit.Action.ACCOUNT_DELETED: _l("deleted the account"),
    audit.Action.HELPLINES_CHANGED: _l("changed an operator's helplines"),
}

STATUS_LABELS = {
    AccountStatus.PENDING: _l("Waiting for approval"),
    AccountStatus.APPROVED: _l("Approved"),
    AccountStatus.SUSPENDED: _l("Suspended"),
    AccountStatus.REJECTED: _l("Rejected"),
}

DECISION_LABELS = {
    approval.Decision.APPROVE: _l("Approve"),
    approval.Decision.REJECT: _l("Reject"),
    approval.Decision.SUSPEND: _l("Suspend"),
}

DECISION_DONE = {
    approval.Decision.APPROVE: _l("%(name)s is approved and can now claim requests."),
    approval.Decision.REJECT: _l("%(name)s was rejected."),
    approval.Decision.SUSPEND: _l(
        "%(name)s is suspended; their claimed requests are back on the board."
    ),
}

REASON_LABELS = {
    attention.Reason.UNREACHABLE: _l("could not be reached %(count)d times"),
    attention.Reason.EXPIRED: _l("claims expired %(count)d times"),
    attention.Reason.CALLDOWN: _l(
        "not reached by either of the %(count)d calls asking whether help is still needed"
    ),
}


@bp.app_template_filter("hours_minutes")
def hours_minutes(value: timedelta | None) -> str:
    """'1 h 05 min', '12 min', or a dash when there is nothing to measure."""
    if value is None:
        return "–"
    minutes = round(value.total_seconds() / 60)
    if minutes < 60:
        return gettext("%(minutes)d min", minutes=minutes)
    return gettext("%(hours)d h %(minutes)02d min", hours=minutes // 60, minutes=minutes % 60)


@bp.app_template_filter("language_name")
def language_name(code: str) -> str:
    """'de' -> 'Deutsch': a language as its speakers write it."""
    return LANGUAGE_NAMES.get(code, code) if code else "–"


@bp.app_template_filter("day_month")
def day_month(day) -> str:
    """'10 Jun', '10. Juni', '10 cze' in the page's language."""
    return format_skeleton("MMMd", day)


@bp.get("/")
def dashboard():
    figures = dashboard_figures(db_session(), settings().timezone, viewer=current_user)
    return render_template(
        "board/operator/dashboard.html",
        figures=figures,
        # No margin: the axis labels are outside the drawing (see the template).
        chart=bar_chart(figures.calls_per_day, margin=0),
        call_end_label=call_end_label,
        waiting=attention.attention_counts(
            db_session(),
            unclaimed_alert_hours=settings().unclaimed_alert_hours,
            viewer=current_user,
        ),
        unclaimed_alert_hours=settings().unclaimed_alert_hours,
        churning=_churning(),
        parked_jobs=queue.parked_count(db_session()),
    )


def _churning() -> list[churn.Churn]:
    """Volunteers who gave back unusually many requests (dashboard and Needs attention)."""
    return churn.churning_volunteers(
        db_session(), threshold=settings().churn_alert_give_backs, viewer=current_user
    )


@bp.get("/volunteers")
def volunteers():
    status = request.args.get("status", AccountStatus.PENDING)
    if status not in STATUS_LABELS:
        status = AccountStatus.PENDING
    session = db_session()
    people = approval.volunteers(session, status, viewer=current_user)
    return render_template(
        "board/operator/volunteers.html",
        status=status,
        counts=approval.status_counts(session, viewer=current_user),
        people=people,
        decisions=last_decisions(session, [person.id for person in people]),
        status_labels=STATUS_LABELS,
        decision_labels=DECISION_LABELS,
        allowed=approval.allowed_decisions,
    )


@bp.post("/volunteers/<int:user_id>")
def decide(user_id: int):
    form = NoteForm()
    back = request.form.get("status", AccountStatus.PENDING)
    back = back if back in STATUS_LABELS else AccountStatus.PENDING
    try:
        decision = approval.Decision(request.form.get("decision", ""))
    except ValueError:
        flash(gettext("Choose approve, reject or suspend."), "error")
        return redirect(url_for(".volunteers", status=back))
    if not form.validate_on_submit():
        flash(gettext("The note is too long (500 characters at most)."), "error")
        return redirect(url_for(".volunteers", status=back))
    try:
        person = approval.decide(
            db_session(), user_id, decision, operator=current_user, note=form.note.data or ""
        )
        db_session().commit()
    except approval.ApprovalError:
        flash(gettext("That account has changed meanwhile; nothing was done."), "error")
        return redirect(url_for(".volunteers", status=back))
    flash(str(DECISION_DONE[decision]) % {"name": person.name}, "success")
    return redirect(url_for(".volunteers", status=back))


@bp.get("/attention")
def attention_list():
    return _attention_page()


@bp.post("/attention/<any(requests, messages):kind>/<int:item_id>/number")
def show_number(kind: str, item_id: int):
    """Show one caller's number (and code) on the attention page, audited before it is shown."""
    return _attention_page(shown=(kind, item_id))


def _attention_page(shown: tuple[str, int] | None = None):
    session = db_session()
    items = attention.requests_needing_attention(
        session, unclaimed_alert_hours=settings().unclaimed_alert_hours, viewer=current_user
    )
    messages = attention.unhandled_operator_messages(session, viewer=current_user)
    if shown is not None:
        kind, item_id = shown
        request = next((i.request for i in items if i.request.id == item_id), None)
        call = next((m for m in messages if m.id == item_id), None)
        if kind == "requests" and request is not None and request.caller_number:
            attention.record_number_shown(session, current_user, request=request)
        elif kind == "messages" and call is not None and (call.from_number or call.callback_number):
            attention.record_number_shown(session, current_user, call=call)
        else:
            flash(gettext("That request or message no longer needs attention."), "error")
            return redirect(url_for(".attention_list"))
        session.commit()
    return render_template(
        "board/operator/attention.html",
        items=items,
        messages=messages,
        shown=shown,
        masked_number=masked_number,
        reason_text=_reason_text,
        request_type_label=_request_type_label,
        unclaimed_alert_hours=settings().unclaimed_alert_hours,
        churning=_churning(),
        parked_jobs=queue.parked_jobs(session),
    )


@bp.post("/attention/requests/<int:request_id>/<any(return, close):action>")
def resolve_request(request_id: int, action: str):
    form = NoteForm()
    if not form.validate_on_submit():
        flash(gettext("The note is too long (500 characters at most)."), "error")
        return redirect(url_for(".attention_list"))
    resolve = attention.return_to_board if action == "return" else attention.close_request
    done = resolve(db_session(), request_id, current_user, form.note.data or "")
    db_session().commit()
    if done:
        if action == "return":
            flash(gettext("The request is back on the board for volunteers."), "success")
        else:
            flash(gettext("The request is closed."), "success")
    else:
        flash(gettext("That request was closed meanwhile; nothing was changed."), "error")
    return redirect(url_for(".attention_list"))


@bp.post("/attention/messages/<int:call_id>/handled")
def message_handled(call_id: int):
    handled = attention.mark_message_handled(db_session(), call_id, current_user)
    db_session().commit()
    if handled:
        flash(gettext("The voice message is marked as handled."), "success")
    else:
        flash(gettext("That voice message was already handled."), "error")
    return redirect(url_for(".attention_list"))


@bp.get("/audit")
def audit_log():
    session = db_session()
    form = AuditFilterForm(request.args)
    people = session.scalars(
        select(User).where(person_in_scope(current_user)).order_by(User.name, User.id)
    ).all()
    form.person.choices = [(0, gettext("Everyone"))] + [
        (
            p.id,
            f"{person_name(p)} ({p.id})"
            if p.status == AccountStatus.DELETED
            else f"{p.name} ({p.email})",
        )
        for p in people
    ]
    form.action.choices = [("", gettext("All actions"))] + [
        (a.value, str(label)) for a, label in ACTION_LABELS.items()
    ]
    events, unknown_reference = [], False
    if form.validate():
        request_id = None
        if form.reference.data:
            # Another helpline's reference is unknown here, as one that does not exist.
            request_id = session.scalar(
                select(HelpRequest.id).where(
                    HelpRequest.reference == form.reference.data,
                    in_scope(current_user, HelpRequest.helpline_id),
                )
            )
            unknown_reference = request_id is None
        if not unknown_reference:
            events = audit.find_events(
                session,
                user_id=form.person.data or None,
                request_id=request_id,
                action=form.action.data or None,
                before_id=form.before.data,
                limit=AUDIT_PAGE,
                viewer=current_user,
            )
    older = None
    if len(events) == AUDIT_PAGE:
        args = {k: v for k, v in request.args.items() if k != "before"}
        older = url_for(".audit_log", **args, before=events[-1].id)
    return render_template(
        "board/operator/audit.html",
        form=form,
        events=events,
        older=older,
        unknown_reference=unknown_reference,
        describe=describe,
    ), (400 if form.errors else 200)


@bp.route("/export", methods=["GET", "POST"])
def export():
    form = ExportForm()
    session = db_session()
    choices = _export_helplines(session)
    form.helpline.choices = choices
    today = local_today(settings().timezone)
    quick = {"today": today, "yesterday": today - timedelta(days=1)}

    def page(**extra):
        return render_template(
            "board/operator/export.html",
            form=form,
            quick=quick,
            choose_helpline=len(choices) > 1,
            **extra,
        )

    if request.method == "GET":
        # Today unless a quick link asked for yesterday: the calls just made are
        # there, and the page says which day it is.
        form.first.data = quick.get(request.args.get("day", ""), today)
        form.last.data = None
        return page()
    if len(choices) == 1:
        form.helpline.data = choices[0][0]  # nothing to choose: no field shown
    if not form.validate_on_submit():
        return page(), 400
    helpline, config = _exported_helpline(session, form.helpline.data)
    days = DayRange(form.first.data, form.last.data or form.first.data)
    language, with_numbers = str(get_locale()), form.with_numbers.data
    total = prepare_export(
        session,
        days,
        config,
        with_numbers=with_numbers,
        operator=current_user,
        via="the operator pages",
        helpline=helpline,
    )
    if total == 0:
        return page(no_calls=days)
    session.commit()  # the audit event of full numbers, before any row leaves

    def stream():
        # The response is sent after the request's teardown has closed the
        # request's session, so the stream reads through a session of its
        # own and closes it itself, also when the download is cut off.
        # No deadline: a month of calls may take longer than a page (app/database_guard.py).
        with get_db().unhurried_session() as stream_session:
            yield from export_csv(
                stream_session,
                days,
                config,
                language=language,
                with_numbers=with_numbers,
                helpline_id=helpline[0] if helpline else None,
            )

    return Response(
        # The app context stays for the stream: labels are translated as rows go.
        stream_with_context(stream()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="{export_filename(days, with_numbers=with_numbers)}"'
            ),
            # Personal data: never kept by a browser cache or a proxy.
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _export_helplines(session) -> list[tuple[int, str]]:
    """What the export offers: the operator's helplines; an admin also every call at once.

    Every call, with nothing to choose, where the deployment has one helpline and
    its operator runs it, as before there were several.
    """
    own = [(row.id, row.name or row.slug) for row in helplines_of(session, current_user)]
    if current_user.is_admin:
        every = [(0, gettext("Every helpline"))]
        return every if len(own) <= 1 else every + own
    return own or [(-1, "–")]  # runs none: an export of no calls


def _exported_helpline(session, helpline_id: int):
    """(id, slug) of the helpline chosen, or None for every call (an admin's); and the
    settings of the export, in that helpline's time zone (its local days)."""
    config = settings()
    if helpline_id == 0 and current_user.is_admin:
        return None, config
    slug = session.scalar(
        select(HelplineRow.slug).where(
            HelplineRow.id == helpline_id, in_scope(current_user, HelplineRow.id)
        )
    )
    found = helpline_by_slug(config.helplines, slug) if slug else None
    if found is not None:
        config = replace(config, timezone=found.timezone)
    return (helpline_id if slug else -1, slug or ""), config


def _reason_text(item: attention.AttentionItem, reason: str) -> str:
    if reason == attention.Reason.UNCLAIMED:
        hours = int(item.unclaimed_for.total_seconds() // 3600)
        return ngettext(
            "nobody has taken it for %(num)d hour",
            "nobody has taken it for %(num)d hours",
            hours,
        )
    count = {
        attention.Reason.UNREACHABLE: item.request.unreachable_count,
        attention.Reason.EXPIRED: item.request.expired_claims,
        attention.Reason.CALLDOWN: calldown.ATTEMPTS,
    }.get(reason, 0)
    return str(REASON_LABELS[reason]) % {"count": count}


def _request_type_label(code: str) -> str:
    kind = settings().request_type(code)
    return kind.label(str(get_locale())) if kind else code
