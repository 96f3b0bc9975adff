"""Synchronise one IMAP account into the store: headers first, then bodies, then flags and expunges.

Why this shape:

* **Headers first.** The address/subject/date/id header lines plus FLAGS/INTERNALDATE of 20,000 mails are
  ~13 MB against ~300 MB of bodies, so the conversation list is complete (subjects, senders, dates, deadlines)
  long before the bodies arrive. They are fetched as raw header fields, not ENVELOPE, whose pure-Python parsing
  in imapclient was half of the phase (``ImapConnection.fetch_header_fields``).
* **Batches commit with synchronous=NORMAL** (``MailStore.bulk_transaction``): everything here can be fetched
  again and the resume cursor commits with the rows, so only the outbox and drafts pay for FULL.
* **The UI thread never waits on SQLite.** Batch transactions and heavy reads are plain synchronous methods
  (marked "(DB worker)") run with ``await run_db(...)`` on the single "inbox-db" thread (``sync.db_worker``);
  the loop thread (in the window: the Qt UI thread) only does network, publishing and progress.
* **Kill anywhere, resume exactly.** Every batch is one transaction, and the cursor that says "done up to here"
  moves *inside* that transaction: header rows and ``SyncState.last_uid`` together; bodies and
  ``MailLocation.body_fetched`` together. A crash loses at most one uncommitted batch, which the next run
  simply does again; rows are keyed by (account, folder, UIDVALIDITY, UID) and messages by Message-ID, so a
  redo can never double anything.
* **A lost UID map is not a new mailbox.** When UIDVALIDITY changes, stored messages are re-attached to their
  new UIDs by Message-ID (date + size for mails without one); only truly new mails are imported.
* **Nothing the seller saw disappears.** A mail expunged on the server keeps its text locally; only its
  location goes, and an ``expunged`` event records it.
* **Poison messages never block a batch.** A mail that cannot be parsed is stored with its raw source and a
  ``problems`` list; an unexpected exception while storing one mail is logged and the others go on.
* **Flags both ways without a queue.** ``MailLocation.flags`` is the last state seen on the server; a local
  ``Message.is_read`` that disagrees with it is a local change and is pushed (``\\Seen`` added/removed) before
  server changes are pulled (QRESYNC, which brings the expunges in the same command, or CONDSTORE
  ``CHANGEDSINCE`` when offered; else all flags). ``\\Answered`` goes out when a reply is sent from here and
  comes in as ``Message.is_answered``: a mail answered from another client stops its deadline clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

from inbox_app.channels.mail import errors as mail_errors
from inbox_app.channels.mail.amazon_relay import ORDER_ID_RE, marketplace_for_address, parse_amazon
from inbox_app.channels.mail.errors import MailError
from inbox_app.channels.mail.fetch_stream import UidRanges
from inbox_app.channels.mail.imap import FlagChange, FolderStatus, HeaderInfo, ImapConnection, ImapSettings
from inbox_app.channels.mail.mime import ParsedMail
from inbox_app.channels.mail.security import Security
from inbox_app.domain import deadlines
from inbox_app.domain.conversations import Direction
from inbox_app.domain.message_ids import content_hash, copy_key, norm_id
from inbox_app.domain.threading import (
    canonical_address,
    find_thread,
    is_generic_subject,
    normalize_subject,
    participants_of,
)
from inbox_app.i18n import _
from inbox_app.store import search_index
from inbox_app.store.accounts import MailAccountSettings, mail_settings
from inbox_app.store.db import database_proxy, is_disk_full
from inbox_app.store.events import EventKind, log_event
from inbox_app.store.mail_models import BodyTarget, KnownMessage, LocationState, MailStore, create_mail_tables
from inbox_app.store.models import (
    Account,
    MailLocation,
    Message,
    SyncState,
    to_db_time,
)
from inbox_app.sync.credentials import account_password
from inbox_app.sync.db_worker import close_db_connection, run_db
from inbox_app.sync.events import ChangeBus, ChangeEvent
from inbox_app.sync.mail_parsing import attachment_sha, hashed_sha, parse_all
from inbox_app.sync.user_messages import disk_full_message

log = logging.getLogger("inbox_app.sync")

HEADER_BATCH = 500
BODY_BATCH = 250
BODY_PIPELINE = 3  # batches in flight (fetching / parsing) ahead of the one being written
BODY_BATCH_BYTES = 32 * 1024 * 1024  # one FETCH holds at most about this much mail in memory
SEEN = "\\Seen"
ANSWERED = "\\Answered"
PLACEHOLDER_TEXT = "…"  # text of a message whose body has not arrived yet
IDLE_TIMEOUT = 24 * 60  # s; servers drop IDLE after 30 min
POLL_INTERVAL = 60.0
MAX_RESYNCS = 3  # syncs in a row when the folder changed during the last one (see idle_loop)
RECHECK_AFTER = 5.0  # s: IDLE no longer than this when the folder was still changing after MAX_RESYNCS
MAX_BACKOFF = 300.0

Progress = Callable[["SyncProgress"], None]
PROGRESS_MIN_TOTAL = 200  # smaller batches finish before a progress line could be read


@dataclass(frozen=True)
class SyncProgress:
    folder: str  # "" for the indexing phase, which covers every folder
    phase: str  # headers, bodies, flags, indexing
    done: int
    total: int


@dataclass
class SyncReport:
    new_messages: int = 0
    bodies: int = 0
    flag_changes: int = 0
    flags_pushed: int = 0
    expunged: int = 0
    remapped: int = 0
    problems: int = 0
    conversations: set[int] = field(default_factory=set)

    def merge(self, other: SyncReport) -> None:
        self.new_messages += other.new_messages
        self.bodies += other.bodies
        self.flag_changes += other.flag_changes
        self.flags_pushed += other.flags_pushed
        self.expunged += other.expunged
        self.remapped += other.remapped
        self.problems += other.problems
        self.conversations |= other.conversations


def imap_settings_for(settings: MailAccountSettings, password: str) -> ImapSettings:
    s = settings.imap
    disabled = settings.extra.get("imap_disabled_extensions", [])  # e.g. ["QRESYNC"] for a broken server
    return ImapSettings(
        host=s.host,
        port=s.port,
        security=Security(s.security),
        user=s.user,
        password=password,
        disabled_extensions=frozenset(str(x).upper() for x in disabled if isinstance(x, str)),
    )


def arrival_time(header: HeaderInfo) -> datetime:
    """When the mail reached the mailbox: INTERNALDATE (the server's clock), or now if the server gave none."""
    if header.internaldate.timestamp() > 0:  # imap.py says 1970 when INTERNALDATE was missing
        return header.internaldate
    return datetime.now(UTC)


def message_time(header: HeaderInfo) -> datetime:
    """The time a mail is shown with and its deadline clock counts from (``deadlines.clock_time``).

    The sender's Date header where plausible, else INTERNALDATE: a Date of 1900 or 2099 must neither make a
    new mail overdue for a century nor hide it for decades.
    """
    return deadlines.clock_time(header.date, arrival_time(header))


def _copy_key_of(location: MailLocation) -> str | None:
    message: Message | None = location.message
    return None if message is None else dict(message.extra or {}).get("copy_key")


def header_copy_key(header: HeaderInfo) -> str:
    """``message_ids.copy_key`` of a fetched header: equal for copies of one mail in any folder."""
    recipients = [a for _n, a in (*header.to, *header.cc)]
    return copy_key(header.from_address, recipients, header.date, header.subject, norm_id(header.in_reply_to))


# --------------------------------------------------------------------------------------------- threading
class _NewHeader(NamedTuple):
    """What threading needs of a new mail, worked out once per mail of a header batch."""

    participants: frozenset[str]  # domain.threading.participants_of
    subject: str  # domain.threading.normalize_subject


class StoreThreadIndex:
    """``domain.threading.ThreadIndex`` over the store, scoped to one account.

    Message-ID lookups go through a cache filled a batch at a time (one query per batch instead of one per
    mail) and updated as messages are created, so a reply later in the same batch finds its parent.
    """

    def __init__(self, store: MailStore) -> None:
        self.store = store
        self.cache: dict[str, int | None] = {}
        # Message-IDs that several different mails share: (conversation, their people) of each, oldest first.
        self.shared: dict[str, list[tuple[int, frozenset[str]]]] = {}
        # The participants of the mail being threaded (``_create_from_header`` sets them): a reference to a
        # shared Message-ID goes to the conversation of the mail among them that has one of these people.
        self.participants: frozenset[str] = frozenset()

    def learn(self, message_id: str, known: Sequence[KnownMessage]) -> None:
        """What the store holds under ``message_id`` (see ``MailStore.known_copies``)."""
        self.cache[message_id] = known[0].conversation_id if known else None
        conversations = {k.conversation_id for k in known}
        if len(conversations) > 1:
            self.shared[message_id] = [(k.conversation_id, k.people) for k in known]
        else:
            self.shared.pop(message_id, None)

    def prefetch(self, ids: Iterable[str | None]) -> None:
        wanted = sorted({i for i in (norm_id(x) for x in ids) if i and i not in self.cache})
        if not wanted:
            return
        found = self.store.known_copies(wanted)
        for mid in wanted:
            self.learn(mid, found.get(mid, []))

    def remember(
        self, message_id: str | None, conversation_id: int, people: frozenset[str] = frozenset()
    ) -> None:
        if not message_id:
            return
        first = self.cache.get(message_id)
        if first is None:
            self.cache[message_id] = conversation_id
        elif first != conversation_id:  # another mail under a Message-ID already known
            shared = self.shared.setdefault(message_id, [(first, frozenset())])
            shared.append((conversation_id, people))

    def _conversation_of(self, message_id: str) -> int | None:
        shared = self.shared.get(message_id)
        if shared and self.participants:
            for conversation, people in shared:
                if {canonical_address(p) for p in people} & self.participants:
                    return conversation
        return self.cache.get(message_id)

    def find_by_message_ids(self, ids: Sequence[str]) -> int | None:
        wanted = [i for i in (norm_id(x) for x in ids) if i]
        self.prefetch(wanted)
        for mid in wanted:
            conv = self._conversation_of(mid)
            if conv is not None:
                return conv
        return None

    def find_by_subject(
        self, normalized_subject: str, participants: frozenset[str], since: datetime
    ) -> int | None:
        return self.store.find_by_subject(normalized_subject, participants, since)


def _amazon_channel_name(marketplace: str) -> str:
    return "Amazon." + marketplace.partition(".")[2]


def _buyer_from_display(name: str) -> str:
    for suffix in (" - Amazon Marketplace", " - Amazon"):
        if name.lower().endswith(suffix.lower()):
            return name[: -len(suffix)].strip()
    return name.strip()


def _wants_language(target: BodyTarget | None) -> bool:
    """Whether ``_apply_body`` may use the guessed language of this mail (see ``_parse_many``).

    Asked before parsing; a conversation that gets its language from an earlier mail in the meantime only
    makes the guess unused (the write keeps ``language IS NULL`` as its condition).
    """
    return (
        target is not None
        and target.direction == Direction.IN.value
        and target.channel_kind != "amazon"
        and not target.conversation_language
    )


# --------------------------------------------------------------------------------------------- the sync
class MailAccountSync:
    """One mail account, one IMAP connection; ``sync_once`` for headless runs, ``idle_loop`` for the window."""

    def __init__(
        self,
        account: Account,
        *,
        bus: ChangeBus | None = None,
        password: str | None = None,
        body_batch: int | None = None,
    ) -> None:
        self.account = account
        self.account_id: int = account.id
        self.settings = mail_settings(account)
        self.bus = bus or ChangeBus()
        self._password = password
        # Batch sizes can be tuned per account (settings "body_batch"/"header_batch"; the crash tests use small ones).
        self.body_batch = int(body_batch or self.settings.extra.get("body_batch") or BODY_BATCH)
        self.header_batch = int(self.settings.extra.get("header_batch") or HEADER_BATCH)
        self.store = MailStore(self.account_id)
        self.index = StoreThreadIndex(self.store)
        self._conn: ImapConnection | None = None
        own = {canonical_address(a) for a in (self.settings.from_address, self.settings.imap.user) if a}
        own |= {canonical_address(a) for a in self.settings.extra.get("aliases", []) if isinstance(a, str)}
        self._own = frozenset(own)
        self.sent_folder: str | None = None
        create_mail_tables(database_proxy.obj)

    # ------------------------------------------------------------------ connection
    def password(self) -> str:
        if self._password is None:
            self._password = account_password(self.account_id, "imap")
        return self._password

    async def connection(self) -> ImapConnection:
        if self._conn is None:
            conn = ImapConnection(imap_settings_for(self.settings, self.password()))
            try:
                await conn.connect()
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        return self._conn

    async def close(self) -> None:
        """Log out and close the database worker's connection (queued behind its running work)."""
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                await conn.close()
        finally:
            await close_db_connection()

    async def _drop_connection(self) -> None:
        with contextlib.suppress(Exception):
            await self.close()

    async def folders_to_sync(self, conn: ImapConnection) -> list[tuple[str, bool]]:
        """(folder, is_sent) for the configured folders plus the Sent folder."""
        folders = [(name, False) for name in (self.settings.folders or ("INBOX",))]
        if self.sent_folder is None:
            self.sent_folder = await conn.find_sent_folder()
        if self.sent_folder and all(name != self.sent_folder for name, _s in folders):
            folders.append((self.sent_folder, True))
        return [(name, is_sent or name == self.sent_folder) for name, is_sent in folders]

    # ------------------------------------------------------------------ one pass
    async def sync_once(
        self, progress: Progress | None = None, report: SyncReport | None = None
    ) -> SyncReport:
        """Bring every folder up to date once; raises a ``MailError`` when the server cannot be used.

        Pass ``report`` to keep what was done before a failure: it holds committed work only (each batch
        counts into it once its transaction has committed).
        """
        report = SyncReport() if report is None else report
        self.index.cache.clear()  # another process (the outbox, a second window) may have added messages
        try:
            conn = await self.connection()
            for folder, is_sent in await self.folders_to_sync(conn):
                await self._sync_folder(conn, folder, is_sent, progress, report)
        except mail_errors.ConnectionFailed:
            await self._drop_connection()
            raise
        await self._index_for_search(progress)
        return report

    async def _index_for_search(self, progress: Progress | None) -> None:
        """Index what this pass stored (see ``store.search_index``), a chunk per DB-worker call.

        Chunks keep other database work (the outbox, a second account) from waiting behind one long
        transaction; a kill between chunks leaves the rest queued for the next pass or the next search.
        """
        total = await run_db(search_index.pending_count)
        done = 0
        while True:
            count = await run_db(search_index.index_chunk)
            if count == 0:
                return
            done += count
            if progress:
                progress(SyncProgress("", "indexing", done, max(total, done)))

    async def _sync_folder(
        self, conn: ImapConnection, folder: str, is_sent: bool, progress: Progress | None, report: SyncReport
    ) -> None:
        status = await conn.select(folder)
        state = await run_db(self._load_state, folder)
        if state.uidvalidity is not None and state.uidvalidity != status.uidvalidity:
            await self._remap(conn, folder, status, state, report)
        first_sync = state.last_uid == 0 and state.highest_modseq is None
        await self._headers_phase(conn, folder, status, state, is_sent, report, progress)
        await self._bodies_phase(conn, folder, status, report, progress)
        expunges_seen = await self._flags_phase(conn, folder, status, state, first_sync, report, progress)
        if not expunges_seen:
            await self._expunge_phase(conn, folder, status, report)
        await run_db(self._mark_success, state.id)

    def _load_state(self, folder: str) -> SyncState:
        """(DB worker) The folder's sync cursor, created on its first sync."""
        state: SyncState = SyncState.get_or_create(account=self.account_id, key=folder)[0]
        return state

    async def _changed_since_sync(self, folder: str, status: FolderStatus) -> bool:
        """Whether the folder changed after the sync looked at it (its HIGHESTMODSEQ moved on): such a change
        is already counted in the SELECT before IDLE, so IDLE would stay silent about it."""
        if status.highestmodseq is None:
            return False
        state = await run_db(self._load_state, folder)
        return state.highest_modseq is not None and status.highestmodseq > state.highest_modseq

    @staticmethod
    def _mark_success(state_id: int) -> None:
        """(DB worker)"""
        SyncState.update(last_success_at=datetime.now(UTC), last_error=None).where(
            SyncState.id == state_id
        ).execute()

    def _publish(self, kind: str, conversations: Iterable[int]) -> None:
        ids = frozenset(conversations)
        if ids:
            self.bus.publish(ChangeEvent(kind, ids, self.account_id))

    # ------------------------------------------------------------------ headers
    async def _headers_phase(
        self,
        conn: ImapConnection,
        folder: str,
        status: FolderStatus,
        state: SyncState,
        is_sent: bool,
        report: SyncReport,
        progress: Progress | None,
    ) -> None:
        if state.uidvalidity is None:
            state.uidvalidity = status.uidvalidity
            await run_db(state.save)
        if status.uidnext and state.last_uid >= status.uidnext - 1 and state.last_uid > 0:
            return
        uids = await conn.search_uids(state.last_uid + 1)
        known = await run_db(self.store.known_uids, folder, status.uidvalidity, state.last_uid + 1)
        todo = [u for u in uids if u not in known]
        batches = [uids[i : i + self.header_batch] for i in range(0, len(uids), self.header_batch)]
        done = 0

        async def fetch(batch: list[int]) -> list[HeaderInfo]:
            wanted = [u for u in batch if u not in known]
            return await conn.fetch_header_fields(wanted) if wanted else []

        # Pipeline: the next FETCH runs in the connection's thread while this batch is written.
        pending = asyncio.ensure_future(fetch(batches[0])) if batches else None
        try:
            for index, batch in enumerate(batches):
                assert pending is not None
                headers = await pending
                pending = (
                    asyncio.ensure_future(fetch(batches[index + 1])) if index + 1 < len(batches) else None
                )
                # The write runs on the DB worker while the next FETCH is in flight (see ``db_worker``).
                touched = await run_db(
                    self._store_headers, folder, status.uidvalidity, headers, max(batch), is_sent, report
                )
                done += len([u for u in batch if u not in known])
                self._publish("conversations", touched)
                if progress:
                    progress(SyncProgress(folder, "headers", done, len(todo)))
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending

    def _store_headers(
        self,
        folder: str,
        uidvalidity: int,
        headers: Sequence[HeaderInfo],
        last_uid: int,
        is_sent: bool,
        report: SyncReport,
    ) -> set[int]:
        """(DB worker) One header batch and the folder's cursor, in one transaction."""
        touched: set[int] = set()
        batch = SyncReport()  # counted into ``report`` once committed
        try:
            self._write_header_batch(folder, uidvalidity, headers, last_uid, is_sent, batch, touched)
        except BaseException:
            self.store.discard_batch()  # its ids and cached customers died with the rolled-back transaction
            self.index.cache.clear()
            raise
        batch.conversations |= touched
        report.merge(batch)
        return touched

    def _write_header_batch(
        self,
        folder: str,
        uidvalidity: int,
        headers: Sequence[HeaderInfo],
        last_uid: int,
        is_sent: bool,
        report: SyncReport,
        touched: set[int],
    ) -> None:
        with self.store.bulk_transaction():
            self.store.begin_batch()  # also drops anything left by a batch that was rolled back
            ids = [norm_id(h.message_id) for h in headers]
            keys = {h.uid: header_copy_key(h) for h in headers}
            known = self.store.known_copies(i for i in ids if i)

            def copy_of(header: HeaderInfo, mid: str | None) -> KnownMessage | None:
                """The stored mail this one may be a copy of: same Message-ID and header fields."""
                candidates = known.get(mid, []) if mid else []
                return next((k for k in candidates if k.is_copy(keys[header.uid])), None)

            # What threading needs of each new mail, worked out once (it was done up to three times per mail).
            new = {
                h.uid: _NewHeader(
                    participants_of(h.from_address, h.to, h.cc, self._own), normalize_subject(h.subject)
                )
                for h, mid in zip(headers, ids, strict=True)
                if copy_of(h, mid) is None
            }
            self._prefetch_for_batch([h for h in headers if h.uid in new], new)
            for mid in ids:  # the lookup above answers the thread index too: one query instead of two
                if mid:
                    self.index.learn(mid, known.get(mid, []))
            self.index.prefetch([h.in_reply_to for h in headers])
            locations: list[tuple[int, int, list[str], bool]] = []
            for header, msg_id in zip(headers, ids, strict=True):
                existing = copy_of(header, msg_id)
                if existing is None:
                    message_id, conv_id = self._create_from_header(
                        header, msg_id, is_sent, new[header.uid], keys[header.uid]
                    )
                    if msg_id:
                        known.setdefault(msg_id, []).append(
                            KnownMessage(message_id, conv_id, True, keys[header.uid])
                        )
                    body_fetched = False
                    report.new_messages += 1
                else:
                    message_id, conv_id = existing.id, existing.conversation_id
                    # A body to compare with means this copy's body is fetched and compared (_store_bodies): a
                    # different mail under the same Message-ID and headers is then split off, never lost.
                    body_fetched = not existing.body_pending and existing.content_hash is None
                locations.append((header.uid, message_id, sorted(header.flags), body_fetched))
                touched.add(conv_id)
            self.store.flush_batch()
            self.store.add_locations(folder, uidvalidity, locations)
            SyncState.update(last_uid=last_uid, uidvalidity=uidvalidity).where(
                (SyncState.account == self.account_id)
                & (SyncState.key == folder)
                & (SyncState.last_uid < last_uid)
            ).execute()
            self.store.refresh(touched)

    def _prefetch_for_batch(self, new: Sequence[HeaderInfo], facts: dict[int, _NewHeader]) -> None:
        """One query each for the customers and subject keys the batch's new mails may meet (see MailStore)."""
        addresses = {
            a
            for h in new
            for a in (h.from_address, *(x for _n, x in h.to), *(x for _n, x in h.reply_to))
            if a
        }
        self.store.prefetch_customers("email", addresses)
        self.store.prefetch_customers("amazon_alias", {a.strip().lower() for a in addresses})
        self.store.prefetch_thread_keys(
            {f.subject for f in facts.values()}, {p for f in facts.values() for p in f.participants}
        )

    def _relay_for(self, header: HeaderInfo, outbound: bool) -> str | None:
        candidates = (
            [a for _n, a in header.to]
            if outbound
            else [header.from_address, *(a for _n, a in header.reply_to)]
        )
        for address in candidates:
            if address and marketplace_for_address(address):
                return address.strip().lower()
        return None

    def _create_from_header(
        self, header: HeaderInfo, msg_id: str | None, is_sent: bool, facts: _NewHeader, key: str
    ) -> tuple[int, int]:
        """Store a message known only by its headers (body to follow); returns (message id, conversation id)."""
        outbound = is_sent or canonical_address(header.from_address) in self._own
        relay = self._relay_for(header, outbound)
        sent_at = message_time(header)
        participants = facts.participants
        self.index.participants = participants
        conv_id = find_thread(
            self.index,
            # Not by its own Message-ID: a stored mail with that id is not a copy of this one (copies never get
            # here), so its conversation says nothing about this mail's.
            message_id=None,
            in_reply_to=header.in_reply_to,
            references=(),
            subject=header.subject,
            participants=participants,
            date=sent_at,
            normalized_subject=facts.subject,
        )
        if conv_id is None:
            conv_id = self._new_conversation(header, outbound, relay, sent_at)
        extra: dict[str, Any] = {
            "body_pending": True,
            "size": header.size,
            "internaldate": to_db_time(header.internaldate),
            "reply_to": [[n, a] for n, a in header.reply_to],
            "copy_key": key,
        }
        if header.date is not None and header.date != sent_at:  # kept, not believed (see message_time)
            extra["date_header"] = to_db_time(header.date)
        if relay:
            extra["relay_address"] = relay
        recipients = [a for _n, a in (*header.to, *header.cc)]
        message_id = self.store.insert_message(
            conversation_id=conv_id,
            direction=Direction.OUT.value if outbound else Direction.IN.value,
            remote_id=msg_id,
            author_name=header.from_name,
            author_address=header.from_address,
            recipients=recipients,
            subject=header.subject,
            sent_at=sent_at,
            received_at=arrival_time(header),
            text=PLACEHOLDER_TEXT,
            in_reply_to=norm_id(header.in_reply_to),
            is_read=True if outbound else SEEN in header.flags,
            is_answered=not outbound and ANSWERED in header.flags,
            extra=extra,
        )
        people = frozenset(a.strip().lower() for a in (header.from_address, *recipients) if a)
        self.index.remember(msg_id, conv_id, people)
        if participants and not is_generic_subject(facts.subject):
            self.store.add_thread_keys(conv_id, facts.subject, participants, sent_at)
        return message_id, conv_id

    def _new_conversation(
        self, header: HeaderInfo, outbound: bool, relay: str | None, sent_at: datetime
    ) -> int:
        account = self.account
        if relay:
            found = marketplace_for_address(relay)
            marketplace, language = found if found else ("amazon.com", "en")
            channel_id = self.store.channel_id(
                account, "amazon", _amazon_channel_name(marketplace), marketplace
            )
            buyer = "" if outbound else _buyer_from_display(header.from_name)
            customer = self.store.customer("amazon_alias", relay, buyer or None, language)
            order = ORDER_ID_RE.search(header.subject or "")
            return self.store.create_conversation(
                channel_id=channel_id,
                subject=header.subject,
                customer=customer,
                order_id=order.group(1) if order else None,
                language=language,
                created_at=sent_at,
                extra={"marketplace": marketplace},
            )
        channel_id = self.store.channel_id(account, "email", self.settings.from_address or account.name, None)
        if outbound:
            counterpart = next(
                ((n, a) for n, a in header.to if canonical_address(a) not in self._own), ("", "")
            )
        else:
            counterpart = (header.from_name, header.from_address)
        email_customer: tuple[int, str] | None = (
            self.store.customer("email", counterpart[1], counterpart[0] or None, None)
            if counterpart[1]
            else None
        )
        return self.store.create_conversation(
            channel_id=channel_id,
            subject=header.subject,
            customer=email_customer,
            order_id=None,
            language=None,
            created_at=sent_at,
        )

    # ------------------------------------------------------------------ bodies
    def _pending_bodies(self, folder: str, uidvalidity: int) -> list[tuple[int, int]]:
        """(DB worker) (uid, size) of locations in ``folder`` whose body has not been stored yet, by UID."""
        rows = database_proxy.obj.execute_sql(
            "SELECT l.uid, json_extract(m.extra, '$.size') FROM mail_location l JOIN message m ON m.id = l.message_id "
            "WHERE l.account_id = ? AND l.folder = ? AND l.uidvalidity = ? AND l.body_fetched = 0 ORDER BY l.uid",
            (self.account_id, folder, uidvalidity),
        ).fetchall()
        return [(int(uid), int(size or 0)) for uid, size in rows]

    def _body_batches(self, pending: Sequence[tuple[int, int]]) -> list[list[int]]:
        batches: list[list[int]] = []
        current: list[int] = []
        size = 0
        for uid, length in pending:
            if current and (len(current) >= self.body_batch or size + length > BODY_BATCH_BYTES):
                batches.append(current)
                current, size = [], 0
            current.append(uid)
            size += length
        if current:
            batches.append(current)
        return batches

    async def _bodies_phase(
        self,
        conn: ImapConnection,
        folder: str,
        status: FolderStatus,
        report: SyncReport,
        progress: Progress | None,
    ) -> None:
        pending = await run_db(self._pending_bodies, folder, status.uidvalidity)
        if not pending:
            return
        done = 0
        batches = self._body_batches(pending)

        async def fetch_and_parse(batch: list[int]) -> list[tuple[int, bytes, Any, Any, Any]]:
            rows = await conn.fetch_bodies(batch)
            targets = await run_db(
                self.store.body_targets, folder, status.uidvalidity, [uid for uid, _r in rows]
            )
            languages = [_wants_language(targets.get(uid)) for uid, _r in rows]
            # Parsing is pure CPU: in worker processes, off the event loop, so the window stays responsive.
            parsed = await parse_all([raw for _u, raw in rows], languages)
            return [(uid, raw, *p) for (uid, raw), p in zip(rows, parsed, strict=True)]

        # Pipeline of BODY_PIPELINE batches: FETCH (the connection's thread), parse (worker processes) and the
        # database write (the DB worker) of different batches overlap. Writes stay in UID order.
        in_flight: deque[asyncio.Future[list[tuple[int, bytes, Any, Any, Any]]]] = deque()
        queue = deque(batches)
        try:
            while queue or in_flight:
                while queue and len(in_flight) < BODY_PIPELINE:
                    in_flight.append(asyncio.ensure_future(fetch_and_parse(queue.popleft())))
                rows = await in_flight.popleft()
                touched = await run_db(self._store_bodies, folder, status.uidvalidity, rows, report)
                # UIDs that vanished between SEARCH and FETCH stay pending; the expunge phase removes them.
                done += len(rows)
                self._publish("conversations", touched)
                if progress:
                    progress(SyncProgress(folder, "bodies", done, len(pending)))
        finally:
            for future in in_flight:
                future.cancel()
            for future in in_flight:
                with contextlib.suppress(BaseException):
                    await future

    def _store_bodies(
        self,
        folder: str,
        uidvalidity: int,
        rows: Sequence[tuple[int, bytes, ParsedMail | None, str | None, str | None]],
        report: SyncReport,
    ) -> set[int]:
        """(DB worker) One body batch and its ``body_fetched`` marks, in one transaction."""
        touched: set[int] = set()
        final, report = report, SyncReport()  # counted into the caller's report once committed
        with self.store.bulk_transaction():
            self.store.discard_bodies()  # anything left by a batch that was rolled back is not ours to write
            targets = self.store.body_targets(folder, uidvalidity, [r[0] for r in rows])
            fetched: list[int] = []
            stored: dict[
                int, tuple[BodyTarget, bytes, bool]
            ] = {}  # message id -> (target, raw, had problems)
            hashes: dict[int, str] = {}  # message id -> content hash, of the bodies stored in this batch
            split: set[int] = set()  # conversations that got a message split off (counts change)
            variants: dict[int, dict[str, int]] = {}  # message id -> content hash -> message split off it
            for uid, raw, parsed, error, language in rows:
                target = targets.get(uid)
                if target is None:
                    continue
                fingerprint = content_hash(raw)
                pending = bool(target.extra.get("body_pending")) and target.message_id not in stored
                if not pending:  # a copy of a stored mail by Message-ID and headers: is the content the same?
                    reference = hashes.get(target.message_id) or target.extra.get("content_hash")
                    if reference is not None and reference != fingerprint:
                        # Not a copy of that mail; maybe of another one under the same Message-ID, else new.
                        first = target.message_id
                        same = variants.get(first, {}).get(fingerprint)
                        same = same or self.store.find_copy(first, fingerprint)
                        if same is not None:
                            self.store.move_location(target.location_id, same)
                        else:
                            target = self._split_off(target, folder, uid)
                            variants.setdefault(first, {})[fingerprint] = target.message_id
                            split.add(target.conversation_id)
                            report.new_messages += 1
                            pending = True
                if pending:
                    target = replace(target, extra={**target.extra, "content_hash": fingerprint})
                    hashes[target.message_id] = fingerprint
                    try:
                        # No savepoint per mail (it cost 10 % of the phase): _apply_body does its fallible work
                        # first and writes last, and a failure is overwritten below with the raw-only row.
                        problems = self._apply_body(target, raw, parsed, error, language)
                    except Exception as exc:  # one bad mail must not stop the batch: keep it raw and flagged
                        if is_disk_full(exc):
                            raise  # not the mail's fault: the batch is redone once there is space
                        log.exception("storing the body of UID %s in %s failed", uid, folder)
                        problems = [f"The message could not be stored ({type(exc).__name__})."]
                        self._store_raw_only(target, raw, problems[0])
                    stored[target.message_id] = (target, raw, bool(problems))
                    if problems:
                        report.problems += 1
                    report.bodies += 1
                fetched.append(target.location_id)
                touched.add(target.conversation_id)
            # Queued by store_body: one executemany per table. Rows SQLite refuses are kept raw-only instead.
            for message_id in self.store.flush_bodies():
                target, raw, had_problems = stored[message_id]
                log.error("the body of message %s could not be written; keeping its raw source", message_id)
                self._store_raw_only(target, raw, "The message could not be stored (database refused it).")
                report.problems += 0 if had_problems else 1
            if self.store.flush_bodies():
                raise RuntimeError(
                    "raw-only rows could not be written"
                )  # the batch is rolled back and retried
            self.store.mark_fetched(fetched)
            self.store.refresh_after_bodies(touched)
            self.store.refresh(split)
        report.conversations |= touched
        final.merge(report)
        return touched

    def _split_off(self, target: BodyTarget, folder: str, uid: int) -> BodyTarget:
        """A mail fetched as a copy turned out to differ from the one it shares its Message-ID with: it gets
        its own message (in the same conversation: its header fields are the same), the body follows."""
        log.info(
            "UID %s in %s shares its Message-ID with message %s but not its content: stored on its own",
            uid,
            folder,
            target.message_id,
        )
        message_id = self.store.split_copy(target.message_id, target.location_id, text=PLACEHOLDER_TEXT)
        extra = {k: v for k, v in target.extra.items() if k != "content_hash"}
        extra["body_pending"] = True
        return replace(target, message_id=message_id, extra=extra)

    def _store_raw_only(self, target: BodyTarget, raw: bytes, problem: str) -> None:
        extra = dict(target.extra)
        extra.pop("body_pending", None)
        self.store.store_body(
            target.message_id,
            text=raw[:20000].decode("utf-8", "replace"),
            html=None,
            references=(),
            in_reply_to=None,
            is_auto_reply=False,
            problems=[problem],
            extra=extra,
            raw=raw,
            conversation_id=target.conversation_id,
        )

    def _apply_body(
        self,
        target: BodyTarget,
        raw: bytes,
        parsed: ParsedMail | None,
        error: str | None,
        language: str | None = None,
    ) -> list[str]:
        """Write one body; returns its problems (empty when it parsed cleanly)."""
        extra = dict(target.extra)
        extra.pop("body_pending", None)
        if parsed is None:
            problems = [error or "unreadable"]
            self.store.store_body(
                target.message_id,
                text=raw[:20000].decode("utf-8", "replace"),
                html=None,
                references=(),
                in_reply_to=None,
                is_auto_reply=False,
                problems=problems,
                extra=extra,
                raw=raw,
                conversation_id=target.conversation_id,
            )
            return problems
        if parsed.reply_to:
            extra["reply_to"] = [[n, a] for n, a in parsed.reply_to]
        attachments = []
        for att in parsed.attachments:
            # Only the hash: the file is written from the raw source when first needed (see mail_parsing).
            size = att.size or (0 if hashed_sha(att.data) else len(att.data))
            attachments.append(
                (att.filename, att.mime_type, size, attachment_sha(att.data), att.content_id, att.inline)
            )
        inbound = target.direction == Direction.IN.value
        if inbound and target.channel_kind == "amazon":
            # Before store_body: it adds relay/body fields to ``extra``, and the row is queued with its final form.
            self._apply_amazon(target.conversation_id, parsed, extra)
        self.store.store_body(
            target.message_id,
            text=parsed.text_body,
            html=parsed.html_body,
            references=[r for r in (norm_id(x) for x in parsed.references) if r],
            in_reply_to=norm_id(parsed.in_reply_to),
            is_auto_reply=parsed.is_auto_reply,
            problems=list(parsed.problems),
            extra=extra,
            raw=raw,
            attachments=attachments,
            conversation_id=target.conversation_id,
        )
        if inbound and target.channel_kind != "amazon" and not target.conversation_language and language:
            self.store.set_conversation_language(target.conversation_id, language)
        return list(parsed.problems)

    def _apply_amazon(self, conversation_id: int, parsed: ParsedMail, extra: dict[str, Any]) -> None:
        amazon = parse_amazon(parsed)
        if amazon is None:
            return
        extra["relay_address"] = amazon.relay_address
        if amazon.body_text:
            extra["amazon_body"] = amazon.body_text
        self.store.apply_relay_facts(
            conversation_id,
            marketplace=amazon.marketplace,
            order_id=amazon.order_id,
            buyer_name=amazon.buyer_name,
            language=amazon.language,
            no_response_url=amazon.no_response_needed_url,
            topic=amazon.topic,
            asins=amazon.asins,
        )

    # ------------------------------------------------------------------ flags
    async def _flags_phase(
        self,
        conn: ImapConnection,
        folder: str,
        status: FolderStatus,
        state: SyncState,
        first_sync: bool,
        report: SyncReport,
        progress: Progress | None,
    ) -> bool:
        """Push local read states, pull the server's flag changes; True if expunges were pulled too (QRESYNC).

        With QRESYNC and a stored MODSEQ one command brings both the changed flags and the expunged UIDs, so
        the expunge phase need not list every UID of the folder. The expunges are forgotten before the MODSEQ
        cursor moves: a kill in between only repeats the same, idempotent, work.
        """
        await self._push_flags(conn, folder, status.uidvalidity, report)
        base = await run_db(self._stored_modseq, state.id)
        if base is None and first_sync and status.highestmodseq is not None:
            base = status.highestmodseq  # headers were fetched after SELECT: only later changes are missing
        vanished: UidRanges | None = None
        if conn.qresync and base is not None:
            changes, vanished = await conn.changes_since(base)
            log.debug("%s: flag changes and expunges since MODSEQ %s by QRESYNC", folder, base)
        elif conn.condstore and base is not None:
            changes = await conn.changed_since(base)
        else:
            changes = await conn.all_flags()
        touched = await run_db(
            self._apply_flag_changes,
            folder,
            status.uidvalidity,
            changes,
            vanished,
            report,
            state.id,
            status.highestmodseq,
        )
        self._publish("flags", touched)
        if progress:
            progress(SyncProgress(folder, "flags", len(changes), len(changes)))
        return vanished is not None

    @staticmethod
    def _stored_modseq(state_id: int) -> int | None:
        """(DB worker)"""
        modseq: int | None = SyncState.get_by_id(state_id).highest_modseq
        return modseq

    async def _push_flags(
        self, conn: ImapConnection, folder: str, uidvalidity: int, report: SyncReport
    ) -> None:
        add: list[LocationState] = []
        remove: list[LocationState] = []
        for loc in await run_db(self.store.location_states, folder, uidvalidity):
            seen = SEEN in loc.flags
            if loc.is_read and not seen:
                add.append(loc)
            elif not loc.is_read and seen and loc.direction == Direction.IN.value:
                remove.append(loc)
        if add:
            await conn.add_flags([loc.uid for loc in add], [SEEN])
        if remove:
            await conn.remove_flags([loc.uid for loc in remove], [SEEN])
        if add or remove:
            await run_db(self._record_pushed, add, remove)
            report.flags_pushed += len(add) + len(remove)

    def _record_pushed(self, add: Sequence[LocationState], remove: Sequence[LocationState]) -> None:
        """(DB worker) The server now holds the local read state: remember it as the last seen flags."""
        with database_proxy.obj.atomic("IMMEDIATE"):  # see MailStore.bulk_transaction
            for loc in add:
                self.store.set_location_flags(loc.location_id, loc.flags | {SEEN})
            for loc in remove:
                self.store.set_location_flags(loc.location_id, loc.flags - {SEEN})

    def _apply_flag_changes(
        self,
        folder: str,
        uidvalidity: int,
        changes: Sequence[FlagChange],
        vanished: UidRanges | None,
        report: SyncReport,
        state_id: int,
        highest_modseq: int | None,
    ) -> set[int]:
        """(DB worker) Pull the server's flag changes (and QRESYNC's expunges), then move the MODSEQ cursor."""
        touched = self._write_flag_changes(folder, uidvalidity, changes, report)
        if vanished:
            touched |= self._forget_gone(folder, uidvalidity, vanished.__contains__, report)
        SyncState.update(highest_modseq=highest_modseq).where(SyncState.id == state_id).execute()
        return touched

    def _write_flag_changes(
        self, folder: str, uidvalidity: int, changes: Sequence[FlagChange], report: SyncReport
    ) -> set[int]:
        if not changes:
            return set()
        by_uid = {c.uid: c for c in changes}
        touched: set[int] = set()
        changed = 0  # counted into the report once committed
        with database_proxy.obj.atomic("IMMEDIATE"):  # see MailStore.bulk_transaction
            for loc in self.store.location_states(folder, uidvalidity):
                change = by_uid.get(loc.uid)
                if change is None:
                    continue
                new_flags = change.flags - {"\\Recent"}
                if new_flags == loc.flags - {"\\Recent"}:
                    continue
                self.store.set_location_flags(loc.location_id, new_flags)
                seen = SEEN in new_flags
                if loc.direction == Direction.IN.value and loc.is_read != seen:
                    self.store.set_read(loc.message_id, seen)
                    touched.add(loc.conversation_id)
                answered = ANSWERED in new_flags
                if answered != (ANSWERED in loc.flags):
                    if loc.direction == Direction.IN.value:  # answered from another client: stops the clock
                        self.store.set_answered(loc.message_id, answered)
                    touched.add(loc.conversation_id)
                changed += 1
            self.store.refresh(touched)
        report.flag_changes += changed
        report.conversations |= touched
        return touched

    # ------------------------------------------------------------------ expunges and UIDVALIDITY
    async def _expunge_phase(
        self, conn: ImapConnection, folder: str, status: FolderStatus, report: SyncReport
    ) -> None:
        server = set(await conn.all_uids())
        log.debug("%s: expunges found by listing every UID (%d on the server)", folder, len(server))
        touched = await run_db(
            self._forget_gone, folder, status.uidvalidity, lambda uid: uid not in server, report
        )
        self._publish("expunged", touched)

    def _forget_gone(
        self, folder: str, uidvalidity: int, is_gone: Callable[[int], bool], report: SyncReport
    ) -> set[int]:
        """(DB worker) Drop the locations of mails no longer on the server; returns touched conversations."""
        gone: list[tuple[int, int | None]] = [
            (loc.location_id, loc.message_id)
            for loc in self.store.location_states(folder, uidvalidity)
            if is_gone(loc.uid)
        ]
        if not gone:
            return set()
        with database_proxy.obj.atomic("IMMEDIATE"):  # see MailStore.bulk_transaction
            touched = self._forget_locations(gone, folder, "expunged")
        report.expunged += len(gone)
        report.conversations |= touched
        return touched

    def _forget_locations(self, gone: Sequence[tuple[int, int | None]], folder: str, reason: str) -> set[int]:
        """Delete locations; a message left without any location is kept and marked, never deleted."""
        touched: set[int] = set()
        self.store.delete_locations([loc_id for loc_id, _m in gone])
        for _loc_id, msg_id in gone:
            if msg_id is None:
                continue
            if MailLocation.select().where(MailLocation.message == msg_id).exists():
                continue
            message = Message.get_or_none(Message.id == msg_id)
            if message is None:
                continue
            extra = dict(message.extra or {})
            if extra.get("expunged"):
                continue
            extra["expunged"] = True
            extra["expunged_from"] = folder
            self.store.set_message_extra(msg_id, extra)
            conv_id = message.conversation_id
            log_event(
                EventKind.EXPUNGED,
                conversation=conv_id,
                message=msg_id,
                account=self.account_id,
                folder=folder,
                reason=reason,
            )
            touched.add(conv_id)
        return touched

    async def _remap(
        self, conn: ImapConnection, folder: str, status: FolderStatus, state: SyncState, report: SyncReport
    ) -> None:
        """The server lost its UID map: re-attach stored messages to their new UIDs, import nothing twice."""
        log.info(
            "UIDVALIDITY of %s changed (%s -> %s): re-mapping stored messages",
            folder,
            state.uidvalidity,
            status.uidvalidity,
        )
        headers = await conn.fetch_headers(await conn.all_uids())
        await run_db(self._remap_locations, folder, status, state, headers, report)

    def _remap_locations(
        self,
        folder: str,
        status: FolderStatus,
        state: SyncState,
        headers: Sequence[HeaderInfo],
        report: SyncReport,
    ) -> None:
        """(DB worker) Re-attach, forget the unmatched and reset the cursor, in one transaction."""
        old = list(
            MailLocation.select(MailLocation, Message)
            .join(Message)
            .where(
                (MailLocation.account == self.account_id)
                & (MailLocation.folder == folder)
                & (MailLocation.uidvalidity != status.uidvalidity)
            )
        )
        by_id: dict[str, list[MailLocation]] = {}
        by_fallback: dict[tuple[str, int], list[MailLocation]] = {}
        for loc in old:
            message = loc.message
            if message is None:
                continue
            if message.remote_id:
                by_id.setdefault(message.remote_id, []).append(loc)
            else:
                key = (to_db_time(message.sent_at), int(dict(message.extra or {}).get("size", 0) or 0))
                by_fallback.setdefault(key, []).append(loc)
        matched: set[int] = set()
        with database_proxy.obj.atomic("IMMEDIATE"):  # see MailStore.bulk_transaction
            for header in headers:
                msg_id = norm_id(header.message_id)
                candidates = (
                    by_id.get(msg_id, [])
                    if msg_id
                    else by_fallback.get((to_db_time(message_time(header)), header.size), [])
                )
                if not candidates:
                    continue
                # Different mails may share a Message-ID: the one with this mail's header fields first.
                copy = header_copy_key(header)
                loc = next((c for c in candidates if _copy_key_of(c) == copy), candidates[0])
                candidates.remove(loc)
                matched.add(loc.id)
                MailLocation.insert(
                    account=self.account_id,
                    folder=folder,
                    uidvalidity=status.uidvalidity,
                    uid=header.uid,
                    message=loc.message_id,
                    flags=sorted(header.flags),
                    body_fetched=loc.body_fetched,
                ).on_conflict_ignore().execute()
                report.remapped += 1
            unmatched: list[tuple[int, int | None]] = [
                (loc.id, loc.message_id) for loc in old if loc.id not in matched
            ]
            self.store.delete_locations(sorted(matched))
            touched = self._forget_locations(unmatched, folder, "uidvalidity") if unmatched else set()
            # Headers of unmatched new UIDs are imported by the normal header phase (known UIDs are skipped).
            SyncState.update(uidvalidity=status.uidvalidity, last_uid=0, highest_modseq=None).where(
                SyncState.id == state.id
            ).execute()
        state.uidvalidity, state.last_uid, state.highest_modseq = status.uidvalidity, 0, None
        report.expunged += len(unmatched)
        report.conversations |= touched

    def _publish_progress(self, progress: SyncProgress) -> None:
        """Tell the window how far a long sync has come (only when there is something long to show)."""
        if progress.total >= PROGRESS_MIN_TOTAL and progress.phase in ("headers", "bodies", "indexing"):
            self.bus.publish(
                ChangeEvent(
                    "progress",
                    account_id=self.account_id,
                    progress=(progress.phase, progress.done, progress.total),
                )
            )

    # ------------------------------------------------------------------ continuous mode (GUI)
    async def idle_loop(self, stop_event: asyncio.Event) -> None:
        """Sync, then wait for changes (IDLE, else poll every 60 s); reconnect with backoff; report state."""
        backoff = 1.0
        online: bool | None = None
        resyncs = 0
        try:
            while not stop_event.is_set():
                try:
                    await self.sync_once(self._publish_progress)
                    if online is not True:
                        online = True
                        self.bus.publish(ChangeEvent("online", frozenset(), self.account_id))
                    backoff = 1.0
                    conn = await self.connection()
                    folder = self.settings.folders[0] if self.settings.folders else "INBOX"
                    status = await conn.select(folder)
                    # Mail that came between the sync and this SELECT is counted in the SELECT, so IDLE would
                    # not report it: sync again. Our own flag pushes move the folder on too, so a few rounds
                    # at most; if it is still moving then, IDLE only briefly and look again.
                    moving = await self._changed_since_sync(folder, status)
                    log.debug(
                        "account %s: %s at MODSEQ %s before IDLE, %s",
                        self.account_id,
                        folder,
                        status.highestmodseq,
                        "still moving" if moving else "as synced",
                    )
                    if moving and resyncs < MAX_RESYNCS:
                        resyncs += 1
                        continue
                    resyncs = 0
                    timeout = IDLE_TIMEOUT if "IDLE" in conn.capabilities else POLL_INTERVAL
                    if moving:
                        timeout = min(timeout, RECHECK_AFTER)
                    await _until_stopped(conn.idle_wait(timeout, poll_interval=POLL_INTERVAL), stop_event)
                except MailError as exc:
                    await self._drop_connection()
                    if online is not False:
                        online = False
                        self.bus.publish(
                            ChangeEvent("offline", frozenset(), self.account_id, exc.user_message)
                        )
                    log.info(
                        "mail sync of account %s failed: %s; retry in %.0f s", self.account_id, exc, backoff
                    )
                    await _wait_or_stop(stop_event, backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                except Exception as exc:  # a bug, no keyring, a full disk: say so, keep the loop alive
                    await self._drop_connection()
                    if is_disk_full(exc):
                        log.error(
                            "mail sync of account %s stopped: the disk is full (%s)", self.account_id, exc
                        )
                        message = disk_full_message(self.account.name)
                    else:
                        log.exception("mail sync of account %s failed unexpectedly", self.account_id)
                        message = getattr(exc, "user_message", "") or _(
                            "An internal error stopped the mail sync; details are in the log."
                        )
                    self.bus.publish(ChangeEvent("error", frozenset(), self.account_id, message))
                    online = None  # the next good round says "online" again (the account's state)
                    await _wait_or_stop(stop_event, MAX_BACKOFF)
        finally:
            await self._drop_connection()


async def _until_stopped(coro: Any, stop_event: asyncio.Event) -> None:
    task = asyncio.ensure_future(coro)
    stopper = asyncio.ensure_future(stop_event.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        elif not task.cancelled():
            task.result()  # re-raise a MailError from IDLE


async def _wait_or_stop(stop_event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop_event.wait(), timeout=seconds)


__all__ = [
    "MailAccountSync",
    "StoreThreadIndex",
    "SyncProgress",
    "SyncReport",
    "imap_settings_for",
    "norm_id",
]
