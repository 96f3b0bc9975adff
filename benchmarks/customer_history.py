"""How long the customer history beside the thread takes to read (``services.customers.history``), once per
conversation opened, over 100,000 conversations of 100,000 customers (70,000 order ids, so some share one).

Run: ``PYTHONPATH=. python benchmarks/customer_history.py [N]``. Measured here (Dec 2026, 2 cores, load ≈ 12):
p50 11 ms, p95 26 ms at 100,000 (91 / 190 ms before the ``lower(value)`` index (migration _collision_check)).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from inbox_app import i18n
from inbox_app.profile import open_profile
from inbox_app.services import customers
from inbox_app.store.db import database_proxy
from inbox_app.store.ingest import ensure_channel
from inbox_app.store.models import Account

STAMP = "2026-01-01T00:00:00.000000Z"


def main(count: int) -> None:
    i18n.setup("en")
    profile = open_profile(Path(tempfile.mkdtemp()) / "p")
    try:
        db = database_proxy.obj
        account = Account.create(kind="test", name="bench")
        channel = ensure_channel(account, "email", "bench", None)
        with db.atomic():
            cursor = db.cursor()
            cursor.executemany(
                "INSERT INTO customer (id, name, created_at) VALUES (?, ?, ?)",
                [(i, f"Customer {i}", STAMP) for i in range(1, count + 1)],
            )
            cursor.executemany(
                "INSERT INTO customer_identity (customer_id, kind, value) VALUES (?, 'email', ?)",
                [(i, f"u{i}@example.com") for i in range(1, count + 1)],
            )
            cursor.executemany(
                "INSERT INTO conversation (channel_id, account_id, remote_id, subject, snippet, status, "
                "customer_id, customer_name, order_id, created_at, unread, message_count, no_response_needed, "
                "extra) VALUES (?, ?, ?, 's', '', 'open', ?, ?, ?, ?, 0, 1, 0, '{}')",
                [
                    (channel.id, account.id, f"r{i}", i, f"Customer {i}", f"O{i % (count * 7 // 10)}", STAMP)
                    for i in range(1, count + 1)
                ],
            )
        times = []
        for conversation_id in range(1, count + 1, max(1, count // 200)):
            started = time.perf_counter()
            customers.history(conversation_id)
            times.append(time.perf_counter() - started)
        times.sort()
        p50, p95 = times[len(times) // 2], times[int(len(times) * 0.95)]
        print(
            f"customer history over {count:,} conversations: p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"
        )
    finally:
        profile.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
