"""The one writer of what channels bring: customers, conversations, messages, their derived fields.

Every Message, Conversation, Customer and CustomerIdentity row that comes from a channel (the mail sync, the
marketplace sync, the outbox recording a sent reply, the demo) is inserted or updated here, by
:class:`StoreWriter`. Why one writer: two writers drifted apart before (the single path skipped the greeting
in the snippet, the bulk path did not), so a synced mail's list line changed when the seller changed its status.
Now the row of a message, of a conversation and of a customer is built by one method each, the snippet and the
deadline come from ``domain.conversations.derive_fields`` through one reader (:meth:`StoreWriter.refresh`), and
``tests/unit/test_one_writer.py`` checks that both ways of driving the writer store equal rows.

Two ways to drive it, with the same methods:

* **bulk** (the mail sync's header batches, a marketplace's thread pages): ``begin_batch()`` inside
  ``bulk_transaction()`` reserves ids, rows are queued and written by ``flush_batch()`` with one ``executemany``
  per table. Why plain SQL and reserved ids: building each statement through peewee's query builder costs
  ~100-200 µs, and a first sync of 20,000 mails needs about ten statements per mail, which made the headers
  phase take minutes.
* **single** (no batch begun: ``store.ingest``): the same rows are written at once and SQLite gives the ids.

Two hooks hear of new customer messages, whichever channel and path stored them, so triage cannot be
forgotten by a new channel: :meth:`StoreWriter.inbound_arrived` once an inbound row exists (a mail's headers
are enough: the customer wrote again, so a closed, pending or snoozed conversation reopens at once) and
:meth:`StoreWriter.inbound_stored` once its text is stored (a mail's after its body: the category rules read
the words).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, cast

import peewee

from inbox_app.domain import deadlines
from inbox_app.domain.conversations import (
    SNIPPET_SOURCE,
    DerivedFields,
    IncomingMessage,
    MessageFacts,
    derive_fields,
    identity_value,
    snippet_of,
)
from inbox_app.domain.message_ids import norm_id
from inbox_app.store.blobs import BlobStore
from inbox_app.store.db import database_proxy, is_disk_full, relaxed_transaction
from inbox_app.store.models import (
    Account,
    Channel,
    DeadlinePolicyRow,
    encode_json,
    from_db_time,
    utcnow,
)
from inbox_app.store.models import to_db_time as _to_db_time

# ``models.to_db_time`` memoized: a header batch converts the same few datetimes (date, internal date, "since")
# about nine times per mail, and strftime was a tenth of the headers phase. Equal instants give equal text.
to_db_time = functools.lru_cache(maxsize=4096)(_to_db_time)

#: ``Conversation.extra`` flag: the vendor runs the deadline clock (no ``reply_needed_since``: no deadline).
VENDOR_CLOCK = "vendor_clock"


def _json(value: Any) -> str | None:
    return None if value is None else encode_json(value)


def _references(values: Sequence[str]) -> str | None:
    """A message's References as stored: header-form ids (``domain.message_ids.norm_id``), in their order."""
    return _json([r for r in (norm_id(v) for v in values) if r])


def _time(value: str | None) -> datetime | None:
    return None if value is None else from_db_time(value)


def _db_time(value: datetime | None) -> str | None:
    return None if value is None else to_db_time(value)


# ------------------------------------------------------------------------------------------ channels, policies

_policy_cache: dict[int, deadlines.DeadlinePolicy] = {}


def clear_policy_cache() -> None:
    """Forget resolved policies (call after the user edits policies or a channel's policy)."""
    _policy_cache.clear()


def policy_for_channel(channel: Channel) -> deadlines.DeadlinePolicy:
    cached = _policy_cache.get(channel.id)
    if cached is not None:
        return cached
    policy_id = channel.policy_id
    if policy_id is not None:
        row = DeadlinePolicyRow.get_by_id(policy_id)
        policy = deadlines.DeadlinePolicy.from_dict(row.definition)
    else:
        policy = deadlines.preset_for(channel.kind, channel.marketplace)
    _policy_cache[channel.id] = policy
    return policy


def ensure_channel(account: Account, kind: str, name: str, marketplace: str | None = None) -> Channel:
    channel: Channel
    channel, _created = Channel.get_or_create(
        account=account, kind=kind, marketplace=marketplace, defaults={"name": name}
    )
    return channel


def derive(
    facts: Sequence[MessageFacts],
    channel: Channel,
    *,
    status: str,
    no_response_needed: bool,
    reply_needed_since: datetime | None,
    vendor_clock: bool,
) -> DerivedFields:
    """A conversation's derived fields from its stored state: the one call both refreshes make.

    ``vendor_clock``: ``Conversation.extra[VENDOR_CLOCK]``, the marketplace runs the clock itself (Mirakl's
    ``shop_reply_needed_since``)."""
    return derive_fields(
        facts,
        policy_for_channel(channel),
        status=status,
        no_response_needed=no_response_needed,
        reply_needed_since=reply_needed_since,
        vendor_clock=vendor_clock,
    )


def message_facts(conversation_ids: Sequence[int]) -> dict[int, list[MessageFacts]]:
    """What the derived fields are computed from, per conversation, oldest message first (one query)."""
    found: dict[int, list[MessageFacts]] = {i: [] for i in conversation_ids}
    if not conversation_ids:
        return found
    db: peewee.SqliteDatabase = database_proxy.obj
    for conv_id, direction, sent_at, auto, text, is_read, answered in db.execute_sql(
        # The snippet comes from the first lines of the last message: SNIPPET_SOURCE characters are plenty.
        f"SELECT conversation_id, direction, sent_at, is_auto_reply, substr(text_body, 1, {SNIPPET_SOURCE}), "
        f"is_read, is_answered FROM message WHERE conversation_id IN ({_marks(conversation_ids)}) "
        "ORDER BY conversation_id, sent_at, id",
        tuple(conversation_ids),
    ):
        found[int(conv_id)].append(
            MessageFacts(
                str(direction), from_db_time(sent_at), bool(auto), text or "", bool(is_read), bool(answered)
            )
        )
    return found


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


class StoreWriter:
    """Writes of one account's customers, conversations and messages; bulk or single (see the module docstring).

    In bulk the caller holds the transaction (``bulk_transaction``, one per batch); single writes join the
    caller's transaction or run on their own (each statement autocommits, as peewee's ``create`` did).
    """

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
        # Inbound messages of this batch whose text is stored (for ``inbound_stored`` at the flush), all new
        # inbound rows (for ``inbound_arrived``), and the ids of bodies queued by ``store_body`` (their inbound
        # ones are reported when the bodies are written).
        self._inbound_new: list[int] = []
        self._arrived: list[int] = []
        self._body_ids: list[int] = []
        self._thread_updates: list[tuple[object, ...]] = []  # see update_thread

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
        them, so the next sync simply fetches those mails again. Outbox rows and drafts keep FULL (how the
        pragma is switched: :func:`inbox_app.store.db.relaxed_transaction`).
        """
        with relaxed_transaction():  # BEGIN IMMEDIATE, NORMAL, then a poke of the checkpoint thread
            yield

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
        remote_id: str | None = None,
    ) -> int:
        """A new conversation row (its list fields are derived later by :meth:`refresh`); returns its id."""
        return self._insert(
            "conversation",
            (
                channel_id,
                self.account_id,
                remote_id,
                subject,
                language,
                customer[0] if customer else None,
                customer[1] if customer else "",
                order_id,
                to_db_time(created_at),
                _json(extra or {}),
            ),
        )

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
        html: str | None = None,
        references: Sequence[str] = (),
        is_auto_reply: bool = False,
        problems: Sequence[str] = (),
        log_event: bool = True,
    ) -> int:
        """One message row plus its received/replied event (unless ``log_event`` is false); returns its id.

        A mail known only by its headers comes with placeholder text and ``extra["body_pending"]``; its body
        follows through :meth:`store_body`. In a batch the row and the event are queued and written by
        :meth:`flush_batch` (before COMMIT).
        """
        message_id = self._insert(
            "message",
            (
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
                html,
                norm_id(in_reply_to),
                _references(references),
                int(is_read),
                int(is_answered),
                int(is_auto_reply),
                _json(list(problems)) if problems else None,
                _json(extra),
            ),
        )
        if log_event:
            self._events.append(
                (
                    to_db_time(sent_at),
                    "received" if direction == "in" else "replied",
                    conversation_id,
                    message_id,
                    self.account_id,
                )
            )
            if not self._next_id:
                self.flush_events()
        if direction == "in":
            self._arrived.append(message_id)
            if not extra.get("body_pending"):
                self._inbound_new.append(message_id)
        return message_id

    def add_source(self, message_id: int, raw: bytes) -> None:
        """Keep a message's raw source (the mail as received, a vendor's JSON)."""
        self._insert("message_source", (message_id, raw))

    def add_attachment(
        self,
        message_id: int,
        *,
        filename: str,
        mime_type: str,
        size: int,
        sha256: str | None = None,
        content_id: str | None = None,
        inline: bool = False,
        remote_url: str | None = None,
    ) -> None:
        """An attachment's row: its bytes in the blob store (``sha256``) or at the vendor (``remote_url``)."""
        self._insert(
            "attachment", (message_id, filename, mime_type, size, sha256, content_id, int(inline), remote_url)
        )

    def update_thread(
        self,
        conversation_id: int,
        *,
        remote_id: str,
        subject: str,
        order_id: str | None,
        customer: tuple[int, str] | None,
        reply_needed_since: datetime | None,
        no_response_needed: bool | None,
        extra: dict[str, Any],
    ) -> None:
        """What a marketplace says about a thread it listed again: its id, subject, order, customer, its deadline
        clock (``reply_needed_since``), whether it needs a reply (``None``: the seller's own choice stays).

        A customer already linked and a name already known are kept; written at the batch's flush."""
        self._thread_updates.append(
            (
                remote_id,
                subject,
                order_id,
                customer[0] if customer else None,
                customer[1] if customer else None,
                _db_time(reply_needed_since),
                None if no_response_needed is None else int(no_response_needed),
                _json(extra),
                conversation_id,
            )
        )
        if not self._next_id:
            self._flush_thread_updates()

    def _flush_thread_updates(self) -> None:
        updates, self._thread_updates = self._thread_updates, []
        if updates:
            self.db.cursor().executemany(
                "UPDATE conversation SET remote_id = ?, subject = COALESCE(NULLIF(?, ''), subject), "
                "order_id = COALESCE(?, order_id), customer_id = COALESCE(customer_id, ?), "
                "customer_name = CASE WHEN customer_id IS NULL OR customer_name = '' "
                "THEN COALESCE(?, customer_name) ELSE customer_name END, reply_needed_since = ?, "
                "no_response_needed = COALESCE(?, no_response_needed), extra = ? WHERE id = ?",
                updates,
            )

    def set_remote_id(self, message_id: int, remote_id: str) -> None:
        """Give a message the vendor's id (the vendor's copy of a reply sent from here was recognised)."""
        self._sql("UPDATE message SET remote_id = ? WHERE id = ?", [remote_id, message_id])

    def apply_relay_facts(
        self,
        conversation_id: int,
        *,
        marketplace: str,
        order_id: str | None,
        buyer_name: str | None,
        language: str | None,
        no_response_url: str | None,
        topic: str | None,
        asins: Sequence[str],
    ) -> None:
        """What a marketplace relay mail (Amazon) says about its conversation: the order, the buyer's name
        (also the customer's when it has none), the language, the "no response needed" link, topic and ASINs.
        An order and a language already known are kept."""
        row = self._sql(
            "SELECT customer_id, extra FROM conversation WHERE id = ?", [conversation_id]
        ).fetchone()
        if row is None:
            return
        customer_id, extra_json = row
        extra = dict(json.loads(extra_json or "{}"))
        extra["marketplace"] = marketplace
        if topic:
            extra["topic"] = topic
        if asins:
            extra["asins"] = sorted(set(extra.get("asins", [])) | set(asins))
        self._sql(
            "UPDATE conversation SET order_id = COALESCE(NULLIF(order_id, ''), ?, order_id), "
            "customer_name = COALESCE(NULLIF(?, ''), customer_name), "
            "language = COALESCE(NULLIF(language, ''), ?, language), "
            "no_response_url = COALESCE(?, no_response_url), extra = ? WHERE id = ?",
            [order_id, buyer_name or "", language, no_response_url, _json(extra), conversation_id],
        )
        if buyer_name and customer_id is not None:
            self._sql(
                "UPDATE customer SET name = ? WHERE id = ? AND (name IS NULL OR name = '')",
                [buyer_name, customer_id],
            )

    def write_message(
        self,
        conversation_id: int,
        incoming: IncomingMessage,
        *,
        blobs: BlobStore | None = None,
        extra: dict[str, Any] | None = None,
        log_event: bool = True,
    ) -> int:
        """Store a whole message (text known; not a header-only mail): its row, event, raw source and the
        attachments whose bytes came with it (kept in ``blobs``). ``extra`` replaces ``incoming.extra``."""
        message_id = self.insert_message(
            conversation_id=conversation_id,
            direction=incoming.direction.value,
            remote_id=incoming.remote_id,
            author_name=incoming.author_name,
            author_address=incoming.author_address,
            recipients=incoming.recipients,
            subject=incoming.subject,
            sent_at=incoming.sent_at,
            text=incoming.text,
            html=incoming.html,
            in_reply_to=incoming.in_reply_to,
            references=incoming.references,
            is_read=incoming.is_read,
            is_answered=incoming.is_answered,
            is_auto_reply=incoming.is_auto_reply,
            problems=incoming.problems,
            extra=dict(incoming.extra if extra is None else extra),
            log_event=log_event,
        )
        if incoming.raw is not None:
            self.add_source(message_id, incoming.raw)
        for name, mime_type, data in incoming.attachments:
            sha = blobs.put(data) if blobs is not None and data else None
            self.add_attachment(message_id, filename=name, mime_type=mime_type, size=len(data), sha256=sha)
        if not self._next_id:
            self._report_inbound()
        return message_id

    # ------------------------------------------------------------------ the hooks
    def inbound_arrived(self, message_ids: Sequence[int]) -> None:
        """Called once with the ids of new inbound message rows (inside the writing transaction): the customer
        wrote again, so a closed, pending or snoozed conversation reopens (``store.triage.reopen_on_inbound``)."""
        # imported here: triage reads through MailStore, a subclass of this writer
        from inbox_app.store import triage

        triage.reopen_on_inbound(message_ids)

    def inbound_stored(self, message_ids: Sequence[int]) -> None:
        """Called once with the ids of inbound messages whose text was just stored (inside the writing
        transaction): the category rules read the conversation's subject and first customer words."""
        from inbox_app.store import triage

        conversations: set[int] = set()
        ids = sorted(set(message_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            conversations.update(
                int(r[0])
                for r in self._sql(
                    f"SELECT DISTINCT conversation_id FROM message WHERE id IN ({_marks(chunk)})", chunk
                )
            )
        triage.categorise_conversations(conversations)

    def _report_inbound(self) -> None:
        arrived, self._arrived = self._arrived, []
        if arrived:
            self.inbound_arrived(arrived)
        ids, self._inbound_new = self._inbound_new, []
        if ids:
            self.inbound_stored(ids)

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

    def _insert(self, table: str, row: tuple[object, ...]) -> int:
        """Insert a row: queued with a reserved id in a batch, written at once otherwise; returns its id
        (0 for tables whose rows have no id of their own)."""
        sql = self._SQL[table]
        if table in self._RESERVED:
            if self._next_id:
                row_id = self._reserve(table)
                self._queue(table, (row_id, *row))
                return row_id
            return int(self._sql(sql, (None, *row)).lastrowid)
        if self._next_id:
            self._queue(table, row)
        else:
            self._sql(sql, row)
        return 0

    _RESERVED: ClassVar[frozenset[str]] = frozenset(
        {"customer", "conversation", "message"}
    )  # see begin_batch
    _INSERTS: ClassVar[tuple[tuple[str, str], ...]] = (  # foreign-key order
        ("customer", "INSERT INTO customer (id, name, language, created_at) VALUES (?, ?, ?, ?)"),
        (
            "customer_identity",
            "INSERT INTO customer_identity (customer_id, kind, value, display_name) VALUES (?, ?, ?, ?)",
        ),
        (
            "conversation",
            "INSERT INTO conversation (id, channel_id, account_id, remote_id, subject, snippet, status, language, "
            "customer_id, customer_name, order_id, created_at, unread, message_count, no_response_needed, extra) "
            "VALUES (?, ?, ?, ?, ?, '', 'open', ?, ?, ?, ?, ?, 0, 0, 0, ?)",
        ),
        (
            "message",
            "INSERT INTO message (id, conversation_id, direction, remote_id, author_name, author_address, "
            'recipients, subject, sent_at, received_at, text_body, html_body, in_reply_to, "references", is_read, '
            "is_answered, is_auto_reply, problems, extra) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ),
        ("message_source", "INSERT INTO message_source (message_id, raw) VALUES (?, ?)"),
        (
            "attachment",
            "INSERT INTO attachment (message_id, filename, mime_type, size, sha256, content_id, inline, remote_url) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ),
    )
    _SQL: ClassVar[dict[str, str]] = dict(_INSERTS)

    def flush_batch(self) -> None:
        """Write the batch's queued rows and events (before anything reads them back, and before COMMIT)."""
        rows, self._new_rows = self._new_rows, {}
        cursor = self.db.cursor()
        for table, sql in self._INSERTS:
            if rows.get(table):
                cursor.executemany(sql, rows[table])
        self.flush_events()
        self._flush_thread_updates()
        self._report_inbound()

    def discard_batch(self) -> None:
        """Forget queued rows (their transaction is being rolled back)."""
        self._new_rows, self._events, self._next_id = {}, [], {}
        self._thread_updates, self._inbound_new, self._arrived = [], [], []
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
                _references(references),
                norm_id(in_reply_to),
                int(is_auto_reply),
                _json(list(problems)) if problems else None,
                _json(extra),
                message_id,
            )
        )
        self._sources.append((message_id, raw))
        self._attachments.extend((message_id, *a, None) for a in attachments)
        self._body_ids.append(message_id)
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
        written, self._body_ids = self._body_ids, []
        try:
            with self.db.atomic():
                self._write_bodies(bodies, sources, attachments)
            self._report_bodies(written)
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
        self._report_bodies([m for m in written if m not in failed])
        return failed

    def _report_bodies(self, message_ids: Sequence[int]) -> None:
        """``inbound_stored`` for the inbound ones among messages whose body was just written."""
        ids = sorted(set(message_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            self._inbound_new.extend(
                int(r[0])
                for r in self._sql(
                    f"SELECT id FROM message WHERE direction = 'in' AND id IN ({_marks(chunk)})", chunk
                )
            )
        self._report_inbound()

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
            cursor.executemany(self._SQL["attachment"], attachments)

    def discard_bodies(self) -> None:
        """Forget queued bodies (their transaction is being rolled back)."""
        self._bodies, self._sources, self._attachments = [], [], []
        self._body_facts = {}

    def set_message_extra(self, message_id: int, extra: dict[str, Any]) -> None:
        self._sql("UPDATE message SET extra = ? WHERE id = ?", [_json(extra), message_id])

    def set_conversation_language(self, conversation_id: int, language: str) -> None:
        self._sql(
            "UPDATE conversation SET language = ? WHERE id = ? AND language IS NULL",
            [language, conversation_id],
        )

    # ------------------------------------------------------------------ derived fields
    def _channel(self, channel_id: int) -> Channel:
        channel = self._channel_rows.get(channel_id)
        if channel is None:
            channel = Channel.get_by_id(channel_id)
            self._channel_rows[channel_id] = channel
        return channel

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
        messages = message_facts(ids)
        updates = []
        for conv_id, channel_id, status, no_response, reply_needed, vendor_clock in self._sql(
            "SELECT id, channel_id, status, no_response_needed, reply_needed_since, "
            f"json_extract(extra, '$.{VENDOR_CLOCK}') FROM conversation WHERE id IN ({_marks(ids)})",
            ids,
        ):
            derived = derive(
                messages.get(int(conv_id), []),
                self._channel(int(channel_id)),
                status=str(status),
                no_response_needed=bool(no_response),
                reply_needed_since=_time(reply_needed),
                vendor_clock=bool(vendor_clock),
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
