"""Every way a call can end, and every step it can end at, reads as words in each language."""

from __future__ import annotations

import pytest
from flask_babel import force_locale, gettext

from app.calls.labels import outcome_label, status_label
from app.models import CallOutcome, CallStatus, CallStep

LANGUAGES = ("en", "de", "pl")


@pytest.mark.parametrize("step", list(CallStep))
def test_a_call_abandoned_at_any_step_names_the_step_in_every_language(app, step):
    labels = {}
    with app.test_request_context():
        for language in LANGUAGES:
            with force_locale(language):
                labels[language] = outcome_label(CallOutcome.ABANDONED, step, "completed")
                assert labels[language] != gettext("abandoned"), f"no label for {step.value!r}"
    assert len(set(labels.values())) == len(LANGUAGES), f"not translated: {labels}"


@pytest.mark.parametrize("language", ["de", "pl"])
@pytest.mark.parametrize("outcome", list(CallOutcome))
def test_every_outcome_has_a_translated_label(app, language, outcome):
    with app.test_request_context():
        with force_locale("en"):
            english = outcome_label(outcome, "", "completed")
        with force_locale(language):
            translated = outcome_label(outcome, "", "completed")
    assert translated != outcome.value
    assert translated != english, f"{outcome.value!r} is not translated into {language}"


@pytest.mark.parametrize("language", ["de", "pl"])
@pytest.mark.parametrize("status", list(CallStatus))
def test_every_status_has_a_translated_label(app, language, status):
    with app.test_request_context():
        with force_locale("en"):
            english = status_label(status)
        with force_locale(language):
            translated = status_label(status)
    assert translated != english, f"{status.value!r} is not translated into {language}"
