"""Help requests as the phone line stores them: once per call, found again, cancelled."""

import threading

from sqlalchemy import func, select

from app.database import get_db
from app.models import HelpRequest, RequestStatus
from app.requests.intake import REFERENCE_ALPHABET, active_request, new_reference
from tests.conftest import add_request
from tests.seeding import cancel_request


def store(db, call_sid="CA1", number="+4930123456", code="10115"):
    return add_request(db, postcode=code, caller_number=number, call_sid=call_sid)


def test_a_request_lands_in_the_zone_of_its_postcode(berlin):
    request = store(berlin, code="12043")
    assert request.zone.name == "Neukölln"
    assert request.status == RequestStatus.OPEN
    assert len(request.verification_code) == 4 and request.verification_code.isdigit()
    assert request.created_at.tzinfo is not None


def test_the_same_call_delivered_twice_makes_one_request(berlin):
    first = store(berlin)
    second = store(berlin)
    assert first.id == second.id
    assert berlin.scalar(select(func.count()).select_from(HelpRequest)) == 1


def test_concurrent_deliveries_make_one_request(app, berlin):
    """Two app servers handling a duplicated webhook at the same moment."""
    barrier = threading.Barrier(8)
    references = []

    def deliver():
        with app.app_context(), get_db(app).session() as session:
            barrier.wait()
            references.append(store(session, call_sid="CA-dup").reference)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(references)) == 1
    assert berlin.scalar(select(func.count()).select_from(HelpRequest)) == 1


def test_a_repeat_caller_is_recognised_until_the_request_closes(berlin):
    request = store(berlin)
    assert active_request(berlin, "+4930123456").id == request.id
    assert active_request(berlin, "+4930999999") is None
    assert active_request(berlin, None) is None
    assert cancel_request(berlin, request)
    assert request.status == RequestStatus.CANCELLED and request.closed_at is not None
    assert active_request(berlin, "+4930123456") is None
    assert not cancel_request(berlin, request)  # already closed


def test_references_are_short_and_unambiguous():
    refs = {new_reference() for _ in range(200)}
    assert len(refs) == 200
    for ref in refs:
        assert len(ref) == 7 and ref[3] == "-"
        assert set(ref.replace("-", "")) <= set(REFERENCE_ALPHABET)
