"""The test phone rings in a real browser (headless Chromium): a calldown to the page's
fictional number shows "Incoming call", Answer plays it, a key closes the request.

Runs against a real HTTP server on a free port. Without Chromium the tests are
skipped, unless HOTLINE_REQUIRE_BROWSER=1: then they fail (tests/browser.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.database import get_db, utcnow
from app.jobs.worker import Worker
from app.models import HelpRequest, RequestStatus
from tests.browser import chromium, serving
from tests.conftest import TEST_AUTH_TOKEN, add_request, make_test_app
from tests.test_test_phone_browser import RECORD_SPEECH, heard

FICTIONAL_CALLER = "+493023125417"


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def demo(database_url, tmp_path, berlin):
    """A demo instance without a Twilio account, with a calldown ringing a fictional caller."""
    app = make_test_app(
        database_url,
        tmp_path / "demo",
        test_phone="everyone",
        twilio={"auth_token": TEST_AUTH_TOKEN, "phone_number": "+4930555000"},
        calldown={"after_hours": 1.5, "hours": "", "retry_after_hours": 4},
    )
    request = add_request(berlin, caller_number=FICTIONAL_CALLER, request_type="pharmacy")
    request.created_at = utcnow() - timedelta(hours=2)
    berlin.commit()
    with app.app_context():
        worker = Worker(app)
        worker.run_periodic(every=True)
        worker.run_until_empty()
    yield app, request
    get_db(app).engine.dispose()


def open_phone(browser, url: str):
    context = browser.new_context(base_url=url, locale="en-GB")
    context.add_init_script(RECORD_SPEECH)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/phone")
    return page


@pytest.mark.browser
def test_the_page_rings_and_answering_plays_the_call(browser, demo, berlin):
    app, request = demo
    with serving(app) as url:
        page = open_phone(browser, url)
        incoming = page.locator("#incoming")
        assert incoming.is_hidden()  # its own random number: nothing rings it
        page.locator("#caller").fill(FICTIONAL_CALLER)
        incoming.wait_for(state="visible")
        assert page.locator("#incoming-text").inner_text() == "Incoming call from 030 555000"

        page.get_by_role("button", name="Answer", exact=True).click()
        heard(page, "haben Sie uns um Hilfe gebeten: Apotheke", lang="de-DE").wait_for()
        assert incoming.is_hidden()
        page.get_by_role("button", name="Key 2").click()
        heard(page, "Ihre Anfrage ist zurückgezogen.").wait_for()
        page.locator("#result").wait_for()
        spoken = page.evaluate("window.spoken")
        assert any("Apotheke" in s["text"] and s["lang"] == "de-DE" for s in spoken)
        page.context.close()
    berlin.expire_all()
    assert berlin.get(HelpRequest, request.id).status == RequestStatus.CANCELLED


@pytest.mark.browser
def test_declining_stops_the_ringing(browser, demo, berlin):
    app, _request = demo
    with serving(app) as url:
        page = open_phone(browser, url)
        page.locator("#caller").fill(FICTIONAL_CALLER)
        page.get_by_role("button", name="Decline", exact=True).click()
        page.locator(
            "#line-status", has_text="You declined the call: the line counts it as not answered."
        ).wait_for()
        assert page.locator("#incoming").is_hidden()
        page.wait_for_timeout(4_000)  # the next look finds nothing ringing
        assert page.locator("#incoming").is_hidden()
        page.context.close()
