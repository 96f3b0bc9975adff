"""Held replies: what the collision check before send found, and the seller's way out of it.

``sync.collisions`` decides; this module owns the row transitions, each one compare-and-set UPDATE so that no
reply can be both held and sent: ``sending`` (claimed by this process, nothing transmitted) → ``held`` with the
changes found; ``held`` → ``queued`` when the seller sends it anyway (the changes become *acknowledged*, never a
reason to hold it again); ``held`` → ``cancelled`` through ``store.outbox.cancel`` (Discard, Edit).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from inbox_app.store.drafts import newest_message_id
from inbox_app.store.events import EventKind, log_event
from inbox_app.store.models import Message, OutboxItem, utcnow
from inbox_app.store.outbox import OutboxState


def hold(item: OutboxItem, changes: Sequence[dict[str, Any]]) -> bool:
    """Hold a row this process claimed (``sending``, owner ``item.owner``) instead of sending it; False when
    the claim was lost meanwhile (then the row is not this process's to touch)."""
    query = OutboxItem.update(
        state=OutboxState.HELD.value,
        held_changes=list(changes),
        delivery_step=None,
        owner=None,
        lease_until=None,
    ).where((OutboxItem.id == item.id) & (OutboxItem.state == OutboxState.SENDING.value))
    if item.owner is not None:
        query = query.where(OutboxItem.owner == item.owner)
    if query.execute() != 1:
        return False
    item.state, item.held_changes = OutboxState.HELD.value, list(changes)
    item.delivery_step = item.owner = item.lease_until = None
    log_event(
        EventKind.REPLY_HELD,
        conversation=item.conversation_id,
        account=item.account_id,
        outbox=item.id,
        changes=[str(change.get("kind", "")) for change in changes],
    )
    return True


def send_anyway(item_id: int, *, actor: str = "") -> bool:
    """Release a held reply: queued and due now, with the changes that held it acknowledged (and the newest
    stored message as the one seen), so the next check only holds it for what happens after this decision.
    False when the row is not held (already released, cancelled, never held)."""
    item: OutboxItem | None = OutboxItem.get_or_none(OutboxItem.id == item_id)
    if item is None or item.state != OutboxState.HELD.value:
        return False
    acknowledged = sorted(
        {str(a) for a in item.acknowledged or []}
        | {str(change["remote_id"]) for change in item.held_changes or [] if change.get("remote_id")}
    )
    released = (
        OutboxItem.update(
            state=OutboxState.QUEUED.value,
            acknowledged=acknowledged,
            seen_message_id=newest_message_id(item.conversation_id),
            held_changes=None,
            next_attempt_at=None,
        )
        .where((OutboxItem.id == item_id) & (OutboxItem.state == OutboxState.HELD.value))
        .execute()
    )
    if released == 1:
        log_event(EventKind.REPLY_RELEASED, conversation=item.conversation_id, actor=actor, outbox=item_id)
    return bool(released == 1)


def held_count() -> int:
    count: int = OutboxItem.select().where(OutboxItem.state == OutboxState.HELD.value).count()
    return count


def _own_reply_ids(item: OutboxItem) -> set[int]:
    """Outbox rows whose recorded replies are no news to this one: itself, and replies queued before this
    draft was begun (the seller knew about them when writing)."""
    started = item.draft_started_at or item.created_at
    rows = OutboxItem.select(OutboxItem.id).where(
        (OutboxItem.conversation == item.conversation_id)
        & ((OutboxItem.id == item.id) | (OutboxItem.created_at <= started))
    )
    return {int(row.id) for row in rows}


def stored_changes(item: OutboxItem) -> list[dict[str, Any]]:
    """What the store holds of the thread that the seller had not seen when beginning this reply: messages
    stored after ``seen_message_id``, except this app's own earlier replies and what was acknowledged."""
    if item.seen_message_id is None:
        return []
    own = _own_reply_ids(item)
    acknowledged = {str(a) for a in item.acknowledged or []}
    query = (
        Message.select(
            Message.id,
            Message.direction,
            Message.author_name,
            Message.author_address,
            Message.sent_at,
            Message.remote_id,
            Message.extra,
        )
        .where((Message.conversation == item.conversation_id) & (Message.id > item.seen_message_id))
        .order_by(Message.sent_at, Message.id)
    )
    changes: list[dict[str, Any]] = []
    for message in query:
        extra = dict(message.extra or {})
        if isinstance(extra.get("outbox_id"), int) and extra["outbox_id"] in own:
            continue
        remote_id = str(message.remote_id or f"message:{message.id}")
        if remote_id in acknowledged:
            continue
        changes.append(
            change(
                "customer_wrote" if message.direction == "in" else "answered_elsewhere",
                who=str(message.author_name or message.author_address or ""),
                at=message.sent_at,
                remote_id=remote_id,
            )
        )
    return changes


def change(kind: str, *, who: str, at: datetime | None, remote_id: str) -> dict[str, Any]:
    """One change as stored on a held row (JSON): ``customer_wrote`` or ``answered_elsewhere``."""
    return {"kind": kind, "who": who, "at": (at or utcnow()).isoformat(), "remote_id": remote_id}


def known_remote_ids(item: OutboxItem, remote_ids: Sequence[str]) -> set[str]:
    """Of ``remote_ids`` (Message-IDs found on the server), those the seller had seen (stored by then) or
    that are this app's own earlier replies or acknowledged: not news."""
    if not remote_ids:
        return set()
    seen: set[str] = {str(a) for a in item.acknowledged or []}
    limit = item.seen_message_id or 0
    for chunk_start in range(0, len(remote_ids), 500):
        chunk = list(remote_ids[chunk_start : chunk_start + 500])
        rows = Message.select(Message.remote_id).where(Message.remote_id.in_(chunk) & (Message.id <= limit))
        seen |= {str(row.remote_id) for row in rows}
        own = OutboxItem.select(OutboxItem.message_id).where(
            OutboxItem.message_id.in_(chunk) & OutboxItem.id.in_(list(_own_reply_ids(item)))
        )
        seen |= {str(row.message_id) for row in own}
    return seen


__all__ = ["change", "held_count", "hold", "known_remote_ids", "send_anyway", "stored_changes"]
