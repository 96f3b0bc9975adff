"""The write side shared by every channel, the demo and the outbox: store messages, keep the derived fields.

A conversation's list fields (snippet, counts, last times) and its deadline are *derived* from its messages and
its channel's policy by :func:`refresh_conversation`; nothing writes a deadline by hand. Adding the same remote
message twice is a no-op, which is what makes every sync idempotent.
"""

from __future__ import annotations

import logging
from datetime import datetime

from peewee import fn

from inbox_app.domain import deadlines
from inbox_app.domain.conversations import (
    SNIPPET_SOURCE,
    DerivedFields,
    Direction,
    IncomingMessage,
    MessageFacts,
    Status,
    derive_fields,
    identity_value,
)
from inbox_app.store.blobs import BlobStore
from inbox_app.store.events import EventKind, log_event
from inbox_app.store.models import (
    Account,
    Attachment,
    Channel,
    Conversation,
    Customer,
    CustomerIdentity,
    DeadlinePolicyRow,
    Message,
    MessageSource,
    utcnow,
)

log = logging.getLogger("inbox_app.store")

_policy_cache: dict[int, deadlines.DeadlinePolicy] = {}


def clear_policy_cache() -> None:
    """Forget resolved policies (call after the user edits policies or a channel's policy)."""
    _policy_cache.clear()


def policy_for_channel(channel: Channel) -> deadlines.DeadlinePolicy:
    cached = _policy_cache.get(channel.id)
    if cached is not None:
        return cached
    policy_id = channel.policy_id
    if policy_id is not None:
        row = DeadlinePolicyRow.get_by_id(policy_id)
        policy = deadlines.DeadlinePolicy.from_dict(row.definition)
    else:
        policy = deadlines.preset_for(channel.kind, channel.marketplace)
    _policy_cache[channel.id] = policy
    return policy


def ensure_channel(account: Account, kind: str, name: str, marketplace: str | None = None) -> Channel:
    channel: Channel
    channel, _created = Channel.get_or_create(
        account=account, kind=kind, marketplace=marketplace, defaults={"name": name}
    )
    return channel


def ensure_customer(
    kind: str, value: str, display_name: str | None = None, language: str | None = None
) -> Customer:
    """The customer behind an identity (address, relay alias, user name), created on first sight."""
    value = identity_value(kind, value)
    identity = CustomerIdentity.get_or_none(kind=kind, value=value)
    if identity is not None:
        customer: Customer = identity.customer
        changed = False
        if display_name and not customer.name:
            customer.name = display_name
            changed = True
        if language and not customer.language:
            customer.language = language
            changed = True
        if changed:
            customer.save()
        return customer
    customer = Customer.create(name=display_name or "", language=language)
    CustomerIdentity.create(customer=customer, kind=kind, value=value, display_name=display_name)
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
    return Conversation.create(
        account=account,
        channel=channel,
        remote_id=remote_id,
        subject=subject,
        customer=customer,
        customer_name=customer.name if customer else "",
        order_id=order_id,
        language=language,
        created_at=created_at or utcnow(),
        extra=extra or {},
    )


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
    message = Message.create(
        conversation=conversation,
        direction=incoming.direction.value,
        remote_id=incoming.remote_id,
        author_name=incoming.author_name,
        author_address=incoming.author_address,
        recipients=list(incoming.recipients),
        subject=incoming.subject,
        sent_at=incoming.sent_at,
        text_body=incoming.text,
        html_body=incoming.html,
        in_reply_to=incoming.in_reply_to,
        references=list(incoming.references),
        is_read=incoming.is_read,
        is_answered=incoming.is_answered,
        is_auto_reply=incoming.is_auto_reply,
        problems=list(incoming.problems) or None,
        extra=incoming.extra,
    )
    if incoming.raw is not None:
        MessageSource.create(message=message, raw=incoming.raw)
    for name, mime_type, data in incoming.attachments:
        sha = blobs.put(data) if blobs is not None and data else None
        Attachment.create(message=message, filename=name, mime_type=mime_type, size=len(data), sha256=sha)
    if log_events:
        kind = EventKind.RECEIVED if incoming.direction is Direction.IN else EventKind.REPLIED
        log_event(
            kind,
            conversation=conversation.id,
            message=message.id,
            account=conversation.account_id,
            at=incoming.sent_at,
        )
    if refresh:
        refresh_conversation(conversation)
    return message


def refresh_conversation(conversation: Conversation, *, save: bool = True) -> Conversation:
    """Recompute the list fields and the deadline from the stored messages and the channel's policy.

    The rules are ``domain.conversations.derive_fields``, the same the bulk writer (``MailStore.refresh``) uses.
    """
    rows = [
        MessageFacts(str(r[0]), r[1], bool(r[2]), r[3] or "", bool(r[4]), bool(r[5]))
        for r in Message.select(
            Message.direction,
            Message.sent_at,
            Message.is_auto_reply,
            fn.substr(Message.text_body, 1, SNIPPET_SOURCE),
            Message.is_read,
            Message.is_answered,
        )
        .where(Message.conversation == conversation)
        .order_by(Message.sent_at, Message.id)
        .tuples()
    ]
    apply_derived(
        conversation,
        derive_fields(
            rows,
            policy_for_channel(conversation.channel),
            status=conversation.status,
            no_response_needed=bool(conversation.no_response_needed),
            reply_needed_since=conversation.reply_needed_since,
            # A marketplace that runs the clock itself (Mirakl; store.channel_threads.VENDOR_CLOCK)
            vendor_clock=bool((conversation.extra or {}).get("vendor_clock")),
        ),
    )
    if save:
        conversation.save()
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
