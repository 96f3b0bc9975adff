"""Time the 30-day report (by channel) over 10,000 and 100,000 demo conversations.

Usage: ``python benchmarks/report_100k.py [BASE_DIR] [--counts 10000 100000]``. Profiles are made with the demo
generator (as ``fill_100k.py`` does) under ``BASE_DIR/<count>`` the first time and reused afterwards.
The target (issue 15): under 1 s at 100,000 conversations. Also printed: the first catch-up of the stored
episodes (after a bulk import or the upgrade that adds them: every conversation computed once), the report
after 100 conversations changed (their episodes recomputed first), and with ``--scratch`` the pure-Python
computation the report used before episodes were stored.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inbox_app.demo.generator import generate
from inbox_app.domain.reports import GroupBy, Period
from inbox_app.profile import open_profile
from inbox_app.services.reports import compute_report
from inbox_app.store import report_episodes
from inbox_app.store.models import to_db_time

DEFAULT_DIR = Path("/tmp/inbox-bench-report")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="recompute every stored episode first (timed)")
    parser.add_argument("--scratch", action="store_true", help="also time the pure-Python computation")
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
        period = Period.last_days(30, now.astimezone(zone).date(), zone)
        started = time.perf_counter()
        caught_up = report_episodes.rebuild_all() if args.rebuild else report_episodes.refresh()
        catch_up = time.perf_counter() - started
        times, cpu, by_channel = [], [], []  # wall and CPU seconds of every run; (wall, CPU) by channel
        for by in (GroupBy.CHANNEL, GroupBy.ACCOUNT, GroupBy.CATEGORY, GroupBy.CHANNEL):
            for _run in range(args.runs if by is GroupBy.CHANNEL else 1):
                started, started_cpu = time.perf_counter(), time.process_time()
                report = compute_report(period, by, now)
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
                if by is GroupBy.CHANNEL:
                    by_channel.append((times[-1], cpu[-1]))
        # a sync stored 100 new customer messages since: the next report recomputes those conversations only
        ids = [r[0] for r in profile.db.execute_sql("SELECT id FROM conversation ORDER BY id DESC LIMIT 100")]
        with profile.db.atomic():
            for cid in ids:
                profile.db.execute_sql(
                    "INSERT INTO event (at, kind, conversation, actor, data) VALUES "
                    "(?, 'status_changed', ?, 'bench', '{\"new\": \"open\"}')",
                    (to_db_time(now), cid),
                )
        started = time.perf_counter()
        compute_report(period, GroupBy.CHANNEL, now)
        after_change = time.perf_counter() - started
        scratch = None
        if args.scratch:
            started = time.perf_counter()
            compute_report(period, GroupBy.CHANNEL, now, from_scratch=True)
            scratch = time.perf_counter() - started
        profile.close()
        print(
            f"{count:>7,} conversations: 30-day report best {min(times) * 1000:.0f} ms, "
            f"worst {max(times) * 1000:.0f} ms (CPU best {min(cpu) * 1000:.0f} ms, worst {max(cpu) * 1000:.0f} ms); "
            f"by channel: wall best {min(w for w, _c in by_channel) * 1000:.0f} ms, median "
            f"{statistics.median(w for w, _c in by_channel) * 1000:.0f} ms, CPU best "
            f"{min(c for _w, c in by_channel) * 1000:.0f} ms, median "
            f"{statistics.median(c for _w, c in by_channel) * 1000:.0f} ms; after 100 conversations changed {after_change * 1000:.0f} ms; "
            f"first catch-up of {caught_up:,} conversations {catch_up:.1f} s"
            + ("" if scratch is None else f"; computed from scratch in Python {scratch * 1000:.0f} ms")
            + f" ({report.total.conversations:,} conversations, {report.total.episodes:,} measured episodes)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
