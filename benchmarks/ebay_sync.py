"""eBay channel benchmark: first sync of N conversations × M messages, then an incremental sync with K changed.

The sandbox runs in a separate process (``python -m tests.servers.ebay``) so it does not share the GIL with
the channel being measured. Channel only: no store, no sync engine. Prints time, requests (as counted by the
channel and by the server) and the time the client-side rate limiter made the channel wait.

Usage: python benchmarks/ebay_sync.py [--conversations 2000] [--messages 5] [--changed 20]
       [--rate 4] [--burst 8]   (the connector's defaults; --rate 0 disables pacing to see raw speed)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from inbox_app.channels.ebay import EbayChannel, EbaySettings, MemoryTokenStore


async def sync(channel: EbayChannel, cursor: str | None) -> tuple[str, int, int]:
    threads = messages = 0
    async for batch in channel.list_threads(cursor):
        threads += len(batch.threads)
        messages += sum(len(t.messages) for t in batch.threads)
        cursor = batch.cursor
    assert cursor is not None
    return cursor, threads, messages


def ask(proc: subprocess.Popen[str], line: str) -> dict[str, int]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return dict(json.loads(proc.stdout.readline()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--changed", type=int, default=20)
    parser.add_argument("--rate", type=float, default=4.0)
    parser.add_argument("--burst", type=int, default=8)
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.servers.ebay",
            "--conversations",
            str(args.conversations),
            "--messages",
            str(args.messages),
        ],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        rate = args.rate if args.rate > 0 else 1e9
        settings = EbaySettings(
            info["seller"],
            info["client_id"],
            info["client_secret"],
            base_url=info["base_url"],
            rate_per_second=rate,
            burst=args.burst,
        )
        tokens = MemoryTokenStore(info["refresh_token"])

        async def run() -> None:
            async with EbayChannel(settings, tokens) as channel:
                started = time.perf_counter()
                cursor, threads, messages = await sync(channel, None)
                first = time.perf_counter() - started
                first_requests = channel.requests_sent
                first_wait = channel.bucket.waited
                server_first = ask(proc, "count")["requests"]
                print(
                    f"first sync: {threads} conversations, {messages} messages in {first:.1f} s; "
                    f"{first_requests} requests (server saw {server_first}); "
                    f"rate limiter waited {first_wait:.1f} s; {first_requests / first:.1f} req/s"
                )
                ask(proc, f"touch {args.changed}")
                await asyncio.sleep(0)
                started = time.perf_counter()
                _cursor, threads, messages = await sync(channel, cursor)
                second = time.perf_counter() - started
                requests = channel.requests_sent - first_requests
                server_second = ask(proc, "count")["requests"] - server_first
                print(
                    f"incremental sync: {threads} conversations, {messages} messages in {second:.2f} s; "
                    f"{requests} requests (server saw {server_second}); "
                    f"rate limiter waited {channel.bucket.waited - first_wait:.2f} s"
                )

        asyncio.run(run())
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
