"""Replies and drafts: queue a reply (persisted before anything leaves the machine), keep and restore drafts.

Errors a caller shows to the seller: :class:`ReplyError` (the reply cannot be sent as written; its
``user_message`` says why) and :class:`ReplyNotSaved` (the database or the disk refused the write; nothing was
queued). Anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import peewee

from inbox_app.domain.conversations import Status
from inbox_app.store import drafts as store_drafts
from inbox_app.store import ingest
from inbox_app.store.accounts import DEMO_KIND
from inbox_app.store.blobs import BlobStore
from inbox_app.store.db import is_disk_full
from inbox_app.store.models import Conversation
from inbox_app.store.replies import ReplyError, queue_reply_for, recipient_problem

__all__ = [
    "Draft",
    "QueuedReply",
    "ReplyError",
    "ReplyNotSaved",
    "delete_draft",
    "is_disk_full",
    "keep_attachment",
    "load_draft",
    "queue_reply",
    "recipient_problem",
    "reply_problems",
    "save_draft",
]


class ReplyNotSaved(Exception):
    """The reply could not be written (database error, disk full…): nothing was queued."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.disk_full = is_disk_full(error)


@dataclass(frozen=True)
class QueuedReply:
    """A reply now in the outbox. ``previous_status`` is what "send & close" changed (None: nothing)."""

    outbox_id: int
    conversation_id: int
    demo: bool
    previous_status: str | None = None


@dataclass(frozen=True)
class Draft:
    body: str
    language: str | None
    attachments: list[dict[str, object]] = field(default_factory=list)


def queue_reply(
    conversation_id: int,
    body: str,
    *,
    close: bool = False,
    close_when_sent: bool = False,
    scheduled_at: datetime | None = None,
    attachments: Sequence[dict[str, object]] = (),
    actor: str = "",
) -> QueuedReply:
    """Address and queue a reply; with ``close`` the conversation is closed too (undo: ``previous_status``),
    with ``close_when_sent`` only once the reply went out (``inbox-app reply --close``).

    Raises :class:`ReplyError` when it cannot be sent as written, :class:`ReplyNotSaved` when the write failed.
    """
    try:
        item = queue_reply_for(
            conversation_id,
            body,
            close_after_send=close or close_when_sent,
            scheduled_at=scheduled_at,
            attachments=attachments,
            actor=actor,
        )
    except (peewee.DatabaseError, OSError) as exc:
        raise ReplyNotSaved(exc) from exc
    previous_status: str | None = None
    if close:
        conv = Conversation.get_by_id(conversation_id)
        if conv.status != Status.CLOSED.value:
            previous_status = str(conv.status)
            ingest.set_status(conv, Status.CLOSED)
    return QueuedReply(
        outbox_id=int(item.id),
        conversation_id=conversation_id,
        demo=item.account.kind == DEMO_KIND,
        previous_status=previous_status,
    )


def load_draft(conversation_id: int) -> Draft | None:
    row = store_drafts.load_draft(conversation_id)
    if row is None:
        return None
    return Draft(body=str(row.body), language=row.language, attachments=list(row.attachments or []))


def save_draft(
    conversation_id: int,
    body: str,
    *,
    language: str | None = None,
    attachments: Sequence[dict[str, object]] = (),
) -> None:
    """Write the draft durably (an empty one is deleted)."""
    store_drafts.save_draft(conversation_id, body, language=language, attachments=attachments)


def delete_draft(conversation_id: int) -> None:
    store_drafts.delete_draft(conversation_id)


def reply_problems(conversation_id: int, body: str, files: Sequence[tuple[str, int]] = ()) -> list[str]:
    """What is wrong with this reply for its conversation's marketplace (its length, its files as (name,
    size)), each in the user's language; empty when it may be queued. Mail has no channel limits here."""
    from inbox_app.sync.channel_delivery import reply_problems as channel_reply_problems
    from inbox_app.sync.registry import default_registry

    return channel_reply_problems(default_registry(), conversation_id, body, files)


def keep_attachment(blobs: BlobStore, name: str, data: bytes) -> dict[str, object]:
    """Store a file to send in the profile's blob store; returns the outbox's attachment entry for it."""
    import mimetypes

    return {
        "name": name,
        "sha256": blobs.put(data),
        "size": len(data),
        "mime_type": mimetypes.guess_type(name)[0] or "application/octet-stream",
    }
