"""The board: open requests by zone, claiming one, and the volunteer's own requests.

Thin views over app.requests.claims. Filters live in the query string, so a reload, a
bookmark, the refresh link and the 30-second refresh all keep them. A
caller's number is rendered in exactly one place (the request page of the
volunteer holding the claim), and only after the view was written to the audit log.
"""

from __future__ import annotations

from collections import Counter

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.calls import bridge, calldown, claim_notice
from app.database import db_session, utcnow
from app.models import HelpRequest, RequestStatus
from app.requests.attention import UNREACHABLE_LIMIT
from app.requests.claims import (
    UNDO_DONE_MINUTES,
    UNREACHABLE_REPEAT_MINUTES,
    Access,
    BoardFilters,
    ClaimResult,
    ReleaseResult,
    Reopened,
    SeenRequest,
    claim_deadline,
    claim_expired,
    claim_request,
    claims_held_by,
    complete_request,
    done_undoable_until,
    expire_stale_claims,
    open_claim_count,
    open_requests,
    recently_closed_by,
    record_number_viewed,
    record_unreachable,
    release_request,
    reopen_request,
    request_seen_by,
    zones_served_by,
)
from app.requests.counts import RememberedCounts
from app.requests.intake import code_renewed
from app.zones.postcodes import neighbourhoods
from board import bp, local_path, settings
from board.accounts import approved_required
from board.formatting import language_name, request_type_label
from board.forms import ActionForm, DoneForm, FilterForm, ReleaseForm

REFUSALS = {
    Access.OTHER_CLAIMER: _l("Another volunteer has taken this request. Only they see it."),
    Access.OUTSIDE_ZONES: _l("This request is in a zone you do not serve."),
}


def remembered_counts() -> RememberedCounts:
    """This process's remembered board counts (app.requests.counts)."""
    return current_app.extensions["hotline_board_counts"]


def _session_with_fresh_claims():
    """The request's session, after returning stale claims to the board.

    Before every change a volunteer makes (and from cron and the worker), so
    that a stale claim is free to take and does not count against a limit.
    Pages that only show things write nothing: they leave out claims past
    their deadline instead (claim_expired).
    """
    session = db_session()
    if expire_stale_claims(session, settings().claim_timeout_hours):
        session.commit()  # returned, whatever this post goes on to do or refuse
    return session


def _filters(zones, keys: dict[int, str]) -> tuple[FilterForm, BoardFilters]:
    """The filter form read from the query string; invalid values are reported and ignored.

    With zones of several helplines the choices are every one of those lines' kinds of
    help and languages, and a zone slug two lines share is told apart (`keys`, zone_keys)."""
    several = _several_lines(zones)
    form = FilterForm(formdata=request.args)
    form.zone.choices = [SelectChoice("", _("All my zones"))] + [
        SelectChoice(keys[z.id], zone_label(z, keys, several)) for z in zones
    ]
    lines = _lines_of(zones)
    form.type.choices = [SelectChoice("", _("Any kind"))] + [
        SelectChoice(code, request_type_label(code))
        for code in _unique(t.code for line in lines for t in line.request_types)
    ]
    form.language.choices = [SelectChoice("", _("Any language"))] + [
        SelectChoice(code, language_name(code))
        for code in _unique(code for line in lines for code in line.phone_languages)
    ]
    form.validate()
    zone_ids = {key: zone_id for zone_id, key in keys.items()}

    def valid(field) -> str:
        return "" if field.errors else (field.data or "")

    filters = BoardFilters(
        zone_id=zone_ids.get(valid(form.zone)),
        postcode_prefix=valid(form.postcode),
        request_type=valid(form.type),
        language=valid(form.language),
    )
    return form, filters


def zone_keys(zones) -> dict[int, str]:
    """Each zone's value in the board's URL (?zone=): its slug, or "line:slug" where two
    of these zones' helplines use the same slug (a "mitte" in Berlin and in Gdańsk)."""
    shared = Counter(z.slug for z in zones)
    return {z.id: z.slug if shared[z.slug] == 1 else f"{z.helpline.slug}:{z.slug}" for z in zones}


def zone_label(zone, keys: dict[int, str], several: bool) -> str:
    """A zone's name, with its helpline's where the name alone could mean two places."""
    if several and ":" in keys[zone.id]:
        return f"{zone.name} ({zone.helpline.name})"
    return zone.name


def _lines_of(zones) -> list:
    """The configured helplines the zones belong to (the top level's, for a lone line)."""
    config = settings()
    slugs = {z.helpline.slug for z in zones}
    lines = [h for h in config.helplines if h.slug in slugs]
    return lines or list(config.helplines)


def _several_lines(zones) -> bool:
    return len({z.helpline_id for z in zones}) > 1


def _unique(values) -> list:
    return list(dict.fromkeys(values))


def _board_page(template: str):
    session = db_session()
    zones = zones_served_by(session, current_user)
    keys = zone_keys(zones)
    form, filters = _filters(zones, keys)
    board = open_requests(session, zones, filters, remembered=remembered_counts())
    return render_template(
        template,
        form=form,
        filters=filters,
        board=board,
        zones=zones,
        neighbourhoods=neighbourhoods(session, board.requests),
        zone_keys=keys,
        several_lines=_several_lines(zones),
        held=open_claim_count(session, current_user),
        max_open_claims=settings().max_open_claims,
        filtered=filters.narrowed,
        claim_form=ActionForm(),
        board_url=_board_url(),
    )


def _board_url() -> str:
    """The board with the filters of this request, for the refresh link and for coming back."""
    query = request.query_string.decode("ascii", "replace")
    return url_for("board.requests") + (f"?{query}" if query else "")


@bp.get("/requests")
@approved_required
def requests():
    """The board: open requests in the volunteer's zones, oldest first."""
    return _board_page("board/requests.html")


@bp.get("/requests/list")
@approved_required
def requests_list():
    """The list part of the board alone, fetched by the page every 30 seconds."""
    return _board_page("board/_request_list.html")


def _seen_or_404(session, reference: str) -> SeenRequest:
    """The request and what the volunteer may see of it; 404 if there is no such request,
    or (to an operator) if it is another helpline's: no operator learns that it exists."""
    seen = request_seen_by(session, reference, current_user)
    if seen is None or (current_user.is_operator and seen.access == Access.OUTSIDE_ZONES):
        abort(404)
    return seen


def _refuse(access: Access):
    message = REFUSALS.get(access, _l("You cannot see this request."))
    return render_template("board/error.html", title=_l("Not for you"), message=message), 403


@bp.get("/requests/<reference>")
@approved_required
def request_page(reference: str):
    """One request: its card to claim, or (for its claimer only) how to call the caller back."""
    session = db_session()
    help_request, access = _seen_or_404(session, reference)
    if access == Access.CLAIMER:
        if claim_expired(help_request, settings().claim_timeout_hours):
            flash(_lost_claim_message(help_request), "error")
            return redirect(url_for("board.my_requests"))
        return _claimed_page(session, help_request)
    if not access.allowed and access != Access.CLOSED:
        # 403 rather than 404, so that a volunteer following a colleague's
        # link learns why; references are random (25^6), so confirming that
        # one exists tells nobody anything they could use.
        return _refuse(access)
    return render_template(
        "board/request.html",
        help_request=help_request,
        confirmed=calldown.confirmed_on(session, help_request.id),
        access=access,
        neighbourhoods=neighbourhoods(session, [help_request]),
        claim_form=ActionForm(),
        at_limit=access == Access.CARD
        and open_claim_count(session, current_user) >= settings().max_open_claims,
    )


def _claimed_page(session, help_request: HelpRequest, status: int = 200, **forms):
    from board.call_through import progress, rings_where  # here: it imports this module

    # Audited before rendering: the number is never on a page the log does not know of.
    # With show_caller_numbers off it is on no volunteer's page: the call goes through us.
    show_number = settings().show_caller_numbers
    if show_number and not record_number_viewed(session, help_request, current_user):
        return redirect(url_for("board.request_page", reference=help_request.reference))
    session.commit()
    bridged = bridge.latest(session, help_request, current_user)
    return render_template(
        "board/claimed.html",
        help_request=help_request,
        show_number=show_number,
        confirmed=calldown.confirmed_on(session, help_request.id),
        call_progress=progress(bridged) if bridged else "",
        call_rings=rings_where(current_user),
        neighbourhoods=neighbourhoods(session, [help_request]),
        deadline=claim_deadline(help_request, settings().claim_timeout_hours),
        code_renewed=code_renewed(session, help_request.id),
        unreachable_limit=UNREACHABLE_LIMIT,
        done_form=forms.get("done_form") or DoneForm(formdata=None),
        release_form=forms.get("release_form") or ReleaseForm(formdata=None),
        action_form=ActionForm(formdata=None),
    ), status


@bp.post("/requests/<reference>/claim")
@approved_required
def claim(reference: str):
    # Stale claims go back to the board first: one of them may be this very
    # request, or count against the volunteer's limit.
    session = _session_with_fresh_claims()
    limit = settings().max_open_claims
    result = claim_request(
        session,
        reference,
        current_user,
        max_open_claims=limit,
        claims_per_hour=settings().claims_per_hour,
    )
    if result == ClaimResult.CLAIMED and settings().notify_caller_on_claim:
        claim_notice.queue(session, reference)
    session.commit()
    if result == ClaimResult.NO_SUCH_REQUEST:
        abort(404)
    if result in (ClaimResult.CLAIMED, ClaimResult.ALREADY_YOURS):
        if result == ClaimResult.CLAIMED:
            flash(_("It is yours. Please call back soon."), "success")
        return redirect(url_for("board.request_page", reference=reference))
    if result == ClaimResult.OUTSIDE_ZONES:
        if current_user.is_operator:
            abort(404)  # another helpline's, as _seen_or_404 answers
        return _refuse(Access.OUTSIDE_ZONES)
    if result == ClaimResult.NOT_ALLOWED:
        return _refuse(Access.NOT_APPROVED)
    if result == ClaimResult.LIMIT_REACHED:
        flash(
            _(
                "You already hold %(n)d requests. Please finish or give back one of them "
                "before taking another.",
                n=limit,
            ),
            "error",
        )
        return redirect(url_for("board.my_requests"))
    if result == ClaimResult.HOURLY_LIMIT:
        flash(
            ngettext(
                "You have taken %(num)d request within the last hour, the most one volunteer "
                "may take in an hour. Please call back the callers you hold first; you can "
                "take more later.",
                "You have taken %(num)d requests within the last hour, the most one volunteer "
                "may take in an hour. Please call back the callers you hold first; you can "
                "take more later.",
                settings().claims_per_hour,
            ),
            "error",
        )
        return redirect(url_for("board.my_requests"))
    if result == ClaimResult.TAKEN:
        flash(_("Another volunteer has just taken this request. Thank you all the same!"), "error")
    else:
        flash(_("This request is no longer open: the caller no longer needs help."), "error")
    return redirect(local_path(request.form.get("next"), url_for("board.requests")))


def _own_claim_or_refuse(session, reference: str):
    """The request if the volunteer still holds it, else the response to send instead."""
    help_request, access = _seen_or_404(session, reference)
    if access == Access.CLAIMER and not claim_expired(help_request, settings().claim_timeout_hours):
        return help_request, None
    if access in (Access.OTHER_CLAIMER, Access.OUTSIDE_ZONES):
        return None, _refuse(access)
    flash(_lost_claim_message(help_request), "error")
    return None, redirect(url_for("board.my_requests"))


def _lost_claim_message(help_request: HelpRequest) -> str:
    if help_request.status == RequestStatus.CANCELLED:
        return _("The caller has cancelled this request. Nothing more to do, thank you.")
    if help_request.status == RequestStatus.DONE:
        return _("This request is already marked as done.")
    return _(
        "This request is no longer yours: it was not done within %(hours)d hours and went "
        "back to the board.",
        hours=settings().claim_timeout_hours,
    )


@bp.post("/requests/<reference>/done")
@approved_required
def mark_done(reference: str):
    session = _session_with_fresh_claims()
    help_request, refusal = _own_claim_or_refuse(session, reference)
    if refusal:
        return refusal
    form = DoneForm()
    if not form.validate():
        return _claimed_page(session, help_request, status=422, done_form=form)
    if not form.confirmed.data:
        # A step of its own, without JavaScript: "done" takes the request off every
        # list, so one slip of the thumb must not do it. Nothing is written yet.
        return render_template(
            "board/confirm_done.html",
            help_request=help_request,
            neighbourhoods=neighbourhoods(session, [help_request]),
            done_form=form,
            undo_minutes=UNDO_DONE_MINUTES,
        )
    done = complete_request(session, help_request, current_user, form.note.data or "")
    session.commit()
    if done:
        flash(
            _(
                "Marked as done. Thank you for helping! Pressed by mistake? You can undo it "
                "under “Recently finished” for %(minutes)d minutes.",
                minutes=UNDO_DONE_MINUTES,
            ),
            "success",
        )
    else:
        flash(_lost_claim_message(help_request), "error")
    return redirect(url_for("board.my_requests"))


@bp.post("/requests/<reference>/release")
@approved_required
def release(reference: str):
    session = _session_with_fresh_claims()
    help_request, refusal = _own_claim_or_refuse(session, reference)
    if refusal:
        return refusal
    form = ReleaseForm()
    if not form.validate():
        return _claimed_page(session, help_request, status=422, release_form=form)
    reason = form.reason.data + (f": {form.note.data.strip()}" if form.note.data else "")
    result = release_request(
        session,
        help_request,
        current_user,
        reason,
        give_backs_per_hour=settings().give_backs_per_hour,
    )
    session.commit()
    if result == ReleaseResult.RELEASED:
        flash(_("Given back. The request is on the board again for someone else."), "success")
    elif result == ReleaseResult.HOURLY_LIMIT:
        flash(
            ngettext(
                "You have given back %(num)d request within the last hour, the most one "
                "volunteer may give back in an hour. This one stays yours: please call the "
                "caller, or ask the operators to take it over.",
                "You have given back %(num)d requests within the last hour, the most one "
                "volunteer may give back in an hour. This one stays yours: please call the "
                "caller, or ask the operators to take it over.",
                settings().give_backs_per_hour,
            ),
            "error",
        )
    else:
        flash(_lost_claim_message(help_request), "error")
    return redirect(url_for("board.my_requests"))


@bp.post("/requests/<reference>/unreachable")
@approved_required
def unreachable(reference: str):
    session = _session_with_fresh_claims()
    help_request, refusal = _own_claim_or_refuse(session, reference)
    if refusal:
        return refusal
    attempt = record_unreachable(session, help_request, current_user)
    session.commit()
    if attempt is None:
        flash(_lost_claim_message(help_request), "error")
        return redirect(url_for("board.my_requests"))
    attempts = attempt.attempts
    if not attempt.counted:
        message = _(
            "Already noted a few minutes ago: attempts within %(minutes)d minutes count as "
            "one. Please try again later, at another time of day.",
            minutes=UNREACHABLE_REPEAT_MINUTES,
        )
    elif attempts >= UNREACHABLE_LIMIT:
        message = ngettext(
            "Noted: %(num)d call without reaching anyone. The operators have been asked to "
            "look at this request. You may keep trying or give it back.",
            "Noted: %(num)d calls without reaching anyone. The operators have been asked to "
            "look at this request. You may keep trying or give it back.",
            attempts,
        )
    else:
        message = ngettext(
            "Noted: %(num)d call without reaching anyone. Please try again later, at "
            "another time of day.",
            "Noted: %(num)d calls without reaching anyone. Please try again later, at "
            "another time of day.",
            attempts,
        )
    flash(message, "info")
    return redirect(local_path(request.form.get("next"), url_for("board.my_requests")))


@bp.post("/requests/<reference>/reopen")
@approved_required
def reopen(reference: str):
    """Undo "done" soon after (UNDO_DONE_MINUTES): the request is the volunteer's claim again."""
    session = _session_with_fresh_claims()
    help_request, access = _seen_or_404(session, reference)
    if access not in (Access.FORMER, Access.CLAIMER):
        return _refuse(access)
    form = ActionForm()
    if not form.validate():
        abort(400)
    result = reopen_request(
        session, help_request, current_user, max_open_claims=settings().max_open_claims
    )
    session.commit()
    if result == Reopened.REOPENED:
        flash(_("Undone: the request is yours again and not marked as done."), "success")
        return redirect(url_for("board.request_page", reference=help_request.reference))
    if result == Reopened.LIMIT_REACHED:
        flash(
            _(
                "You already hold %(n)d requests, so this one cannot be yours again. Please "
                "finish or give back one of them first.",
                n=settings().max_open_claims,
            ),
            "error",
        )
    else:
        flash(
            _(
                "This can no longer be undone: more than %(minutes)d minutes have passed.",
                minutes=UNDO_DONE_MINUTES,
            ),
            "error",
        )
    return redirect(url_for("board.my_requests"))


@bp.get("/my-requests")
@approved_required
def my_requests():
    """The requests the volunteer holds (no numbers here: one tap shows them, audited)."""
    session = db_session()
    timeout = settings().claim_timeout_hours
    held = [r for r in claims_held_by(session, current_user) if not claim_expired(r, timeout)]
    closed = recently_closed_by(session, current_user)
    now = utcnow()
    return render_template(
        "board/my_requests.html",
        held=held,
        closed=closed,
        neighbourhoods=neighbourhoods(session, held + closed),
        deadlines={r.id: claim_deadline(r, timeout) for r in held},
        undoable={r.id: until for r in closed if (until := done_undoable_until(r)) and until > now},
        max_open_claims=settings().max_open_claims,
        unreachable_limit=UNREACHABLE_LIMIT,
        done_form=DoneForm(formdata=None),
        release_form=ReleaseForm(formdata=None),
        action_form=ActionForm(formdata=None),
    )
