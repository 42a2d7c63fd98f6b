"""Board pages."""

from flask import render_template

from board import bp


@bp.get("/")
def index():
    return render_template("board/index.html")
