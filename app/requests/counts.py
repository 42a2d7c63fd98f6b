"""The board's counts of open requests per zone, remembered for half a minute when large.

Counting is the dearest part of a board: with 100,000 open requests it reads
every one of them on each load, and every open board loads itself again
every 30 seconds. A backlog that large changes by a few requests a minute
and nobody acts on its last digit, so its counts are remembered for
REMEMBER_SECONDS, in each app process, for every zone at once (one count
serves every board with the same filters, whoever looks), and the board says
when they were counted. A board whose own counts are small (under
REMEMBER_FROM in all) is counted on every load, which costs well under a
millisecond: there a volunteer sees their claim leave the count at once.
The list of requests itself is never remembered, so a claimed request
leaves it at once.
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
# Every combination of filters is counted on its own; filters are typed
# by people, so the memory is bounded.
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

    def for_zones(
        self,
        zone_ids: list[int],
        key: Hashable,
        count_every_zone: Callable[[], dict[int, int]],
        count_these_zones: Callable[[], dict[int, int]],
    ) -> ZoneCounts:
        """The counts of `zone_ids`, taken from the remembered counts of every zone if large.

        Remembered for every zone rather than for each person's zones: people
        serve many different sets of zones, and one count then serves the
        boards of all of them. A board whose own zones hold fewer than
        `remember_from` requests is counted now, exact (that is cheap).
        """
        every = self.get(key, count_every_zone)
        wanted = set(zone_ids)
        mine = {zone: n for zone, n in every.by_zone.items() if zone in wanted}
        if every.counted_at is None:  # counted just now
            return ZoneCounts(mine, None)
        if sum(mine.values()) >= self.remember_from:
            return ZoneCounts(mine, every.counted_at)
        return ZoneCounts(count_these_zones(), None)

    def _forget_old(self, now: float) -> None:
        for key in [k for k, (at, _) in self._counts.items() if now - at >= self.seconds]:
            del self._counts[key]
        while len(self._counts) > MAX_REMEMBERED:
            del self._counts[next(iter(self._counts))]
