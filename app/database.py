"""The database: one engine per app, one session per request or command.

Domain services never open sessions themselves; they take one, so the web,
the phone line, the CLI and the tests all call the same functions.
"""

from __future__ import annotations

import enum
import select
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, current_app, g, request
from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    MetaData,
    String,
    create_engine,
    event,
    make_url,
    text,
)
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app.database_guard import DatabaseGuard, budget, end_budget, start_budget

# One naming convention, so that Alembic's batch mode on SQLite can find and
# rename constraints, and migrations name them the same on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """A timestamp that is always stored and returned as UTC.

    SQLite has no time zones and hands back naive values; PostgreSQL stores
    `timestamptz`. Either way the application only ever sees aware UTC
    datetimes, and converts to local time at the edges (pages, prompts, exports).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StatusType(TypeDecorator):
    """A status column: stored as its plain string, read back as its enum member.

    A plain VARCHAR rather than a database enum, so that adding a status needs
    no type migration and both databases store the same text. A value that is
    not a member is refused before it reaches the database.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum_class: type[enum.StrEnum], length: int = 16):
        super().__init__(length)
        self.enum_class = enum_class

    def process_bind_param(self, value, dialect):
        return None if value is None else self.enum_class(value).value

    def process_result_value(self, value, dialect):
        return None if value is None else self.enum_class(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str, for_migrations: bool = False, timeout_seconds: float = 15) -> Engine:
    """An engine with the settings each database needs to behave the same.

    `timeout_seconds`: how long to wait for another writer's lock (SQLite), for a
    database host to answer (PostgreSQL), and for a free connection of the pool
    (both) before failing. The app's is short (database_timeout_seconds): a caller
    must hear the apology before Twilio gives up on the webhook after 15 s, and
    the pool's own default wait is 30 s.
    """
    if not url.startswith("sqlite"):
        # connect_timeout: a database host that has gone away (no answer at all)
        # would otherwise hold the webhook for minutes. libpq takes whole seconds.
        connect = {"connect_timeout": max(2, round(timeout_seconds))}
        # Connections a database restart closed are replaced before use (see
        # _discard_dropped_connection); without poll() (Windows), by a SELECT 1.
        check_socket = hasattr(select, "poll")
        engine = create_engine(
            url,
            pool_pre_ping=not check_socket,
            pool_size=10,
            max_overflow=20,
            pool_timeout=timeout_seconds,
            connect_args=connect,
        )
        if check_socket:
            event.listen(engine, "checkout", _discard_dropped_connection)
        return engine
    # timeout: wait for another writer this long instead of failing at once.
    # An in-memory database has one connection per thread and no pool to wait for.
    in_memory = make_url(url).database in (None, "", ":memory:")
    # pool_recycle: SQLite reads the planner's statistics when a connection opens, so
    # the nightly ANALYZE of another process (app/planner_statistics.py) reaches a
    # running server's connections when they are opened again, within the hour.
    pool = {} if in_memory else {"pool_timeout": timeout_seconds, "pool_recycle": 3600}
    engine = create_engine(url, connect_args={"timeout": timeout_seconds}, **pool)
    # The app keeps the sqlite3 module's own transaction handling: a
    # transaction begins at the first write, so reads never hold a snapshot
    # that would make a later write fail with "database is locked" instead of
    # waiting. Writes that must not race (claims) are single conditional
    # UPDATE statements, which SQLite runs atomically.
    # Migrations instead run in one real transaction (DDL included, so a
    # failed upgrade leaves nothing half-done), with foreign keys off because
    # Alembic's batch mode rebuilds tables by copying and dropping them.
    event.listen(engine, "connect", _sqlite_migrations if for_migrations else _sqlite_app)
    if for_migrations:
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
    return engine


def _discard_dropped_connection(dbapi_connection, _record, _proxy) -> None:
    """Replace a pooled connection the server has closed, before anything uses it.

    A database restart closes every pooled connection; the first request on one
    would fail (a caller would hear the apology). pool_pre_ping would find out
    with a SELECT 1: a round trip to the server on every checkout, so on every
    phone webhook, which mostly sends one statement otherwise (bench/calls.py).
    An idle connection's socket has nothing to read unless the server has hung
    up (end of file, or its farewell message): one poll() without waiting says
    so, and the pool opens a new connection instead. A connection that dies
    while in use is still caught by SQLAlchemy, which then replaces every
    connection of the pool. (tests/test_faults.py restarts the database.)
    """
    try:
        socket = dbapi_connection.fileno()
    except Exception:  # the driver knows it is closed already (psycopg: OperationalError)
        raise DisconnectionError("this pooled connection is closed") from None
    poller = select.poll()
    poller.register(socket, select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the database server closed this pooled connection")


def _sqlite_app(dbapi_connection, _record) -> None:
    _pragmas(dbapi_connection, foreign_keys=True)


def _sqlite_migrations(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None
    _pragmas(dbapi_connection, foreign_keys=False)


def _pragmas(dbapi_connection, foreign_keys: bool) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """The engine and session factory of one app.

    Requests (webhooks, pages) have a deadline for their database work
    (app/database_guard.py); commands and jobs without one are not limited.
    """

    def __init__(self, url: str, timeout_seconds: float = 15, max_waiting: int = 2):
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.engine = make_engine(url, timeout_seconds=timeout_seconds)
        self.guard = DatabaseGuard(self.engine, timeout_seconds, max_waiting)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # The phone line's webhooks write one conditional statement at a time and
        # commit each at once (app/calls/call_log.py). On PostgreSQL in autocommit mode each
        # is one round trip, instead of three with BEGIN and COMMIT; SQLite keeps the
        # sqlite3 module's own transactions, which begin at a write (see make_engine).
        self.statements = (
            self.engine
            if url.startswith("sqlite")
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    def connect(self) -> Connection:
        """A Core connection for statements that commit one by one (the phone line's)."""
        return self.statements.connect()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for a command or a background job, committed by the caller."""
        with self.sessions() as session:
            yield session

    @contextmanager
    def unhurried_session(self) -> Iterator[Session]:
        """A session without the request's deadline, for a long read a page streams (an export).

        A pooled PostgreSQL connection that serves requests carries the deadline as
        its statement_timeout (app/database_guard.py); this transaction lifts it.
        """
        with budget(None), self.sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SET LOCAL statement_timeout = 0"))
                session.execute(text("SET LOCAL lock_timeout = 0"))
            yield session


def init_app(app: Flask, url: str, timeout_seconds: float = 15, max_waiting: int = 2) -> None:
    database = Database(url, timeout_seconds, max_waiting)
    app.extensions["hotline_db"] = database
    app.teardown_appcontext(_close_session)

    @app.before_request
    def _deadline() -> None:
        # From here the request has timeout_seconds for all of its database work.
        request.environ["hotline.budget"] = start_budget(database.timeout_seconds)

    @app.teardown_request
    def _no_deadline(_exc: BaseException | None) -> None:
        # A server thread serves one request after another: the next starts afresh.
        # (The test phone runs webhooks inside its own request: that one's comes back.)
        token = request.environ.pop("hotline.budget", None)
        if token is not None:
            end_budget(token)


def database_exists(url: str) -> bool:
    """False for an SQLite file that is not there (asking would create an empty one)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return True
    return parsed.database == ":memory:" or Path(parsed.database).is_file()


def get_db(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["hotline_db"]


def db_session() -> Session:
    """The session of the current request or app context, closed on teardown."""
    if "db_session" not in g:
        g.db_session = get_db().sessions()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
