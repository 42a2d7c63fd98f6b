"""Zone profiles: the real Berlin file as published, the Tri-City list, ranges, postcode lookup."""

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.config import PROFILE_DIR
from app.models import Postcode, Zone
from app.zones.postcodes import zone_for_postcode
from app.zones.profiles import (
    ImportResult,
    ZoneImportError,
    import_profile,
    profile_path,
    read_postcode_csv,
    read_profile,
    slugify,
)

SHARED_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "berlin_postcodes_raw.csv"
BERLIN_CSV = PROFILE_DIR / "berlin.csv"


def counts(db) -> tuple[int, int]:
    return (
        db.scalar(select(func.count()).select_from(Zone)),
        db.scalar(select(func.count()).select_from(Postcode)),
    )


def test_project_copy_is_the_published_file_byte_for_byte():
    if not SHARED_FILE.exists():
        pytest.skip("the shared reference data is not beside this checkout")
    assert BERLIN_CSV.read_bytes() == SHARED_FILE.read_bytes()


def test_berlin_file_reads_as_twelve_boroughs_and_190_postcodes():
    profile = read_postcode_csv(BERLIN_CSV)
    assert profile.area == "Berlin"
    assert profile.encoding == "ISO-8859-1"
    assert len(profile.zones) == 12
    assert profile.postcode_count == 190
    cleaned = " ".join(profile.cleaned)
    assert "Pankow" in cleaned  # the borough with a trailing space
    assert "10179" in cleaned  # the duplicated postcode
    assert "empty line" in cleaned


def test_import_reports_and_writes_zones(db):
    result = import_profile(db, read_profile(profile_path("berlin")))
    db.commit()
    assert counts(db) == (12, 190)
    report = "\n".join(result.report())
    assert "12 zones, 190 postcodes" in report
    assert "Cleaned:" in report
    names = set(db.scalars(select(Zone.name)))
    assert "Pankow" in names and "Pankow " not in names
    assert "Neukölln" in names


def test_import_twice_changes_nothing(db):
    import_profile(db, read_profile(profile_path("berlin")))
    db.commit()
    before = [(p.code, p.zone_id, p.neighbourhood) for p in db.scalars(select(Postcode))]
    again = import_profile(db, read_profile(profile_path("berlin")))
    db.commit()
    assert not again.changed
    assert "Nothing changed" in "\n".join(again.report())
    after = [(p.code, p.zone_id, p.neighbourhood) for p in db.scalars(select(Postcode))]
    assert sorted(after) == sorted(before)


def corrupted_copy(tmp_path, line_no: int, replace: bytes, by: bytes) -> Path:
    lines = BERLIN_CSV.read_bytes().split(b"\r\n")
    lines[line_no - 1] = lines[line_no - 1].replace(replace, by)
    path = tmp_path / "berlin_broken.csv"
    path.write_bytes(b"\r\n".join(lines))
    return path


@pytest.mark.parametrize(
    ("line_no", "replace", "by", "reason"),
    [
        (50, b";1", b";X", "is not five digits"),
        (120, b"Berlin;", b"Berlin;;;;", "borough is empty"),  # shifted columns
        (7, b"Mitte;Mitte;10179", b"Pankow;Mitte;10179", "10179 is in"),
    ],
)
def test_a_broken_file_changes_nothing_and_names_the_line(
    db, runner, tmp_path, line_no, replace, by, reason
):
    import_profile(db, read_profile(profile_path("trojmiasto")))
    db.commit()
    before = counts(db)
    broken = corrupted_copy(tmp_path, line_no, replace, by)
    result = runner.invoke(args=["zones", "import", str(broken)])
    assert result.exit_code != 0
    assert f"line {line_no}" in result.output
    assert reason in result.output
    assert "Nothing was imported" in result.output
    db.expire_all()
    assert counts(db) == before


def test_cli_import_of_the_published_file(runner, db):
    result = runner.invoke(args=["zones", "import", str(BERLIN_CSV)])
    assert result.exit_code == 0, result.output
    assert "12 zones, 190 postcodes" in result.output
    assert counts(db) == (12, 190)
    second = runner.invoke(args=["zones", "import", str(BERLIN_CSV)])
    assert "Nothing changed" in second.output


def test_cli_import_without_path_uses_configured_profile(runner, db):
    result = runner.invoke(args=["zones", "import"])
    assert result.exit_code == 0, result.output
    assert counts(db) == (12, 190)
    listing = runner.invoke(args=["zones", "list"])
    assert "neukoelln" in listing.output


def test_missing_file_is_a_clear_error(runner):
    result = runner.invoke(args=["zones", "import", "/nonexistent/zones.csv"])
    assert result.exit_code != 0
    assert "no such file" in result.output


TRICITY_CSV = PROFILE_DIR / "trojmiasto.csv"


def tricity_rows() -> list[dict[str, str]]:
    with TRICITY_CSV.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def test_tricity_profile(db):
    result = import_profile(db, read_profile(profile_path("trojmiasto")))
    db.commit()
    assert "3 zones, 1217 postcodes" in "\n".join(result.report())
    assert zone_for_postcode(db, "80001").zone.name == "Gdańsk"  # 80-001, typed 80001
    assert zone_for_postcode(db, "80280").zone.name == "Gdańsk"
    assert zone_for_postcode(db, "83011").zone.name == "Gdańsk"  # Gdańsk's one 83-xxx code
    assert zone_for_postcode(db, "81350").zone.name == "Gdynia"
    assert zone_for_postcode(db, "81720").zone.name == "Sopot"
    assert zone_for_postcode(db, "81881").zone.name == "Sopot"
    assert zone_for_postcode(db, "81900") is None
    # 81-198 is Kosakowo's (a commune north of Gdynia), not Gdynia's.
    assert zone_for_postcode(db, "81198") is None
    assert zone_for_postcode(db, "81197").zone.name == "Gdynia"
    # In the old 80000-80999 range, but no Gdańsk address has them: 80-209 is
    # Żukowo's (Chwaszczyno), 80-952 no commune's.
    assert zone_for_postcode(db, "80209") is None
    assert zone_for_postcode(db, "80952") is None
    assert {z.slug for z in db.scalars(select(Zone))} == {"gdansk", "gdynia", "sopot"}


def test_tricity_zones_hold_what_the_file_holds(db):
    import_profile(db, read_profile(profile_path("trojmiasto")))
    db.commit()
    in_file: dict[str, set[str]] = {}
    for row in tricity_rows():
        in_file.setdefault(row["Borough"], set()).add(row["ZIP"])
    stored: dict[str, set[str]] = {}
    for code, zone in db.execute(select(Postcode.code, Zone.name).join(Zone)):
        stored.setdefault(zone, set()).add(code)
    assert stored == in_file
    assert {zone: len(codes) for zone, codes in stored.items()} == {
        "Gdańsk": 590,
        "Gdynia": 480,
        "Sopot": 147,
    }


def test_tricity_report_names_the_codes_shared_with_neighbouring_communes(db):
    report = "\n".join(import_profile(db, read_profile(profile_path("trojmiasto"))).report())
    assert "Read trojmiasto.csv (UTF-8): 1217 data lines." in report
    assert (
        "Kept in their zone, also used by another commune: 80174 (Kolbudy) in Gdańsk, "
        "80180 (Kolbudy, Pruszcz Gdański) in Gdańsk, 80298 (Żukowo) in Gdańsk, "
        "80299 (Żukowo) in Gdańsk, 83011 (Cedry Wielkie, Pruszcz Gdański) in Gdańsk."
    ) in report
    # The list is exact per the address register: no longer marked approximate.
    assert "Approximate" not in report and "Left out" not in report
    db.commit()
    shared = zone_for_postcode(db, "80180")
    assert (shared.zone.name, shared.neighbourhood) == ("Gdańsk", "Gdańsk")
    berlin = "\n".join(import_profile(db, read_profile(profile_path("berlin"))).report())
    assert "also used by another commune" not in berlin


def test_a_range_profile_reports_what_it_leaves_out_and_that_it_is_approximate(tmp_path):
    path = tmp_path / "town.toml"
    path.write_text(
        'area = "Town"\napproximate = true\n[[zone]]\nname = "North"\n'
        'ranges = [["10000", "10009"]]\nexclude = { "10005" = "Village" }\n'
    )
    profile = read_profile(path)
    report = "\n".join(ImportResult(profile=profile).report())
    assert "Left out of the ranges: 10005 (Village) from North." in report
    assert "Approximate: town.toml gives postcode ranges" in report
    assert profile.postcode_count == 9


def test_tricity_import_twice_changes_nothing(db):
    import_profile(db, read_profile(profile_path("trojmiasto")))
    db.commit()
    before = sorted((p.code, p.zone_id, p.neighbourhood) for p in db.scalars(select(Postcode)))
    again = import_profile(db, read_profile(profile_path("trojmiasto")))
    db.commit()
    assert not again.changed
    assert "Nothing changed" in "\n".join(again.report())
    after = sorted((p.code, p.zone_id, p.neighbourhood) for p in db.scalars(select(Postcode)))
    assert after == before


@pytest.mark.parametrize(
    ("exclude", "reason"),
    [
        ('{ "20000" = "Elsewhere" }', "excluded postcode 20000 is not in its ranges"),
        ('["10005"]', "'exclude' is a table"),
        ('{ "1000" = "Elsewhere" }', "'exclude' is a table"),
        ('{ "10005" = "" }', "'exclude' is a table"),
    ],
)
def test_a_wrong_exclude_is_refused(tmp_path, exclude, reason):
    path = tmp_path / "town.toml"
    path.write_text(
        f'area = "Town"\n[[zone]]\nname = "North"\nranges = [["10000", "10009"]]\n'
        f"exclude = {exclude}\n"
    )
    with pytest.raises(ZoneImportError, match=reason):
        read_profile(path)


def test_an_excluded_code_can_belong_to_the_next_zone(tmp_path):
    path = tmp_path / "town.toml"
    path.write_text(
        'area = "Town"\n[[zone]]\nname = "North"\nranges = [["10000", "10009"]]\n'
        'exclude = { "10009" = "South" }\n'
        '[[zone]]\nname = "South"\nranges = [["10009", "10019"]]\n'
    )
    north, south = read_profile(path).zones
    assert "10009" not in north.postcodes and "10009" in south.postcodes


def test_approximate_must_be_true_or_false(tmp_path):
    path = tmp_path / "town.toml"
    path.write_text(
        'area = "Town"\napproximate = "yes"\n[[zone]]\nname = "N"\nranges = [["10000", "10001"]]\n'
    )
    with pytest.raises(ZoneImportError, match="'approximate' is true or false"):
        read_profile(path)


def test_overlapping_ranges_are_refused(tmp_path):
    path = tmp_path / "overlap.toml"
    path.write_text(
        'area = "X"\n[[zone]]\nname = "A"\nranges = [["10000", "10010"]]\n'
        '[[zone]]\nname = "B"\nranges = [["10010", "10020"]]\n'
    )
    with pytest.raises(ZoneImportError, match="10010 is already in A"):
        read_profile(path)


def test_editing_a_profile_moves_and_removes_postcodes(db, tmp_path):
    path = tmp_path / "town.toml"
    path.write_text('area = "Town"\n[[zone]]\nname = "North"\nranges = [["10000", "10009"]]\n')
    import_profile(db, read_profile(path))
    path.write_text(
        'area = "Town"\n[[zone]]\nname = "North"\nranges = [["10000", "10004"]]\n'
        '[[zone]]\nname = "South"\nranges = [["10005", "10007"]]\n'
    )
    result = import_profile(db, read_profile(path))
    db.commit()
    assert (result.postcodes_changed, result.postcodes_removed) == (3, 2)
    assert zone_for_postcode(db, "10006").zone.name == "South"
    assert zone_for_postcode(db, "10009") is None


@pytest.mark.parametrize(
    ("code", "zone"),
    [("10115", "Mitte"), ("12043", "Neukölln"), ("13597", "Spandau"), ("10179", "Mitte")],
)
def test_postcode_lookup(berlin, code, zone):
    assert zone_for_postcode(berlin, code).zone.name == zone


@pytest.mark.parametrize("code", ["99999", "1011", "101155", "", "abcde", "10 115", "١٠١١٥"])
def test_postcode_lookup_misses(berlin, code):
    assert zone_for_postcode(berlin, code) is None


def test_slugs():
    assert slugify("Neukölln") == "neukoelln"
    assert slugify("Gdańsk") == "gdansk"
    assert slugify("Charlottenburg-Wilmersdorf ") == "charlottenburg-wilmersdorf"
