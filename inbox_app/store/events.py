"""The append-only event log: every fact a report will need (received, replied, status changed, tagged…)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from inbox_app.store.models import Event, utcnow


class EventKind(StrEnum):
    RECEIVED = "received"
    REPLIED = "replied"
    REPLY_QUEUED = "reply_queued"
    REPLY_FAILED = "reply_failed"
    REPLY_CANCELLED = "reply_cancelled"
    REPLY_HELD = "reply_held"  # the collision check before send: the thread changed since the draft began
    REPLY_RELEASED = "reply_released"  # the seller sent a held reply anyway
    STATUS_CHANGED = "status_changed"
    TAGGED = "tagged"
    UNTAGGED = "untagged"
    NOTE_ADDED = "note_added"
    NO_RESPONSE_NEEDED = "no_response_needed"
    READ = "read"
    EXPUNGED = "expunged"


def log_event(
    kind: EventKind,
    *,
    conversation: int | None = None,
    message: int | None = None,
    account: int | None = None,
    actor: str = "",
    at: datetime | None = None,
    **data: Any,
) -> None:
    Event.create(
        kind=kind.value,
        conversation=conversation,
        message=message,
        account=account,
        actor=actor,
        at=at or utcnow(),
        data=data,
    )


def events_for(conversation_id: int) -> list[Event]:
    return list(Event.select().where(Event.conversation == conversation_id).order_by(Event.at, Event.id))
