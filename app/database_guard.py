"""Every request's database work ends by its deadline, whatever the database does.

A phone webhook must answer before Twilio gives up on it (15 s): a caller then
hears Twilio's "application error" instead of our apology and the operator. A
database can fail to answer in several ways, and each needs its own bound:

- locked (a migration, VACUUM FULL, a stuck transaction): PostgreSQL's
  lock_timeout and statement_timeout, SQLite's busy timeout;
- refusing or not accepting connections: connect_timeout;
- silent on the network (a pooled connection whose packets vanish, or a proxy
  that forwards nothing): nothing ever arrives, so the server's own timeouts
  never fire and only the client can end the wait. A watchdog thread cuts the
  connection of a statement still running past its request's deadline.

The deadline is the request's (`Budget`), not each statement's: a webhook with
three slow statements must still answer in time. Once the database has failed a
request, the request does not try it again (the error path would otherwise wait
a second time, as SQLite's did, and answer too late).

A database that hangs also holds the threads waiting on it, and gunicorn has
only a few per worker: ten stuck webhooks left none for /voice/fallback or the
board's error page. So at most `max_waiting` statements of a process wait on the
database at once; when the database has answered none of them for `PATIENCE`,
other requests give up at once (the caller hears the apology, the board says it
is temporarily unavailable) instead of queueing behind them.

Commands and background work without a budget are not limited: an export or a
migration may take minutes.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar, Token
from dataclasses import dataclass

from sqlalchemy import Engine, event, exc

# How long the database may answer none of the statements in flight (and no
# transaction may commit) before other requests stop queueing for it. A healthy
# statement takes milliseconds (bench/calls.py, bench/board.py), and a busy database
# answers one after another; but fifty threads of one process take turns at Python's
# lock, and a transaction that holds a row lock the others wait for may wait a few
# hundred milliseconds for its turn to commit (tests/test_races.py).
PATIENCE = 1.0
# How often the watchdog looks for statements past their deadline.
WATCHDOG_TICK = 0.1


class DatabaseUnavailable(Exception):
    """The database did not answer in time, or this request already found it failing."""


@dataclass
class Budget:
    """A request's deadline for the database (time.monotonic()), and whether it failed."""

    ends: float
    failed: bool = False

    def left(self) -> float:
        return self.ends - time.monotonic()


_budget: ContextVar[Budget | None] = ContextVar("database_budget", default=None)


def current_budget() -> Budget | None:
    return _budget.get()


@contextmanager
def budget(seconds: float | None) -> Iterator[Budget | None]:
    """Run the block with a database deadline `seconds` from now (None: no deadline)."""
    token = _budget.set(Budget(time.monotonic() + seconds) if seconds is not None else None)
    try:
        yield _budget.get()
    finally:
        _budget.reset(token)


def start_budget(seconds: float) -> Token:
    """Give the current request its deadline; end_budget(token) when it is answered."""
    return _budget.set(Budget(time.monotonic() + seconds))


def end_budget(token: Token) -> None:
    try:
        _budget.reset(token)
    except ValueError:  # ended in another context than it began (never seen): no deadline
        _budget.set(None)


def database_failed() -> bool:
    """True when the database has already failed this request (don't try it again)."""
    current = _budget.get()
    return current is not None and current.failed


def mark_failed() -> None:
    """Note that the database failed the current request (it is not tried again)."""
    current = _budget.get()
    if current is not None:
        current.failed = True


def is_database_trouble(error: BaseException) -> bool:
    """True for a database that is away, locked or too slow, rather than a bug of ours."""
    away = DatabaseUnavailable | exc.OperationalError | exc.InterfaceError | exc.TimeoutError
    if isinstance(error, away):
        return True
    return isinstance(error, exc.DBAPIError) and error.connection_invalidated


@dataclass
class _InFlight:
    started: float
    ends: float
    dbapi_connection: object
    cut: bool = False


class DatabaseGuard:
    """Deadlines, bounded waiting and the watchdog for one engine (see the module docstring)."""

    def __init__(self, engine: Engine, timeout_seconds: float, max_waiting: int):
        self.postgresql = engine.dialect.name == "postgresql"
        self.timeout_seconds = timeout_seconds
        self.max_waiting = max_waiting
        self._lock = threading.Condition()
        self._in_flight: dict[int, _InFlight] = {}
        self._last_answer = 0.0  # when the database last answered a statement
        self._watchdog_pid = 0
        self._watchdog: threading.Thread | None = None
        event.listen(engine, "do_connect", self._connect)
        event.listen(engine, "do_execute", self._execute)
        event.listen(engine, "do_execute_no_params", self._execute_no_params)
        event.listen(engine, "do_executemany", self._executemany)
        event.listen(engine, "handle_error", self._note_failure)
        event.listen(engine, "commit", self._committing)
        self._closed = threading.Event()

    # -- the engine's events -----------------------------------------------------------

    def _connect(self, dialect, _record, cargs, cparams):
        current = _budget.get()
        if current is None:
            return None  # the default connect, unbounded but for connect_timeout
        left = self._admit(current, None)
        connected = False
        try:
            params = dict(cparams)  # the engine's own stay as they are for the next connect
            if self.postgresql:
                params.update(self._postgresql_parameters(left))
            else:
                params["timeout"] = max(0.0, left)
            connection = dialect.connect(*cargs, **params)
            connected = True
            return connection
        except BaseException as error:
            self._note(current, error, dialect.loaded_dbapi)
            raise
        finally:
            self._leave(connected)

    def _postgresql_parameters(self, left: float) -> dict:
        """libpq's settings for a connection that serves requests.

        statement_timeout and lock_timeout: the server gives up by itself (and frees
        what it holds) even when we no longer listen. Keepalives and tcp_user_timeout:
        the kernel notices a peer that has vanished from the network. connect_timeout
        is whole seconds, at least 2 (libpq's minimum).
        """
        milliseconds = round(self.timeout_seconds * 1000)
        return {
            "connect_timeout": max(2, int(left)),
            "options": f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}",
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
            "tcp_user_timeout": milliseconds,
        }

    def _execute(self, cursor, statement, parameters, context):
        return self._run(context, cursor.execute, statement, parameters)

    def _execute_no_params(self, cursor, statement, context):
        return self._run(context, cursor.execute, statement)

    def _executemany(self, cursor, statement, parameters, context):
        return self._run(context, cursor.executemany, statement, parameters)

    def _run(self, context, execute, *arguments):
        """Run one statement within the request's deadline; None lets SQLAlchemy run it."""
        current = _budget.get()
        if current is None:
            return None
        dbapi_connection = context.root_connection.connection.dbapi_connection
        in_transaction = self._in_transaction(dbapi_connection)
        try:
            left = self._admit(current, dbapi_connection, queue=not in_transaction)
        except DatabaseUnavailable:
            if self.postgresql and in_transaction:
                # The ROLLBACK that follows would go over a network that may be silent.
                # Cut, it fails at once, and the pool replaces the connection.
                self._cut(dbapi_connection)
            raise
        succeeded = False
        try:
            if not self.postgresql:
                self._wait_for_locks(context, dbapi_connection, left)
            execute(*arguments)
            succeeded = True
        except BaseException as error:
            self._note(current, error, context.dialect.loaded_dbapi)
            raise
        finally:
            self._leave(succeeded)
        return True

    @staticmethod
    def _wait_for_locks(context, dbapi_connection, left: float) -> None:
        """SQLite waits for another writer's lock as long as the request has left, at most.

        Set only when it differs by more than a tick from what the connection has:
        most requests take milliseconds and leave it as the next one needs it.
        """
        milliseconds = max(1, int(left * 1000))
        info = context.root_connection.connection.info
        if abs(info.get("busy_timeout", 0) - milliseconds) > 50:
            dbapi_connection.execute(f"PRAGMA busy_timeout = {milliseconds}")
            info["busy_timeout"] = milliseconds

    def _in_transaction(self, dbapi_connection) -> bool:
        if self.postgresql:
            return bool(dbapi_connection.info.transaction_status)  # 0: idle
        return dbapi_connection.in_transaction

    @staticmethod
    def _note(current: Budget, error: BaseException, dbapi) -> None:
        """Remember a database that is away, locked or too slow: no second attempt.

        The driver's OperationalError covers them all (a lost connection, a lock or
        statement timeout, SQLite's "database is locked" and "interrupted"); an
        IntegrityError and the like are answers from a working database.
        """
        if isinstance(error, DatabaseUnavailable | dbapi.OperationalError | dbapi.InterfaceError):
            current.failed = True

    def _committing(self, _connection) -> None:
        # A transaction that gets to its COMMIT releases what others may wait for.
        self._last_answer = time.monotonic()

    def _note_failure(self, context) -> None:
        current = _budget.get()
        if current is not None and context.is_disconnect:
            current.failed = True

    # -- waiting -----------------------------------------------------------------------

    def _admit(self, current: Budget, dbapi_connection, queue: bool = True) -> float:
        """Take a place among the statements waiting on the database; the time left.

        Raises DatabaseUnavailable when the deadline has passed, the database already
        failed this request, or the places are taken and the database has answered
        none of them for PATIENCE. A database that is merely busy (SQLite's writers
        taking turns) answers one statement after another, and the wait goes on.
        `queue` False: a statement inside a transaction goes ahead without a place,
        as the transaction may hold the very lock the others are waiting for.
        """
        if current.failed:
            raise DatabaseUnavailable("the database already failed this request")
        me = threading.get_ident()
        with self._lock:
            while True:
                now = time.monotonic()
                left = current.ends - now
                if left <= 0:
                    current.failed = True
                    raise DatabaseUnavailable("the request's database deadline has passed")
                if not queue or len(self._in_flight) < self.max_waiting:
                    break
                oldest = min(f.started for f in self._in_flight.values())
                patience = max(oldest, self._last_answer) + PATIENCE - now
                if patience <= 0:
                    current.failed = True
                    raise DatabaseUnavailable(
                        f"{len(self._in_flight)} statements wait on the database, unanswered"
                    )
                self._lock.wait(min(patience, left))
            self._in_flight[me] = _InFlight(now, current.ends, dbapi_connection)
        if dbapi_connection is not None:
            self._ensure_watchdog()
        return left

    def _leave(self, answered: bool = False) -> None:
        with self._lock:
            self._in_flight.pop(threading.get_ident(), None)
            if answered:
                self._last_answer = time.monotonic()
            self._lock.notify()

    # -- the watchdog ------------------------------------------------------------------

    def _ensure_watchdog(self) -> None:
        # One per process: gunicorn forks its workers, and a thread does not survive a fork.
        if self._watchdog_pid != os.getpid():
            with self._lock:
                if self._watchdog_pid == os.getpid():
                    return
                self._watchdog_pid = os.getpid()
                self._watchdog = threading.Thread(
                    target=self._watch, name="database-watchdog", daemon=True
                )
            self._watchdog.start()

    def close(self) -> None:
        """Stop the watchdog (an app that is done: the tests make many)."""
        self._closed.set()
        watchdog = self._watchdog
        if watchdog is not None and watchdog.is_alive():
            watchdog.join()

    def _watch(self) -> None:
        while not self._closed.wait(WATCHDOG_TICK):
            now = time.monotonic()
            # Under the lock: a statement that ends meanwhile has left the table, so its
            # connection (back in the pool, perhaps another request's now) is never cut.
            with self._lock:
                for in_flight in self._in_flight.values():
                    if not in_flight.cut and now > in_flight.ends:
                        in_flight.cut = True
                        self._cut(in_flight.dbapi_connection)

    def _cut(self, dbapi_connection) -> None:
        """End a statement that runs past its deadline.

        SQLite: interrupt() stops it. PostgreSQL: shutting the socket down ends
        the driver's wait at once; the statement fails as a lost connection, and
        SQLAlchemy discards the connection. (A cancel request would need a new
        connection to the server, which a silent network does not give.)
        """
        with suppress(Exception):
            if not self.postgresql:
                dbapi_connection.interrupt()
                return
            duplicate = os.dup(dbapi_connection.fileno())
            with socket.socket(fileno=duplicate) as sock:
                sock.shutdown(socket.SHUT_RDWR)
