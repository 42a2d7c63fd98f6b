"""Operator pages: thin views over app.requests.dashboard, app.accounts.approval,
app.requests.attention, app.audit and app.calls.export (the same export as
`hotline calls export`)."""

from __future__ import annotations

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
from app.calls import calldown
from app.calls.export import DayRange, export_csv, export_filename, local_today, prepare_export
from app.calls.labels import call_end_label
from app.database import db_session, get_db
from app.i18n import LANGUAGE_NAMES, format_skeleton
from app.jobs import queue
from app.models import AccountStatus, HelpRequest, User
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
    figures = dashboard_figures(db_session(), settings().timezone)
    return render_template(
        "board/operator/dashboard.html",
        figures=figures,
        # No margin: the axis labels are outside the drawing (see the template).
        chart=bar_chart(figures.calls_per_day, margin=0),
        call_end_label=call_end_label,
        waiting=attention.attention_counts(
            db_session(), unclaimed_alert_hours=settings().unclaimed_alert_hours
        ),
        unclaimed_alert_hours=settings().unclaimed_alert_hours,
        churning=_churning(),
        parked_jobs=queue.parked_count(db_session()),
    )


def _churning() -> list[churn.Churn]:
    """Volunteers who gave back unusually many requests (dashboard and Needs attention)."""
    return churn.churning_volunteers(db_session(), threshold=settings().churn_alert_give_backs)


@bp.get("/volunteers")
def volunteers():
    status = request.args.get("status", AccountStatus.PENDING)
    if status not in STATUS_LABELS:
        status = AccountStatus.PENDING
    session = db_session()
    people = approval.volunteers(session, status)
    return render_template(
        "board/operator/volunteers.html",
        status=status,
        counts=approval.status_counts(session),
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
        session, unclaimed_alert_hours=settings().unclaimed_alert_hours
    )
    messages = attention.unhandled_operator_messages(session)
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
    people = session.scalars(select(User).order_by(User.name, User.id)).all()
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
            request_id = session.scalar(
                select(HelpRequest.id).where(HelpRequest.reference == form.reference.data)
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
    today = local_today(settings().timezone)
    quick = {"today": today, "yesterday": today - timedelta(days=1)}

    def page(**extra):
        return render_template("board/operator/export.html", form=form, quick=quick, **extra)

    if request.method == "GET":
        # Today unless a quick link asked for yesterday: the calls just made are
        # there, and the page says which day it is.
        form.first.data = quick.get(request.args.get("day", ""), today)
        form.last.data = None
        return page()
    if not form.validate_on_submit():
        return page(), 400
    days = DayRange(form.first.data, form.last.data or form.first.data)
    language, with_numbers = str(get_locale()), form.with_numbers.data
    session = db_session()
    total = prepare_export(
        session,
        days,
        settings(),
        with_numbers=with_numbers,
        operator=current_user,
        via="the operator pages",
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
                stream_session, days, settings(), language=language, with_numbers=with_numbers
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
