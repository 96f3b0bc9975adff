"""Time the 30-day report (by channel) over 10,000 and 100,000 demo conversations.

Usage: ``python benchmarks/report_100k.py [BASE_DIR] [--counts 10000 100000]``. Profiles are made with the demo
generator (as ``fill_100k.py`` does) under ``BASE_DIR/<count>`` the first time and reused afterwards.
The target (issue 15): under 1 s at 100,000 conversations.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inbox_app.demo.generator import generate
from inbox_app.domain.reports import GroupBy, Period
from inbox_app.profile import open_profile
from inbox_app.services.reports import compute_report

DEFAULT_DIR = Path("/tmp/inbox-bench-report")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for count in args.counts:
        folder = args.base / str(count)
        if not (folder / ".filled").exists():
            profile = open_profile(folder)
            started = time.perf_counter()
            generate(profile, count=count, seed=1)
            profile.close()
            (folder / ".filled").write_text("ok")
            print(f"filled {count:,} conversations in {time.perf_counter() - started:.0f} s", flush=True)
        profile = open_profile(folder)
        now = datetime.now(UTC)
        zone = now.astimezone().tzinfo or UTC
        times = []
        for by in (GroupBy.CHANNEL, GroupBy.ACCOUNT, GroupBy.CHANNEL):
            for _run in range(args.runs if by is GroupBy.CHANNEL else 1):
                period = Period.last_days(30, now.astimezone(zone).date(), zone)
                started = time.perf_counter()
                report = compute_report(period, by, now)
                times.append(time.perf_counter() - started)
        profile.close()
        print(
            f"{count:>7,} conversations: 30-day report first {times[0] * 1000:.0f} ms, "
            f"best {min(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms "
            f"({report.total.conversations:,} conversations, {len(report.episodes):,} episodes in the period)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
