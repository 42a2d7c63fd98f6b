"""The main path in a real browser (headless Chromium): sign in, claim, call back, done.

Runs against a real HTTP server on a free localhost port. Without Chromium the
test is skipped, unless HOTLINE_REQUIRE_BROWSER=1 (CI sets it): then a missing
browser fails the run instead of passing it quietly.
"""

import re

import pytest
from sqlalchemy import select

from app.database import get_db
from app.models import HelpRequest, RequestStatus
from tests import browser as browsers
from tests.conftest import add_request

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium():
    with browsers.chromium() as browser:
        yield browser


@pytest.fixture
def live_server(app):
    """The app served over HTTP from a thread, as a browser reaches it."""
    with browsers.serving(app) as url:
        yield url


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(
        base_url=live_server, locale="en-GB", viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_volunteer_signs_in_claims_calls_back_and_marks_done(page, app, berlin, volunteer, phone):
    # A resident calls: German, postcode 12043 (Neukölln), shopping, a 12-second message.
    call = phone.call("+4930555123")
    for keys in ("1", "12043", "1", "1"):
        call.press(keys)
    call.speak(seconds=12)
    assert "Ihr Code lautet" in call.text
    call.hang_up()
    request = berlin.scalars(select(HelpRequest)).one()

    page.goto("/")
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("E-mail").fill(volunteer.email)
    page.get_by_label("Password").fill(volunteer.password)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("heading", name="Open requests", level=1).wait_for()
    card = page.get_by_role("article", name="Shopping")
    assert "12043" in card.inner_text() and "Neukölln" in card.inner_text()
    assert "+4930555123" not in page.content()

    card.get_by_role("button", name="Take it: I will call back").click()
    # Laid out for reading as dialled in Germany, dialled in E.164.
    number = page.get_by_role("link", name="030 555123")
    number.wait_for()
    assert number.get_attribute("href") == "tel:+4930555123"
    assert request.verification_code in page.locator(".code").inner_text()
    assert page.locator("audio").get_attribute("src") == request.voice_message_url

    page.get_by_label("What happened? (optional)").fill("Brought the shopping at five.")
    page.get_by_role("button", name="Done: the person was helped").click()
    # A step of its own asks first, the note carried along.
    page.get_by_role("heading", name="Mark as done?").wait_for()
    assert page.get_by_label("What happened? (optional)").input_value() == (
        "Brought the shopping at five."
    )
    page.get_by_role("button", name="Yes, it is done").click()
    page.get_by_text("Marked as done. Thank you for helping!").wait_for()
    assert "You hold no requests at the moment." in page.content()

    with get_db(app).session() as session:
        done = session.get(HelpRequest, request.id)
        assert done.status == RequestStatus.DONE
        assert done.outcome_note == "Brought the shopping at five."


def _refresh_until(page, shown) -> None:
    """Make the board refresh (as its timer would) until `shown` is visible. On a loaded
    machine one fetch may fail ("could not refresh"); the timer's next tick tries again,
    and so does this, every 1.5 seconds, for half a minute."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(20):
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        try:
            shown.wait_for(timeout=1500)
            return
        except PlaywrightTimeout:
            continue
    shown.wait_for(timeout=1500)


def test_the_board_refreshes_itself_and_keeps_the_filters(page, berlin, volunteer):
    add_request(berlin, postcode="10115")
    page.goto("/login?next=/requests%3Fzone%3Dneukoelln")
    page.get_by_label("E-mail").fill(volunteer.email)
    page.get_by_label("Password").fill(volunteer.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("No open requests match these filters.").wait_for()

    # A call comes in while the page is open, in the filtered zone and outside it.
    add_request(berlin, postcode="12043", request_type="pharmacy")
    add_request(berlin, postcode="10117")
    # What the 30-second timer does, triggered now: the tab becoming visible again.
    _refresh_until(page, page.get_by_role("article", name="Pharmacy"))
    assert page.get_by_role("status").filter(has_text="The list was updated.").count() == 1
    assert re.search(r"1 open request\b", page.locator("#list-heading").inner_text())
    assert page.url.endswith("/requests?zone=neukoelln")
    assert page.get_by_role("article").count() == 1

    # Signed out meanwhile (say, in another tab): the page stops and says so.
    page.context.clear_cookies()
    _refresh_until(page, page.get_by_text("The list is no longer updated by itself."))
    assert page.get_by_role("article").count() == 1
