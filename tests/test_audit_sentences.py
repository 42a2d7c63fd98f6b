"""The audit log in words: each shape of stored detail read back as a sentence, in the
reader's language; a detail of an unknown shape shown as it was stored."""

from __future__ import annotations

import pytest

from app import audit
from app.models import AuditEvent
from board.operator.audit_sentences import describe

CASES = [
    (
        audit.Action.APPROVED,
        "piotr@example.org: pending -> approved (knows Mitte well)",
        {
            "en": ("approved the account (it was waiting for approval)", "knows Mitte well"),
            "de": (
                "hat das Konto freigeschaltet (vorher: wartet auf Freischaltung)",
                "knows Mitte well",
            ),
            "pl": ("zatwierdził(a) konto (wcześniej: czeka na zatwierdzenie)", "knows Mitte well"),
        },
    ),
    (
        audit.Action.SUSPENDED,
        "ada@example.org: approved -> suspended",
        {
            "en": ("suspended the account (it was approved)", ""),
        },
    ),
    (
        audit.Action.RELEASED,
        "no_time: away this week",
        {
            "en": ("gave the request back to the board: I no longer have time", "away this week"),
            "de": (
                "hat die Anfrage an das Board zurückgegeben: Ich habe keine Zeit mehr",
                "away this week",
            ),
        },
    ),
    (
        audit.Action.RELEASED,
        "claim released: the volunteer was suspended",
        {
            "en": ("gave the request back to the board: the volunteer was suspended", ""),
        },
    ),
    (
        audit.Action.UNREACHABLE,
        "attempt 3",
        {
            "en": ("could not reach the caller (attempt 3)", ""),
            "de": ("hat die anrufende Person nicht erreicht (Versuch 3)", ""),
            "pl": ("nie dodzwonił(a) się do osoby dzwoniącej (próba 3)", ""),
        },
    ),
    (
        audit.Action.EXPIRED,
        "not done within 24 hours",
        {
            "en": (
                "the claim ran out (not done within 24 hours) and the request went back to the "
                "board",
                "",
            ),
        },
    ),
    (
        audit.Action.COMPLETED,
        "Brought the shopping.",
        {
            "en": ("marked the request as done", "Brought the shopping."),
        },
    ),
    (
        audit.Action.EXPORTED,
        "call log 2026-06-01 to 2026-06-02 with full caller numbers (2 calls), "
        "via the operator pages",
        {
            "en": (
                "exported the call log of 1 Jun 2026 to 2 Jun 2026 with full caller numbers "
                "(2 calls), on the operator pages",
                "",
            ),
        },
    ),
    (
        audit.Action.MESSAGE_HANDLED,
        "voice message of call CA123",
        {
            "en": ("marked a voice message as handled (call CA123)", ""),
        },
    ),
    (
        audit.Action.HELPLINES_CHANGED,
        "berlin, trojmiasto",
        {
            "en": ("set the helplines the operator runs: berlin, trojmiasto", ""),
            "pl": ("ustawił(a) linie pomocy, które prowadzi koordynator: berlin, trojmiasto", ""),
        },
    ),
    # Shapes this module does not know: the action's sentence and the detail as stored.
    (
        audit.Action.UNREACHABLE,
        "attempt three",
        {"en": ("could not reach the caller", "attempt three")},
    ),
    (
        audit.Action.APPROVED,
        "pending -> approved",
        {"en": ("approved the account", "pending -> approved")},
    ),
    (
        audit.Action.HELPLINES_CHANGED,
        "Berlin; Gdańsk",
        {"en": ("changed the helplines the operator runs", "Berlin; Gdańsk")},
    ),
    ("something_new", "raw detail", {"en": ("something_new", "raw detail")}),
]


@pytest.mark.parametrize(("action", "detail", "said"), CASES)
def test_each_stored_shape_reads_as_a_sentence(app, action, detail, said):
    event = AuditEvent(action=action, detail=detail)
    for language, (text, note) in said.items():
        with app.test_request_context(headers={"Accept-Language": language}):
            sentence = describe(event)
        assert (sentence.text, sentence.note) == (text, note), language
