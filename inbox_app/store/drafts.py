"""Drafts: saved on every pause in typing, in a durable transaction, so a crash loses at most a keystroke."""

from __future__ import annotations

from collections.abc import Sequence

from inbox_app.store.models import Draft, utcnow


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
