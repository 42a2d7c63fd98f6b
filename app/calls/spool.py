"""What Twilio tells us while the database is away, kept on disk until it is back.

During an outage the phone line still answers (app/database_guard.py), and
Twilio still reports: a call started, a caller reached a step and heard the
apology, a call ended with its duration. Twilio does not send a status
callback twice because the database was away; dropped, those calls would read
"in progress" in the export for ever, and a call whose first webhook fell in
the outage would have no row at all. So each such fact becomes one small file
in the spool folder, written before the webhook answers, and a thread applies
the files to the call log in order once the database answers again.

Applying is safe to repeat and to reorder: every call log write only moves a
call forward (app/calls/call_log.py), so a file applied twice (a crash between the
write and the unlink) or after a later webhook changes nothing wrong.

The files hold callers' numbers: readable by the app's user alone, and deleted
once applied. Several processes of one server share the folder; a lock file
lets one of them apply at a time. Each app server has its own spool.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

# How long the replaying thread waits before trying a database that is still away:
# doubling from the first to the last.
RETRY_SECONDS = (0.5, 1, 2, 4, 5)
_counter = itertools.count()


class CallSpool:
    """A folder of call log facts waiting for the database, oldest first."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._replayer: threading.Thread | None = None
        self._replayer_pid = 0
        self._lock = threading.Lock()
        self.checked_pid = 0  # the process that last looked for facts left over
        self._stop = threading.Event()

    def keep(self, kind: str, call_sid: str, **fields) -> None:
        """Write one fact durably: once this returns, a crash does not lose it."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fact = {"kind": kind, "call_sid": call_sid, "at": _now(), **fields}
        # The name sorts in the order the facts were kept (nanoseconds, then process
        # and a counter); a reader ignores names that start with a dot (not done yet).
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(_counter):06d}.json"
        draft = self.directory / f".{name}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(fact, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(draft, self.directory / name)
        _sync_folder(self.directory)

    def waiting(self) -> list[Path]:
        """The facts not yet applied, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.glob("*.json") if not p.name.startswith("."))

    def replay(self, apply: Callable[[dict], None]) -> int:
        """Apply every waiting fact in order, deleting each once applied; how many.

        Stops at the first that fails (the database is still away), leaving it and
        the rest for the next try. Another process applying at the moment: 0.
        """
        if not self.directory.is_dir():
            return 0
        with open(self.directory / ".lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0
            applied = 0
            for path in self.waiting():
                try:
                    fact = json.loads(path.read_text())
                except FileNotFoundError:
                    continue
                except ValueError:
                    # Not ours, or cut short by a full disk before the rename could
                    # not happen: set aside for a person to look at, never in the way.
                    path.rename(path.with_suffix(".unreadable"))
                    log.error("Set aside an unreadable call spool file: %s", path)
                    continue
                apply(fact)
                path.unlink()
                applied += 1
            return applied

    def replay_soon(self, apply: Callable[[dict], None]) -> None:
        """Make sure a thread of this process applies the waiting facts once it can."""
        with self._lock:
            if self._stop.is_set():
                return
            if self._replayer is not None and self._replayer_pid == os.getpid():
                return  # running, and it looks for new files before it stops
            self._replayer_pid = os.getpid()
            self._replayer = threading.Thread(
                target=self._replay_until_empty, args=(apply,), name="call-spool", daemon=True
            )
            self._replayer.start()

    def _replay_until_empty(self, apply: Callable[[dict], None]) -> None:
        waits = iter(RETRY_SECONDS)
        while True:
            with self._lock:
                # Under the lock: a fact kept from now on starts a new thread.
                if not self.waiting():
                    self._replayer = None
                    return
            try:
                self.replay(apply)
                waits = iter(RETRY_SECONDS)
                wait = RETRY_SECONDS[0]
            except Exception:
                log.warning("The call spool waits for the database", exc_info=True)
                wait = next(waits, RETRY_SECONDS[-1])
            if self._stop.wait(wait):
                return

    def stop(self) -> None:
        """Stop this process's replaying thread (what is not applied stays on disk)."""
        self._stop.set()
        with self._lock:
            replayer = self._replayer
        if replayer is not None:
            replayer.join()


def _now() -> str:
    return datetime.now().astimezone().isoformat()


def _sync_folder(directory: Path) -> None:
    """Make the rename itself durable (the folder's entry), where the system allows."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
