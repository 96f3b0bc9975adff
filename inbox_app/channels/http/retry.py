"""When to try an HTTP request again, and how long to wait first.

Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): the n-th retry
waits a random time in [0, min(cap, base · 2ⁿ⁻¹)], so many accounts that failed together do not come back
together. A vendor's ``Retry-After`` (seconds or an HTTP date, RFC 9110 §10.2.3) always wins over our own
guess; a wait longer than ``max_wait`` is not slept inside the request at all: the error goes up to the sync
engine, which schedules the account again without holding a coroutine for minutes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "parse_retry_after"]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4  # first try included
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_wait: float = 60.0  # longest Retry-After slept in place; longer ones are raised to the caller
    retry_after_jitter: float = 0.1  # up to +10 % on a vendor's Retry-After

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Wait before retry number ``attempt`` (1 = the first retry), full jitter."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return rng.uniform(0.0, ceiling)

    def honour(self, retry_after: float, rng: random.Random) -> float:
        """The vendor's wait, never shortened, with a little jitter on top."""
        return retry_after + rng.uniform(0.0, retry_after * self.retry_after_jitter)


def parse_retry_after(value: str | None, *, now: Callable[[], datetime] | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value, or None when absent or unreadable.

    Accepts delta-seconds ("120", also "1.5" which some servers send) and HTTP dates
    ("Wed, 21 Oct 2026 07:28:00 GMT"); a date in the past means "now" (0).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
            return None
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())
