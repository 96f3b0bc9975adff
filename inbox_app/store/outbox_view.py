"""Read-only views of the outbox for the screen: what is waiting, what went out, what needs the seller.

The outbox rows themselves and their state changes belong to :mod:`inbox_app.store.outbox`; this module only
answers the two questions the UI asks ("what is in the outbox?" and "which replies of this conversation are
still on their way?") with plain dataclasses, so views never touch peewee rows.

A row's *phase* is what the seller sees, finer than the stored state: a queued reply may be waiting for its
scheduled time ("scheduled") or for the next attempt after a temporary error ("waiting"). The phase depends
on the clock, so it is computed from a ``now`` the caller passes in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import peewee

from inbox_app.store.accounts import DEMO_KIND
from inbox_app.store.models import Account, Channel, Conversation, OutboxItem
from inbox_app.store.outbox import OutboxState, is_unconfirmed

ACTIVE_STATES = (
    OutboxState.QUEUED.value,
    OutboxState.SENDING.value,
    OutboxState.FAILED.value,
    OutboxState.HELD.value,
)
DONE_STATES = (OutboxState.SENT.value, OutboxState.CANCELLED.value)


class OutboxPhase(StrEnum):
    """What the seller sees for a reply (see the module docstring)."""

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    WAITING = "waiting"  # queued again after a temporary error; the next attempt is in the future
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    HELD = "held"  # the thread changed since the reply was begun: waits for Send anyway / Edit / Discard
    DEMO = "demo"  # queued on the demo account: it stays in the outbox and is never sent


@dataclass(frozen=True)
class OutboxRow:
    """One reply in the outbox, with the conversation it answers."""

    id: int
    conversation_id: int
    state: str  # an OutboxState value, as stored
    subject: str  # the conversation's subject (the reply's own subject when the conversation has none)
    customer_name: str
    channel_kind: str
    channel_name: str
    recipients: tuple[str, ...]
    body: str
    created_at: datetime
    scheduled_at: datetime | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None  # on a sent reply: a warning (delivery unconfirmed), not a failure
    sent_at: datetime | None
    close_after_send: bool
    demo: bool = False  # a reply of the demo account: never delivered
    # On a held reply: what changed since it was begun ({kind, who, at, remote_id}), see ``sync.collisions``.
    held_changes: tuple[dict[str, object], ...] = ()

    def phase(self, now: datetime) -> OutboxPhase:
        if self.state == OutboxState.QUEUED.value and self.demo:
            return OutboxPhase.DEMO
        if self.state == OutboxState.QUEUED.value:
            if self.scheduled_at is not None and self.scheduled_at > now:
                return OutboxPhase.SCHEDULED
            if self.next_attempt_at is not None and self.next_attempt_at > now:
                return OutboxPhase.WAITING
            return OutboxPhase.QUEUED
        try:
            return OutboxPhase(self.state)
        except ValueError:  # a state written by a newer version: show it as waiting, never hide it
            return OutboxPhase.QUEUED

    @property
    def can_cancel(self) -> bool:
        """Only a reply that has not started sending can be cancelled (``outbox.cancel`` enforces it too)."""
        return self.state in (OutboxState.QUEUED.value, OutboxState.HELD.value)

    @property
    def is_held(self) -> bool:
        return self.state == OutboxState.HELD.value

    @property
    def can_send_again(self) -> bool:
        """A reply recorded as sent but unconfirmed (``outbox.send_again``): the seller may send a copy."""
        return is_unconfirmed(self.state, self.last_error)

    def can_retry(self, now: datetime) -> bool:
        """ "Retry now" makes sense for a failed reply and for one waiting after an error, not a scheduled one."""
        phase = self.phase(now)
        if phase in (OutboxPhase.FAILED, OutboxPhase.WAITING):
            return True
        return phase is OutboxPhase.QUEUED and (self.attempts > 0 or bool(self.last_error))


def _query() -> peewee.ModelSelect[OutboxItem]:
    return (
        OutboxItem.select(
            OutboxItem,
            Conversation.id,
            Conversation.subject,
            Conversation.customer_name,
            Channel.kind,
            Channel.name,
            Account.kind,
        )
        .join(Conversation)  # along the foreign keys, so ``item.conversation.channel`` needs no query
        .join(Channel)
        .switch(OutboxItem)
        .join(Account)
    )


def _row(item: OutboxItem) -> OutboxRow:
    conversation = item.conversation  # selected with the item: no extra query
    channel = conversation.channel
    return OutboxRow(
        id=item.id,
        conversation_id=int(conversation.id),
        state=str(item.state),
        subject=str(conversation.subject or item.subject or ""),
        customer_name=str(conversation.customer_name or ""),
        channel_kind=str(channel.kind),
        channel_name=str(channel.name),
        recipients=tuple(str(r) for r in (item.recipients or [])),
        body=str(item.body),
        created_at=item.created_at,
        scheduled_at=item.scheduled_at,
        attempts=int(item.attempts),
        next_attempt_at=item.next_attempt_at,
        last_error=item.last_error,
        sent_at=item.sent_at,
        close_after_send=bool(item.close_after_send),
        demo=item.account.kind == DEMO_KIND,
        held_changes=tuple(dict(c) for c in item.held_changes or []),
    )


def outbox_overview(limit_done: int = 50) -> list[OutboxRow]:
    """Every reply not delivered yet (queued, sending, failed: oldest first, the order they go out in), then
    the ``limit_done`` most recently finished ones (sent or cancelled, newest first).

    Failed replies always show, however old: each one is an answer the customer never got.
    """
    active = (
        _query().where(OutboxItem.state.in_(ACTIVE_STATES)).order_by(OutboxItem.created_at, OutboxItem.id)
    )
    finished_at = peewee.fn.COALESCE(OutboxItem.sent_at, OutboxItem.created_at)
    done = (
        _query()
        .where(OutboxItem.state.in_(DONE_STATES))
        .order_by(finished_at.desc(), OutboxItem.id.desc())
        .limit(max(limit_done, 0))
    )
    return [_row(item) for item in active] + [_row(item) for item in done]


def outbox_rows_for(conversation_id: int) -> list[OutboxRow]:
    """This conversation's replies still on their way (queued, scheduled, sending, failed), oldest first.

    Sent replies are messages of the thread by then, and cancelled ones are gone from the seller's view.
    """
    query = (
        _query()
        .where((OutboxItem.conversation == conversation_id) & (OutboxItem.state.in_(ACTIVE_STATES)))
        .order_by(OutboxItem.created_at, OutboxItem.id)
    )
    return [_row(item) for item in query]


def pending_count() -> int:
    """How many replies are still to be delivered (queued or sending): the status bar's number."""
    count: int = (
        OutboxItem.select()
        .where(OutboxItem.state.in_([OutboxState.QUEUED.value, OutboxState.SENDING.value]))
        .count()
    )
    return count


def failed_count() -> int:
    """How many replies failed for good and wait for the seller (the status bar shows them in red)."""
    count: int = OutboxItem.select().where(OutboxItem.state == OutboxState.FAILED.value).count()
    return count
