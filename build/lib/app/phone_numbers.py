"""Callers' phone numbers as operators may see them: masked unless there is a reason not to.

A number in the call log is what Twilio sent as `From`: normally E.164
(`+4930123456`), but a caller who withholds their number arrives as a word
(`anonymous`, `restricted`) or, on older Twilio behaviour, as that word spelt
on the keypad (`+266696687` is ANONYMOUS). SIP and client calls bring other
strings. None of these must ever leak more than the mask allows.
"""

from __future__ import annotations

import re

E164 = re.compile(r"\+[1-9][0-9]{5,14}")

# The withheld-caller placeholders: the words Twilio sends, and the same words
# spelt on a keypad, which Twilio used to send in their place.
WITHHELD_WORDS = {"", "anonymous", "restricted", "unknown", "unavailable", "blocked", "private"}
WITHHELD_KEYPAD = {
    "+266696687",  # ANONYMOUS
    "+7378742833",  # RESTRICTED
    "+86282452253",  # UNAVAILABLE
    "+2562533",  # BLOCKED
    "+8656696",  # UNKNOWN
}

# Country calling codes are prefix-free (ITU-T E.164): +1 and +7 are the only
# one-digit codes, these are the two-digit ones, and every other code has
# three digits. That is enough to split any number without a numbering-plan
# library.
TWO_DIGIT_COUNTRY_CODES = frozenset(
    {20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54}
    | {55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98}
)

MASK = "*** **"


def is_withheld(number: str | None) -> bool:
    """True when the caller withheld their number (or none arrived at all)."""
    if number is None:
        return True
    text = number.strip()
    return text.lower() in WITHHELD_WORDS or text in WITHHELD_KEYPAD


def country_code(number: str) -> str:
    """The calling code of an E.164 number, without the plus: '+4930123456' -> '49'."""
    digits = number.lstrip("+")
    if digits[0] in "17":
        return digits[0]
    if int(digits[:2]) in TWO_DIGIT_COUNTRY_CODES:
        return digits[:2]
    return digits[:3]


def masked_number(number: str | None) -> str | None:
    """The number with only its country code and last two digits: '+49 *** **67'.

    The mask has the same length for every number, so it does not tell how
    long the number is either. None for a withheld number. A number that is
    not E.164 (a SIP address, a national number) keeps at most its last two
    digits, never a name or a domain.
    """
    if is_withheld(number):
        return None
    text = number.strip()
    if E164.fullmatch(text):
        return f"+{country_code(text)} {MASK}{text[-2:]}"
    digits = re.sub(r"[^0-9]", "", text)
    if len(digits) >= 6 and text[-2:].isdigit():
        return f"{MASK}{text[-2:]}"
    return "***"
