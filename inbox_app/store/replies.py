"""Turn "reply to this conversation" into a fully addressed outbox row.

Everything the recipient's mail program will use to thread the reply is fixed *here*, at queue time, and stored
on the outbox row: recipient, subject, In-Reply-To, References and above all the Message-ID. A fixed Message-ID
is what lets the delivery side recognise, after a crash, whether a reply already reached the Sent folder
(and so must not be sent again).

Mail and Amazon conversations are handled here (Amazon replies are e-mails to the buyer's relay alias, with the
subject kept as Amazon wrote it so Amazon files the answer under the same inquiry). Marketplace conversations
(an API account: Mirakl…) are queued the same way: their row's Message-ID is the reply's idempotency reference
(handed to the channel's ``send_reply`` and ``find_sent``), ``in_reply_to`` the vendor's thread id and the
recipient the customer; the channel's limits are checked before this (``sync.channel_delivery``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from inbox_app.domain.addresses import is_reply_address, printable
from inbox_app.domain.message_ids import new_message_id
from inbox_app.domain.templates import find_unfilled
from inbox_app.i18n import _
from inbox_app.store import outbox
from inbox_app.store.accounts import DEMO_KIND, is_api_account, mail_settings
from inbox_app.store.models import Account, Channel, Conversation, Message, OutboxItem

MAIL_CHANNEL_KINDS = outbox.MAIL_CHANNEL_KINDS
_PREFIX_RE = re.compile(r"^\s*((re|aw|sv|antw|rif|r|odp|vs|wg|fwd?|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


class ReplyError(Exception):
    """The reply cannot be queued; ``user_message`` (translated) says why and what to do."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def strip_reply_prefix(subject: str) -> str:
    return _PREFIX_RE.sub("", subject or "").strip()


def reply_subject(subject: str, channel_kind: str) -> str:
    """ "Re: x" for mail; for Amazon the subject as Amazon wrote it with exactly one "RE:" prefix."""
    original = (subject or "").strip()
    if channel_kind == "amazon":
        if re.match(r"^\s*re\s*:", original, re.IGNORECASE):
            # Keep Amazon's own "RE: …" (its case), dropping any doubled prefix after it.
            head, _sep, rest = original.partition(":")
            return f"{head.strip()}: {strip_reply_prefix(rest)}".strip()
        return f"RE: {original}".strip()
    base = strip_reply_prefix(original)
    return f"Re: {base}" if base else "Re:"


def _last_inbound(conversation: Conversation) -> Message | None:
    row: Message | None = (
        Message.select()
        .where((Message.conversation == conversation) & (Message.direction == "in"))
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .first()
    )
    return row


def _last_message(conversation: Conversation) -> Message | None:
    row: Message | None = (
        Message.select()
        .where(Message.conversation == conversation)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .first()
    )
    return row


def _candidates(message: Message, channel_kind: str) -> list[str]:
    """The addresses a reply to ``message`` would go to, in order of preference, as the headers gave them.

    The first group that is present wins: our own recipients for an outbound message; Amazon's relay alias;
    Reply-To; From. A Reply-To that is present but unusable is *not* passed over for From: the sender asked
    for replies elsewhere and we cannot read where, so the seller is told instead of guessing.
    """
    extra = dict(message.extra or {})
    if message.direction == "out":
        return [str(r) for r in (message.recipients or []) if r][:1]
    if channel_kind == "amazon":
        relay = extra.get("relay_address")
        if isinstance(relay, str) and relay:
            return [relay]
    reply_to = extra.get("reply_to")
    if isinstance(reply_to, list) and reply_to:
        found = []
        for entry in reply_to:
            address = entry[1] if isinstance(entry, list | tuple) and len(entry) == 2 else entry
            if isinstance(address, str) and address:
                found.append(address)
        if found:
            return found
    return [message.author_address] if message.author_address else []


def _recipient_of(message: Message, channel_kind: str) -> tuple[str | None, str | None]:
    """(the address to reply to, None) or (None, the unusable address the headers gave, if any)."""
    candidates = _candidates(message, channel_kind)
    for address in candidates:
        if is_reply_address(address.strip()):
            return address.strip(), None
    return None, candidates[0] if candidates else None


def _no_address_message(bad: str | None) -> str:
    if bad:
        return _(
            "No usable reply address: “{address}” is not a valid e-mail address, so no reply can be sent. "
            "Check the sender."
        ).format(address=printable(bad))
    return _("The customer's address is unknown, so the reply cannot be sent.")


def recipient_problem(conversation_id: int) -> str | None:
    """Why a reply to this conversation could not be addressed (shown with the thread), None when it can.

    Only mail conversations are addressed here; a demo account's replies are never delivered.
    """
    conversation: Conversation | None = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None:
        return None
    channel: Channel = conversation.channel
    account: Account = Account.get_by_id(conversation.account_id)
    if channel.kind not in MAIL_CHANNEL_KINDS or account.kind == DEMO_KIND:
        return None
    original = _last_inbound(conversation) or _last_message(conversation)
    if original is None:
        return None
    recipient, bad = _recipient_of(original, channel.kind)
    return None if recipient else _no_address_message(bad)


def queue_reply_for(
    conversation_id: int,
    body: str,
    *,
    close_after_send: bool = False,
    scheduled_at: datetime | None = None,
    attachments: Sequence[dict[str, object]] = (),
    actor: str = "",
) -> OutboxItem:
    """Address and queue a reply; raises :class:`ReplyError` when it cannot be sent as written."""
    conversation: Conversation | None = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None:
        raise ReplyError(_("Conversation {id} does not exist.").format(id=conversation_id))
    channel: Channel = conversation.channel
    account: Account = Account.get_by_id(conversation.account_id)
    demo = account.kind == DEMO_KIND  # queued and shown like a real reply, never delivered (see outbox)
    if is_api_account(account):
        return _queue_marketplace_reply(
            conversation,
            account,
            body,
            close_after_send=close_after_send,
            scheduled_at=scheduled_at,
            attachments=attachments,
            actor=actor,
        )
    if channel.kind not in MAIL_CHANNEL_KINDS and not demo:
        raise ReplyError(
            _("Replies to {channel} conversations are not sent by e-mail.").format(channel=channel.name)
        )
    if not body or not body.strip():
        raise ReplyError(_("The reply is empty."))
    try:  # first: the checks below read the whole text, which must not be 100 MB
        outbox.check_body_queueable(channel.kind, body, attachments)
    except outbox.QueueRefused as exc:
        raise ReplyError(exc.user_message) from exc
    unfilled = find_unfilled(body)
    if unfilled:
        names = ", ".join(sorted({"{" + span.name + "}" for span in unfilled}))
        raise ReplyError(_("The reply still has placeholders to fill in: {names}").format(names=names))
    settings = mail_settings(account)
    if not settings.from_address and not demo:
        raise ReplyError(_("The account “{name}” has no sender address.").format(name=account.name))
    original = _last_inbound(conversation) or _last_message(conversation)
    if original is None:
        raise ReplyError(_("This conversation has no message to reply to."))
    recipient, bad = _recipient_of(original, channel.kind)
    if not recipient and demo:
        recipient = original.author_name or conversation.customer_name or channel.name
    if not recipient:
        raise ReplyError(_no_address_message(bad))
    references = [str(r) for r in (original.references or []) if r]
    in_reply_to = original.remote_id or None
    if in_reply_to and in_reply_to not in references:
        references.append(in_reply_to)
    subject = reply_subject(original.subject or conversation.subject, channel.kind)
    try:
        return outbox.queue_reply(
            conversation,
            body=body,
            message_id=new_message_id("demo.invalid" if demo else settings.from_domain),
            subject=subject,
            recipients=[recipient],
            in_reply_to=in_reply_to,
            references=references,
            attachments=attachments,
            close_after_send=close_after_send,
            scheduled_at=scheduled_at,
            actor=actor,
        )
    except outbox.QueueRefused as exc:  # too long, not text, or an unusable recipient
        raise ReplyError(exc.user_message) from exc


def _queue_marketplace_reply(
    conversation: Conversation,
    account: Account,
    body: str,
    *,
    close_after_send: bool,
    scheduled_at: datetime | None,
    attachments: Sequence[dict[str, object]],
    actor: str,
) -> OutboxItem:
    if not body or not body.strip():
        raise ReplyError(_("The reply is empty."))
    unfilled = find_unfilled(body)
    if unfilled:
        names = ", ".join(sorted({"{" + span.name + "}" for span in unfilled}))
        raise ReplyError(_("The reply still has placeholders to fill in: {names}").format(names=names))
    if not conversation.remote_id:
        raise ReplyError(_("This conversation has no message to reply to."))
    try:
        return outbox.queue_reply(
            conversation,
            body=body,
            message_id=new_message_id(f"{account.kind}.outbox.invalid"),  # the idempotency reference
            subject=conversation.subject,
            recipients=["customer"],
            in_reply_to=conversation.remote_id,
            attachments=attachments,
            close_after_send=close_after_send,
            scheduled_at=scheduled_at,
            actor=actor,
        )
    except outbox.QueueRefused as exc:  # beyond the channel's limits
        raise ReplyError(exc.user_message) from exc
