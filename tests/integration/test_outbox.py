"""Outbox delivery against real Dovecot + aiosmtpd: exactly one delivery, Sent copy, \\Answered, deadline cleared,
ambiguous drops not resent, cancel, offline and catch-up."""

from __future__ import annotations

import email
import os
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from inbox_app.store import outbox
from inbox_app.store.models import Account, Conversation, Message, OutboxItem
from inbox_app.store.replies import queue_reply_for
from inbox_app.sync.engine import SyncEngine
from tests.integration.conftest import SMTP_USER
from tests.integration.outbox_helpers import engine_once, profile_cli
from tests.integration.test_mail_sync import SELLER, imap_client, make_mail, run
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _conversation_with_mail(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str]
) -> tuple[int, int]:
    user, password = mail_user
    uid = dovecot.append(user, password, "INBOX", make_mail(1))
    engine_once(profile)
    return Message.get(Message.remote_id == "<msg1@example.net>").conversation_id, uid


def test_reply_is_delivered_once_with_threading_headers_and_sent_copy(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
) -> None:
    conv_id, uid = _conversation_with_mail(profile, dovecot, mail_user)
    assert Conversation.get_by_id(conv_id).deadline_at is not None
    item = queue_reply_for(conv_id, "Your parcel left our warehouse today.\n", close_after_send=True)
    report = engine_once(profile)
    assert report.ok and report.deliveries[smtp_account.id].sent == [item.id]

    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received.rcpt_tos == ("buyer1@example.net",) and received.mail_from == SELLER
    parsed = email.message_from_bytes(received.raw, policy=default_policy)
    assert parsed["To"] == "buyer1@example.net"
    assert SELLER in parsed["From"]
    assert parsed["Subject"] == "Re: Question about order 1"
    assert parsed["In-Reply-To"] == "<msg1@example.net>"
    assert parsed["References"] == "<msg1@example.net>"
    assert parsed["Message-ID"] == item.message_id

    item = OutboxItem.get_by_id(item.id)
    assert item.state == "sent" and item.sent_message is not None
    conv = Conversation.get_by_id(conv_id)
    assert conv.deadline_at is None and conv.status == "closed"
    user, password = mail_user
    with imap_client(dovecot, user, password) as other:
        other.select_folder("Sent", readonly=True)
        copies = other.search(["HEADER", "Message-ID", item.message_id])
        assert len(copies) == 1 and b"\\Seen" in other.get_flags(copies)[copies[0]]
        other.select_folder("INBOX", readonly=True)
        assert b"\\Answered" in other.get_flags([uid])[uid]

    # The next sync sees the Sent copy and links it: still one outbound message, nothing sent again.
    report = engine_once(profile)
    assert report.ok and len(smtp_server.messages) == 1
    assert Message.select().where(Message.remote_id == item.message_id).count() == 1


def test_dropped_connection_after_data_is_not_resent(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
) -> None:
    conv_id, _uid = _conversation_with_mail(profile, dovecot, mail_user)
    item = queue_reply_for(conv_id, "Thanks, we will check.\n")
    smtp_server.drop_after_data = True
    report = engine_once(profile)
    assert report.deliveries[smtp_account.id].unconfirmed == [item.id]
    smtp_server.drop_after_data = False
    item = OutboxItem.get_by_id(item.id)
    assert item.state == "sent" and item.last_error and "probably delivered" in item.last_error
    engine_once(profile)
    engine_once(profile)
    assert len(smtp_server.messages) == 1


def test_temporary_refusal_is_retried_later(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
) -> None:
    conv_id, _uid = _conversation_with_mail(profile, dovecot, mail_user)
    item = queue_reply_for(conv_id, "We are on it.\n")
    smtp_server.fail_with, smtp_server.fail_at = 451, "rcpt"
    report = engine_once(profile)
    assert report.deliveries[smtp_account.id].retry == [item.id]
    item = OutboxItem.get_by_id(item.id)
    assert item.state == "queued" and item.next_attempt_at is not None and item.last_error
    smtp_server.fail_with = None
    engine_once(profile)  # not due yet (backoff)
    assert smtp_server.messages == []
    outbox.retry_now(item.id)
    engine_once(profile)
    assert len(smtp_server.messages) == 1 and OutboxItem.get_by_id(item.id).state == "sent"


def test_permanent_refusal_fails_with_the_servers_words(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
) -> None:
    conv_id, _uid = _conversation_with_mail(profile, dovecot, mail_user)
    item = queue_reply_for(conv_id, "Hello.\n")
    smtp_server.fail_with, smtp_server.fail_at = 550, "data"
    engine_once(profile)
    item = OutboxItem.get_by_id(item.id)
    assert item.state == "failed" and "550" in (item.last_error or "")
    assert smtp_server.messages == []


def test_cancel_while_queued(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
) -> None:
    conv_id, _uid = _conversation_with_mail(profile, dovecot, mail_user)
    item = queue_reply_for(conv_id, "Oops, wrong text.\n")
    assert outbox.cancel(item.id)
    engine_once(profile)
    assert smtp_server.messages == [] and OutboxItem.get_by_id(item.id).state == "cancelled"
    assert not outbox.cancel(item.id)


def test_offline_stays_queued_then_catches_up(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
) -> None:
    conv_id, _uid = _conversation_with_mail(profile, dovecot, mail_user)
    reply = profile_cli(profile, "reply", str(conv_id), "--body-file", "-")
    assert reply.returncode != 0  # empty stdin: nothing queued
    body = profile.root / "body.txt"
    body.write_text("It will arrive tomorrow.\n", encoding="utf-8")
    queued = profile_cli(profile, "reply", str(conv_id), "--body-file", str(body))
    assert queued.returncode == 0, queued.stderr
    item_id = int(queued.stdout.strip())

    smtp_server.stop()
    dovecot.stop()
    try:
        offline = profile_cli(profile, "sync", "--once")
        assert offline.returncode == 3, offline.stdout + offline.stderr
        assert "offline" in offline.stderr.lower()
        assert OutboxItem.get_by_id(item_id).state == "queued"
    finally:
        dovecot.start()
        smtp_server.start()
    settings = dict(smtp_account.settings)
    settings["smtp"] = {**settings["smtp"], "port": smtp_server.port}  # the test server came back elsewhere
    Account.update(settings=settings).where(Account.id == smtp_account.id).execute()

    back = profile_cli(profile, "sync", "--once")
    assert back.returncode == 0, back.stdout + back.stderr
    assert OutboxItem.get_by_id(item_id).state == "sent"
    assert len(smtp_server.messages) == 1
    listing = profile_cli(profile, "outbox", "list", "--json", "--all")
    assert '"state": "sent"' in listing.stdout


def test_account_add_tests_the_connection_and_keeps_the_password_in_the_keyring(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], smtp_server: SmtpServer
) -> None:
    user, password = mail_user
    common = [
        "account", "add", "imap", "--name", "Shop", "--imap-host", dovecot.host, "--imap-port", str(dovecot.port),
        "--imap-security", "none", "--user", user, "--password-env", "SHOP_PW", "--smtp-host", smtp_server.host,
        "--smtp-port", str(smtp_server.port), "--smtp-security", "none", "--smtp-user", SMTP_USER, "--from", SELLER,
    ]  # fmt: skip
    os.environ["SHOP_PW"] = "wrong-password"
    try:
        wrong = profile_cli(profile, *common)
        assert wrong.returncode == 1 and "login" in wrong.stderr and "refused" in wrong.stderr
        missing = profile_cli(profile, *common, "--folders", "INBOX,Nope")
        assert missing.returncode == 1  # login fails first: still a clear message
        os.environ["SHOP_PW"] = password
        no_folder = profile_cli(profile, *common, "--folders", "INBOX,Nope")
        assert no_folder.returncode == 1 and "Nope" in no_folder.stderr
        # SMTP uses its own password here, so the SMTP check fails at "login" with the IMAP password.
        smtp_wrong = profile_cli(profile, *common)
        assert smtp_wrong.returncode == 1 and smtp_wrong.stderr.startswith("inbox-app: SMTP")
        smtp_user_at = common.index("--smtp-user") + 1
        same_login = [*common[:smtp_user_at], user, *common[smtp_user_at + 1 :]]
        added = profile_cli(profile, *same_login, "--no-test", "--imap-disable", "qresync")
        assert added.returncode == 0, added.stderr
        account_id = int(added.stdout.strip())
        # Kept with the account, so every sync of it leaves QRESYNC alone (see test_mail_sync).
        assert Account.get_by_id(account_id).settings["imap_disabled_extensions"] == ["QRESYNC"]
        insecure = profile_cli(
            profile, *[a if a != dovecot.host else "imap.example.com" for a in common], "--no-test"
        )
        assert insecure.returncode == 1 and "Unencrypted" in insecure.stderr
    finally:
        del os.environ["SHOP_PW"]
    listing = profile_cli(profile, "account", "list", "--json")
    assert listing.returncode == 0 and password not in listing.stdout
    assert f'"id": {account_id}' in listing.stdout
    from inbox_app.sync.credentials import account_password

    assert account_password(account_id, "imap") == password
    assert password.encode() not in profile.db_path.read_bytes()


def test_continuous_mode_gets_new_mail_by_idle_and_sends_on_wake(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
) -> None:
    import asyncio

    from inbox_app.sync.events import ChangeBus, ChangeEvent

    user, password = mail_user
    dovecot.append(user, password, "INBOX", make_mail(1))

    async def scenario() -> None:
        bus = ChangeBus()
        seen: list[ChangeEvent] = []
        changed = asyncio.Event()

        def on_event(event: ChangeEvent) -> None:
            seen.append(event)
            changed.set()

        bus.subscribe(on_event)
        engine = SyncEngine(profile.blobs, bus)
        stop = asyncio.Event()
        runner = asyncio.ensure_future(engine.run_forever(stop))

        async def until(predicate: Any) -> None:
            async def loop() -> None:
                while not predicate():
                    changed.clear()
                    await changed.wait()

            await asyncio.wait_for(loop(), timeout=20)

        try:
            await until(lambda: engine.online is True and Message.select().count() == 1)
            # New mail arrives while we idle: IDLE reports it, no poll interval to wait for.
            await asyncio.get_running_loop().run_in_executor(
                None, dovecot.append, user, password, "INBOX", make_mail(2)
            )
            await until(lambda: Message.select().where(Message.remote_id == "<msg2@example.net>").exists())
            conv_id = Message.get(Message.remote_id == "<msg2@example.net>").conversation_id
            item = queue_reply_for(conv_id, "On its way.\n")
            engine.wake_outbox()
            await until(lambda: OutboxItem.get_by_id(item.id).state == "sent")
            assert len(smtp_server.messages) == 1
            assert any(e.kind == "outbox" and conv_id in e.conversation_ids for e in seen)
        finally:
            stop.set()
            await asyncio.wait_for(runner, timeout=20)

    run(scenario())
