"""A bulk triage action on 1,000 of 100,000 conversations, and its undo (target < 1 s each).

Builds the profile once: the demo generator writes ``--seed-count`` realistic conversations (messages, tags,
events), then SQL copies them (with their messages) until there are ``--count``: a 100,000-conversation demo
takes many minutes on a busy machine, and a bulk action's cost depends on the table sizes and the messages
per conversation, which the copies keep. ``--reuse`` measures on a profile built before.

Usage: ``python benchmarks/triage_bulk.py [PROFILE_DIR] [--count N] [--reuse]``
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inbox_app.demo.generator import generate
from inbox_app.domain.conversations import Status
from inbox_app.profile import Profile, open_profile
from inbox_app.services import triage

DEFAULT_DIR = Path("/tmp/inbox-bench-triage")
CONVERSATION_COLUMNS = (
    "channel_id, account_id, remote_id, subject, snippet, status, snoozed_until, language, customer_id, "
    "customer_name, order_id, created_at, last_message_at, last_inbound_at, unread, message_count, "
    "no_response_needed, no_response_url, deadline_started_at, deadline_at, reply_needed_since, extra, "
    "category, category_source, assignee"
)
MESSAGE_COLUMNS = (
    "direction, remote_id, author_name, author_address, recipients, subject, sent_at, received_at, text_body, "
    'html_body, in_reply_to, "references", is_read, is_answered, is_auto_reply, problems, extra'
)


def build(profile: Profile, count: int, seed_count: int) -> None:
    generate(profile, count=seed_count, seed=11)
    db = profile.db
    base = int(db.execute_sql("SELECT MAX(id) FROM conversation").fetchone()[0])
    copy = 0
    while int(db.execute_sql("SELECT COUNT(*) FROM conversation").fetchone()[0]) < count:
        copy += 1
        offset = base * copy
        remaining = count - int(db.execute_sql("SELECT COUNT(*) FROM conversation").fetchone()[0])
        with db.atomic():
            db.execute_sql(
                f"INSERT INTO conversation (id, {CONVERSATION_COLUMNS}) SELECT id + ?, "
                + CONVERSATION_COLUMNS.replace("remote_id", "remote_id || '-' || ?")
                + " FROM conversation WHERE id <= ? ORDER BY id LIMIT ?",
                (offset, copy, base, remaining),
            )
            db.execute_sql(
                f"INSERT INTO message (conversation_id, {MESSAGE_COLUMNS}) SELECT conversation_id + ?, "
                f"{MESSAGE_COLUMNS} FROM message WHERE conversation_id <= ? AND conversation_id + ? IN "
                "(SELECT id FROM conversation)",
                (offset, base, offset),
            )
    db.execute_sql("DELETE FROM message_fts_pending")  # the copies need no search index here
    db.execute_sql("ANALYZE")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profile", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed-count", type=int, default=2_000)
    parser.add_argument("--selection", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    if not args.reuse:
        shutil.rmtree(args.profile, ignore_errors=True)
        profile = open_profile(args.profile)
        started = time.perf_counter()
        build(profile, args.count, args.seed_count)
        print(f"built {args.count} conversations in {time.perf_counter() - started:.1f} s")
    else:
        profile = open_profile(args.profile)
    db = profile.db
    conversations = int(db.execute_sql("SELECT COUNT(*) FROM conversation").fetchone()[0])
    messages = int(db.execute_sql("SELECT COUNT(*) FROM message").fetchone()[0])
    print(f"profile: {conversations} conversations, {messages} messages")
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    open_ids = [int(r[0]) for r in db.execute_sql("SELECT id FROM conversation WHERE status = 'open'")]
    rng = random.Random(5)
    later = datetime.now(UTC) + timedelta(days=2)
    actions: dict[str, Callable[[list[int]], triage.BulkResult]] = {
        "close": lambda ids: triage.set_status(ids, Status.CLOSED),
        "pending": lambda ids: triage.set_status(ids, Status.PENDING),
        "snooze": lambda ids: triage.set_status(ids, Status.SNOOZED, later),
        "category": lambda ids: triage.set_category(ids, "refund"),
        "assign": lambda ids: triage.assign(ids, "Ana"),
        "tag": lambda ids: triage.tag(ids, ["bulk-test"]),
    }
    worst = 0.0
    print(
        f"bulk action on {args.selection} conversations, then its undo ({args.rounds} rounds; median / max s):"
    )
    for name, action in actions.items():
        applied: list[float] = []
        undone: list[float] = []
        for _round in range(args.rounds):
            ids = rng.sample(open_ids, args.selection)
            began = time.perf_counter()
            result = action(ids)
            applied.append(time.perf_counter() - began)
            assert result.changed == args.selection, (name, result.changed)
            began = time.perf_counter()
            triage.undo(result.undo)
            undone.append(time.perf_counter() - began)
        worst = max(worst, *applied, *undone)
        print(
            f"  {name:9s} apply {statistics.median(applied):6.3f} / {max(applied):6.3f}   "
            f"undo {statistics.median(undone):6.3f} / {max(undone):6.3f}"
        )
    print(f"worst: {worst:.3f} s  target < 1 s")
    profile.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
