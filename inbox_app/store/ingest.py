"""The single path into the one writer (``store.writer.StoreWriter``): one message, conversation or customer at
a time, as the demo, the outbox and the tests store them, with peewee rows handed back.

A conversation's list fields (snippet, counts, last times) and its deadline are *derived* from its messages and
its channel's policy by :func:`refresh_conversation` (the writer's rules); nothing writes a deadline by hand.
Adding the same remote message twice is a no-op, which is what makes every sync idempotent.
"""

from __future__ import annotations

import logging
from datetime import datetime

from inbox_app.domain.conversations import DerivedFields, IncomingMessage, Status
from inbox_app.store.blobs import BlobStore
from inbox_app.store.events import EventKind, log_event
from inbox_app.store.models import (
    Account,
    Channel,
    Conversation,
    Customer,
    Message,
    utcnow,
)
from inbox_app.store.writer import (
    VENDOR_CLOCK,
    StoreWriter,
    clear_policy_cache,
    derive,
    ensure_channel,
    message_facts,
    policy_for_channel,
)

__all__ = [
    "add_message",
    "apply_derived",
    "clear_policy_cache",
    "create_conversation",
    "ensure_channel",
    "ensure_customer",
    "find_message",
    "mark_no_response_needed",
    "policy_for_channel",
    "refresh_conversation",
    "set_status",
]

log = logging.getLogger("inbox_app.store")


def ensure_customer(
    kind: str, value: str, display_name: str | None = None, language: str | None = None
) -> Customer:
    """The customer behind an identity (address, relay alias, user name), created on first sight."""
    customer_id, _name = StoreWriter(0).customer(kind, value, display_name, language)
    customer: Customer = Customer.get_by_id(customer_id)
    return customer


def create_conversation(
    account: Account,
    channel: Channel,
    *,
    remote_id: str | None,
    subject: str,
    customer: Customer | None = None,
    order_id: str | None = None,
    language: str | None = None,
    created_at: datetime | None = None,
    extra: dict[str, object] | None = None,
) -> Conversation:
    conversation_id = StoreWriter(account.id).create_conversation(
        channel_id=channel.id,
        subject=subject,
        customer=(customer.id, customer.name) if customer is not None else None,
        order_id=order_id,
        language=language,
        created_at=created_at or utcnow(),
        extra=dict(extra or {}),
        remote_id=remote_id,
    )
    conversation: Conversation = Conversation.get_by_id(conversation_id)
    return conversation


def find_message(conversation: Conversation, remote_id: str | None) -> Message | None:
    if not remote_id:
        return None
    return Message.get_or_none(Message.conversation == conversation, Message.remote_id == remote_id)


def add_message(
    conversation: Conversation,
    incoming: IncomingMessage,
    *,
    blobs: BlobStore | None = None,
    refresh: bool = True,
    log_events: bool = True,
) -> Message:
    """Store one message (idempotent on its remote id), its raw source and attachments."""
    existing = find_message(conversation, incoming.remote_id)
    if existing is not None:
        return existing
    writer = StoreWriter(conversation.account_id)
    with writer.db.atomic():
        message_id = writer.write_message(conversation.id, incoming, blobs=blobs, log_event=log_events)
    if incoming.direction.value == "in":
        _reread_triage(conversation)
    if refresh:
        refresh_conversation(conversation)
    message: Message = Message.get_by_id(message_id)
    return message


def _reread_triage(conversation: Conversation) -> None:
    """Bring the caller's row object up to date with what the writer's inbound hooks may just have changed (a
    customer's message reopens a closed conversation, the rules categorise it): the deadline is then derived
    from the status the conversation really has."""
    fresh = (
        Conversation.select(
            Conversation.status,
            Conversation.snoozed_until,
            Conversation.category,
            Conversation.category_source,
        )
        .where(Conversation.id == conversation.id)
        .get()
    )
    for name in ("status", "snoozed_until", "category", "category_source"):
        if getattr(conversation, name) != getattr(fresh, name):
            setattr(conversation, name, getattr(fresh, name))


def refresh_conversation(conversation: Conversation, *, save: bool = True) -> Conversation:
    """Recompute the list fields and the deadline from the stored messages and the channel's policy.

    The same reader and rules as the writer's bulk ``StoreWriter.refresh``, applied to this row object (whose
    status the caller may just have changed) so a later ``save`` keeps them.
    """
    apply_derived(
        conversation,
        derive(
            message_facts([conversation.id])[conversation.id],
            conversation.channel,
            status=conversation.status,
            no_response_needed=bool(conversation.no_response_needed),
            reply_needed_since=conversation.reply_needed_since,
            vendor_clock=bool((conversation.extra or {}).get(VENDOR_CLOCK)),
        ),
    )
    if save and conversation.dirty_fields:
        # Only what this object changed: the writer's hooks may have reopened or categorised the row since it
        # was read (a customer's message arriving through ``add_message``), and a full save would undo that.
        conversation.save(only=conversation.dirty_fields)
    return conversation


def apply_derived(conversation: Conversation, derived: DerivedFields) -> None:
    conversation.message_count = derived.message_count
    if derived.has_messages:
        conversation.last_message_at = derived.last_message_at
        conversation.snippet = derived.snippet or ""
        conversation.last_inbound_at = derived.last_inbound_at
        conversation.unread = bool(derived.unread)
    conversation.deadline_started_at = derived.deadline_started_at
    conversation.deadline_at = derived.deadline_at


def set_status(conversation: Conversation, status: Status, *, actor: str = "") -> None:
    old = conversation.status
    if old == status.value:
        return
    conversation.status = status.value
    if status is not Status.SNOOZED:
        conversation.snoozed_until = None
    refresh_conversation(conversation)
    log_event(
        EventKind.STATUS_CHANGED,
        conversation=conversation.id,
        actor=actor,
        old=old,
        new=status.value,
    )


def mark_no_response_needed(conversation: Conversation, *, actor: str = "") -> None:
    conversation.no_response_needed = True
    refresh_conversation(conversation)
    log_event(EventKind.NO_RESPONSE_NEEDED, conversation=conversation.id, actor=actor)
