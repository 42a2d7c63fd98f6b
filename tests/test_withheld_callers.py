"""A caller who withholds their number, all the way: phone, board, operators, export.

They type a number to be called back on. Whoever is to call back must see
that number: the volunteer who claims the request, and the operators when the
caller left a voice message for them instead. And a withheld number is nobody's
number: two callers who withheld theirs, however Twilio spelt it, never hear
each other's request.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit import Action
from app.calls.export import DayRange, export_csv
from app.models import AuditEvent, Call, HelpRequest, RequestStatus
from app.phone_numbers import WITHHELD_KEYPAD, WITHHELD_WORDS, caller_number, keypad_spelling
from tests.conftest import csrf_token
from voice.flow import spell
from voice.simulator.phone import Phone

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
    # Laid out for reading, and dialled in E.164 (as typed at home: Germany's).
    assert 'href="tel:+4930123456"' in page and "030 123456" in page
    assert "withheld" not in page


def test_the_operators_see_the_typed_number_of_a_voice_message(
    line, berlin, client, login, operator
):
    leaves_a_message_for_the_operators(types_a_callback_number(line))
    [message] = berlin.scalars(select(Call)).all()

    login(operator)
    listed = client.get("/operator/attention", headers=EN).text
    shown = client.post(
        f"/operator/attention/messages/{message.id}/number",
        data={"csrf_token": csrf_token(client)},
        headers=EN,
    ).text

    assert TYPED not in listed and "Show number" in listed
    assert '<a href="tel:+4930123456" class="nowrap">030 123456</a>' in shown
    assert "Number withheld; the caller typed this one to be called back on." in shown


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


# -- two callers with the same withheld "number" ----------------------------------------

# The words Twilio and carriers send for a withheld number, and the keypad spellings
# Twilio sent before (help.twilio.com, "Why am I getting calls from these strange
# numbers?"), written out here so that a slip in working them out shows.
WORDS = ["anonymous", "restricted", "unavailable", "unknown", "blocked", "private", "withheld"]
KEYPAD = {
    "anonymous": "266696687",
    "restricted": "7378742833",
    "unavailable": "86282452253",
    "unknown": "8656696",
    "blocked": "2562533",
    "private": "7748283",
    "withheld": "94844353",
}
# No number at all, or something that is no phone number: no caller identity either.
NO_NUMBER = ["", "   ", "sip:anna@example.org", "client:alice"]
SPELLINGS = (
    [spelt for word in WORDS for spelt in (word, word.upper(), word.title())]
    + [prefix + digits for digits in KEYPAD.values() for prefix in ("+", "")]
    + NO_NUMBER
)
FIRST_TYPED, SECOND_TYPED = "030111111", "030222222"


def test_the_keypad_spellings_are_the_words_on_a_keypad():
    assert {keypad_spelling(word) for word in WORDS} == set(KEYPAD.values())
    assert set(WORDS) == WITHHELD_WORDS
    assert {p + d for d in KEYPAD.values() for p in ("+", "")} == WITHHELD_KEYPAD


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_withheld_spelling_is_no_callers_number(spelling):
    assert caller_number(spelling) is None


def request_from(phone: Phone, caller: str, typed: str):
    """A whole call from a withheld number: German, the typed number, Mitte, shopping."""
    call = phone.call(caller)
    call.press("1")
    assert "Ihre Telefonnummer wird uns nicht angezeigt." in call.text, call.transcript()
    for keys in (f"{typed}#", "1", "10115", "1", "1", "#"):
        call.press(keys)
    return call


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_two_callers_with_the_same_withheld_number_never_meet(phone, berlin, spelling):
    first_call = request_from(phone, spelling, FIRST_TYPED)
    first_call.hang_up()
    [first] = berlin.scalars(select(HelpRequest)).all()

    second_call = request_from(phone, spelling, SECOND_TYPED)

    heard = second_call.text
    assert "Sie haben bei uns schon eine Anfrage" not in heard, "the first caller's request"
    assert "zurückzuziehen" not in heard, "an offer to cancel it"
    # As a code is said: its digits alone may be heard in a postcode or a number read back.
    assert f"Code lautet: {spell(first.verification_code)}" not in heard, "the first caller's code"
    requests = berlin.scalars(select(HelpRequest).order_by(HelpRequest.id)).all()
    assert [(r.caller_number, r.status) for r in requests] == [
        (FIRST_TYPED, RequestStatus.OPEN),
        (SECOND_TYPED, RequestStatus.OPEN),
    ]
    assert f"Code lautet: {spell(requests[1].verification_code)}" in heard
    logged = berlin.scalars(select(Call).order_by(Call.id)).all()
    assert [(c.from_number, c.callback_number) for c in logged] == [
        (None, FIRST_TYPED),
        (None, SECOND_TYPED),
    ]
