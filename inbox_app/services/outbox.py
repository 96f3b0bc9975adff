"""The outbox as the seller sees it: what waits, what went out, and the actions on one reply.

Rows are :class:`OutboxRow` dataclasses (``store.outbox_view``); delivery itself belongs to the sync engine.
"""

from __future__ import annotations

from typing import Any

from inbox_app.store import outbox as store_outbox
from inbox_app.store import outbox_view
from inbox_app.store.accounts import DEMO_KIND
from inbox_app.store.models import OutboxItem
from inbox_app.store.outbox import QueueRefused
from inbox_app.store.outbox_view import OutboxPhase, OutboxRow

__all__ = [
    "OutboxPhase",
    "OutboxRow",
    "QueueRefused",
    "cancel",
    "conversation_of",
    "exists",
    "failed_count",
    "is_unconfirmed",
    "item_infos",
    "overview",
    "pending_count",
    "retry_now",
    "rows_for",
    "send_again",
]


def overview() -> list[OutboxRow]:
    """Everything waiting or failed, and the latest delivered or cancelled replies."""
    return outbox_view.outbox_overview()


def rows_for(conversation_id: int) -> list[OutboxRow]:
    """This conversation's replies still on their way (shown under its thread)."""
    return outbox_view.outbox_rows_for(conversation_id)


def pending_count() -> int:
    return outbox_view.pending_count()


def failed_count() -> int:
    return outbox_view.failed_count()


def conversation_of(item_id: int) -> int | None:
    """The conversation a reply belongs to, or None when the reply does not exist."""
    item = OutboxItem.get_or_none(id=item_id)
    return None if item is None else int(item.conversation_id)


def exists(item_id: int) -> bool:
    return OutboxItem.get_or_none(OutboxItem.id == item_id) is not None


def item_infos(*, include_done: bool = False) -> list[dict[str, Any]]:
    """JSON-ready descriptions of the outbox rows (``outbox list --json``), oldest first.

    Without ``include_done`` only what is still to be delivered (queued, sending, failed).
    """
    query = OutboxItem.select().order_by(OutboxItem.created_at, OutboxItem.id)
    if not include_done:
        query = query.where(OutboxItem.state.in_(["queued", "sending", "failed"]))
    return [_item_info(item) for item in query]


def _item_info(item: OutboxItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "conversation_id": item.conversation_id,
        "account_id": item.account_id,
        "state": item.state,
        "delivery_step": item.delivery_step,  # sending: claimed/submitting/accepted; sent: filing (Sent copy due)
        "unconfirmed": is_unconfirmed(item.state, item.last_error),  # see `outbox send-again`
        "demo": item.account.kind == DEMO_KIND,  # the demo account's replies are never sent
        "subject": item.subject,
        "recipients": list(item.recipients or []),
        "message_id": item.message_id,
        "attempts": item.attempts,
        "last_error": item.last_error,
        "created_at": item.created_at.isoformat() if item.created_at else None,
        "scheduled_at": item.scheduled_at.isoformat() if item.scheduled_at else None,
        "next_attempt_at": item.next_attempt_at.isoformat() if item.next_attempt_at else None,
        "sent_at": item.sent_at.isoformat() if item.sent_at else None,
        "close_after_send": bool(item.close_after_send),
    }


def cancel(item_id: int, *, actor: str = "") -> bool:
    """Cancel a reply that has not started sending; False when it is too late."""
    return store_outbox.cancel(item_id, actor=actor)


def retry_now(item_id: int) -> None:
    """Put a failed or waiting reply back to "due now" (the caller wakes the delivery loop)."""
    store_outbox.retry_now(item_id)


def send_again(item_id: int, *, actor: str = "") -> int | None:
    """Queue a copy of a sent but unconfirmed reply; the copy's id, or None when that is not allowed.

    Raises :class:`QueueRefused` when the copy could not be sent as written (e.g. an unusable address)."""
    copy = store_outbox.send_again(item_id, actor=actor)
    return None if copy is None else int(copy.id)


def is_unconfirmed(state: str, last_error: str | None) -> bool:
    """A reply recorded as sent whose delivery could not be confirmed."""
    return store_outbox.is_unconfirmed(state, last_error)
