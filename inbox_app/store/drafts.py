"""Drafts: saved on every pause in typing, in a durable transaction, so a crash loses at most a keystroke."""

from __future__ import annotations

from collections.abc import Sequence

import peewee

from inbox_app.store.models import Draft, Message, utcnow


def newest_message_id(conversation_id: int) -> int:
    """The newest stored message of a conversation (0: none): what the seller has seen when a draft starts."""
    return int(
        Message.select(peewee.fn.MAX(Message.id)).where(Message.conversation == conversation_id).scalar() or 0
    )


def save_draft(
    conversation_id: int,
    body: str,
    *,
    language: str | None = None,
    attachments: Sequence[dict[str, object]] = (),
) -> None:
    if not body.strip() and not attachments:
        delete_draft(conversation_id)
        return
    (
        Draft.insert(
            conversation=conversation_id,
            body=body,
            language=language,
            attachments=list(attachments),
            updated_at=utcnow(),
            # Only when the draft is created (the conflict update leaves them): see ``sync.collisions``.
            started_at=utcnow(),
            seen_message_id=newest_message_id(conversation_id),
        )
        .on_conflict(
            conflict_target=[Draft.conversation],
            update={
                Draft.body: body,
                Draft.language: language,
                Draft.attachments: list(attachments),
                Draft.updated_at: utcnow(),
            },
        )
        .execute()
    )


def load_draft(conversation_id: int) -> Draft | None:
    return Draft.get_or_none(Draft.conversation == conversation_id)


def delete_draft(conversation_id: int) -> None:
    Draft.delete().where(Draft.conversation == conversation_id).execute()
