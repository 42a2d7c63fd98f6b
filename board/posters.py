"""Posters and flyers: the helpline's number on paper, for a zone, in a caller's language.

Neighbourhood helplines reach people without internet through paper: a poster in
the stairwell, a flyer in the pharmacy. A poster page is printed from the
browser (its print dialog saves a PDF too): its stylesheet sets the paper size
(A4 poster, A6 flyer), and the page around the sheet is not printed. The sheet
is in the language chosen for it, whatever the language of the board; it tells
the number in large type, how the phone menu goes (the languages and kinds of
help configured for the phone line, with their keys) and ends in tear-off strips.
With several helplines, a zone's poster is its helpline's: that line's number,
menu languages and kinds of help.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from flask import abort, render_template, request
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from app.config import TRANSLATIONS_DIR, Settings
from app.database import db_session
from app.helplines import Helpline
from app.i18n import LANGUAGE_NAMES
from app.models import Zone
from app.phone_numbers import number_for_reading
from app.requests.claims import zones_served_by
from app.zones.postcodes import all_zones
from board import bp, settings
from board.accounts import approved_required


@dataclass(frozen=True)
class Size:
    """A printed size: what it is called, and how many tear-off strips it ends in."""

    name: str
    label: object  # a lazy translation
    strips: int


SIZES = {
    "a4": Size("a4", _l("A4 poster"), strips=8),
    "a6": Size("a6", _l("A6 flyer"), strips=4),
}


def poster_languages(helpline: Helpline) -> list[str]:
    """A helpline's phone menu languages a poster can be printed in: those the board has
    a translation for, in the menu's order."""
    return [code for code in helpline.phone_languages if (TRANSLATIONS_DIR / code).is_dir()]


@dataclass(frozen=True)
class PosterGroup:
    """A helpline's zones on a list of posters, with the languages its posters come in."""

    helpline: Helpline
    zones: list[Zone]
    languages: list[str]
    # The helpline's slug in the posters' links; None with one helpline (the links as before).
    line: str | None
    number: str  # the number its posters carry, for reading; "" when none is set


def poster_groups(config: Settings, zones: list[Zone]) -> list[PosterGroup]:
    """The zones by helpline, in the configuration's order.

    Zones of a helpline no longer configured are left out: no number reaches them.
    """
    several = len(config.helplines) > 1
    groups = []
    for helpline in config.helplines:
        own = [zone for zone in zones if zone.helpline.slug == helpline.slug]
        if own:
            line = helpline.slug if several else None
            number = number_for_reading(helpline.public_number) if helpline.public_number else ""
            groups.append(PosterGroup(helpline, own, poster_languages(helpline), line, number))
    return groups


def own_name(code: str) -> str:
    """A language named in itself: 'pl' -> 'Polski', as the caller who speaks it reads it."""
    if code in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[code]
    try:
        name = Locale.parse(code).get_display_name(code) or code
    except (ValueError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:]


def _capitalised(label: str) -> str:
    # Labels are written to be spoken mid-sentence ("zakupy"); on paper they head a line.
    return label[:1].upper() + label[1:]


@bp.get("/posters")
@approved_required
def posters():
    """Every zone a person serves (an operator: all), with a poster and a flyer per language."""
    zones = zones_served_by(db_session(), current_user)
    config = settings()
    return render_template(
        "board/posters.html",
        groups=poster_groups(config, zones),
        several=len(config.helplines) > 1,
        sizes=SIZES.values(),
        own_name=own_name,
    )


@bp.get("/posters/<slug>/<language>/<any(a4, a6):size>")
@approved_required
def poster(slug: str, language: str, size: str):
    """A printable poster or flyer for one zone in one language.

    Any zone may be printed by anyone approved: nothing on it is private. With
    several helplines `?helpline=` says whose zone (slugs are each line's own);
    without it, the first line's zone of that slug.
    """
    config = settings()
    chosen = request.args.get("helpline")
    zone, helpline = None, None
    for group in poster_groups(config, all_zones(db_session())):
        if chosen in (None, group.helpline.slug):
            zone = next((z for z in group.zones if z.slug == slug), None)
            if zone is not None:
                helpline = group.helpline
                break
    if zone is None or language not in poster_languages(helpline):
        abort(404)
    number = helpline.public_number
    line = helpline.slug if len(config.helplines) > 1 else None
    sheet = None
    if number:
        with force_locale(language):
            sheet = Markup(
                render_template(
                    "board/_poster_sheet.html",
                    zone=zone,
                    size=SIZES[size],
                    language=language,
                    number=number_for_reading(number),
                    languages=[
                        (str(digit), code, own_name(code))
                        for digit, code in enumerate(helpline.phone_languages, start=1)
                    ],
                    request_types=[
                        (t.digit, _capitalised(t.label(language))) for t in helpline.request_types
                    ],
                    operator=bool(helpline.operator_phone),
                )
            )
    return render_template(
        "board/poster.html",
        sheet=sheet,
        zone=zone,
        line=line,
        size=SIZES[size],
        language=language,
        languages=poster_languages(helpline),
        sizes=SIZES.values(),
        own_name=own_name,
    )
