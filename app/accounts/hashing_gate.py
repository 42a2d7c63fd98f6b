"""A bound on how many password checks one app process runs at once.

Every sign-in (and sign-up) costs a scrypt hash: about 0.1 s of a core and
32 MiB at the production cost. A flood of them used to take every thread of
every worker, and the phone line's webhooks, served by the same workers,
queued behind them for seconds (issue 13). So at most `slots` checks run at
once per process, at most as many again wait for their turn, briefly; anyone
else is told at once to try again in a moment. A flood then slows sign-ins,
while the other threads stay free for callers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class HashingBusy(Exception):
    """No password check could start in time: the person should try again in a moment."""


class HashingGate:
    """At most `slots` password checks at once; `slots` = 0 means no bound."""

    def __init__(self, slots: int, wait_seconds: float):
        self.slots = slots
        self.wait_seconds = wait_seconds
        self._turns = threading.BoundedSemaphore(slots) if slots else None
        self._lock = threading.Lock()
        self._inside = 0  # checking or waiting

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Run the block as one of the bounded checks, or raise HashingBusy."""
        if self._turns is None:
            yield
            return
        with self._lock:
            # A thread that waits is a thread no webhook can use: only as many
            # wait as may check, the rest are answered at once.
            if self._inside >= 2 * self.slots:
                raise HashingBusy
            self._inside += 1
        try:
            if not self._turns.acquire(timeout=self.wait_seconds):
                raise HashingBusy
            try:
                yield
            finally:
                self._turns.release()
        finally:
            with self._lock:
                self._inside -= 1
