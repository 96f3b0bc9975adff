"""A client-side token bucket, so one account never bursts past the vendor's call limits.

eBay publishes per-day quotas per application (developer.ebay.com "API call limits"; the refresh-token grant
allows 50,000 token requests a day) and answers 429 when they are exceeded. The connector paces itself at
``rate`` calls per second with bursts of ``burst``: 4/s sustained means a first sync of 2,000 conversations
(about 2,050 calls) takes ≥ 8.5 minutes of pacing at worst but never floods eBay; an incremental sync (a few
dozen calls) fits in the burst.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self.waited = 0.0  # total seconds spent waiting (benchmarks report it)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        """Wait until one call may be made, then take it."""
        while True:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            wait = (1.0 - self._tokens) / self.rate
            self.waited += wait
            await self._sleep(wait)
