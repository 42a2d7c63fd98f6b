"""Callers' phone numbers: which ones say who is calling, and how operators may see them.

A number in the call log is what Twilio sent as `From`: normally E.164
(`+4930123456`), but a caller who withholds their number arrives as a word
(`anonymous`, `restricted`) or, on older Twilio behaviour, as that word spelt
on the keypad (`+266696687` is ANONYMOUS). SIP and client calls bring other
strings. None of these must ever leak more than the mask allows, and none of
them is a caller's identity: the phone line finds a caller's open request by
their number, so two callers who withheld theirs must never share one.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

# E.164: a plus, a calling code that does not start with 0, at most 15 digits in all.
E164 = re.compile(r"\+[1-9][0-9]{5,14}")
# A caller's number as the call log and the requests keep it: digits, after a plus or not.
PHONE_NUMBER = re.compile(r"\+?[0-9]{3,20}")
# A number a caller with a withheld one types on the keypad to be called back on:
# as dialled at home, with the area code (no plus on a keypad's menu; * and # are keys).
TYPED_NUMBER = re.compile(r"[0-9]{6,15}")

# Berlin's numbers the Bundesnetzagentur keeps free for films, books and teaching
# ("drama numbers", Amtsblatt 7/2021, Mitteilung 148/2021): +49 30 23125 000 to 999.
# The simulator calls from them and answers calls to them (voice/simulator), so no
# test request ever carries a real person's number and no call to one reaches Twilio.
FICTIONAL_PREFIX = "+493023125"

# What Twilio sends as `From` today for a withheld number (and so the simulated phones).
ANONYMOUS = "anonymous"

# The words that stand for a withheld number. Twilio sends ANONYMOUS, RESTRICTED,
# UNAVAILABLE, UNKNOWN and BLOCKED (its help article "Why am I getting calls from these
# strange numbers?", and the changelog of 16 Nov 2022, after which it passes the word on
# instead of spelling it); carriers put "private" and "withheld" there too.
WITHHELD_WORDS = frozenset(
    {"anonymous", "restricted", "unavailable", "unknown", "blocked", "private", "withheld"}
)

# The letters on a phone's keypad: how Twilio spells a word as digits.
KEYPAD = {
    letter: digit
    for digit, letters in {
        "2": "abc",
        "3": "def",
        "4": "ghi",
        "5": "jkl",
        "6": "mno",
        "7": "pqrs",
        "8": "tuv",
        "9": "wxyz",
    }.items()
    for letter in letters
}


def keypad_spelling(word: str) -> str:
    """A word typed on a phone's keypad: 'anonymous' -> '266696687'."""
    return "".join(KEYPAD[letter] for letter in word.lower())


# The withheld words as Twilio used to send them, spelt on the keypad (+266696687 is
# ANONYMOUS), with the plus and without. Worked out from the words, so the two lists
# cannot drift apart: a spelling missing here once made two withheld callers one caller.
WITHHELD_KEYPAD = frozenset(
    prefix + keypad_spelling(word) for word in WITHHELD_WORDS for prefix in ("+", "")
)
# Every From that means "withheld", stripped and in lower case; "" is no number at all.
WITHHELD_SPELLINGS = frozenset({"", *WITHHELD_WORDS, *WITHHELD_KEYPAD})

MASK = "*** **"


def is_withheld(number: str | None) -> bool:
    """True when the caller withheld their number (or none arrived at all)."""
    return number is None or number.strip().lower() in WITHHELD_SPELLINGS


def is_fictional(number: str) -> bool:
    """True for a number of the range kept free for fiction (+49 30 23125 000 to 999)."""
    rest = number.removeprefix(FICTIONAL_PREFIX)
    return number.startswith(FICTIONAL_PREFIX) and len(rest) == 3 and rest.isdigit()


def caller_number(raw: str | None) -> str | None:
    """The caller's number as Twilio sent it (stripped), or None when there is none to go by.

    None for every withheld spelling, and for anything that is not a phone
    number (a SIP address, `client:alice`): the phone line reads a caller's
    open request, its code and the offer to cancel it by this number, so it
    must be one the phone network put there and a volunteer can ring back.
    """
    if is_withheld(raw):
        return None
    number = raw.strip()
    return number if PHONE_NUMBER.fullmatch(number) else None


def country_code(number: str) -> str:
    """The calling code of an E.164 number, without the plus: '+4930123456' -> '49'.

    Calling codes are prefix-free (ITU-T E.164), so the first one to match is it:
    from the `phonenumbers` library's table, kept up to date with the ITU's. A code
    nobody has been given yet counts as three digits, as every code without one or
    two does.
    """
    digits = number.strip().lstrip("+")
    for length in (1, 2, 3):
        if digits[:length].isdigit() and int(digits[:length]) in COUNTRY_CODE_TO_REGION_CODE:
            return digits[:length]
    return digits[:3]


def is_dialable(number: str) -> bool:
    """True for a number Twilio can <Dial>: E.164, of a length its country's numbers have."""
    if not E164.fullmatch(number):
        return False
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return False


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


# A phone number inside free text (a provider's error message): a run of seven or more
# digits, maybe after a plus, maybe with spaces between the groups (not dashes: dates).
NUMBER_IN_TEXT = re.compile(r"\+?[0-9](?: ?[0-9]){6,19}")


def masked_in_text(text: str) -> str:
    """`text` with every phone number in it masked (masked_number): Twilio's errors name
    the number they refused ("The 'To' number +4930... is not valid"), and such a text is
    kept and shown to operators long after the caller's own number is erased."""
    return NUMBER_IN_TEXT.sub(
        lambda m: masked_number(re.sub(r"[ \-]", "", m.group())) or "***", text
    )


def is_known_country(code: str) -> bool:
    """True for a country whose numbers `phonenumbers` knows: 'DE', 'PL'."""
    return code in phonenumbers.SUPPORTED_REGIONS


def _parsed(number: str | None, country: str) -> phonenumbers.PhoneNumber | None:
    """A number as `phonenumbers` reads it (a national one as of `country`), or None."""
    if number is None or is_withheld(number):
        return None
    try:
        parsed = phonenumbers.parse(number.strip(), country)
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_possible_number(parsed) else None


def readable_number(number: str | None, country: str) -> str:
    """A number as people read and dial it: '030 23125388' at home, '+48 58 123 45 67' abroad.

    `country` is the helpline's (the setting phone_country). A number that is not
    one (a SIP address) stays as it is; a withheld one is empty.
    """
    parsed = _parsed(number, country)
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        # Not a number phonenumbers can lay out (a SIP address, a range it does not
        # know): as it came, rather than a layout that might mislead.
        return "" if number is None or is_withheld(number) else number.strip()
    home = phonenumbers.region_code_for_number(parsed) == country
    style = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(parsed, style.NATIONAL if home else style.INTERNATIONAL)


def number_for_reading(number: str) -> str:
    """A helpline's number as people in its country write it: '+4930123456' -> '030 123456'.

    In the national format: a poster hangs in the area it serves, and people dial
    the number as they read it there.
    """
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def tel_uri(number: str | None, country: str) -> str | None:
    """A `tel:` link's address in E.164 ('tel:+493023125388'); None for what cannot be dialled."""
    parsed = _parsed(number, country)
    if parsed is None:
        return None
    return "tel:" + phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
