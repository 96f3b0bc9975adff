"""Time the 30-day report (by channel) over 10,000 and 100,000 demo conversations.

Usage: ``python benchmarks/report_100k.py [BASE_DIR] [--counts 10000 100000]``. Profiles are made with the demo
generator (as ``fill_100k.py`` does) under ``BASE_DIR/<count>`` the first time and reused afterwards.
The target (issue 15): under 1 s at 100,000 conversations. Also printed: the first catch-up of the stored
episodes (after a bulk import or the upgrade that adds them: every conversation computed once), the report
after 100 conversations changed (their episodes recomputed first), and with ``--scratch`` the pure-Python
computation the report used before episodes were stored.

The same catch-up is then timed again as the report window does it (every conversation marked again): in
steps of :func:`~inbox_app.services.reports.catch_up_step` on one thread, with the longest step — the longest
single job on the window's database worker, what a list query queued behind the catch-up waits at most — and
the longest transaction (what a write of the UI thread or of the sync waits at most for the lock). Wall and CPU
time are printed side by side (the machine may be shared).
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
from inbox_app.services.reports import catch_up_step, compute_report
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
        started, cpu = time.perf_counter(), time.process_time()
        caught_up = report_episodes.rebuild_all() if args.rebuild else report_episodes.refresh()
        catch_up, catch_up_cpu = time.perf_counter() - started, time.process_time() - cpu
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
        stepped = _stepped_catch_up()
        profile.close()
        print(
            f"{count:>7,} conversations: 30-day report best {min(times) * 1000:.0f} ms, "
            f"worst {max(times) * 1000:.0f} ms (CPU best {min(cpu) * 1000:.0f} ms, worst {max(cpu) * 1000:.0f} ms); "
            f"by channel: wall best {min(w for w, _c in by_channel) * 1000:.0f} ms, median "
            f"{statistics.median(w for w, _c in by_channel) * 1000:.0f} ms, CPU best "
            f"{min(c for _w, c in by_channel) * 1000:.0f} ms, median "
            f"{statistics.median(c for _w, c in by_channel) * 1000:.0f} ms; after 100 conversations changed {after_change * 1000:.0f} ms; "
            f"first catch-up of {caught_up:,} conversations in one go (the CLI; the window steps it) "
            f"{catch_up:.1f} s (CPU {catch_up_cpu:.1f} s)"
            + ("" if scratch is None else f"; computed from scratch in Python {scratch * 1000:.0f} ms")
            + f" ({report.total.conversations:,} conversations, {report.total.episodes:,} measured episodes)",
            flush=True,
        )
        print(f"{count:>7,} conversations: {stepped}", flush=True)
    return 0


def _stepped_catch_up() -> str:
    """Every conversation marked again, then caught up in the window's steps; what it took and the longest
    step and transaction."""
    report_episodes.mark_all()
    transactions: list[float] = []
    batch = report_episodes.refresh_batch

    def timed_batch(limit: int = report_episodes.BATCH) -> report_episodes.Batch:
        started = time.perf_counter()
        try:
            return batch(limit)
        finally:
            transactions.append(time.perf_counter() - started)

    report_episodes.refresh_batch = timed_batch  # type: ignore[assignment]
    try:
        steps: list[float] = []
        step_cpu: list[float] = []
        recomputed = 0
        started, cpu = time.perf_counter(), time.process_time()
        while True:
            step_started, step_cpu_started = time.perf_counter(), time.process_time()
            step = catch_up_step(first=not steps)
            steps.append(time.perf_counter() - step_started)
            step_cpu.append(time.process_time() - step_cpu_started)
            recomputed += step.recomputed
            if not step.left:
                break
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        report_episodes.refresh_batch = batch  # type: ignore[assignment]
    return (
        f"catch-up in the window's steps {recomputed:,} conversations {wall:.1f} s (CPU {cpu:.1f} s), "
        f"{len(steps):,} worker jobs, longest job {max(steps) * 1000:.0f} ms (CPU {max(step_cpu) * 1000:.0f} ms, "
        f"median job {sorted(steps)[len(steps) // 2] * 1000:.0f} ms), "
        f"longest transaction {max(transactions) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
