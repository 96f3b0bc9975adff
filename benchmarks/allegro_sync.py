"""Allegro channel: a first listing of N threads × M messages, then an incremental one with K changed.

The sandbox runs in its own process (``python -m tests.servers.allegro``) so it does not share the GIL with
the client being measured. Only the channel is measured (no store). Prints time, requests (API + sign-in),
and how close the run came to Allegro's limit of 9000 requests a minute.

    python -m benchmarks.allegro_sync --threads 2000 --messages 5 --changed 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time

from inbox_app.channels.allegro import AllegroChannel, AllegroSettings, MemoryTokenStore
from inbox_app.channels.allegro.connector import RATE_PER_MINUTE


async def listing(channel: AllegroChannel, cursor: str | None) -> tuple[str, int, int]:
    threads = messages = 0
    last = ""
    async for batch in channel.list_threads(cursor):
        threads += len(batch.threads)
        messages += sum(len(t.messages) for t in batch.threads)
        last = batch.cursor
    return last, threads, messages


async def measure(
    settings: AllegroSettings, store: MemoryTokenStore, cursor: str | None
) -> dict[str, object]:
    async with AllegroChannel(settings, store) as channel:
        started = time.perf_counter()
        before = channel.requests_sent
        new_cursor, threads, messages = await listing(channel, cursor)
        elapsed = time.perf_counter() - started
        requests = channel.requests_sent - before
        per_minute = requests / elapsed * 60 if elapsed else 0.0
        return {
            "cursor": new_cursor,
            "threads": threads,
            "messages": messages,
            "seconds": round(elapsed, 2),
            "requests": requests,
            "peak_in_any_minute": channel.budget.peak,
            "rate_per_minute": round(per_minute),
            "share_of_limit": round(min(channel.budget.peak, per_minute) / RATE_PER_MINUTE, 3),
            "budget_waited_s": round(channel.budget.waited, 2),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--changed", type=int, default=20)
    args = parser.parse_args()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.servers.allegro",
            "--threads",
            str(args.threads),
            "--messages",
            str(args.messages),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        info = json.loads(server.stdout.readline())
        settings = AllegroSettings(
            info["client_id"], info["client_secret"], base_url=info["base_url"], auth_url=info["base_url"]
        )
        store = MemoryTokenStore(refresh_token=info["refresh_token"])
        first = asyncio.run(measure(settings, store, None))
        server.stdin.write(f"touch {args.changed}\n")
        server.stdin.flush()
        server.stdout.readline()
        second = asyncio.run(measure(settings, store, str(first["cursor"])))
        for name, result in (("first", first), ("incremental", second)):
            shown = {k: v for k, v in result.items() if k != "cursor"}
            print(json.dumps({"run": name, **shown}))
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
