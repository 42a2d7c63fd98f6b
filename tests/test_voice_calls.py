"""Whole phone calls through the webhooks, driven by the phone simulator.

Every request is signed as Twilio signs it; every answer is parsed as TwiML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select, update

from app.database import get_db
from app.models import Call, HelpRequest, Postcode, RequestStatus
from app.zones.postcodes import PLACES_SECONDS
from app.zones.profiles import import_profile, profile_path, read_profile
from tests.conftest import answer_call_back, make_test_app
from voice.flow import spell
from voice.simulator.phone import Phone

OPERATOR = "+4930999000"
CALLER = "+4930123456"
ALL_LANGUAGES = ["de", "en", "pl", "tr", "uk"]


@pytest.fixture
def line_app(another_app, berlin):
    """Another app on the same database, configured differently (Berlin's zones loaded)."""
    return another_app


def logged_calls(db) -> list[Call]:
    db.expire_all()
    return list(db.scalars(select(Call).order_by(Call.id)))


def the_call(db) -> Call:
    [call] = logged_calls(db)
    return call


def stored_requests(db) -> list[HelpRequest]:
    db.expire_all()
    return list(db.scalars(select(HelpRequest).order_by(HelpRequest.id)))


def request_help(phone, caller=CALLER, kind="1", postcode="10115", message=0):
    """The German happy path: language, postcode, confirm, kind of help, message or none."""
    call = phone.call(caller)
    call.press("1")
    call.press(postcode)
    call.press("1")
    call.press(kind)
    if message:
        call.speak(seconds=message)
    else:
        call.press("#")
    return call


def twiml_elements(call, tag: str) -> list[ET.Element]:
    found = []
    for exchange in call.exchanges:
        if exchange.body.startswith("<?xml"):
            found += ET.fromstring(exchange.body).iter(tag)
    return found


# -- the happy path ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "key", "locale", "voice", "heard"),
    [
        ("de", "1", "de-DE", "Polly.Vicki", "Apotheke: Taste 2"),
        ("en", "2", "en-GB", "Polly.Amy", "For pharmacy, press 2"),
        ("pl", "3", "pl-PL", "Polly.Ewa", "apteka: 2"),
        ("tr", "4", "tr-TR", "Polly.Filiz", "eczane için 2 tuşuna basın"),
        ("uk", "5", "uk-UA", "Google.uk-UA-Standard-A", "аптека — натисніть 2"),
    ],
)
def test_a_whole_call_in_each_language(line_app, db, language, key, locale, voice, heard):
    app = line_app(phone={"languages": ALL_LANGUAGES})
    call = Phone.for_app(app).call(CALLER)
    menu = list(call.heard)
    assert (locale, voice) in {(h.language, h.voice) for h in menu}

    call.press(key)
    call.press("12043")
    assert "1, 2, 0, 4, 3, Neukölln" in call.text
    call.press("1")
    assert heard in call.text
    call.press("2")
    call.speak(seconds=14)

    [request] = stored_requests(db)
    assert request.zone.name == "Neukölln" and request.postcode == "12043"
    assert request.request_type == "pharmacy" and request.language == language
    assert request.caller_number == CALLER
    assert request.voice_message_seconds == 14
    assert request.voice_message_url.startswith("https://api.twilio.com/")
    assert call.text.count(spell(request.verification_code)) == 2
    assert all((h.language, h.voice) == (locale, voice) for h in call.heard[len(menu) :])

    call.wait()  # nothing more to hear: goodbye
    assert call.ended
    log = the_call(db)
    assert (log.outcome, log.last_step) == ("request_created", "done")
    assert (log.language, log.postcode, log.request_type) == (language, "12043", "pharmacy")
    assert log.zone_id == request.zone_id and log.request_reference == request.reference
    assert log.status == "completed" and log.ended_at is not None
    assert log.duration_seconds == round(call.clock)


def test_every_answer_is_twiml_with_language_voice_and_patient_questions(phone):
    call = request_help(phone, message=5)
    for say in twiml_elements(call, "Say"):
        assert say.get("language") and say.get("voice"), ET.tostring(say)
    gathers = twiml_elements(call, "Gather")
    assert gathers and all(int(g.get("timeout")) >= 8 for g in gathers)
    assert all(g.get("input") == "dtmf" and g.get("action") for g in gathers)
    [postcode] = [g for g in gathers if g.get("numDigits") == "5"]
    assert postcode.get("finishOnKey") == "#"
    [record] = twiml_elements(call, "Record")
    assert record.get("maxLength") == "60" and record.get("playBeep") == "true"
    assert record.get("finishOnKey") is None  # Twilio's default: any key ends or skips it


def test_the_german_happy_path_stays_within_nine_keys_and_a_minute(phone, db):
    call = request_help(phone)
    [request] = stored_requests(db)
    first_code = next(h for h in call.heard if spell(request.verification_code) in h.text)
    assert call.keypresses <= 9
    assert first_code.at + first_code.seconds < 60


def test_silence_at_the_language_menu_continues_in_the_default_language(phone):
    call = phone.call(CALLER)
    again = [h.text for h in call.wait()]
    assert again[0] == "Ich habe leider nichts gehört."
    assert "Für Deutsch drücken Sie die 1." in again  # the menu, once more
    call.wait()
    assert call.heard[-1].text == "Bitte tippen Sie die fünf Ziffern Ihrer Postleitzahl ein."


def test_the_code_can_be_heard_again_after_the_request(phone, db):
    call = request_help(phone)
    [request] = stored_requests(db)
    call.press("5")
    assert call.text.count(spell(request.verification_code)) == 4
    call.wait()
    assert call.heard[-1].text == "Auf Wiederhören!" and call.ended


def test_the_polish_profile_takes_five_digits_for_nn_nnn(database_url, tmp_path, db):
    import_profile(db, read_profile(profile_path("trojmiasto")))
    db.commit()
    app = make_test_app(
        database_url,
        tmp_path / "pl",
        zone_profile="trojmiasto",
        phone={"languages": ["pl", "en", "de"], "default_language": "pl"},
    )
    call = Phone.for_app(app).call("+48581234567")
    call.press("1")
    call.press("10115")
    assert "Kod pocztowy 1, 0, 1, 1, 5 jest niestety poza naszym obszarem." in call.text
    assert "Obsługujemy tylko Gdańsk, Gdynię i Sopot." in call.text
    call.press("80280")
    assert "Wpisano: 8, 0, 2, 8, 0, Gdańsk." in call.text
    call.press("1")
    call.press("4")
    call.press("#")
    [request] = stored_requests(db)
    assert request.zone.slug == "gdansk" and request.language == "pl"
    get_db(app).engine.dispose()


# -- what goes wrong -----------------------------------------------------------------------


def test_silence_asks_once_more_then_ends_politely(phone, db):
    call = phone.call(CALLER)
    call.press("1")
    call.wait()
    assert "Ich habe leider nichts gehört." in call.heard[-2].text
    assert "Postleitzahl" in call.heard[-1].text
    call.wait()
    assert "montags bis freitags von 9 bis 18 Uhr" in call.text
    assert call.heard[-1].text == "Auf Wiederhören!" and call.ended
    log = the_call(db)
    assert (log.outcome, log.last_step) == ("gave_up", "postcode")
    assert stored_requests(db) == []


@pytest.mark.parametrize(
    ("typed", "heard"),
    [("123#", "Eine Postleitzahl hat fünf Ziffern."), ("99999", "nur für Berlin")],
)
def test_a_wrong_postcode_gets_another_try(phone, db, typed, heard):
    call = phone.call(CALLER)
    call.press("1")
    call.press(typed)
    assert heard in call.text
    call.press("10115")
    assert "1, 0, 1, 1, 5, Mitte" in call.heard[-2].text


def test_three_invalid_answers_without_an_operator_end_with_the_hours(phone, db):
    call = phone.call(CALLER)
    call.press("1")
    call.press("10115")
    call.press("1")
    for _ in range(3):
        call.press("9")
    assert call.text.count("Das habe ich leider nicht verstanden.") == 3
    assert "Das hat leider nicht geklappt." in call.text
    assert "Persönlich erreichen Sie uns montags bis freitags" in call.text
    assert call.ended and twiml_elements(call, "Dial") == []
    assert (the_call(db).outcome, the_call(db).last_step) == ("gave_up", "request_type")


def test_three_postcodes_outside_the_area_are_logged_as_out_of_area(phone, db):
    call = phone.call(CALLER)
    call.press("1")
    for _ in range(3):
        call.press("99999")
    assert call.ended
    assert the_call(db).outcome == "out_of_area"


def test_three_invalid_answers_reach_the_operator_who_answers(line_app, db):
    call = Phone.for_app(line_app(operator_phone=OPERATOR)).call(CALLER)
    call.press("1")
    assert "Mit der 0 erreichen Sie jederzeit einen Menschen." in call.text
    for _ in range(3):
        call.press("12")
    [dial] = twiml_elements(call, "Dial")
    assert dial.text == OPERATOR and dial.get("action") and int(dial.get("timeout")) >= 20
    assert call.waiting_for == "operator"
    call.operator_answers(talk_seconds=90)
    assert call.ended and call.heard[-1].text == "Auf Wiederhören!"
    log = the_call(db)
    assert (log.outcome, log.last_step) == ("transferred", "operator")


def test_an_operator_who_does_not_answer_gets_a_voice_message(line_app, db):
    call = Phone.for_app(line_app(operator_phone=OPERATOR)).call(CALLER)
    call.press("2")
    call.press("0")
    assert "I am putting you through to a person." in call.text
    call.operator_does_not_answer()
    assert "nobody is free right now" in call.text
    call.speak(seconds=25)
    assert "Thank you for your message." in call.text and call.ended
    log = the_call(db)
    assert log.outcome == "operator_message" and log.operator_message_seconds == 25
    assert log.operator_message_url.startswith("https://api.twilio.com/")


def test_no_message_for_the_operator_ends_with_the_hours(line_app, db):
    call = Phone.for_app(line_app(operator_phone=OPERATOR)).call(CALLER)
    call.press("0")
    call.operator_does_not_answer(status="busy")
    call.wait()
    assert "montags bis freitags" in call.text and call.ended
    assert the_call(db).outcome == "gave_up"


@pytest.mark.parametrize("keys_before", [[], ["1"], ["1", "10115"], ["1", "10115", "1"]])
def test_zero_reaches_the_operator_from_any_menu(line_app, keys_before):
    call = Phone.for_app(line_app(operator_phone=OPERATOR)).call(CALLER)
    for keys in keys_before:
        call.press(keys)
    call.press("0")  # at the postcode: 0, then the timeout (or #) sends it
    assert call.waiting_for == "operator"


def test_zero_without_an_operator_is_just_not_understood(phone):
    call = phone.call(CALLER)
    call.press("1")
    call.press("10115")
    call.press("0")
    assert "Das habe ich leider nicht verstanden." in call.text
    assert call.waiting_for == "keys"


def test_star_repeats_a_menu_without_using_up_a_try(phone):
    call = phone.call(CALLER)
    for keys in ("1", "10115", "1"):
        call.press(keys)
    menu = call.text.count("Wobei brauchen Sie Hilfe?")
    call.press("9")
    call.press("*")
    call.press("9")
    assert call.text.count("Wobei brauchen Sie Hilfe?") == menu + 3
    assert not call.ended  # two invalid answers so far, not three
    call.press("1")
    assert call.waiting_for == "recording"


def test_hanging_up_midway_is_logged_as_abandoned_where_it_happened(phone, db):
    call = phone.call(CALLER)
    call.press("1")
    call.press("10115")
    call.press("1")
    call.hang_up()
    log = the_call(db)
    assert (log.outcome, log.last_step, log.status) == ("abandoned", "request_type", "completed")
    assert log.postcode == "10115" and log.duration_seconds == round(call.clock)
    assert stored_requests(db) == []


# -- the voice message --------------------------------------------------------------------


@pytest.mark.parametrize("skip", ["press", "wait"])
def test_the_message_can_be_skipped(phone, db, skip):
    call = phone.call(CALLER)
    for keys in ("1", "10115", "1", "3"):
        call.press(keys)
    call.press("1") if skip == "press" else call.wait()
    [request] = stored_requests(db)
    assert request.voice_message_url is None and request.voice_message_seconds is None
    assert request.request_type == "pets"
    assert spell(request.verification_code) in call.text


def test_a_caller_who_hangs_up_after_the_message_still_gets_help(phone, db):
    call = phone.call(CALLER)
    for keys in ("1", "10115", "1", "4"):
        call.press(keys)
    call.speak(seconds=30, then="hangup")
    [request] = stored_requests(db)
    assert request.voice_message_seconds == 30 and request.request_type == "chat"
    assert the_call(db).outcome == "request_created"


# -- a caller who rings again ---------------------------------------------------------------


def test_a_repeat_caller_hears_the_request_and_gets_its_code_on_a_call_back(app, phone, db):
    request_help(phone, kind="2").hang_up()
    [request] = stored_requests(db)
    call = phone.call(CALLER)
    call.press("1")
    assert "Sie haben bei uns schon eine Anfrage: Apotheke." in call.text
    assert "Sie wartet noch auf eine Helferin oder einen Helfer." in call.text
    call.press("1")
    # Caller ID is easy to forge: the code only on a call to the number on record.
    assert spell(request.verification_code) not in call.text
    assert "Wir rufen Sie gleich unter dieser Nummer zurück" in call.text and call.ended
    assert logged_calls(db)[-1].outcome == "repeat_caller"
    back = answer_call_back(app, phone)
    assert back.text.count(spell(request.verification_code)) == 2
    back.wait()
    back.wait()
    assert back.ended and "Auf Wiederhören!" in back.text
    assert len(logged_calls(db)) == 2  # the call back is not a call to the line
    assert len(stored_requests(db)) == 1


def test_a_repeat_caller_hears_that_a_volunteer_has_taken_it(phone, db):
    request_help(phone).hang_up()
    db.execute(update(HelpRequest).values(status=RequestStatus.CLAIMED))
    db.commit()
    call = phone.call(CALLER)
    call.press("1")
    assert "Jemand hat sie übernommen und meldet sich bei Ihnen." in call.text


def test_a_repeat_caller_can_cancel_on_the_call_back(app, phone, db):
    request_help(phone).hang_up()
    call = phone.call(CALLER)
    call.press("1")
    call.press("2")
    assert call.ended and stored_requests(db)[0].status == RequestStatus.OPEN
    back = answer_call_back(app, phone)
    back.press("1")
    assert "wirklich zurückziehen" in back.text
    back.press("1")
    assert "Ihre Anfrage ist zurückgezogen." in back.text and back.ended
    [request] = stored_requests(db)
    assert request.status == RequestStatus.CANCELLED and request.closed_at is not None
    # Next time, the caller starts afresh.
    assert "Postleitzahl" in phone.call(CALLER).press("1")[-1].text


def test_a_repeat_caller_can_keep_it_or_ask_for_more(app, phone, db):
    request_help(phone).hang_up()
    ring = phone.call(CALLER)
    ring.press("1")
    ring.press("2")
    keep = answer_call_back(app, phone)
    for keys in ("1", "2"):
        keep.press(keys)
    assert "Gut, Ihre Anfrage bleibt bestehen." in keep.text
    more = phone.call(CALLER)
    for keys in ("1", "3", "10117", "1", "5"):
        more.press(keys)
    more.press("#")
    requests = stored_requests(db)
    assert [r.status for r in requests] == ["open", "open"]
    assert requests[1].request_type == "other"


def test_another_callers_request_is_none_of_their_business(phone, db):
    request_help(phone).hang_up()
    call = phone.call("+4930777888")
    assert "Postleitzahl" in call.press("1")[-1].text


@pytest.mark.parametrize("withheld", ["anonymous", "+266696687", "", "Restricted"])
def test_a_withheld_number_can_type_a_callback_number(phone, db, withheld):
    call = phone.call(withheld)
    call.press("1")
    assert "Ihre Telefonnummer wird uns nicht angezeigt." in call.text
    call.press("030123456#")
    assert "Sie haben eingegeben: 0, 3, 0, 1, 2, 3, 4, 5, 6." in call.text
    for keys in ("1", "10115", "1", "1"):
        call.press(keys)
    call.press("#")
    [request] = stored_requests(db)
    assert request.caller_number == "030123456"
    log = the_call(db)
    assert log.from_number is None and log.callback_number == "030123456"


def test_a_withheld_number_that_types_nothing_hears_how_to_be_called_back(phone, db):
    call = phone.call("anonymous")
    call.press("1")
    call.wait()
    call.wait()
    assert "Bitte rufen Sie mit angezeigter Nummer wieder an." in call.text and call.ended


def test_the_simulator_also_calls_a_running_server_over_http(app, db, berlin):
    """The same phone, over real HTTP (what `hotline call` and the browser phone build on)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = app.config["HOTLINE"]
        phone = Phone.over_http(
            f"http://127.0.0.1:{server.server_port}",
            auth_token=settings.twilio_auth_token,
            public_base_url=settings.public_base_url,
        )
        call = request_help(phone)
        call.wait()
    finally:
        server.shutdown()
        thread.join()
    [request] = stored_requests(db)
    assert call.text.count(spell(request.verification_code)) == 2
    assert the_call(db).status == "completed"


def test_the_hours_read_as_one_sentence_in_english(phone, db):
    """The configured English hours end in "p.m.": no doubled full stop is spoken."""
    call = phone.call(CALLER)
    call.press("2")
    call.press("10115")
    call.press("1")
    for _ in range(3):
        call.press("9")
    assert "You can reach a person Monday to Friday, from 9 a.m. to 6 p.m. Please call" in call.text
    assert ".." not in call.text


# -- zones imported while the line runs ---------------------------------------------------


def read_back(call) -> str:
    return next(h.text for h in reversed(call.heard) if h.text.startswith("Sie haben eingegeben"))


def test_a_zone_import_is_heard_by_the_next_caller(phone, runner):
    """The phone line keeps the postcodes in memory; `hotline zones import` run by the
    same app tells it, and the next caller hears the new zones at once."""
    before = phone.call("+4930123456")
    before.press("1")
    before.press("80280")  # Gdańsk: not in Berlin's zones
    assert "liegt leider nicht in unserem Gebiet" in before.text
    path = profile_path("trojmiasto")
    assert runner.invoke(args=["zones", "import", str(path)]).exit_code == 0
    after = phone.call("+4930123457")
    after.press("1")
    after.press("80280")
    assert read_back(after) == "Sie haben eingegeben: 8, 0, 2, 8, 0, Gdańsk."


def test_a_change_by_another_process_is_heard_within_half_a_minute(phone, app):
    """Another process (`hotline zones import` beside the server) changes the postcodes:
    the line reads them again once its copy is PLACES_SECONDS old."""
    now = [0.0]
    app.extensions["hotline_places"].clock = lambda: now[0]
    first = phone.call("+4930123456")
    first.press("1")
    first.press("10115")
    assert read_back(first) == "Sie haben eingegeben: 1, 0, 1, 1, 5, Mitte."
    # What an import elsewhere writes, without this process noticing.
    with get_db(app).engine.begin() as elsewhere:
        postcodes = Postcode.__table__
        moved = update(postcodes).where(postcodes.c.code == "10115")
        elsewhere.execute(moved.values(neighbourhood="Moabit"))
    now[0] += PLACES_SECONDS
    later = phone.call("+4930123457")
    later.press("1")
    later.press("10115")
    assert read_back(later) == "Sie haben eingegeben: 1, 0, 1, 1, 5, Moabit."


# -- two helplines: each counts its own requests -------------------------------------------


@pytest.fixture
def two_lines(another_app, berlin):
    """Berlin's line and the Tri-City's, every profile imported."""
    from tests.test_helplines import run, two_helplines

    app = another_app(helpline=two_helplines())
    assert run(app, "zones", "import").exit_code == 0
    return app


def test_two_open_berlin_requests_leave_the_tricity_line_open_to_the_caller(two_lines, db):
    from tests.test_helplines import BERLIN_NUMBER, TRICITY_NUMBER

    berlin = Phone.for_app(two_lines, hotline_number=BERLIN_NUMBER)
    request_help(berlin).hang_up()
    again = berlin.call(CALLER)
    for keys in ("1", "3", "10117", "1", "2", "#"):  # the menu's "a new request"
        again.press(keys)
    # The cap (2 by default) is reached on Berlin's line ...
    full = berlin.call(CALLER)
    full.press("1")
    full.press("3")
    assert "Offene Anfragen von Ihrer Nummer: 2." in full.text
    # ... and the Tri-City's neither mentions Berlin's requests nor counts them.
    tricity = Phone.for_app(two_lines, hotline_number=TRICITY_NUMBER).call(CALLER)
    tricity.ring()
    heard = tricity.press("1")  # Polski
    assert "zgłoszenie" not in heard[-1].text and "kodu pocztowego" in heard[-1].text
    for keys in ("80001", "1", "2", "#"):
        tricity.press(keys)
    requests = stored_requests(db)
    assert [(r.zone.slug, r.status) for r in requests] == [
        ("mitte", "open"),
        ("mitte", "open"),
        ("gdansk", "open"),
    ]


def test_a_repeat_caller_hears_only_the_request_of_the_line_they_rang(two_lines, db):
    from tests.test_helplines import BERLIN_NUMBER, TRICITY_NUMBER

    tricity = Phone.for_app(two_lines, hotline_number=TRICITY_NUMBER)
    call = tricity.call(CALLER)
    call.ring()
    for keys in ("1", "80001", "1", "2", "#"):
        call.press(keys)
    # On Berlin's line the Tri-City request is not theirs to hear about.
    berlin = Phone.for_app(two_lines, hotline_number=BERLIN_NUMBER).call(CALLER)
    heard = berlin.press("1")
    assert "Anfrage" not in heard[-1].text and "Postleitzahl" in heard[-1].text
    # On the Tri-City's it is.
    back = tricity.call(CALLER)
    back.ring()
    heard = back.press("1")
    assert "Z tego numeru jest już u nas zgłoszenie: apteka." in " ".join(h.text for h in heard)
