"""Helplines: several phone lines in one deployment, each chosen by the number dialled.

A `[[helpline]]` table names a line (slug, name, the number callers dial, its
zone profile) and may set its own phone menu, operator, request types, time
zone and alert settings; whatever it leaves out comes from the top level of the
configuration. A configuration without `[[helpline]]` is one helpline, slug
"default", made of the top-level keys: exactly the single line of earlier
releases, and the slug the migration gave every existing zone, request and call.

The database keeps one row per helpline (table `helplines`), synced from the
configuration by `sync_helplines`; zones, requests and calls point at it.
"""

from __future__ import annotations

import copy
import re
import tomllib
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.config import DEFAULTS, ConfigError, RequestType, Settings, _check, _merge
from app.messaging.settings import AlertSettings
from app.phone_numbers import is_dialable

# The slug of the one helpline of a configuration without [[helpline]] tables, and of
# the row migration 0017 made for everything an earlier release stored.
DEFAULT_SLUG = "default"
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
# What a [[helpline]] table may set for itself; everything else is deployment-wide.
OWN_KEYS = ("slug", "name", "phone_number")
INHERITED_KEYS = ("zone_profile", "phone", "operator_phone", "request_types", "timezone", "alerts")


@dataclass(frozen=True)
class Helpline:
    """One phone line as configured: who it is, its number, its zones and its menu."""

    slug: str
    name: str
    phone_number: str  # the number callers dial (E.164); "" when none is configured
    # The number the calls this line places show (From), so the person called knows it:
    # a [[helpline]]'s own number; a single line's [twilio] phone_number, as before
    # (its public_phone_number may be a number Twilio cannot call from).
    caller_id: str
    # The number posters print and alerts name: a [[helpline]]'s own; the single line's
    # public_phone_number ("" until set: it may differ from the Twilio sender's).
    public_number: str
    zone_profile: str
    phone_languages: tuple[str, ...]
    default_language: str
    voices: dict[str, str]
    hours: dict[str, str]
    request_types: tuple[RequestType, ...]
    operator_phone: str
    timezone: ZoneInfo
    alerts: AlertSettings

    def request_type(self, code: str) -> RequestType | None:
        """The request type of this line with that code, if it has one."""
        return next((t for t in self.request_types if t.code == code), None)


def check_helplines(tables: list, raw: dict, settings: Settings) -> tuple[Helpline, ...]:
    """The helplines of a configuration, checked; ConfigError names the key and the file.

    `raw` is the merged top level (defaults, file, environment), `settings` its check.
    """
    source = settings.source
    if not tables:
        return (
            _helpline(
                DEFAULT_SLUG,
                _profile_area(settings.zone_profile),
                _own_number(settings),
                settings,
                caller_id=settings.twilio_phone_number,
                public_number=settings.public_phone_number,
            ),
        )
    helplines: list[Helpline] = []
    for i, table in enumerate(tables, start=1):
        prefix = f"helpline[{i}]."
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: key 'helpline[{i}]' must be a table")
        for key in table:
            if key not in OWN_KEYS + INHERITED_KEYS:
                raise ConfigError(f"{source}: unknown key '{prefix}{key}'")
        slug, name, number = (table.get(key) for key in OWN_KEYS)
        if not isinstance(slug, str) or not SLUG.fullmatch(slug):
            raise ConfigError(
                f"{source}: key '{prefix}slug' must be a short name of lower-case letters, "
                f"digits and dashes, like 'berlin', got {slug!r}"
            )
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{source}: key '{prefix}name' must be the helpline's name")
        if not isinstance(number, str) or not is_dialable(number.strip()):
            raise ConfigError(
                f"{source}: key '{prefix}phone_number' must be the number callers dial, "
                f"like +4930123456 (E.164), got {number!r}"
            )
        own = copy.deepcopy(raw)
        _merge(own, {k: table[k] for k in INHERITED_KEYS if k in table}, DEFAULTS, source, prefix)
        checked = _check(own, source, prefix=prefix)
        helpline = _helpline(slug, name.strip(), number.strip(), checked, number.strip())
        for other in helplines:
            if other.slug == helpline.slug:
                raise ConfigError(f"{source}: key '{prefix}slug' {slug!r} names two helplines")
            if other.phone_number == helpline.phone_number:
                raise ConfigError(
                    f"{source}: key '{prefix}phone_number' {number!r} is another helpline's number"
                )
        helplines.append(helpline)
    return tuple(helplines)


def _helpline(
    slug: str,
    name: str,
    number: str,
    settings: Settings,
    caller_id: str,
    public_number: str | None = None,
) -> Helpline:
    return Helpline(
        slug=slug,
        name=name,
        phone_number=number,
        caller_id=caller_id,
        public_number=number if public_number is None else public_number,
        zone_profile=settings.zone_profile,
        phone_languages=tuple(settings.phone_languages),
        default_language=settings.default_language,
        voices=dict(settings.voices),
        hours=dict(settings.hours),
        request_types=tuple(settings.request_types),
        operator_phone=settings.operator_phone,
        timezone=settings.timezone,
        alerts=settings.alerts,
    )


def _own_number(settings: Settings) -> str:
    """The single line's number: the one on the posters, else the Twilio sender's."""
    return settings.public_phone_number or settings.twilio_phone_number


def _profile_area(zone_profile: str) -> str:
    """The single line's name: its zone profile's area ('Berlin'), read from the file."""
    from app.zones.profiles import profile_path  # the zones build on the configuration

    path = profile_path(zone_profile)
    try:
        area = tomllib.loads(path.read_text(encoding="utf-8")).get("area")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        area = None
    return area if isinstance(area, str) and area.strip() else path.stem


def comparable_number(number: str) -> str:
    """A phone number as digits after its '+', so that '+49 30 4000-0000' finds +493040000000."""
    digits = re.sub(r"[^0-9]", "", number or "")
    return digits


def helpline_for_number(helplines: tuple[Helpline, ...], dialled: str) -> Helpline:
    """The helpline whose number was dialled (Twilio's `To`); the first for any other number.

    An unknown number is not refused: a caller who got through must be answered,
    and a number moved in Twilio before the configuration followed still works.
    """
    wanted = comparable_number(dialled)
    if wanted:
        for helpline in helplines:
            if comparable_number(helpline.phone_number) == wanted:
                return helpline
    return helplines[0]


def helpline_by_slug(helplines: tuple[Helpline, ...], slug: str) -> Helpline | None:
    """The configured helpline with that slug, if there is one."""
    return next((h for h in helplines if h.slug == slug), None)


def helpline_of_row(helplines: tuple[Helpline, ...], slug: str | None) -> Helpline:
    """The configured helpline of a stored row's slug; the first for one no longer configured
    (its zones and requests stay, and are served as the first line's)."""
    return helpline_by_slug(helplines, slug or "") or helplines[0]


def sync_helplines(session: Session, helplines: tuple[Helpline, ...]) -> dict[str, int]:
    """Make the `helplines` table hold every configured helpline; {slug: id}. Only flushes.

    Idempotent. Rows of helplines no longer configured stay (their zones and
    requests point at them). A deployment that moves from one line to
    `[[helpline]]` tables keeps its data: the first helpline, when it has no row
    yet and "default" is no longer configured, takes over the "default" row that
    migration 0017 made for everything stored before.

    Every app server runs this as it starts (the factory, app/__init__.py), several at
    once: so each change is one statement that is safe to race. The takeover is
    a conditional UPDATE (a second server waits for the first's row and then
    finds no "default" left) and a new line an INSERT that does nothing when
    another server's made it first.
    """
    from app.models import HelplineRow

    table = HelplineRow.__table__
    first = helplines[0]
    if DEFAULT_SLUG not in {h.slug for h in helplines}:
        taken = select(table.c.id).where(table.c.slug == first.slug)
        session.execute(
            update(table)
            .where(table.c.slug == DEFAULT_SLUG, ~exists(taken))
            .values(slug=first.slug)
        )
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for helpline in helplines:
        values = {"name": helpline.name, "phone_number": helpline.phone_number}
        session.execute(
            insert(table)
            .values(slug=helpline.slug, **values)
            .on_conflict_do_nothing(index_elements=["slug"])
        )
        session.execute(
            update(table)
            .where(
                table.c.slug == helpline.slug,
                (table.c.name != helpline.name) | (table.c.phone_number != helpline.phone_number),
            )
            .values(**values)
        )
    session.flush()
    # The ORM may hold rows from before the statements above.
    session.expire_all()
    return dict(session.execute(select(table.c.slug, table.c.id)).all())
