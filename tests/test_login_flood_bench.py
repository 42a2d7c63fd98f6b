"""The login flood benchmark's harness works, at a tiny size (timing lives in bench/).

It checks what the benchmark counts: every flooding sign-in gets an answer that is
counted, and the probe's webhooks are real, signed calls that the server answers.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from app.models import Call
from bench import login_flood
from bench.servers import ServerSettings, gunicorn, hotline_environment


def test_the_flood_is_answered_and_counted_and_the_probe_reaches_the_phone_line(
    database_url, berlin, tmp_path
):
    environment = hotline_environment(tmp_path / "server", database_url)
    config = Path(environment["HOTLINE_CONFIG"])
    config.write_text("trusted_proxies = 1\n" + config.read_text())
    options = login_flood.FloodOptions(logins=4, quiet=0.5, duration=1.5, probe_interval=0.1)
    with gunicorn(
        "app:create_app()", ServerSettings(workers=2), tmp_path / "server", environment
    ) as server:
        figures = login_flood.measure(server.url, options)

    logins = figures["logins"]
    assert logins["answered"] == sum(logins["statuses"].values()) > 0
    # Made-up accounts from made-up addresses: refused, or asked to come back.
    assert set(logins["statuses"]) <= {"422", "503"}
    for phase in ("webhook_quiet", "webhook_flood"):
        assert figures[phase]["errors"] == 0 and figures[phase]["requests"] > 0
    berlin.expire_all()
    probes = figures["webhook_quiet"]["requests"] + figures["webhook_flood"]["requests"]
    # One call per probe (and the warm-up's), each in the call log.
    assert berlin.scalar(select(func.count()).select_from(Call)) >= probes
