"""`hotline call`: whole calls from the command line, in-process and over HTTP."""

from __future__ import annotations

import contextvars

import pytest
from sqlalchemy import select

from app.models import Call, HelpRequest
from app.phone_numbers import is_fictional
from tests.browser import closed_port_url, serving
from tests.conftest import make_test_app
from voice.flow import spell

HAPPY_PATH = "1 10115 1 1 #"


def call(runner, *args, input=None):
    # A fresh context, as a command has in a process of its own: the test's pushed app
    # context would otherwise stand in for the runner's app (Flask's with_appcontext).
    result = contextvars.Context().run(runner.invoke, args=["call", *args], input=input)
    # Whatever happens, a person reads a message, never a traceback.
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def stored_requests(db) -> list[HelpRequest]:
    db.expire_all()
    return list(db.scalars(select(HelpRequest).order_by(HelpRequest.id)))


def logged_calls(db) -> list[Call]:
    db.expire_all()
    return list(db.scalars(select(Call).order_by(Call.id)))


@pytest.fixture
def live_server(app):
    """The test app over HTTP, from a thread: its base URL."""
    with serving(app) as url:
        yield url


# -- whole calls, in-process ---------------------------------------------------------------


def test_the_happy_path_prints_what_the_caller_hears_and_stores_the_request(runner, berlin):
    result = call(runner, "--keys", HAPPY_PATH)
    assert result.exit_code == 0, result.output
    out = result.output
    # Every sentence with its language: the menu offers each language in its own.
    assert "  [de-DE] Guten Tag, hier ist die Nachbarschaftshilfe." in out
    assert "  [en-GB] For English, press 2." in out
    assert "  [pl-PL] Po polsku proszę nacisnąć 3." in out
    assert "> 10115\n  [de-DE] Sie haben eingegeben: 1, 0, 1, 1, 5, Mitte." in out
    assert "(beep: the line is recording)\n> #\n" in out
    assert "(the key script has ended: the caller stays silent)" in out
    assert "\nOutcome: A request was stored. (request_created, last step: done)\n" in out

    [request] = stored_requests(berlin)
    assert (request.postcode, request.request_type, request.language) == ("10115", "shopping", "de")
    assert is_fictional(request.caller_number)
    assert f"from {request.caller_number}." in out
    assert out.count(spell(request.verification_code)) == 2
    assert (
        f"Request {request.reference} is on the board: http://hotline.test/requests/{request.reference}"
        in out
    )

    [logged] = logged_calls(berlin)
    assert (logged.outcome, logged.last_step, logged.status) == (
        "request_created",
        "done",
        "completed",
    )
    assert logged.request_reference == request.reference and logged.ended_at is not None
    assert f"The call ended after {logged.duration_seconds} s and 9 keys." in out


def test_a_wrong_postcode_then_the_right_one(runner, berlin):
    result = call(
        runner, "--from", "+4930555123", "--keys", "1 123# 99999 10115 2 12043 1 2 rec:15"
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "[de-DE] Eine Postleitzahl hat fünf Ziffern." in out
    assert "Die Postleitzahl 9, 9, 9, 9, 9 liegt leider nicht in unserem Gebiet." in out
    assert "Sie haben eingegeben: 1, 0, 1, 1, 5, Mitte." in out  # ... and "no, again" (2)
    assert "Sie haben eingegeben: 1, 2, 0, 4, 3, Neukölln." in out
    assert "> (speaks for 15 s, then #)" in out

    [request] = stored_requests(berlin)
    assert (request.postcode, request.zone.name) == ("12043", "Neukölln")
    assert request.request_type == "pharmacy" and request.voice_message_seconds == 15
    assert request.caller_number == "+4930555123"
    [logged] = logged_calls(berlin)
    assert logged.outcome == "request_created" and logged.postcode == "12043"


def test_hanging_up_midway(runner, berlin):
    result = call(runner, "--keys", "1 10115 hangup")
    assert result.exit_code == 0, result.output
    assert "> (hangs up)" in result.output
    assert (
        "Outcome: The caller hung up before the end. (abandoned, last step: confirm_postcode)"
        in (result.output)
    )
    assert "is on the board" not in result.output
    assert stored_requests(berlin) == []
    [logged] = logged_calls(berlin)
    assert (logged.outcome, logged.last_step, logged.status) == (
        "abandoned",
        "confirm_postcode",
        "completed",
    )
    assert logged.postcode == "10115" and logged.ended_at is not None


def test_the_caller_hears_english_after_choosing_it(runner, berlin):
    result = call(runner, "--keys", "2 10115 1 4 rec:8:-")
    assert result.exit_code == 0, result.output
    after_menu = result.output.split("> 2\n")[1]
    heard = [line for line in after_menu.splitlines() if line.startswith("  [")]
    assert heard and all(line.startswith("  [en-GB] ") for line in heard)
    [request] = stored_requests(berlin)
    assert (request.language, request.request_type) == ("en", "chat")
    assert request.voice_message_seconds == 8


def test_when_the_script_runs_out_the_caller_is_silent_until_the_line_ends(runner, berlin):
    result = call(runner, "--keys", "1")
    assert result.exit_code == 0, result.output
    assert result.output.count("> (silence)") == 2
    assert "Ich habe leider nichts gehört." in result.output
    assert "Outcome: No valid answer" in result.output
    [logged] = logged_calls(berlin)
    assert (logged.outcome, logged.last_step) == ("gave_up", "postcode")


@pytest.mark.parametrize("withheld", ["anonymous", "Restricted", "+7378742833"])
def test_a_withheld_number_types_one_to_be_called_back_on(runner, berlin, withheld):
    result = call(runner, "--from", withheld, "--keys", "1 030123456# 1 10115 1 1 #")
    assert result.exit_code == 0, result.output
    assert f"from {withheld}." in result.output
    assert "3, 0, 1, 2, 3, 4, 5, 6" in result.output
    [request] = stored_requests(berlin)
    assert request.caller_number == "030123456"


@pytest.mark.parametrize(
    ("script", "outcome", "heard"),
    [
        ("1 0 answer:90", "transferred", "Auf Wiederhören!"),
        ("1 0 noanswer rec:20", "operator_message", "Danke für Ihre Nachricht."),
        ("1 0 busy", "gave_up", "montags bis freitags"),
    ],
)
def test_the_operator_answers_or_not(another_app, berlin, script, outcome, heard):
    runner = another_app(operator_phone="+4930999000").test_cli_runner()
    result = call(runner, "--keys", script)
    assert result.exit_code == 0, result.output
    assert "(the line is ringing the operator)" in result.output
    assert heard in result.output
    [logged] = logged_calls(berlin)
    assert logged.outcome == outcome


def test_the_line_says_goodbye_when_nobody_answers_and_the_script_has_ended(another_app, berlin):
    runner = another_app(operator_phone="+4930999000").test_cli_runner()
    result = call(runner, "--keys", "1 0")
    assert result.exit_code == 0, result.output
    assert "> (nobody answers)" in result.output
    assert logged_calls(berlin)[0].outcome == "gave_up"


# -- at the terminal -----------------------------------------------------------------------


def test_keys_asked_for_one_line_at_a_time_and_enter_alone_is_silence(runner, berlin):
    result = call(runner, input="1\n\nx\nanswer\n10115\n1 1\n#\n\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Ich habe leider nichts gehört." in out  # the empty line at the postcode
    assert "word 1 'x' is not a key script word" in out
    assert "That does not fit: the line waits for keys" in out
    [request] = stored_requests(berlin)
    assert request.postcode == "10115"
    assert f"Request {request.reference} is on the board" in out


def test_the_end_of_input_hangs_up(runner, berlin):
    result = call(runner, input="1\n")
    assert result.exit_code == 0, result.output
    assert "Outcome: The caller hung up before the end. (abandoned, last step: postcode)" in (
        result.output
    )


# -- what goes wrong -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("1 x 1", "word 2 'x' is not a key script word"),
        ("1 10115 rec:0", "word 3 'rec:0': a message lasts at least 1 second"),
        ("answer:99999", "is not a key script word"),
        ("rec:5000", "at most 3600 seconds"),
        ("1 10115 1 1 #!", "word 5 '#!'"),
    ],
)
def test_a_key_script_that_is_not_one_is_refused_before_calling(runner, berlin, script, message):
    result = call(runner, "--keys", script)
    assert result.exit_code == 2
    assert message in result.output and "--keys" in result.output
    assert logged_calls(berlin) == []


@pytest.mark.parametrize(
    ("script", "message", "step"),
    [
        ("answer", "word 1 'answer': the line waits for keys", "language"),
        (
            "1 10115 1 1 answer",
            "word 5 'answer': the line is recording after the beep",
            "voice_message",
        ),
        ("1 rec:5", "word 2 'rec:5': the line waits for keys", "postcode"),
    ],
)
def test_a_key_script_out_of_step_stops_and_hangs_up(runner, berlin, script, message, step):
    result = call(runner, "--keys", script)
    assert result.exit_code == 1
    assert f"The key script does not fit the call: {message}" in result.output
    # The call was put down, so the call log knows it ended, and where.
    [logged] = logged_calls(berlin)
    assert (logged.status, logged.outcome, logged.last_step) == ("completed", "abandoned", step)


def test_keys_left_over_when_the_call_ended_are_an_error(runner, berlin):
    result = call(runner, "--keys", HAPPY_PATH + " - 5 5")
    assert result.exit_code == 1
    assert "The call ended before the key script did: '5 5' was not used." in result.output
    assert len(stored_requests(berlin)) == 1  # the request is stored all the same


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "grandma"], "'grandma' is not a phone number"),
        (["--from", "sip:anna@example.org"], "is not a phone number"),
        (["--url", "127.0.0.1:5000"], "is not a web address"),
        (["--url", "http://127.0.0.1:5000/voice"], "without a path"),
        (["--public-url", "https://hotline.example.org"], "needs --url"),
    ],
)
def test_bad_options_get_a_message(runner, berlin, args, message):
    result = call(runner, *args, "--keys", HAPPY_PATH)
    assert result.exit_code == 2
    assert message in result.output
    assert logged_calls(berlin) == []


def test_a_database_that_is_not_set_up_is_named(tmp_path):
    app = make_test_app(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path)
    result = call(app.test_cli_runner(), "--keys", HAPPY_PATH)
    assert result.exit_code == 1
    assert "is not set up. Run: hotline setup" in result.output
    assert not (tmp_path / "fresh.db").exists()  # asking did not create an empty file


def test_a_database_that_cannot_be_reached_is_named(tmp_path):
    app = make_test_app("postgresql+psycopg://postgres@127.0.0.1:9/nowhere", tmp_path)
    result = call(app.test_cli_runner(), "--keys", HAPPY_PATH)
    assert result.exit_code == 1
    assert "Cannot open the database postgresql+psycopg://postgres@127.0.0.1:9/nowhere" in (
        result.output
    )


def test_without_zones_every_postcode_is_outside_and_that_is_said_first(runner, db):
    result = call(runner, "--keys", "1 10115")
    assert result.exit_code == 0
    assert result.output.startswith("Warning: no zones are imported")
    assert "liegt leider nicht in unserem Gebiet" in result.output


# -- over HTTP -----------------------------------------------------------------------------


def test_a_running_server_signed_for_its_public_address(runner, berlin, live_server):
    """The server checks signatures against public_base_url (http://hotline.test), as
    behind a proxy: the command posts to the server but signs for the public address."""
    result = call(runner, "--url", live_server, "--keys", HAPPY_PATH)
    assert result.exit_code == 0, result.output
    assert f"the server at {live_server} (signed for http://hotline.test)" in result.output
    [request] = stored_requests(berlin)
    # The command shares the server's configuration and database, so it reads the outcome.
    assert (
        f"Request {request.reference} is on the board: http://hotline.test/requests/{request.reference}"
        in result.output
    )
    assert logged_calls(berlin)[0].status == "completed"


def test_a_running_server_without_a_public_address_is_signed_for_its_url(another_app, berlin):
    app = another_app(public_base_url="")
    with serving(app) as url:
        result = call(app.test_cli_runner(), "--url", url, "--keys", HAPPY_PATH)
    assert result.exit_code == 0, result.output
    assert "signed for" not in result.output
    [request] = stored_requests(berlin)
    assert (
        f"Request {request.reference} is on the board: {url}/requests/{request.reference}"
        in result.output
    )


@pytest.mark.parametrize(
    ("config", "args", "named"),
    [
        (
            {"twilio": {"auth_token": "not-the-servers-token"}},
            [],
            "with the auth token from twilio.auth_token in test configuration",
        ),
        ({}, ["--public-url", "https://elsewhere.example.org"], "signed for https://elsewhere"),
    ],
)
def test_a_refused_signature_says_why(another_app, berlin, live_server, config, args, named):
    runner = another_app(**config).test_cli_runner()
    result = call(runner, "--url", live_server, *args, "--keys", HAPPY_PATH)
    assert result.exit_code == 1
    assert f"The helpline at {live_server} refused the call (HTTP 403)" in result.output
    assert named in result.output
    assert logged_calls(berlin) == []  # a refused request changes nothing


def test_a_server_that_is_not_running(runner, berlin):
    url = closed_port_url()
    result = call(runner, "--url", url, "--keys", HAPPY_PATH)
    assert result.exit_code == 1
    assert f"Cannot reach the helpline: no answer from {url}/voice/incoming" in result.output
    assert "Connection refused" in result.output and "make run" in result.output


# -- the phone the line calls ------------------------------------------------------------


def test_answer_outbound_is_the_phone_the_line_calls_back(runner, berlin):
    first = call(runner, "--from", "+4930231250123", "--keys", "1 10115 1 1 #")
    assert first.exit_code == 0, first.output
    [request] = stored_requests(berlin)
    again = call(runner, "--from", "+4930231250123", "--keys", "1 1")
    assert "Wir rufen Sie gleich unter dieser Nummer zurück" in again.output
    assert ", ".join(request.verification_code) not in again.output

    back = call(runner, "--answer-outbound", "--keys", "1 1")
    assert back.exit_code == 0, back.output
    assert "The helpline calls +4930231250123 (calls.code_callback)." in back.output
    assert back.output.count(", ".join(request.verification_code)) == 2
    assert "Ihre Anfrage ist zurückgezogen." in back.output
    assert stored_requests(berlin)[0].status == "cancelled"

    nothing = call(runner, "--answer-outbound")
    assert nothing.exit_code != 0 and "No call is waiting to be placed." in nothing.output
