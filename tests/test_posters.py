"""Posters and flyers: the helpline's number on paper, per zone and language."""

from __future__ import annotations

import pytest

from app.models import User
from tests.conftest import signed_in_keys
from tests.seeding import volunteer as seeded_volunteer

NUMBER = "+493023125388"


@pytest.fixture
def poster_app(another_app):
    """The app with the helpline's number configured, and an operator to press 0 for."""
    return another_app(public_phone_number=NUMBER, operator_phone="+4930999888")


@pytest.fixture
def as_person(poster_app):
    """A browser on the poster app, signed in as `user`, reading English pages."""

    def sign_in(user: User):
        client = poster_app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        with client.session_transaction() as session:
            session.update(signed_in_keys(user.id, user.session_version))
        return client

    return sign_in


@pytest.fixture
def anna(berlin):
    return seeded_volunteer(berlin, "anna@example.org", zones=["pankow"], approved=True)


def test_operators_list_every_zone_in_every_language_of_the_phone_menu(as_person, operator):
    page = as_person(operator).get("/operator/posters")
    assert page.status_code == 200
    assert 'aria-current="page">Posters' in page.text
    for path in ("/posters/mitte/de/a4", "/posters/mitte/pl/a6", "/posters/spandau/en/a4"):
        assert f'href="{path}"' in page.text
    assert page.text.count('href="/posters/') == 12 * 3 * 2
    assert ">Polski</th>" in page.text and ">Deutsch</th>" in page.text


def test_a_volunteer_lists_the_posters_of_their_own_zones(as_person, anna):
    client = as_person(anna)
    assert 'href="/posters"' in client.get("/account").text
    page = client.get("/posters").text
    assert 'href="/posters/pankow/de/a6"' in page
    assert "/posters/mitte/" not in page
    assert page.count('href="/posters/') == 3 * 2


def test_a_poster_speaks_its_own_language_whatever_the_boards(as_person, anna):
    page = as_person(anna).get("/posters/pankow/pl/a4")
    assert page.status_code == 200
    board, sheet = page.text.split('<article class="poster-sheet poster-a4" lang="pl">')
    assert "To print it or save it as a PDF" in board, "the page around it is in English"
    assert "Pomoc sąsiedzka – Pankow" in sheet
    assert "Wpisz pięć cyfr swojego kodu pocztowego." in sheet
    assert "Print" not in sheet


def test_a_poster_carries_the_number_for_reading_and_how_to_call(as_person, anna):
    sheet = as_person(anna).get("/posters/pankow/de/a4").text.split("<article")[1]
    assert '<p class="poster-number">030 23125388</p>' in sheet
    assert "Tippen Sie die fünf Ziffern Ihrer Postleitzahl ein." in sheet
    # The phone menu's languages, each in its own words, with their keys, in the menu's order.
    languages = [
        '<b>1</b>&nbsp;<span lang="de">Deutsch</span>',
        '<b>2</b>&nbsp;<span lang="en">English</span>',
        '<b>3</b>&nbsp;<span lang="pl">Polski</span>',
    ]
    positions = [sheet.index(language) for language in languages]
    assert positions == sorted(positions)
    # The kinds of help in the poster's language.
    assert "<b>1</b>&nbsp;Einkäufe" in sheet and "<b>2</b>&nbsp;Apotheke" in sheet
    assert "Drücken Sie die 0, um mit einem Menschen zu sprechen." in sheet
    # Tear-off strips: eight on a poster, four on a flyer.
    assert sheet.count('<span class="poster-strip-number">030 23125388</span>') == 8
    flyer = as_person(anna).get("/posters/pankow/de/a6").text.split("<article")[1]
    assert flyer.count('<span class="poster-strip-number">030 23125388</span>') == 4
    assert 'href="/board-static/poster-a6.css"' in as_person(anna).get("/posters/pankow/de/a6").text


def test_without_the_helplines_number_there_is_nothing_to_print(login, operator):
    page = login(operator).get("/posters/mitte/de/a4", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "The helpline's phone number is not set yet" in page.text
    assert "poster-sheet" not in page.text


@pytest.mark.parametrize("path", ["/posters/atlantis/de/a4", "/posters/mitte/fr/a4"])
def test_an_unknown_zone_or_language_is_not_found(as_person, operator, path):
    assert as_person(operator).get(path).status_code == 404
    assert as_person(operator).get("/posters/mitte/de/a3").status_code == 404


def test_posters_are_for_approved_accounts(as_person, poster_app, berlin):
    pending = seeded_volunteer(berlin, "piotr@example.org", zones=["mitte"])
    assert as_person(pending).get("/posters/mitte/de/a4").status_code == 403
    anonymous = poster_app.test_client().get("/posters/mitte/de/a4")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert as_person(pending).get("/operator/posters").status_code == 403
