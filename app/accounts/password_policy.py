"""Which passwords an account may have: one rule for sign-up, the command line, new passwords.

A password is refused when it is shorter than MIN_LENGTH, when it is mostly
the person's own e-mail address, name or phone number (what an attacker who
knows the account tries first), when it is a common password, or when it is
one repetition, sequence or keyboard row. Common passwords come from the
zxcvbn package's frequency lists (the 30,000 passwords seen most often in
leaks), not from a list typed here; a common password with digits or
punctuation added at the end ("iloveyou2024!") counts as common too, since
that is how such passwords are usually lengthened.
"""

from __future__ import annotations

import enum
import functools
import re

from flask_babel import lazy_gettext as _l
from zxcvbn import matching
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 10
# Personal values shorter than this (an initial, a two-letter name) are too
# short to judge by.
MIN_PERSONAL_LENGTH = 3


class Weakness(enum.StrEnum):
    TOO_SHORT = "too_short"
    PERSONAL = "personal"
    COMMON = "common"
    PATTERN = "pattern"


MESSAGES = {
    Weakness.TOO_SHORT: _l("The password needs at least %(n)d characters.", n=MIN_LENGTH),
    Weakness.PERSONAL: _l(
        "The password must not be your e-mail address, your name or your phone number."
    ),
    Weakness.COMMON: _l(
        "This password is one of the most common ones, which are tried first. "
        "Please choose another."
    ),
    Weakness.PATTERN: _l(
        "The password is one repeated pattern, a sequence or a row of keys. Please choose another."
    ),
}


def weakness(password: str, *, email: str = "", name: str = "", phone: str = "") -> Weakness | None:
    """Why `password` may not be used by the account of that e-mail, name and phone; or None."""
    if len(password) < MIN_LENGTH:
        return Weakness.TOO_SHORT
    plain = _letters_and_digits(password)
    local_part = email.split("@")[0]
    # A phone number without its trunk zero: "0151 ..." is "+49 151 ..." too.
    phone_digits = _letters_and_digits(phone).lstrip("0")
    for value in (email, local_part, name, *name.split(), phone_digits):
        personal = _letters_and_digits(value)
        # Half of the password or more: "ada.lovelace" and "adalovelace1815" alike.
        long_enough = len(personal) >= MIN_PERSONAL_LENGTH
        if long_enough and personal in plain and len(personal) * 2 >= len(plain):
            return Weakness.PERSONAL
    lowered = password.lower()
    stem = lowered.rstrip("0123456789!?.,;:-_#*+ ")
    if lowered in _common() or stem in _common():
        return Weakness.COMMON
    if _one_pattern(password):
        return Weakness.PATTERN
    return None


def problem(password: str, *, email: str = "", name: str = "", phone: str = ""):
    """The sentence saying what is wrong with `password` (translated when shown); None if fine."""
    found = weakness(password, email=email, name=name, phone=phone)
    return MESSAGES[found] if found else None


def _letters_and_digits(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


@functools.cache
def _common() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def _one_pattern(password: str) -> bool:
    """The whole password is one repetition ("aaaaaaaaaa", "abcabcabcabc"), one sequence
    ("abcdefghij", "9876543210") or one keyboard walk ("qwertyuiop"), as zxcvbn sees them."""
    last = len(password) - 1
    for matches in (
        matching.repeat_match(password),
        matching.sequence_match(password),
        matching.spatial_match(password),
    ):
        if any(m["i"] == 0 and m["j"] == last for m in matches):
            return True
    return False
