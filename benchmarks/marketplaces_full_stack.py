"""Every marketplace through the app's own sync (cursor loop, store, keyring tokens): first sync and incremental.

For each of eBay, Kaufland, Allegro and Mirakl: the vendor's sandbox runs in its own process (``python -m
tests.servers.<vendor> …``) so it does not share the GIL with the app; a fresh profile gets one account through
``services.marketplace_accounts`` (secrets in a temporary plain-file keyring), then ``ChannelAccountSync`` —
what ``inbox-app sync --once`` and the window run per account — does a first sync of N conversations × M
messages, the sandbox adds a buyer message to K of them, and a second round measures the incremental sync.

Prints per marketplace: time, HTTP requests (counted by the channel: API calls, retries and token requests),
the stored counts, the average request rate and how close it ran to the vendor's limit (eBay: the connector's
own pacing of 4 calls/s — eBay publishes per-day quotas; Kaufland: 111 requests/s per seller; Allegro: 9,000
requests/min per client, its sliding-window peak; Mirakl: none documented).

Run: ``.venv/bin/python benchmarks/marketplaces_full_stack.py [--conversations 2000] [--messages 5]
[--changed 20] [--ebay-conversations 300] [--only ebay,kaufland,allegro,mirakl]``. eBay's pacing makes a first
sync of 2,000 conversations last ≈ 9 minutes, so it runs with a smaller count by default (say so in reports).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: vendor → (sandbox module, its count option, limit in requests/s or None, how the limit is described)
VENDORS: dict[str, tuple[str, str, float | None, str]] = {
    "ebay": ("tests.servers.ebay", "--conversations", 4.0, "connector pacing 4/s (eBay quotas are per day)"),
    "kaufland": ("tests.servers.kaufland", "--tickets", 111.0, "111 requests/s per seller"),
    "allegro": ("tests.servers.allegro", "--threads", 150.0, "9,000 requests/min per client"),
    "mirakl": ("tests.servers.mirakl", "--threads", None, "no documented limit"),
}


@dataclass
class Result:
    vendor: str
    conversations: int
    first_s: float
    first_requests: int
    incremental_s: float
    incremental_requests: int
    stored_messages: int
    new_messages: int
    limit: str
    closeness: str


def _form(vendor: str, info: dict[str, Any]) -> Any:
    from inbox_app.services import marketplace_accounts as svc

    if vendor == "ebay":
        return svc.EbayForm(
            "eBay DE",
            info["seller"],
            info["client_id"],
            info["client_secret"],
            info["refresh_token"],
            base_url=info["base_url"],
        )
    if vendor == "kaufland":
        return svc.KauflandForm("Kaufland DE", info["client_key"], info["secret_key"], info["base_url"])
    if vendor == "allegro":
        return svc.AllegroForm(
            "Allegro",
            info["client_id"],
            info["client_secret"],
            info["refresh_token"],
            base_url=info["base_url"],
            auth_url=info["base_url"],
        )
    return svc.MiraklForm("Fnac ES", info["base_url"], info["api_key"], info["shop_id"])


def _send(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    proc.stdout.readline()


def bench(vendor: str, conversations: int, messages: int, changed: int, work: Path) -> Result:
    from inbox_app.profile import open_profile
    from inbox_app.services import marketplace_accounts as svc
    from inbox_app.store.accounts import get_account
    from inbox_app.store.models import Conversation, Message
    from inbox_app.sync.channel_sync import ChannelAccountSync
    from inbox_app.sync.registry import default_registry

    module, count_option, limit, described = VENDORS[vendor]
    proc = subprocess.Popen(
        [sys.executable, "-m", module, count_option, str(conversations), "--messages", str(messages)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    profile = open_profile(work / f"profile-{vendor}")
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        form = asyncio.run(svc.test(_form(vendor, info)))  # Allegro: the token the test rotated to is stored
        saved = svc.save(form)
        account = get_account(saved.id)
        assert account is not None

        async def rounds() -> tuple[float, int, float, int, float]:
            sync = ChannelAccountSync(account, default_registry())
            try:
                channel = await sync.channel()
                t0 = time.perf_counter()
                await sync.sync_once()
                first = time.perf_counter() - t0
                first_requests = int(getattr(channel, "requests_sent", 0))
                budget = getattr(channel, "budget", None)
                peak = float(getattr(budget, "peak", 0))
                await asyncio.to_thread(_send, proc, f"touch {changed}")
                t0 = time.perf_counter()
                await sync.sync_once()
                incremental = time.perf_counter() - t0
                incremental_requests = int(getattr(channel, "requests_sent", 0)) - first_requests
                return first, first_requests, incremental, incremental_requests, peak
            finally:
                await sync.close()

        first, first_requests, incremental, incremental_requests, peak = asyncio.run(rounds())
        stored = Message.select().count()
        assert Conversation.select().count() == conversations, Conversation.select().count()
        new = stored - conversations * messages
        rate = first_requests / first if first else 0.0
        if vendor == "allegro":
            closeness = f"peak {peak:.0f} requests in a 60 s window = {peak / 9000:.0%} of 9,000/min"
        elif limit is not None:
            closeness = f"average {rate:.1f} requests/s = {rate / limit:.0%} of the limit"
        else:
            closeness = f"average {rate:.1f} requests/s"
        return Result(
            vendor,
            conversations,
            first,
            first_requests,
            incremental,
            incremental_requests,
            stored - new,
            new,
            described,
            closeness,
        )
    finally:
        profile.close()
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--ebay-conversations", type=int, default=300)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--changed", type=int, default=20)
    parser.add_argument("--only", default="ebay,kaufland,allegro,mirakl")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="marketplaces-bench-"))
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
    os.environ["XDG_DATA_HOME"] = str(work / "data")
    from inbox_app import i18n

    i18n.setup("en")
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores)")
    for vendor in [v.strip() for v in args.only.split(",") if v.strip()]:
        count = args.ebay_conversations if vendor == "ebay" else args.conversations
        r = bench(vendor, count, args.messages, args.changed, work)
        print(
            f"{r.vendor}: first sync of {r.conversations} x {args.messages}: {r.first_s:.1f} s, "
            f"{r.first_requests} requests ({r.closeness}; {r.limit}); "
            f"incremental with {args.changed} changed: {r.incremental_s:.2f} s, {r.incremental_requests} requests, "
            f"{r.new_messages} new messages",
            flush=True,
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (app process): {rss:.0f} MB; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
