"""queue_reply_for: who gets the reply, with which subject and threading headers, and when it is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from inbox_app.domain.conversations import Direction, IncomingMessage
from inbox_app.store.accounts import MailAccountSettings, ServerSettings, create_mail_account
from inbox_app.store.ingest import add_message, create_conversation, ensure_channel
from inbox_app.store.models import Account, Conversation, Draft, OutboxItem
from inbox_app.store.replies import ReplyError, queue_reply_for, reply_subject

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _account() -> Account:
    return create_mail_account(
        "Shop",
        MailAccountSettings(
            imap=ServerSettings("imap.shop.example", 993, "tls", "seller"),
            smtp=ServerSettings("smtp.shop.example", 465, "tls", "seller"),
            from_address="seller@shop.example",
            from_name="Beispiel Shop",
        ),
    )


def _conversation(kind: str = "email", **message: Any) -> Conversation:
    account = _account()
    if kind == "amazon":
        channel = ensure_channel(account, "amazon", "Amazon.de", "amazon.de")
    else:
        channel = ensure_channel(account, kind, "seller@shop.example" if kind == "email" else kind, None)
    conv = create_conversation(account, channel, remote_id=None, subject=message.get("subject", ""))
    add_message(
        conv,
        IncomingMessage(
            direction=Direction.IN,
            sent_at=WHEN,
            text="Where is my parcel?",
            author_name="Anna",
            author_address=message.get("author", "anna@example.net"),
            subject=message.get("subject", "Parcel"),
            remote_id=message.get("remote_id", "<m1@example.net>"),
            references=tuple(message.get("references", ())),
            extra=message.get("extra", {}),
        ),
    )
    return conv


def test_mail_reply_is_fully_addressed(profile: Any) -> None:
    conv = _conversation(
        subject="AW: Re: Parcel",
        references=["<root@example.net>"],
        extra={"reply_to": [["Anna Support", "anna.replies@example.net"]]},
    )
    Draft.create(conversation=conv, body="draft text")
    item = queue_reply_for(conv.id, "It ships today.", close_after_send=True)
    assert isinstance(item, OutboxItem) and item.state == "queued"
    assert item.recipients == ["anna.replies@example.net"]  # Reply-To wins over From
    assert item.subject == "Re: Parcel"
    assert item.in_reply_to == "<m1@example.net>"
    assert item.references == ["<root@example.net>", "<m1@example.net>"]
    assert item.message_id.startswith("<") and item.message_id.endswith("@shop.example>")
    assert item.close_after_send
    assert Draft.select().where(Draft.conversation == conv).count() == 0
    other = queue_reply_for(conv.id, "And a second one.")
    assert other.message_id != item.message_id


def test_amazon_reply_goes_to_the_relay_alias_and_keeps_the_subject(profile: Any) -> None:
    relay = "q7w2e9r4t1y6u3i@marketplace.amazon.de"
    subject = "Anfrage zu Lieferung von Amazon-Kunde Max Müller (Bestellung: 302-1234567-7654321)"
    conv = _conversation("amazon", subject=subject, author=relay, extra={"relay_address": relay})
    item = queue_reply_for(conv.id, "Guten Tag, die Mühle ist unterwegs.")
    assert item.recipients == [relay]
    assert item.subject == f"RE: {subject}"
    assert reply_subject(f"RE: {subject}", "amazon") == f"RE: {subject}"
    assert reply_subject(f"RE: Re: {subject}", "amazon") == f"RE: {subject}"


def test_reply_without_reply_to_goes_to_the_sender(profile: Any) -> None:
    conv = _conversation()
    assert queue_reply_for(conv.id, "Hi").recipients == ["anna@example.net"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [("", "empty"), ("   \n", "empty"), ("Your order {order.id} ships today.", "{order.id}")],
)
def test_refused_bodies(profile: Any, body: str, expected: str) -> None:
    conv = _conversation()
    with pytest.raises(ReplyError) as caught:
        queue_reply_for(conv.id, body)
    assert expected in caught.value.user_message
    assert OutboxItem.select().count() == 0


def test_refused_conversations(profile: Any) -> None:
    with pytest.raises(ReplyError, match="does not exist"):
        queue_reply_for(999, "Hi")
    ebay = _conversation("ebay")
    with pytest.raises(ReplyError, match="not sent by e-mail"):
        queue_reply_for(ebay.id, "Hi")
