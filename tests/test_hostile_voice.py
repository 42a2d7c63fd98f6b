"""Hostile and broken input at the phone line, correctly signed: what Twilio (or whoever
holds the auth token) could send, and what a caller's keypad could produce.

Property-based (hypothesis): every voice route gets random, missing, huge, unicode and
control-character values in every form parameter Twilio sends, and /voice/step any
state in its query string. Whatever arrives, the answer is TwiML that Twilio can play
(every <Say> with its language and voice) or a 4xx, never a 500 and never a refusal of
a correctly signed request; and the calls and requests tables stay consistent
(tests/consistency.py) after every single example.

Every example starts without calls or requests (the zones stay), so a failure is
reported with the one example that caused it, and hypothesis can shrink it.
"""

from __future__ import annotations

import dataclasses
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from twilio.request_validator import SIGNATURE_HEADER, SIGNATURE_SETTINGS_HEADER

from app.models import (
    FINAL_CALL_STATUSES,
    TWILIO_CALL_STATUSES,
    AuditEvent,
    Call,
    CallStep,
    HelpRequest,
)
from tests.conftest import TEST_AUTH_TOKEN
from tests.consistency import assert_database_consistent
from voice.simulator.phone import FlaskTransport, Phone

# One database per test function; each example empties its calls and requests first.
per_test_database = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

CALLERS = [
    "+4930123456",
    "+4930123457",
    "+48581234567",
    "anonymous",
    "+266696687",
    "+7378742833",
    "",
]

# Values that broke parsers somewhere once: numbers that are not, digits that are not
# ASCII, overflows, SQL, markup, NUL and line breaks, direction marks, byte-order marks.
NASTY = [
    "",
    " ",
    "0",
    "*",
    "#",
    "-1",
    "1.5",
    "1e9",
    "0x10",
    "1_000",
    " 12 ",
    "١",
    "²",
    "𝟙",
    "99999999999999999999",
    str(2**31),
    str(2**63),
    "9" * 5000,
    "\x00",
    "1\x00",
    "\r\n",
    "\x1b[31m",
    "' OR '1'='1",
    "'; DROP TABLE calls; --",
    "<Say>hi</Say>",
    "]]>",
    "&amp;",
    "%00",
    "None",
    "javascript:alert(1)",
    "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
    "http://[::1",
    "A" * 65,
    "\ufeff1",
    "\u202e1",
    "🙂",
]

hostile_text = st.one_of(
    st.text(max_size=30),  # any unicode, control characters included
    st.text(st.characters(codec="ascii"), max_size=10),  # ASCII, control characters and all
    st.sampled_from(NASTY),
    st.sampled_from(NASTY),
    st.integers().map(str),
    st.text("0123456789*#", max_size=25),
    # Huge: some still under the 64 KiB limit on a request, some over it (413).
    st.builds(
        lambda char, n: char * n,
        st.sampled_from(["9", "é", "\x00", "<"]),
        st.integers(1_000, 70_000),
    ),
)


def plausible_or_hostile(*plausible: str):
    return st.one_of(st.sampled_from(plausible), hostile_text)


# What Twilio sends in each parameter (and a little more: "answered", a bad timestamp).
FORM_FIELDS = {
    "Digits": ["1", "2", "3", "0", "*", "#", "10115", "12043", "99999", ""],
    "From": CALLERS,
    "To": ["+4930000000000"],
    "CallStatus": sorted(TWILIO_CALL_STATUSES),
    "SequenceNumber": ["0", "1", "2", "3"],
    "CallDuration": ["0", "12", "600"],
    "RecordingUrl": ["https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE0123"],
    "RecordingDuration": ["0", "1", "14", "60"],
    "DialCallStatus": ["completed", "answered", "no-answer", "busy", "failed"],
    "Timestamp": ["Mon, 16 Jun 2025 10:00:00 +0000", "Mon, 01 Jan 9999 25:61:00"],
    "ErrorUrl": ["https://hotline.test/voice/step?step=postcode&lang=pl&turn=3", "step=done"],
    "ErrorCode": ["11200", "11205", "12100"],
}

# What our action URLs carry (a state the flow could write, or nearly).
STATE_FIELDS = {
    "step": list(CallStep),
    "lang": ["de", "en", "pl", "tr"],
    "turn": ["0", "1", "2", "3", "7", "30"],
    "silences": ["0", "1"],
    "invalid": ["0", "1", "2"],
    "postcode": ["10115", "12043", "99999"],
    "type": ["shopping", "pharmacy", "chat"],
    "ref": ["HX7-K4M", "AAA-AAA"],
    "on": ["nothing", "arrive"],
}


@st.composite
def plausible_then_broken(draw, fields: dict[str, list[str]], always: dict[str, str]):
    """Some of `fields` with plausible values (and `always`), then up to three of
    them (or of the rest) left out or replaced by a hostile value."""
    chosen = draw(st.sets(st.sampled_from(sorted(fields))))
    values = {name: draw(st.sampled_from(fields[name])) for name in sorted(chosen)}
    values.update(always)
    for name in draw(st.sets(st.sampled_from(sorted({*fields, *always})), max_size=3)):
        value = draw(st.one_of(st.none(), hostile_text))
        if value is None:
            values.pop(name, None)
        else:
            values[name] = value
    return values


@st.composite
def twilio_forms(draw) -> dict[str, str]:
    """What Twilio posts for a new call, with parameters left out, added or hostile."""
    new_call = {"CallSid": "CA" + draw(st.uuids()).hex}
    return draw(plausible_then_broken(FORM_FIELDS, new_call))


@st.composite
def step_queries(draw) -> str:
    """A /voice/step URL with any state in its query (signed: as Twilio requests it)."""
    required = {name: draw(st.sampled_from(STATE_FIELDS[name])) for name in ("step", "lang")}
    required["turn"] = str(draw(st.integers(0, 40)))
    query = draw(plausible_then_broken(STATE_FIELDS, required))
    return "/voice/step?" + urlencode(query) if query else "/voice/step"


routes = st.one_of(
    st.sampled_from(["/voice/incoming", "/voice/status", "/voice/fallback"]),
    step_queries(),
)


# -- what every answer must be ----------------------------------------------------------

TWIML_VERBS = {"Say", "Pause", "Gather", "Record", "Dial", "Redirect", "Hangup"}


def assert_playable(exchange, app) -> ET.Element | None:
    """A signed request gets TwiML Twilio can play, or a 4xx that is not a refusal."""
    assert exchange.status < 500, exchange.body
    assert exchange.status != 403, "a correctly signed request was refused"
    if exchange.status != 200:
        assert 400 <= exchange.status < 500
        return None
    assert exchange.content_type == "text/xml"
    root = ET.fromstring(exchange.body)  # raises on anything that is not well-formed XML
    assert root.tag == "Response"
    settings = app.config["HOTLINE"]
    line = app.extensions["hotline_line"]
    locales = {c.locale for c in line.catalogs.values()}
    for element in root.iter():
        if element is root:
            continue
        assert element.tag in TWIML_VERBS, element.tag
        if element.tag == "Say":
            assert element.get("language") in locales, ET.tostring(element)
            assert element.get("voice") in settings.voices.values(), ET.tostring(element)
            assert (element.text or "").strip()
        for attribute in ("action",):
            if element.get(attribute):
                assert element.get(attribute).startswith("http://hotline.test/voice/step?")
        if element.tag == "Redirect":
            assert element.text.startswith("http://hotline.test/voice/step?")
    return root


# -- the properties ---------------------------------------------------------------------

OPERATOR = "+4930999000"


@pytest.fixture
def line(another_app, berlin):
    """For each example: an app with an operator to put callers through to (so every
    step of the flow can be reached), its phone and a session, with no calls yet."""
    app = another_app(operator_phone=OPERATOR)
    phone = Phone.for_app(app)

    def fresh():
        for model in (AuditEvent, HelpRequest, Call):
            berlin.execute(delete(model))
        berlin.commit()
        return app, phone, berlin

    return fresh


@per_test_database
@given(route=routes, form=twilio_forms())
def test_any_signed_request_gets_twiml_or_a_4xx_and_writes_nothing_broken(line, route, form):
    app, phone, db = line()
    exchange = phone.post(route, form)
    assert_playable(exchange, app)
    if route == "/voice/status" and exchange.status == 200:
        # Nobody listens to a status callback: an empty answer.
        assert ET.fromstring(exchange.body).findall("*") == []
    assert_database_consistent(db, app.config["HOTLINE"])


# A caller's moves: keys, silence, a message, the operator answering or not, hanging up.
KEYS = ["1", "2", "3", "0", "*", "#", "10115", "12043", "99999", "123", "4930555"]
# Ways into every part of the call (German, with an operator): the postcode, its
# confirmation, the kind of help, the message, the code, the operator, the message for
# the operators; then some random moves.
INTO_THE_CALL = [
    [],
    ["1"],
    ["1", "10115"],
    ["1", "10115", "1"],
    ["1", "10115", "1", "2"],
    ["1", "10115", "1", "2", "speak"],
    ["1", "0"],
    ["1", "0", "wait"],
]
moves = st.builds(
    lambda start, more: start + more,
    st.sampled_from(INTO_THE_CALL),
    st.lists(st.sampled_from([*KEYS, "wait", "speak", "answer", "hang up"]), max_size=4),
)


def walk(call, steps: list[str]) -> None:
    """Play a caller's moves; a move that does not fit what the call waits for is skipped."""
    for move in steps:
        waiting = call.waiting_for
        if waiting is None:
            return
        if move == "hang up":
            call.hang_up()
        elif waiting == "operator":
            if move == "answer":
                call.operator_answers()
            elif move == "wait":
                call.operator_does_not_answer()
        elif move == "wait":
            call.wait()
        elif move == "speak" and waiting == "recording":
            call.speak(seconds=5)
        elif move in KEYS and waiting == "keys":
            call.press(move)


def technical_problem(app) -> set[str]:
    return {c.say("technical_problem") for c in app.extensions["hotline_line"].catalogs.values()}


def answer_to(call, extra: dict[str, str]):
    """Post what the call waits for (its <Gather>, <Record> or <Dial> action) by hand."""
    action = call.waiting.verb.get("action") or call.waiting.document_url
    return call.phone.post(action, {**call._params(), **extra})


# Twilio's parameters for the answer to each kind of waiting.
ANSWERS = {
    "keys": {"Digits": ["1", "2", "0", "*", "#", "10115"]},
    "recording": {
        "RecordingUrl": FORM_FIELDS["RecordingUrl"],
        "RecordingDuration": ["0", "5", "60"],
        "Digits": ["#", "hangup", ""],
    },
    "operator": {
        "DialCallStatus": FORM_FIELDS["DialCallStatus"],
        "DialCallDuration": ["0", "30"],
    },
}


@per_test_database
@given(caller=st.sampled_from(CALLERS), steps=moves, data=st.data())
def test_any_answer_at_any_point_of_a_call_is_played_and_stored_consistently(
    line, caller, steps, data
):
    """Walk a real call somewhere, then send the answer it waits for with parameters
    left out or hostile: a key, a recording (its URL and length), a transfer's end."""
    app, phone, db = line()
    call = phone.call(caller)
    walk(call, steps)
    event(f"waits for {call.waiting_for} at {call.exchanges[-1].url.split('&')[0]}")
    if call.waiting_for is not None:
        fields = ANSWERS[call.waiting_for]
        form = data.draw(plausible_then_broken(fields, {}), label="form")
        assert_playable(answer_to(call, form), app)
    assert_database_consistent(db, app.config["HOTLINE"])


@per_test_database
@given(caller=st.sampled_from(CALLERS), steps=moves, digits=plausible_or_hostile(*KEYS))
def test_any_keys_at_any_point_of_a_call_get_a_prompt_never_the_apology(
    line, caller, steps, digits
):
    """Whatever a keypad (or a line fault) sends as Digits, the caller is never told that
    something broke: they hear the question again, an explanation, or a kind goodbye."""
    app, phone, db = line()
    call = phone.call(caller)
    walk(call, steps)
    sorry = technical_problem(app)
    assert not [h.text for h in call.heard if h.text in sorry], call.transcript()
    if call.waiting_for == "keys":
        root = assert_playable(answer_to(call, {"Digits": digits}), app)
        if root is not None:
            heard = [say.text for say in root.iter("Say")]
            assert not set(heard) & sorry, (call.transcript(), digits, heard)
    assert_database_consistent(db, app.config["HOTLINE"])


STATUS_FIELDS = {
    # And "unknown", which is ours (hotline calls close-stale), never Twilio's to send.
    "CallStatus": [*sorted(TWILIO_CALL_STATUSES), "unknown"],
    "SequenceNumber": ["0", "1", "2", "5"],
    "CallDuration": ["0", "12", "600"],
    "Timestamp": FORM_FIELDS["Timestamp"],
}


@per_test_database
@given(steps=moves, callbacks=st.lists(plausible_then_broken(STATUS_FIELDS, {}), max_size=4))
def test_status_callbacks_with_any_values_keep_the_log_consistent(line, steps, callbacks):
    """Twilio's status callbacks for a real call, with values left out or hostile: the call
    log keeps a status of Twilio's, and an end once reached stays."""
    app, phone, db = line()
    call = phone.call(CALLERS[0])
    walk(call, steps)
    ended = False
    for form in callbacks:
        exchange = call.phone.post("/voice/status", {**call._params(), **form})
        assert_playable(exchange, app)
        assert_database_consistent(db, app.config["HOTLINE"])
        [logged] = db.scalars(select(Call)).all()
        if ended:
            assert logged.status in FINAL_CALL_STATUSES and logged.ended_at is not None
        ended = logged.status in FINAL_CALL_STATUSES


SWEEP_ERROR_URL = "https://hotline.test/voice/step?step=postcode&lang=pl&turn=3"


# -- every parameter with each of the classic bad values, deterministically -------------

CLASSIC = [
    "",
    "\x00",
    "\r\n",
    "-1",
    "²",
    "99999999999999999999",
    "A" * 600,
    "<Say>&amp;</Say>",
    "🙂",
    "javascript:alert(1)",
    "Mon, 01 Jan 9999 23:59:59 -2359",
]
RECORDING = FORM_FIELDS["RecordingUrl"][0]
# Each route (and each kind of /voice/step answer) with the form Twilio sends it.
SWEEP = {
    "incoming": ("/voice/incoming", {"CallStatus": "ringing"}),
    "keys": ("/voice/step?step=postcode&lang=de&turn=2", {"Digits": "10115"}),
    "message": (
        "/voice/step?step=voice_message&lang=de&turn=6&postcode=10115&type=shopping",
        {"RecordingUrl": RECORDING, "RecordingDuration": "14", "Digits": "#"},
    ),
    "transfer": ("/voice/step?step=operator&lang=de&turn=3", {"DialCallStatus": "no-answer"}),
    "operator message": (
        "/voice/step?step=operator_message&lang=de&turn=4",
        {"RecordingUrl": RECORDING, "RecordingDuration": "30", "Digits": "#"},
    ),
    "status": (
        "/voice/status",
        {
            "CallStatus": "completed",
            "SequenceNumber": "3",
            "CallDuration": "42",
            "Timestamp": "Mon, 16 Jun 2025 10:00:00 +0000",
        },
    ),
    "fallback": ("/voice/fallback", {"ErrorCode": "11200", "ErrorUrl": SWEEP_ERROR_URL}),
}


@pytest.mark.parametrize("route", SWEEP)
def test_every_parameter_with_every_classic_bad_value(line, route):
    """No luck needed: each parameter the route reads (and CallSid, From, To), with each
    value that broke something somewhere once; one call each, checked after each one."""
    app, phone, db = line()
    path, form = SWEEP[route]
    sorry = technical_problem(app)
    params = lambda: {  # noqa: E731  (a fresh call every time)
        "CallSid": "CA" + uuid.uuid4().hex,
        "From": CALLERS[0],
        "To": "+4930000000000",
        "CallStatus": "in-progress",
        **form,
    }
    root = assert_playable(phone.post(path, params()), app)
    if route != "fallback":  # which is there to apologise
        assert not {say.text for say in root.iter("Say")} & sorry, "the plain request failed"
    for field in sorted({*form, "CallSid", "From", "To"}):
        for value in CLASSIC:
            root = assert_playable(phone.post(path, {**params(), field: value}), app)
            if field == "Digits" and root is not None:
                assert not {say.text for say in root.iter("Say")} & sorry, repr(value)
        assert_database_consistent(db, app.config["HOTLINE"])


# -- signatures: forged, missing, replayed for another URL or other parameters ---------


class BehindProxy(FlaskTransport):
    """Delivers to the app's internal address, as a reverse proxy would."""

    def post(self, url, params, headers):
        parts = urlsplit(url)
        internal = f"http://10.0.0.5:8000{parts.path}" + (f"?{parts.query}" if parts.query else "")
        forwarded = {"X-Forwarded-Proto": parts.scheme, "X-Forwarded-Host": parts.netloc}
        exchange = super().post(internal, params, {**headers, **forwarded})
        return dataclasses.replace(exchange, url=url)  # as Twilio saw it


PUBLIC = "https://hotline.example.org"
SETUPS = {
    "direct": ({}, None),
    "public_base_url": ({"public_base_url": PUBLIC}, BehindProxy),
    "trusted_proxies": ({"public_base_url": "", "trusted_proxies": 1}, BehindProxy),
}


def snapshot(db) -> list[tuple]:
    """Every row of the tables a call can write, as plain values."""
    db.expire_all()
    rows = []
    for model in (Call, HelpRequest, AuditEvent):
        columns = model.__table__.columns
        for row in db.execute(select(*columns).order_by(columns["id"])):
            rows.append((model.__name__, *row))
    return rows


@pytest.fixture(params=SETUPS)
def signed_line(request, another_app, berlin):
    """A phone on an app reached directly, or through a proxy with either way of
    telling the app its public address; and a call that has reached the postcode."""
    config, transport = SETUPS[request.param]
    app = another_app(operator_phone=OPERATOR, **config)
    if transport is None:
        phone = Phone.for_app(app)
    else:
        phone = Phone(transport(app.test_client()), TEST_AUTH_TOKEN, PUBLIC)
    call = phone.call(CALLERS[0])
    call.press("1")
    return phone, call, berlin


def replays(phone, signed) -> dict[str, tuple[str, dict[str, str], str]]:
    """The signed postcode answer sent to another URL or with other parameters, with its
    signature; or the same request with a signature made for another deployment (staging
    on the same Twilio account, or the same host over the other scheme)."""
    url, params, signature = signed.url, signed.params, signed.headers[SIGNATURE_HEADER]
    other_state = url.replace("step=postcode", "step=voice_message") + "&postcode=10115&type=chat"
    without_from = {k: v for k, v in params.items() if k != "From"}
    staging = url.replace(urlsplit(url).netloc, "staging.example.org")
    scheme = "http://" if url.startswith("https://") else "https://"
    other_scheme = scheme + url.split("://", 1)[1]
    return {
        "to /voice/incoming": (phone.url("/voice/incoming"), params, signature),
        "to /voice/status": (phone.url("/voice/status"), params, signature),
        "to /voice/fallback": (phone.url("/voice/fallback"), params, signature),
        "to another state": (other_state, params, signature),
        "with a query parameter added": (url + "&on=arrive", params, signature),
        "with the query reordered": (reordered(url), params, signature),
        "with other digits": (url, {**params, "Digits": "12043"}, signature),
        "with another caller": (url, {**params, "From": "+4930999999"}, signature),
        "with a parameter added": (url, {**params, "RecordingUrl": RECORDING}, signature),
        "with a parameter left out": (url, without_from, signature),
        "with another call's sid": (url, {**params, "CallSid": "CA" + "2" * 32}, signature),
        "signed for another host": (url, params, sign(phone, staging, params)),
        "signed for the other scheme": (url, params, sign(phone, other_scheme, params)),
    }


def sign(phone, url: str, params: dict[str, str]) -> str:
    return phone.validator.compute_signature(url, params)


def reordered(url: str) -> str:
    base, query = url.split("?", 1)
    return base + "?" + "&".join(reversed(query.split("&")))


def test_a_signature_replayed_elsewhere_is_refused_and_writes_nothing(signed_line):
    phone, call, db = signed_line
    call.press("10115")
    signed = call.exchanges[-1]
    assert signed.status == 200 and "step=postcode" in signed.url
    before = snapshot(db)
    for replay, (url, params, signature) in replays(phone, signed).items():
        response = phone.transport.post(url, params, {SIGNATURE_HEADER: signature})
        assert response.status == 403, replay
        assert snapshot(db) == before, replay
    # The genuine request is still accepted (a duplicate delivery): it was the replays.
    assert phone.transport.post(signed.url, signed.params, signed.headers).status == 200


FORGED = {
    "empty": "",
    "blank": " ",
    "huge": "x" * 10_000,
    "NUL": "\x00",
    "base64 of something": "ZmFrZQ==",
    "prefixed": "sha1=deadbeef",
}


def test_forged_signatures_never_reach_the_database(signed_line):
    phone, call, db = signed_line
    before = snapshot(db)
    params = {**call._params(), "Digits": "10115", "CallStatus": "completed"}
    for path in ("/voice/incoming", "/voice/step?step=postcode&lang=de&turn=2", "/voice/status"):
        for forgery, signature in FORGED.items():
            response = phone.post(path, params, signature=signature)
            assert response.status == 403, (path, forgery)
    assert snapshot(db) == before


def test_a_twilio_shared_key_signature_is_refused(signed_line):
    """A Webhook Rule may make Twilio sign with a SharedKey; the app cannot check it."""
    phone, call, db = signed_line
    before = snapshot(db)
    url = phone.url("/voice/incoming")
    params = call._params()
    headers = {
        SIGNATURE_HEADER: phone.validator.compute_signature(url, params),
        SIGNATURE_SETTINGS_HEADER: "key=WH0123,algorithm=HMAC_SHA256",
    }
    assert phone.transport.post(url, params, headers).status == 403
    assert snapshot(db) == before
