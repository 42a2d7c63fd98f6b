"""SMS through Twilio's REST API (a local stand-in, real HTTP), status callbacks, sending once."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException

from app.database import get_db, utcnow
from app.jobs.worker import Worker
from app.messaging import sms
from app.messaging.outbox import queue_sms
from app.models import Delivery, Job, JobState
from tests.conftest import make_test_app
from tests.twilio_emulator import HOTLINE_NUMBER, account_settings, through_flask

ADA = "+4915112345678"


@pytest.fixture
def sms_app(database_url, tmp_path, twilio):
    app = make_test_app(
        database_url,
        tmp_path,
        twilio=account_settings(twilio),
        jobs={"first_retry_seconds": 1},
    )
    twilio.deliver = through_flask(app)
    return app


def _deliveries(app) -> list[Delivery]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Delivery)))


def test_an_sms_is_sent_from_the_hotline_number_and_its_delivery_recorded(sms_app, twilio):
    with sms_app.app_context(), get_db(sms_app).session() as session:
        queue_sms(session, ADA, "A neighbour needs help with shopping.", key="t1")
        session.commit()
        assert Worker(sms_app).run_until_empty() == 1

    [message] = twilio.wait_for_messages(1)
    assert (message["to"], message["from"]) == (ADA, HOTLINE_NUMBER)
    assert message["body"] == "A neighbour needs help with shopping."
    [delivery] = _deliveries(sms_app)
    assert message["status_callback"] == (f"http://hotline.test/sms/status?delivery={delivery.id}")
    callbacks = twilio.wait_for_callbacks(2)
    assert [(c[1]["MessageStatus"], c[2]) for c in callbacks] == [("sent", 204), ("delivered", 204)]
    [delivery] = _deliveries(sms_app)
    assert (delivery.state, delivery.provider_id) == ("delivered", message["sid"])


def test_a_message_that_did_not_arrive_is_recorded_as_undelivered(sms_app, twilio):
    twilio.undeliverable.add(ADA)
    with sms_app.app_context(), get_db(sms_app).session() as session:
        queue_sms(session, ADA, "Hello", key="t2")
        session.commit()
        Worker(sms_app).run_until_empty()
    twilio.wait_for_callbacks(2)
    [delivery] = _deliveries(sms_app)
    assert (delivery.state, delivery.error) == ("undelivered", "30003")


def test_a_status_callback_without_twilios_signature_is_refused(sms_app, twilio):
    client = sms_app.test_client()
    response = client.post("/sms/status?delivery=1", data={"MessageStatus": "delivered"})
    assert response.status_code == 403


def test_twilio_unwell_means_a_retry_and_one_message(sms_app, twilio):
    twilio.fail_next(1)
    with sms_app.app_context(), get_db(sms_app).session() as session:
        queue_sms(session, ADA, "Hello", key="t3")
        session.commit()
        Worker(sms_app).run_until_empty()
        [job] = session.scalars(select(Job)).all()
        assert job.state == JobState.PENDING and "HTTP 503" in job.last_error
        session.execute(Job.__table__.update().values(run_at=utcnow()))
        session.commit()
        Worker(sms_app).run_until_empty()
    assert len(twilio.wait_for_messages(1)) == 1
    [delivery] = _deliveries(sms_app)
    assert delivery.provider_id == twilio.messages[0]["sid"]


def test_a_send_left_unsure_by_a_dead_worker_is_looked_up_at_twilio_not_sent_again(sms_app, twilio):
    """The worker died after Twilio took the message and before the record said so."""
    with sms_app.app_context(), get_db(sms_app).session() as session:
        queue_sms(session, ADA, "Only once, please.", key="t4")
        session.commit()
        [job] = session.scalars(select(Job)).all()
        settings = sms_app.config["HOTLINE"]
        sid = sms.send(settings, ADA, "Only once, please.")  # what the dead worker did
        session.add(
            Delivery(
                key=f"{job.key}:{ADA}",
                channel="sms",
                recipient=ADA,
                state="attempting",
                error="",
            )
        )
        session.commit()
        Worker(sms_app).run_until_empty()

    assert len(twilio.messages) == 1
    [delivery] = _deliveries(sms_app)
    assert (delivery.state, delivery.provider_id) == ("sent", sid)


def test_the_sms_client_is_refused_with_a_wrong_auth_token(sms_app, twilio):
    twilio.auth_token = "another-token"
    with pytest.raises(TwilioRestException) as refused:
        sms.send(sms_app.config["HOTLINE"], ADA, "Hello")
    assert refused.value.status == 401
    assert twilio.messages == []


def test_a_recipient_who_texted_stop_is_told_apart(sms_app, twilio):
    twilio.unsubscribed.add(ADA)
    with pytest.raises(sms.RecipientUnsubscribed):
        sms.send(sms_app.config["HOTLINE"], ADA, "Hello")


@pytest.mark.parametrize("number", ["0151 2345", "+49", "hotline"])
def test_a_wrong_sender_number_stops_start_up(number):
    from app.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="twilio.phone_number"):
        load_settings(None, env={}, overrides={"twilio": {"phone_number": number}})


def test_a_queued_sms_to_someone_who_texted_stop_is_given_up_at_once(sms_app, twilio):
    twilio.unsubscribed.add(ADA)
    with sms_app.app_context(), get_db(sms_app).session() as session:
        queue_sms(session, ADA, "Hello", key="t5")
        session.commit()
        Worker(sms_app).run_until_empty()
        [job] = session.scalars(select(Job)).all()
    assert job.state == JobState.DONE
    [delivery] = _deliveries(sms_app)
    assert delivery.state == "refused"
    assert twilio.messages == []
