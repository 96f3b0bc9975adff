"""Response episodes kept per conversation, so that a report over 100,000 conversations aggregates in SQL.

Why: computing every conversation's episodes from its messages and status events takes ≈ 170 µs in Python, so
a 30-day report over 100,000 conversations took many seconds. The definitions do not change: the rows below
are what :func:`inbox_app.domain.reports.episodes_of` and :func:`~inbox_app.domain.reports.first_response`
return for a conversation, recomputed from its messages and its event log whenever one of those changes.
Nothing is counted on the side — the rows are a cache of the domain's answer, rebuilt per conversation:

* triggers put a conversation into ``report_dirty`` when a message of it is added, changed, moved or deleted,
  when a status or "no response needed" event is logged for it, and when its channel or its
  ``no_response_needed`` flag change (every writer, bulk or single, goes through them);
* a channel whose deadline policy (or the ``holidays`` data behind it) changed dirties all its conversations
  (``report_policy`` keeps each channel's policy fingerprint);
* :func:`refresh` recomputes the dirty conversations before a report, in batches inside ``BEGIN IMMEDIATE``
  (so a message stored meanwhile cannot be lost between the read and the delete of its dirty mark);
  :func:`refresh_batch` does one such batch, so that the window can catch up a step at a time between the
  other work of its single database worker (``services.reports.catch_up_step``).

Whether an episode is late, measured or overdue depends on *now* and is decided by the report's query, with
the same comparisons as :class:`inbox_app.domain.reports.Episode`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import NamedTuple

from inbox_app.domain import deadlines
from inbox_app.domain.reports import (
    NO_RESPONSE_NEEDED,
    ReportMessage,
    StatusChange,
    effective_changes,
    episodes_of,
    first_response,
)
from inbox_app.store import ingest
from inbox_app.store.db import relaxed_transaction
from inbox_app.store.events import EventKind
from inbox_app.store.models import Channel, Conversation, from_db_time, to_db_time

__all__ = [
    "CONVERSATION_INDEX_SQL",
    "MESSAGE_UPDATE_TRIGGER",
    "PERIOD_INDEX_SQL",
    "SCHEMA_SQL",
    "Batch",
    "is_available",
    "mark_all",
    "mark_changed_policies",
    "pending_count",
    "rebuild_all",
    "refresh",
    "refresh_batch",
]

_DIRTY = "INSERT OR IGNORE INTO report_dirty (conversation_id) VALUES"
_CLOCK_EVENTS = f"('{EventKind.STATUS_CHANGED.value}', '{EventKind.NO_RESPONSE_NEEDED.value}')"

#: A message update dirties its conversation only when a field the episodes read really changed. Why the
#: ``WHEN``: the mail sync's body batches rewrite ``is_auto_reply`` of every mail (20,000 on a first sync) with
#: the value it mostly already had, and two dirty-set inserts per row were the larger part of what the report
#: triggers added to a first sync. An unchanged row would recompute to the same episodes anyway.
MESSAGE_UPDATE_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS report_dirty_message_au AFTER UPDATE OF conversation_id, direction, sent_at, "
    "is_auto_reply, is_answered ON message WHEN old.conversation_id IS NOT new.conversation_id "
    "OR old.direction IS NOT new.direction OR old.sent_at IS NOT new.sent_at "
    "OR old.is_auto_reply IS NOT new.is_auto_reply OR old.is_answered IS NOT new.is_answered "
    f"BEGIN {_DIRTY} (old.conversation_id); {_DIRTY} (new.conversation_id); END"
)

#: Tables, indexes and the triggers that keep ``report_dirty`` (migration ``_report_episodes``).
SCHEMA_SQL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS report_episode (conversation_id INTEGER NOT NULL, started_at TEXT NOT NULL, "
    "deadline_at TEXT NOT NULL, replied_at TEXT, stopped_at TEXT, response_s REAL)",
    "CREATE INDEX IF NOT EXISTS report_episode_started ON report_episode (started_at)",
    "CREATE INDEX IF NOT EXISTS report_episode_conversation ON report_episode (conversation_id)",
    "CREATE INDEX IF NOT EXISTS report_episode_running ON report_episode (deadline_at) "
    "WHERE replied_at IS NULL AND stopped_at IS NULL",
    # The report's pass over the messages of a period reads this index only, never the wide message rows.
    "CREATE INDEX IF NOT EXISTS report_message_time ON message (sent_at, direction, is_auto_reply, conversation_id)",
    "CREATE TABLE IF NOT EXISTS report_first_response (conversation_id INTEGER PRIMARY KEY, "
    "first_in_at TEXT NOT NULL, first_reply_at TEXT, response_s REAL)",
    "CREATE INDEX IF NOT EXISTS report_first_response_first_in ON report_first_response (first_in_at)",
    "CREATE TABLE IF NOT EXISTS report_dirty (conversation_id INTEGER PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS report_policy (channel_id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL)",
    f"CREATE TRIGGER IF NOT EXISTS report_dirty_message_ai AFTER INSERT ON message BEGIN "
    f"{_DIRTY} (new.conversation_id); END",
    MESSAGE_UPDATE_TRIGGER,
    f"CREATE TRIGGER IF NOT EXISTS report_dirty_message_ad AFTER DELETE ON message BEGIN "
    f"{_DIRTY} (old.conversation_id); END",
    f"CREATE TRIGGER IF NOT EXISTS report_dirty_event_ai AFTER INSERT ON event "
    f"WHEN new.conversation IS NOT NULL AND new.kind IN {_CLOCK_EVENTS} BEGIN "
    f"{_DIRTY} (new.conversation); END",
    f"CREATE TRIGGER IF NOT EXISTS report_dirty_conversation_au AFTER UPDATE OF channel_id, no_response_needed "
    f"ON conversation BEGIN {_DIRTY} (new.id); END",
    f"CREATE TRIGGER IF NOT EXISTS report_dirty_conversation_ad AFTER DELETE ON conversation BEGIN "
    f"{_DIRTY} (old.id); END",
)

#: Covering indexes for the report's period scans (migration ``_report_period_indexes``): the episodes and first
#: responses of a period are read from these indexes alone, never from the table rows (≈ 30 % of the report's
#: time at 100,000 conversations). They replace the single-column indexes on the start times.
PERIOD_INDEX_SQL: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS report_episode_period ON report_episode "
    "(started_at, conversation_id, replied_at, deadline_at, stopped_at, response_s)",
    "DROP INDEX IF EXISTS report_episode_started",
    "CREATE INDEX IF NOT EXISTS report_first_response_period ON report_first_response "
    "(first_in_at, conversation_id, response_s)",
    "DROP INDEX IF EXISTS report_first_response_first_in",
)

#: A conversation's messages in time order with every field the episodes and the report read (migration
#: ``_report_message_by_conversation``). It replaces peewee's ``(conversation_id, sent_at)`` index and serves
#: every look-up that one did; besides, the recomputation of a conversation reads its messages from this index
#: alone, and a report over a period holding most messages sums them per conversation in this order instead
#: of sorting them (``report_queries.message_group_counts``: ≈ 3 times cheaper).
CONVERSATION_INDEX_SQL: tuple[str, ...] = (
    # ``id`` right after the time, as the old index had it implicitly: a thread read by time and id is not sorted.
    "CREATE INDEX IF NOT EXISTS message_conversation_time ON message "
    "(conversation_id, sent_at, id, direction, is_auto_reply, is_answered)",
    "DROP INDEX IF EXISTS message_conversation_id_sent_at",
    # The same for the episodes (``report_queries.in_conversation_order``), in place of the conversation index.
    "CREATE INDEX IF NOT EXISTS report_episode_by_conversation ON report_episode "
    "(conversation_id, started_at, replied_at, deadline_at, stopped_at, response_s)",
    "DROP INDEX IF EXISTS report_episode_conversation",
)

BATCH = 2000


def is_available() -> bool:
    """Whether the stored episodes can be used: the tables exist and the connection may write (a read-only
    profile cannot bring them up to date, so its reports are computed from scratch)."""
    db = Conversation._meta.database
    if db.execute_sql("PRAGMA query_only").fetchone()[0]:
        return False
    row = db.execute_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'report_dirty'"
    ).fetchone()
    return row is not None


def pending_count() -> int:
    """How many conversations wait to be recomputed."""
    db = Conversation._meta.database
    return int(db.execute_sql("SELECT count(*) FROM report_dirty").fetchone()[0])


def _fingerprint(policy: deadlines.DeadlinePolicy) -> str:
    import holidays  # here, not at the top: it loads every country's calendar, which opening the window never needs

    return json.dumps(policy.to_dict(), sort_keys=True, default=str) + f"|holidays {holidays.__version__}"


def mark_changed_policies() -> None:
    """Dirty every conversation of a channel whose policy is not the one its stored episodes were computed with
    (once before a catch-up: each :func:`refresh_batch` then takes its share)."""
    db = Conversation._meta.database
    stored = dict(db.execute_sql("SELECT channel_id, fingerprint FROM report_policy").fetchall())
    for channel in Channel.select():
        fingerprint = _fingerprint(ingest.policy_for_channel(channel))
        if stored.get(channel.id) == fingerprint:
            continue
        with db.atomic():
            db.execute_sql(
                "INSERT OR IGNORE INTO report_dirty (conversation_id) SELECT id FROM conversation "
                "WHERE channel_id = ?",
                (channel.id,),
            )
            db.execute_sql(
                "INSERT OR REPLACE INTO report_policy (channel_id, fingerprint) VALUES (?, ?)",
                (channel.id, fingerprint),
            )


def _rows_for(
    ids: Sequence[int], policies: dict[int, deadlines.DeadlinePolicy]
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """(episode rows, first-response rows) of these conversations, computed by the domain from scratch."""
    db = Conversation._meta.database
    id_list = json.dumps(list(ids))
    convs = {
        int(r[0]): (int(r[1]), bool(r[2]))
        for r in db.execute_sql(
            "SELECT id, channel_id, no_response_needed FROM conversation "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (id_list,),
        )
    }
    messages: dict[int, list[ReportMessage]] = {cid: [] for cid in convs}
    for cid, direction, sent_at, auto, answered in db.execute_sql(
        "SELECT conversation_id, direction, sent_at, is_auto_reply, is_answered FROM message "
        "WHERE conversation_id IN (SELECT value FROM json_each(?)) ORDER BY conversation_id, sent_at, id",
        (id_list,),
    ):
        messages[int(cid)].append(
            ReportMessage(
                "in" if direction == "in" else "out", from_db_time(sent_at), bool(auto), bool(answered)
            )
        )
    changes: dict[int, list[StatusChange]] = {cid: [] for cid in convs}
    # ``+kind``: SQLite otherwise chose the index on ``kind`` and read every status event of the profile for
    # each batch (30 ms at 100,000 conversations, whatever the batch's size); by conversation it is ≈ 1 ms.
    for cid, at, kind, new in db.execute_sql(
        "SELECT conversation, at, kind, json_extract(data, '$.new') FROM event "
        f"WHERE conversation IN (SELECT value FROM json_each(?)) AND +kind IN {_CLOCK_EVENTS} "
        "ORDER BY conversation, at, id",
        (id_list,),
    ):
        status = NO_RESPONSE_NEEDED if kind == EventKind.NO_RESPONSE_NEEDED.value else str(new or "")
        changes[int(cid)].append(StatusChange(from_db_time(at), status))
    episodes: list[tuple[object, ...]] = []
    firsts: list[tuple[object, ...]] = []
    for cid, (channel_id, no_response_needed) in convs.items():
        msgs = messages[cid]
        if not msgs:
            continue
        for ep in episodes_of(
            policies[channel_id], msgs, effective_changes(msgs, changes[cid], no_response_needed)
        ):
            response = ep.response
            episodes.append(
                (
                    cid,
                    to_db_time(ep.started_at),
                    to_db_time(ep.deadline_at),
                    None if ep.replied_at is None else to_db_time(ep.replied_at),
                    None if ep.stopped_at is None else to_db_time(ep.stopped_at),
                    None if response is None else round(response.total_seconds(), 3),
                )
            )
        first_in, first_reply = first_response(msgs)
        if first_in is not None:
            firsts.append(
                (
                    cid,
                    to_db_time(first_in),
                    None if first_reply is None else to_db_time(first_reply),
                    None if first_reply is None else round((first_reply - first_in).total_seconds(), 3),
                )
            )
    return episodes, firsts


class Batch(NamedTuple):
    """What one :func:`refresh_batch` did: conversations recomputed, and how many still wait."""

    recomputed: int
    left: int


def refresh_batch(limit: int = BATCH) -> Batch:
    """Recompute at most ``limit`` dirty conversations (lowest ids first) in one ``BEGIN IMMEDIATE`` transaction.

    Why bounded: the first catch-up after a bulk import takes tens of seconds at 100,000 conversations; done in
    short transactions, the caller can let other work run between them (the window's list queries, a sync's
    writes) and stop at any point. ``report_dirty`` is the queue: a batch removes the marks of what it
    recomputed in the same transaction, so the next batch resumes there and a crash between batches (or a
    rollback inside one) loses nothing. For the same reason the commit need not wait for the disk
    (``relaxed_transaction``: a power cut can only bring back dirty marks), and the log is copied back by the
    checkpoint thread's periodic look, once for many batches. Call :func:`mark_changed_policies`
    once before a series of batches.
    """
    db = Conversation._meta.database
    policies = {int(ch.id): ingest.policy_for_channel(ch) for ch in Channel.select()}
    with relaxed_transaction(poke=False):
        # Inside the write lock: no message of these conversations can arrive between the read and the removal
        # of their dirty marks, and a second refresher (the CLI, another window) cannot take the same ones.
        chunk = [
            int(r[0])
            for r in db.execute_sql(
                "SELECT conversation_id FROM report_dirty ORDER BY 1 LIMIT ?", (max(1, limit),)
            )
        ]
        if chunk:
            id_list = json.dumps(chunk)
            episodes, firsts = _rows_for(chunk, policies)
            for table in ("report_episode", "report_first_response", "report_dirty"):
                db.execute_sql(
                    f"DELETE FROM {table} WHERE conversation_id IN (SELECT value FROM json_each(?))",
                    (id_list,),
                )
            cursor = db.cursor()
            cursor.executemany(
                "INSERT INTO report_episode (conversation_id, started_at, deadline_at, replied_at, stopped_at, "
                "response_s) VALUES (?, ?, ?, ?, ?, ?)",
                episodes,
            )
            cursor.executemany(
                "INSERT INTO report_first_response (conversation_id, first_in_at, first_reply_at, response_s) "
                "VALUES (?, ?, ?, ?)",
                firsts,
            )
        left = pending_count()
    return Batch(len(chunk), left)


def refresh(progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute the episodes of every dirty conversation; returns how many were recomputed.

    ``progress(done, total)`` is called after each batch (from the calling thread). Conversations dirtied
    meanwhile (a sync running beside) are recomputed too, and counted in ``total``.
    """
    mark_changed_policies()
    done = 0
    while True:
        batch = refresh_batch(BATCH)
        done += batch.recomputed
        if batch.recomputed and progress is not None:
            progress(done, done + batch.left)
        if not batch.left or not batch.recomputed:
            return done


def mark_all() -> None:
    """Mark every conversation to be recomputed (what a bulk import leaves; to repair the cache)."""
    db = Conversation._meta.database
    with db.atomic():
        db.execute_sql("INSERT OR IGNORE INTO report_dirty (conversation_id) SELECT id FROM conversation")


def rebuild_all(progress: Callable[[int, int], None] | None = None) -> int:
    """Mark every conversation dirty and recompute them all (after a bulk import, or to repair the cache)."""
    mark_all()
    return refresh(progress)
