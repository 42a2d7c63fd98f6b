"""Several helplines in one deployment, chosen by the number the caller dialled.

Berlin's line (German first) and the Tri-City's (Polish first) side by side: the
configuration, the zones of each, and whole calls through the webhooks.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Integer,
    MetaData,
    create_engine,
    func,
    inspect,
    select,
)

from app import migrations_runner
from app.accounts.users import create_user
from app.config import ConfigError, load_settings
from app.helplines import DEFAULT_SLUG, helpline_for_number
from app.models import AccountStatus, Call, HelplineRow, HelpRequest, Postcode, User, Zone
from tests.conftest import TEST_PASSWORD_HASH_COST, signed_in_keys
from tests.consistency import assert_database_consistent
from voice.simulator.phone import Phone

BERLIN_NUMBER = "+493040000000"
TRICITY_NUMBER = "+48583000000"
CALLER = "+48501234567"
EXAMPLE = Path(__file__).parent.parent / "config.helplines.example.toml"

TWO_HELPLINES = [
    {
        "slug": "berlin",
        "name": "Nachbarschaftshilfe Berlin",
        "phone_number": BERLIN_NUMBER,
        "zone_profile": "berlin",
        "phone": {"languages": ["de", "en", "pl", "tr", "uk"], "default_language": "de"},
    },
    {
        "slug": "trojmiasto",
        "name": "Pomoc sąsiedzka Trójmiasto",
        "phone_number": TRICITY_NUMBER,
        "zone_profile": "trojmiasto",
        "timezone": "Europe/Warsaw",
        "operator_phone": "+48583000999",
        "phone": {"languages": ["pl", "uk", "en"], "default_language": "pl"},
    },
]


def two_helplines(**changes) -> list[dict]:
    tables = copy.deepcopy(TWO_HELPLINES)
    for key, value in changes.items():
        tables[1][key] = value
    return tables


# -- the configuration -------------------------------------------------------------------


def test_the_example_configuration_has_both_cities():
    settings = load_settings(EXAMPLE, env={})
    berlin, tricity = settings.helplines
    assert (berlin.slug, berlin.default_language) == ("berlin", "de")
    assert (tricity.slug, tricity.default_language) == ("trojmiasto", "pl")
    assert tricity.phone_languages == ("pl", "uk", "en")
    assert str(tricity.timezone) == "Europe/Warsaw"
    # What the Tri-City leaves out comes from the top level: the request types.
    assert [t.code for t in tricity.request_types] == [t.code for t in berlin.request_types]
    assert tricity.request_type("pharmacy").label("uk") == "аптека"


def test_a_helpline_inherits_what_it_leaves_out():
    settings = load_settings(
        None,
        env={},
        overrides={"operator_phone": "+4930999000", "helpline": two_helplines()},
    )
    berlin, tricity = settings.helplines
    assert berlin.operator_phone == "+4930999000"  # from the top level
    assert tricity.operator_phone == "+48583000999"  # its own
    assert tricity.voices["pl"] == "Polly.Ewa"
    assert tricity.hours["uk"].startswith("з понеділка")


def test_a_configuration_without_helplines_is_one_helpline_as_before():
    settings = load_settings(None, env={}, overrides={"public_phone_number": "+493012345678"})
    [only] = settings.helplines
    assert (only.slug, only.name, only.phone_number) == (DEFAULT_SLUG, "Berlin", "+493012345678")
    assert only.phone_languages == tuple(settings.phone_languages)
    assert only.request_types == tuple(settings.request_types)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"slug": "Trójmiasto"}, "helpline[2].slug"),
        ({"slug": "berlin"}, "helpline[2].slug"),
        ({"name": ""}, "helpline[2].name"),
        ({"phone_number": "058 300 00 00"}, "helpline[2].phone_number"),
        ({"phone_number": BERLIN_NUMBER}, "helpline[2].phone_number"),
        ({"colour": "blue"}, "helpline[2].colour"),
        ({"timezone": "Europe/Gdansk"}, "helpline[2].timezone"),
        ({"zone_profile": "krakow"}, "helpline[2].zone_profile"),
        ({"operator_phone": "112"}, "helpline[2].operator_phone"),
        ({"phone": {"languages": ["pl", "uk"], "default_language": "de"}}, "helpline[2].phone"),
        ({"phone": {"languages": "pl"}}, "helpline[2].phone.languages"),
        ({"request_types": []}, "helpline[2].request_types"),
    ],
)
def test_a_wrong_helpline_setting_is_named(changes, key):
    with pytest.raises(ConfigError) as error:
        load_settings(None, env={}, overrides={"helpline": two_helplines(**changes)})
    assert f"'{key}" in str(error.value)


def test_the_dialled_number_chooses_the_helpline_and_an_unknown_one_gets_the_first():
    helplines = load_settings(EXAMPLE, env={}).helplines
    assert helpline_for_number(helplines, TRICITY_NUMBER).slug == "trojmiasto"
    assert helpline_for_number(helplines, "+49 30 4000-0000").slug == "berlin"
    assert helpline_for_number(helplines, "+4989000000").slug == "berlin"
    assert helpline_for_number(helplines, "").slug == "berlin"


# -- zones and calls on two lines --------------------------------------------------------


@pytest.fixture
def two_lines(another_app, berlin):
    """An app answering Berlin's and the Tri-City's numbers, every profile imported.

    The database had Berlin's zones as the single line of an earlier set-up: the
    first helpline takes them over.
    """
    app = another_app(helpline=two_helplines())
    result = run(app, "zones", "import")
    assert result.exit_code == 0, result.output
    assert "Helpline trojmiasto (Pomoc sąsiedzka Trójmiasto):" in result.output
    return app


def run(app, *args: str):
    """A `hotline` command of that app (its context: the `db` fixture holds another's)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def dial(app, number: str) -> Phone:
    return Phone.for_app(app, hotline_number=number)


def test_zones_belong_to_their_helpline(two_lines, db):
    db.expire_all()
    slugs = dict(db.execute(select(HelplineRow.id, HelplineRow.slug)).all())
    assert sorted(slugs.values()) == ["berlin", "trojmiasto"]
    zones = {z.slug: slugs[z.helpline_id] for z in db.scalars(select(Zone))}
    assert zones["mitte"] == "berlin" and zones["gdansk"] == "trojmiasto"
    # Importing again changes nothing.
    again = run(two_lines, "zones", "import")
    assert again.output.count("Nothing changed") == 2


def test_a_call_to_the_tricity_number_is_polish_first_and_80001_is_gdansk(two_lines, db):
    call = dial(two_lines, TRICITY_NUMBER).call(CALLER)
    greeting = call.ring()
    assert greeting[0].language == "pl-PL"
    assert [h.language for h in greeting[:4]] == ["pl-PL", "pl-PL", "uk-UA", "en-GB"]
    call.press("1")  # Polish
    heard = call.press("80001")
    assert "8, 0, 0, 0, 1" in " ".join(h.text for h in heard)
    call.press("1")
    call.press("2")  # apteka
    done = call.press("#")
    assert any("kod" in h.text.lower() for h in done)

    db.expire_all()
    [request] = db.scalars(select(HelpRequest))
    assert (request.zone.slug, request.postcode, request.language) == ("gdansk", "80001", "pl")
    tricity = db.scalar(select(HelplineRow).where(HelplineRow.slug == "trojmiasto"))
    assert request.helpline_id == tricity.id == request.zone.helpline_id
    [logged] = db.scalars(select(Call))
    assert (logged.to_number, logged.helpline_id) == (TRICITY_NUMBER, tricity.id)
    assert logged.outcome == "request_created"
    assert_database_consistent(db, two_lines.config["HOTLINE"])


def test_the_same_postcode_on_the_berlin_number_is_out_of_the_area(two_lines, db):
    call = dial(two_lines, BERLIN_NUMBER).call("+4930123456")
    assert call.ring()[0].language == "de-DE"
    call.press("1")  # Deutsch
    heard = call.press("80001")
    assert any("Berlin" in h.text and "8, 0, 0, 0, 1" in h.text for h in heard)
    db.expire_all()
    assert db.scalars(select(HelpRequest)).all() == []
    [logged] = db.scalars(select(Call))
    berlin = db.scalar(select(HelplineRow).where(HelplineRow.slug == "berlin"))
    assert (logged.to_number, logged.helpline_id) == (BERLIN_NUMBER, berlin.id)


def test_berlin_postcodes_are_not_the_tricity_lines(two_lines, db):
    call = dial(two_lines, TRICITY_NUMBER).call(CALLER)
    call.ring()
    call.press("3")  # English, third on the Tri-City's menu
    heard = call.press("10115")
    assert any("Gdansk, Gdynia and Sopot" in h.text for h in heard)


def test_an_unknown_number_gets_the_first_helpline(two_lines, db):
    call = dial(two_lines, "+4989123456").call("+4930123456")
    assert call.ring()[0].language == "de-DE"
    call.press("1")
    heard = call.press("10115")
    assert any("Mitte" in h.text for h in heard)


def test_a_postcode_may_be_in_two_helplines(two_lines, db):
    """Unique within a helpline, not across: the same code can name places on two lines."""
    db.expire_all()
    ids = dict(db.execute(select(HelplineRow.slug, HelplineRow.id)).all())
    gdansk = db.scalar(select(Zone).where(Zone.slug == "gdansk"))
    db.add(Postcode(helpline_id=ids["trojmiasto"], code="10115", zone_id=gdansk.id))
    db.commit()
    assert len(db.scalars(select(Postcode).where(Postcode.code == "10115")).all()) == 2


# -- the commands ------------------------------------------------------------------------


def test_zones_import_of_a_file_needs_the_helpline_when_there_are_several(two_lines):
    profile = str(Path("app/data/profiles/trojmiasto.toml").resolve())
    result = run(two_lines, "zones", "import", profile)
    assert result.exit_code != 0
    assert "--helpline (berlin, trojmiasto)" in result.output
    result = run(two_lines, "zones", "import", profile, "--helpline", "krakow")
    assert result.exit_code != 0
    assert "No helpline 'krakow'" in result.output
    result = run(two_lines, "zones", "import", profile, "--helpline", "trojmiasto")
    assert result.exit_code == 0, result.output
    assert "Nothing changed" in result.output


# -- a database made by the previous release ---------------------------------------------


def _value(table: str, column) -> object:
    """A plausible value for a column of the 0014 schema (ids and foreign keys: 1)."""
    if isinstance(column.type, Boolean):
        return False
    if isinstance(column.type, Integer):
        return 1
    if isinstance(column.type, DateTime):
        return datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    if isinstance(column.type, JSON):
        return {"kept": True}
    if column.name == "status":
        return {"help_requests": "open", "users": "approved", "jobs": "pending"}.get(
            table, "completed"
        )
    length = getattr(column.type, "length", None) or 40
    return f"{table[:3]}-{column.name}"[:length]


def test_a_database_of_the_previous_release_upgrades_and_keeps_every_row(database_url):
    """Every table of revision 0014 with a row in it: after 0017 each row is there, unchanged,
    and what belongs to a helpline belongs to the default one."""
    migrations_runner.downgrade(database_url, "0014")
    engine = create_engine(database_url)
    try:
        old = MetaData()
        old.reflect(engine)
        tables = [t for t in old.sorted_tables if t.name != "alembic_version"]
        before = {}
        with engine.begin() as connection:
            for table in tables:
                row = {c.name: _value(table.name, c) for c in table.columns}
                connection.execute(table.insert(), row)
            for table in tables:
                before[table.name] = [dict(r._mapping) for r in connection.execute(table.select())]
        assert all(len(rows) == 1 for rows in before.values()), before

        migrations_runner.upgrade(database_url)

        new = MetaData()
        new.reflect(engine)
        owned = set()
        with engine.connect() as connection:
            [default] = connection.execute(new.tables["helplines"].select()).all()
            assert default.slug == DEFAULT_SLUG
            for table in tables:
                rows = [
                    dict(r._mapping) for r in connection.execute(new.tables[table.name].select())
                ]
                kept = [{k: row[k] for k in before[table.name][0]} for row in rows]
                assert kept == before[table.name], table.name
                if "helpline_id" in rows[0]:
                    assert rows[0]["helpline_id"] == default.id, table.name
                    owned.add(table.name)
        assert owned == {"zones", "postcodes", "help_requests", "calls"}
        indexes = {i["name"] for i in inspect(engine).get_indexes("help_requests")}
        assert {"ix_help_requests_open_zone", "ix_help_requests_open_created"} <= indexes
    finally:
        engine.dispose()
        migrations_runner.upgrade(database_url)


def test_hotline_call_to_the_tricity_number(two_lines, db):
    result = run(two_lines, "call", "--to", TRICITY_NUMBER, "--keys", "1 80001 1 2 #")
    assert result.exit_code == 0, result.output
    assert f"Dialling {TRICITY_NUMBER}: Pomoc sąsiedzka Trójmiasto (trojmiasto)." in result.output
    assert "[pl-PL]" in result.output.splitlines()[2]
    db.expire_all()
    [request] = db.scalars(select(HelpRequest))
    assert (request.zone.slug, request.request_type) == ("gdansk", "pharmacy")


def test_hotline_call_to_a_number_that_is_not_one(two_lines):
    result = run(two_lines, "call", "--to", "gdansk", "--keys", "1")
    assert result.exit_code != 0
    assert "'gdansk' is not a phone number" in result.output


def test_a_call_kept_by_the_fallback_url_is_logged_with_its_helpline(two_lines, db):
    """Twilio's fallback URL writes the call's start to the spool: the helpline goes with it."""
    phone = dial(two_lines, TRICITY_NUMBER)
    params = {
        "CallSid": "CA" + "7" * 32,
        "From": CALLER,
        "To": TRICITY_NUMBER,
        "ErrorCode": "11200",
        "ErrorUrl": "http://hotline.test/voice/incoming",
    }
    answer = phone.post("/voice/fallback", params)
    assert "pl-PL" in answer.body  # the apology in the Tri-City's first language
    tricity = db.scalar(select(HelplineRow.id).where(HelplineRow.slug == "trojmiasto"))
    for _ in range(100):
        db.expire_all()
        logged = db.scalar(select(Call))
        if logged is not None:
            break
        time.sleep(0.05)
    assert (logged.to_number, logged.helpline_id) == (TRICITY_NUMBER, tricity)


def test_the_export_of_one_helpline_holds_only_its_calls(two_lines, db):
    tricity = dial(two_lines, TRICITY_NUMBER).call(CALLER)
    tricity.ring()
    tricity.press("1")
    tricity.press("80001")
    tricity.hang_up()
    berlin_caller = "+4930123456"
    berlin = dial(two_lines, BERLIN_NUMBER).call(berlin_caller)
    berlin.ring()
    berlin.hang_up()

    def export(slug: str) -> str:
        result = run(
            two_lines, "calls", "export", "--date", "today", "--with-numbers", "--helpline", slug
        )
        assert result.exit_code == 0, result.output
        return result.output

    assert CALLER in export("trojmiasto") and berlin_caller not in export("trojmiasto")
    assert berlin_caller in export("berlin") and CALLER not in export("berlin")
    assert "1 calls on" in export("berlin")
    wrong = run(two_lines, "calls", "export", "--date", "today", "--helpline", "krakow")
    assert wrong.exit_code == 2
    assert "no helpline 'krakow' (known: berlin, trojmiasto)" in wrong.output


def test_zones_list_names_each_zones_helpline(two_lines):
    listed = run(two_lines, "zones", "list").output.splitlines()
    assert any(line.split()[:3] == ["berlin", "Berlin", "mitte"] for line in listed)
    assert any(line.split()[:3] == ["trojmiasto", "Trojmiasto", "gdansk"] for line in listed)


def test_setup_on_a_single_lines_database_keeps_its_zones_with_the_first_helpline(
    another_app, berlin
):
    """The single line of an earlier set-up becomes Berlin's; the Tri-City's zones are added."""
    app = another_app(helpline=two_helplines())
    result = run(app, "setup", "--operator-email", "op@example.org")
    assert result.exit_code == 0, result.output
    assert "Helpline berlin" not in result.output  # its zones were there: not imported again
    assert "Helpline trojmiasto (Pomoc sąsiedzka Trójmiasto):" in result.output
    numbers = f"each helpline number ({BERLIN_NUMBER}, {TRICITY_NUMBER}):"
    assert numbers in result.output
    berlin.expire_all()
    rows = {row.slug: row for row in berlin.scalars(select(HelplineRow))}
    assert sorted(rows) == ["berlin", "trojmiasto"]
    assert (rows["berlin"].id, rows["berlin"].name) == (1, "Nachbarschaftshilfe Berlin")
    mitte = berlin.scalar(select(Zone).where(Zone.slug == "mitte"))
    assert mitte.helpline_id == rows["berlin"].id


# -- the browser test phone --------------------------------------------------------------


def test_the_test_phone_dials_the_helpline_chosen(two_lines, db):
    from tests.test_test_phone import FICTIONAL, KeypadPage, sign_in

    operator = create_user(
        db,
        name="Ola",
        email="ola@example.org",
        password="correct horse battery",
        hash_cost=TEST_PASSWORD_HASH_COST,
        role="operator",
        approved=True,
        helplines=["trojmiasto"],
    )
    db.commit()
    client = two_lines.test_client()
    sign_in(client, operator.id)
    page = client.get("/phone").text
    assert f'<option value="{TRICITY_NUMBER}">Pomoc sąsiedzka Trójmiasto' in page
    phone = KeypadPage(client)
    first = phone.call(**{"from": FICTIONAL, "to": TRICITY_NUMBER})
    assert first["heard"][0]["lang"] == "pl-PL"
    phone.key("1")
    heard = phone.keys("80001")
    assert "8, 0, 0, 0, 1, Gdańsk" in heard["heard"][0]["text"]
    phone.key("1")
    phone.key("1")
    phone.key("#")
    db.expire_all()
    [request] = db.scalars(select(HelpRequest))
    assert request.zone.slug == "gdansk"

    refused = KeypadPage(client).post("/phone/call", {"from": FICTIONAL, "to": "+4930111"})
    assert refused.status_code == 400
    assert db.scalar(select(func.count(Call.id))) == 1  # nothing rang


def test_a_helplines_own_request_type_is_labelled_everywhere():
    firewood = {
        "digit": "1",
        "code": "firewood",
        "label": {"pl": "opał na zimę", "uk": "дрова на зиму", "en": "firewood"},
    }
    settings = load_settings(
        None, env={}, overrides={"helpline": two_helplines(request_types=[firewood])}
    )
    berlin, tricity = settings.helplines
    assert [t.code for t in tricity.request_types] == ["firewood"]
    assert berlin.request_type("firewood") is None
    # The board, the exports and the alerts look labels up in the settings.
    assert settings.request_type("firewood").label("pl") == "opał na zimę"
    assert settings.request_type("shopping").label("de") == "Einkäufe"


# -- the board ---------------------------------------------------------------------------


def test_a_volunteer_of_both_helplines_sees_both_boards(two_lines, db, make_person):
    for number, caller, postcode in [
        (TRICITY_NUMBER, CALLER, "80001"),
        (BERLIN_NUMBER, "+4930123456", "10115"),
    ]:
        call = dial(two_lines, number).call(caller)
        call.ring()
        for keys in ("1", postcode, "1", "1", "#"):
            call.press(keys)
    db.expire_all()
    requests = {r.zone.slug: r for r in db.scalars(select(HelpRequest))}
    assert sorted(requests) == ["gdansk", "mitte"]

    both = make_person("both@example.org", zones=["mitte", "gdansk"])
    only_berlin = make_person("berlin@example.org", zones=["mitte"])
    seen = {}
    for person in (both, only_berlin):
        client = two_lines.test_client()
        with client.session_transaction() as session:
            session.update(signed_in_keys(person.id))
        seen[person.email] = client.get("/requests").text
    board = seen["both@example.org"]
    assert requests["gdansk"].reference in board and requests["mitte"].reference in board
    assert "Gdańsk" in board and "Mitte" in board
    assert requests["gdansk"].reference not in seen["berlin@example.org"]
    assert CALLER not in board  # a caller's number only for whoever claims the request


def test_a_zone_slug_two_lines_share_is_told_apart_on_the_board(two_lines, db, make_person):
    """A "mitte" on both lines: the board names each with its line, and filters by one."""
    ids = dict(db.execute(select(HelplineRow.slug, HelplineRow.id)).all())
    tri_mitte = Zone(helpline_id=ids["trojmiasto"], slug="mitte", name="Mitte", area="Trojmiasto")
    db.add(tri_mitte)
    db.commit()
    for number, caller, postcode in [
        (TRICITY_NUMBER, CALLER, "80001"),
        (BERLIN_NUMBER, "+4930123456", "10115"),
    ]:
        call = dial(two_lines, number).call(caller)
        for keys in ("1", postcode, "1", "1", "#"):
            call.press(keys)
    db.expire_all()
    tricity_request = db.scalars(select(HelpRequest).where(HelpRequest.postcode == "80001")).one()
    tricity_request.zone_id = tri_mitte.id  # as if 80001 were in the Tri-City's "mitte"
    berlin_request = db.scalars(select(HelpRequest).where(HelpRequest.postcode == "10115")).one()
    db.commit()
    person = make_person("both@example.org", zones=["mitte"])  # both lines' "mitte"
    client = two_lines.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    with client.session_transaction() as session:
        session.update(signed_in_keys(person.id))

    board = client.get("/requests").text
    assert 'href="/requests?zone=berlin:mitte"' in board
    assert 'href="/requests?zone=trojmiasto:mitte"' in board
    assert "Mitte (Pomoc sąsiedzka Trójmiasto)" in board
    assert "Mitte (Nachbarschaftshilfe Berlin)" in board
    filtered = client.get("/requests?zone=trojmiasto:mitte").text
    assert tricity_request.reference in filtered
    assert berlin_request.reference not in filtered
    # A bare slug two lines share is not a zone of its own: the filter says so.
    assert client.get("/requests?zone=mitte").status_code == 200
    assert berlin_request.reference in client.get("/requests?zone=berlin:mitte").text


# -- alerts ------------------------------------------------------------------------------


def test_an_alert_names_the_neighbourhood_of_the_requests_own_helpline(
    another_app, berlin, make_person
):
    """The same postcode on the other line (a made-up one here) changes nothing in an alert."""
    from app.jobs.worker import Worker
    from tests.smtp_server import SmtpServer, plain_text

    with SmtpServer() as smtp:
        app = another_app(
            helpline=two_helplines(),
            mail={"url": smtp.url, "from_address": "hotline@example.org"},
            alerts={"batch_minutes": 10, "quiet_hours": ""},
        )
        assert run(app, "zones", "import").exit_code == 0
        berlin.expire_all()
        gdansk = berlin.scalar(select(Zone).where(Zone.slug == "gdansk"))
        berlin.add(
            Postcode(
                helpline_id=gdansk.helpline_id,
                code="10115",
                zone_id=gdansk.id,
                neighbourhood="Wrzeszcz",
            )
        )
        berlin.commit()
        make_person("mia@example.org", zones=["mitte"], name="Mia")

        call = dial(app, BERLIN_NUMBER).call("+4930123456")
        call.ring()
        for keys in ("1", "10115", "1", "1", "#"):
            call.press(keys)
        with app.app_context():
            Worker(app).run_until_empty()
        [message] = smtp.wait_for(1)
    text = plain_text(message)
    assert text.count("Einkäufe: 10115 Mitte") == 1
    assert "Wrzeszcz" not in text


# -- a helpline added to the configuration -----------------------------------------------


def test_a_helpline_added_to_the_configuration_answers_without_setup(another_app, berlin):
    """A restart with a new [[helpline]]: its row is made before the first answer. Before
    its zones are imported a postcode is out of its area: the caller is told the area and
    asked again (then the operator or the hours), never the apology for an error."""
    app = another_app(helpline=two_helplines())
    call = dial(app, TRICITY_NUMBER).call(CALLER)
    assert call.ring()[0].language == "pl-PL"
    call.press("3")  # English
    heard = " ".join(h.text for h in call.press("80001"))
    assert "This help line serves Gdansk, Gdynia and Sopot only." in heard
    assert heard.endswith("Please type the five digits of your postcode.")
    assert "technical problem" not in heard
    berlin.expire_all()
    rows = dict(berlin.execute(select(HelplineRow.slug, HelplineRow.id)).all())
    assert sorted(rows) == ["berlin", "trojmiasto"]  # Berlin took over the single line's row
    [logged] = berlin.scalars(select(Call))
    assert (logged.to_number, logged.helpline_id) == (TRICITY_NUMBER, rows["trojmiasto"])
    mitte = berlin.scalar(select(Zone).where(Zone.slug == "mitte"))
    assert mitte.helpline_id == rows["berlin"]

    # Once its zones are imported, the same postcode is Gdańsk.
    assert run(app, "zones", "import").exit_code == 0
    again = dial(app, TRICITY_NUMBER).call(CALLER)
    again.ring()
    again.press("3")
    assert "8, 0, 0, 0, 1, Gdańsk" in " ".join(h.text for h in again.press("80001"))


def test_servers_starting_together_make_each_helpline_once(another_app, berlin):
    """Several app servers sync at once: no error, one row per helpline, Berlin's the old one."""
    import threading

    from app.database import get_db
    from app.helplines import sync_helplines

    app = another_app(helpline=two_helplines())
    helplines = app.config["HOTLINE"].helplines
    start, errors, ids = threading.Barrier(4), [], []

    def sync() -> None:
        try:
            with get_db(app).session() as session:
                start.wait()
                ids.append(sync_helplines(session, helplines))
                session.commit()
        except Exception as error:  # noqa: BLE001 (the test reports any)
            errors.append(error)

    threads = [threading.Thread(target=sync) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    berlin.expire_all()
    rows = berlin.execute(select(HelplineRow.slug, HelplineRow.name)).all()
    assert sorted(rows) == [
        ("berlin", "Nachbarschaftshilfe Berlin"),
        ("trojmiasto", "Pomoc sąsiedzka Trójmiasto"),
    ]
    made = dict(berlin.execute(select(HelplineRow.slug, HelplineRow.id)).all())
    assert made["berlin"] == 1  # the single line's row, with its zones
    assert ids == [made] * 4


# -- signing up ---------------------------------------------------------------------------


def test_sign_up_shows_each_helplines_zones_and_takes_zones_of_both(two_lines, db):
    """Under each helpline's name its zones; a zone name on both lines is told apart by its
    legend and chosen by id. The volunteer of both lines then sees both lines' requests."""
    from tests.conftest import PASSWORD, AuthActions

    ids = dict(db.execute(select(HelplineRow.slug, HelplineRow.id)).all())
    db.add(Zone(helpline_id=ids["trojmiasto"], slug="mitte", name="Mitte", area="Trojmiasto"))
    db.commit()
    slug_of = {row_id: slug for slug, row_id in ids.items()}
    zone = {(slug_of[z.helpline_id], z.slug): z.id for z in db.scalars(select(Zone))}
    client = two_lines.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.get("/signup").text
    berlin_part, tricity_part = page.split("<legend>Pomoc sąsiedzka Trójmiasto</legend>")
    assert '<fieldset class="helpline-zones">' in berlin_part
    assert "<legend>Nachbarschaftshilfe Berlin</legend>" in berlin_part
    assert f'value="{zone["berlin", "mitte"]}" > Mitte</label>' in berlin_part
    assert f'value="{zone["trojmiasto", "mitte"]}" > Mitte</label>' in tricity_part
    assert f'value="{zone["trojmiasto", "gdansk"]}"' in tricity_part

    chosen = [zone["berlin", "mitte"], zone["trojmiasto", "gdansk"], zone["trojmiasto", "mitte"]]
    answer = client.post(
        "/signup",
        data={
            "name": "Ola Nowak",
            "email": "ola@example.org",
            "phone": "+48 501 234 567",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "zones": [str(i) for i in chosen],
            "csrf_token": AuthActions(client).csrf_token("/signup"),
        },
    )
    assert answer.status_code == 302, answer.text
    db.expire_all()
    ola = db.scalar(select(User).where(User.email == "ola@example.org"))
    assert sorted(z.id for z in ola.zones) == sorted(chosen)

    # Approved, she sees the requests of both lines on her board.
    ola.status = AccountStatus.APPROVED
    db.commit()
    for number, caller, postcode in [
        (TRICITY_NUMBER, CALLER, "80001"),
        (BERLIN_NUMBER, "+4930123456", "10115"),
    ]:
        call = dial(two_lines, number).call(caller)
        call.ring()
        for keys in ("1", postcode, "1", "1", "#"):
            call.press(keys)
    db.expire_all()
    references = [r.reference for r in db.scalars(select(HelpRequest))]
    with client.session_transaction() as session:
        session.update(signed_in_keys(ola.id, ola.session_version))
    board = client.get("/requests").text
    assert len(references) == 2 and all(ref in board for ref in references)
    # Her account's zone picker, too, shows each line's zones under its name, hers ticked.
    picker = client.get("/account/zones").text
    assert "<legend>Nachbarschaftshilfe Berlin</legend>" in picker
    tricity_picker = picker.split("<legend>Pomoc sąsiedzka Trójmiasto</legend>")[1]
    assert f'value="{zone["trojmiasto", "mitte"]}" checked> Mitte</label>' in tricity_picker


def test_a_postcode_on_two_lines_is_not_guessed_at_sign_up(two_lines, db):
    """80331 is Munich's and Gdańsk's: typed alone it is asked about, with a zone of one
    of the lines ticked it is read as that one."""
    from app.models import Postcode
    from tests.conftest import PASSWORD, AuthActions

    ids = dict(db.execute(select(HelplineRow.slug, HelplineRow.id)).all())
    mitte = db.scalar(select(Zone).where(Zone.helpline_id == ids["berlin"], Zone.slug == "mitte"))
    gdansk = db.scalar(
        select(Zone).where(Zone.helpline_id == ids["trojmiasto"], Zone.slug == "gdansk")
    )
    db.add(Postcode(code="80331", zone_id=mitte.id, helpline_id=ids["berlin"]))
    db.commit()
    client = two_lines.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"

    def sign_up(**fields):
        data = {
            "name": "Ola Nowak",
            "email": "ola@example.org",
            "phone": "+48 501 234 567",
            "password": PASSWORD,
            "password_again": PASSWORD,
            "postcodes": "80331",
            "csrf_token": AuthActions(client).csrf_token("/signup"),
            **fields,
        }
        return client.post("/signup", data=data)

    asked = sign_up()
    assert asked.status_code == 422
    assert (
        "Postcode 80331 is in more than one helpline&#39;s area: Mitte (Nachbarschaftshilfe "
        "Berlin), Gdańsk (Pomoc sąsiedzka Trójmiasto). Please tick the one you mean."
    ) in asked.text
    assert db.scalar(select(User).where(User.email == "ola@example.org")) is None

    answer = sign_up(zones=[str(gdansk.id)])
    assert answer.status_code == 302, answer.text
    ola = db.scalar(select(User).where(User.email == "ola@example.org"))
    assert [z.id for z in ola.zones] == [gdansk.id]


def test_with_one_helpline_sign_up_looks_as_before(client, berlin):
    page = client.get("/signup").text
    assert "helpline-zones" not in page
    assert page.count("<fieldset") == 1 and "Mitte" in page


def test_an_app_on_a_database_not_made_yet_starts_and_setup_syncs_it(tmp_path, caplog):
    """The factory builds `hotline setup`'s app before the tables exist: no error, no
    warning; setup migrates and makes the helpline's row."""
    from tests.conftest import make_test_app

    url = f"sqlite:///{tmp_path / 'new.db'}"
    app = make_test_app(url, tmp_path)
    assert "Helplines not synced" not in caplog.text
    result = run(app, "setup", "--operator-email", "op@example.org")
    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(HelplineRow.slug, HelplineRow.name)).all()
    finally:
        engine.dispose()
    assert rows == [(DEFAULT_SLUG, "Berlin")]
