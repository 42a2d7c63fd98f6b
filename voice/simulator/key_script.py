"""What a simulated caller does, written as words: the key script of `hotline call`.

One word per move, in the order the line asks for them:

    1  10115  123#  *      keys pressed at a question (digits, * and #; # ends early)
    -   or  wait           stay silent: the question times out, a recording stays empty
    rec  rec:12            speak a message after the beep (12 seconds; default 10), then #
    rec:12:-  rec:12:hangup    ... then fall silent, or put the phone down
    answer  answer:90      the operator picks up (and talks 90 seconds; default 60)
    noanswer  busy         the operator does not pick up, or is busy
    hangup                 put the phone down

So `1 10115 1 1 #` is the German happy path: language 1, postcode 10115, "that is
right", shopping, and # to skip the message. The test phone sends the same words
for everything but single keys. `perform()` plays a move on a simulator PhoneCall and
refuses one that does not fit what the line waits for, so a script that has got
out of step with the menu stops with a message instead of wandering on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voice.simulator.phone import PhoneCall

KEYS = re.compile(r"[0-9*#]{1,32}")
SPEAK = re.compile(r"rec(?::([0-9]{1,4}))?(?::([0-9*#]|-|wait|hangup))?")
ANSWER = re.compile(r"answer(?::([0-9]{1,4}))?")
MAX_SECONDS = 3600
DEFAULT_MESSAGE_SECONDS = 10
DEFAULT_TALK_SECONDS = 60

GRAMMAR = (
    "digits, * and # (keys at a question), - or wait (silence), rec or rec:SECONDS "
    "(a message after the beep, then #; rec:SECONDS:- falls silent, rec:SECONDS:hangup "
    "hangs up), answer or answer:SECONDS, noanswer, busy, hangup"
)


class KeyScriptError(ValueError):
    """A word that is not part of the key script, or a move that does not fit the call."""


@dataclass(frozen=True)
class Press:
    keys: str


@dataclass(frozen=True)
class Silence:
    pass


@dataclass(frozen=True)
class Speak:
    seconds: int
    then: str  # a key, "" to fall silent, or "hangup"


@dataclass(frozen=True)
class OperatorAnswers:
    seconds: int


@dataclass(frozen=True)
class OperatorMisses:
    status: str  # Twilio's DialCallStatus: "no-answer" or "busy"


@dataclass(frozen=True)
class HangUp:
    pass


Move = Press | Silence | Speak | OperatorAnswers | OperatorMisses | HangUp

# What each kind of move needs the line to be waiting for (PhoneCall.waiting_for).
FITS = {
    Press: ("keys", "recording"),
    Silence: ("keys", "recording"),
    Speak: ("recording",),
    OperatorAnswers: ("operator",),
    OperatorMisses: ("operator",),
    HangUp: ("keys", "recording", "operator"),
}
WAITING = {
    "keys": "waits for keys (digits, *, #, or - for silence)",
    "recording": "is recording after the beep (rec, rec:SECONDS, - or a key to skip)",
    "operator": "is ringing the operator (answer, noanswer or busy)",
}


def parse(script: str) -> list[Move]:
    """The moves of a key script; KeyScriptError names the first word that is wrong."""
    return [parse_word(word, position) for position, word in enumerate(script.split(), 1)]


def parse_word(word: str, position: int = 1) -> Move:
    """One word of a key script as a move."""
    lowered = word.lower()
    if KEYS.fullmatch(word):
        return Press(word)
    if lowered in ("-", "wait"):
        return Silence()
    if lowered == "hangup":
        return HangUp()
    if lowered == "noanswer":
        return OperatorMisses("no-answer")
    if lowered == "busy":
        return OperatorMisses("busy")
    if match := ANSWER.fullmatch(lowered):
        return OperatorAnswers(_seconds(match.group(1), DEFAULT_TALK_SECONDS, word, position))
    if match := SPEAK.fullmatch(lowered):
        seconds = _seconds(match.group(1), DEFAULT_MESSAGE_SECONDS, word, position)
        then = match.group(2) or "#"
        if then in ("-", "wait"):
            then = ""
        if seconds < 1:
            raise KeyScriptError(f"word {position} '{word}': a message lasts at least 1 second")
        return Speak(seconds, then)
    raise KeyScriptError(f"word {position} '{word}' is not a key script word; use {GRAMMAR}")


def _seconds(text: str | None, default: int, word: str, position: int) -> int:
    seconds = default if text is None else int(text)
    if seconds > MAX_SECONDS:
        raise KeyScriptError(f"word {position} '{word}': at most {MAX_SECONDS} seconds")
    return seconds


def fits(call: PhoneCall, move: Move) -> bool:
    """Whether the line is waiting for this kind of move now."""
    return not call.ended and call.waiting_for in FITS[type(move)]


def perform(call: PhoneCall, move: Move) -> None:
    """Play one move on the call; KeyScriptError when the line is not waiting for it."""
    if call.ended:
        raise KeyScriptError("the call has ended")
    if not fits(call, move):
        raise KeyScriptError(f"the line {WAITING[call.waiting_for or 'keys']}")
    match move:
        case Press(keys=keys):
            call.press(keys)
        case Silence():
            call.wait()
        case Speak(seconds=seconds, then=then):
            call.speak(seconds=seconds, then=then)
        case OperatorAnswers(seconds=seconds):
            call.operator_answers(talk_seconds=seconds)
        case OperatorMisses(status=status):
            call.operator_does_not_answer(status)
        case HangUp():
            call.hang_up()


def describe(move: Move) -> str:
    """The move as the transcript shows it."""
    match move:
        case Press(keys=keys):
            return keys
        case Silence():
            return "(silence)"
        case Speak(seconds=seconds, then=then):
            after = {"": "then silence", "hangup": "then hangs up"}.get(then, f"then {then}")
            return f"(speaks for {seconds} s, {after})"
        case OperatorAnswers(seconds=seconds):
            return f"(the operator answers and talks for {seconds} s)"
        case OperatorMisses(status=status):
            return "(the operator's line is busy)" if status == "busy" else "(nobody answers)"
        case HangUp():
            return "(hangs up)"
    raise TypeError(f"not a move: {move!r}")
