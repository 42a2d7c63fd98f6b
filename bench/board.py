"""Benchmark 2, the board: a million help requests, zone pages and claims.

Seeds `--requests` help requests (10% open, 1% claimed, the rest done or
cancelled, over the past year) over Berlin's zones and `--volunteers`
approved volunteers (1 to 3 zones each, two claims each), once per size and
database: SQLite files and PostgreSQL databases hotline_bench_board_<size> are
kept between runs (`--reseed` makes them again). Then, on each database:

- zone page: GET /requests (the real view, test client, a signed-in volunteer
  with two zones, and an operator who sees all twelve), and the service behind
  it, app.requests.claims.open_requests; target p95 under 50 ms.
- claim: POST /requests/<ref>/claim (view) and claim_request (service), each
  by another volunteer taking the oldest open request in their zones; target
  p95 under 20 ms. Claims made here are undone afterwards.
- baseline: the very SQL statements open_requests sends (captured from it),
  run through the bare database driver; for claims, one bare conditional UPDATE.
- EXPLAIN of those statements, to show which indexes they use.
"""

from __future__ import annotations

import random
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import psycopg
from sqlalchemy import event, select, text

from app import create_app
from app.accounts.users import hash_password
from app.config import DEFAULTS
from app.database import get_db
from app.models import HelpRequest, RequestStatus, User, Zone
from app.requests.claims import claim_request, open_requests, zones_served_by
from app.requests.intake import REFERENCE_ALPHABET
from bench.databases import WORK_DIR, driver_url
from bench.databases import seeded_database as seeded
from bench.report import latency_summary, median, spread, table

PASSWORD = "bench password 0123"
REQUEST_TYPES = ["shopping", "pharmacy", "pets", "chat", "other"]
LANGUAGES = ["de", "de", "de", "en", "pl"]


@dataclass(frozen=True)
class BoardOptions:
    databases: tuple[str, ...] = ("sqlite", "postgresql")
    requests: int = 100_000
    volunteers: int = 5_000
    iterations: int = 100
    claims: int = 50
    reseed: bool = False
    postgresql_server: str = ""
    repeat: int = 1


def run(options: BoardOptions) -> dict:
    figures: dict = {"options": options.__dict__ | {"databases": list(options.databases)}}
    for kind in options.databases:
        url = seeded_database(kind, options)
        runs = []
        for attempt in range(options.repeat):
            print(f"-- board, {kind}, run {attempt + 1} of {options.repeat}", flush=True)
            runs.append(measure(url, options))
        figures[kind] = medians(runs)
    return figures


def medians(runs: list[dict]) -> dict:
    """The figures of repeated runs: each latency the median over the runs, with its spread.

    A p95 of one run on a shared machine says as much about its neighbours as
    about the board; the median of several runs is steadier.
    """
    merged = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, dict) and "p95_ms" in value:
            merged[key] = {
                name: median([run[key][name] for run in runs]) for name in value if name != "count"
            } | {
                "count": sum(run[key]["count"] for run in runs),
                "p95_ms_runs": [run[key]["p95_ms"] for run in runs],
            }
    return merged


# -- seeding ---------------------------------------------------------------------------


def seeded_database(kind: str, options: BoardOptions) -> str:
    """The database of this size, seeded now or by an earlier run (then only migrated)."""
    return seeded(
        kind,
        f"board_{options.requests}_{options.volunteers}",
        options.postgresql_server,
        partial(_seed, options=options),
        options.reseed,
    )


def _seed(url: str, options: BoardOptions) -> None:
    started = time.perf_counter()
    rng = random.Random(7)
    now = datetime.now(UTC).replace(tzinfo=None)
    sqlite = url.startswith("sqlite")
    if sqlite:
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("PRAGMA synchronous=OFF")
        placeholder = "?"
    else:
        conn = psycopg.connect(driver_url(url))
        placeholder = "%s"
    cursor = conn.cursor()
    zones = [row[0] for row in cursor.execute("SELECT id FROM zones ORDER BY id").fetchall()]
    postcodes = cursor.execute("SELECT code, zone_id FROM postcodes").fetchall()
    # At the production cost, as the benchmark's app (built-in defaults) would hash it.
    password_hash = hash_password(PASSWORD, DEFAULTS["password_hash_cost"])

    def stamp(value: datetime):
        # SQLite holds SQLAlchemy's text form of a naive UTC time; PostgreSQL a timestamptz.
        return (
            value.isoformat(sep=" ", timespec="microseconds")
            if sqlite
            else value.replace(tzinfo=UTC)
        )

    users = [
        (
            i,
            f"Volunteer {i}",
            f"volunteer{i}@bench.example",
            f"+49301{i:07d}",
            password_hash,
            "volunteer",
            "approved",
            "",
            stamp(now - timedelta(days=400)),
            stamp(now - timedelta(days=399)),
            0,
        )
        for i in range(1, options.volunteers + 1)
    ]
    users.append(
        (
            options.volunteers + 1,
            "Operator",
            "operator@bench.example",
            "",
            password_hash,
            "operator",
            "approved",
            "",
            stamp(now),
            stamp(now),
            0,
        )
    )
    columns = (
        "id, name, email, phone, password_hash, role, status, language, created_at, "
        "approved_at, session_version"
    )
    _insert(conn, sqlite, "users", columns, users, placeholder)
    # The operator runs every helpline (one here): the board of an operator, not an admin's.
    cursor.execute(
        "INSERT INTO operator_helplines (user_id, helpline_id) "
        f"SELECT {placeholder}, id FROM helplines",
        (options.volunteers + 1,),
    )
    memberships = []
    for i in range(1, options.volunteers + 1):
        for zone in rng.sample(zones, rng.randint(1, 3)):
            memberships.append((i, zone))
    _insert(conn, sqlite, "user_zones", "user_id, zone_id", memberships, placeholder)

    rows = []
    claimers = iter(range(1, options.volunteers + 1))
    claimer, held = next(claimers, None), 0
    for i in range(1, options.requests + 1):
        code, zone = rng.choice(postcodes)
        share = i % 100
        claimed_by = claimed_at = closed_at = None
        if share < 10:
            status = RequestStatus.OPEN
            created = now - timedelta(seconds=rng.randint(60, 14 * 86400))
        elif share == 10 and claimer is not None:
            status = RequestStatus.CLAIMED
            created = now - timedelta(seconds=rng.randint(86400, 3 * 86400))
            claimed_by, claimed_at = claimer, stamp(now - timedelta(seconds=rng.randint(60, 3600)))
            held += 1
            if held == 2:
                claimer, held = next(claimers, None), 0
        else:
            status = RequestStatus.DONE if share < 92 else RequestStatus.CANCELLED
            created = now - timedelta(seconds=rng.randint(86400, 365 * 86400))
            closed_at = stamp(created + timedelta(hours=rng.randint(1, 48)))
        rows.append(
            (
                i,
                _reference(i),
                code,
                zone,
                rng.choice(REQUEST_TYPES),
                rng.choice(LANGUAGES),
                f"+49302{i:08d}",
                f"{rng.randrange(10_000):04d}",
                status.value,
                stamp(created),
                claimed_at,
                closed_at,
                claimed_by,
                f"CAbench{i:026d}",
                "",
                0,
                0,
            )
        )
    columns = (
        "id, reference, postcode, zone_id, request_type, language, caller_number, "
        "verification_code, status, created_at, claimed_at, closed_at, claimed_by_id, "
        "call_sid, outcome_note, unreachable_count, expired_claims"
    )
    _insert(conn, sqlite, "help_requests", columns, rows, placeholder)
    conn.commit()
    # Statistics: SQLite's are gathered as the app gathers them, by the migration
    # that follows every seeding (bench.databases.seeded_database, app/planner_statistics.py);
    # PostgreSQL's as autovacuum would after this bulk load.
    if not sqlite:
        conn.autocommit = True
        conn.execute("SELECT setval('users_id_seq', (SELECT max(id) FROM users))")
        conn.execute("SELECT setval('help_requests_id_seq', (SELECT max(id) FROM help_requests))")
        conn.execute("VACUUM ANALYZE")
    conn.close()
    print(f"   seeded {options.requests} requests in {time.perf_counter() - started:.0f} s")


def _insert(conn, sqlite: bool, table_name: str, columns: str, rows: list, placeholder: str):
    if sqlite:
        marks = ", ".join([placeholder] * len(columns.split(",")))
        conn.executemany(f"INSERT INTO {table_name} ({columns}) VALUES ({marks})", rows)
        return
    with conn.cursor().copy(f"COPY {table_name} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _reference(i: int) -> str:
    """A unique reference per row in the public format ('HX7-K4M')."""
    chars = []
    for _ in range(6):
        i, digit = divmod(i, len(REFERENCE_ALPHABET))
        chars.append(REFERENCE_ALPHABET[digit])
    return "".join(chars[:3]) + "-" + "".join(chars[3:])


# -- measuring -------------------------------------------------------------------------


def _app(url: str, instance: Path = WORK_DIR / "board-instance"):
    return create_app(
        {
            "database_url": url,
            "secret_key": "bench-secret",
            "twilio": {"auth_token": "bench-token", "account_sid": "AC" + "0" * 32},
            "public_base_url": "http://hotline.bench",
        },
        instance_path=str(instance),
    )


def _timed(action, n: int) -> list[float]:
    ms = []
    for _ in range(n):
        started = time.perf_counter()
        action()
        ms.append((time.perf_counter() - started) * 1000)
    return ms


def _sign_in(app, email: str):
    client = app.test_client()
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    if response.status_code != 302:
        raise RuntimeError(f"could not sign in {email}: HTTP {response.status_code}")
    account = client.get("/account").text
    return client, account.split('name="csrf_token" value="')[1].split('"')[0]


def measure(url: str, options: BoardOptions, instance_path: Path | None = None) -> dict:
    kind = "sqlite" if url.startswith("sqlite") else "postgresql"
    app = _app(url, instance_path) if instance_path else _app(url)
    database = get_db(app)
    figures: dict = {}
    try:
        _steady_state(database)
        with app.app_context(), database.session() as session:
            figures["open_requests"] = session.scalar(
                select(text("count(*)"))
                .select_from(HelpRequest)
                .where(HelpRequest.status == RequestStatus.OPEN)
            )
            volunteer = session.scalars(
                select(User).where(User.email == "volunteer2@bench.example")
            ).one()
            if len(volunteer.zones) != 2:
                volunteer = next(
                    u
                    for u in session.scalars(select(User).where(User.role == "volunteer"))
                    if len(u.zones) == 2
                )
            operator = session.scalars(select(User).where(User.role == "operator")).one()
            people = {"volunteer (2 zones)": volunteer, "operator (12 zones)": operator}
            for who, user in people.items():
                zones = zones_served_by(session, user)
                board = partial(open_requests, session, zones)
                statements = _captured(database, board)
                service = _timed(board, options.iterations)
                raw = _timed(partial(_raw, database, statements), options.iterations)
                figures[f"service {who}"] = latency_summary(service)
                figures[f"raw SQL {who}"] = latency_summary(raw)
                figures[f"explain {who}"] = _explain(database, statements)
                figures[f"rows {who}"] = [len(_raw(database, [s])) for s in statements]
                session.rollback()
            emails = {"volunteer (2 zones)": volunteer.email, "operator (12 zones)": operator.email}
        for who, email in emails.items():
            client, _ = _sign_in(app, email)
            check = client.get("/requests")
            if check.status_code != 200:
                raise RuntimeError(f"/requests answered {check.status_code} for {who}")
            page = _timed(partial(client.get, "/requests"), options.iterations)
            figures[f"page {who}"] = latency_summary(page)
        figures.update(_claims(app, options))
    finally:
        database.engine.dispose()
    print(f"   {kind}: {figures['open_requests']} open requests")
    return figures


def _steady_state(database) -> None:
    """Seeded claims are half an hour old whenever the benchmark runs (none expires), and
    PostgreSQL's statistics and visibility map are as autovacuum would leave them after
    the last run's claims were undone."""
    with database.session() as session:
        now = datetime.now(UTC)
        claimed = session.scalars(
            select(HelpRequest.id).where(HelpRequest.status == RequestStatus.CLAIMED)
        ).all()
        for i in range(0, len(claimed), 5000):
            session.execute(
                HelpRequest.__table__.update()
                .where(HelpRequest.id.in_(claimed[i : i + 5000]))
                .values(claimed_at=now - timedelta(minutes=30))
            )
        session.commit()
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE help_requests")


def _captured(database, action) -> list[tuple[str, object]]:
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        action()
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    return statements


def _raw(database, statements) -> list:
    """The statements through the bare driver connection: no ORM, no result processing."""
    rows = []
    connection = database.engine.raw_connection()
    try:
        cursor = connection.cursor()
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            rows = cursor.fetchall()
        connection.rollback()
    finally:
        connection.close()
    return rows


def _explain(database, statements) -> list[list[str]]:
    plans = []
    connection = database.engine.raw_connection()
    try:
        cursor = connection.cursor()
        for statement, parameters in statements:
            if database.engine.dialect.name == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                plans.append([str(row[-1]) for row in cursor.fetchall()])
            else:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + statement, parameters)
                plans.append([row[0] for row in cursor.fetchall()])
        connection.rollback()
    finally:
        connection.close()
    return plans


def _claims(app, options: BoardOptions) -> dict:
    """Claims through the view and the service, each by another volunteer; then undone."""
    database = get_db(app)
    figures: dict = {}
    with app.app_context(), database.session() as session:
        before = session.scalar(text("SELECT coalesce(max(id), 0) FROM audit_events"))
        volunteers = list(
            session.scalars(
                select(User)
                .where(User.role == "volunteer")
                .order_by(User.id)
                .limit(3 * options.claims)
            )
        )
    rng = random.Random(3)
    rng.shuffle(volunteers)
    view_ms, service_ms, raw_ms, claimed = [], [], [], []
    view_people, service_people = (
        volunteers[: options.claims],
        volunteers[options.claims : 2 * options.claims],
    )
    raw_people = volunteers[2 * options.claims :]
    for person in view_people:
        client, token = _sign_in(app, person.email)
        with app.app_context(), database.session() as session:
            reference, request_id = _oldest_open(session, person)
        started = time.perf_counter()
        response = client.post(f"/requests/{reference}/claim", data={"csrf_token": token})
        view_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 302 or f"/requests/{reference}" not in response.location:
            raise RuntimeError(
                f"claim of {reference} answered {response.status_code} {response.location}"
            )
        claimed.append(request_id)
    for person in service_people:
        with app.app_context(), database.session() as session:
            user = session.get(User, person.id)
            reference, request_id = _oldest_open(session, user)
            started = time.perf_counter()
            # With the hourly limit the view applies (its count is part of the UPDATE).
            result = claim_request(session, reference, user, max_open_claims=3, claims_per_hour=10)
            session.commit()  # as the view does
            service_ms.append((time.perf_counter() - started) * 1000)
            if result != "claimed":
                raise RuntimeError(f"claim_request of {reference} gave {result}")
            claimed.append(request_id)
    for person in raw_people:
        with app.app_context(), database.session() as session:
            _, request_id = _oldest_open(session, person)
        connection = database.engine.raw_connection()
        try:
            cursor = connection.cursor()
            mark = "?" if database.engine.dialect.name == "sqlite" else "%s"
            started = time.perf_counter()
            cursor.execute(
                f"UPDATE help_requests SET status = 'claimed', claimed_by_id = {mark}, "
                f"claimed_at = {mark} WHERE id = {mark} AND status = 'open'",
                (person.id, datetime.now(UTC).replace(tzinfo=None), request_id),
            )
            connection.commit()
            raw_ms.append((time.perf_counter() - started) * 1000)
            if cursor.rowcount != 1:
                raise RuntimeError("the raw claim found the request taken")
        finally:
            connection.close()
        claimed.append(request_id)
    figures["claim view"] = latency_summary(view_ms)
    figures["claim service"] = latency_summary(service_ms)
    figures["claim raw SQL"] = latency_summary(raw_ms)
    with database.session() as session:
        # Undo: the cached database stays as seeded for the next run.
        session.execute(
            HelpRequest.__table__.update()
            .where(HelpRequest.id.in_(claimed))
            .values(status=RequestStatus.OPEN.value, claimed_by_id=None, claimed_at=None)
        )
        session.execute(text("DELETE FROM audit_events WHERE id > :before"), {"before": before})
        session.commit()
    figures["claims_undone"] = len(claimed)
    return figures


def _oldest_open(session, person) -> tuple[str, int]:
    """What the volunteer sees at the top of the board: the oldest open request in their zones."""
    user = session.get(User, person.id)
    zone_ids = [z.id for z in user.zones]
    row = session.execute(
        select(HelpRequest.reference, HelpRequest.id)
        .where(HelpRequest.status == RequestStatus.OPEN, HelpRequest.zone_id.in_(zone_ids))
        .order_by(HelpRequest.created_at, HelpRequest.id)
        .limit(1)
    ).one()
    return row.reference, row.id


def print_summary(figures: dict) -> None:
    rows = []
    for kind in figures["options"]["databases"]:
        f = figures[kind]
        for who in ("volunteer (2 zones)", "operator (12 zones)"):
            raw = f[f"raw SQL {who}"]["p95_ms"]
            for measure_ in ("page", "service", "raw SQL"):
                p95 = f[f"{measure_} {who}"]["p95_ms"]
                rows.append(
                    [
                        kind,
                        f"zone {measure_}, {who}",
                        f[f"{measure_} {who}"]["p50_ms"],
                        p95,
                        spread(f[f"{measure_} {who}"].get("p95_ms_runs", [p95])),
                        round(p95 / raw, 2),
                        "" if measure_ == "raw SQL" else ("yes" if p95 < 50 else "NO"),
                    ]
                )
        raw = f["claim raw SQL"]["p95_ms"]
        for measure_ in ("view", "service", "raw SQL"):
            p95 = f[f"claim {measure_}"]["p95_ms"]
            rows.append(
                [
                    kind,
                    f"claim {measure_}",
                    f[f"claim {measure_}"]["p50_ms"],
                    p95,
                    spread(f[f"claim {measure_}"].get("p95_ms_runs", [p95])),
                    round(p95 / raw, 2),
                    "" if measure_ == "raw SQL" else ("yes" if p95 < 20 else "NO"),
                ]
            )
    options = figures["options"]
    print(
        table(
            f"Board: {options['requests']} requests, {options['volunteers']} volunteers",
            ["db", "what", "p50 ms", "p95 ms", "p95 of each run", "x raw SQL", "target"],
            rows,
        )
    )


def targets_met(figures: dict) -> bool:
    ok = True
    for kind in figures["options"]["databases"]:
        f = figures[kind]
        for key, value in f.items():
            if key.startswith(("page ", "service ")):
                ok &= value["p95_ms"] < 50
            if key in ("claim view", "claim service"):
                ok &= value["p95_ms"] < 20
    return ok


__all__ = ["BoardOptions", "Zone", "print_summary", "run", "targets_met"]
