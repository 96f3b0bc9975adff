"""Deliver due outbox rows of marketplace accounts through their channel, never twice.

The same state machine as mail (``store.outbox``: queued → claimed → submitting → accepted → recorded, each
step committed before the network call that follows it, a claim won by compare-and-set, a dead owner's claim
taken over only when it is provably gone): only the sender differs. Per row:

claim (``claimed``) → ``submitting`` → ``Channel.send_reply`` with the row's Message-ID as the idempotency
reference → ``accepted`` → record (``sent``, the outbound message with the vendor's message id, in one
transaction).

After a crash, or an answer lost after the request went out in full (``TemporarilyUnavailable`` with
``maybe_delivered``), nothing is sent again before ``Channel.find_sent`` was asked: found → recorded (with the
vendor's id, so the next sync's copy is the same message); not there → sent; cannot be confirmed → recorded
as "sent, unconfirmed" exactly like mail (``store.outbox.is_unconfirmed``), the seller decides. When the
lookup itself fails (the vendor is still down) the row stays claimed and is settled by a later round.

``INBOX_APP_TEST_CRASH_AT`` (test-only): ``channel_after_claim``, ``channel_before_send``,
``channel_after_send`` kill the process at that point.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from inbox_app.channels.base import (
    AuthFailed,
    Channel,
    ChannelError,
    LimitProblem,
    LookupOutcome,
    OutgoingFile,
    OutgoingReply,
    ParticipantKind,
    RateLimited,
    ReplyTarget,
    TemporarilyUnavailable,
    check_reply,
)
from inbox_app.domain.conversations import Direction, IncomingMessage, Status
from inbox_app.i18n import _
from inbox_app.store import outbox, outbox_holds
from inbox_app.store.accounts import get_account, set_needs_reconnect
from inbox_app.store.blobs import BlobStore
from inbox_app.store.db import database_proxy
from inbox_app.store.events import EventKind, log_event
from inbox_app.store.ingest import add_message, set_status
from inbox_app.store.models import Account, Conversation, Message, OutboxItem
from inbox_app.sync import collisions
from inbox_app.sync.events import ChangeBus, ChangeEvent
from inbox_app.sync.outbox_delivery import _IN_FLIGHT, DeliveryReport, _abandoned, _test_crash
from inbox_app.sync.ownership import process_token
from inbox_app.sync.registry import ChannelRegistry

log = logging.getLogger("inbox_app.sync")


# ------------------------------------------------------------------------------------------ before queueing


def reply_problems(
    registry: ChannelRegistry, conversation_id: int, body: str, files: Sequence[tuple[str, int]] = ()
) -> list[str]:
    """What is wrong with this reply for its conversation's channel (empty: it may be queued). Mail
    conversations have no channel limits here (their checks live with the mail composer)."""
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None:
        return []
    account = get_account(conversation.account_id)
    spec = registry.spec_for(account.kind) if account is not None else None
    if spec is None or spec.limits is None:
        return []
    check = check_reply(
        conversation.channel.name,
        spec.limits,
        body,
        files,
        thread_message_count=int(conversation.message_count or 0),
    )
    return [message for _code, message in check.problems]


# ------------------------------------------------------------------------------------------------ delivery


def _outgoing(item: OutboxItem, conversation: Conversation, blobs: BlobStore) -> OutgoingReply:
    files = tuple(
        OutgoingFile(
            name=str(entry.get("name") or entry.get("filename") or "attachment"),
            data=blobs.read(str(entry.get("sha256", ""))),
            mime_type=str(entry.get("mime_type") or "application/octet-stream"),
        )
        for entry in item.attachments or []
    )
    targets = tuple(
        ReplyTarget(ParticipantKind.OPERATOR if r == "operator" else ParticipantKind.CUSTOMER)
        for r in (item.recipients or ["customer"])
    )
    return OutgoingReply(
        reference=item.message_id,
        thread_id=str(item.in_reply_to or conversation.remote_id),
        body=item.body,
        files=files,
        to=targets or (ReplyTarget(ParticipantKind.CUSTOMER),),
    )


def _known_before(item: OutboxItem) -> list[str]:
    """The vendor ids of the thread's messages stored before the reply was queued: never taken for it (a
    copy of the reply stored by a sync after the crash is *not* in here, so it is found, not resent)."""
    query = Message.select(Message.remote_id).where(
        (Message.conversation == item.conversation_id)
        & Message.remote_id.is_null(False)
        & (Message.received_at < item.created_at)
    )
    return [str(m.remote_id) for m in query]


def record_channel_reply(
    item: OutboxItem,
    account: Account,
    blobs: BlobStore,
    *,
    remote_id: str | None,
    sent_at: datetime | None = None,
    unconfirmed: str | None = None,
) -> Message:
    """Mark the row sent and add the outbound message (with the vendor's id when known), in one transaction."""
    now = sent_at or datetime.now(UTC)
    files = tuple(
        (
            str(entry.get("name") or "attachment"),
            str(entry.get("mime_type") or "application/octet-stream"),
            blobs.read(str(entry.get("sha256", ""))),
        )
        for entry in item.attachments or []
    )
    with database_proxy.obj.atomic("IMMEDIATE"):
        conversation = Conversation.get_by_id(item.conversation_id)
        message = add_message(
            conversation,
            IncomingMessage(
                direction=Direction.OUT,
                sent_at=now,
                text=item.body,
                author_name="",  # the shop: shown as "You" (account.name is the marketplace's name)
                subject=item.subject,
                remote_id=remote_id or item.message_id,
                recipients=tuple(item.recipients or []),
                is_read=True,
                attachments=files,
                extra={"outbox_id": item.id, "author_role": "shop"},
            ),
            blobs=blobs,
        )
        outbox.mark_sent(item, sent_message_id=message.id, at=now)
        if unconfirmed:
            OutboxItem.update(last_error=unconfirmed).where(OutboxItem.id == item.id).execute()
            log_event(
                EventKind.REPLY_FAILED,
                conversation=conversation.id,
                outbox=item.id,
                unconfirmed=True,
                error=unconfirmed,
            )
        if item.close_after_send:
            set_status(conversation, Status.CLOSED, actor="outbox")
    return message


def _unconfirmed_text(service: str) -> str:
    return _(
        "{service} may have received this reply, but it could not be confirmed. Resend it if the customer did "
        "not receive it."
    ).format(service=service)


async def _settle_by_lookup(
    item: OutboxItem,
    account: Account,
    channel: Channel,
    reply: OutgoingReply,
    blobs: BlobStore,
    report: DeliveryReport,
    *,
    accepted: bool,
) -> bool:
    """Ask the vendor whether the reply is there: True when the row is settled (recorded), False when it
    is not there and may be sent. A failing lookup raises (the row stays claimed for a later round)."""
    lookup = await channel.find_sent(reply, claimed_at=item.created_at, known_message_ids=_known_before(item))
    log.info(
        "outbox item %s: lookup after an interrupted send: %s (%s)", item.id, lookup.outcome, lookup.detail
    )
    if lookup.outcome is LookupOutcome.FOUND and lookup.message is not None:
        record_channel_reply(
            item, account, blobs, remote_id=lookup.message.remote_id, sent_at=lookup.message.sent_at
        )
        report.recovered.append(item.id)
    elif lookup.outcome is LookupOutcome.NOT_SENT and not accepted:
        return False
    else:
        record_channel_reply(
            item,
            account,
            blobs,
            remote_id=None,
            unconfirmed=None if accepted else _unconfirmed_text(channel.name),
        )
        (report.recovered if accepted else report.unconfirmed).append(item.id)
    report.conversations.add(item.conversation_id)
    return True


async def deliver_due_channel(
    account: Account,
    channel: Channel,
    *,
    blobs: BlobStore,
    bus: ChangeBus | None = None,
    now: datetime | None = None,
) -> DeliveryReport:
    """Deliver every due row of a marketplace ``account`` through ``channel``; an outage stops the round and
    leaves the rows queued (or, when a send may have reached the vendor, claimed for a lookup)."""
    report = DeliveryReport()
    me = process_token()
    for item in outbox.due_items(now, account.id):
        if item.id in _IN_FLIGHT:
            continue
        taken_over = item.state == outbox.OutboxState.SENDING.value
        if taken_over:
            if not _abandoned(item, me, now or datetime.now(UTC)) or not outbox.take_over(item, me):
                continue
            log.info("outbox item %s: settling the claim of %s, which is gone", item.id, item.owner)
        elif not outbox.claim(item, me, now=now):
            continue
        _IN_FLIGHT.add(item.id)
        try:
            stop = await _deliver_one(item, account, channel, blobs, report, taken_over=taken_over)
        except outbox.ClaimLost as exc:
            log.warning("%s: not sending it", exc)
            continue
        finally:
            _IN_FLIGHT.discard(item.id)
        if stop:
            break
    if bus is not None and (report.conversations or report.retry):
        bus.publish(ChangeEvent("outbox", frozenset(report.conversations), account.id))
    return report


async def _deliver_one(
    item: OutboxItem,
    account: Account,
    channel: Channel,
    blobs: BlobStore,
    report: DeliveryReport,
    *,
    taken_over: bool,
) -> bool:
    """Deliver one claimed row; True when the round should stop (the vendor is unreachable or refuses us)."""
    conversation = Conversation.get_by_id(item.conversation_id)
    reply = _outgoing(item, conversation, blobs)
    # True once the reply may be on the marketplace: from then on it is looked up, never simply resent.
    ambiguous = taken_over and item.delivery_step in (
        outbox.DeliveryStep.SUBMITTING.value,
        outbox.DeliveryStep.ACCEPTED.value,
    )
    try:
        if ambiguous:
            accepted = item.delivery_step == outbox.DeliveryStep.ACCEPTED.value
            if await _settle_by_lookup(item, account, channel, reply, blobs, report, accepted=accepted):
                return False
            ambiguous = False  # the vendor's whole thread shows it is not there
        if collisions.needs_check(item):  # nothing of it is on the marketplace yet: is it still the answer?
            changes = await collisions.channel_changes(item, channel)
            if changes:
                if outbox_holds.hold(item, changes):
                    report.held.append(item.id)
                    report.conversations.add(item.conversation_id)
                return False
        outbox.mark_step(item, outbox.DeliveryStep.CLAIMED)
        _test_crash("channel_after_claim")
        outbox.mark_step(item, outbox.DeliveryStep.SUBMITTING)
        _test_crash("channel_before_send")
        try:
            receipt = await channel.send_reply(reply)
        except TemporarilyUnavailable as exc:
            if not exc.maybe_delivered:
                raise
            ambiguous = True
            log.warning(
                "outbox item %s: the answer to the send was lost (%s): looking it up", item.id, exc.detail
            )
            if await _settle_by_lookup(item, account, channel, reply, blobs, report, accepted=False):
                return False
            ambiguous = False
            receipt = await channel.send_reply(reply)
        outbox.mark_step(item, outbox.DeliveryStep.ACCEPTED)
        _test_crash("channel_after_send")
        record_channel_reply(
            item, account, blobs, remote_id=receipt.remote_message_id, sent_at=receipt.accepted_at
        )
        report.sent.append(item.id)
        report.conversations.add(item.conversation_id)
        return False
    except (AuthFailed, RateLimited, TemporarilyUnavailable) as exc:
        if ambiguous:
            # It may be on the marketplace and the lookup could not tell yet: the row stays claimed by this
            # process and a later round looks it up again (never resent blindly).
            log.warning("outbox item %s stays claimed for a later lookup: %s", item.id, exc.detail)
        elif isinstance(exc, AuthFailed):
            _release(item, exc.user_message)
        else:
            outbox.mark_retry(item, exc.user_message)
        if isinstance(exc, AuthFailed):
            set_needs_reconnect(account.id, exc.user_message)
        else:
            report.offline = True
        report.retry.append(item.id)
        return True
    except ChannelError as exc:  # refused (bad input, thread gone): the seller must change something
        outbox.mark_failed(item, exc.user_message)
        report.failed.append(item.id)
        report.conversations.add(item.conversation_id)
        return False


def _release(item: OutboxItem, error: str) -> None:
    """Back to the queue at once (the credentials, not the reply, were the problem)."""
    OutboxItem.update(
        state=outbox.OutboxState.QUEUED.value,
        delivery_step=None,
        owner=None,
        lease_until=None,
        last_error=error,
    ).where(OutboxItem.id == item.id).execute()


__all__ = ["LimitProblem", "deliver_due_channel", "record_channel_reply", "reply_problems"]
