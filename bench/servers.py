"""gunicorn, run as the README's production section runs it, for the calls benchmark."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

BENCH_AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
BENCH_PUBLIC_URL = "https://hotline.bench.example"


@dataclass(frozen=True)
class ServerSettings:
    """gunicorn's settings: the same for the hotline and the baseline of one run."""

    workers: int = 4
    threads: int = 4  # as in the README; more than 1: gunicorn's gthread worker class
    backlog: int = 2048

    def arguments(self) -> list[str]:
        args = ["--workers", str(self.workers), "--backlog", str(self.backlog)]
        if self.threads > 1:
            args += ["--worker-class", "gthread", "--threads", str(self.threads)]
        return args

    def describe(self) -> str:
        kind = f"gthread x{self.threads}" if self.threads > 1 else "sync"
        return f"gunicorn {self.workers} workers ({kind})"


class Server:
    """A running gunicorn: its URL, and the CPU time its workers have used."""

    def __init__(self, process: subprocess.Popen, url: str):
        self.process = process
        self.url = url

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and every live worker, in seconds."""
        pids = [self.process.pid, *_children(self.process.pid)]
        return sum(_cpu_of(pid) for pid in pids)


@contextmanager
def gunicorn(app_spec: str, settings: ServerSettings, directory: Path, env: dict[str, str]):
    """Start `gunicorn app_spec` in `directory`; yields a Server once it answers."""
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        *settings.arguments(),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--timeout",
        "60",
        app_spec,
    ]
    environment = {**os.environ, "PYTHONPATH": str(REPO), **env}
    log = (directory / "gunicorn.log").open("ab")
    process = subprocess.Popen(
        command, cwd=directory, env=environment, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        _wait_for_workers(process, port, settings.workers, directory / "gunicorn.log")
        yield Server(process, f"http://127.0.0.1:{port}")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def hotline_environment(directory: Path, database_url: str) -> dict:
    """The environment and config file of a production-like hotline server."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.toml"
    config.write_text(
        f'public_base_url = "{BENCH_PUBLIC_URL}"\n[twilio]\naccount_sid = "AC{"0" * 32}"\n'
    )
    return {
        "HOTLINE_CONFIG": str(config),
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_SECRET_KEY": "bench-secret-key",
        "TWILIO_AUTH_TOKEN": BENCH_AUTH_TOKEN,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_workers(process: subprocess.Popen, port: int, workers: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}); see {log}")
        if len(_children(process.pid)) >= workers and _answers(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not start within 60 s; see {log}")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of stat; [0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
