"""The operators' list of posters: every zone of their helplines, in every language the phone
menu offers."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from app.database import db_session
from app.requests.claims import zones_served_by
from board import settings
from board.operator import bp
from board.posters import SIZES, own_name, poster_groups


@bp.get("/posters")
def posters():
    """Links to the poster and the flyer of each zone in each language, by helpline."""
    config = settings()
    return render_template(
        "board/operator/posters.html",
        groups=poster_groups(config, zones_served_by(db_session(), current_user)),
        several=len(config.helplines) > 1,
        sizes=SIZES.values(),
        own_name=own_name,
        number_set=all(h.public_number for h in config.helplines),
    )
