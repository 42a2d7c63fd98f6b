"""A caller who withholds their number, all the way: phone, board, operators, export.

They type a number to be called back on. Whoever is to call back must see
that number: the volunteer who claims the request, and the operators when the
caller left a voice message for them instead.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit import Action
from app.call_export import DayRange, export_csv
from app.models import AuditEvent, Call, HelpRequest
from voice.simulator import Phone

OPERATOR = "+4930999000"
TYPED = "030123456"
EN = {"Accept-Language": "en"}


@pytest.fixture
def line(another_app, berlin):
    """The phone line with an operator to put callers through to (who will not answer)."""
    return Phone.for_app(another_app(operator_phone=OPERATOR))


def types_a_callback_number(phone: Phone):
    call = phone.call("anonymous")
    call.press("1")  # Deutsch
    call.press(f"{TYPED}#")
    call.press("1")  # yes, that is my number
    return call


def leaves_a_message_for_the_operators(call) -> None:
    call.press("0")
    call.operator_does_not_answer()
    call.speak(seconds=20)
    assert call.ended


def test_the_request_of_a_withheld_caller_carries_the_typed_number_to_the_volunteer(
    phone, berlin, client, auth, signed_in
):
    call = types_a_callback_number(phone)
    for keys in ("10115", "1", "1", "#"):  # postcode, confirmed, shopping, no message
        call.press(keys)
    [request] = berlin.scalars(select(HelpRequest)).all()
    assert request.caller_number == TYPED

    board = client.get("/requests", headers=EN).text
    assert request.reference in board and TYPED not in board, "only the claimer sees it"
    auth.post(f"/requests/{request.reference}/claim")
    page = client.get(f"/requests/{request.reference}", headers=EN).text
    assert f'href="tel:{TYPED}"' in page
    assert "withheld" not in page


def test_the_operators_see_the_typed_number_of_a_voice_message(line, berlin, login, operator):
    leaves_a_message_for_the_operators(types_a_callback_number(line))

    page = login(operator).get("/operator/attention", headers=EN).text

    assert f'<a href="tel:{TYPED}">{TYPED}</a>' in page
    assert "Number withheld; the caller typed this one to be called back on." in page


def test_a_message_without_a_typed_number_says_where_the_number_is(line, berlin, login, operator):
    call = line.call("anonymous")
    call.press("1")
    leaves_a_message_for_the_operators(call)  # 0 before typing any number

    page = login(operator).get("/operator/attention", headers=EN).text

    assert "tel:" not in page
    assert "The caller was asked to say their number in the message." in page
    assert not berlin.scalars(
        select(AuditEvent).where(AuditEvent.action == Action.NUMBER_VIEWED)
    ).all()


def test_the_export_has_the_typed_number_masked_or_in_full(line, app, berlin):
    leaves_a_message_for_the_operators(types_a_callback_number(line))
    [logged] = berlin.scalars(select(Call)).all()
    day = DayRange.single(logged.started_at.astimezone(app.config["HOTLINE"].timezone).date())
    settings = app.config["HOTLINE"]

    def last_row(**options) -> str:
        data = b"".join(export_csv(berlin, day, settings, language="en", **options))
        return data.decode("utf-8-sig").splitlines()[-1]

    assert last_row().endswith(",withheld,*** **56")
    assert last_row(with_numbers=True).endswith(f",withheld,{TYPED}")
