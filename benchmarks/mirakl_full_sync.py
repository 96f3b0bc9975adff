"""Mirakl through the real app sync (engine, cursor loop, store, full-text queue): first sync and incremental.

The sandbox runs in its own process (``python -m tests.servers.mirakl --threads N``) so it does not share the
GIL with the app it measures. The app side is what ``inbox-app sync --once`` runs: a fresh profile, a Mirakl
account stored with its key in a (temporary, plain-file) keyring, ``SyncEngine.run_once``. Then the sandbox
adds a message to ``--changed`` threads and a second ``run_once`` measures the incremental sync.

Prints time, HTTP requests (counted by the sandbox), the stored counts and the peak RSS of this process.
Targets (issue 12): first sync < 15 s, incremental ≤ 3 requests and < 1 s, RSS < 300 MB.

Run: ``.venv/bin/python benchmarks/mirakl_full_sync.py [--threads 5000] [--messages 6] [--changed 50]``
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def ask(proc: subprocess.Popen[str], line: str) -> dict[str, int]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return dict(json.loads(proc.stdout.readline()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=6)
    parser.add_argument("--changed", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mirakl-bench-"))
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
    os.environ["XDG_DATA_HOME"] = str(work / "data")

    from inbox_app import i18n
    from inbox_app.profile import open_profile
    from inbox_app.store.accounts import ApiAccountSettings
    from inbox_app.store.models import Conversation, Message
    from inbox_app.sync.channel_setup import save_channel_account
    from inbox_app.sync.engine import SyncEngine

    i18n.setup("en")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.servers.mirakl",
            "--threads",
            str(args.threads),
            "--messages",
            str(args.messages),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        print(
            f"sandbox ready with {args.threads} threads x {args.messages} in {time.perf_counter() - started:.1f} s"
        )
        profile = open_profile(work / "profile")
        save_channel_account(
            "mirakl",
            "Fnac ES",
            ApiAccountSettings(base_url=info["base_url"], shop_id=info["shop_id"]),
            info["api_key"],
        )

        async def once() -> None:
            engine = SyncEngine(profile.blobs)
            try:
                report = await engine.run_once()
                assert report.ok, report.problems
            finally:
                await engine.close()

        base = ask(proc, "requests")["requests"]
        t0 = time.perf_counter()
        asyncio.run(once())
        first = time.perf_counter() - t0
        after_first = ask(proc, "requests")["requests"]
        conversations = Conversation.select().count()
        messages = Message.select().count()
        print(
            f"first sync: {first:.2f} s, {after_first - base} requests, "
            f"{conversations} conversations, {messages} messages stored"
        )
        assert conversations == args.threads and messages == args.threads * args.messages

        ask(proc, f"touch {args.changed}")
        t0 = time.perf_counter()
        asyncio.run(once())
        incremental = time.perf_counter() - t0
        after_incr = ask(proc, "requests")["requests"]
        added = Message.select().count() - messages
        print(
            f"incremental sync ({args.changed} changed): {incremental:.3f} s, {after_incr - after_first} requests, "
            f"{added} new messages"
        )
        assert added == args.changed
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS (app process): {rss:.0f} MB")
        profile.close()
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
