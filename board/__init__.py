"""The web for volunteers and operators."""

from flask import Blueprint, redirect, request, session, url_for
from flask_login import LoginManager

from app.database import db_session
from app.models import User

bp = Blueprint("board", __name__, template_folder="templates", static_folder="static")
login_manager = LoginManager()


@bp.record_once
def _setup(state) -> None:
    login_manager.init_app(state.app)
    login_manager.login_view = "board.index"


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return db_session().get(User, int(user_id)) if user_id.isdigit() else None


@bp.post("/language")
def choose_language():
    """The language switcher: remembered for this browser session."""
    from flask import current_app

    code = request.form.get("language", "")
    if code in current_app.config["HOTLINE"].web_languages:
        session["language"] = code
    target = request.form.get("next", "")
    # Only a local path: never bounce a visitor to another site.
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("board.index")
    return redirect(target)


from board import views  # noqa: E402, F401  (routes register on bp)
