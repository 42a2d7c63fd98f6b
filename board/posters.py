"""Posters and flyers: the helpline's number on paper, for a zone, in a caller's language.

Neighbourhood helplines reach people without internet through paper: a poster in
the stairwell, a flyer in the pharmacy. A poster page is printed from the
browser (its print dialog saves a PDF too): its stylesheet sets the paper size
(A4 poster, A6 flyer), and the page around the sheet is not printed. The sheet
is in the language chosen for it, whatever the language of the board; it tells
the number in large type, how the phone menu goes (the languages and kinds of
help configured for the phone line, with their keys) and ends in tear-off strips.
"""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale, UnknownLocaleError
from flask import abort, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from app.config import TRANSLATIONS_DIR, Settings
from app.database import db_session
from app.i18n import LANGUAGE_NAMES
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


def poster_languages(config: Settings) -> list[str]:
    """The phone menu's languages a poster can be printed in: those the board has a
    translation for, in the menu's order."""
    return [code for code in config.phone_languages if (TRANSLATIONS_DIR / code).is_dir()]


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
    return render_template(
        "board/posters.html",
        zones=zones,
        languages=poster_languages(settings()),
        sizes=SIZES.values(),
        own_name=own_name,
    )


@bp.get("/posters/<slug>/<language>/<any(a4, a6):size>")
@approved_required
def poster(slug: str, language: str, size: str):
    """A printable poster or flyer for one zone in one language.

    Any zone may be printed by anyone approved: nothing on it is private.
    """
    config = settings()
    zone = next((z for z in all_zones(db_session()) if z.slug == slug), None)
    if zone is None or language not in poster_languages(config):
        abort(404)
    number = config.public_phone_number
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
                        for digit, code in enumerate(config.phone_languages, start=1)
                    ],
                    request_types=[
                        (t.digit, _capitalised(t.label(language))) for t in config.request_types
                    ],
                    operator=bool(config.operator_phone),
                )
            )
    return render_template(
        "board/poster.html",
        sheet=sheet,
        zone=zone,
        size=SIZES[size],
        language=language,
        languages=poster_languages(config),
        sizes=SIZES.values(),
        own_name=own_name,
    )
