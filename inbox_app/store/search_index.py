"""Keep the full-text index in step with the messages, in large batches (see migration v2 for why).

Triggers put the id of every inserted or changed message into ``message_fts_pending``; :func:`index_pending`
indexes those rows' current subject and text and empties the queue, in one transaction per chunk. It is run:

* by the mail sync right after a pass (on the DB worker, in chunks, with progress), so a first sync stores
  20,000 bodies without paying for the index inside every batch;
* by :func:`inbox_app.store.search.search_conversation_ids` before it searches, so a search never misses a
  stored message, whoever stored it (demo, tests, a channel that has not indexed yet);
* by the demo generator when it is done.

Idempotent and crash-safe: a chunk's index rows and the removal of its ids commit together, so a killed
process leaves either both or neither.
"""

from __future__ import annotations

from collections.abc import Callable

from inbox_app.store.db import database_proxy, wal_written

CHUNK = 2000


def pending_count() -> int:
    """How many messages wait to be indexed."""
    row = database_proxy.obj.execute_sql("SELECT COUNT(*) FROM message_fts_pending").fetchone()
    return int(row[0])


def index_chunk(limit: int = CHUNK) -> int:
    """Index up to ``limit`` waiting messages (oldest first) in one transaction; returns how many."""
    db = database_proxy.obj
    with db.atomic("IMMEDIATE"):
        ids = [
            int(r[0])
            for r in db.execute_sql(
                "SELECT message_id FROM message_fts_pending ORDER BY message_id LIMIT ?", (limit,)
            ).fetchall()
        ]
        if not ids:
            return 0
        first, last = ids[0], ids[-1]
        db.execute_sql(
            "INSERT INTO message_fts (rowid, subject, text_body) SELECT m.id, m.subject, m.text_body "
            "FROM message_fts_pending p JOIN message m ON m.id = p.message_id "
            "WHERE p.message_id BETWEEN ? AND ?",
            (first, last),
        )
        db.execute_sql("DELETE FROM message_fts_pending WHERE message_id BETWEEN ? AND ?", (first, last))
    wal_written()
    return len(ids)


def index_pending(progress: Callable[[int, int], None] | None = None, chunk: int = CHUNK) -> int:
    """Index every waiting message, ``chunk`` at a time; ``progress(done, total)`` after each chunk."""
    total = pending_count()
    done = 0
    while True:
        count = index_chunk(chunk)
        if count == 0:
            return done
        done += count
        if progress is not None:
            progress(done, max(total, done))


__all__ = ["index_chunk", "index_pending", "pending_count"]
