"""TwiML: the one place where the flow's replies become XML, and states become URLs.

Every <Say> gets its language's locale and configured voice. Every action URL
carries the whole call state in its query string: Twilio signs the full URL
it requests, so the state cannot be forged, and any app server can answer
the next step without remembering anything.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, current_app, request
from twilio.twiml.voice_response import Gather, VoiceResponse

from app.models import CallStep
from voice.flow import (
    OPERATOR_RING_SECONDS,
    RECORDING_SILENCE,
    Ask,
    Dial,
    GoTo,
    Hangup,
    Line,
    Pause,
    Record,
    Say,
    State,
    Verb,
)

# Query parameters of an action URL that say how the request came about.
ON_NO_ANSWER = "nothing"  # a <Gather> timed out or a <Record> stayed empty
ON_ARRIVE = "arrive"  # a <Redirect> into a state that speaks first


def respond(line: Line, verbs: tuple[Verb, ...]) -> Response:
    """The TwiML response for a reply of the flow, as text/xml."""
    response = VoiceResponse()
    for verb in verbs:
        _add(response, line, verb)
    return twiml_response(response)


def twiml_response(response: VoiceResponse) -> Response:
    return Response(str(response), status=200, mimetype="text/xml")


def _add(parent, line: Line, verb: Verb) -> None:
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
            # Twilio does not request the action for an empty recording: it goes on here.
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
        case _:
            raise TypeError(f"not a TwiML verb: {verb!r}")


# -- states in URLs --------------------------------------------------------------------


def state_query(state: State) -> dict[str, str]:
    """The query parameters that carry a state (defaults left out, to keep URLs short)."""
    query = {"step": state.step.value, "lang": state.language, "turn": str(state.turn)}
    optional = {
        "silences": state.silences,
        "invalid": state.invalid,
        "postcode": state.postcode,
        "type": state.request_type,
        "ref": state.reference,
    }
    query.update({k: str(v) for k, v in optional.items() if v})
    return query


def state_from_query(args, line: Line) -> State:
    """The state an action URL carries. Raises ValueError or KeyError on a broken URL."""
    language = args["lang"]
    if language not in line.catalogs:
        # Signed by Twilio, so ours, but from before a configuration change.
        language = line.default_language
    return State(
        step=CallStep(args["step"]),
        language=language,
        turn=int(args["turn"]),
        silences=int(args.get("silences", 0)),
        invalid=int(args.get("invalid", 0)),
        postcode=args.get("postcode", ""),
        request_type=args.get("type", ""),
        reference=args.get("ref", ""),
    )


def action_url(state: State, on: str | None = None) -> str:
    """Where Twilio posts the caller's answer to `state`.

    Absolute under the configured public address, else relative: Twilio then
    resolves it against the URL it requested, which is what it signs.
    """
    query = state_query(state)
    if on:
        query["on"] = on
    path = "/voice/step?" + urlencode(query)
    base = current_app.config["HOTLINE"].public_base_url
    return base + path if base else request.script_root + path
