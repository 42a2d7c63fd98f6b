"""Background jobs: written with the change that causes them, run once, retried, parked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.database import get_db, utcnow
from app.jobs import handlers, queue
from app.jobs.housekeeping import prune_done_jobs
from app.jobs.worker import Worker
from app.messaging.mail import Mail
from app.messaging.outbox import queue_mail
from app.models import Delivery, Job, JobState
from tests.conftest import make_test_app
from tests.smtp_server import SmtpServer, plain_text

attempts_seen: list[int] = []


@handlers.handler("test.always_fails")
def _always_fails(run) -> None:
    attempts_seen.append(run.job.attempts)
    raise ConnectionError("the far side is down")


@handlers.handler("test.refused_number")
def _refused_number(run) -> None:
    # What Twilio's client raises for a number it will not call (HTTP 400, code 21211).
    raise RuntimeError(
        "HTTP 400 error: Unable to create record: The 'To' number +48 501 234 567 is not a "
        "valid phone number."
    )


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def mail_app(database_url, tmp_path, smtp):
    return make_test_app(
        database_url,
        tmp_path,
        mail={"url": smtp.url, "from_address": "hotline@example.org"},
        jobs={"first_retry_seconds": 1, "max_attempts": 3, "lease_seconds": 2},
    )


def _jobs(app) -> list[Job]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def _queue_greeting(app, key: str = "greeting:1", commit: bool = True) -> None:
    with app.app_context(), get_db(app).session() as session:
        mail = Mail("Hello", "A message for you.\n", "<p>A message for you.</p>")
        queue_mail(session, "ada@example.org", mail, key=key)
        if commit:
            session.commit()
        else:
            session.rollback()


def test_a_job_rolled_back_with_its_change_is_never_run(mail_app, smtp):
    _queue_greeting(mail_app, commit=False)
    with mail_app.app_context():
        assert Worker(mail_app).run_until_empty() == 0
    assert _jobs(mail_app) == []
    assert smtp.messages == []


def test_a_committed_mail_job_is_sent_once_with_text_and_html(mail_app, smtp):
    _queue_greeting(mail_app)
    _queue_greeting(mail_app)  # the same key again: still one job
    with mail_app.app_context():
        assert Worker(mail_app).run_until_empty() == 1
        assert Worker(mail_app).run_until_empty() == 0

    [message] = smtp.wait_for(1)
    assert message["To"] == "ada@example.org"
    assert message["From"] == "hotline@example.org"
    assert message["Subject"] == "Hello"
    assert plain_text(message) == "A message for you.\n"
    assert "<p>A message for you.</p>" in message.get_body(("html",)).get_content()
    [job] = _jobs(mail_app)
    assert job.state == JobState.DONE and job.attempts == 1


def test_a_refused_mail_is_tried_again_after_a_wait_and_sent_once(mail_app, smtp):
    smtp.refuse_next(1)
    _queue_greeting(mail_app)
    with mail_app.app_context():
        Worker(mail_app).run_until_empty()
    [job] = _jobs(mail_app)
    assert job.state == JobState.PENDING and job.attempts == 1
    assert "451" in job.last_error
    assert job.run_at > utcnow()  # not before the back-off

    time.sleep(1.1)
    with mail_app.app_context():
        Worker(mail_app).run_until_empty()
    assert len(smtp.wait_for(1)) == 1
    [job] = _jobs(mail_app)
    assert job.state == JobState.DONE and job.attempts == 2


def test_a_job_that_keeps_failing_waits_longer_each_time_then_is_parked(app, mail_app):
    defaults = app.config["HOTLINE"].jobs
    waits = [queue.retry_wait(n, defaults).total_seconds() for n in (1, 2, 3, 4, 12)]
    assert waits == [30, 60, 120, 240, 3600]
    app = mail_app  # tried 3 times
    settings = app.config["HOTLINE"].jobs

    with app.app_context(), get_db(app).session() as session:
        queue.enqueue(session, "test.always_fails", {"n": 1})
        session.commit()
        attempts_seen.clear()
        worker = Worker(app)
        for _ in range(settings.max_attempts):
            worker.run_until_empty()
            session.execute(Job.__table__.update().values(run_at=utcnow()))  # skip the wait
            session.commit()
        assert attempts_seen == [1, 2, 3]
        assert queue.parked_count(session) == 1
        [parked] = queue.parked_jobs(session)
        assert parked.last_error == "ConnectionError: the far side is down"
        worker.run_until_empty()
        assert len(attempts_seen) == settings.max_attempts  # parked: not run again

        assert queue.requeue(session, parked.id)
        session.commit()
        worker.run_until_empty()
        assert len(attempts_seen) == settings.max_attempts + 1


def test_a_job_failing_after_its_mail_left_does_not_send_it_again(mail_app, smtp):
    """The job fails after the send (a database error, say): its retry finds the delivery sent."""
    calls = []

    @handlers.handler("test.send_then_fail")
    def send_then_fail(run) -> None:
        handlers.HANDLERS["mail.send"](run)
        calls.append(run.job.attempts)
        if len(calls) == 1:
            raise RuntimeError("failed after sending")

    with mail_app.app_context(), get_db(mail_app).session() as session:
        payload = {"to": "ada@example.org", "subject": "Once", "text": "Only once.\n"}
        queue.enqueue(session, "test.send_then_fail", payload, key="once")
        session.commit()
        Worker(mail_app).run_until_empty()
        session.execute(Job.__table__.update().values(run_at=utcnow()))
        session.commit()
        Worker(mail_app).run_until_empty()

    assert calls == [1, 2]
    assert len(smtp.wait_for(1)) == 1
    time.sleep(0.2)
    assert len(smtp.messages) == 1
    [job] = _jobs(mail_app)
    assert job.state == JobState.DONE


def _worker_process(tmp_path, database_url: str, smtp_url: str, *args: str) -> subprocess.Popen:
    config = tmp_path / "worker.toml"
    config.write_text(
        f'database_url = "{database_url}"\n'
        'secret_key = "test-secret-key"\n'
        "[twilio]\n"
        'auth_token = "test-auth-token"\n'
        "[mail]\n"
        f'url = "{smtp_url}"\n'
        "[jobs]\n"
        "lease_seconds = 2\n"
        "first_retry_seconds = 1\n"
    )
    environment = {**os.environ, "HOTLINE_CONFIG": str(config)}
    hotline = os.path.join(os.path.dirname(sys.executable), "hotline")
    return subprocess.Popen(
        [hotline, "worker", "--poll", "0.1", *args],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_worker_killed_mid_send_leaves_the_mail_to_the_next_which_sends_it_once(
    mail_app, smtp, database_url, tmp_path
):
    _queue_greeting(mail_app)
    smtp.hold()  # the worker connects and names the recipient; then it hangs there
    first = _worker_process(tmp_path, database_url, smtp.url)
    try:
        smtp.wait_until_held(timeout=30)
        first.send_signal(signal.SIGKILL)  # no goodbye: as a power cut
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    smtp.release()
    [job] = _jobs(mail_app)
    assert job.state == JobState.RUNNING  # the dead worker's claim
    with get_db(mail_app).session() as session:
        [delivery] = session.scalars(select(Delivery)).all()
        assert delivery.state == "attempting"

    time.sleep(2.1)  # its lease runs out
    second = _worker_process(tmp_path, database_url, smtp.url, "--until-empty")
    output, _ = second.communicate(timeout=60)
    assert second.returncode == 0, output

    assert len(smtp.wait_for(1)) == 1
    time.sleep(0.3)
    [message] = smtp.messages
    assert message["Subject"] == "Hello"
    [job] = _jobs(mail_app)
    assert job.state == JobState.DONE and job.attempts == 2
    with get_db(mail_app).session() as session:
        [delivery] = session.scalars(select(Delivery)).all()
        assert delivery.state == "sent" and delivery.provider_id == message["Message-ID"]


def test_jobs_older_than_a_week_are_pruned_but_parked_ones_stay(app):
    with get_db(app).session() as session:
        for key, state in (("a", JobState.DONE), ("b", JobState.PARKED), ("c", JobState.PENDING)):
            queue.enqueue(session, "test.x", key=key)
            session.execute(
                Job.__table__.update()
                .where(Job.key == key)
                .values(state=state, finished_at=utcnow() - timedelta(days=8))
            )
        assert queue.prune(session, utcnow() - timedelta(days=7)) == 1
        session.commit()
        assert sorted(session.scalars(select(Job.key))) == ["b", "c"]


def test_message_records_go_after_a_week_unless_their_job_may_run_again(app):
    """The records name volunteers (addresses, numbers): they go with the hourly pruning,
    except while the job they guard could still send (parked, pending)."""
    week_ago = utcnow() - timedelta(days=8)
    with get_db(app).session() as session:
        for key, state in (("done", JobState.DONE), ("parked", JobState.PARKED)):
            queue.enqueue(session, "test.x", key=f"alert:{key}")
            session.execute(
                Job.__table__.update().where(Job.key == f"alert:{key}").values(state=state)
            )
        for key, age in (
            ("alert:done:user:1", week_ago),
            ("alert:parked:user:1", week_ago),
            ("alert:gone:user:2", week_ago),
            ("alert:gone:user:3", utcnow()),
        ):
            session.add(
                Delivery(
                    key=key,
                    channel="mail",
                    recipient="v@example.org",
                    state="sent",
                    attempted_at=age,
                )
            )
        session.commit()
        assert prune_done_jobs(session, app, utcnow()) == 2
        session.commit()
        left = sorted(session.scalars(select(Delivery.key)))
    assert left == ["alert:gone:user:3", "alert:parked:user:1"]


def test_a_parked_jobs_error_shows_operators_no_callers_number(app, db, operator, login):
    """The error is kept as long as the job is parked, past the caller's retention."""
    queue.enqueue(db, "test.refused_number", key="refused-one")
    db.execute(Job.__table__.update().values(attempts=7))
    db.commit()
    with app.app_context():
        Worker(app).run_until_empty()
    [job] = _jobs(app)
    assert job.state == JobState.PARKED
    page = login(operator).get("/operator/attention", headers={"Accept-Language": "en"}).text
    assert "The &#39;To&#39; number +48 *** **67 is not a valid phone number." in page
    assert "501" not in job.last_error and "234 567" not in page


def test_operators_see_a_parked_job_and_can_queue_it_again(app, db, operator, login):
    queue.enqueue(db, "test.always_fails", key="parked-one")
    db.execute(
        Job.__table__.update().values(
            state=JobState.PARKED,
            attempts=8,
            finished_at=utcnow(),
            last_error="SMTPServerDisconnected: Connection unexpectedly closed",
        )
    )
    db.commit()
    client = login(operator)

    dashboard = client.get("/operator/", headers={"Accept-Language": "en"}).text
    assert "1 message could not be sent" in dashboard
    page = client.get("/operator/attention", headers={"Accept-Language": "en"}).text
    assert "SMTPServerDisconnected: Connection unexpectedly closed" in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    [job] = _jobs(app)
    response = client.post(f"/operator/jobs/{job.id}/retry", data={"csrf_token": token})
    assert response.status_code == 302
    [job] = _jobs(app)
    assert job.state == JobState.PENDING and job.attempts == 0
    english = {"Accept-Language": "en"}
    again = client.post(
        f"/operator/jobs/{job.id}/retry", data={"csrf_token": token}, headers=english
    )
    told = client.get(again.location, headers=english).text
    assert "not parked any more" in told
