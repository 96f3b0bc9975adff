"""Different mails that share a Message-ID are never merged; true copies of one mail are stored once (issue 11.4).

Through a real Dovecot: a Message-ID is the sender's claim, not an identity. Buggy mailers and forged mail reuse
one, and CPython's own e-mail test corpus has five files under one Message-ID. Only a mail with the same
Message-ID *and* the same content (body and author/MIME header fields; transport headers such as Received or
Delivered-To may differ) is a copy, e.g. the same mail in INBOX and Sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inbox_app.store import search
from inbox_app.store.models import Account, Conversation, MailLocation, Message
from inbox_app.sync.mail_sync import MailAccountSync
from tests.integration.test_mail_sync import SELLER, imap_client, mail_account, run
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.integration

SHARED = "<shared-0001@mailer.example>"


@pytest.fixture
def account(profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str]) -> Account:
    return mail_account(dovecot, *mail_user)


async def _sync(account: Account) -> Any:
    sync = MailAccountSync(account)
    try:
        return await sync.sync_once()
    finally:
        await sync.close()


def _mail(
    sender: str, body: str, *, message_id: str = SHARED, subject: str = "Order question", **extra: str
) -> bytes:
    headers = [
        f"From: {sender}",
        f"To: {SELLER}",
        f"Subject: {subject}",
        "Date: Fri, 04 Dec 2026 10:00:00 +0000",
        f"Message-ID: {message_id}",
        *(f"{name.replace('_', '-')}: {value}" for name, value in extra.items()),
        "Content-Type: text/plain; charset=utf-8",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


def _delivered(raw: bytes, n: int = 1) -> bytes:
    """The same mail as the receiving server delivers it: transport headers added in front."""
    return (
        f"Return-Path: <bounce{n}@mailer.example>\r\nDelivered-To: {SELLER}\r\n"
        f"Received: from mx{n}.mailer.example by mail.shop.example; Fri, 04 Dec 2026 10:00:0{n} +0000\r\n"
    ).encode() + raw


def _app_messages(account: Account) -> list[Message]:
    return list(
        Message.select().join(Conversation).where(Conversation.account == account.id).order_by(Message.id)
    )


def _server_count(dovecot: DovecotServer, user: str, password: str, folders: tuple[str, ...]) -> int:
    with imap_client(dovecot, user, password) as client:
        return sum(int(client.folder_status(f, ["MESSAGES"])[b"MESSAGES"]) for f in folders)


def test_two_mails_with_one_message_id_are_both_kept_and_found(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], account: Account
) -> None:
    user, password = mail_user
    first = _mail("Anna Buyer <anna@example.net>", "Where is my kettle? Tracking says nothing. zebracrossing")
    second = _mail("Bob Other <bob@example.org>", "Please cancel the lamp order, thanks. hippopotamus")
    dovecot.append(user, password, "INBOX", _delivered(first, 1))
    dovecot.append(user, password, "INBOX", _delivered(second, 2))
    # The seller's Sent folder holds a copy of Anna's mail (forwarded to themselves): the same mail, once.
    dovecot.append(user, password, "Sent", first)
    run(_sync(account))

    messages = _app_messages(account)
    assert [m.remote_id for m in messages] == [SHARED, SHARED]
    by_sender = {m.author_address: m for m in messages}
    assert set(by_sender) == {"anna@example.net", "bob@example.org"}
    assert "kettle" in by_sender["anna@example.net"].text_body
    assert "cancel the lamp" in by_sender["bob@example.org"].text_body
    # Both texts are found; each in its own conversation with its own customer.
    anna_conv, bob_conv = (
        by_sender["anna@example.net"].conversation_id,
        by_sender["bob@example.org"].conversation_id,
    )
    assert anna_conv != bob_conv
    assert search.search_conversation_ids("zebracrossing") == [anna_conv]
    assert search.search_conversation_ids("hippopotamus") == [bob_conv]
    # Anna's mail is stored once, with two locations (INBOX and Sent).
    folders = sorted(
        loc.folder
        for loc in MailLocation.select().where(MailLocation.message == by_sender["anna@example.net"].id)
    )
    assert folders == ["INBOX", "Sent"]

    # Threading by In-Reply-To still works: Anna answers the thread of her mail.
    reply = _mail(
        "Anna Buyer <anna@example.net>",
        "Any news about the kettle?",
        message_id="<anna-2@example.net>",
        subject="Re: Order question",
        In_Reply_To=SHARED,
        References=SHARED,
    )
    dovecot.append(user, password, "INBOX", reply)
    run(_sync(account))
    assert Message.get(Message.remote_id == "<anna-2@example.net>").conversation_id == anna_conv
    # Bob answers too, referencing the same shared Message-ID: his reply joins *his* conversation.
    bob_reply = _mail(
        "Bob Other <bob@example.org>",
        "Did you cancel it?",
        message_id="<bob-2@example.org>",
        subject="Re: Order question",
        In_Reply_To=SHARED,
        References=SHARED,
    )
    dovecot.append(user, password, "INBOX", bob_reply)
    run(_sync(account))
    assert Message.get(Message.remote_id == "<bob-2@example.org>").conversation_id == bob_conv
    assert len(_app_messages(account)) == 4
    # A second sync changes nothing: every location is known.
    report = run(_sync(account))
    assert report.new_messages == 0 and len(_app_messages(account)) == 4


def test_same_headers_other_body_is_another_mail_and_its_copies_join_it(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], account: Account
) -> None:
    """A forged or re-sent mail with the very same header fields but another text is stored on its own, and a
    later copy of it (another folder, another sync) is recognised as that mail's copy, not a third mail."""
    user, password = mail_user
    original = _mail("Anna Buyer <anna@example.net>", "The kettle arrived broken. aardvark")
    forged = _mail("Anna Buyer <anna@example.net>", "Refund me to this IBAN instead. pangolin")
    dovecot.append(user, password, "INBOX", _delivered(original, 1))
    dovecot.append(user, password, "INBOX", _delivered(forged, 2))  # same header batch and body batch
    run(_sync(account))
    messages = _app_messages(account)
    assert len(messages) == 2
    texts = sorted(m.text_body.split(". ")[-1].strip() for m in messages)
    assert texts == ["aardvark", "pangolin"]
    conv = Conversation.get_by_id(messages[0].conversation_id)
    assert conv.message_count == 2 and messages[1].conversation_id == conv.id

    # Copies of both arrive in another folder (a later sync): still two mails, each with two locations.
    dovecot.append(user, password, "Sent", forged)
    dovecot.append(user, password, "Sent", original)
    run(_sync(account))
    assert [m.id for m in _app_messages(account)] == [m.id for m in messages]
    for message in messages:
        assert MailLocation.select().where(MailLocation.message == message.id).count() == 2
    assert search.search_conversation_ids("pangolin") == [conv.id]
    assert Conversation.get_by_id(conv.id).message_count == 2


CPYTHON_EMAIL_DATA = Path(__import__("test.test_email", fromlist=["x"]).__file__).parent / "data"


def _own_corpus() -> tuple[list[bytes], list[bytes], int]:
    """About fifty varied mails: (INBOX mails, Sent mails, number of distinct mails among both).

    Distinct by construction: pairs under one Message-ID with other senders or texts, mails without a
    Message-ID, HTML and multipart ones; the Sent folder holds true copies of some (without the transport
    headers the INBOX copies have).
    """
    inbox: list[bytes] = []
    distinct = 0
    for n in range(30):
        inbox.append(
            _delivered(
                _mail(
                    f"Buyer {n} <b{n}@example.net>",
                    f"Question {n} about my order. word{n}x",
                    message_id=f"<c{n}@example.net>",
                ),
                n % 9,
            )
        )
        distinct += 1
    for n in range(6):  # pairs sharing a Message-ID: other sender, other text
        mid = f"<dup{n}@broken-mailer.example>"
        inbox.append(_mail(f"Alice {n} <alice{n}@example.net>", f"Alice text {n}", message_id=mid))
        inbox.append(_mail(f"Carl {n} <carl{n}@example.org>", f"Carl text {n}", message_id=mid))
        distinct += 2
    for n in range(3):  # same headers, another body
        mid = f"<same{n}@example.net>"
        inbox.append(_mail("Dora <dora@example.net>", f"First version {n}", message_id=mid))
        inbox.append(_mail("Dora <dora@example.net>", f"Second version {n}", message_id=mid))
        distinct += 2
    for n in range(3):  # no Message-ID at all
        inbox.append(
            f"From: nobody{n}@example.net\r\nTo: {SELLER}\r\nSubject: no id {n}\r\n\r\nbody {n}\r\n".encode()
        )
        distinct += 1
    inbox.append(
        (
            f"From: Html <html@example.net>\r\nTo: {SELLER}\r\nSubject: html\r\nMessage-ID: <html@example.net>\r\n"
            'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
            "Content-Type: text/plain\r\n\r\nplain\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--b--\r\n"
        ).encode()
    )
    distinct += 1
    sent = [
        _mail(
            f"Buyer {n} <b{n}@example.net>",
            f"Question {n} about my order. word{n}x",
            message_id=f"<c{n}@example.net>",
        )
        for n in range(0, 30, 3)
    ]
    sent.append(_mail("Carl 2 <carl2@example.org>", "Carl text 2", message_id="<dup2@broken-mailer.example>"))
    sent.append(_mail("Dora <dora@example.net>", "Second version 1", message_id="<same1@example.net>"))
    return inbox, sent, distinct


def test_a_corpus_is_stored_as_exactly_its_distinct_mails(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], account: Account
) -> None:
    """CPython's e-mail test corpus (48 mails, five of them under one Message-ID) plus our own ~50 mails with
    copies in Sent: the app holds as many messages as there are distinct mails on the server."""
    user, password = mail_user
    cpython = sorted(CPYTHON_EMAIL_DATA.glob("msg_*.txt"))
    assert len(cpython) >= 40, "CPython's test.test_email data is missing"
    inbox, sent, distinct = _own_corpus()
    inbox += [p.read_bytes() for p in cpython]
    distinct += len(cpython)  # every file is another mail (they differ in their text or their MIME headers)
    # True copies (only transport headers added) of ten that carry a Message-ID; one without a Message-ID has
    # no identity to recognise a copy by, and each of its copies is kept as a mail of its own.
    with_id = [p for p in cpython if b"\nmessage-id:" in p.read_bytes().lower()]
    sent += [_delivered(p.read_bytes(), 3) for p in with_id[:10]]
    dovecot.bulk_load(user, inbox, "INBOX")
    dovecot.bulk_load(user, sent, "Sent")
    run(_sync(account))

    on_server = _server_count(dovecot, user, password, ("INBOX", "Sent"))
    assert on_server == len(inbox) + len(sent) > distinct
    assert len(_app_messages(account)) == distinct
    assert MailLocation.select().where(MailLocation.account == account.id).count() == on_server
    # Every one of our own texts is found.
    for n in range(30):
        assert len(search.search_conversation_ids(f"word{n}x")) == 1, n
    # A second sync imports nothing and splits nothing.
    report = run(_sync(account))
    assert report.new_messages == 0 and len(_app_messages(account)) == distinct
