"""The query planners' statistics, which let both databases pick the board's indexes.

The board asks for the oldest open requests of some zones. With statistics
SQLite walks the partial index over open requests in date order and stops
after a page's worth; without them it guesses, takes the index by zone and
sorts every open request of those zones first (tests/test_claims.py shows the
plans). So the statistics are gathered after every migration (`hotline db
upgrade`, `hotline setup`) and every night (`hotline db analyze`, from cron),
so that they follow the table as it grows. PostgreSQL's autovacuum gathers its
own as well; one more ANALYZE does no harm there.
"""

from __future__ import annotations

from sqlalchemy import Engine


def analyze(engine: Engine) -> None:
    """Gather fresh statistics on every table for the query planner (ANALYZE).

    Plain ANALYZE, not SQLite's `PRAGMA optimize`: before SQLite 3.46 that
    pragma only considers tables the same connection has queried, so a
    command run from cron would skip them all. ANALYZE reads every index
    once: about 0.1 s for 100,000 requests (bench/board.py's database).
    """
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
