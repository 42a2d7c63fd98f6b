"""The TwiML the phone line writes is exactly what the twilio library would write.

voice/twiml.py writes the XML as text (the library's element tree cost a tenth of a
webhook). Here every verb, with awkward text and both ways of each option, is also
put through twilio's VoiceResponse as the phone line did before, and the two
documents must be the same, byte for byte.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.twiml.voice_response import Gather, VoiceResponse

from app.models import CallStep
from voice.flow import (
    OPERATOR_RING_SECONDS,
    RECORDING_SILENCE,
    Ask,
    Dial,
    GoTo,
    Hangup,
    Pause,
    Record,
    Say,
    State,
    apology,
)
from voice.twiml import (
    ON_ARRIVE,
    ON_NO_ANSWER,
    acknowledge,
    action_url,
    respond,
    state_query,
)

# What a sentence could hold: markup characters, quotes, line breaks, umlauts, emoji.
AWKWARD = ["", "a & b", "<b>", 'say "hi"', "it's", "line\nbreak\r\ttab", "Grüß Gott", "😀"]


def library_twiml(line, verbs) -> str:
    """The reply as the twilio library writes it (the phone line's code until now)."""
    response = VoiceResponse()
    for verb in verbs:
        _add(response, line, verb)
    return str(response)


def _add(parent, line, verb) -> None:
    match verb:
        case Say(text=text, language=language):
            parent.say(text, voice=line.voices[language], language=line.catalogs[language].locale)
        case Pause(seconds=seconds):
            parent.pause(length=seconds)
        case Ask():
            gather = Gather(
                input="dtmf",
                action=action_url(verb.state),
                method="POST",
                timeout=verb.timeout,
                finish_on_key="#",
                **({"num_digits": verb.max_digits} if verb.max_digits else {}),
            )
            for prompt in verb.prompts:
                _add(gather, line, prompt)
            parent.append(gather)
            if verb.otherwise is None:
                parent.redirect(action_url(verb.state, on=ON_NO_ANSWER), method="POST")
            else:
                for after in verb.otherwise:
                    _add(parent, line, after)
        case Record():
            options = {"finish_on_key": verb.finish_on_key} if verb.finish_on_key else {}
            parent.record(
                action=action_url(verb.state),
                method="POST",
                max_length=verb.max_seconds,
                timeout=RECORDING_SILENCE,
                play_beep=True,
                trim="trim-silence",
                **options,
            )
            parent.redirect(action_url(verb.state, on=ON_NO_ANSWER), method="POST")
        case Dial(number=number, state=state):
            if state is None:
                parent.dial(number, timeout=OPERATOR_RING_SECONDS)
            else:
                action = action_url(state)
                parent.dial(number, action=action, method="POST", timeout=OPERATOR_RING_SECONDS)
        case GoTo(state=state):
            parent.redirect(action_url(state, on=ON_ARRIVE), method="POST")
        case Hangup():
            parent.hangup()


@pytest.fixture
def line_context(app):
    """The app's phone line, inside a request (action URLs use the public address)."""
    with app.test_request_context("/voice/step"):
        yield app.extensions["hotline_line"]


states = st.builds(
    State,
    step=st.sampled_from(list(CallStep)),
    language=st.sampled_from(["de", "pl", "en"]),
    turn=st.integers(0, 100_000),
    silences=st.integers(0, 2),
    invalid=st.integers(0, 3),
    postcode=st.sampled_from(["", "10115"]),
    request_type=st.sampled_from(["", "shopping", "a&b c"]),
    reference=st.sampled_from(["", "HX7-K4M"]),
)
# Control characters cannot be in XML at all; the prompts and the configuration have none.
texts = st.one_of(
    st.sampled_from(AWKWARD), st.text(st.characters(blacklist_categories=("Cs", "Cc")))
)
says = st.builds(Say, text=texts, language=st.sampled_from(["de", "pl", "en"]))
prompts = st.lists(st.one_of(says, st.builds(Pause, seconds=st.integers(1, 3))), max_size=4)
endings = st.lists(st.one_of(says, st.just(Hangup())), max_size=2).map(tuple)
verbs = st.one_of(
    says,
    st.builds(Pause, seconds=st.integers(1, 3)),
    st.builds(
        Ask,
        state=states,
        prompts=prompts.map(tuple),
        max_digits=st.sampled_from([None, 1, 5]),
        timeout=st.sampled_from([8, 10]),
        otherwise=st.one_of(st.none(), endings),
    ),
    st.builds(
        Record,
        state=states,
        max_seconds=st.sampled_from([60, 120]),
        finish_on_key=st.sampled_from(["", "#"]),
    ),
    st.builds(Dial, number=st.sampled_from(["+4930999000", "a&b"]), state=st.none() | states),
    st.builds(GoTo, state=states),
    st.just(Hangup()),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reply=st.lists(verbs, max_size=6).map(tuple))
def test_every_reply_is_written_as_the_twilio_library_writes_it(line_context, reply):
    written = respond(line_context, reply).get_data(as_text=True)
    assert written == library_twiml(line_context, reply)
    ET.fromstring(written)  # and it is XML


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    state=states,
    request_type=st.text(st.characters(blacklist_categories=("Cs",))),
    on=st.sampled_from([None, ON_NO_ANSWER, ON_ARRIVE]),
)
def test_action_urls_are_url_encoded(line_context, state, request_type, on):
    state = dataclasses.replace(state, request_type=request_type)
    query = state_query(state) | ({"on": on} if on else {})
    assert action_url(state, on) == "http://hotline.test/voice/step?" + urlencode(query)


@pytest.mark.parametrize("text", AWKWARD)
def test_every_verb_with_awkward_text_is_written_as_before(line_context, text):
    state = State(CallStep.REQUEST_TYPE, "de", turn=7, postcode="10115", request_type=text)
    prompt = Say(text, "pl")
    reply = (
        Say(text, "de"),
        Pause(2),
        Ask(state, (prompt, Pause(1), prompt), max_digits=None, timeout=10),
        Ask(state, (prompt,), otherwise=(prompt, Hangup())),
        Record(state, max_seconds=60, finish_on_key=""),
        Record(state, max_seconds=120, finish_on_key="#"),
        Dial(text or "+4930999000", state),
        Dial(text or "+4930999000", None),
        GoTo(state),
        Hangup(),
    )
    # The voices come from the configuration: attributes with awkward text too.
    line = dataclasses.replace(line_context, voices=dict.fromkeys(line_context.voices, text))
    written = respond(line, reply).get_data(as_text=True)
    assert written == library_twiml(line, reply)
    ET.fromstring(written)


@pytest.mark.parametrize("offer_operator", [True, False])
def test_the_apology_is_written_as_before(line_context, offer_operator):
    reply = apology(line_context, "pl", offer_operator)
    assert respond(line_context, reply).get_data(as_text=True) == library_twiml(line_context, reply)


def test_a_status_callback_gets_an_empty_response(app):
    response = acknowledge()
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True) == str(VoiceResponse())
