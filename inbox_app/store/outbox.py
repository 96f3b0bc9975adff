"""The outbox: every reply is a row here before any byte leaves the machine.

The delivery side lives in ``sync``; this module owns the state transitions so that they are the same for every
channel: queued → sending → sent, or back to queued with a backoff, or failed / cancelled. A row in "sending"
at start-up means a crash happened mid-delivery; its ``delivery_step`` says how far it got (claimed: nothing
was transmitted yet; submitting: the message may have reached the server; accepted: it did), so the engine
knows whether it may send again, must only record, or must ask the seller.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from inbox_app.domain.message_ids import new_message_id
from inbox_app.store.accounts import DEMO_KIND
from inbox_app.store.db import database_proxy
from inbox_app.store.events import EventKind, log_event
from inbox_app.store.models import Account, Conversation, Draft, OutboxItem, utcnow


class OutboxState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DeliveryStep(StrEnum):
    """How far a ``sending`` row got; each is committed before the network call that follows it."""

    CLAIMED = "claimed"  # nothing transmitted yet
    SUBMITTING = "submitting"  # envelope accepted, message being transmitted: the server may have it
    ACCEPTED = "accepted"  # the server answered 250: delivered, not yet recorded


class OutboxError(RuntimeError):
    pass


BACKOFF_STEPS = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1))


def backoff_for(attempts: int) -> timedelta:
    return BACKOFF_STEPS[min(max(attempts - 1, 0), len(BACKOFF_STEPS) - 1)]


def queue_reply(
    conversation: Conversation,
    *,
    body: str,
    message_id: str,
    subject: str = "",
    recipients: Sequence[str] = (),
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    attachments: Sequence[dict[str, object]] = (),
    close_after_send: bool = False,
    scheduled_at: datetime | None = None,
    actor: str = "",
    resend_of: int | None = None,
) -> OutboxItem:
    """Persist a reply (and drop the draft) in one transaction: after this returns, the reply cannot be lost.

    ``resend_of`` (``send_again``): a copy of that earlier reply, which leaves the draft being written alone.
    """
    db = database_proxy.obj
    with db.atomic():
        item = OutboxItem.create(
            conversation=conversation,
            account=Account.get_by_id(conversation.account_id),
            body=body,
            subject=subject,
            recipients=list(recipients),
            message_id=message_id,
            in_reply_to=in_reply_to,
            references=list(references),
            attachments=list(attachments),
            close_after_send=close_after_send,
            scheduled_at=scheduled_at,
        )
        if resend_of is None:
            Draft.delete().where(Draft.conversation == conversation).execute()
        data: dict[str, Any] = {} if resend_of is None else {"resend_of": resend_of}
        log_event(
            EventKind.REPLY_QUEUED,
            conversation=conversation.id,
            account=conversation.account_id,
            actor=actor,
            outbox=item.id,
            **data,
        )
    return item


def is_unconfirmed(state: str, last_error: str | None) -> bool:
    """A reply recorded as sent whose delivery was not confirmed: on a sent row ``last_error`` is that warning."""
    return state == OutboxState.SENT.value and bool(last_error)


#: ``is_unconfirmed`` as a query condition.
UNCONFIRMED = (OutboxItem.state == OutboxState.SENT.value) & OutboxItem.last_error.is_null(False)


def due_items(now: datetime | None = None, account_id: int | None = None) -> list[OutboxItem]:
    """Items to deliver now: queued and due, plus any left in "sending" by a crash (to be verified first)."""
    moment = now or utcnow()
    cond = (OutboxItem.state == OutboxState.SENDING.value) | (
        (OutboxItem.state == OutboxState.QUEUED.value)
        & ((OutboxItem.scheduled_at.is_null()) | (OutboxItem.scheduled_at <= moment))
        & ((OutboxItem.next_attempt_at.is_null()) | (OutboxItem.next_attempt_at <= moment))
    )
    if account_id is not None:
        cond &= OutboxItem.account == account_id
    cond &= OutboxItem.account.not_in(Account.select(Account.id).where(Account.kind == DEMO_KIND))
    return list(OutboxItem.select().where(cond).order_by(OutboxItem.created_at, OutboxItem.id))


def pending_items() -> list[OutboxItem]:
    return list(
        OutboxItem.select()
        .where(OutboxItem.state.in_([OutboxState.QUEUED.value, OutboxState.SENDING.value]))
        .order_by(OutboxItem.created_at)
    )


def mark_sending(item: OutboxItem) -> None:
    """Claim the item before the network call; a crash after this leaves the evidence."""
    item.state = OutboxState.SENDING.value
    item.delivery_step = DeliveryStep.CLAIMED.value
    item.attempts += 1
    item.save()


def mark_step(item: OutboxItem, step: DeliveryStep) -> None:
    """Record (committed) how far the delivery of a ``sending`` row got; see DeliveryStep."""
    item.delivery_step = step.value
    OutboxItem.update(delivery_step=step.value).where(OutboxItem.id == item.id).execute()


def mark_sent(item: OutboxItem, *, sent_message_id: int | None = None, at: datetime | None = None) -> None:
    item.state = OutboxState.SENT.value
    item.delivery_step = None
    item.sent_at = at or utcnow()
    item.last_error = None
    if sent_message_id is not None:
        item.sent_message_id = sent_message_id
    item.save()


def mark_retry(item: OutboxItem, error: str, now: datetime | None = None) -> None:
    item.state = OutboxState.QUEUED.value
    item.delivery_step = None
    item.last_error = error
    item.next_attempt_at = (now or utcnow()) + backoff_for(item.attempts)
    item.save()


def mark_failed(item: OutboxItem, error: str) -> None:
    item.state = OutboxState.FAILED.value
    item.delivery_step = None
    item.last_error = error
    item.save()
    log_event(EventKind.REPLY_FAILED, conversation=item.conversation_id, outbox=item.id, error=error)


def retry_now(item_id: int) -> None:
    item = OutboxItem.get_by_id(item_id)
    if item.state in (OutboxState.FAILED.value, OutboxState.QUEUED.value):
        item.state = OutboxState.QUEUED.value
        item.next_attempt_at = None
        item.save()


def send_again(item_id: int, *, actor: str = "") -> OutboxItem | None:
    """Queue a fresh copy of a reply recorded as sent but unconfirmed (``last_error`` set on a sent row).

    The copy gets a new Message-ID: it is a second mail, which the seller chose to send knowing the first may
    have arrived. Returns None for a row that is not a sent, unconfirmed reply.
    """
    original = OutboxItem.get_or_none(OutboxItem.id == item_id)
    if original is None or not is_unconfirmed(original.state, original.last_error):
        return None
    domain = original.message_id.strip("<>").rpartition("@")[2] or "localhost"
    return queue_reply(
        Conversation.get_by_id(original.conversation_id),
        body=original.body,
        message_id=new_message_id(domain),
        subject=original.subject,
        recipients=original.recipients or [],
        in_reply_to=original.in_reply_to,
        references=original.references or [],
        attachments=original.attachments or [],
        close_after_send=original.close_after_send,
        actor=actor,
        resend_of=original.id,
    )


def cancel(item_id: int, *, actor: str = "") -> bool:
    """Cancel a reply that has not started sending; returns False if it is too late."""
    updated = (
        OutboxItem.update(state=OutboxState.CANCELLED.value)
        .where((OutboxItem.id == item_id) & (OutboxItem.state == OutboxState.QUEUED.value))
        .execute()
    )
    if updated:
        item = OutboxItem.get_by_id(item_id)
        log_event(EventKind.REPLY_CANCELLED, conversation=item.conversation_id, actor=actor, outbox=item_id)
    return bool(updated)


def items_for(conversation_id: int) -> list[OutboxItem]:
    return list(
        OutboxItem.select().where(OutboxItem.conversation == conversation_id).order_by(OutboxItem.created_at)
    )
