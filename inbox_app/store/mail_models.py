"""Tables and bulk writes of the mail sync: the subject-threading index and a lean writer for big first syncs.

Why a table and not ``Conversation.extra``: threading by subject asks "which conversation of this account had
this normalized subject with one of these participants since <date>?" once per new mail; a JSON scan over
every conversation would make a 20,000-message first sync quadratic. One row per (message, participant) with
an index on (account, subject, participant) answers it in microseconds.

Why :class:`MailStore` writes with plain SQL: building each statement through peewee's query builder costs
~100-200 µs, and a first sync of 20,000 mails needs about ten statements per mail (message, location, event,
thread keys, conversation, derived fields), which made the headers phase take minutes. The rows written here are
exactly the ones ``store.ingest`` writes (same columns, same JSON encoding, same event kinds), and derived
conversation fields are recomputed with the same domain rules (``domain.deadlines.compute_deadline``), for
many conversations per query.

``create_mail_tables(db)`` is idempotent; the lead's migrations call it, and the sync also calls it before
first use so an older profile works without a schema bump.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import peewee

from inbox_app.domain import deadlines
from inbox_app.domain.conversations import (
    SNIPPET_SOURCE,
    MessageFacts,
    derive_fields,
    identity_value,
    snippet_of,
)
from inbox_app.store.db import BaseModel, database_proxy, is_disk_full, wal_written
from inbox_app.store.ingest import ensure_channel, policy_for_channel
from inbox_app.store.models import (
    Account,
    Channel,
    Conversation,
    UtcDateTimeField,
    encode_json,
    from_db_time,
    utcnow,
)
from inbox_app.store.models import to_db_time as _to_db_time

# ``models.to_db_time`` memoized: a header batch converts the same few datetimes (date, internal date, "since")
# about nine times per mail, and strftime was a tenth of the headers phase. Equal instants give equal text.
to_db_time = functools.lru_cache(maxsize=4096)(_to_db_time)


class MailThreadKey(BaseModel):
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE", index=False)  # first column below
    conversation = peewee.ForeignKeyField(Conversation, on_delete="CASCADE")
    subject = peewee.TextField()  # domain.threading.normalize_subject
    participant = peewee.TextField()  # domain.threading.canonical_address
    at = UtcDateTimeField()

    class Meta:
        table_name = "mail_thread_key"
        indexes = ((("account", "subject", "participant", "at"), False),)


MAIL_MODELS: tuple[type[BaseModel], ...] = (MailThreadKey,)


def create_mail_tables(db: peewee.Database) -> None:
    db.create_tables(MAIL_MODELS, safe=True)


def _json(value: Any) -> str | None:
    return None if value is None else encode_json(value)


def _time(value: str | None) -> datetime | None:
    return None if value is None else from_db_time(value)


def _db_time(value: datetime | None) -> str | None:
    return None if value is None else to_db_time(value)


@dataclass(frozen=True)
class KnownMessage:
    id: int
    conversation_id: int
    body_pending: bool
    # See domain.message_ids: None for rows stored before they were kept (and for replies sent from here), which
    # are then taken as copies of any mail with their Message-ID, as before.
    copy_key: str | None = None
    content_hash: str | None = None
    # Its author and recipients (lower-cased): which of several mails under one Message-ID a reply answers.
    people: frozenset[str] = frozenset()

    def is_copy(self, key: str) -> bool:
        """Whether a mail with this row's Message-ID and header ``key`` may be a copy of this row's mail."""
        return self.copy_key is None or self.copy_key == key


@dataclass(frozen=True)
class BodyTarget:
    """A stored location whose body is still to be written, with what the writer needs to know."""

    location_id: int
    uid: int
    message_id: int
    conversation_id: int
    direction: str
    extra: dict[str, Any]
    channel_kind: str
    conversation_language: str | None


@dataclass(frozen=True)
class LocationState:
    location_id: int
    uid: int
    flags: frozenset[str]  # as last seen on the server
    is_read: bool  # local state
    direction: str
    message_id: int
    conversation_id: int


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


class MailStore:
    """Reads and writes of one account's mail sync. Callers hold the transaction (one per batch)."""

    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self._bodies: list[tuple[object, ...]] = []
        self._sources: list[tuple[int, bytes]] = []
        self._attachments: list[tuple[object, ...]] = []
        # Of the bodies queued in this batch: message id -> (conversation id, text, auto-reply), for
        # :meth:`refresh_after_bodies`.
        self._body_facts: dict[int, tuple[int, str, bool]] = {}
        self._events: list[tuple[object, ...]] = []
        self._channels: dict[tuple[str, str | None], int] = {}
        self._customers: dict[tuple[str, str], tuple[int, str]] = {}
        self._customers_absent: set[tuple[str, str]] = set()  # looked up in this batch and not found
        self._batch_now: str | None = None  # see _now
        self._channel_rows: dict[int, Channel] = {}
        # One header batch's new rows, written by ``flush_batch`` with one executemany per table, with ids
        # reserved by ``begin_batch`` (see there).
        self._next_id: dict[str, int] = {}
        self._new_rows: dict[str, list[tuple[object, ...]]] = {}
        self._thread_keys: dict[
            str, list[tuple[str, str, int]]
        ] = {}  # subject -> (participant, at, conversation)

    @property
    def db(self) -> peewee.SqliteDatabase:
        db: peewee.SqliteDatabase = database_proxy.obj
        return db

    def _sql(self, sql: str, params: Sequence[object] = ()) -> Any:
        return self.db.execute_sql(sql, tuple(params))

    @contextlib.contextmanager
    def bulk_transaction(self) -> Iterator[None]:
        """One batch of the mail sync: a transaction committed with ``PRAGMA synchronous=NORMAL``.

        Why not FULL, as everywhere else (see ``store.db``): every row written here is a copy of what the
        server holds, and the sync's cursor (``SyncState.last_uid``, ``MailLocation.body_fetched``) moves in
        the same transaction. In WAL mode NORMAL stays consistent after any crash and loses nothing when only
        the app dies; a power cut or an OS crash may lose the last commits, but then the cursor is lost with
        them, so the next sync simply fetches those mails again. Outbox rows and drafts keep FULL: the pragma is set on this thread's
        connection before BEGIN (SQLite ignores changes inside a transaction) and put back right after
        COMMIT, and the next FULL commit's fsync of the WAL also makes these earlier frames durable.
        Nested in an outer transaction it is a plain savepoint and leaves the pragma alone.
        """
        db = self.db
        if db.in_transaction():
            with db.atomic():
                yield
            return
        previous = db.execute_sql("PRAGMA synchronous").fetchone()[0]
        db.execute_sql("PRAGMA synchronous = NORMAL")
        try:
            # IMMEDIATE: the batch reads before it writes, and the sync runs on its own connection (the DB
            # worker) next to the UI's; a deferred BEGIN could then fail with SQLITE_BUSY on its first write
            # when another connection committed since its read. IMMEDIATE waits for the lock (busy_timeout).
            with db.atomic("IMMEDIATE"):
                yield
        finally:
            db.execute_sql(f"PRAGMA synchronous = {int(previous)}")
        wal_written()  # a batch is megabytes of log: let the checkpoint thread copy it back now

    # ------------------------------------------------------------------ lookups
    def known_messages(self, remote_ids: Iterable[str]) -> dict[str, KnownMessage]:
        """The first stored message of each Message-ID (what threading by In-Reply-To needs)."""
        return {remote_id: rows[0] for remote_id, rows in self.known_copies(remote_ids).items()}

    def known_copies(self, remote_ids: Iterable[str]) -> dict[str, list[KnownMessage]]:
        """Every stored message of each Message-ID, oldest first: different mails may share one."""
        ids = sorted(set(remote_ids))
        if not ids:
            return {}
        rows = self._sql(
            "SELECT m.remote_id, m.id, m.conversation_id, m.extra, m.author_address, m.recipients FROM message m "
            "JOIN conversation c ON c.id = m.conversation_id "
            f"WHERE c.account_id = ? AND m.remote_id IN ({_marks(ids)}) ORDER BY m.id",
            [self.account_id, *ids],
        ).fetchall()
        found: dict[str, list[KnownMessage]] = {}
        for remote_id, msg_id, conv_id, extra, author, recipients in rows:
            data = json.loads(extra or "{}")
            people = [author or "", *(r for r in json.loads(recipients or "[]") if isinstance(r, str))]
            found.setdefault(remote_id, []).append(
                KnownMessage(
                    int(msg_id),
                    int(conv_id),
                    bool(data.get("body_pending", False)),
                    data.get("copy_key"),
                    data.get("content_hash"),
                    frozenset(p.strip().lower() for p in people if p),
                )
            )
        return found

    def prefetch_thread_keys(self, subjects: Iterable[str], participants: Iterable[str]) -> None:
        """Load this batch's candidate subject keys in one query, so ``find_by_subject`` stays in memory."""
        wanted, people = sorted(set(subjects)), set(participants)
        self._thread_keys = {subject: [] for subject in wanted}
        if not wanted or not people:
            return
        # By subject only, participants filtered here: "subject IN (…) AND participant IN (…)" made SQLite probe
        # the index for every (subject, participant) pair, 250,000 probes for a batch of 500 new mails.
        for subject, participant, at, conversation_id in self._sql(
            "SELECT subject, participant, at, conversation_id FROM mail_thread_key WHERE account_id = ? "
            f"AND subject IN ({_marks(wanted)})",
            [self.account_id, *wanted],
        ):
            if participant in people:
                self._thread_keys[subject].append((participant, at, int(conversation_id)))

    def find_by_subject(self, subject: str, participants: Iterable[str], since: datetime) -> int | None:
        people = sorted(participants)
        if not people:
            return None
        keys = self._thread_keys.get(subject)
        if keys is not None:  # prefetched for this batch, plus the keys the batch added since
            wanted, floor = set(people), to_db_time(since)
            best = max(((at, conv) for p, at, conv in keys if p in wanted and at >= floor), default=None)
            return best[1] if best else None
        row = self._sql(
            "SELECT conversation_id FROM mail_thread_key WHERE account_id = ? AND subject = ? "
            f"AND participant IN ({_marks(people)}) AND at >= ? ORDER BY at DESC LIMIT 1",
            [self.account_id, subject, *people, to_db_time(since)],
        ).fetchone()
        return int(row[0]) if row else None

    def known_uids(self, folder: str, uidvalidity: int, min_uid: int = 1) -> set[int]:
        rows = self._sql(
            "SELECT uid FROM mail_location WHERE account_id = ? AND folder = ? AND uidvalidity = ? AND uid >= ?",
            [self.account_id, folder, uidvalidity, min_uid],
        ).fetchall()
        return {int(r[0]) for r in rows}

    def location_states(self, folder: str, uidvalidity: int) -> list[LocationState]:
        """Every stored location of the folder with its last-known server flags and the local read state."""
        rows = self._sql(
            "SELECT l.id, l.uid, l.flags, m.is_read, m.direction, m.id, m.conversation_id FROM mail_location l "
            "JOIN message m ON m.id = l.message_id WHERE l.account_id = ? AND l.folder = ? AND l.uidvalidity = ?",
            [self.account_id, folder, uidvalidity],
        ).fetchall()
        return [
            LocationState(
                int(r[0]),
                int(r[1]),
                frozenset(json.loads(r[2] or "[]")),
                bool(r[3]),
                str(r[4]),
                int(r[5]),
                int(r[6]),
            )
            for r in rows
        ]

    def locations_of(
        self, remote_id: str, conversation_id: int | None = None
    ) -> list[tuple[int, str, int, frozenset[str]]]:
        """(location id, folder, uid, flags) of every copy of a message (by Message-ID) in this account.

        ``conversation_id`` narrows it to that conversation's mail: another mail that only shares the
        Message-ID (see ``domain.message_ids``) is not a copy.
        """
        where, params = "", [self.account_id, remote_id]
        if conversation_id is not None:
            where, params = " AND m.conversation_id = ?", [*params, conversation_id]
        rows = self._sql(
            "SELECT l.id, l.folder, l.uid, l.flags FROM mail_location l JOIN message m ON m.id = l.message_id "
            "WHERE l.account_id = ? AND m.remote_id = ?" + where,
            params,
        ).fetchall()
        return [(int(r[0]), str(r[1]), int(r[2]), frozenset(json.loads(r[3] or "[]"))) for r in rows]

    def split_copy(self, message_id: int, location_id: int, *, text: str) -> int:
        """Give a location its own message: a different mail stored as a copy of ``message_id`` (same
        Message-ID and header fields, other content). The new row takes the header fields of the one it was
        mistaken for (they are equal by the copy key), its read/answered state from the location's flags, a
        body to follow, and its own received event. Returns the new message's id."""
        flags_json, direction = self._sql(
            "SELECT l.flags, m.direction FROM mail_location l JOIN message m ON m.id = ? WHERE l.id = ?",
            [message_id, location_id],
        ).fetchone()
        flags = set(json.loads(flags_json or "[]"))
        inbound = direction == "in"
        is_read, is_answered = (not inbound) or "\\Seen" in flags, inbound and "\\Answered" in flags
        cursor = self._sql(
            "INSERT INTO message (conversation_id, direction, remote_id, author_name, author_address, recipients, "
            'subject, sent_at, received_at, text_body, html_body, in_reply_to, "references", is_read, is_answered, '
            "is_auto_reply, problems, extra) SELECT conversation_id, direction, remote_id, author_name, "
            "author_address, recipients, subject, sent_at, received_at, ?, NULL, in_reply_to, '[]', ?, ?, 0, NULL, "
            "json_remove(extra, '$.content_hash') FROM message WHERE id = ?",
            [text, int(is_read), int(is_answered), message_id],
        )
        new_id = int(cursor.lastrowid)
        self._sql("UPDATE mail_location SET message_id = ? WHERE id = ?", [new_id, location_id])
        self._sql(
            "INSERT INTO event (at, kind, conversation, message, account, actor, data) "
            "SELECT sent_at, CASE direction WHEN 'in' THEN 'received' ELSE 'replied' END, conversation_id, id, ?, "
            "'', '{}' FROM message WHERE id = ?",
            [self.account_id, new_id],
        )
        return new_id

    def find_copy(self, message_id: int, content: str) -> int | None:
        """Another message of this account with ``message_id``'s Message-ID whose body hashes to ``content``
        (bodies queued in the running batch are not written yet: the caller knows those)."""
        row = self._sql(
            "SELECT m.id FROM message m JOIN conversation c ON c.id = m.conversation_id "
            "WHERE c.account_id = ? AND m.remote_id = (SELECT remote_id FROM message WHERE id = ?) "
            "AND json_extract(m.extra, '$.content_hash') = ? ORDER BY m.id LIMIT 1",
            [self.account_id, message_id, content],
        ).fetchone()
        return int(row[0]) if row else None

    def move_location(self, location_id: int, message_id: int) -> None:
        self._sql("UPDATE mail_location SET message_id = ? WHERE id = ?", [message_id, location_id])

    def set_location_flags(self, location_id: int, flags: Iterable[str]) -> None:
        self._sql("UPDATE mail_location SET flags = ? WHERE id = ?", [_json(sorted(flags)), location_id])

    def delete_locations(self, location_ids: Sequence[int]) -> None:
        for start in range(0, len(location_ids), 500):
            chunk = list(location_ids[start : start + 500])
            self._sql(f"DELETE FROM mail_location WHERE id IN ({_marks(chunk)})", chunk)

    def set_read(self, message_id: int, is_read: bool) -> None:
        self._sql("UPDATE message SET is_read = ? WHERE id = ?", [int(is_read), message_id])

    def set_answered(self, message_id: int, answered: bool) -> None:
        self._sql("UPDATE message SET is_answered = ? WHERE id = ?", [int(answered), message_id])

    # ------------------------------------------------------------------ header phase writes
    def channel_id(self, account: Account, kind: str, name: str, marketplace: str | None) -> int:
        key = (kind, marketplace)
        if key not in self._channels:
            self._channels[key] = int(ensure_channel(account, kind, name, marketplace).id)
        return self._channels[key]

    def prefetch_customers(self, kind: str, values: Iterable[str]) -> None:
        """Look up many identities in one query; ``customer`` then inserts the missing ones without asking."""
        wanted = sorted(
            {identity_value(kind, v) for v in values if v} - {v for k, v in self._customers if k == kind}
        )
        if not wanted:
            return
        found = self._sql(
            "SELECT i.value, c.id, c.name FROM customer_identity i JOIN customer c ON c.id = i.customer_id "
            f"WHERE i.kind = ? AND i.value IN ({_marks(wanted)})",
            [kind, *wanted],
        ).fetchall()
        for value, customer_id, name in found:
            self._customers[(kind, value)] = (int(customer_id), str(name or ""))
        self._customers_absent |= {(kind, v) for v in wanted} - set(self._customers)

    def customer(self, kind: str, value: str, name: str | None, language: str | None) -> tuple[int, str]:
        """``ingest.ensure_customer`` in plain SQL (a first sync meets thousands of customers): (id, name)."""
        value = identity_value(kind, value)
        key = (kind, value)
        cached = self._customers.get(key)
        if cached is not None:
            return cached
        if key in self._customers_absent and self._next_id:
            customer_id = self._reserve("customer")
            self._queue("customer", (customer_id, name or "", language, self._now()))
            self._queue("customer_identity", (customer_id, kind, value, name))
            self._customers_absent.discard(key)
            self._customers[key] = (customer_id, name or "")
            return self._customers[key]
        row = self._sql(
            "SELECT c.id, c.name, c.language FROM customer_identity i JOIN customer c ON c.id = i.customer_id "
            "WHERE i.kind = ? AND i.value = ?",
            [kind, value],
        ).fetchone()
        if row is not None:
            customer_id, current, current_language = int(row[0]), str(row[1] or ""), row[2]
            if (name and not current) or (language and not current_language):
                current = current or (name or "")
                self._sql(
                    "UPDATE customer SET name = ?, language = COALESCE(language, ?) WHERE id = ?",
                    [current, language, customer_id],
                )
        else:
            current = name or ""
            customer_id = int(
                self._sql(
                    "INSERT INTO customer (name, language, created_at) VALUES (?, ?, ?)",
                    [current, language, self._now()],
                ).lastrowid
            )
            self._sql(
                "INSERT INTO customer_identity (customer_id, kind, value, display_name) VALUES (?, ?, ?, ?)",
                [customer_id, kind, value, name],
            )
        self._customers[key] = (customer_id, current)
        return self._customers[key]

    def create_conversation(
        self,
        *,
        channel_id: int,
        subject: str,
        customer: tuple[int, str] | None,
        order_id: str | None,
        language: str | None,
        created_at: datetime,
        extra: dict[str, Any] | None = None,
    ) -> int:
        conversation_id = self._reserve("conversation")
        self._queue(
            "conversation",
            (
                conversation_id,
                channel_id,
                self.account_id,
                subject,
                language,
                customer[0] if customer else None,
                customer[1] if customer else "",
                order_id,
                to_db_time(created_at),
                _json(extra or {}),
            ),
        )
        return conversation_id

    def insert_message(
        self,
        *,
        conversation_id: int,
        direction: str,
        remote_id: str | None,
        author_name: str,
        author_address: str,
        recipients: Sequence[str],
        subject: str,
        sent_at: datetime,
        text: str,
        in_reply_to: str | None,
        is_read: bool,
        extra: dict[str, Any],
        is_answered: bool = False,
        received_at: datetime | None = None,
    ) -> int:
        """One message row plus its received/replied event (as ``ingest.add_message`` logs it).

        The event is queued and written by :meth:`flush_events`, which the caller's batch calls before COMMIT.
        """
        message_id = self._reserve("message")
        self._queue(
            "message",
            (
                message_id,
                conversation_id,
                direction,
                remote_id,
                author_name,
                author_address,
                _json(list(recipients)),
                subject,
                to_db_time(sent_at),
                to_db_time(received_at) if received_at is not None else self._now(),
                text,
                in_reply_to,
                int(is_read),
                int(is_answered),
                _json(extra),
            ),
        )
        self._events.append(
            (
                to_db_time(sent_at),
                "received" if direction == "in" else "replied",
                conversation_id,
                message_id,
                self.account_id,
            )
        )
        return message_id

    # ------------------------------------------------------------------ one header batch
    def begin_batch(self) -> None:
        """Start a header batch: reserve ids after the current maximum of each table this batch inserts into.

        Why: the rows of a batch then go in with one ``executemany`` per table instead of three or four
        statements per mail, each paying the call, the GIL hand-over and the index updates separately. Safe
        because the batch runs inside ``bulk_transaction`` (BEGIN IMMEDIATE): no other connection can insert
        until it commits, and a rolled-back batch simply reserves again. These tables have no AUTOINCREMENT,
        so SQLite itself would hand out the same ids.
        """
        self._next_id = {
            table: int(self._sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]) + 1
            for table in ("customer", "conversation", "message")
        }
        self._new_rows = {}
        self._events = []
        self._customers_absent = set()
        self._batch_now = None

    def _now(self) -> str:
        """Now, as stored: one value per batch (formatting a fresh one per row was a visible cost)."""
        if self._batch_now is None:
            self._batch_now = to_db_time(utcnow())
        return self._batch_now

    def _reserve(self, table: str) -> int:
        if not self._next_id:
            raise RuntimeError("begin_batch() first: new rows are written in batches")
        value = self._next_id[table]
        self._next_id[table] = value + 1
        return value

    def _queue(self, table: str, row: tuple[object, ...]) -> None:
        self._new_rows.setdefault(table, []).append(row)

    _INSERTS = (  # foreign-key order
        ("customer", "INSERT INTO customer (id, name, language, created_at) VALUES (?, ?, ?, ?)"),
        (
            "customer_identity",
            "INSERT INTO customer_identity (customer_id, kind, value, display_name) VALUES (?, ?, ?, ?)",
        ),
        (
            "conversation",
            "INSERT INTO conversation (id, channel_id, account_id, remote_id, subject, snippet, status, language, "
            "customer_id, customer_name, order_id, created_at, unread, message_count, no_response_needed, extra) "
            "VALUES (?, ?, ?, NULL, ?, '', 'open', ?, ?, ?, ?, ?, 0, 0, 0, ?)",
        ),
        (
            "message",
            "INSERT INTO message (id, conversation_id, direction, remote_id, author_name, author_address, "
            'recipients, subject, sent_at, received_at, text_body, html_body, in_reply_to, "references", is_read, '
            "is_answered, is_auto_reply, problems, extra) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, '[]', ?, ?, 0, NULL, ?)",
        ),
        (
            "mail_thread_key",
            "INSERT INTO mail_thread_key (account_id, conversation_id, subject, participant, at) "
            "VALUES (?, ?, ?, ?, ?)",
        ),
    )

    def flush_batch(self) -> None:
        """Write the batch's queued rows and events (before anything reads them back, and before COMMIT)."""
        rows, self._new_rows = self._new_rows, {}
        cursor = self.db.cursor()
        for table, sql in self._INSERTS:
            if rows.get(table):
                cursor.executemany(sql, rows[table])
        self.flush_events()

    def discard_batch(self) -> None:
        """Forget queued rows (their transaction is being rolled back)."""
        self._new_rows, self._events, self._next_id, self._thread_keys = {}, [], {}, {}
        # Ids created by the rolled-back batch (customers, channels) must not be reused as if they existed.
        self._customers, self._channels, self._channel_rows = {}, {}, {}

    def flush_events(self) -> None:
        """Write the events queued by :meth:`insert_message` (one ``executemany``; before the batch commits)."""
        events, self._events = self._events, []
        if events:
            self.db.cursor().executemany(
                "INSERT INTO event (at, kind, conversation, message, account, actor, data) "
                "VALUES (?, ?, ?, ?, ?, '', '{}')",
                events,
            )

    def add_thread_keys(
        self, conversation_id: int, subject: str, participants: Iterable[str], at: datetime
    ) -> None:
        when = to_db_time(at)
        keys = self._thread_keys.setdefault(subject, []) if subject in self._thread_keys else None
        for participant in sorted(participants):
            self._queue("mail_thread_key", (self.account_id, conversation_id, subject, participant, when))
            if keys is not None:
                keys.append((participant, when, conversation_id))

    def add_locations(
        self, folder: str, uidvalidity: int, rows: Iterable[tuple[int, int, list[str], bool]]
    ) -> None:
        """(uid, message id, flags, body_fetched) rows; a (folder, UIDVALIDITY, UID) already stored is kept."""
        self.db.cursor().executemany(
            "INSERT OR IGNORE INTO mail_location (account_id, folder, uidvalidity, uid, message_id, flags, "
            "body_fetched) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (self.account_id, folder, uidvalidity, uid, mid, _json(sorted(flags)), int(done))
                for uid, mid, flags, done in rows
            ],
        )

    # ------------------------------------------------------------------ body phase
    def body_targets(self, folder: str, uidvalidity: int, uids: Sequence[int]) -> dict[int, BodyTarget]:
        if not uids:
            return {}
        rows = self._sql(
            "SELECT l.id, l.uid, m.id, m.conversation_id, m.direction, m.extra, ch.kind, c.language "
            "FROM mail_location l JOIN message m ON m.id = l.message_id "
            "JOIN conversation c ON c.id = m.conversation_id JOIN channel ch ON ch.id = c.channel_id "
            f"WHERE l.account_id = ? AND l.folder = ? AND l.uidvalidity = ? AND l.body_fetched = 0 "
            f"AND l.uid IN ({_marks(uids)})",
            [self.account_id, folder, uidvalidity, *uids],
        ).fetchall()
        return {
            int(r[1]): BodyTarget(
                int(r[0]),
                int(r[1]),
                int(r[2]),
                int(r[3]),
                str(r[4]),
                json.loads(r[5] or "{}"),
                str(r[6]),
                r[7],
            )
            for r in rows
        }

    def store_body(
        self,
        message_id: int,
        *,
        text: str,
        html: str | None,
        references: Sequence[str],
        in_reply_to: str | None,
        is_auto_reply: bool,
        problems: Sequence[str],
        extra: dict[str, Any],
        raw: bytes,
        attachments: Iterable[tuple[str, str, int, str | None, str | None, bool]] = (),
        conversation_id: int | None = None,
    ) -> None:
        """Queue the body, raw source and attachments (name, type, size, sha256, content id, inline) of one message.

        Written by :meth:`flush_bodies` (the caller's batch calls it before committing) with one
        ``executemany`` per table: per-statement overhead was a third of the body writes. A later call for
        the same message (the raw-only fallback after a failure) is written after, so it wins.
        """
        self._bodies.append(
            (
                text,
                html,
                _json(list(references)),
                in_reply_to,
                int(is_auto_reply),
                _json(list(problems)) if problems else None,
                _json(extra),
                message_id,
            )
        )
        self._sources.append((message_id, raw))
        self._attachments.extend((message_id, *a) for a in attachments)
        if conversation_id is not None:
            self._body_facts[message_id] = (conversation_id, text[:SNIPPET_SOURCE], is_auto_reply)

    def flush_bodies(self) -> list[int]:
        """Write what :meth:`store_body` queued (inside the caller's transaction).

        Returns the ids of messages whose rows could not be written (say, a value SQLite refuses to bind);
        nothing of those was written, and the caller stores them raw-only, so one bad mail never fails its
        batch (which would block the sync on every retry). Only then are rows written one message at a time.
        """
        bodies, sources, attachments = self._bodies, self._sources, self._attachments
        self._bodies, self._sources, self._attachments = [], [], []
        try:
            with self.db.atomic():
                self._write_bodies(bodies, sources, attachments)
            return []
        except Exception as exc:  # isolated below, per message, unless no message is to blame
            if is_disk_full(exc):
                raise
        failed: list[int] = []
        for message_id in dict.fromkeys(cast(int, row[-1]) for row in bodies):
            try:
                with self.db.atomic():
                    self._write_bodies(
                        [r for r in bodies if r[-1] == message_id],
                        [r for r in sources if r[0] == message_id],
                        [r for r in attachments if r[0] == message_id],
                    )
            except Exception:  # reported to the caller, which keeps the raw source instead
                failed.append(message_id)
        return failed

    def _write_bodies(
        self,
        bodies: Sequence[tuple[object, ...]],
        sources: Sequence[tuple[int, bytes]],
        attachments: Sequence[tuple[object, ...]],
    ) -> None:
        cursor = self.db.cursor()
        if bodies:
            cursor.executemany(
                'UPDATE message SET text_body = ?, html_body = ?, "references" = ?, '
                "in_reply_to = COALESCE(?, in_reply_to), is_auto_reply = ?, problems = ?, extra = ? WHERE id = ?",
                bodies,
            )
        if sources:
            cursor.executemany(
                "INSERT OR REPLACE INTO message_source (message_id, raw) VALUES (?, ?)", sources
            )
        if attachments:
            cursor.executemany(
                "INSERT INTO attachment (message_id, filename, mime_type, size, sha256, content_id, inline) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                attachments,
            )

    def discard_bodies(self) -> None:
        """Forget queued bodies (their transaction is being rolled back)."""
        self._bodies, self._sources, self._attachments = [], [], []
        self._body_facts = {}

    def mark_fetched(self, location_ids: Sequence[int]) -> None:
        if location_ids:
            self._sql(
                f"UPDATE mail_location SET body_fetched = 1 WHERE id IN ({_marks(location_ids)})",
                list(location_ids),
            )

    def set_message_extra(self, message_id: int, extra: dict[str, Any]) -> None:
        self._sql("UPDATE message SET extra = ? WHERE id = ?", [_json(extra), message_id])

    def set_conversation_language(self, conversation_id: int, language: str) -> None:
        self._sql(
            "UPDATE conversation SET language = ? WHERE id = ? AND language IS NULL",
            [language, conversation_id],
        )

    # ------------------------------------------------------------------ derived fields
    def _policy(self, channel_id: int) -> deadlines.DeadlinePolicy:
        channel = self._channel_rows.get(channel_id)
        if channel is None:
            channel = Channel.get_by_id(channel_id)
            self._channel_rows[channel_id] = channel
        return policy_for_channel(channel)

    def refresh_after_bodies(self, conversation_ids: Iterable[int]) -> None:
        """``refresh`` for the conversations a body batch touched, doing only what bodies can change.

        A body replaces a header-only row's placeholder text, so the snippet changes when the mail is the
        conversation's last; everything else ``refresh`` derives (counts, dates, unread, the deadline) comes from
        the headers, which the header batch refreshed already, except the deadline of a mail that turns out to
        be an auto-reply. Those conversations, and any touched without a body queued here, get the full
        ``refresh``; the others one UPDATE each. (The full refresh of every body batch was a tenth of the
        bodies phase of a first sync.)
        """
        facts, self._body_facts = self._body_facts, {}
        touched = set(conversation_ids)
        full = touched - {conv for conv, _text, _auto in facts.values()}
        full |= {conv for conv, _text, auto in facts.values() if auto}
        self.refresh(full)
        self.db.cursor().executemany(
            "UPDATE conversation SET snippet = ? WHERE id = ? AND ? = "
            "(SELECT id FROM message WHERE conversation_id = ? ORDER BY sent_at DESC, id DESC LIMIT 1)",
            [
                (snippet_of(text), conv, message_id, conv)
                for message_id, (conv, text, _auto) in facts.items()
                if conv not in full
            ],
        )

    def refresh(self, conversation_ids: Iterable[int]) -> None:
        """``ingest.refresh_conversation`` for many conversations with two reads and one batched write."""
        ids = sorted(set(conversation_ids))
        for start in range(0, len(ids), 500):
            self._refresh_chunk(ids[start : start + 500])

    def _refresh_chunk(self, ids: list[int]) -> None:
        if not ids:
            return
        messages: dict[int, list[MessageFacts]] = {i: [] for i in ids}
        for conv_id, direction, sent_at, auto, text, is_read, answered in self._sql(
            # The snippet comes from the first lines of the last message: SNIPPET_SOURCE characters are plenty.
            f"SELECT conversation_id, direction, sent_at, is_auto_reply, substr(text_body, 1, {SNIPPET_SOURCE}), "
            f"is_read, is_answered FROM message WHERE conversation_id IN ({_marks(ids)}) "
            "ORDER BY conversation_id, sent_at, id",
            ids,
        ):
            messages[int(conv_id)].append(
                MessageFacts(
                    str(direction),
                    from_db_time(sent_at),
                    bool(auto),
                    text or "",
                    bool(is_read),
                    bool(answered),
                )
            )
        updates = []
        for conv_id, channel_id, status, no_response, reply_needed in self._sql(
            "SELECT id, channel_id, status, no_response_needed, reply_needed_since "
            f"FROM conversation WHERE id IN ({_marks(ids)})",
            ids,
        ):
            derived = derive_fields(
                messages.get(int(conv_id), []),
                self._policy(int(channel_id)),
                status=str(status),
                no_response_needed=bool(no_response),
                reply_needed_since=_time(reply_needed),
            )
            keep = not derived.has_messages  # no message: the list fields stay as stored
            updates.append(
                (
                    derived.message_count,
                    _db_time(derived.last_message_at),
                    derived.snippet,
                    int(keep),
                    _db_time(derived.last_inbound_at),
                    int(keep),
                    None if derived.unread is None else int(derived.unread),
                    _db_time(derived.deadline_started_at),
                    _db_time(derived.deadline_at),
                    conv_id,
                )
            )
        self.db.cursor().executemany(
            "UPDATE conversation SET message_count = ?, last_message_at = COALESCE(?, last_message_at), "
            "snippet = COALESCE(?, snippet), last_inbound_at = CASE WHEN ? THEN last_inbound_at ELSE ? END, "
            "unread = CASE WHEN ? THEN unread ELSE ? END, "
            "deadline_started_at = ?, deadline_at = ? WHERE id = ?",
            updates,
        )
