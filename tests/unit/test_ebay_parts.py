"""Unit tests of the eBay connector's pure parts: the token bucket, the cursor, pasted codes, thread ids."""

from __future__ import annotations

import asyncio

import pytest

from inbox_app.channels.base import RemoteThread
from inbox_app.channels.ebay import TokenBucket
from inbox_app.channels.ebay.auth import parse_pasted_code
from inbox_app.channels.ebay.connector import _Cursor, listing_id, split_thread_id


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_token_bucket_allows_a_burst_then_paces_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(4.0, 8, clock=clock, sleep=clock.sleep)

    async def take(n: int) -> None:
        for _ in range(n):
            await bucket.acquire()

    asyncio.run(take(8))
    assert clock.sleeps == []
    asyncio.run(take(4))
    assert clock.now == pytest.approx(1.0)  # 4 more calls at 4/s
    clock.now += 10.0  # idle: the bucket refills up to the burst, not beyond
    clock.sleeps.clear()
    asyncio.run(take(8))
    assert clock.sleeps == []
    asyncio.run(take(1))
    assert clock.sleeps == [pytest.approx(0.25)]


def test_token_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0, 1)


def test_cursor_round_trip_and_a_damaged_cursor_lists_everything() -> None:
    cursor = _Cursor.decode('{"v":1,"type":"FROM_EBAY","offset":50,"since":"2026-11-01T10:00:00+00:00"}')
    assert cursor.kind == "FROM_EBAY" and cursor.offset == 50 and cursor.since is not None
    assert _Cursor.decode(cursor.encode()) == cursor
    assert _Cursor.decode("{not json") == _Cursor()
    assert _Cursor.decode('{"v":1,"type":"OTHER"}') == _Cursor()


@pytest.mark.parametrize(
    ("pasted", "code"),
    [
        ("v%5E1.1%23i%5E1%23abc", "v^1.1#i^1#abc"),
        ("v^1.1#i^1#abc", "v^1.1#i^1#abc"),
        ("https://signin.ebay.com/ws/accepted?state=x&code=v%5E1.1%23abc&expires_in=299", "v^1.1#abc"),
    ],
)
def test_pasted_codes_are_understood(pasted: str, code: str) -> None:
    assert parse_pasted_code(f"  {pasted}\n") == code


@pytest.mark.parametrize("pasted", ["", "https://signin.ebay.com/ws/accepted?state=x"])
def test_nothing_usable_pasted_is_explained(pasted: str) -> None:
    with pytest.raises(ValueError):
        parse_pasted_code(pasted)


def test_thread_ids_and_listing_id() -> None:
    assert split_thread_id("12345") == ("12345", "FROM_MEMBERS")
    assert split_thread_id("FROM_EBAY:999") == ("999", "FROM_EBAY")
    thread = RemoteThread(
        "1", "s", None, None, (), True, raw='{"referenceId":"2045","referenceType":"LISTING"}'
    )
    assert listing_id(thread) == "2045"
    other = RemoteThread("1", "s", None, None, (), True, raw='{"referenceId":"77","referenceType":"ORDER"}')
    assert listing_id(other) is None
