"""The store's writer for marketplace threads (Mirakl, later eBay, Kaufland, Allegro): one batch, one transaction.

The sync engine hands over plain records (:class:`ThreadRecord`; the store never imports a channel) and the
cursor that the channel gave with them. :func:`store_thread_batch` upserts every thread by (account, remote
thread id) and every message by (conversation, remote message id), and commits the account's new cursor in the
*same* transaction: a crash either keeps the batch and its cursor or neither, and a batch listed again (a
resumed cursor, a thread updated later) adds only what is new.

Rows go in through the store's one writer (``store.writer.StoreWriter``; in bulk: reserved ids, one
``executemany`` per table, its ``refresh`` for snippet, counts and deadline), so the snippet and deadline rules
are the ones mail uses, and a first sync of thousands of threads stays fast. A vendor's own deadline clock (Mirakl's ``shop_reply_needed_since``) is kept on the conversation;
``extra["vendor_clock"]`` tells the deadline code that no such clock means no reply is awaited.
Attachments are stored as metadata (name, size, type, the vendor's id in ``remote_url``); their bytes are
fetched when the seller opens one (:func:`attachment_ref`, :func:`store_downloaded`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from inbox_app.domain.conversations import Direction, IncomingMessage
from inbox_app.domain.filenames import safe_filename
from inbox_app.domain.html_sanitize import sanitize_html
from inbox_app.store.blobs import BlobStore
from inbox_app.store.models import (
    Account,
    Attachment,
    Conversation,
    Message,
    SyncState,
    utcnow,
)
from inbox_app.store.writer import VENDOR_CLOCK, StoreWriter, ensure_channel

__all__ = ["VENDOR_CLOCK"]  # re-exported: its home is store.writer, where the deadline is derived

#: ``SyncState.key`` of a marketplace account's thread listing cursor.
THREADS_CURSOR_KEY = "threads"
#: ``Conversation.extra`` key: the vendor said no reply is needed (kept apart from the seller's own choice).
VENDOR_NO_REPLY = "vendor_no_reply"
#: ``Message.extra`` key: who wrote it ("customer", "operator", "shop", "other").
AUTHOR_ROLE = "author_role"


@dataclass(frozen=True)
class AttachmentRecord:
    remote_id: str
    name: str
    size: int | None = None
    mime_type: str | None = None


@dataclass(frozen=True)
class MessageRecord:
    message: IncomingMessage  # remote_id set; attachments empty (their bytes come on demand)
    author_role: str
    attachments: tuple[AttachmentRecord, ...] = ()


@dataclass(frozen=True)
class ThreadRecord:
    remote_id: str
    subject: str
    messages: tuple[MessageRecord, ...]
    created_at: datetime | None = None
    order_id: str | None = None
    customer_key: str | None = None  # the vendor's customer id
    customer_name: str = ""
    reply_needed_since: datetime | None = None
    no_reply_needed: bool = False
    raw: str = ""  # the vendor's JSON of the thread (without its messages)
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelTarget:
    """Where an account's threads are filed: its channel row (kind and the name shown in the list)."""

    account_id: int
    kind: str  # the channel kind: "mirakl"…
    name: str  # shown as the channel: the operator's name ("Fnac ES")
    marketplace: str | None = None  # picks the deadline preset (Mirakl operator)


@dataclass
class BatchResult:
    conversations: set[int] = field(default_factory=set)
    new_messages: int = 0
    new_threads: int = 0


def read_cursor(account_id: int, key: str = THREADS_CURSOR_KEY) -> str | None:
    state = SyncState.get_or_none((SyncState.account == account_id) & (SyncState.key == key))
    if state is None:
        return None
    value = (state.cursor or {}).get("value")
    return str(value) if value else None


def _write_cursor(account_id: int, cursor: str, key: str) -> None:
    now = utcnow()
    SyncState.insert(
        account=account_id, key=key, cursor={"value": cursor}, last_success_at=now, last_error=None
    ).on_conflict(
        conflict_target=[SyncState.account, SyncState.key],
        update={
            SyncState.cursor: {"value": cursor},
            SyncState.last_success_at: now,
            SyncState.last_error: None,
        },
    ).execute()


def record_sync_error(account_id: int, error: str, key: str = THREADS_CURSOR_KEY) -> None:
    """Keep the last problem of an account's listing (shown in the account list); the cursor stays."""
    SyncState.insert(account=account_id, key=key, cursor={}, last_error=error).on_conflict(
        conflict_target=[SyncState.account, SyncState.key], update={SyncState.last_error: error}
    ).execute()


def store_thread_batch(
    target: ChannelTarget,
    threads: Sequence[ThreadRecord],
    cursor: str,
    *,
    unreadable: Sequence[str] = (),
    cursor_key: str = THREADS_CURSOR_KEY,
    bulk: bool = True,
) -> BatchResult:
    """Upsert ``threads`` and commit ``cursor`` in one transaction; see the module docstring.

    Written through the store's bulk writer (``MailStore``'s batch: reserved ids, one ``executemany`` per
    table, its ``refresh`` for the list fields and deadlines), since a first sync brings thousands of threads.
    ``unreadable``: the vendor's JSON of items that could not be read, kept on the sync state (never dropped).
    ``bulk=False`` writes row by row (the writer's single path; same rows, see tests/unit/test_one_writer.py).
    """
    result = BatchResult()
    store = StoreWriter(target.account_id)
    db = store.db
    with store.bulk_transaction():
        if bulk:
            store.begin_batch()
        account = Account.get_by_id(target.account_id)
        channel = ensure_channel(account, target.kind, target.name, target.marketplace)
        if channel.name != target.name:
            channel.name = target.name
            channel.save()
        # The vendor's customer ids are per marketplace account: the identity kind names the account.
        customer_kind = f"{target.kind}:{target.account_id}"
        remote_ids = sorted({t.remote_id for t in threads})
        existing: dict[str, tuple[int, int | None, dict[str, Any]]] = {}
        for chunk in _chunks(remote_ids):
            for conv_id, remote_id, customer_id, extra in db.execute_sql(
                "SELECT id, remote_id, customer_id, extra FROM conversation WHERE account_id = ? AND remote_id IN "
                f"({_marks(chunk)})",
                [target.account_id, *chunk],
            ):
                existing[str(remote_id)] = (int(conv_id), customer_id, json.loads(extra) if extra else {})
        known: dict[int, set[str]] = {conv_id: set() for conv_id, _c, _e in existing.values()}
        own_replies: dict[int, list[tuple[int, str]]] = {}
        for chunk in _chunks(sorted(known)):
            for conv_id, remote_id, direction, message_id, text in db.execute_sql(
                "SELECT conversation_id, remote_id, direction, id, text_body FROM message "
                f"WHERE conversation_id IN ({_marks(chunk)})",
                chunk,
            ):
                if remote_id:
                    known[int(conv_id)].add(str(remote_id))
                if direction == "out" and str(remote_id or "").startswith("<"):
                    own_replies.setdefault(int(conv_id), []).append((int(message_id), str(text)))
        store.prefetch_customers(customer_kind, [t.customer_key for t in threads if t.customer_key])
        adopted: list[tuple[str, int]] = []
        for record in threads:
            customer = (
                store.customer(
                    customer_kind,
                    record.customer_key,
                    record.customer_name or None,
                    None,
                )
                if record.customer_key
                else None
            )
            found = existing.get(record.remote_id)
            if found is None:
                result.new_threads += 1
                conv_id = store.create_conversation(
                    channel_id=channel.id,
                    subject=record.subject,
                    customer=customer,
                    order_id=record.order_id,
                    language=None,
                    created_at=record.created_at or utcnow(),
                )
                stored_extra: dict[str, Any] = {}
                seen: set[str] = set()
                existing[record.remote_id] = (conv_id, customer[0] if customer else None, stored_extra)
                known[conv_id] = seen
            else:
                conv_id, _customer_id, stored_extra = found
                seen = known[conv_id]
            extra, no_reply = thread_extra(record, stored_extra)
            existing[record.remote_id] = (existing[record.remote_id][0], existing[record.remote_id][1], extra)
            store.update_thread(
                conv_id,
                remote_id=record.remote_id,
                subject=record.subject,
                order_id=record.order_id,
                customer=customer,
                reply_needed_since=record.reply_needed_since,
                no_response_needed=no_reply,
                extra=extra,
            )
            for item in record.messages:
                message = item.message
                remote_id = message.remote_id or ""
                if remote_id in seen:
                    continue
                seen.add(remote_id)
                if message.direction is Direction.OUT:
                    candidates = own_replies.get(conv_id, [])
                    match = next((c for c in candidates if _same_text(c[1], message.text)), None)
                    if match is not None:  # the vendor's copy of a reply sent from this app
                        candidates.remove(match)
                        adopted.append((remote_id, match[0]))
                        continue
                if message.html:  # channels hand HTML over as the vendor sent it (channels.base)
                    message = dataclasses.replace(message, html=sanitize_html(message.html))
                message_id = store.write_message(
                    conv_id, message, extra={**message.extra, AUTHOR_ROLE: item.author_role}
                )
                for attachment in item.attachments:
                    store.add_attachment(
                        message_id,
                        filename=safe_filename(attachment.name),
                        mime_type=attachment.mime_type or "application/octet-stream",
                        size=attachment.size or 0,
                        remote_url=attachment.remote_id,
                    )
                result.new_messages += 1
            result.conversations.add(conv_id)
        store.flush_batch()
        for remote_id, message_id in adopted:
            store.set_remote_id(message_id, remote_id)
        store.refresh(result.conversations)
        if unreadable:
            _keep_unreadable(target.account_id, unreadable)
        _write_cursor(target.account_id, cursor, cursor_key)
    return result


def thread_extra(record: ThreadRecord, stored: dict[str, Any]) -> tuple[dict[str, Any], bool | None]:
    """A thread's ``Conversation.extra`` after the vendor listed it again, and its "no reply needed" to store
    (``None``: the seller's own choice stays): the vendor's clock and flag, its raw JSON, its own fields."""
    extra = dict(stored)
    extra.update(record.extra)
    extra[VENDOR_CLOCK] = True
    if record.raw:
        extra["raw"] = record.raw
    if record.no_reply_needed:
        extra[VENDOR_NO_REPLY] = True
        return extra, True
    if extra.pop(VENDOR_NO_REPLY, False):
        return extra, False  # the vendor's "no reply needed" no longer holds
    return extra, None


def _chunks(values: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


_WS = re.compile(r"\s+")


def _same_text(a: str, b: str) -> bool:
    """Equal but for whitespace and Unicode composition (vendors re-wrap and re-encode what we sent)."""

    def norm(text: str) -> str:
        return _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()

    return norm(a) == norm(b)


def _keep_unreadable(account_id: int, items: Sequence[str]) -> None:
    key = "unreadable"
    state = SyncState.get_or_none((SyncState.account == account_id) & (SyncState.key == key))
    kept = list((state.cursor or {}).get("items", [])) if state is not None else []
    kept.extend(items)
    kept = kept[-200:]
    SyncState.insert(account=account_id, key=key, cursor={"items": kept}).on_conflict(
        conflict_target=[SyncState.account, SyncState.key], update={SyncState.cursor: {"items": kept}}
    ).execute()


# -------------------------------------------------------------------------------------------- attachments


@dataclass(frozen=True)
class AttachmentRef:
    """What the sync layer needs to download one attachment of a marketplace message."""

    attachment_id: int
    account_id: int
    remote_id: str
    name: str
    size: int
    mime_type: str
    sha256: str | None


def attachment_ref(attachment_id: int) -> AttachmentRef | None:
    row = (
        Attachment.select(Attachment, Message.conversation, Conversation.account)
        .join(Message)
        .join(Conversation)
        .where(Attachment.id == attachment_id)
        .first()
    )
    if row is None or not row.remote_url:
        return None
    return AttachmentRef(
        attachment_id=row.id,
        account_id=row.message.conversation.account_id,
        remote_id=row.remote_url,
        name=row.filename,
        size=row.size,
        mime_type=row.mime_type,
        sha256=row.sha256,
    )


def store_downloaded(attachment_id: int, data: bytes, blobs: BlobStore) -> str:
    """Keep a downloaded attachment's bytes in the blob store; returns its sha256."""
    sha = blobs.put(data)
    Attachment.update(sha256=sha, size=len(data)).where(Attachment.id == attachment_id).execute()
    return sha


def _remote_ids(conversation_id: int) -> set[str]:
    query = Message.select(Message.remote_id).where(Message.conversation == conversation_id)
    return {str(m.remote_id) for m in query if m.remote_id}


def thread_message_ids(conversation_id: int) -> list[str]:
    """The vendor's ids of the messages stored for a conversation (``find_sent`` never takes them for a reply)."""
    return sorted(_remote_ids(conversation_id))
