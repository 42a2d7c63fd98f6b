"""Zone profiles: reading a profile file and importing it into the database.

A profile is either a postcode list (Berlin's CSV, read exactly as published,
flaws and all; the Tri-City's, taken from the state address register) or a
small TOML file of postcode ranges. Reading is separate from writing: a file
is parsed and checked in full before the database is touched, so a broken
file changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import PROFILE_DIR
from app.models import Postcode, Zone
from app.zones.postcodes import POSTCODE, oldest_helpline_id


class ZoneImportError(Exception):
    """The file cannot be imported; the message names the line and the reason."""


@dataclass
class ZoneData:
    slug: str
    name: str
    postcodes: dict[str, str] = field(default_factory=dict)  # code -> neighbourhood


@dataclass
class Profile:
    """A parsed zone profile, not yet written anywhere."""

    source: str
    area: str
    area_spoken: dict[str, str]
    zones: list[ZoneData]
    read_lines: int = 0
    encoding: str = ""
    cleaned: list[str] = field(default_factory=list)
    # A range profile: codes its ranges leave out (code, zone, where it belongs), and
    # whether the ranges are only an approximation of the area (`approximate = true`).
    left_out: list[tuple[str, str, str]] = field(default_factory=list)
    approximate: bool = False
    # A list profile: codes kept in their zone though addresses of another commune use
    # them too (code, zone, the other communes), from the optional `Shared_with` column.
    shared: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def postcode_count(self) -> int:
        return sum(len(z.postcodes) for z in self.zones)


@dataclass
class ImportResult:
    profile: Profile
    zones_added: int = 0
    zones_renamed: int = 0
    postcodes_added: int = 0
    postcodes_changed: int = 0
    postcodes_removed: int = 0

    @property
    def changed(self) -> bool:
        return any(
            (
                self.zones_added,
                self.zones_renamed,
                self.postcodes_added,
                self.postcodes_changed,
                self.postcodes_removed,
            )
        )

    def report(self) -> list[str]:
        p = self.profile
        lines = []
        if p.read_lines:
            lines.append(f"Read {p.source} ({p.encoding}): {p.read_lines} data lines.")
        else:
            lines.append(f"Read {p.source}.")
        if p.cleaned:
            lines.append("Cleaned: " + "; ".join(p.cleaned) + ".")
        if p.left_out:
            codes = ", ".join(f"{code} ({where}) from {zone}" for code, zone, where in p.left_out)
            lines.append(f"Left out of the ranges: {codes}.")
        if p.shared:
            codes = ", ".join(f"{code} ({where}) in {zone}" for code, zone, where in p.shared)
            lines.append(f"Kept in their zone, also used by another commune: {codes}.")
        if p.approximate:
            lines.append(
                f"Approximate: {p.source} gives postcode ranges, not a published list "
                "of the area's postcodes; see the notes in the file."
            )
        lines.append(f"Profile {p.area}: {len(p.zones)} zones, {p.postcode_count} postcodes.")
        if self.changed:
            lines.append(
                f"Changes: {self.zones_added} zones added, {self.zones_renamed} renamed; "
                f"{self.postcodes_added} postcodes added, {self.postcodes_changed} moved "
                f"or renamed, {self.postcodes_removed} removed."
            )
        else:
            lines.append("Nothing changed: the database already matched the file.")
        return lines


def slugify(name: str) -> str:
    """'Neukölln' -> 'neukoelln', 'Gdańsk' -> 'gdansk'."""
    text = name.strip().lower()
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("ł", "l")):
        text = text.replace(umlaut, spelled)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def profile_path(name_or_path: str) -> Path:
    """A profile by name ('berlin') from the bundled ones, or a file path."""
    bundled = PROFILE_DIR / f"{name_or_path}.toml"
    return bundled if bundled.is_file() else Path(name_or_path)


def read_profile(path: Path) -> Profile:
    """Parse a profile file (.toml, or a Berlin-format .csv) without touching the database."""
    if not path.is_file():
        raise ZoneImportError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        return read_postcode_csv(path)
    if path.suffix.lower() != ".toml":
        raise ZoneImportError(f"{path}: expected a .toml profile or a .csv postcode list")
    try:
        meta = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ZoneImportError(f"{path}: not a valid TOML profile ({e})") from None
    area = meta.get("area")
    if not isinstance(area, str) or not area.strip():
        raise ZoneImportError(f"{path}: the profile needs an 'area' name")
    spoken = meta.get("area_spoken", {})
    approximate = meta.get("approximate", False)
    if not isinstance(approximate, bool):
        raise ZoneImportError(f"{path}: 'approximate' is true or false")
    if "csv" in meta:
        profile = read_postcode_csv(path.parent / meta["csv"], area=area)
    elif "zone" in meta:
        profile = _read_ranges(path, meta["zone"], area)
    else:
        raise ZoneImportError(f"{path}: the profile needs either 'csv' or [[zone]] tables")
    profile.area_spoken = spoken
    profile.approximate = approximate
    return profile


def read_postcode_csv(path: Path, area: str | None = None) -> Profile:
    """Read a postcode list in the published Berlin format, cleaning what is safe to clean.

    Columns: Country;City;Borough;Neighborhood;ZIP;... The published file is
    Latin-1; an operator's edited copy saved as UTF-8 is read as UTF-8. An
    optional Shared_with column names other communes that use the same code
    (the Tri-City list): the code stays in its zone and the import reports it.
    """
    raw = path.read_bytes()
    try:
        text, encoding = raw.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        text, encoding = raw.decode("latin-1"), "ISO-8859-1"
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    header = [h.strip().lower() for h in next(rows, [])]
    columns = {}
    for needed in ("city", "borough", "neighborhood", "zip"):
        if needed not in header:
            raise ZoneImportError(f"{path}, line 1: no '{needed}' column in the header")
        columns[needed] = header.index(needed)
    shared_column = header.index("shared_with") if "shared_with" in header else None

    zones: dict[str, ZoneData] = {}
    seen: dict[str, tuple[int, str]] = {}  # postcode -> (line, borough)
    cities: set[str] = set()
    trimmed: set[str] = set()
    shared: list[tuple[str, str, str]] = []
    empty_lines: list[int] = []
    duplicate_lines: list[str] = []
    data_lines = 0

    for line_no, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            empty_lines.append(line_no)
            continue
        data_lines += 1
        if len(row) <= max(columns.values()):
            raise ZoneImportError(f"{path}, line {line_no}: too few columns ({len(row)})")
        borough_raw = row[columns["borough"]]
        borough = borough_raw.strip()
        code = row[columns["zip"]].strip()
        neighbourhood = row[columns["neighborhood"]].strip()
        if not borough:
            raise ZoneImportError(f"{path}, line {line_no}: the borough is empty")
        if not POSTCODE.fullmatch(code):
            raise ZoneImportError(f"{path}, line {line_no}: postcode {code!r} is not five digits")
        if borough_raw != borough:
            trimmed.add(borough)
        cities.add(row[columns["city"]].strip())
        if code in seen:
            first_line, first_borough = seen[code]
            if first_borough != borough:
                raise ZoneImportError(
                    f"{path}, line {line_no}: postcode {code} is in {borough!r} here "
                    f"but in {first_borough!r} on line {first_line}"
                )
            duplicate_lines.append(f"{code} on line {line_no}")
            continue
        seen[code] = (line_no, borough)
        zone = zones.setdefault(borough, ZoneData(slug=slugify(borough), name=borough))
        zone.postcodes[code] = neighbourhood
        if shared_column is not None and shared_column < len(row) and row[shared_column].strip():
            shared.append((code, borough, row[shared_column].strip()))

    if not zones:
        raise ZoneImportError(f"{path}: no postcodes in the file")
    if area is None:
        if len(cities) != 1:
            raise ZoneImportError(f"{path}: expected one city, found {sorted(cities)}")
        area = cities.pop()

    cleaned = []
    if trimmed:
        names = ", ".join(sorted(trimmed))
        cleaned.append(f"trimmed trailing spaces from {len(trimmed)} borough name(s) ({names})")
    if duplicate_lines:
        cleaned.append(
            f"skipped {len(duplicate_lines)} repeated postcode(s) ({', '.join(duplicate_lines)})"
        )
    if empty_lines:
        cleaned.append(
            f"skipped {len(empty_lines)} empty line(s) (line {', '.join(map(str, empty_lines))})"
        )
    return Profile(
        source=path.name,
        area=area,
        area_spoken={},
        zones=sorted(zones.values(), key=lambda z: z.slug),
        read_lines=data_lines,
        encoding=encoding,
        cleaned=cleaned,
        shared=shared,
    )


def _read_ranges(path: Path, tables: list, area: str) -> Profile:
    zones: list[ZoneData] = []
    owner: dict[str, str] = {}
    left_out: list[tuple[str, str, str]] = []
    for i, table in enumerate(tables, start=1):
        where = f"{path}, zone {i}"
        name, slug, ranges = table.get("name"), table.get("slug"), table.get("ranges")
        if not isinstance(name, str) or not name.strip():
            raise ZoneImportError(f"{where}: needs a 'name'")
        slug = slug or slugify(name)
        if not isinstance(ranges, list) or not ranges:
            raise ZoneImportError(f'{where} ({name}): needs \'ranges\' like [["80000", "80999"]]')
        zone = ZoneData(slug=slug, name=name.strip())
        exclude = table.get("exclude", {})
        if not isinstance(exclude, dict) or not all(
            POSTCODE.fullmatch(code) and isinstance(belongs, str) and belongs.strip()
            for code, belongs in exclude.items()
        ):
            raise ZoneImportError(
                f'{where} ({name}): \'exclude\' is a table like {{ "81198" = "Kosakowo" }}'
            )
        in_ranges: set[str] = set()
        for pair in ranges:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(c, str) and POSTCODE.fullmatch(c) for c in pair)
                or pair[0] > pair[1]
            ):
                raise ZoneImportError(
                    f"{where} ({name}): range {pair!r} is not two five-digit codes, low to high"
                )
            for number in range(int(pair[0]), int(pair[1]) + 1):
                code = f"{number:05d}"
                in_ranges.add(code)
                if code in exclude:
                    continue
                if code in owner:
                    raise ZoneImportError(
                        f"{where} ({name}): postcode {code} is already in {owner[code]}"
                    )
                owner[code] = name
                zone.postcodes[code] = zone.name
        for code, belongs in sorted(exclude.items()):
            if code not in in_ranges:
                raise ZoneImportError(
                    f"{where} ({name}): excluded postcode {code} is not in its ranges"
                )
            left_out.append((code, zone.name, belongs))
        zones.append(zone)
    return Profile(source=path.name, area=area, area_spoken={}, zones=zones, left_out=left_out)


def import_profile(
    session: Session, profile: Profile, helpline_id: int | None = None
) -> ImportResult:
    """Make a helpline's zones and postcodes of the profile's area match the profile.

    Idempotent: importing the same profile twice changes nothing. Zones that
    left the file are kept (requests refer to them) but lose their postcodes.
    Another helpline's zones and postcodes are never touched. `helpline_id`
    None: the oldest helpline, the only one of a single-line deployment.
    The caller commits; on any error it rolls back and nothing has changed.
    """
    if helpline_id is None:
        helpline_id = oldest_helpline_id(session)
    result = ImportResult(profile=profile)
    existing = {
        z.slug: z for z in session.scalars(select(Zone).where(Zone.helpline_id == helpline_id))
    }
    zone_ids: dict[str, int] = {}
    for data in profile.zones:
        zone = existing.get(data.slug)
        if zone is None:
            zone = Zone(helpline_id=helpline_id, slug=data.slug, name=data.name, area=profile.area)
            session.add(zone)
            result.zones_added += 1
        elif (zone.name, zone.area) != (data.name, profile.area):
            zone.name, zone.area = data.name, profile.area
            result.zones_renamed += 1
        session.flush()
        zone_ids[data.slug] = zone.id

    wanted = {
        code: (zone_ids[z.slug], neighbourhood)
        for z in profile.zones
        for code, neighbourhood in z.postcodes.items()
    }
    own_zones = select(Zone.id).where(Zone.helpline_id == helpline_id, Zone.area == profile.area)
    area_zone_ids = set(session.scalars(own_zones)) | set(zone_ids.values())
    current = {
        p.code: p
        for p in session.scalars(
            select(Postcode).where(
                Postcode.helpline_id == helpline_id,
                Postcode.zone_id.in_(area_zone_ids) | Postcode.code.in_(list(wanted)),
            )
        )
    }
    for code, (zone_id, neighbourhood) in wanted.items():
        row = current.get(code)
        if row is None:
            session.add(
                Postcode(
                    helpline_id=helpline_id, code=code, zone_id=zone_id, neighbourhood=neighbourhood
                )
            )
            result.postcodes_added += 1
        elif (row.zone_id, row.neighbourhood) != (zone_id, neighbourhood):
            row.zone_id, row.neighbourhood = zone_id, neighbourhood
            result.postcodes_changed += 1
    for code, row in current.items():
        if code not in wanted:
            session.delete(row)
            result.postcodes_removed += 1
    session.flush()
    return result
