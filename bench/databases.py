"""The benchmarks' own databases: SQLite files under bench/results/, PostgreSQL
databases named hotline_bench_*, created for a run and dropped after it (the
board's seeded databases are kept, to make reruns quick)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from app import migrations_runner
from app.database import Database
from app.zones.profiles import import_profile, profile_path, read_profile
from bench.report import RESULTS_DIR

DEFAULT_POSTGRESQL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
WORK_DIR = RESULTS_DIR / "work"


def _admin_conninfo(server_url: str) -> str:
    url = make_url(server_url).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


def postgresql_url(server_url: str, name: str) -> str:
    if not name.startswith("hotline_bench_"):
        raise ValueError(f"benchmark databases are named hotline_bench_*, not {name}")
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def postgresql_exists(server_url: str, name: str) -> bool:
    with psycopg.connect(_admin_conninfo(server_url), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()


def create_postgresql(server_url: str, name: str) -> str:
    """A new, empty database `name` (dropped first if a previous run left it)."""
    drop_postgresql(server_url, name)
    with psycopg.connect(_admin_conninfo(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgresql_url(server_url, name)


def drop_postgresql(server_url: str, name: str) -> None:
    postgresql_url(server_url, name)  # checks the name: never drop anything else
    with psycopg.connect(_admin_conninfo(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def prepare_schema(url: str) -> None:
    """Migrate and import the Berlin zones, as `hotline setup` would."""
    migrations_runner.upgrade(url)
    database = Database(url)
    try:
        with database.session() as session:
            import_profile(session, read_profile(profile_path("berlin")))
            session.commit()
    finally:
        database.engine.dispose()


@contextmanager
def fresh_database(kind: str, name: str, postgresql_server: str):
    """A migrated database with Berlin's zones for one run; removed afterwards."""
    if kind == "sqlite":
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        path = WORK_DIR / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = sqlite_url(path)
        prepare_schema(url)
        try:
            yield url
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    url = create_postgresql(postgresql_server, name)
    try:
        prepare_schema(url)
        yield url
    finally:
        drop_postgresql(postgresql_server, name)


def driver_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg and psql take it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def seeded_database(kind: str, name: str, postgresql_server: str, seed, reseed: bool) -> str:
    """A database seeded once by `seed(url)` and kept for the next runs; always migrated.

    SQLite: bench/results/<name>.db, seeded when its .seeded marker is missing.
    PostgreSQL: hotline_bench_<name>, seeded when its bench_seeded table is missing.
    """
    if kind == "sqlite":
        path = RESULTS_DIR / f"{name.replace('_', '-')}.db"
        marker = Path(f"{path}.seeded")
        url = sqlite_url(path)
        if reseed or not marker.exists():
            marker.unlink(missing_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            prepare_schema(url)
            seed(url)
            marker.touch()
    else:
        db_name = f"hotline_bench_{name}"
        url = postgresql_url(postgresql_server, db_name)
        if reseed or not _postgresql_seeded(postgresql_server, db_name):
            create_postgresql(postgresql_server, db_name)
            prepare_schema(url)
            seed(url)
            with psycopg.connect(driver_url(url), autocommit=True) as conn:
                conn.execute("CREATE TABLE bench_seeded (at timestamptz DEFAULT now())")
    # Cached databases follow the schema: new indexes or columns arrive here.
    migrations_runner.upgrade(url)
    return url


def _postgresql_seeded(server: str, name: str) -> bool:
    if not postgresql_exists(server, name):
        return False
    with psycopg.connect(driver_url(postgresql_url(server, name))) as conn:
        return bool(conn.execute("SELECT to_regclass('bench_seeded')").fetchone()[0])
