"""The outbox: every reply is a row here before any byte leaves the machine.

The delivery side lives in ``sync``; this module owns the state transitions so that they are the same for every
channel: queued → sending → sent, or back to queued with a backoff, or failed / cancelled. A row in "sending"
at start-up means a crash happened mid-delivery; its ``delivery_step`` says how far it got (claimed: nothing
was transmitted yet; submitting: the message may have reached the server; accepted: it did), so the engine
knows whether it may send again, must only record, or must ask the seller.

Several copies of the app may open one profile. A row becomes a process's to deliver only through
:func:`claim`, a single compare-and-set UPDATE (queued → sending, ``owner`` = that process, ``lease_until``),
so of two processes that read the same queued row exactly one sends it. A ``sending`` row is settled by
another process only after :func:`take_over` (compare-and-set on the old owner), which the delivery code
calls only for an owner that is gone (``sync.ownership.owner_alive``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from inbox_app.domain.addresses import is_reply_address, printable
from inbox_app.domain.channel_limits import body_problem_message, check_body
from inbox_app.domain.conversations import CHANNEL_LABELS
from inbox_app.domain.message_ids import new_message_id
from inbox_app.i18n import _
from inbox_app.store.accounts import DEMO_KIND
from inbox_app.store.db import database_proxy
from inbox_app.store.drafts import newest_message_id
from inbox_app.store.events import EventKind, log_event
from inbox_app.store.models import Account, Conversation, Draft, OutboxItem, utcnow


class OutboxState(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # The collision check found the thread changed since the draft was started (``sync.collisions``): the
    # reply waits for the seller (``store.outbox_holds``: send anyway, or cancel).
    HELD = "held"


class DeliveryStep(StrEnum):
    """How far a ``sending`` row got; each is committed before the network call that follows it."""

    CLAIMED = "claimed"  # nothing transmitted yet
    SUBMITTING = "submitting"  # envelope accepted, message being transmitted: the server may have it
    ACCEPTED = "accepted"  # the server answered 250: delivered, not yet recorded
    # On a *sent* row: delivered and recorded, but its copy in Sent or the \Answered flag on the original did
    # not reach the IMAP server (the connection broke); a later round finishes it (never sends again).
    FILING = "filing"


class OutboxError(RuntimeError):
    pass


class QueueRefused(OutboxError):
    """A reply that must not enter the outbox as written; ``user_message`` (translated) says why."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


#: Channels whose replies are mails: their recipients must be plain addresses (see domain.addresses).
MAIL_CHANNEL_KINDS = frozenset({"email", "amazon"})


def check_body_queueable(channel_kind: str, body: str, attachments: Sequence[dict[str, object]] = ()) -> None:
    """Raise :class:`QueueRefused` for a text (with its files) over the channel's limits or not text at all."""
    sizes = [int(size) for a in attachments if isinstance(size := a.get("size"), int | float)]
    problem = check_body(channel_kind, body, sizes)
    if problem is not None:
        label = _(CHANNEL_LABELS[channel_kind]) if channel_kind in CHANNEL_LABELS else channel_kind
        raise QueueRefused(body_problem_message(label, problem[0], problem[1], len(body)))


def check_queueable(
    channel_kind: str,
    *,
    body: str,
    recipients: Sequence[str],
    attachments: Sequence[dict[str, object]] = (),
    demo: bool = False,
) -> None:
    """Raise :class:`QueueRefused` for a reply that breaks its channel's limits or has an unusable recipient.

    The last line of defence: the reply editor and ``reply`` check the same before they get here, but every
    row passes this first, so no path (a script, a future dialog, ``send-again``) can queue a 100 MB body or a
    reply to ``victim@evil.example=0D=0AX-Injected``. A demo account's replies are never delivered and may
    be addressed to a name; they still respect the text limits.
    """
    check_body_queueable(channel_kind, body, attachments)
    if channel_kind in MAIL_CHANNEL_KINDS and not demo:
        if not recipients:
            raise QueueRefused(_("The customer's address is unknown, so the reply cannot be sent."))
        for recipient in recipients:
            if not is_reply_address(recipient):
                raise QueueRefused(
                    _("“{address}” is not a usable e-mail address, so the reply was not queued.").format(
                        address=printable(recipient)
                    )
                )


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

    Every reply enters the outbox here, after :func:`check_queueable` (raises :class:`QueueRefused`).

    ``resend_of`` (``send_again``): a copy of that earlier reply, which leaves the draft being written alone.
    """
    account = Account.get_by_id(conversation.account_id)
    channel = conversation.channel
    check_queueable(
        channel.kind,
        body=body,
        recipients=recipients,
        attachments=attachments,
        demo=account.kind == DEMO_KIND,
    )
    db = database_proxy.obj
    with db.atomic():
        # What the seller had seen when the reply was begun (the draft's start, else now): the collision check
        # before send compares the thread with it (``sync.collisions``).
        draft = Draft.get_or_none(Draft.conversation == conversation) if resend_of is None else None
        seen = draft.seen_message_id if draft is not None else None
        if seen is None:
            seen = newest_message_id(conversation.id)
        item = OutboxItem.create(
            draft_started_at=(draft.started_at if draft is not None else None) or utcnow(),
            seen_message_id=seen,
            conversation=conversation,
            account=account,
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


def _due(moment: datetime) -> Any:
    return (
        (OutboxItem.state == OutboxState.QUEUED.value)
        & ((OutboxItem.scheduled_at.is_null()) | (OutboxItem.scheduled_at <= moment))
        & ((OutboxItem.next_attempt_at.is_null()) | (OutboxItem.next_attempt_at <= moment))
    )


def due_items(now: datetime | None = None, account_id: int | None = None) -> list[OutboxItem]:
    """Candidates to deliver now: queued and due, plus rows in "sending" (an owner's claim, to be settled
    only if that owner is gone: see ``sync.outbox_delivery``). A candidate is not yet the caller's: it must
    win :func:`claim` (or :func:`take_over`) first, since another process may be reading the same list."""
    moment = now or utcnow()
    cond = (OutboxItem.state == OutboxState.SENDING.value) | _due(moment)
    if account_id is not None:
        cond &= OutboxItem.account == account_id
    cond &= OutboxItem.account.not_in(Account.select(Account.id).where(Account.kind == DEMO_KIND))
    return list(OutboxItem.select().where(cond).order_by(OutboxItem.created_at, OutboxItem.id))


def has_due(now: datetime | None = None, account_ids: Sequence[int] | None = None) -> bool:
    """Is any reply of ``account_ids`` waiting to go out now? (Cheap: the delivery loop asks it every few
    seconds, so a reply queued by another copy of the app on this profile goes out without waiting.)"""
    cond = _due(now or utcnow())
    if account_ids is not None:
        cond &= OutboxItem.account.in_(list(account_ids))
    return bool(OutboxItem.select(OutboxItem.id).where(cond).limit(1).exists())


def pending_items() -> list[OutboxItem]:
    return list(
        OutboxItem.select()
        .where(OutboxItem.state.in_([OutboxState.QUEUED.value, OutboxState.SENDING.value]))
        .order_by(OutboxItem.created_at)
    )


#: How long a claim holds without renewal. Renewed at every delivery step; only consulted for owners whose
#: life cannot be checked (another machine), see ``sync.ownership``.
LEASE = timedelta(minutes=10)


class ClaimLost(OutboxError):
    """The row is no longer claimed by this process (taken over, cancelled): stop working on it."""


def claim(
    item: OutboxItem, owner: str, *, now: datetime | None = None, lease: timedelta = LEASE, due: bool = True
) -> bool:
    """Claim a queued row for delivery by ``owner``, atomically: one compare-and-set UPDATE that only
    succeeds while the row is still queued (and due, with ``due``). Of several processes that read the same
    queued row, exactly one gets True; the others must leave it alone. ``item`` is updated in place."""
    moment = now or utcnow()
    cond = (OutboxItem.id == item.id) & (
        _due(moment) if due else OutboxItem.state == OutboxState.QUEUED.value
    )
    won = (
        OutboxItem.update(
            state=OutboxState.SENDING.value,
            delivery_step=DeliveryStep.CLAIMED.value,
            owner=owner,
            lease_until=moment + lease,
            attempts=OutboxItem.attempts + 1,
        )
        .where(cond)
        .execute()
    )
    if won != 1:
        return False
    fresh = OutboxItem.get_by_id(item.id)
    item.state, item.delivery_step, item.attempts = fresh.state, fresh.delivery_step, fresh.attempts
    item.owner, item.lease_until = fresh.owner, fresh.lease_until
    return True


def take_over(item: OutboxItem, owner: str, *, now: datetime | None = None, lease: timedelta = LEASE) -> bool:
    """Take a ``sending`` row over from the owner ``item.owner`` (as read by the caller, who has established
    that this owner is gone): compare-and-set on the owner, so of two processes settling the same abandoned
    row only one does, and a row that changed meanwhile is left alone."""
    previous = OutboxItem.owner.is_null() if item.owner is None else OutboxItem.owner == item.owner
    moment = now or utcnow()
    won = (
        OutboxItem.update(owner=owner, lease_until=moment + lease)
        .where((OutboxItem.id == item.id) & (OutboxItem.state == OutboxState.SENDING.value) & previous)
        .execute()
    )
    if won == 1:
        item.owner, item.lease_until = owner, moment + lease
    return bool(won == 1)


def mark_sending(item: OutboxItem, owner: str = "", *, lease: timedelta = LEASE) -> bool:
    """Claim a queued row whether or not it is due (see :func:`claim`); False when it is no longer queued."""
    return claim(item, owner, lease=lease, due=False)


def mark_step(item: OutboxItem, step: DeliveryStep, *, lease: timedelta = LEASE) -> None:
    """Record (committed) how far the delivery of a ``sending`` row got; see DeliveryStep. Renews the lease.

    Raises :class:`ClaimLost` when the row is no longer this owner's claim, before anything else is sent."""
    query = OutboxItem.update(delivery_step=step.value, lease_until=utcnow() + lease).where(
        (OutboxItem.id == item.id) & (OutboxItem.state == OutboxState.SENDING.value)
    )
    if item.owner is not None:
        query = query.where(OutboxItem.owner == item.owner)
    if query.execute() != 1:
        raise ClaimLost(f"outbox item {item.id} is no longer claimed by this process")
    item.delivery_step = step.value


def mark_sent(item: OutboxItem, *, sent_message_id: int | None = None, at: datetime | None = None) -> None:
    item.state = OutboxState.SENT.value
    item.delivery_step = None
    item.owner = item.lease_until = None
    item.sent_at = at or utcnow()
    item.last_error = None
    if sent_message_id is not None:
        item.sent_message_id = sent_message_id
    item.save()


def mark_filing(item: OutboxItem) -> None:
    """A sent row whose Sent copy or \\Answered flag is still to be made (see ``DeliveryStep.FILING``)."""
    item.delivery_step = DeliveryStep.FILING.value
    OutboxItem.update(delivery_step=item.delivery_step, owner=None, lease_until=None).where(
        (OutboxItem.id == item.id) & (OutboxItem.state == OutboxState.SENT.value)
    ).execute()


def filing_items(account_id: int) -> list[OutboxItem]:
    return list(
        OutboxItem.select()
        .where(
            (OutboxItem.account == account_id)
            & (OutboxItem.state == OutboxState.SENT.value)
            & (OutboxItem.delivery_step == DeliveryStep.FILING.value)
        )
        .order_by(OutboxItem.id)
    )


def take_filing(item: OutboxItem, owner: str, *, lease: timedelta = LEASE) -> bool:
    """Claim the filing of a sent row (compare-and-set on its previous owner, as :func:`take_over`)."""
    previous = OutboxItem.owner.is_null() if item.owner is None else OutboxItem.owner == item.owner
    won = (
        OutboxItem.update(owner=owner, lease_until=utcnow() + lease)
        .where(
            (OutboxItem.id == item.id) & (OutboxItem.delivery_step == DeliveryStep.FILING.value) & previous
        )
        .execute()
    )
    if won == 1:
        item.owner = owner
    return bool(won == 1)


def end_filing(item: OutboxItem, *, done: bool) -> None:
    OutboxItem.update(
        delivery_step=None if done else DeliveryStep.FILING.value, owner=None, lease_until=None
    ).where(OutboxItem.id == item.id).execute()
    item.owner = None


def mark_retry(item: OutboxItem, error: str, now: datetime | None = None) -> None:
    item.state = OutboxState.QUEUED.value
    item.delivery_step = None
    item.owner = item.lease_until = None
    item.last_error = error
    item.next_attempt_at = (now or utcnow()) + backoff_for(item.attempts)
    item.save()


def mark_failed(item: OutboxItem, error: str) -> None:
    item.state = OutboxState.FAILED.value
    item.delivery_step = None
    item.owner = item.lease_until = None
    item.last_error = error
    item.save()
    log_event(EventKind.REPLY_FAILED, conversation=item.conversation_id, outbox=item.id, error=error)


def retry_now(item_id: int) -> None:
    """Put a failed or waiting reply back to "due now". One conditional UPDATE: a row the engine claimed
    meanwhile stays claimed (a read-then-save here could turn a reply being sent back into a queued one)."""
    OutboxItem.update(state=OutboxState.QUEUED.value, next_attempt_at=None).where(
        (OutboxItem.id == item_id)
        & OutboxItem.state.in_([OutboxState.FAILED.value, OutboxState.QUEUED.value])
    ).execute()


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
    """Cancel a reply that has not started sending (queued, or held by the collision check); returns False
    if it is too late."""
    updated = (
        OutboxItem.update(state=OutboxState.CANCELLED.value)
        .where(
            (OutboxItem.id == item_id)
            & OutboxItem.state.in_([OutboxState.QUEUED.value, OutboxState.HELD.value])
        )
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
