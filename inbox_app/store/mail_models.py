"""The mail sync's side of the store: the subject-threading index, copies and IMAP locations of messages.

Why a table and not ``Conversation.extra``: threading by subject asks "which conversation of this account had
this normalized subject with one of these participants since <date>?" once per new mail; a JSON scan over
every conversation would make a 20,000-message first sync quadratic. One row per (message, participant) with
an index on (account, subject, participant) answers it in microseconds.

:class:`MailStore` is the store's one writer (``store.writer.StoreWriter``: customers, conversations, messages,
their derived fields) plus what only mail needs: lookups by Message-ID and by subject, IMAP locations and
flags, the subject keys queued with a header batch.

``create_mail_tables(db)`` is idempotent; the lead's migrations call it, and the sync also calls it before
first use so an older profile works without a schema bump.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from inbox_app.store.db import BaseModel
from inbox_app.store.models import Account, Conversation, UtcDateTimeField
from inbox_app.store.writer import StoreWriter, _json, _marks, to_db_time

__all__ = [
    "MAIL_MODELS",
    "BodyTarget",
    "KnownMessage",
    "LocationState",
    "MailStore",
    "MailThreadKey",
    "StoreWriter",
    "create_mail_tables",
    "to_db_time",
]


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


class MailStore(StoreWriter):
    """The one writer plus the mail sync's own reads and writes. Callers hold the transaction (one per batch)."""

    _INSERTS = (
        *StoreWriter._INSERTS,
        (
            "mail_thread_key",
            "INSERT INTO mail_thread_key (account_id, conversation_id, subject, participant, at) "
            "VALUES (?, ?, ?, ?, ?)",
        ),
    )

    def __init__(self, account_id: int) -> None:
        super().__init__(account_id)
        self._thread_keys: dict[
            str, list[tuple[str, str, int]]
        ] = {}  # subject -> (participant, at, conversation)

    def discard_batch(self) -> None:
        super().discard_batch()
        self._thread_keys = {}

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

    def mark_fetched(self, location_ids: Sequence[int]) -> None:
        if location_ids:
            self._sql(
                f"UPDATE mail_location SET body_fetched = 1 WHERE id IN ({_marks(location_ids)})",
                list(location_ids),
            )
