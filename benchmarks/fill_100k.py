"""Fill a profile with 100,000 demo conversations (about 300,000 messages) and print how long it took.

Usage: ``python benchmarks/fill_100k.py [PROFILE_DIR] [--count N] [--seed S]`` (default folder
``/tmp/inbox-bench-100k``; an existing database there is replaced). ``window_100k.py`` measures on the result.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inbox_app.demo.generator import generate
from inbox_app.profile import open_profile
from inbox_app.store.models import Event, Message

DEFAULT_DIR = Path("/tmp/inbox-bench-100k")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.profile.exists():
        shutil.rmtree(args.profile)
    profile = open_profile(args.profile)
    started = time.perf_counter()
    last_report = [started]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last_report[0] >= 10 or done == total:
            last_report[0] = now
            rate = done / (now - started)
            print(f"  {done:>7,} / {total:,} conversations  {rate:,.0f}/s", file=sys.stderr, flush=True)

    created = generate(profile, count=args.count, seed=args.seed, progress=progress)
    elapsed = time.perf_counter() - started
    messages = Message.select().count()
    events = Event.select().count()
    profile.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    size = profile.db_path.stat().st_size
    profile.close()
    print(f"conversations: {created:,}")
    print(f"messages:      {messages:,}")
    print(f"events:        {events:,}")
    print(f"fill time:     {elapsed:.1f} s ({created / elapsed:,.0f} conversations/s)")
    print(f"database:      {size / 1e6:.0f} MB at {profile.db_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
