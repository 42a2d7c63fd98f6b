"""The operators' list of posters: every zone of their helplines, in every language the phone
menu offers."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from app.database import db_session
from app.requests.claims import zones_served_by
from board import settings
from board.operator import bp
from board.posters import SIZES, own_name, poster_languages


@bp.get("/posters")
def posters():
    """Links to the poster and the flyer of each zone in each language."""
    return render_template(
        "board/operator/posters.html",
        zones=zones_served_by(db_session(), current_user),
        languages=poster_languages(settings()),
        sizes=SIZES.values(),
        own_name=own_name,
        number_set=bool(settings().public_phone_number),
    )
