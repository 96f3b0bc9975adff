"""Schema versions and ordered migrations.

The version lives in SQLite's ``PRAGMA user_version``. Before any migration touches an existing file, the file
is copied with SQLite's online backup API into ``<profile>/backups/`` so a failed upgrade never costs data.
A database newer than this program is refused with a clear error instead of being "upgraded" backwards.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import peewee

from inbox_app.store.mail_models import MAIL_MODELS
from inbox_app.store.models import ALL_MODELS
from inbox_app.store.report_episodes import CONVERSATION_INDEX_SQL as REPORT_CONVERSATION_INDEX_SQL
from inbox_app.store.report_episodes import MESSAGE_UPDATE_TRIGGER
from inbox_app.store.report_episodes import PERIOD_INDEX_SQL as REPORT_PERIOD_INDEX_SQL
from inbox_app.store.report_episodes import SCHEMA_SQL as REPORT_EPISODES_SQL

log = logging.getLogger("inbox_app.store")


class SchemaTooNewError(RuntimeError):
    """The profile was written by a newer inbox_app; opening it could damage it."""


FTS_SQL = (
    # External-content FTS5 over messages: the text is not stored twice. Triggers keep it in step.
    "CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5("
    "subject, text_body, content='message', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS message_fts_ai AFTER INSERT ON message BEGIN "
    "INSERT INTO message_fts(rowid, subject, text_body) VALUES (new.id, new.subject, new.text_body); END",
    "CREATE TRIGGER IF NOT EXISTS message_fts_ad AFTER DELETE ON message BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, subject, text_body) "
    "VALUES ('delete', old.id, old.subject, old.text_body); END",
    "CREATE TRIGGER IF NOT EXISTS message_fts_au AFTER UPDATE OF subject, text_body ON message BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, subject, text_body) "
    "VALUES ('delete', old.id, old.subject, old.text_body); "
    "INSERT INTO message_fts(rowid, subject, text_body) VALUES (new.id, new.subject, new.text_body); END",
)

EVENT_LOG_SQL = (
    "CREATE TRIGGER IF NOT EXISTS event_no_update BEFORE UPDATE ON event BEGIN "
    "SELECT RAISE(ABORT, 'the event log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS event_no_delete BEFORE DELETE ON event BEGIN "
    "SELECT RAISE(ABORT, 'the event log is append-only'); END",
)


def _v1(db: peewee.SqliteDatabase) -> None:
    db.create_tables(ALL_MODELS + MAIL_MODELS)
    for sql in FTS_SQL + EVENT_LOG_SQL:
        db.execute_sql(sql)


# Version 2: the full-text index is filled by ``store.search_index`` in large batches instead of row by row in
# triggers. Indexing the text of a first sync inside its batches cost more than fetching, parsing and storing
# it (FTS5 merges its segments again and again as small batches arrive: 18 s of a 43 s 20,000-mail sync here).
# The triggers now only queue a row's id; they still remove the *indexed* old values on UPDATE and DELETE,
# because an external-content FTS5 table must be told exactly what it indexed to forget it.
FTS_QUEUE_SQL = (
    "CREATE TABLE IF NOT EXISTS message_fts_pending (message_id INTEGER PRIMARY KEY)",
    "DROP TRIGGER IF EXISTS message_fts_ai",
    "DROP TRIGGER IF EXISTS message_fts_au",
    "DROP TRIGGER IF EXISTS message_fts_ad",
    "CREATE TRIGGER message_fts_ai AFTER INSERT ON message BEGIN "
    "INSERT OR IGNORE INTO message_fts_pending (message_id) VALUES (new.id); END",
    "CREATE TRIGGER message_fts_au AFTER UPDATE OF subject, text_body ON message BEGIN "
    "INSERT INTO message_fts (message_fts, rowid, subject, text_body) "
    "SELECT 'delete', old.id, old.subject, old.text_body "
    "WHERE NOT EXISTS (SELECT 1 FROM message_fts_pending WHERE message_id = old.id); "
    "INSERT OR IGNORE INTO message_fts_pending (message_id) VALUES (new.id); END",
    "CREATE TRIGGER message_fts_ad AFTER DELETE ON message BEGIN "
    "INSERT INTO message_fts (message_fts, rowid, subject, text_body) "
    "SELECT 'delete', old.id, old.subject, old.text_body "
    "WHERE NOT EXISTS (SELECT 1 FROM message_fts_pending WHERE message_id = old.id); "
    "DELETE FROM message_fts_pending WHERE message_id = old.id; END",
)


def _v2(db: peewee.SqliteDatabase) -> None:
    for sql in FTS_QUEUE_SQL:
        db.execute_sql(sql)


# Indexes peewee made for foreign keys (and one column) that are the first column of a composite index too:
# the composite answers the same lookups, and each spare index cost every insert of a first sync.
REDUNDANT_INDEXES = (
    "message_conversation_id",  # (conversation_id, sent_at)
    "conversation_channel_id",  # (channel_id, status)
    "conversation_account_id",  # (account_id, remote_id)
    "conversation_status",  # (status, deadline_at)
    "mail_location_account_id",  # (account_id, folder, uidvalidity, uid)
    "mail_thread_key_account_id",  # (account_id, subject, participant, at)
)


# The list's order (``store.conversations.DEFAULT_ORDER``) within a status, as an index that also holds the id:
# opening a view of 60,000 open conversations reads it in order instead of sorting (0.18 → 0.07 s at 100,000).
LIST_ORDER_INDEX_SQL = (
    "CREATE INDEX IF NOT EXISTS conversation_list_order ON conversation "
    "(status, (deadline_at IS NULL), deadline_at, last_message_at DESC, id DESC)"
)


def _v3(db: peewee.SqliteDatabase) -> None:
    """Drop the redundant indexes, add the list-order index; add ``outbox_item.delivery_step`` (how far a delivery got, for recovery)
    and ``message.is_answered`` (answered from another mail client), the latter filled from the ``\\Answered``
    flags already stored. A fresh database has both columns already (v1 creates today's tables)."""
    for name in REDUNDANT_INDEXES:
        db.execute_sql(f"DROP INDEX IF EXISTS {name}")
    db.execute_sql(LIST_ORDER_INDEX_SQL)
    if "delivery_step" not in {column.name for column in db.get_columns("outbox_item")}:
        db.execute_sql("ALTER TABLE outbox_item ADD COLUMN delivery_step TEXT")
    if "is_answered" not in {column.name for column in db.get_columns("message")}:
        db.execute_sql("ALTER TABLE message ADD COLUMN is_answered INTEGER NOT NULL DEFAULT 0")
        db.execute_sql(
            "UPDATE message SET is_answered = 1 WHERE direction = 'in' AND id IN (SELECT l.message_id "
            "FROM mail_location l, json_each(l.flags) f WHERE f.value = '\\Answered')"
        )


def _v4(db: peewee.SqliteDatabase) -> None:
    """Claims with an owner and a lease (``outbox_item.owner``, ``lease_until``: two copies of the app on one
    profile must not deliver one reply twice), and the profile's own random id (``setting.profile_uuid``),
    which names its keyring entries so that two profiles never share a password. Idempotent: a fresh
    database has the columns already (v1 creates today's tables) and an existing id is kept."""
    columns = {column.name for column in db.get_columns("outbox_item")}
    if "owner" not in columns:
        db.execute_sql("ALTER TABLE outbox_item ADD COLUMN owner TEXT")
    if "lease_until" not in columns:
        db.execute_sql("ALTER TABLE outbox_item ADD COLUMN lease_until TEXT")
    db.execute_sql(
        "INSERT OR IGNORE INTO setting (key, value) VALUES ('profile_uuid', ?)",
        (json.dumps(uuid.uuid4().hex),),
    )


# Triage columns: null defaults, so the bulk INSERT paths (``MailStore``) that do not name them keep working and
# a new conversation is "not categorised yet" until ``store.triage.categorise_conversations`` runs. The
# indexes serve the "Mine"/"Unassigned" views and the snooze wake-up (a few snoozed rows among 100,000).
TRIAGE_COLUMNS = (("category", "TEXT"), ("category_source", "TEXT"), ("assignee", "TEXT"))
TRIAGE_INDEX_SQL = (
    "CREATE INDEX IF NOT EXISTS conversation_assignee ON conversation (assignee, status)",
    "CREATE INDEX IF NOT EXISTS conversation_category ON conversation (category, status)",
    "CREATE INDEX IF NOT EXISTS conversation_snoozed_until ON conversation (snoozed_until) "
    "WHERE snoozed_until IS NOT NULL",
)


def _triage(db: peewee.SqliteDatabase) -> None:
    """Category, who set it, and the assignee on each conversation (idempotent: v1 creates them already)."""
    columns = {column.name for column in db.get_columns("conversation")}
    for name, sql_type in TRIAGE_COLUMNS:
        if name not in columns:
            db.execute_sql(f"ALTER TABLE conversation ADD COLUMN {name} {sql_type} DEFAULT NULL")
    for sql in TRIAGE_INDEX_SQL:
        db.execute_sql(sql)


def _remote_actions(db: peewee.SqliteDatabase) -> None:
    """``remote_action``: what the marketplace must still be told (the seller read or closed a conversation
    here), performed by the sync engine when it can, after a restart too (``store.remote_actions``)."""
    from inbox_app.store.remote_actions import RemoteAction

    db.create_tables([RemoteAction], safe=True)


# Search with filters (``store.search``): indexes that let a filter alone answer without reading every
# conversation. (An index in the list's order across statuses was tried and dropped: without statistics
# SQLite preferred walking it whole to sorting a few matches, e.g. 0.5 s for ``order:302-`` at 100,000.)
SEARCH_INDEXES_SQL = (
    "CREATE INDEX IF NOT EXISTS conversation_language ON conversation (language)",
    "CREATE INDEX IF NOT EXISTS conversation_last_message_at ON conversation (last_message_at)",
    "CREATE INDEX IF NOT EXISTS conversation_unread ON conversation (id) WHERE unread = 1",
)


def _search_indexes(db: peewee.SqliteDatabase) -> None:
    """Indexes for the search filters; ``category``/``assignee`` get theirs when the triage schema has added
    the columns (whichever of the two migrations runs last creates them)."""
    for sql in SEARCH_INDEXES_SQL:
        db.execute_sql(sql)
    columns = {column.name for column in db.get_columns("conversation")}
    for name in ("category", "assignee"):
        if name in columns:
            db.execute_sql(f"CREATE INDEX IF NOT EXISTS conversation_{name} ON conversation ({name})")


def _collision_check(db: peewee.SqliteDatabase) -> None:
    """The collision check before send (``sync.collisions``): when a draft was started and the newest message
    then (``draft.started_at``, ``seen_message_id``), carried onto its outbox row with what held it and what
    the seller sent anyway over. Idempotent: a fresh database has the columns already."""
    draft = {column.name for column in db.get_columns("draft")}
    for name, sql_type in (("started_at", "TEXT"), ("seen_message_id", "INTEGER")):
        if name not in draft:
            db.execute_sql(f"ALTER TABLE draft ADD COLUMN {name} {sql_type}")
    item = {column.name for column in db.get_columns("outbox_item")}
    for name, sql_type in (
        ("draft_started_at", "TEXT"),
        ("seen_message_id", "INTEGER"),
        ("held_changes", "TEXT"),
        ("acknowledged", "TEXT NOT NULL DEFAULT '[]'"),
    ):
        if name not in item:
            db.execute_sql(f"ALTER TABLE outbox_item ADD COLUMN {name} {sql_type}")
    _customer_history_index(db)  # the same branch's customer history (issue 14.5), one schema step


def _customer_history_index(db: peewee.SqliteDatabase) -> None:
    """The customer history (``store.customers.history``) finds other customers with an identity of the same
    value under another kind on every thread opened: without this index that is a scan of every identity
    (≈ 90 ms at 100,000 customers here, ≈ 11 ms with it)."""
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS customer_identity_lower_value ON customer_identity (lower(value))"
    )


def _report_episodes(db: peewee.SqliteDatabase) -> None:
    """Stored response episodes for fast reports (``store.report_episodes``): tables, the triggers that mark a
    changed conversation dirty, and every existing conversation marked dirty (the first report computes them)."""
    for sql in REPORT_EPISODES_SQL:
        db.execute_sql(sql)
    db.execute_sql("INSERT OR IGNORE INTO report_dirty (conversation_id) SELECT id FROM conversation")


def _report_period_indexes(db: peewee.SqliteDatabase) -> None:
    """Covering indexes for the report's scans of a period's episodes and first responses (issue 15: the 30-day
    report over 100,000 conversations); see ``store.report_episodes.PERIOD_INDEX_SQL``."""
    for sql in REPORT_PERIOD_INDEX_SQL:
        db.execute_sql(sql)


def _report_episodes_unchanged_updates(db: peewee.SqliteDatabase) -> None:
    """A message update marks its conversation dirty only when a field the episodes read changed (see
    ``report_episodes.MESSAGE_UPDATE_TRIGGER``): the first mail sync rewrites every mail's row with its body."""
    db.execute_sql("DROP TRIGGER IF EXISTS report_dirty_message_au")
    db.execute_sql(MESSAGE_UPDATE_TRIGGER)


# The list order across statuses (``store.search``): a broad filter's first page is read from its head
# instead of sorting every match. Only ever named with INDEXED BY (the planner, without statistics, walked such
# an index whole for narrow filters: 0.5 s for ``order:302-`` at 100,000).
ANY_STATUS_ORDER_INDEX_SQL = (
    "CREATE INDEX IF NOT EXISTS conversation_any_status_order ON conversation "
    "((deadline_at IS NULL), deadline_at, last_message_at DESC, id DESC)"
)


def _search_first_page(db: peewee.SqliteDatabase) -> None:
    """The list-order index across statuses, for the first page of a broad search filter."""
    db.execute_sql(ANY_STATUS_ORDER_INDEX_SQL)


# ``from:`` looks for a part of a customer's name or of one of their addresses: ``LIKE '%…%'`` read every
# conversation and every identity (50-100 ms at 100,000). Trigram indexes over the same columns (external
# content: nothing is stored twice) answer such a LIKE from the index for three characters or more, with the
# same matches (SQLite's LIKE, ASCII case folding); triggers keep them in step with every write.
NAME_TRIGRAM_SQL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS conversation_name_trigram USING fts5(customer_name, "
    "content='conversation', content_rowid='id', tokenize='trigram')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS customer_identity_trigram USING fts5(value, "
    "content='customer_identity', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS conversation_name_trigram_insert AFTER INSERT ON conversation BEGIN "
    "INSERT INTO conversation_name_trigram (rowid, customer_name) VALUES (new.id, new.customer_name); END",
    "CREATE TRIGGER IF NOT EXISTS conversation_name_trigram_delete AFTER DELETE ON conversation BEGIN "
    "INSERT INTO conversation_name_trigram (conversation_name_trigram, rowid, customer_name) "
    "VALUES ('delete', old.id, old.customer_name); END",
    "CREATE TRIGGER IF NOT EXISTS conversation_name_trigram_update AFTER UPDATE OF customer_name ON conversation "
    "BEGIN INSERT INTO conversation_name_trigram (conversation_name_trigram, rowid, customer_name) "
    "VALUES ('delete', old.id, old.customer_name); "
    "INSERT INTO conversation_name_trigram (rowid, customer_name) VALUES (new.id, new.customer_name); END",
    "CREATE TRIGGER IF NOT EXISTS customer_identity_trigram_insert AFTER INSERT ON customer_identity BEGIN "
    "INSERT INTO customer_identity_trigram (rowid, value) VALUES (new.id, new.value); END",
    "CREATE TRIGGER IF NOT EXISTS customer_identity_trigram_delete AFTER DELETE ON customer_identity BEGIN "
    "INSERT INTO customer_identity_trigram (customer_identity_trigram, rowid, value) "
    "VALUES ('delete', old.id, old.value); END",
    "CREATE TRIGGER IF NOT EXISTS customer_identity_trigram_update AFTER UPDATE OF value ON customer_identity "
    "BEGIN INSERT INTO customer_identity_trigram (customer_identity_trigram, rowid, value) "
    "VALUES ('delete', old.id, old.value); "
    "INSERT INTO customer_identity_trigram (rowid, value) VALUES (new.id, new.value); END",
)


def _search_name_trigrams(db: peewee.SqliteDatabase) -> None:
    """Trigram indexes of customer names and addresses for ``from:``, filled from the rows already stored."""
    for sql in NAME_TRIGRAM_SQL:
        db.execute_sql(sql)
    db.execute_sql("INSERT INTO conversation_name_trigram (conversation_name_trigram) VALUES ('rebuild')")
    db.execute_sql("INSERT INTO customer_identity_trigram (customer_identity_trigram) VALUES ('rebuild')")


# The sidebar's counts (``store.conversations.view_counts``) in one pass: grouped by these columns, in this
# order, SQLite reads this index alone and needs no sort (0.3 s at 1,000,000 conversations, where a count per
# view read the table for each account, tag and assignment view: 2.5 s every 30 s on the one store worker).
# It starts with an expression no view's query filters on: led by ``status``, it took the list's queries
# away from ``conversation_list_order`` (a 600,000-row sort for the first page of "All open").
SIDEBAR_COUNTS_INDEX_SQL = (
    "CREATE INDEX IF NOT EXISTS conversation_sidebar_counts ON conversation "
    "((assignee IS NULL), status, account_id, channel_id, assignee)"
)


def _sidebar_counts_index(db: peewee.SqliteDatabase) -> None:
    """An index that holds every column the sidebar counts by (status, account, channel, assignee)."""
    db.execute_sql(SIDEBAR_COUNTS_INDEX_SQL)


# The list order across statuses again, now holding every column a broad filter tests: a filter's whole list
# in list order is a walk of this index alone, no table row read and no sort (``channel:amazon`` at 100,000:
# 127 ms sorting the channel index's matches, 25 ms walking this), and a first page from its head reads no
# table row either. Same name and leading columns as before, so ``INDEXED BY`` keeps naming it.
# ``assignee:`` compares ``lower(assignee)``, which the plain assignee index cannot answer (a full scan).
SEARCH_COVERING_ORDER_SQL = (
    "DROP INDEX IF EXISTS conversation_any_status_order",
    "CREATE INDEX conversation_any_status_order ON conversation ((deadline_at IS NULL), deadline_at, "
    "last_message_at DESC, id DESC, status, channel_id, account_id, language, unread, category, assignee, "
    "customer_id)",
    "CREATE INDEX IF NOT EXISTS conversation_assignee_lower ON conversation (lower(assignee))",
)


def _search_covering_order(db: peewee.SqliteDatabase) -> None:
    """The list-order index across statuses made covering for the search filters, and ``lower(assignee)``."""
    for sql in SEARCH_COVERING_ORDER_SQL:
        db.execute_sql(sql)


def _report_message_by_conversation(db: peewee.SqliteDatabase) -> None:
    """The messages by conversation and time with the fields the reports read, in place of the
    ``(conversation_id, sent_at)`` index (issue 15: the 30-day report over 100,000 conversations); see
    ``store.report_episodes.CONVERSATION_INDEX_SQL``. A fresh database never had the old index (v1 creates
    today's tables)."""
    for sql in REPORT_CONVERSATION_INDEX_SQL:
        db.execute_sql(sql)


# Ordered: MIGRATIONS[n] brings a database from version n to n + 1.
MIGRATIONS: list[Callable[[peewee.SqliteDatabase], None]] = [
    _v1,
    _v2,
    _v3,
    _v4,
    _triage,
    _remote_actions,
    _search_indexes,
    _collision_check,
    _report_episodes,
    _report_period_indexes,
    _report_episodes_unchanged_updates,
    _search_first_page,
    _search_name_trigrams,
    _sidebar_counts_index,
    _search_covering_order,
    _report_message_by_conversation,
]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: peewee.SqliteDatabase) -> int:
    return int(db.execute_sql("PRAGMA user_version").fetchone()[0])


def backup_database(db_path: Path, backup_dir: Path, version: int) -> Path:
    backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = backup_dir / f"inbox-v{version}-{stamp}.sqlite3"
    # Private like the database it copies: created 0600 before SQLite writes into it.
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))
    src = sqlite3.connect(str(db_path))
    try:
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return target


def migrate(db: peewee.SqliteDatabase, db_path: Path, backup_dir: Path) -> int:
    """Bring the database to :data:`SCHEMA_VERSION`; return the version it had before."""
    current = schema_version(db)
    if current > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"This profile uses database version {current}; this program knows up to {SCHEMA_VERSION}. "
            "Please update inbox_app."
        )
    if current == SCHEMA_VERSION:
        return current
    if current > 0:
        path = backup_database(db_path, backup_dir, current)
        log.info("backed up database version %d to %s before migrating", current, path)
    for version in range(current, SCHEMA_VERSION):
        with db.atomic():
            MIGRATIONS[version](db)
            db.execute_sql(f"PRAGMA user_version = {version + 1}")
        log.info("migrated database to version %d", version + 1)
    return current
