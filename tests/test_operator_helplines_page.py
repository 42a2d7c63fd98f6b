"""The admin's Operators page: who runs which helpline, changed on the web as on the
command line, audited; and for no one else.

Berlin's line and the Tri-City's side by side (tests/test_operator_scope.py's world).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import AuditEvent, User
from tests import test_operator_scope
from tests.test_helplines import run
from tests.test_operator_scope import EN, post, signed_in

world = test_operator_scope.world  # the two lines' fixture, shared


def helplines_of(db, user: User) -> list[str]:
    db.expire_all()
    return sorted(h.slug for h in db.get(User, user.id).helplines)


def test_the_admin_lists_every_operator_and_the_lines_they_run(world):
    page = signed_in(world, world.admin).get("/operator/operators", headers=EN)
    assert page.status_code == 200
    row = page.text.split(f'id="operator-{world.berlin_operator.id}"')[1].split("</tr>")[0]
    assert "berta@example.org" in row and "Operator" in row
    assert "<legend>Helplines Berta runs</legend>" in row
    assert 'value="berlin" checked' in row and 'value="trojmiasto" >' in row
    both = page.text.split(f'id="operator-{world.both_operator.id}"')[1].split("</tr>")[0]
    assert 'value="berlin" checked' in both and 'value="trojmiasto" checked' in both
    admin = page.text.split(f'id="operator-{world.admin.id}"')[1].split("</tr>")[0]
    assert "Administrator" in admin and "every helpline" in admin and "<form" not in admin
    # Volunteers are not operators.
    assert "anna@example.org" not in page.text
    # The admin's navigation leads there.
    dashboard = signed_in(world, world.admin).get("/operator/", headers=EN).text
    assert 'href="/operator/operators"' in dashboard


def test_the_admin_gives_berlins_operator_the_tricity_line_too(world, db):
    before = signed_in(world, world.berlin_operator).get("/operator/", headers=EN).text
    assert "Gdańsk" not in before
    client = signed_in(world, world.admin)
    path = f"/operator/operators/{world.berlin_operator.id}/helplines"
    answer = post(client, path, {"helplines": ["berlin", "trojmiasto"]})
    assert answer.status_code == 302
    page = client.get(answer.location, headers=EN).text
    assert "The helplines of Berta are saved." in page
    assert helplines_of(db, world.berlin_operator) == ["berlin", "trojmiasto"]

    berta = signed_in(world, world.berlin_operator)
    dashboard = berta.get("/operator/", headers=EN).text
    assert "Gdańsk" in dashboard
    assert world.tricity_request.reference in berta.get("/operator/attention", headers=EN).text

    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "helplines_changed"))
    assert (event.user_id, event.subject_user_id) == (world.admin.id, world.berlin_operator.id)
    log = client.get("/operator/audit?action=helplines_changed", headers=EN).text
    assert "set the helplines the operator runs: berlin, trojmiasto" in log
    log_de = client.get("/operator/audit", headers={"Accept-Language": "de"}).text
    german = "hat festgelegt, welche Hilfetelefone die Person koordiniert: berlin, trojmiasto"
    assert german in log_de

    # The same again changes nothing, and is not logged twice.
    again = post(client, path, {"helplines": ["berlin", "trojmiasto"]})
    assert "The helplines of Berta are unchanged." in client.get(again.location, headers=EN).text
    assert (
        len(db.scalars(select(AuditEvent).where(AuditEvent.action == "helplines_changed")).all())
        == 1
    )


@pytest.mark.parametrize("helplines", [[], ["krakow"], ["berlin", "krakow"]])
def test_unticking_every_line_is_refused_and_changes_nothing(world, db, helplines):
    client = signed_in(world, world.admin)
    path = f"/operator/operators/{world.berlin_operator.id}/helplines"
    answer = post(client, path, {"helplines": helplines})
    assert answer.status_code == 422
    assert "Tick at least one helpline for Berta." in answer.text
    row = answer.text.split(f'id="operator-{world.berlin_operator.id}"')[1].split("</tr>")[0]
    assert 'aria-invalid="true"' in row and "Tick at least one helpline" in row
    assert helplines_of(db, world.berlin_operator) == ["berlin"]
    assert (
        db.scalars(select(AuditEvent).where(AuditEvent.action == "helplines_changed")).all() == []
    )


def test_an_operator_who_is_not_the_admin_can_neither_open_nor_post_the_page(world, db):
    for who in (world.berlin_operator, world.both_operator):
        client = signed_in(world, who)
        assert client.get("/operator/operators", headers=EN).status_code == 403
        assert 'href="/operator/operators"' not in client.get("/operator/", headers=EN).text
        path = f"/operator/operators/{world.berlin_operator.id}/helplines"
        answer = post(client, path, {"helplines": ["berlin", "trojmiasto"]})
        assert answer.status_code == 403
    assert helplines_of(db, world.berlin_operator) == ["berlin"]
    volunteer = signed_in(world, world.anna)
    assert volunteer.get("/operator/operators", headers=EN).status_code == 403


def test_an_admin_or_a_volunteer_has_no_helplines_to_change_here(world, db):
    client = signed_in(world, world.admin)
    # Without the form's CSRF token (another site's form): refused, nothing changed.
    forged = client.post(
        f"/operator/operators/{world.berlin_operator.id}/helplines",
        data={"helplines": ["trojmiasto"]},
    )
    assert forged.status_code == 400
    assert helplines_of(db, world.berlin_operator) == ["berlin"]
    for person in (world.admin, world.anna):
        path = f"/operator/operators/{person.id}/helplines"
        assert post(client, path, {"helplines": ["berlin"]}).status_code == 404


def test_the_command_line_change_is_audited_too(world, db):
    changed = run(world.app, "users", "helplines", "berta@example.org", "trojmiasto")
    assert changed.exit_code == 0, changed.output
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "helplines_changed"))
    assert (event.user_id, event.detail) == (None, "trojmiasto")
