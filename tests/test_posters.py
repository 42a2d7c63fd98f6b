"""Posters and flyers: the helpline's number on paper, per zone and language."""

from __future__ import annotations

import pytest

from app.models import Role, User
from tests.conftest import TEST_PASSWORD_HASH_COST, signed_in_keys
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


# -- two helplines: a zone's poster is its own line's ---------------------------------------


@pytest.fixture
def two_lines_posters(another_app, berlin):
    """Berlin's line and the Tri-City's; the Tri-City has a "mitte" of its own too."""
    from sqlalchemy import select

    from app.models import HelplineRow, Zone
    from tests.test_helplines import run, two_helplines

    app = another_app(helpline=two_helplines())
    assert run(app, "zones", "import").exit_code == 0
    berlin.expire_all()
    tricity = berlin.scalar(select(HelplineRow).where(HelplineRow.slug == "trojmiasto"))
    berlin.add(Zone(helpline_id=tricity.id, slug="mitte", name="Śródmieście", area="Trojmiasto"))
    berlin.commit()
    return app


@pytest.fixture
def both_lines_operator(two_lines_posters, berlin):
    """An operator who runs both lines (with several, an operator names theirs)."""
    from app.accounts.users import create_user

    user = create_user(
        berlin,
        name="Olga Operator",
        email="olga@example.org",
        password="night shift lantern",
        hash_cost=TEST_PASSWORD_HASH_COST,
        role=Role.OPERATOR,
        approved=True,
        helplines=("berlin", "trojmiasto"),
    )
    berlin.commit()
    return user


def _signed_in(app, user: User):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    with client.session_transaction() as session:
        session.update(signed_in_keys(user.id, user.session_version))
    return client


def test_each_helplines_zones_are_listed_with_its_number_and_languages(
    two_lines_posters, both_lines_operator
):
    page = _signed_in(two_lines_posters, both_lines_operator).get("/operator/posters").text
    berlin, tricity = page.split("<h2>Pomoc sąsiedzka Trójmiasto</h2>")
    assert "<h2>Nachbarschaftshilfe Berlin</h2>" in berlin and "030 40000000" in berlin
    assert "58 300 00 00" in tricity
    assert 'href="/posters/mitte/de/a4?helpline=berlin"' in berlin
    # The Tri-City's posters come in its menu's languages the board can print: no German.
    assert 'href="/posters/gdansk/pl/a4?helpline=trojmiasto"' in tricity
    assert 'href="/posters/mitte/en/a6?helpline=trojmiasto"' in tricity
    assert ">Deutsch</th>" not in tricity and "/de/" not in tricity
    assert "not set yet" not in page


def test_a_tricity_poster_carries_the_tricity_number_and_menu(
    two_lines_posters, both_lines_operator
):
    client = _signed_in(two_lines_posters, both_lines_operator)
    page = client.get("/posters/gdansk/pl/a4?helpline=trojmiasto").text
    sheet = page.split("<article")[1]
    assert '<p class="poster-number">58 300 00 00</p>' in sheet
    languages = [
        '<b>1</b>&nbsp;<span lang="pl">Polski</span>',
        '<b>2</b>&nbsp;<span lang="uk">Українська</span>',
        '<b>3</b>&nbsp;<span lang="en">English</span>',
    ]
    positions = [sheet.index(language) for language in languages]
    assert positions == sorted(positions)
    assert "Deutsch" not in sheet and "040000000" not in sheet
    # Its other sizes and languages stay on the Tri-City's line.
    assert 'href="/posters/gdansk/pl/a6?helpline=trojmiasto"' in page
    assert 'href="/posters/gdansk/en/a4?helpline=trojmiasto"' in page


def test_a_zone_name_on_both_lines_prints_each_lines_poster(two_lines_posters, both_lines_operator):
    client = _signed_in(two_lines_posters, both_lines_operator)
    tricity = client.get("/posters/mitte/pl/a4?helpline=trojmiasto").text.split("<article")[1]
    assert "Śródmieście" in tricity and "58 300 00 00" in tricity
    berlin = client.get("/posters/mitte/pl/a4?helpline=berlin").text.split("<article")[1]
    assert "Mitte" in berlin and "030 40000000" in berlin
    assert client.get("/posters/gdansk/pl/a4?helpline=berlin").status_code == 404
    assert client.get("/posters/gdansk/de/a4?helpline=trojmiasto").status_code == 404
