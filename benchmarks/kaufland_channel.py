"""Requests and time for the Kaufland channel alone: a first listing of N tickets × M messages and an
incremental listing after K tickets changed, against the Kaufland sandbox running in a separate process (so it
does not share the GIL with the client it measures). Every request is signed and checked by the sandbox.

Both message sources are measured: ``embedded`` (one ``GET /tickets/{id}?embedded=…`` per changed ticket,
gives the order id) and ``bulk`` (``GET /tickets/messages``, 100 messages a page, no order id).

    python benchmarks/kaufland_channel.py [--tickets 2000] [--messages 5] [--changed 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inbox_app.channels.kaufland import KauflandChannel, KauflandSettings  # noqa: E402


async def listing(settings: KauflandSettings, cursor: str | None) -> tuple[int, int, float, str]:
    started = time.perf_counter()
    async with KauflandChannel(settings) as channel:
        assert isinstance(channel, KauflandChannel)
        threads = 0
        last = cursor or ""
        async for batch in channel.list_threads(cursor):
            threads += len(batch.threads)
            last = batch.cursor
        return threads, channel.requests_sent, time.perf_counter() - started, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--changed", type=int, default=20)
    args = parser.parse_args()
    for source in ("embedded", "bulk"):
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.servers.kaufland",
                "--tickets",
                str(args.tickets),
                "--messages",
                str(args.messages),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None and server.stdin is not None
            info = json.loads(server.stdout.readline())
            settings = KauflandSettings(
                info["client_key"],
                info["secret_key"],
                base_url=info["base_url"],
                message_source=source,  # type: ignore[arg-type]
            )
            threads, requests, seconds, cursor = asyncio.run(listing(settings, None))
            print(
                f"{source}: first listing {threads} tickets, {requests} requests, {seconds:.2f} s, "
                f"{requests / seconds:.0f} req/s (Kaufland allows 111 per seller)"
            )
            server.stdin.write(f"touch {args.changed}\n")
            server.stdin.flush()
            server.stdout.readline()
            threads, requests, seconds, _ = asyncio.run(listing(settings, cursor))
            print(
                f"{source}: incremental {threads} tickets, {requests} requests, {seconds:.2f} s, "
                f"{requests / seconds:.0f} req/s"
            )
        finally:
            if server.stdin is not None:
                server.stdin.close()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
