"""New-request alerts, end to end: a call in Mitte, the worker, the SMTP server, Twilio's API."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.database import get_db, utcnow
from app.jobs.worker import Worker
from app.messaging import alerts
from app.messaging.quiet_hours import quiet_until
from app.models import AlertChannel, HelpRequest, Job, User
from tests.conftest import make_test_app
from tests.smtp_server import SmtpServer, plain_text
from tests.twilio_emulator import HOTLINE_NUMBER, account_settings, through_flask
from voice.simulator import Phone

CALLER = "+4930123456"
BERLIN = ZoneInfo("Europe/Berlin")  # the test configuration's time zone


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def alert_app(database_url, tmp_path, smtp, twilio, berlin):
    return _alert_app(database_url, tmp_path / "alerts", smtp, twilio, quiet_hours="")


def _alert_app(database_url, path, smtp, twilio, **alert_config):
    app = make_test_app(
        database_url,
        path,
        mail={"url": smtp.url, "from_address": "hotline@example.org"},
        twilio=account_settings(twilio),
        alerts={"batch_minutes": 10, **alert_config},
    )
    twilio.deliver = through_flask(app)
    return app


def _call_in_mitte(app, caller: str = CALLER) -> str:
    """A caller in Mitte asks for help with shopping, in German; the request's reference."""
    call = Phone.for_app(app).call(caller)
    for keys in ("1", "10115", "1", "1", "#"):
        call.press(keys)
    with get_db(app).session() as session:
        return session.scalars(
            select(HelpRequest.reference).where(HelpRequest.call_sid == call.call_sid)
        ).one()


def _work(app) -> int:
    with app.app_context():
        return Worker(app).run_until_empty()


def _open_the_window(app) -> None:
    """As if the batch window of every volunteer had passed."""
    with get_db(app).session() as session:
        session.execute(User.__table__.update().values(next_alert_at=utcnow()))
        session.commit()


def test_a_call_in_mitte_alerts_mittes_volunteers_and_nobody_else(
    alert_app, smtp, twilio, make_person, db
):
    mitte = make_person("mia@example.org", zones=["mitte"], name="Mia")
    make_person("nele@example.org", zones=["neukoelln"], name="Nele")
    make_person("paul@example.org", zones=["mitte"], status="pending", name="Paul")
    quiet = make_person("quinn@example.org", zones=["mitte"], name="Quinn")
    db.get(User, quiet.id).alert_channel = AlertChannel.NONE
    texter = make_person("tara@example.org", zones=["mitte", "pankow"], name="Tara")
    db.get(User, texter.id).alert_channel = AlertChannel.SMS
    db.get(User, texter.id).phone = "+4915112345678"
    db.commit()

    reference = _call_in_mitte(alert_app)
    assert smtp.messages == []  # nothing leaves before the worker runs
    _work(alert_app)

    [message] = smtp.wait_for(1)
    assert message["To"] == mitte.email
    assert message["Subject"] == "Nachbarn brauchen Hilfe: 1 Anfrage in Ihren Gebieten"
    text = plain_text(message)
    assert "Hallo Mia," in text
    assert "Einkäufe: 10115 Mitte" in text
    assert "Sprache der anrufenden Person: Deutsch." in text
    assert f"http://hotline.test/requests/{reference}" in text
    with get_db(alert_app).session() as session:
        stored = session.scalars(
            select(HelpRequest).where(HelpRequest.reference == reference)
        ).one()
    # Never the caller's number or the code the volunteer says on the phone.
    assert CALLER not in message.as_string() and CALLER[1:] not in message.as_string()
    assert stored.verification_code not in text
    unsubscribe = message["List-Unsubscribe"].strip().strip("<>")
    assert unsubscribe.startswith("http://hotline.test/alerts/stop/")
    assert unsubscribe in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    [sms] = twilio.wait_for_messages(1)
    assert (sms["to"], sms["from"]) == ("+4915112345678", HOTLINE_NUMBER)
    assert (
        f"Einkäufe, 10115 Mitte (Deutsch), http://hotline.test/requests/{reference}"
        in (sms["body"])
    )
    assert "STOP" in sms["body"] and CALLER not in sms["body"]


def test_alerts_are_batched_one_per_volunteer_per_window(alert_app, smtp, make_person):
    make_person("mia@example.org", zones=["mitte"], name="Mia")
    _call_in_mitte(alert_app, "+4930123401")
    _work(alert_app)
    assert len(smtp.wait_for(1)) == 1

    second = _call_in_mitte(alert_app, "+4930123402")
    third = _call_in_mitte(alert_app, "+4930123403")
    _work(alert_app)
    assert len(smtp.messages) == 1  # the window of 10 minutes is not over

    _open_the_window(alert_app)
    _work(alert_app)
    [_, batch] = smtp.wait_for(2)
    text = plain_text(batch)
    assert batch["Subject"] == "Nachbarn brauchen Hilfe: 2 Anfragen in Ihren Gebieten"
    assert second in text and third in text


def test_a_request_taken_before_its_alert_is_left_out(alert_app, smtp, make_person, berlin):
    make_person("mia@example.org", zones=["mitte"], name="Mia")
    _call_in_mitte(alert_app, "+4930123401")
    _work(alert_app)
    smtp.wait_for(1)
    taken = _call_in_mitte(alert_app, "+4930123402")
    berlin.execute(
        HelpRequest.__table__.update()
        .where(HelpRequest.reference == taken)
        .values(status="claimed", claimed_at=utcnow())
    )
    berlin.commit()
    _open_the_window(alert_app)
    _work(alert_app)
    assert len(smtp.messages) == 1


def test_quiet_hours_hold_the_alert_until_they_end(
    database_url, tmp_path, smtp, twilio, berlin, make_person
):
    now = datetime.now(BERLIN)
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    quiet = f"{start:%H:%M}-{end:%H:%M}"
    night = _alert_app(database_url, tmp_path / "night", smtp, twilio, quiet_hours=quiet)
    make_person("mia@example.org", zones=["mitte"], name="Mia")

    _call_in_mitte(night)
    _work(night)
    assert smtp.messages == []

    # The morning: the same queue, the quiet hours over.
    morning = _alert_app(database_url, tmp_path / "morning", smtp, twilio, quiet_hours="")
    _work(morning)
    assert len(smtp.wait_for(1)) == 1


@pytest.mark.parametrize(
    ("local", "ends"),
    [
        ("2026-03-10 22:30", "2026-03-11 08:00"),
        ("2026-03-10 07:59", "2026-03-10 08:00"),
        ("2026-03-10 08:00", None),
        ("2026-03-10 20:59", None),
        ("2026-03-10 21:00", "2026-03-11 08:00"),
        # The night the clocks go forward is an hour shorter, and alerts still wait till 8.
        ("2026-03-29 01:30", "2026-03-29 08:00"),
    ],
)
def test_quiet_hours_run_over_midnight_in_local_time(local, ends):
    now = datetime.fromisoformat(local).replace(tzinfo=BERLIN)
    until = quiet_until((time(21, 0), time(8, 0)), BERLIN, now)
    expected = datetime.fromisoformat(ends).replace(tzinfo=BERLIN) if ends else None
    assert until == expected


def test_a_request_still_waiting_after_unclaimed_alert_hours_is_alerted_once_more(
    alert_app, smtp, make_person, berlin
):
    make_person("mia@example.org", zones=["mitte"], name="Mia")
    reference = _call_in_mitte(alert_app)
    _work(alert_app)
    smtp.wait_for(1)
    hours = alert_app.config["HOTLINE"].unclaimed_alert_hours
    berlin.execute(
        HelpRequest.__table__.update()
        .where(HelpRequest.reference == reference)
        .values(created_at=utcnow() - timedelta(hours=hours, minutes=1))
    )
    berlin.commit()
    _open_the_window(alert_app)
    _work(alert_app)
    [_, reminder] = smtp.wait_for(2)
    assert "Noch niemand hat sie übernommen." in plain_text(reminder)
    assert reference in plain_text(reminder)

    _open_the_window(alert_app)
    _work(alert_app)
    assert len(smtp.messages) == 2  # once more, not every minute


def test_the_one_click_link_stops_the_alerts_without_signing_in(alert_app, smtp, make_person):
    mia = make_person("mia@example.org", zones=["mitte"], name="Mia")
    _call_in_mitte(alert_app)
    _work(alert_app)
    [message] = smtp.wait_for(1)
    path = message["List-Unsubscribe"].strip().strip("<>").removeprefix("http://hotline.test")
    client = alert_app.test_client()

    page = client.get(path)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200
    assert _channel(alert_app, mia.id) == AlertChannel.EMAIL
    # What a mail program sends for one click (RFC 8058): no form token, no cookie.
    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert _channel(alert_app, mia.id) == AlertChannel.NONE

    _open_the_window(alert_app)
    _call_in_mitte(alert_app, "+4930123499")
    _work(alert_app)
    assert len(smtp.messages) == 1
    assert client.get(path[:-3] + "abc").status_code == 404  # a forged link


def _channel(app, user_id: int) -> str:
    with get_db(app).session() as session:
        return session.get(User, user_id).alert_channel


def test_volunteers_choose_sms_on_their_account_page(alert_app, make_person, auth, twilio):
    person = make_person("mia@example.org", zones=["mitte"], name="Mia")
    auth.client = alert_app.test_client()
    assert auth.login(person.email, person.password).status_code == 302
    page = auth.client.get("/account", headers={"Accept-Language": "en"}).text
    assert "By SMS" in page and re.search(r'<input checked[^>]*value="email"', page)

    refused = auth.post(
        "/account/alerts",
        {"channel": "sms", "mobile": "030 1234567"},
        headers={"Accept-Language": "en"},
    )
    assert refused.status_code == 422, refused.location
    assert "texts cannot reach a landline" in refused.text
    assert _channel(alert_app, person.id) == AlertChannel.EMAIL

    saved = auth.post("/account/alerts", {"channel": "sms", "mobile": "0151 12345678"})
    assert saved.status_code == 302
    assert _channel(alert_app, person.id) == AlertChannel.SMS
    with get_db(alert_app).session() as session:
        assert session.get(User, person.id).phone == "+4915112345678"

    _call_in_mitte(alert_app)
    _work(alert_app)
    [sms] = twilio.wait_for_messages(1)
    assert sms["to"] == "+4915112345678"

    bad = auth.post("/account/alerts", {"channel": "pigeon"}, headers={"Accept-Language": "en"})
    assert bad.status_code == 422


def test_a_volunteer_who_texted_stop_gets_no_more_sms(alert_app, make_person, db, twilio):
    tara = make_person("tara@example.org", zones=["mitte"], name="Tara")
    db.get(User, tara.id).alert_channel = AlertChannel.SMS
    db.get(User, tara.id).phone = "+4915112345678"
    db.commit()
    twilio.unsubscribed.add("+4915112345678")
    _call_in_mitte(alert_app)
    _work(alert_app)
    assert twilio.messages == []
    assert _channel(alert_app, tara.id) == AlertChannel.NONE


def test_a_request_whose_alert_cannot_be_queued_is_not_stored_either(
    alert_app, make_person, monkeypatch
):
    """Both or neither: the caller hears the apology, never a code for a lost request."""
    make_person("mia@example.org", zones=["mitte"], name="Mia")

    def broken(connection, request_id):
        raise RuntimeError("the jobs table is gone")

    monkeypatch.setattr(alerts, "request_stored", broken)
    call = Phone.for_app(alert_app).call(CALLER)
    for keys in ("1", "10115", "1", "1", "#"):
        call.press(keys)
    assert "technisches Problem" in call.text
    with get_db(alert_app).session() as session:
        assert session.scalars(select(HelpRequest)).all() == []
        assert session.scalars(select(Job)).all() == []


# -- two helplines: each request by its own line's alert settings ----------------------------


def test_each_helpline_keeps_its_own_quiet_hours_in_its_own_time_zone(
    database_url, tmp_path, smtp, twilio, berlin, make_person
):
    """Quiet now on the Tri-City line (in Tokyo time, to tell the zones apart), not on Berlin's:
    a volunteer of both hears of the Berlin request now, of the Gdańsk one when it ends."""
    from tests.test_helplines import BERLIN_NUMBER, TRICITY_NUMBER, run, two_helplines

    tokyo = datetime.now(ZoneInfo("Asia/Tokyo"))
    start = (tokyo - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (tokyo + timedelta(hours=1)).time().replace(second=0, microsecond=0)

    def app_with(tricity_quiet: str, path: str):
        tables = two_helplines(
            timezone="Asia/Tokyo", alerts={"batch_minutes": 10, "quiet_hours": tricity_quiet}
        )
        return make_test_app(
            database_url,
            tmp_path / path,
            helpline=tables,
            mail={"url": smtp.url, "from_address": "hotline@example.org"},
            alerts={"batch_minutes": 10, "quiet_hours": ""},
        )

    night = app_with(f"{start:%H:%M}-{end:%H:%M}", "night")
    assert run(night, "zones", "import").exit_code == 0
    make_person("mia@example.org", zones=["mitte", "gdansk"], name="Mia")
    for number, caller, keys in [
        (TRICITY_NUMBER, "+48501234567", ("1", "80001", "1", "2", "#")),
        (BERLIN_NUMBER, CALLER, ("1", "10115", "1", "1", "#")),
    ]:
        call = Phone.for_app(night, hotline_number=number).call(caller)
        call.ring()
        for key in keys:
            call.press(key)
    _work(night)
    [first] = smtp.wait_for(1)
    text = plain_text(first)
    assert "Einkäufe: 10115 Mitte" in text and "80001" not in text
    assert "Angerufen: Nachbarschaftshilfe Berlin (030 40000000)." in text

    # The Tri-City's night is over (and Mia's batch window too): the Gdańsk request follows.
    morning = app_with("", "morning")
    _open_the_window(morning)
    _work(morning)
    [_, second] = smtp.wait_for(2)
    text = plain_text(second)
    assert "Apotheke: 80001 Gdańsk" in text and "10115" not in text
    assert "Angerufen: Pomoc sąsiedzka Trójmiasto (58 300 00 00)." in text


def test_a_helplines_own_batch_window_paces_its_alerts(
    database_url, tmp_path, smtp, twilio, berlin, make_person
):
    """Berlin's volunteers hear at most every 10 minutes; the Tri-City's line says 0: at once."""
    from tests.test_helplines import TRICITY_NUMBER, run, two_helplines

    app = make_test_app(
        database_url,
        tmp_path / "lines",
        helpline=two_helplines(alerts={"batch_minutes": 0, "quiet_hours": ""}),
        mail={"url": smtp.url, "from_address": "hotline@example.org"},
        alerts={"batch_minutes": 10, "quiet_hours": ""},
    )
    assert run(app, "zones", "import").exit_code == 0
    make_person("ola@example.org", zones=["gdansk"], name="Ola")
    for caller in ("+48501234561", "+48501234562"):
        call = Phone.for_app(app, hotline_number=TRICITY_NUMBER).call(caller)
        call.ring()
        for key in ("1", "80001", "1", "2", "#"):
            call.press(key)
        _work(app)
    assert len(smtp.wait_for(2)) == 2  # no window between them
