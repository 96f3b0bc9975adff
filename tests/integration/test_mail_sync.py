"""MailAccountSync against a real Dovecot: headers then bodies, flags both ways, UIDVALIDITY, expunge, poison mail,
threading and Amazon relay mail.

The helpers at the top (``mail_account``, ``make_mail``, ``run``) are also used by the outbox and crash tests.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from imapclient import IMAPClient

from inbox_app.store import search_index
from inbox_app.store.accounts import MailAccountSettings, ServerSettings, create_mail_account
from inbox_app.store.events import events_for
from inbox_app.store.models import (
    Account,
    Attachment,
    Channel,
    Conversation,
    CustomerIdentity,
    MailLocation,
    Message,
    MessageSource,
)
from inbox_app.sync.events import ChangeBus, ChangeEvent
from inbox_app.sync.mail_sync import MailAccountSync, SyncProgress
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "mail"
SELLER = "seller@shop.example"
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def mail_account(
    dovecot: DovecotServer,
    user: str,
    password: str,
    *,
    smtp_port: int = 25,
    smtp_user: str = "",
    smtp_password: str | None = None,
    name: str = "Shop",
) -> Account:
    """A mail account in the current profile pointing at the test servers, password in the test keyring."""
    from inbox_app.sync.credentials import store_password

    account = create_mail_account(
        name,
        MailAccountSettings(
            imap=ServerSettings(dovecot.host, dovecot.port, "none", user),
            smtp=ServerSettings("127.0.0.1", smtp_port, "none", smtp_user),
            from_address=SELLER,
            from_name="Beispiel Shop",
        ),
    )
    store_password(account, "imap", password)
    store_password(account, "smtp", smtp_password if smtp_password is not None else password)
    return account


def make_mail(
    n: int,
    *,
    subject: str | None = None,
    sender: str | None = None,
    to: str = SELLER,
    in_reply_to: str | None = None,
    body: str | None = None,
    date: datetime | None = None,
) -> bytes:
    when = (date or datetime(2026, 11, 20, 9, 0, tzinfo=UTC) + timedelta(minutes=n)).strftime(
        "%a, %d %b %Y %H:%M:%S +0000"
    )
    headers = [
        f"From: {sender or f'Buyer {n} <buyer{n}@example.net>'}",
        f"To: {to}",
        f"Subject: {subject or f'Question about order {n}'}",
        f"Date: {when}",
        f"Message-ID: <msg{n}@example.net>",
    ]
    if in_reply_to:
        headers += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    headers += [
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    text = body or f"Hello, where is my parcel number {n}? I ordered it last week and it has not arrived."
    return ("\r\n".join(headers) + "\r\n\r\n" + text + "\r\n").encode()


def imap_client(dovecot: DovecotServer, user: str, password: str) -> IMAPClient:
    """Another mail client (the seller's phone), straight imapclient."""
    client = IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10)
    client.login(user, password)
    return client


def message_ids(account: Account) -> list[str]:
    return sorted(
        m.remote_id or ""
        for m in Message.select().join(Conversation).where(Conversation.account == account.id)
    )


@pytest.fixture
def account(profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str]) -> Account:
    return mail_account(dovecot, *mail_user)


def syncer(account: Account, profile: Any, bus: ChangeBus | None = None) -> MailAccountSync:
    return MailAccountSync(account, bus=bus)


async def _sync(sync: MailAccountSync, progress: Any = None) -> Any:
    try:
        return await sync.sync_once(progress)
    finally:
        await sync.close()


def test_first_sync_headers_first_then_bodies_then_incremental(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], account: Account
) -> None:
    user, password = mail_user
    for n in range(1, 4):
        dovecot.append(user, password, "INBOX", make_mail(n))
    # A reply from buyer 1 to the seller's answer (threaded by In-Reply-To on the buyer's first mail).
    dovecot.append(
        user,
        password,
        "INBOX",
        make_mail(
            4,
            sender="Buyer 1 <buyer1@example.net>",
            subject="Re: Question about order 1",
            in_reply_to="<msg1@example.net>",
        ),
    )
    seen_during_headers: list[tuple[int, int]] = []
    events: list[ChangeEvent] = []
    bus = ChangeBus()
    bus.subscribe(events.append)

    def progress(p: SyncProgress) -> None:
        if p.phase == "headers" and p.folder == "INBOX":
            pending = MailLocation.select().where(MailLocation.body_fetched == False).count()  # noqa: E712
            placeholder = Message.select().where(Message.text_body == "…").count()
            seen_during_headers.append((pending, placeholder))

    report = run(_sync(syncer(account, profile, bus), progress))
    assert report.new_messages == 4 and report.bodies == 4
    # The list was complete before any body arrived.
    assert seen_during_headers and seen_during_headers[0] == (4, 4)
    assert Conversation.select().count() == 3
    reply = Message.get(Message.remote_id == "<msg4@example.net>")
    first = Message.get(Message.remote_id == "<msg1@example.net>")
    assert reply.conversation_id == first.conversation_id
    assert "parcel number 4" in reply.text_body and reply.references == ["<msg1@example.net>"]
    assert MessageSource.get_by_id(reply.id).raw.startswith(b"From: Buyer 1")
    conv = Conversation.get_by_id(first.conversation_id)
    assert conv.message_count == 2 and conv.unread and conv.deadline_at is not None
    identity = CustomerIdentity.get(CustomerIdentity.customer == conv.customer)
    assert conv.channel.kind == "email" and identity.value == "buyer1@example.net"
    assert any(e.kind == "conversations" and conv.id in e.conversation_ids for e in events)

    # Incremental: only the new mail is fetched.
    dovecot.append(user, password, "INBOX", make_mail(5))
    report = run(_sync(syncer(account, profile)))
    assert report.new_messages == 1 and report.bodies == 1
    assert message_ids(account) == sorted(f"<msg{n}@example.net>" for n in range(1, 6))
    # Nothing new: nothing fetched.
    report = run(_sync(syncer(account, profile)))
    assert report.new_messages == 0 and report.bodies == 0


def test_flags_both_ways(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], account: Account
) -> None:
    from inbox_app.store.conversations import mark_read

    user, password = mail_user
    uid1 = dovecot.append(user, password, "INBOX", make_mail(1))
    uid2 = dovecot.append(user, password, "INBOX", make_mail(2))
    run(_sync(syncer(account, profile)))
    m1 = Message.get(Message.remote_id == "<msg1@example.net>")
    m2 = Message.get(Message.remote_id == "<msg2@example.net>")
    assert not m1.is_read and not m2.is_read

    # Another client reads mail 1.
    with imap_client(dovecot, user, password) as other:
        other.select_folder("INBOX")
        other.add_flags([uid1], [b"\\Seen"])
    report = run(_sync(syncer(account, profile)))
    assert report.flag_changes >= 1
    assert Message.get_by_id(m1.id).is_read
    assert not Conversation.get_by_id(m1.conversation_id).unread

    # The seller reads mail 2 here: \Seen appears on the server.
    mark_read(m2.conversation_id)
    report = run(_sync(syncer(account, profile)))
    assert report.flags_pushed == 1
    with imap_client(dovecot, user, password) as other:
        other.select_folder("INBOX", readonly=True)
        flags = other.get_flags([uid2])[uid2]
    assert b"\\Seen" in flags

    # The seller answers mail 2 from the phone (which keeps no copy here): the clock of that conversation
    # stops; taking the flag away starts it again. Mail 1 is untouched.
    assert Conversation.get_by_id(m2.conversation_id).deadline_at is not None
    with imap_client(dovecot, user, password) as other:
        other.select_folder("INBOX")
        other.add_flags([uid2], [b"\\Answered"])
    run(_sync(syncer(account, profile)))
    assert Message.get_by_id(m2.id).is_answered and not Message.get_by_id(m1.id).is_answered
    assert Conversation.get_by_id(m2.conversation_id).deadline_at is None
    assert Conversation.get_by_id(m1.conversation_id).deadline_at is not None
    with imap_client(dovecot, user, password) as other:
        other.select_folder("INBOX")
        other.remove_flags([uid2], [b"\\Answered"])
    run(_sync(syncer(account, profile)))
    assert not Message.get_by_id(m2.id).is_answered
    assert Conversation.get_by_id(m2.conversation_id).deadline_at is not None
    # A mail that arrives already answered never starts a clock.
    dovecot.append(user, password, "INBOX", make_mail(3), flags=["\\Answered"])
    run(_sync(syncer(account, profile)))
    m3 = Message.get(Message.remote_id == "<msg3@example.net>")
    assert m3.is_answered and Conversation.get_by_id(m3.conversation_id).deadline_at is None

    # Another client marks mail 1 unread again.
    with imap_client(dovecot, user, password) as other:
        other.select_folder("INBOX")
        other.remove_flags([uid1], [b"\\Seen"])
    run(_sync(syncer(account, profile)))
    assert not Message.get_by_id(m1.id).is_read
    with imap_client(dovecot, user, password) as other:  # and our sync did not push it back to read
        other.select_folder("INBOX", readonly=True)
        assert b"\\Seen" not in other.get_flags([uid1])[uid1]


def test_uidvalidity_reset_keeps_everything_once(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], account: Account
) -> None:
    user, password = mail_user
    for n in range(1, 4):
        dovecot.append(user, password, "INBOX", make_mail(n))
    no_id = make_mail(9).replace(b"Message-ID: <msg9@example.net>\r\n", b"")
    dovecot.append(user, password, "INBOX", no_id)
    run(_sync(syncer(account, profile)))
    before = dovecot.uidvalidity(user)
    assert Message.select().count() == 4

    dovecot.reset_uidvalidity(user)
    dovecot.append(user, password, "INBOX", make_mail(5))
    assert dovecot.uidvalidity(user) != before
    report = run(_sync(syncer(account, profile)))
    assert report.remapped == 4 and report.new_messages == 1 and report.expunged == 0
    assert Message.select().count() == 5
    assert message_ids(account).count("<msg1@example.net>") == 1
    validities = {loc.uidvalidity for loc in MailLocation.select().where(MailLocation.folder == "INBOX")}
    assert validities == {dovecot.uidvalidity(user)}
    assert MailLocation.select().where(MailLocation.folder == "INBOX").count() == 5
    assert all(loc.body_fetched for loc in MailLocation.select())


@pytest.mark.parametrize("qresync", [True, False], ids=["qresync", "uid-list"])
def test_expunged_mail_is_kept_locally_and_marked(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    account: Account,
    qresync: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With QRESYNC the expunge arrives with the flag changes; without it, by comparing every UID."""
    user, password = mail_user
    if not qresync:
        settings = dict(account.settings, imap_disabled_extensions=["QRESYNC"])
        Account.update(settings=settings).where(Account.id == account.id).execute()
        account = Account.get_by_id(account.id)
    uid1 = dovecot.append(user, password, "INBOX", make_mail(1))
    uid2 = dovecot.append(user, password, "INBOX", make_mail(2))
    run(_sync(syncer(account, profile)))
    with imap_client(dovecot, user, password) as other:
        other.select_folder("INBOX")
        other.delete_messages([uid1])
        other.expunge()
        other.add_flags([uid2], [b"\\Seen"])
    caplog.set_level(logging.DEBUG, logger="inbox_app.sync")
    report = run(_sync(syncer(account, profile)))
    assert report.expunged == 1 and report.flag_changes == 1
    assert Message.get(Message.remote_id == "<msg2@example.net>").is_read
    by_qresync = any("by QRESYNC" in r.getMessage() for r in caplog.records)
    by_listing = any("listing every UID" in r.getMessage() for r in caplog.records)
    assert (by_qresync, by_listing) == (qresync, not qresync)
    m1 = Message.get(Message.remote_id == "<msg1@example.net>")
    assert "parcel number 1" in m1.text_body and m1.extra["expunged"] is True
    assert not MailLocation.select().where(MailLocation.message == m1.id).exists()
    assert [e.kind for e in events_for(m1.conversation_id)].count("expunged") == 1


def _big_attachment_mail(size: int) -> bytes:
    data = os.urandom(size)
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return (
        b"From: Big <big@example.net>\r\nTo: seller@shop.example\r\nSubject: Huge photo\r\n"
        b"Date: Fri, 20 Nov 2026 08:00:00 +0000\r\nMessage-ID: <big@example.net>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n'
        b"See the attached photo of the damage.\r\n--b1\r\nContent-Type: image/jpeg\r\n"
        b'Content-Disposition: attachment; filename="damage.jpg"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + encoded
        + b"--b1--\r\n"
    )


def test_poison_messages_are_stored_raw_and_flagged(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], account: Account
) -> None:
    user, _password = mail_user
    broken = (DATA / "broken_boundary.eml").read_bytes()
    unknown = (DATA / "unknown_charset.eml").read_bytes()
    huge = _big_attachment_mail(50 * 1024 * 1024 + 4096)  # above the 50 MiB attachment limit
    dovecot.bulk_load(user, [make_mail(1), broken, unknown, huge, make_mail(2)])
    report = run(_sync(syncer(account, profile)))
    assert report.new_messages == 5 and report.bodies == 5
    assert report.problems >= 2
    # The good mails synced in full.
    assert "parcel number 2" in Message.get(Message.remote_id == "<msg2@example.net>").text_body
    odd = Message.get(Message.remote_id == "<odd@example.com>")
    assert odd.problems and "Köln" in odd.text_body
    big = Message.get(Message.remote_id == "<big@example.net>")
    assert big.problems and "photo of the damage" in big.text_body
    assert len(MessageSource.get_by_id(big.id).raw) == len(huge)
    attachment = Attachment.get(Attachment.message == big.id)
    assert attachment.size >= 50 * 1024 * 1024 and attachment.sha256 is None
    broken_msg = Message.get(Message.subject == "Broken MIME")
    assert broken_msg.problems and broken_msg.remote_id is None
    # Dovecot stores the bytes as given (the file was LF-only); the raw source is kept byte for byte.
    assert MessageSource.get_by_id(broken_msg.id).raw == broken
    assert "never declared" in broken_msg.text_body


def test_amazon_relay_mail_becomes_an_amazon_conversation(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], account: Account
) -> None:
    user, password = mail_user
    raw = (DATA / "amazon_inquiry_de.eml").read_bytes()
    received = datetime(2026, 11, 17, 9, 2, 44, tzinfo=UTC)  # its Date header
    # It reached the mailbox a minute after it was written (the clock counts from a plausible Date header).
    dovecot.append(user, password, "INBOX", raw, internaldate=received + timedelta(minutes=1))
    run(_sync(syncer(account, profile)))
    conv = Conversation.get()
    channel: Channel = conv.channel
    assert (channel.kind, channel.name, channel.marketplace) == ("amazon", "Amazon.de", "amazon.de")
    assert conv.order_id == "302-1234567-7654321"
    assert conv.customer_name == "Max Müller"
    assert conv.language == "de"
    assert conv.no_response_url and "no-response-needed" in conv.no_response_url
    message = Message.get()
    assert message.sent_at == received
    assert conv.deadline_at == received + timedelta(hours=24)
    identity = CustomerIdentity.get(CustomerIdentity.customer == conv.customer)
    assert (identity.kind, identity.value) == ("amazon_alias", "q7w2e9r4t1y6u3i@marketplace.amazon.de")


def test_plain_mail_language_and_seller_copy_in_sent(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], account: Account
) -> None:
    user, password = mail_user
    dovecot.append(
        user,
        password,
        "INBOX",
        make_mail(
            1, body="Bonjour, je n'ai toujours pas reçu ma commande. Pouvez-vous me dire où elle se trouve ?"
        ),
    )
    # The seller answered from the phone: the copy in Sent is an outbound message of the same conversation.
    answer = (
        f"From: Beispiel Shop <{SELLER}>\r\nTo: buyer1@example.net\r\nSubject: Re: Question about order 1\r\n"
        "Date: Fri, 20 Nov 2026 12:00:00 +0000\r\nMessage-ID: <answer1@shop.example>\r\n"
        "In-Reply-To: <msg1@example.net>\r\n\r\nIt ships today.\r\n"
    ).encode()
    dovecot.append(user, password, "Sent", answer, flags=["\\Seen"])
    run(_sync(syncer(account, profile)))
    conv = Conversation.get()
    assert conv.language == "fr"
    out = Message.get(Message.remote_id == "<answer1@shop.example>")
    assert out.direction == "out" and out.conversation_id == conv.id
    assert conv.deadline_at is None  # answered


def test_continuous_sync_publishes_progress_of_a_long_first_sync(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], account: Account
) -> None:
    """The window's "1,240 of 20,000 messages": the sync reports progress on the bus for long work."""
    from inbox_app.sync.mail_sync import PROGRESS_MIN_TOTAL

    user, _password = mail_user
    count = PROGRESS_MIN_TOTAL + 50
    dovecot.bulk_load(user, (make_mail(n) for n in range(1, count + 1)))
    events: list[ChangeEvent] = []
    bus = ChangeBus()
    bus.subscribe(events.append)
    sync = syncer(account, profile, bus)
    run(_sync(sync, sync._publish_progress))
    progress = [e.progress for e in events if e.kind == "progress" and e.progress is not None]
    phases = {phase for phase, _done, _total in progress}
    assert phases == {"headers", "bodies", "indexing"}
    assert all(total == count for _phase, _done, total in progress)
    assert ("bodies", count, count) in progress
    assert ("indexing", count, count) in progress  # the full-text index follows the bodies, then is complete
    # Indexed by the sync itself: the index answers before any search had to catch up.
    assert search_index.pending_count() == 0
    hits = profile.db.execute_sql(
        "SELECT COUNT(*) FROM message_fts WHERE message_fts MATCH 'parcel AND arrived'"
    ).fetchone()[0]
    assert hits == count


def test_a_failed_header_batch_is_redone_whole_with_nothing_stale(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    account: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch that dies after creating rows (a new Amazon channel, customers, conversations) is rolled back;
    the ids it handed out must not be reused as if they existed (foreign keys would then refuse every later
    batch and the sync would never get past it)."""
    from inbox_app.store.mail_models import MailStore

    user, _password = mail_user
    dovecot.bulk_load(user, [(DATA / "amazon_inquiry_de.eml").read_bytes(), make_mail(1), make_mail(2)])
    sync = syncer(account, profile)
    real_add_locations = MailStore.add_locations
    calls = {"n": 0}

    def fail_once(self: MailStore, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk went away in the middle of the batch")
        real_add_locations(self, *args, **kwargs)

    monkeypatch.setattr(MailStore, "add_locations", fail_once)
    with pytest.raises(OSError, match="disk went away"):
        run(sync.sync_once())
    assert (
        Conversation.select().count() == 0 and Channel.select().where(Channel.kind == "amazon").count() == 0
    )
    # The same MailAccountSync (and its caches) goes on, as the window's continuous sync does after an error.
    report = run(_sync(sync))
    assert report.new_messages == 3 and report.bodies == 3
    amazon = Conversation.get(Conversation.order_id == "302-1234567-7654321")
    assert amazon.channel.name == "Amazon.de" and amazon.customer_name == "Max Müller"
    assert message_ids(account).count("<msg1@example.net>") == 1 and Message.select().count() == 3


def _pdf_mail(n: int, pdf: bytes) -> bytes:
    encoded = base64.encodebytes(pdf).replace(b"\n", b"\r\n")
    return (
        (
            f"From: Buyer {n} <buyer{n}@example.net>\r\nTo: seller@shop.example\r\nSubject: Invoice {n}\r\n"
            f"Date: Fri, 20 Nov 2026 08:{n:02d}:00 +0000\r\nMessage-ID: <pdf{n}@example.net>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n'
            "Please find my invoice attached.\r\n--b1\r\nContent-Type: application/pdf\r\n"
            f'Content-Disposition: attachment; filename="invoice-{n}.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        ).encode()
        + encoded
        + b"--b1--\r\n"
    )


@pytest.mark.parametrize("workers", ["0", "2"], ids=["in-thread", "worker-processes"])
def test_attachments_are_hashed_by_the_sync_and_written_on_first_use(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    account: Account,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    workers: str,
) -> None:
    """A first sync stores each attachment once (inside the raw source) and writes no file per attachment;
    the file appears, byte for byte, the first time it is needed: here through ``inbox-app show --json``."""
    import hashlib
    import json

    from inbox_app.cli import main

    monkeypatch.setenv("INBOX_APP_PARSE_WORKERS", workers)
    user, _password = mail_user
    pdfs = [b"%PDF-1.4\n" + os.urandom(3000 + n) for n in range(9)]  # nine mails: enough for the worker pool
    dovecot.bulk_load(user, [_pdf_mail(n, pdf) for n, pdf in enumerate(pdfs)])
    report = run(_sync(syncer(account, profile)))
    assert report.bodies == 9 and report.problems == 0
    for n, pdf in enumerate(pdfs):
        attachment = Attachment.get(Attachment.filename == f"invoice-{n}.pdf")
        assert attachment.sha256 == hashlib.sha256(pdf).hexdigest() and attachment.size == len(pdf)
    assert not any(profile.blobs.exists(hashlib.sha256(pdf).hexdigest()) for pdf in pdfs)
    assert not (profile.root / "attachments").exists() or not any((profile.root / "attachments").rglob("*"))

    conversation = Message.get(Message.remote_id == "<pdf3@example.net>").conversation_id
    capsys.readouterr()
    assert main(["--profile", str(profile.root), "show", str(conversation), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    (attachment_json,) = shown["messages"][0]["attachments"]
    assert Path(attachment_json["path"]).read_bytes() == pdfs[3]
    assert profile.blobs.read(hashlib.sha256(pdfs[3]).hexdigest()) == pdfs[3]


def test_conversations_after_the_bodies_equal_a_full_refresh(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], account: Account
) -> None:
    """The bodies phase updates only what a body can change (``MailStore.refresh_after_bodies``): the rows
    must be exactly what a full recomputation from the stored messages gives, threads, auto-replies, poison
    mail and the Amazon relay included."""
    from inbox_app.store.mail_models import MailStore

    user, _password = mail_user
    auto = make_mail(4, subject="Out of office").replace(
        b"MIME-Version", b"Auto-Submitted: auto-replied\r\nMIME-Version"
    )
    mails = [make_mail(n) for n in range(1, 4)]
    mails += [
        make_mail(10 + n, subject="Re: Question about order 1", in_reply_to="<msg1@example.net>")
        for n in range(3)
    ]
    mails += [auto, *((DATA / name).read_bytes() for name in sorted(os.listdir(DATA)))]  # the whole corpus
    dovecot.bulk_load(user, mails)
    # The shop's own auto-responder answered order 2 (in Sent): an automatic reply does not stop the clock,
    # which only its body tells (the header phase cannot know).
    responder = make_mail(
        90,
        sender=SELLER,
        to="buyer2@example.net",
        subject="Re: Question about order 2",
        in_reply_to="<msg2@example.net>",
    ).replace(b"MIME-Version", b"Auto-Submitted: auto-replied\r\nMIME-Version")
    dovecot.bulk_load(user, [responder], folder="Sent")
    settings = dict(account.settings, body_batch=3)  # several body batches, threads spread over them
    Account.update(settings=settings).where(Account.id == account.id).execute()
    report = run(_sync(syncer(Account.get_by_id(account.id), profile)))
    assert report.bodies == len(mails) + 1
    assert Message.get(Message.subject == "Out of office").is_auto_reply
    answered_by_robot = Message.get(Message.remote_id == "<msg90@example.net>")
    assert answered_by_robot.is_auto_reply and answered_by_robot.direction == "out"
    assert Conversation.get_by_id(answered_by_robot.conversation_id).deadline_at is not None  # still owed

    def rows() -> list[tuple[Any, ...]]:
        return list(Conversation.select().order_by(Conversation.id).tuples())

    synced = rows()
    store = MailStore(account.id)
    with profile.db.atomic():
        store.refresh([row[0] for row in synced])
    assert rows() == synced


def test_mail_that_keeps_arriving_between_sync_and_idle_is_never_left_for_the_idle_timeout(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    account: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A mail landing after a sync but before the SELECT that starts IDLE is already counted by that SELECT,
    so IDLE stays silent about it. The loop syncs again while the folder moves, a few rounds at most, then
    IDLEs only briefly: here a mail lands in that gap after each of the first five syncs (more than the loop
    resyncs in a row) and every one is stored within seconds, not after the 24-minute IDLE.

    (CI caught the old "resync once" rule: a second window taking over missed the mail that came during its
    resync until the IDLE timed out.)"""
    from inbox_app.sync import mail_sync as mail_sync_module

    monkeypatch.setattr(mail_sync_module, "RECHECK_AFTER", 0.5)
    user, password = mail_user
    dovecot.append(user, password, "INBOX", make_mail(1))
    sync = syncer(account, profile)
    rounds = 5
    real_sync_once = sync.sync_once

    async def sync_then_a_mail_lands(progress: Any = None) -> Any:
        report = await real_sync_once(progress)
        count = Message.select().count()
        if count <= rounds:  # the mail of the next round lands right after this sync looked
            await asyncio.get_running_loop().run_in_executor(
                None, dovecot.append, user, password, "INBOX", make_mail(count + 1)
            )
        return report

    monkeypatch.setattr(sync, "sync_once", sync_then_a_mail_lands)

    async def scenario() -> int:
        stop = asyncio.Event()
        loop_task = asyncio.ensure_future(sync.idle_loop(stop))
        try:
            async with asyncio.timeout(30):
                while Message.select().count() < rounds + 1:
                    await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.wait_for(loop_task, timeout=30)
        return Message.select().count()

    assert run(scenario()) == rounds + 1
    ids = {m.remote_id for m in Message.select(Message.remote_id)}
    assert ids == {f"<msg{n}@example.net>" for n in range(1, rounds + 2)}
