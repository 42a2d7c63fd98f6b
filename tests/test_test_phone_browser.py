"""The test phone in a real browser (headless Chromium): keys pressed, prompts read and
spoken in their language, and the request on the board at the end.

Runs against a real HTTP server on a free port. Without Chromium the tests are
skipped, unless HOTLINE_REQUIRE_BROWSER=1: then they fail (tests/browser.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app.accounts.users import create_user
from app.database import get_db
from app.models import Call, HelpRequest
from app.phone_numbers import is_fictional
from tests import browser as browsers
from tests.browser import chromium, serving
from tests.conftest import TEST_PASSWORD_HASH_COST, make_test_app, signed_in_keys

# Records what the page asks the browser to say (headless Chromium has no voices).
RECORD_SPEECH = """
window.spoken = [];
const recorder = {
  speak: (utterance) => window.spoken.push({ text: utterance.text, lang: utterance.lang }),
  cancel: () => {},
  getVoices: () => [],
};
if (window.speechSynthesis) {
  window.speechSynthesis.speak = recorder.speak;
  window.speechSynthesis.cancel = recorder.cancel;
} else {
  Object.defineProperty(window, "speechSynthesis", { value: recorder });
}
if (!window.SpeechSynthesisUtterance) {
  window.SpeechSynthesisUtterance = function (text) { this.text = text; this.lang = ""; };
}
"""


# Whether the transcript shows its newest sentence (scrolled to its end, and that end in view).
FOLLOWS_THE_CALL = """() => {
  const list = document.getElementById("heard");
  const last = list.lastElementChild.getBoundingClientRect();
  const box = list.getBoundingClientRect();
  return list.scrollTop + list.clientHeight >= list.scrollHeight - 2
    && last.bottom <= box.bottom + 1 && last.top >= box.top - 1;
}"""


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def open_phone(browser, app, url: str, user_id: int | None = None):
    """A fresh browser tab on the test phone, signed in as `user_id` when given."""
    context = browser.new_context(
        base_url=url, locale="en-GB", viewport={"width": 390, "height": 844}
    )
    if user_id is not None:
        # The board's sign-in form is another branch's; this is the cookie it would set.
        session = app.session_interface.get_signing_serializer(app)
        cookie = session.dumps(signed_in_keys(user_id))
        context.add_cookies(
            [{"name": app.config["SESSION_COOKIE_NAME"], "value": cookie, "url": url}]
        )
    context.add_init_script(RECORD_SPEECH)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/phone")
    return page


def heard(page, text: str, lang: str = "de-DE"):
    return page.locator(f'#heard li[lang="{lang}"]', has_text=text)


@pytest.mark.browser
def test_an_operator_calls_from_the_browser_and_the_request_appears(browser, app, berlin):
    operator = create_user(
        berlin,
        name="Olga",
        email="olga@example.org",
        password="correct horse battery",
        hash_cost=TEST_PASSWORD_HASH_COST,
        role="operator",
        approved=True,
    )
    berlin.commit()
    with serving(app) as url:
        page = open_phone(browser, app, url, operator.id)
        caller = page.locator("#caller").input_value()
        assert is_fictional(caller)
        page.get_by_role("button", name="Call the helpline").click()

        heard(page, "Guten Tag, hier ist die Nachbarschaftshilfe.").wait_for()
        heard(page, "For English, press 2.", lang="en-GB").wait_for()
        assert page.locator("#line-status").inner_text() == "The line is waiting for a key."

        # The keypad is made of real buttons, usable from the keyboard ...
        page.get_by_role("button", name="Key 1").focus()
        page.keyboard.press("Enter")
        heard(page, "Bitte tippen Sie die fünf Ziffern Ihrer Postleitzahl ein.").wait_for()
        # ... and the computer's keys are keys too: the postcode goes digit by digit.
        for key in "101":
            page.keyboard.press(key)
        page.locator("#typed", has_text="Typed so far: 101").wait_for()
        page.keyboard.press("1")
        page.keyboard.press("5")
        heard(page, "Sie haben eingegeben: 1, 0, 1, 1, 5, Mitte.").wait_for()
        page.get_by_role("button", name="Key 1").click()
        heard(page, "Wobei brauchen Sie Hilfe?").wait_for()
        # The transcript follows the call: the kinds of help just read out are in view,
        # not hidden under the greeting.
        assert page.evaluate(FOLLOWS_THE_CALL), "the transcript stays at the greeting"
        page.get_by_role("button", name="Key 2").click()
        page.locator("#line-status", has_text="Beep: the line is recording.").wait_for()

        page.get_by_label("seconds").fill("7")
        page.get_by_role("button", name="Speak a message").click()
        heard(page, "Vielen Dank, Ihre Anfrage ist aufgenommen.").wait_for()
        page.get_by_role("button", name="Stay silent").click()

        page.locator("#result").wait_for()
        # The result is right under the transcript, in view, above the keypad.
        assert page.locator("#result").is_visible()
        assert page.evaluate(
            "document.getElementById('result').getBoundingClientRect().bottom <= innerHeight"
        )
        assert page.evaluate(
            "document.getElementById('result').getBoundingClientRect().top"
            " < document.querySelector('.keypad').getBoundingClientRect().top"
        )
        reference_text = page.locator("#reference").inner_text()
        assert page.locator("#outcome").inner_text() == "A request was stored."
        board_link = page.get_by_role("link", name="Open the board").get_attribute("href")
        assert page.get_by_role("button", name="Hang up").is_disabled()
        spoken = page.evaluate("window.spoken")
        page.context.close()

    [request] = list(berlin.scalars(select(HelpRequest)))
    assert reference_text == f"Request {request.reference} is on the board."
    assert board_link == f"/requests/{request.reference}"
    assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{3}", request.reference)
    assert (request.postcode, request.request_type, request.caller_number) == (
        "10115",
        "pharmacy",
        caller,
    )
    assert request.voice_message_seconds == 7
    # Every prompt was spoken in its own language.
    assert {"text": "Guten Tag, hier ist die Nachbarschaftshilfe.", "lang": "de-DE"} in spoken
    assert {"text": "For English, press 2.", "lang": "en-GB"} in spoken
    assert {"text": "Po polsku proszę nacisnąć 3.", "lang": "pl-PL"} in spoken


@pytest.mark.browser
def test_hanging_up_from_the_browser_ends_the_call_in_the_log(
    browser, database_url, tmp_path, berlin
):
    """A demo instance (test_phone = "everyone"): no sign-in, a call put down mid-way."""
    app = make_test_app(database_url, tmp_path / "demo", test_phone="everyone")
    try:
        with serving(app) as url:
            page = open_phone(browser, app, url)
            page.get_by_label("Withhold the number").check()
            page.get_by_role("button", name="Call the helpline").click()
            page.get_by_role("button", name="Key 1").click()
            heard(page, "Ihre Telefonnummer wird uns nicht angezeigt.").wait_for()
            page.get_by_role("button", name="Hang up").click()
            page.locator("#result").wait_for()
            assert page.locator("#outcome").inner_text() == "The caller hung up before the end."
            assert page.get_by_role("button", name="Call the helpline").is_enabled()
            page.context.close()
    finally:
        get_db(app).engine.dispose()
    berlin.expire_all()
    [logged] = list(berlin.scalars(select(Call)))
    assert (logged.outcome, logged.last_step, logged.status) == (
        "abandoned",
        "callback_number",
        "completed",
    )
    assert logged.from_number is None


def test_without_chromium_this_skips_but_fails_where_a_browser_is_required(monkeypatch):
    monkeypatch.setattr(browsers, "CHROMIUM", Path("/nowhere/chromium"))
    monkeypatch.delenv("HOTLINE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium at /nowhere/chromium"), chromium():
        pass
    monkeypatch.setenv("HOTLINE_REQUIRE_BROWSER", "1")
    required = pytest.raises(pytest.fail.Exception, match="HOTLINE_REQUIRE_BROWSER=1 but no")
    with required, chromium():
        pass
