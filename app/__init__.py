"""Hotline Board: a telephone helpline whose calls become requests on a volunteer board."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
from pathlib import Path

from flask import Flask

from app.config import Settings, config_path, load_settings


def create_app(test_config: dict | None = None, instance_path: str | None = None) -> Flask:
    """Build the app: configuration, database, translations, the phone line and the board.

    `test_config` overlays the configuration like a file would, and is
    checked the same way (plus `testing = true` for Flask's test mode).
    The instance folder (SQLite file, generated secrets) is ./instance.
    """
    from flask_wtf.csrf import CSRFProtect
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = core_app(test_config, instance_path)
    settings = app.config["HOTLINE"]
    if settings.trusted_proxies:
        # Only as many X-Forwarded-* hops as there are proxies we run:
        # trusting more would let a caller forge the URL that signatures cover.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)

    from app import cli

    # Each server process syncs the configured helplines as it starts.
    _sync_helplines_as_it_starts(app)
    # Every form post needs a CSRF token; the phone line's webhooks are
    # exempted by their blueprint and checked by Twilio's signature instead.
    CSRFProtect(app)
    cli.register(app)

    import voice
    from board import bp as board_bp
    from board.operator import bp as operator_bp
    from board.test_phone import bp as test_phone_bp

    voice.init_app(app)
    app.register_blueprint(board_bp)
    app.register_blueprint(operator_bp)
    app.register_blueprint(test_phone_bp)
    return app


def core_app(test_config: dict | None = None, instance_path: str | None = None) -> Flask:
    """The configuration, the database and the translations: what create_app() builds on.

    On its own it serves the export benchmark's baseline (bench/export_baseline.py),
    with the same settings, instance folder and database as the whole app.
    """
    app = Flask(__name__, instance_path=instance_path or str(Path.cwd() / "instance"))
    overrides = dict(test_config or {})
    testing = overrides.pop("testing", False)
    settings = load_settings(config_path(), overrides=overrides)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    settings = _fill_in_secrets(app, settings)
    # Cookies only over HTTPS when the public address is HTTPS, or when a
    # reverse proxy (which terminates TLS) stands in front of the app.
    https = settings.public_base_url.startswith("https://") or settings.trusted_proxies > 0

    app.config.update(
        SECRET_KEY=settings.secret_key,
        HOTLINE=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        REMEMBER_COOKIE_SECURE=https,
        # Nothing a volunteer or Twilio sends is anywhere near this; larger
        # posts are refused with 413 before any view reads them.
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    if testing:
        app.config["TESTING"] = True

    from app import database, i18n

    database.init_app(
        app,
        settings.database_url,
        settings.database_timeout_seconds,
        settings.database_max_waiting,
    )
    i18n.init_app(app)
    return app


def _sync_helplines_as_it_starts(app: Flask) -> None:
    """Sync the helplines as the app starts (each server process), and at its first request
    should the database not answer then.

    So a `[[helpline]]` added to the configuration answers calls after a restart,
    without `hotline setup`. Several servers start at once: the statements are
    safe to race. A database without the table yet (before `hotline setup`
    migrates it: the factory builds the app of that command too) is left alone.
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from app.database import database_exists, get_db
    from app.helplines import sync_helplines
    from app.models import HelplineRow

    synced = {"pid": 0}

    def sync() -> None:
        db = get_db(app)
        if not database_exists(db.url):
            return  # an SQLite file not made yet: opening it would make an empty one
        try:
            with db.session() as session:
                if not inspect(session.connection()).has_table(HelplineRow.__tablename__):
                    return
                sync_helplines(session, app.config["HOTLINE"].helplines)
                session.commit()
        except SQLAlchemyError as error:
            # Served anyway: the phone line answers a call whose helpline has no row yet.
            app.logger.warning(
                "Helplines not synced yet (tried again at the next request): %s", error
            )
            return
        synced["pid"] = os.getpid()

    sync()
    # That connection was made outside any request, so without the server-side
    # statement and lock timeouts a request's connections get (app/database_guard.py):
    # it must not go on to serve a webhook, which would then wait on a lock unbounded.
    get_db(app).engine.dispose()

    @app.before_request
    def _sync_if_not_yet() -> None:
        # A process forked after the factory ran, or a database that was away at start.
        if synced["pid"] != os.getpid():
            sync()


def _fill_in_secrets(app: Flask, settings: Settings) -> Settings:
    """Generate what a first run on a laptop lacks, and keep it under instance/.

    A production deployment sets these (several servers must share them);
    generating them here means no fixed default secret ever ships.
    """
    changes = {}
    if not settings.secret_key:
        changes["secret_key"] = _instance_secret(app, "secret_key")
    if not settings.twilio_auth_token:
        changes["twilio_auth_token"] = _instance_secret(app, "twilio_auth_token")
    if not settings.database_url:
        changes["database_url"] = f"sqlite:///{Path(app.instance_path) / 'hotline.db'}"
    return dataclasses.replace(settings, **changes) if changes else settings


def _instance_secret(app: Flask, name: str) -> str:
    path = Path(app.instance_path) / name
    if not path.exists():
        # Written aside and linked into place: several workers starting at
        # once all end up with the one secret that won, never an empty file.
        draft = path.with_name(f".{name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_text().strip()
