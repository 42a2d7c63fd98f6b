"""Postcodes: the rule of what a postcode is, and looking up a caller's or a volunteer's."""

from __future__ import annotations

import re
import time
from functools import cache

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.models import HelplineRow, Postcode, Zone

# Five digits: a German postcode, or a Polish one typed without its dash.
POSTCODE = re.compile(r"[0-9]{5}")


def oldest_helpline_id(session: Session) -> int:
    """The first helpline made: the one every zone of a single-line deployment belongs to."""
    found = session.scalar(select(func.min(HelplineRow.id)))
    if found is None:
        raise LookupError("no helpline in the database: run `hotline setup` (it migrates)")
    return found


def zone_for_postcode(
    session: Session, code: str, helpline_id: int | None = None
) -> Postcode | None:
    """A helpline's postcode row (with its zone) for a typed code; one primary-key lookup.

    `helpline_id` None: the oldest helpline (a single-line deployment's only one).
    """
    if not POSTCODE.fullmatch(code or ""):
        return None
    if helpline_id is None:
        helpline_id = oldest_helpline_id(session)
    query = (
        select(Postcode)
        .options(joinedload(Postcode.zone))
        .where(Postcode.helpline_id == helpline_id, Postcode.code == code)
    )
    return session.scalars(query).first()


# How long the phone line trusts its copy of the postcodes (PostcodePlaces). They
# change only when zones are imported; an import by this app is seen at once (it
# calls forget()), one by another process (`hotline zones import` beside the
# running server) within this many seconds. Until then a caller may hear the old
# neighbourhood, or the old answer "outside our area": harmless for half a minute
# after a rare import, and what lets most webhooks of a call go without a query for
# their postcode.
PLACES_SECONDS = 30


class PostcodePlaces:
    """Every postcode's place, read in one query and kept for PLACES_SECONDS (one per app).

    The phone line asks for the caller's postcode on most webhooks of a call: one
    query, about a tenth of a webhook's time (bench/calls.py), for a table of a few
    hundred rows that hardly ever changes.
    """

    def __init__(self, seconds: float = PLACES_SECONDS, clock=time.monotonic):
        self.seconds = seconds
        self.clock = clock
        # (when read, {(helpline slug, code): (code, name, zone id, helpline id)}),
        # replaced as a whole: the threads of a server share it without a lock.
        self._copy: tuple[float, dict[tuple[str, str], tuple[str, str, int, int]]] | None = None

    def forget(self) -> None:
        """Read the postcodes again at the next call: this app has just imported zones."""
        self._copy = None

    def get(
        self, connection: Connection, code: str, helpline: str
    ) -> tuple[str, str, int, int] | None:
        """(code, name to read back, zone id, helpline id) for a postcode typed on a helpline.

        None outside every zone of that helpline (its slug). The name is the
        neighbourhood, else the zone's name.
        """
        if not POSTCODE.fullmatch(code or ""):
            return None
        copy = self._copy
        now = self.clock()
        if copy is None or now - copy[0] >= self.seconds:
            rows = connection.execute(_places_query())
            copy = (
                now,
                {
                    (row.slug, row.code): (
                        row.code,
                        row.neighbourhood or row.name,
                        row.zone_id,
                        row.helpline_id,
                    )
                    for row in rows
                },
            )
            self._copy = copy
        return copy[1].get((helpline, code))


@cache
def _places_query() -> Select:
    postcodes, zones, helplines = Postcode.__table__, Zone.__table__, HelplineRow.__table__
    return (
        select(
            helplines.c.slug,
            postcodes.c.helpline_id,
            postcodes.c.code,
            postcodes.c.neighbourhood,
            postcodes.c.zone_id,
            zones.c.name,
        )
        .join(zones, zones.c.id == postcodes.c.zone_id)
        .join(helplines, helplines.c.id == postcodes.c.helpline_id)
    )


def zone_counts(session: Session) -> list[tuple[Zone, int]]:
    """Every zone with the number of postcodes it holds, for `hotline zones list`."""
    rows = session.execute(
        select(Zone, func.count(Postcode.code))
        .options(selectinload(Zone.helpline))
        .outerjoin(Postcode)
        .group_by(Zone.id)
        .order_by(Zone.helpline_id, Zone.area, Zone.name)
    )
    return [(zone, count) for zone, count in rows]


def postcodes_in_text(text: str) -> list[str]:
    """The postcodes someone typed, in order, once each: '10115, 12043' or '80-001 81-300'.

    Separated by commas, semicolons or spaces; the dash of a Polish code is
    dropped. Whatever is not five digits is kept as typed, for the error message.
    """
    tokens = (t.strip() for t in re.split(r"[\s,;]+", text or ""))
    codes = (t.replace("-", "") if re.fullmatch(r"[0-9]{2}-[0-9]{3}", t) else t for t in tokens)
    return list(dict.fromkeys(c for c in codes if c))


def zones_for_postcodes(
    session: Session, codes: list[str], zone_ids: set[int] | None = None
) -> tuple[dict[str, list[Postcode]], list[str]]:
    """Each known postcode with the rows that hold it (one per helpline that has it:
    80331 may be Munich's and Gdańsk's), and the codes no zone holds (malformed
    included). With `zone_ids`, only rows of those zones count."""
    valid = [code for code in codes if POSTCODE.fullmatch(code)]
    query = select(Postcode).options(joinedload(Postcode.zone)).where(Postcode.code.in_(valid))
    if zone_ids is not None:
        query = query.where(Postcode.zone_id.in_(zone_ids))
    found: dict[str, list[Postcode]] = {}
    for postcode in session.scalars(query.order_by(Postcode.zone_id)):
        found.setdefault(postcode.code, []).append(postcode)
    return found, [code for code in codes if code not in found]


def all_zones(session: Session) -> list[Zone]:
    """Every zone, by helpline, area and name (the choices of a sign-up form)."""
    query = (
        select(Zone)
        .options(selectinload(Zone.helpline))
        .order_by(Zone.helpline_id, Zone.area, Zone.name)
    )
    return list(session.scalars(query))


def neighbourhoods(session: Session, requests) -> dict[str, str]:
    """The neighbourhood of each request's postcode, for the cards on the board.

    Looked up in the request's own zone: the same code may name a place on
    another helpline's line.
    """
    pairs = {(r.zone_id, r.postcode) for r in requests}
    if not pairs:
        return {}
    rows = session.execute(
        select(Postcode.zone_id, Postcode.code, Postcode.neighbourhood).where(
            Postcode.code.in_({code for _, code in pairs}),
            Postcode.zone_id.in_({zone_id for zone_id, _ in pairs}),
        )
    )
    return {code: name for zone_id, code, name in rows if (zone_id, code) in pairs}
