"""The board's counts of open requests per zone, remembered for half a minute when large.

Counting is the dearest part of a board: with 100,000 open requests it reads
every one of them on each load, and every open board loads itself again
every 30 seconds. A backlog that large changes by a few requests a minute
and nobody acts on its last digit, so its counts are remembered for
REMEMBER_SECONDS, in each app process, and the board says when they were
counted. Smaller counts (under REMEMBER_FROM in all) cost well under a
millisecond and are counted on every load: on a board of a few dozen
requests a volunteer sees their claim leave the count at once. The list of
requests itself is never remembered, so a claimed request leaves it at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from app.database import utcnow

# The board's own refresh interval (board/static/board.js): an operator
# watching it sees counts at most one refresh old.
REMEMBER_SECONDS = 30.0
# Counts below this many open requests in all are always exact.
REMEMBER_FROM = 1000
# Every combination of zones and filters is counted on its own; filters are
# typed by people, so the memory is bounded.
MAX_REMEMBERED = 256


@dataclass(frozen=True)
class ZoneCounts:
    by_zone: dict[int, int]
    counted_at: datetime | None  # when remembered counts were counted; None: exact, just now


class RememberedCounts:
    """Counts remembered per key (zones and filters) for `seconds`; one per app, thread-safe."""

    def __init__(
        self,
        seconds: float = REMEMBER_SECONDS,
        remember_from: int = REMEMBER_FROM,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.seconds = seconds
        self.remember_from = remember_from
        self.clock = clock
        self._lock = threading.Lock()
        self._counts: dict[Hashable, tuple[float, ZoneCounts]] = {}

    def get(self, key: Hashable, count: Callable[[], dict[int, int]]) -> ZoneCounts:
        """The counts remembered for `key`, or `count()` now (remembered if large)."""
        now = self.clock()
        with self._lock:
            remembered = self._counts.get(key)
        if remembered and now - remembered[0] < self.seconds:
            return remembered[1]
        by_zone = count()
        if sum(by_zone.values()) < self.remember_from:
            with self._lock:
                self._counts.pop(key, None)
            return ZoneCounts(by_zone, None)
        counts = ZoneCounts(by_zone, utcnow())
        with self._lock:
            self._counts.pop(key, None)  # re-inserted last: the dict stays oldest first
            self._counts[key] = (now, counts)
            self._forget_old(now)
        return counts

    def _forget_old(self, now: float) -> None:
        for key in [k for k, (at, _) in self._counts.items() if now - at >= self.seconds]:
            del self._counts[key]
        while len(self._counts) > MAX_REMEMBERED:
            del self._counts[next(iter(self._counts))]
