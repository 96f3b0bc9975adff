"""The outbox as the seller sees it: what waits, what went out, and the actions on one reply.

Rows are :class:`OutboxRow` dataclasses (``store.outbox_view``); delivery itself belongs to the sync engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from inbox_app.i18n import _, format_datetime
from inbox_app.store import drafts as store_drafts
from inbox_app.store import outbox as store_outbox
from inbox_app.store import outbox_holds, outbox_view
from inbox_app.store.accounts import DEMO_KIND
from inbox_app.store.models import OutboxItem
from inbox_app.store.outbox import QueueRefused
from inbox_app.store.outbox_view import OutboxPhase, OutboxRow

__all__ = [
    "OutboxPhase",
    "OutboxRow",
    "QueueRefused",
    "cancel",
    "change_text",
    "conversation_of",
    "edit_held",
    "exists",
    "failed_count",
    "held_count",
    "held_reason",
    "is_unconfirmed",
    "item_infos",
    "overview",
    "pending_count",
    "retry_now",
    "rows_for",
    "send_again",
    "send_anyway",
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


def held_count() -> int:
    """Replies the collision check held, waiting for Send anyway / Edit / Discard."""
    return outbox_holds.held_count()


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
        query = query.where(OutboxItem.state.in_(["queued", "sending", "failed", "held"]))
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
        # Held by the collision check: what changed since the reply was begun (`outbox send-anyway ID`).
        "held_reason": held_reason(item.held_changes or []) if item.state == "held" else None,
        "held_changes": list(item.held_changes or []) if item.state == "held" else [],
    }


def change_text(change: Mapping[str, object]) -> str:
    """One change that held a reply, in the seller's words ("Lucía wrote at 10:42")."""
    at_text = ""
    if isinstance(at := change.get("at"), str):
        try:
            at_text = format_datetime(datetime.fromisoformat(at), "short")
        except ValueError:
            at_text = at
    who = str(change.get("who") or "")
    if change.get("kind") == "customer_wrote":
        if who:
            return _("{who} wrote at {time}").format(who=who, time=at_text)
        return _("The customer wrote at {time}").format(time=at_text)
    return _("Answered from elsewhere at {time}").format(time=at_text)


def held_reason(changes: list[dict[str, object]] | tuple[dict[str, object], ...]) -> str:
    """Why a reply is held: every change since it was begun, one sentence each."""
    return "; ".join(change_text(change) for change in changes)


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


def send_anyway(item_id: int, *, actor: str = "") -> bool:
    """Release a reply the collision check held: it goes out at the next delivery (what held it is not a
    reason to hold it again). False when it is not held (already released, cancelled, unknown)."""
    return outbox_holds.send_anyway(item_id, actor=actor)


def edit_held(item_id: int, *, actor: str = "") -> int | None:
    """ "Edit" on a held reply: its text goes back into the conversation's draft (begun now, so the check
    compares with the thread as it is now) and the held row is cancelled. The conversation's id, or None
    when the reply is no longer held."""
    item = OutboxItem.get_or_none(OutboxItem.id == item_id)
    if item is None or item.state != store_outbox.OutboxState.HELD.value:
        return None
    if not store_outbox.cancel(item_id, actor=actor):
        return None
    # A draft written meanwhile is kept, under the held text; the draft begins now either way.
    current = store_drafts.load_draft(item.conversation_id)
    body = str(item.body)
    if current is not None and str(current.body).strip():
        body = f"{body.rstrip()}\n\n{current.body}"
    files = list(item.attachments or []) + (list(current.attachments or []) if current is not None else [])
    store_drafts.delete_draft(item.conversation_id)
    store_drafts.save_draft(item.conversation_id, body, attachments=files)
    return int(item.conversation_id)
