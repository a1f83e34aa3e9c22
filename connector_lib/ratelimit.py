"""A request-rate limit shared by the threads of one Spark task.

Spark tasks run in separate Python workers, so a global limit of R requests per second is split evenly
over the partitions of a micro-batch (each gets R / partitions). That is conservative: partitions that
run one after another never use their neighbours' share, but the PI server is never asked for more than R.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Spaces calls at least ``1 / rate`` seconds apart; ``rate <= 0`` means no limit."""

    def __init__(
        self, rate: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ):
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)
