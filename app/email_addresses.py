"""What an e-mail address is, for the app's own checks: one rule for forms and settings.

Deliberately loose (the mail server is the real judge): no spaces, one @, a
domain of dot-separated labels, letters of any script allowed. What it keeps
out is what could break a mail header or a link: whitespace, <, >, quotes.
"""

from __future__ import annotations

import re

EMAIL_ADDRESS = re.compile(r"[^@\s<>\"]+@[^@\s<>\".]+(\.[^@\s<>\".]+)*")


def is_email_address(text: str) -> bool:
    """Whether `text` (already stripped) looks like an e-mail address."""
    return EMAIL_ADDRESS.fullmatch(text) is not None


def normalised_email(text: str) -> str:
    """An address as accounts are stored and looked up: trimmed, in lower case."""
    return text.strip().lower()
