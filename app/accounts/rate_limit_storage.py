"""A storage for the `limits` library on the app's own database (table rate_limit_counters).

`limits` (the core of Flask-Limiter) keeps its counters in memory, Redis,
Memcached or MongoDB; none of those is on every deployment of the helpline,
but its database is, and several app servers share it. This storage does
fixed windows (FixedWindowRateLimiter), which need only a counter that
expires: one row per key, changed by single statements, so that attempts on
several servers at the same moment all count. Each statement commits at once
on a connection of its own, outside the request's transaction: a count must
stay counted when the page that made it fails, and must not hold a row lock
while a password is checked.
"""

from __future__ import annotations

import random
from datetime import timedelta

from limits.storage import Storage
from sqlalchemy import case, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from app.database import Database, utcnow
from app.models import RateLimitCounter

# One write in this many also deletes the counters whose windows are over, so
# that the table holds about the live windows only (each attempt with a new
# address or a made-up e-mail makes a row).
SWEEP_ONE_IN = 200


class DatabaseStorage(Storage):
    """limits' Storage on the app's database: counters with an expiry (fixed windows only)."""

    STORAGE_SCHEME = None  # made with the app's database, never from a URL

    def __init__(self, database: Database):
        super().__init__()
        self.database = database

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to `key`; a new or expired counter starts a window of `expiry` s."""
        now = utcnow()
        table = RateLimitCounter.__table__
        insert = (
            postgresql.insert(table)
            if self.database.engine.dialect.name == "postgresql"
            else sqlite.insert(table)
        )
        expired = table.c.expires_at <= now
        # Typed as the column, so that the UTC timestamp is stored as every other one is.
        window_ends = literal(now + timedelta(seconds=expiry), table.c.expires_at.type)
        # One statement: an expired window starts again, a live one counts on.
        statement = (
            insert.values(key=key, count=amount, expires_at=window_ends)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "count": case((expired, amount), else_=table.c.count + amount),
                    "expires_at": case((expired, window_ends), else_=table.c.expires_at),
                },
            )
            .returning(table.c.count)
        )
        with self.database.connect() as connection:
            count = connection.execute(statement).scalar_one()
            if random.randrange(SWEEP_ONE_IN) == 0:
                connection.execute(delete(table).where(table.c.expires_at <= now))
            connection.commit()
        return count

    def get(self, key: str) -> int:
        """The count of `key`'s live window (0 when there is none)."""
        table = RateLimitCounter.__table__
        with self.database.connect() as connection:
            count = connection.execute(
                select(table.c.count).where(table.c.key == key, table.c.expires_at > utcnow())
            ).scalar()
        return count or 0

    def get_expiry(self, key: str) -> float:
        """When `key`'s window ends, as a Unix time (now when there is none)."""
        table = RateLimitCounter.__table__
        now = utcnow()
        with self.database.connect() as connection:
            ends = connection.execute(
                select(table.c.expires_at).where(table.c.key == key, table.c.expires_at > now)
            ).scalar()
        return (ends or now).timestamp()

    def check(self) -> bool:
        """The database answers."""
        try:
            with self.database.connect() as connection:
                connection.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every counter; how many there were."""
        table = RateLimitCounter.__table__
        with self.database.connect() as connection:
            removed = connection.execute(delete(table)).rowcount
            connection.commit()
        return removed

    def clear(self, key: str) -> None:
        """Forget the counter of `key`."""
        table = RateLimitCounter.__table__
        with self.database.connect() as connection:
            connection.execute(delete(table).where(table.c.key == key))
            connection.commit()
