"""The store's writer for marketplace threads (Mirakl, later eBay, Kaufland, Allegro): one batch, one transaction.

The sync engine hands over plain records (:class:`ThreadRecord`; the store never imports a channel) and the
cursor that the channel gave with them. :func:`store_thread_batch` upserts every thread by (account, remote
thread id) and every message by (conversation, remote message id), and commits the account's new cursor in the
*same* transaction: a crash either keeps the batch and its cursor or neither, and a batch listed again (a
resumed cursor, a thread updated later) adds only what is new.

Messages go through :func:`inbox_app.store.ingest.add_message` and the list fields and deadline through
:func:`inbox_app.store.ingest.refresh_conversation`, so the snippet, threading and deadline rules are the same
as for mail. A vendor's own deadline clock (Mirakl's ``shop_reply_needed_since``) is kept on the conversation;
``extra["vendor_clock"]`` tells the deadline code that no such clock means no reply is awaited.
Attachments are stored as metadata (name, size, type, the vendor's id in ``remote_url``); their bytes are
fetched when the seller opens one (:func:`attachment_ref`, :func:`store_downloaded`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from inbox_app.domain.conversations import IncomingMessage
from inbox_app.domain.filenames import safe_filename
from inbox_app.store.blobs import BlobStore
from inbox_app.store.db import database_proxy
from inbox_app.store.ingest import (
    add_message,
    create_conversation,
    ensure_channel,
    ensure_customer,
    refresh_conversation,
)
from inbox_app.store.models import Account, Attachment, Conversation, Message, SyncState, utcnow
from inbox_app.store.models import Channel as ChannelRow

#: ``SyncState.key`` of a marketplace account's thread listing cursor.
THREADS_CURSOR_KEY = "threads"
#: ``Conversation.extra`` flag: the vendor runs the deadline clock (no ``reply_needed_since``: no deadline).
VENDOR_CLOCK = "vendor_clock"
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
) -> BatchResult:
    """Upsert ``threads`` and commit ``cursor`` in one transaction; see the module docstring.

    ``unreadable``: the vendor's JSON of items that could not be read, kept on the sync state (never dropped).
    """
    result = BatchResult()
    db = database_proxy.obj
    with db.atomic("IMMEDIATE"):
        account = Account.get_by_id(target.account_id)
        channel = ensure_channel(account, target.kind, target.name, target.marketplace)
        if channel.name != target.name:
            channel.name = target.name
            channel.save()
        for record in threads:
            conversation = _upsert_thread(account, channel, record, result)
            known = _remote_ids(conversation.id)
            for item in record.messages:
                if item.message.remote_id in known:
                    continue
                known.add(item.message.remote_id or "")
                extra = dict(item.message.extra)
                extra[AUTHOR_ROLE] = item.author_role
                incoming = IncomingMessage(**{**item.message.__dict__, "extra": extra})
                message = add_message(conversation, incoming, refresh=False)
                for attachment in item.attachments:
                    Attachment.create(
                        message=message,
                        filename=safe_filename(attachment.name),
                        mime_type=attachment.mime_type or "application/octet-stream",
                        size=attachment.size or 0,
                        remote_url=attachment.remote_id,
                    )
                result.new_messages += 1
            refresh_conversation(conversation)
            result.conversations.add(conversation.id)
        if unreadable:
            _keep_unreadable(target.account_id, unreadable)
        _write_cursor(target.account_id, cursor, cursor_key)
    return result


def _upsert_thread(
    account: Account, channel: ChannelRow, record: ThreadRecord, result: BatchResult
) -> Conversation:
    conversation: Conversation | None = Conversation.get_or_none(
        (Conversation.account == account.id) & (Conversation.remote_id == record.remote_id)
    )
    customer = (
        ensure_customer(
            f"{channel.kind}:customer", f"{account.id}:{record.customer_key}", record.customer_name or None
        )
        if record.customer_key
        else None
    )
    if conversation is None:
        result.new_threads += 1
        conversation = create_conversation(
            account,
            channel,
            remote_id=record.remote_id,
            subject=record.subject,
            customer=customer,
            order_id=record.order_id,
            created_at=record.created_at,
        )
    else:
        conversation.subject = record.subject or conversation.subject
        conversation.order_id = record.order_id or conversation.order_id
        if customer is not None and conversation.customer_id is None:
            conversation.customer = customer
            conversation.customer_name = customer.name
    extra = dict(conversation.extra or {})
    extra.update(record.extra)
    extra[VENDOR_CLOCK] = True
    if record.raw:
        extra["raw"] = record.raw
    if record.no_reply_needed:
        conversation.no_response_needed = True
        extra[VENDOR_NO_REPLY] = True
    elif extra.pop(VENDOR_NO_REPLY, False):
        conversation.no_response_needed = False  # the vendor's "no reply needed" no longer holds
    conversation.extra = extra
    conversation.reply_needed_since = record.reply_needed_since
    return conversation


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
