"""The phone line computes Twilio's signature exactly as the twilio library does."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from voice.signature import twilio_signature

# Any text Twilio (or a forger) could send, repeated names and values included.
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
names = st.one_of(st.sampled_from(["CallSid", "Digits", "From", "To", "a", "A", ""]), texts)


@given(
    token=texts,
    url=st.one_of(st.just("https://hotline.example.org/voice/step?step=postcode&lang=de"), texts),
    pairs=st.lists(st.tuples(names, texts), max_size=12),
)
def test_the_signature_is_the_twilio_librarys(token, url, pairs):
    params = MultiDict(pairs)
    expected = RequestValidator(token).compute_signature(url, params)
    assert twilio_signature(token.encode("utf-8"), url, params) == expected


def test_a_webhook_with_repeated_parameters():
    params = MultiDict(
        [("CallSid", "CA1234567890ABCDE"), ("Digits", "2"), ("Digits", "1"), ("Digits", "2")]
    )
    url = "https://hotline.example.org/voice/step?step=postcode&lang=de&turn=3"
    expected = RequestValidator("12345").compute_signature(url, params)
    assert twilio_signature(b"12345", url, params) == expected
