"""The call flow as a state machine, without HTTP or a database."""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field

import pytest

from app.calls.bridge import Bridge
from app.calls.calldown import CalldownInfo
from app.config import load_settings
from app.models import CallOutcome, CallStep
from voice import build_line
from voice.flow import (
    INVALID_ANSWERS_BEFORE_HELP,
    MENU_TIMEOUT,
    Arrive,
    Ask,
    BridgeEnded,
    CallBack,
    CalldownEnded,
    CancelRequest,
    CreateRequest,
    Dial,
    DialEnded,
    GoTo,
    Hangup,
    Keys,
    NoAnswer,
    Pause,
    Place,
    Record,
    Recording,
    RequestInfo,
    SaveCallbackNumber,
    SaveOperatorMessage,
    Say,
    State,
    advance,
    apology,
    call_back,
    spell,
    start,
)

OPERATOR = "+4930999000"


@dataclass
class FakeFacts:
    """The database, as the flow sees it."""

    caller_withheld: bool = False
    requests: dict[str, RequestInfo] = field(default_factory=dict)
    active: str = ""
    places: dict[str, Place] = field(default_factory=lambda: {"10115": Place("10115", "Mitte", 1)})
    stored: RequestInfo | None = None
    typed_number: str = ""
    open_count: int = 0  # open requests of the number a request would be stored under
    bridges: dict[int, Bridge] = field(default_factory=dict)

    calldowns: dict[int, CalldownInfo] = field(default_factory=dict)

    def bridge(self, bridge_id):
        return self.bridges.get(bridge_id)

    def calldown(self, calldown_id):
        return self.calldowns.get(calldown_id)

    def active_request(self):
        return self.requests.get(self.active)

    def request(self, reference):
        return self.requests.get(reference)

    def place(self, postcode):
        return self.places.get(postcode)

    def stored_request(self):
        return self.stored

    def callback_number(self):
        return self.typed_number

    def open_request_count(self):
        return self.open_count


@pytest.fixture(scope="module")
def line():
    return build_line(load_settings(None, env={}))


@pytest.fixture(scope="module")
def line_with_operator(line):
    return dataclasses.replace(line, operator_phone=OPERATOR)


def says(turn) -> list[Say]:
    """Every <Say> of a turn, nested questions included."""
    found = []
    for verb in turn.reply:
        if isinstance(verb, Say):
            found.append(verb)
        elif isinstance(verb, Ask):
            found += [p for p in verb.prompts if isinstance(p, Say)]
            found += [v for v in verb.otherwise or () if isinstance(v, Say)]
    return found


def spoken(turn) -> str:
    """Everything the caller hears in a turn."""
    return " ".join(s.text for s in says(turn))


def question(turn) -> Ask:
    asks = [v for v in turn.reply if isinstance(v, Ask)]
    assert len(asks) == 1, turn.reply
    return asks[0]


def at(step: CallStep, **chosen) -> State:
    return State(step=step, language="de", turn=5, **chosen)


def test_the_call_opens_with_each_language_in_its_own_voice(line):
    turn = start(line, FakeFacts())
    menu = question(turn)
    assert turn.state.step is CallStep.LANGUAGE
    assert [(s.language, s.text) for s in menu.prompts[1:]] == [
        ("de", "Für Deutsch drücken Sie die 1."),
        ("en", "For English, press 2."),
        ("pl", "Po polsku proszę nacisnąć 3."),
    ]
    assert menu.max_digits == 1 and menu.timeout >= 8


def test_one_language_skips_the_menu(line):
    german_only = dataclasses.replace(line, languages=("de",))
    turn = start(german_only, FakeFacts())
    assert turn.state.step is CallStep.POSTCODE
    assert spoken(turn).startswith("Guten Tag")
    assert "Postleitzahl" in spoken(turn)


@pytest.mark.parametrize(("key", "language"), [("1", "de"), ("2", "en"), ("3", "pl")])
def test_choosing_a_language(line, key, language):
    turn = advance(line, at(CallStep.LANGUAGE), Keys(key), FakeFacts())
    assert turn.state.step is CallStep.POSTCODE
    assert turn.state.language == language
    assert {s.language for s in question(turn).prompts} == {language}


def test_silence_at_the_language_menu_asks_again_then_takes_the_default(line):
    first = advance(line, at(CallStep.LANGUAGE), NoAnswer(), FakeFacts())
    assert first.state.step is CallStep.LANGUAGE and first.state.silences == 1
    assert "nichts gehört" in spoken(first)
    second = advance(line, first.state, NoAnswer(), FakeFacts())
    assert second.state.step is CallStep.POSTCODE and second.state.language == "de"


def test_a_withheld_number_is_asked_for_a_callback_number(line):
    facts = FakeFacts(caller_withheld=True)
    turn = advance(line, at(CallStep.LANGUAGE), Keys("1"), facts)
    assert turn.state.step is CallStep.CALLBACK_NUMBER
    assert question(turn).max_digits is None  # any length, finished with #
    typed = advance(line, turn.state, Keys("030123456"), facts)
    assert typed.effects == (SaveCallbackNumber("030123456"),)
    assert "0, 3, 0, 1, 2, 3, 4, 5, 6" in spoken(typed)
    confirmed = advance(line, typed.state, Keys("1"), facts)
    assert confirmed.state.step is CallStep.POSTCODE


@pytest.mark.parametrize("typed", ["12", "1234567890123456"])
def test_a_callback_number_must_look_like_one(line, typed):
    turn = advance(line, at(CallStep.CALLBACK_NUMBER), Keys(typed), FakeFacts(caller_withheld=True))
    assert turn.state.step is CallStep.CALLBACK_NUMBER and turn.state.invalid == 1
    assert "Vorwahl" in spoken(turn)
    assert turn.effects == ()


def test_a_withheld_caller_who_types_nothing_hears_why_and_the_hours(line):
    state = at(CallStep.CALLBACK_NUMBER, silences=1)
    turn = advance(line, state, NoAnswer(), FakeFacts(caller_withheld=True))
    assert "angezeigter Nummer" in spoken(turn)
    assert "montags bis freitags" in spoken(turn)
    assert isinstance(turn.reply[-1], Hangup)
    assert turn.outcome is CallOutcome.GAVE_UP


def test_a_repeat_caller_hears_the_request_first(line):
    info = RequestInfo("HX7-K4M", "pharmacy", "claimed", "0427")
    facts = FakeFacts(requests={"HX7-K4M": info}, active="HX7-K4M")
    turn = advance(line, at(CallStep.LANGUAGE), Keys("1"), facts)
    assert turn.state.step is CallStep.EXISTING and turn.state.reference == "HX7-K4M"
    assert "schon eine Anfrage: Apotheke" in spoken(turn)
    assert "übernommen" in spoken(turn)

    # The code and cancelling only on a call to the number on record: caller ID is easy
    # to forge.
    for keys in ("1", "2"):
        code = advance(line, turn.state, Keys(keys), facts)
        assert "0, 4, 2, 7" not in spoken(code)
        assert "Wir rufen Sie gleich unter dieser Nummer zurück" in spoken(code)
        assert code.effects == (CallBack("HX7-K4M", "de"),)
        assert isinstance(code.reply[-1], Hangup)
        assert code.outcome is CallOutcome.REPEAT_CALLER

    back = call_back(line, at(CallStep.CALLBACK_CODE, reference="HX7-K4M"), facts)
    assert "Wir rufen Sie zurück, wie Sie es gewünscht haben." in spoken(back)
    assert spoken(back).count("0, 4, 2, 7") == 2
    again = advance(line, back.state, Keys("2"), facts)
    assert spoken(again).count("0, 4, 2, 7") == 2
    cancel = advance(line, back.state, Keys("1"), facts)
    assert cancel.state.step is CallStep.CONFIRM_CANCEL
    done = advance(line, cancel.state, Keys("1"), facts)
    assert done.effects == (CancelRequest("HX7-K4M"),)
    assert done.outcome is CallOutcome.CANCELLED
    assert "zurückgezogen" in spoken(done) and isinstance(done.reply[-1], Hangup)

    kept = advance(line, cancel.state, Keys("2"), facts)
    assert kept.effects == () and "bleibt bestehen" in spoken(kept)

    new = advance(line, turn.state, Keys("3"), facts)
    assert new.state.step is CallStep.POSTCODE


def test_cancelling_a_request_that_closed_meanwhile_says_so(line):
    info = RequestInfo("HX7-K4M", "pharmacy", "done", "0427")
    facts = FakeFacts(requests={"HX7-K4M": info})
    turn = advance(line, at(CallStep.CONFIRM_CANCEL, reference="HX7-K4M"), Keys("1"), facts)
    assert turn.effects == ()
    assert "bereits abgeschlossen" in spoken(turn)


def test_the_postcode_is_read_back_digit_by_digit_with_the_neighbourhood(line):
    turn = advance(line, at(CallStep.POSTCODE), Keys("10115"), FakeFacts())
    assert turn.state.step is CallStep.CONFIRM_POSTCODE and turn.state.postcode == "10115"
    assert "1, 0, 1, 1, 5, Mitte" in spoken(turn)
    again = advance(line, turn.state, Keys("2"), FakeFacts())
    assert again.state.step is CallStep.POSTCODE and again.state.postcode == ""
    right = advance(line, turn.state, Keys("1"), FakeFacts())
    assert right.state.step is CallStep.REQUEST_TYPE
    assert "Einkäufe: Taste 1" in spoken(right)


@pytest.mark.parametrize(
    ("typed", "heard"),
    [("123", "fünf Ziffern"), ("1011", "fünf Ziffern"), ("99999", "nur für Berlin")],
)
def test_a_wrong_postcode_is_explained_and_asked_again(line, typed, heard):
    turn = advance(line, at(CallStep.POSTCODE), Keys(typed), FakeFacts())
    assert turn.state.step is CallStep.POSTCODE and turn.state.invalid == 1
    assert heard in spoken(turn)
    assert "Postleitzahl ein" in spoken(turn)


def test_the_third_invalid_answer_ends_kindly_without_an_operator(line):
    state = at(CallStep.REQUEST_TYPE, postcode="10115")
    for _ in range(INVALID_ANSWERS_BEFORE_HELP - 1):
        state = advance(line, state, Keys("9"), FakeFacts()).state
    turn = advance(line, state, Keys("9"), FakeFacts())
    assert turn.outcome is CallOutcome.GAVE_UP
    assert "montags bis freitags von 9 bis 18 Uhr" in spoken(turn)
    assert isinstance(turn.reply[-1], Hangup)


def test_the_third_out_of_area_postcode_is_logged_as_out_of_area(line):
    state = at(CallStep.POSTCODE, invalid=INVALID_ANSWERS_BEFORE_HELP - 1)
    turn = advance(line, state, Keys("99999"), FakeFacts())
    assert turn.outcome is CallOutcome.OUT_OF_AREA
    assert "nur für Berlin" in spoken(turn)


def test_the_third_invalid_answer_reaches_the_operator(line_with_operator):
    state = at(CallStep.CONFIRM_POSTCODE, postcode="10115", invalid=2)
    turn = advance(line_with_operator, state, Keys("7"), FakeFacts())
    assert turn.state.step is CallStep.OPERATOR
    assert turn.reply[-1] == Dial(OPERATOR, turn.state)
    assert turn.outcome is CallOutcome.TRANSFERRED


@pytest.mark.parametrize(
    "step",
    [CallStep.LANGUAGE, CallStep.POSTCODE, CallStep.CONFIRM_POSTCODE, CallStep.REQUEST_TYPE],
)
def test_zero_reaches_the_operator_from_any_menu(line_with_operator, line, step):
    state = at(step, postcode="10115")
    turn = advance(line_with_operator, state, Keys("0"), FakeFacts())
    assert isinstance(turn.reply[-1], Dial)
    without = advance(line, state, Keys("0"), FakeFacts())
    assert without.state.step is step and without.state.invalid == 1


def test_star_repeats_a_menu_without_counting(line):
    state = at(CallStep.REQUEST_TYPE, postcode="10115", invalid=2, silences=1)
    turn = advance(line, state, Keys("*"), FakeFacts())
    assert turn.state == dataclasses.replace(state, turn=state.turn + 1)
    assert "Wobei brauchen Sie Hilfe?" in spoken(turn)
    assert "nicht verstanden" not in spoken(turn)


def test_the_message_stores_the_request_then_the_code_is_said_twice(line):
    state = at(CallStep.VOICE_MESSAGE, postcode="10115", request_type="shopping")
    turn = advance(line, state, Recording("https://api.twilio.com/x/RE1", 14), FakeFacts())
    assert turn.effects == (
        CreateRequest("10115", "shopping", "de", "https://api.twilio.com/x/RE1", 14),
    )
    assert turn.outcome is CallOutcome.REQUEST_CREATED
    assert turn.reply == (GoTo(turn.state),) and turn.state.step is CallStep.DONE

    facts = FakeFacts(stored=RequestInfo("HX7-K4M", "shopping", "open", "4711"))
    done = advance(line, turn.state, Arrive(), facts)
    assert spoken(done).count("4, 7, 1, 1") == 2
    assert Pause(1) in done.reply
    assert "morgen" in spoken(done)
    offer = question(done)
    assert offer.otherwise[-1] == Hangup()  # silence: goodbye, no more webhooks
    again = advance(line, done.state, Keys("5"), facts)
    assert spoken(again).count("4, 7, 1, 1") == 2


@pytest.mark.parametrize("event", [NoAnswer(), Recording("https://api.twilio.com/x/RE1", 0)])
def test_no_message_stores_the_request_without_one(line, event):
    state = at(CallStep.VOICE_MESSAGE, postcode="10115", request_type="pets")
    turn = advance(line, state, event, FakeFacts())
    assert turn.effects == (CreateRequest("10115", "pets", "de"),)


def test_the_message_question_records_up_to_a_minute(line):
    turn = advance(line, at(CallStep.REQUEST_TYPE, postcode="10115"), Keys("3"), FakeFacts())
    record = turn.reply[-1]
    assert isinstance(record, Record) and record.max_seconds == 60
    assert record.finish_on_key == ""  # Twilio's default: any key ends (or skips) it


def test_an_unanswered_transfer_offers_a_message_for_the_operators(line_with_operator):
    dialing = at(CallStep.OPERATOR)
    turn = advance(line_with_operator, dialing, DialEnded(answered=False), FakeFacts())
    assert turn.state.step is CallStep.OPERATOR_MESSAGE
    assert isinstance(turn.reply[-1], Record)
    left = advance(line_with_operator, turn.state, Recording("https://r/RE2", 20), FakeFacts())
    assert left.effects == (SaveOperatorMessage("https://r/RE2", 20),)
    assert left.outcome is CallOutcome.OPERATOR_MESSAGE
    answered = advance(line_with_operator, dialing, DialEnded(answered=True), FakeFacts())
    assert answered.outcome is CallOutcome.TRANSFERRED and answered.reply[-1] == Hangup()


def test_a_withheld_caller_without_a_number_is_asked_to_say_it_in_the_message(line):
    facts = FakeFacts(caller_withheld=True)
    turn = advance(line, at(CallStep.OPERATOR), DialEnded(answered=False), facts)
    assert "Telefonnummer" in spoken(turn)


def test_the_same_answer_twice_gives_the_same_turn(line):
    """Twilio delivering a webhook twice cannot count a retry twice."""
    state = at(CallStep.POSTCODE, invalid=1)
    assert advance(line, state, Keys("123"), FakeFacts()) == advance(
        line, state, Keys("123"), FakeFacts()
    )


def test_every_question_waits_at_least_eight_seconds(line):
    facts = FakeFacts(
        requests={"R": RequestInfo("R", "chat", "open", "1234")},
        stored=RequestInfo("S", "chat", "open", "1234"),
        typed_number="030123456",
        bridges={0: Bridge("ABC-123", "chat", "10115", "+4930111222")},
        calldowns={0: CalldownInfo("chat", datetime.date(2026, 12, 3))},
    )
    for step in CallStep:
        if step in (
            CallStep.VOICE_MESSAGE,
            CallStep.OPERATOR,
            CallStep.OPERATOR_MESSAGE,
            CallStep.BRIDGE_DIAL,
            CallStep.CLAIM_NOTICE,  # says its piece and hangs up: no question
        ):
            continue
        turn = advance(line, at(step, postcode="10115", reference="R"), Arrive(), facts)
        assert question(turn).timeout >= MENU_TIMEOUT >= 8, step


def test_every_sentence_is_in_the_callers_language(line):
    facts = FakeFacts()
    state = start(line, facts).state
    for keys in ("3", "10115", "1", "2"):
        turn = advance(line, state, Keys(keys), facts)
        assert {s.language for s in says(turn)} == {"pl"}
        state = turn.state


def test_the_apology_offers_a_person_only_when_there_is_one(line, line_with_operator):
    alone = apology(line, "pl", offer_operator=True)
    assert alone[0] == Say("Przepraszamy, mamy teraz problem techniczny.", "pl")
    assert not any(isinstance(v, Dial) for v in alone) and alone[-1] == Hangup()
    helped = apology(line_with_operator, "en", offer_operator=True)
    assert Dial(OPERATOR, None) in helped
    assert apology(line, "xx", offer_operator=False)[0].language == "de"


def test_digits_are_spelled_one_by_one():
    assert spell("80952") == "8, 0, 9, 5, 2"


# -- a number at its limit of open requests ---------------------------------------------


def at_the_limit(**facts) -> FakeFacts:
    info = RequestInfo("HX7-K4M", "pharmacy", "open", "0427")
    return FakeFacts(requests={"HX7-K4M": info}, active="HX7-K4M", open_count=2, **facts)


def test_a_number_at_its_limit_hears_why_and_keeps_its_menu(line):
    facts = at_the_limit()
    existing = advance(line, at(CallStep.LANGUAGE), Keys("1"), facts).state
    turn = advance(line, existing, Keys("3"), facts)
    assert turn.effects == () and turn.state.step is CallStep.EXISTING
    assert "Offene Anfragen von Ihrer Nummer: 2." in spoken(turn)
    assert "Um Ihren Code zu hören oder die Anfrage zurückzuziehen" in spoken(turn)
    # The menu still works: the code (on a call back).
    assert advance(line, turn.state, Keys("1"), facts).effects == (CallBack("HX7-K4M", "de"),)


def test_one_under_the_limit_goes_on_to_a_new_request(line):
    facts = at_the_limit()
    facts.open_count = 1
    turn = advance(line, at(CallStep.EXISTING, reference="HX7-K4M"), Keys("3"), facts)
    assert turn.state.step is CallStep.POSTCODE


def test_at_the_limit_a_person_is_a_key_away_and_the_third_try_reaches_them(line_with_operator):
    facts = at_the_limit()
    state = at(CallStep.EXISTING, reference="HX7-K4M")
    first = advance(line_with_operator, state, Keys("3"), facts)
    assert "Mit der 0 erreichen Sie jederzeit einen Menschen." in spoken(first)
    second = advance(line_with_operator, first.state, Keys("3"), facts)
    third = advance(line_with_operator, second.state, Keys("3"), facts)
    assert third.state.step is CallStep.OPERATOR
    assert [v for v in third.reply if isinstance(v, Dial)] == [Dial(OPERATOR, third.state)]


def test_without_an_operator_the_third_try_ends_kindly_with_the_hours(line):
    facts = at_the_limit()
    state = at(CallStep.EXISTING, reference="HX7-K4M", invalid=2)
    turn = advance(line, state, Keys("3"), facts)
    assert "montags bis freitags" in spoken(turn) and isinstance(turn.reply[-1], Hangup)
    assert turn.outcome is CallOutcome.REPEAT_CALLER


def test_a_typed_number_at_the_limit_is_refused_without_telling_how_many(line):
    facts = FakeFacts(caller_withheld=True, typed_number="030123456", open_count=2)
    turn = advance(line, at(CallStep.CONFIRM_CALLBACK), Keys("1"), facts)
    assert turn.state.step is CallStep.CONFIRM_CALLBACK and turn.effects == ()
    assert "Für diese Nummer können wir keine weitere Anfrage annehmen" in spoken(turn)
    assert "Offene Anfragen" not in spoken(turn)  # nothing about whose requests, or how many
    # 2: another number, as the sentence says.
    again = advance(line, turn.state, Keys("2"), facts)
    assert again.state.step is CallStep.CALLBACK_NUMBER


@pytest.mark.parametrize("language", ["de", "en", "pl", "tr", "uk"])
def test_the_limit_is_explained_in_every_language(language):
    languages = ["de", "en", "pl", "tr", "uk"]
    line = build_line(load_settings(None, env={}, overrides={"phone": {"languages": languages}}))
    catalog = line.catalogs[language]
    existing = dataclasses.replace(at(CallStep.EXISTING, reference="HX7-K4M"), language=language)
    own = advance(line, existing, Keys("3"), at_the_limit())
    assert Say(catalog.say("request_limit", count="2"), language) in says(own)
    confirm = dataclasses.replace(at(CallStep.CONFIRM_CALLBACK), language=language)
    withheld = FakeFacts(caller_withheld=True, typed_number="030123456", open_count=2)
    typed = advance(line, confirm, Keys("1"), withheld)
    assert Say(catalog.say("request_limit_typed"), language) in says(typed)


# -- calls the line places ---------------------------------------------------------------


def calldown_facts() -> FakeFacts:
    return FakeFacts(calldowns={7: CalldownInfo("pharmacy", datetime.date(2026, 12, 3))})


def test_a_calldown_names_the_help_and_the_day_and_a_machine_hears_nothing(line):
    state = at(CallStep.CALLDOWN, calldown=7)
    turn = call_back(line, state, calldown_facts())
    assert "Am 3. Dezember 2026 haben Sie uns um Hilfe gebeten: Apotheke." in spoken(turn)
    assert question(turn).timeout >= MENU_TIMEOUT
    machine = call_back(line, state, calldown_facts(), machine=True)
    assert machine.reply == (Hangup(),)
    assert machine.effects == (CalldownEnded(7, "not_reached"),)


def test_a_calldown_keeps_closes_or_puts_through(line_with_operator):
    state = at(CallStep.CALLDOWN, calldown=7)
    facts = calldown_facts()
    kept = advance(line_with_operator, state, Keys("1"), facts)
    assert kept.effects == (CalldownEnded(7, "kept"),) and isinstance(kept.reply[-1], Hangup)
    closed = advance(line_with_operator, state, Keys("2"), facts)
    assert closed.effects == (CalldownEnded(7, "closed"),) and "zurückgezogen" in spoken(closed)
    person = advance(line_with_operator, state, Keys("0"), facts)
    assert person.effects == (CalldownEnded(7, "operator"),)
    assert person.state.step is CallStep.OPERATOR
    menu = call_back(line_with_operator, state, facts)
    assert "Mit der 0 erreichen Sie jederzeit einen Menschen." in spoken(menu)


def test_a_silent_calldown_counts_as_not_reached_and_a_wrong_key_asks_again(line):
    state = at(CallStep.CALLDOWN, calldown=7)
    facts = calldown_facts()
    first = advance(line, state, NoAnswer(), facts)
    assert first.effects == () and first.state.silences == 1
    second = advance(line, first.state, NoAnswer(), facts)
    assert second.effects == (CalldownEnded(7, "not_reached"),)
    assert isinstance(second.reply[-1], Hangup)
    wrong = advance(line, state, Keys("5"), facts)
    assert wrong.effects == () and "nicht verstanden" in spoken(wrong)


def test_a_bridge_offer_dials_the_caller_with_the_hotline_number_only_after_1(line):
    line = dataclasses.replace(line, hotline_number="+4930555000")
    facts = FakeFacts(bridges={3: Bridge("ABC-DEF", "pharmacy", "10115", "+4930111222")})
    state = at(CallStep.BRIDGE_OFFER, bridge=3)
    offer = call_back(line, state, facts)
    assert "Hotline: Anfrage A, B, C, D, E, F, Apotheke, Mitte." in spoken(offer)
    assert advance(line, state, Keys("2"), facts).effects == ()
    connect = advance(line, state, Keys("1"), facts)
    [dial] = [v for v in connect.reply if isinstance(v, Dial)]
    assert (dial.number, dial.caller_id) == ("+4930111222", "+4930555000")
    ended = advance(line, connect.state, DialEnded(answered=False), facts)
    assert ended.effects == (BridgeEnded(3, False, 0),)
    assert "nicht abgenommen" in spoken(ended)
    gone = call_back(line, state, FakeFacts())
    assert "nicht mehr bei Ihnen" in spoken(gone) and isinstance(gone.reply[-1], Hangup)
