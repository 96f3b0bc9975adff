"""The IMAP channel against a real Dovecot: login, folders, fetching, CONDSTORE, APPEND, IDLE, UIDVALIDITY."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from imapclient import IMAPClient

from inbox_app.channels.mail import imap
from inbox_app.channels.mail.compose import build_reply, new_message_id
from inbox_app.channels.mail.errors import (
    ConnectionFailed,
    FolderMissing,
    InsecureConnectionRefused,
    LoginFailed,
    MailError,
    TlsFailed,
)
from inbox_app.channels.mail.imap import FlagChange, ImapConnection, ImapSettings
from inbox_app.channels.mail.security import Security
from tests.servers import free_port
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.integration


def make_mail(
    n: int, *, subject: str | None = None, extra_headers: str = "", body: str | None = None
) -> bytes:
    subject = subject or f"Order question {n}"
    body = body or f"Hello, where is my parcel number {n}?\r\n"
    return (
        f"From: Buyer {n} <buyer{n}@example.net>\r\n"
        f"To: seller@shop.example\r\n"
        f"Subject: {subject}\r\n"
        f"Date: Mon, 23 Nov 2026 10:{n % 60:02d}:00 +0100\r\n"
        f"Message-ID: <msg{n}@example.net>\r\n"
        f"{extra_headers}"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n"
        f"\r\n"
        f"{body}"
    ).encode()


async def connected(settings: ImapSettings) -> ImapConnection:
    conn = ImapConnection(settings)
    await conn.connect()
    return conn


# ---------------------------------------------------------------------- connecting and failing to


def test_connect_lists_folders_and_finds_sent(imap_settings: ImapSettings) -> None:
    async def scenario() -> None:
        async with ImapConnection(imap_settings) as conn:
            assert {"IDLE", "CONDSTORE", "UIDPLUS"} <= conn.capabilities
            assert conn.condstore
            folders = dict(await conn.list_folders())
            assert {"INBOX", "Sent", "Drafts", "Trash"} <= set(folders)
            assert "\\Sent" in folders["Sent"]
            assert await conn.find_sent_folder() == "Sent"
        names = await imap.test_connection(imap_settings)
        assert "INBOX" in names and "Sent" in names

    asyncio.run(scenario())


def test_wrong_password_is_login_failed(imap_settings: ImapSettings) -> None:
    bad = dataclasses.replace(imap_settings, password="wrong-password-123")
    with pytest.raises(LoginFailed) as info:
        asyncio.run(imap.test_connection(bad))
    assert info.value.step == "login"
    assert info.value.user_message
    assert "wrong-password-123" not in str(info.value) and "wrong-password-123" not in repr(bad)


def test_wrong_port_is_connection_failed(imap_settings: ImapSettings) -> None:
    bad = dataclasses.replace(imap_settings, port=free_port())
    with pytest.raises(ConnectionFailed) as info:
        asyncio.run(imap.test_connection(bad))
    assert info.value.step == "connect"
    assert str(bad.port) in info.value.user_message


def test_unknown_host_fails_at_dns_step(imap_settings: ImapSettings) -> None:
    bad = dataclasses.replace(imap_settings, host="no-such-mail-server.invalid", security=Security.TLS)
    with pytest.raises(ConnectionFailed) as info:
        asyncio.run(imap.test_connection(bad))
    assert info.value.step == "dns"


def test_tls_against_plain_port_is_tls_failure(imap_settings: ImapSettings) -> None:
    with pytest.raises(TlsFailed) as info:
        asyncio.run(imap.test_connection(dataclasses.replace(imap_settings, security=Security.TLS)))
    assert info.value.step == "tls"


def test_starttls_required_but_not_offered(imap_settings: ImapSettings) -> None:
    with pytest.raises(TlsFailed) as info:
        asyncio.run(imap.test_connection(dataclasses.replace(imap_settings, security=Security.STARTTLS)))
    assert info.value.step == "tls"


def test_plain_text_to_remote_host_is_refused_before_connecting(imap_settings: ImapSettings) -> None:
    remote = dataclasses.replace(imap_settings, host="imap.example.com", security=Security.NONE)
    with pytest.raises(InsecureConnectionRefused) as info:
        asyncio.run(imap.test_connection(remote))
    assert isinstance(info.value, MailError)


def test_select_missing_folder(imap_settings: ImapSettings) -> None:
    async def scenario() -> None:
        async with ImapConnection(imap_settings) as conn:
            with pytest.raises(FolderMissing) as info:
                await conn.select("Archive/2019")
            assert info.value.step == "folder"

    asyncio.run(scenario())


# ---------------------------------------------------------------------- reading


def test_select_status_and_uid_searches(
    dovecot: DovecotServer, mail_user: tuple[str, str], imap_settings: ImapSettings
) -> None:
    user, password = mail_user
    uids = [dovecot.append(user, password, "INBOX", make_mail(n)) for n in range(3)]
    assert uids == [1, 2, 3]

    async def scenario() -> None:
        async with ImapConnection(imap_settings) as conn:
            status = await conn.select("INBOX")
            assert status.uidvalidity == dovecot.uidvalidity(user)
            assert (status.uidnext, status.exists) == (4, 3)
            assert isinstance(status.highestmodseq, int) and status.highestmodseq > 0
            assert await conn.all_uids() == [1, 2, 3]
            assert await conn.search_uids() == [1, 2, 3]
            assert await conn.search_uids(since_uid=3) == [3]
            # "UID 10:*" matches the last message on a real server: must not come back as new.
            assert await conn.search_uids(since_uid=10) == []
            empty = await conn.select("Drafts", readonly=True)
            assert empty.exists == 0
            assert await conn.all_uids() == []
            assert await conn.all_flags() == []
            assert await conn.fetch_headers([]) == []

    asyncio.run(scenario())


@pytest.mark.parametrize("method", ["fetch_headers", "fetch_header_fields"])
def test_fetch_headers_decodes_envelope(
    dovecot: DovecotServer, mail_user: tuple[str, str], imap_settings: ImapSettings, method: str
) -> None:
    """ENVELOPE (used to re-map after a UIDVALIDITY change) and header lines (first sync) agree."""
    user, password = mail_user
    raw = (
        b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>\r\n"
        b'To: Shop <seller@shop.example>, "Support, Team" <support@shop.example>\r\n'
        b"Cc: boss@shop.example\r\n"
        b"Reply-To: relay-abc@marketplace.example\r\n"
        b"Subject: =?utf-8?b?V28gaXN0IG1laW5lIEJlc3RlbGx1bmc/IOKCrA==?=\r\n"
        b"Date: Tue, 24 Nov 2026 09:15:00 +0200\r\n"
        b"Message-ID: <order-42@example.de>\r\n"
        b"In-Reply-To: <earlier@shop.example>\r\n"
        b"References: <root@shop.example>\r\n <earlier@shop.example>\r\n"
        b"\r\n"
        b"Wo ist meine Bestellung?\r\n"
    )
    uid = dovecot.append(user, password, "INBOX", raw, flags=["\\Flagged"])

    async def scenario() -> None:
        async with ImapConnection(imap_settings) as conn:
            await conn.select("INBOX", readonly=True)
            fetch = getattr(conn, method)
            [info] = await fetch([uid, 999])  # 999 does not exist: left out
            assert info.uid == uid
            assert info.subject == "Wo ist meine Bestellung? €"
            assert (info.from_name, info.from_address) == ("Jürgen Müller", "juergen@example.de")
            assert info.to == (("Shop", "seller@shop.example"), ("Support, Team", "support@shop.example"))
            assert info.cc == (("", "boss@shop.example"),)
            assert info.reply_to == (("", "relay-abc@marketplace.example"),)
            assert info.message_id == "<order-42@example.de>"
            assert info.in_reply_to == "<earlier@shop.example>"
            assert info.references == ("<root@shop.example>", "<earlier@shop.example>")
            assert info.date == datetime(2026, 11, 24, 7, 15, tzinfo=UTC)
            assert info.internaldate.tzinfo is not None
            assert info.internaldate.utcoffset() == timedelta(0)
            assert abs(info.internaldate - datetime.now(UTC)) < timedelta(minutes=5)
            assert info.size == len(raw)
            assert "\\Flagged" in info.flags
            assert isinstance(info.modseq, int)

    asyncio.run(scenario())


def test_fetch_bodies_returns_exact_bytes_and_leaves_unseen(
    dovecot: DovecotServer, mail_user: tuple[str, str], imap_settings: ImapSettings
) -> None:
    user, password = mail_user
    raws = {dovecot.append(user, password, "INBOX", make_mail(n)): make_mail(n) for n in range(5)}

    async def scenario() -> None:
        async with ImapConnection(imap_settings) as conn:
            await conn.select("INBOX")  # read-write: a plain BODY[] would set \Seen here
            bodies = await conn.fetch_bodies(sorted(raws, reverse=True))
            assert [uid for uid, _ in bodies] == sorted(raws)
            assert dict(bodies) == raws
            batches = [batch async for batch in conn.iter_bodies(list(raws), batch_size=2)]
            assert [len(b) for b in batches] == [2, 2, 1]
            flags = await conn.all_flags()
            assert len(flags) == 5
            assert all("\\Seen" not in change.flags for change in flags)

    asyncio.run(scenario())


def test_changed_since_sees_flags_set_by_another_client(
    dovecot: DovecotServer, mail_user: tuple[str, str], imap_settings: ImapSettings
) -> None:
    user, password = mail_user
    for n in range(3):
        dovecot.append(user, password, "INBOX", make_mail(n))

    async def scenario() -> None:
        ours = await connected(imap_settings)
        other = await connected(imap_settings)
        try:
            status = await ours.select("INBOX")
            assert status.highestmodseq is not None
            assert await ours.changed_since(status.highestmodseq) == []

            await other.select("INBOX")
            await other.add_flags([2], ["\\Seen", "\\Answered"])
            await other.remove_flags([2], ["\\Answered"])

            changes = await ours.changed_since(status.highestmodseq)
            assert [(c.uid, c.flags) for c in changes] == [(2, frozenset({"\\Seen"}))]
            assert changes[0].modseq is not None and changes[0].modseq > status.highestmodseq
            # The same connection sees its own changes too (the engine pushes \Answered after a reply).
            await ours.add_flags([1], ["\\Answered"])
            later = await ours.changed_since(changes[0].modseq)
            assert later == [FlagChange(1, frozenset({"\\Answered"}), later[0].modseq)]
        finally:
            await ours.close()
            await other.close()

    asyncio.run(scenario())


def test_qresync_reports_changed_flags_and_expunges_in_one_command(
    dovecot: DovecotServer, mail_user: tuple[str, str], imap_settings: ImapSettings
) -> None:
    user, password = mail_user
    for n in range(4):
        dovecot.append(user, password, "INBOX", make_mail(n))

    async def scenario() -> None:
        ours = await connected(imap_settings)
        try:
            assert "QRESYNC" in ours.capabilities and ours.qresync and ours.condstore
            status = await ours.select("INBOX")
            assert status.highestmodseq is not None
            changes, vanished = await ours.changes_since(status.highestmodseq)
            assert changes == [] and not vanished

            with IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10) as other:  # the seller's phone
                other.login(user, password)
                other.select_folder("INBOX")
                other.add_flags([2], [b"\\Seen"])
                other.delete_messages([1, 4])
                other.expunge()

            changes, vanished = await ours.changes_since(status.highestmodseq)
            assert [(c.uid, c.flags) for c in changes] == [(2, frozenset({"\\Seen"}))]
            assert [uid for uid in range(1, 6) if uid in vanished] == [1, 4]
            # The connection stays usable after the untagged VANISHED answers.
            assert await ours.search_uids() == [2, 3]
        finally:
            await ours.close()

    asyncio.run(scenario())


def test_a_disabled_extension_is_not_used_even_when_offered(imap_settings: ImapSettings) -> None:
    async def scenario() -> None:
        settings = dataclasses.replace(imap_settings, disabled_extensions=frozenset({"QRESYNC"}))
        async with ImapConnection(settings) as conn:
            assert "QRESYNC" in conn.capabilities
            assert conn.condstore and not conn.qresync
            await conn.select("INBOX")
            with pytest.raises(RuntimeError):
                await conn.changes_since(1)

    asyncio.run(scenario())


# ---------------------------------------------------------------------- writing


def test_append_to_sent_and_find_by_message_id(imap_settings: ImapSettings) -> None:
    message_id = new_message_id("shop.example")
    raw = build_reply(
        from_addr="seller@shop.example",
        from_name="My Shop",
        to=["buyer1@example.net"],
        subject="Order question 1",
        body_text="Your parcel left today.",
        in_reply_to="<msg1@example.net>",
        references=[],
        message_id=message_id,
    )

    async def scenario() -> None:
        async with ImapConnection(imap_settings) as conn:
            await conn.select("INBOX")
            when = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
            uid = await conn.append("Sent", raw, flags=["\\Seen"], date=when)
            assert uid == 1
            assert await conn.search_header("Sent", "Message-ID", message_id) == [uid]
            assert await conn.search_header("Sent", "Message-ID", "<not-there@x>") == []
            # INBOX is selected again afterwards.
            assert await conn.all_uids() == []
            sent = await conn.select("Sent", readonly=True)
            assert sent.exists == 1
            [header] = await conn.fetch_headers([uid])
            assert header.message_id == message_id
            assert header.subject == "Re: Order question 1"
            assert header.flags == frozenset({"\\Seen"})
            assert header.internaldate == when.astimezone(UTC)
            [(_uid, body)] = await conn.fetch_bodies([uid])
            assert body == raw

    asyncio.run(scenario())


def test_append_to_missing_folder_is_folder_missing(imap_settings: ImapSettings) -> None:
    async def scenario() -> None:
        async with ImapConnection(imap_settings) as conn:
            with pytest.raises(FolderMissing):
                await conn.append("Sent Items", make_mail(1))

    asyncio.run(scenario())


# ---------------------------------------------------------------------- waiting and recovering


def test_idle_wait_wakes_when_another_client_appends(
    dovecot: DovecotServer, mail_user: tuple[str, str], imap_settings: ImapSettings
) -> None:
    user, password = mail_user

    async def scenario() -> None:
        async with ImapConnection(imap_settings) as conn:
            await conn.select("INBOX")
            assert await conn.idle_wait(0.2) is False  # nothing happens: returns at the timeout
            loop = asyncio.get_running_loop()
            started = loop.time()
            waiter = asyncio.ensure_future(conn.idle_wait(20))
            n = 0
            while not waiter.done() and n < 20:  # bounded: a few appends at most before IDLE reports
                await asyncio.to_thread(dovecot.append, user, password, "INBOX", make_mail(n))
                n += 1
                await asyncio.wait({waiter}, timeout=1)
            assert waiter.done(), "IDLE did not report the new message"
            assert waiter.result() is True
            assert loop.time() - started < 10
            assert len(await conn.search_uids(1)) == n

    asyncio.run(scenario())


def test_idle_wait_wakes_on_an_expunge_reported_as_vanished(
    dovecot: DovecotServer, mail_user: tuple[str, str], imap_settings: ImapSettings
) -> None:
    """With QRESYNC on, an expunge arrives as ``* VANISHED`` (never ``EXPUNGE``): IDLE must wake for it too."""
    user, password = mail_user
    for n in range(3):
        dovecot.append(user, password, "INBOX", make_mail(n))

    async def scenario() -> None:
        async with ImapConnection(imap_settings) as conn:
            assert conn.qresync
            status = await conn.select("INBOX")
            waiter = asyncio.ensure_future(conn.idle_wait(20))
            await asyncio.sleep(0.3)  # IDLE is on before the phone deletes

            def expunge_on_the_phone() -> None:
                with IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10) as other:
                    other.login(user, password)
                    other.select_folder("INBOX")
                    other.delete_messages([2])
                    other.expunge()

            await asyncio.to_thread(expunge_on_the_phone)
            await asyncio.wait({waiter}, timeout=10)
            assert waiter.done() and waiter.result() is True, "IDLE did not report the expunge"
            assert status.highestmodseq is not None
            _changes, vanished = await conn.changes_since(status.highestmodseq)
            assert 2 in vanished and 1 not in vanished

    asyncio.run(scenario())


def test_mail_that_came_between_select_and_idle_is_reported_at_once(
    dovecot: DovecotServer, mail_user: tuple[str, str], imap_settings: ImapSettings
) -> None:
    """Dovecot says nothing in IDLE about a change made before IDLE began (it tells only at DONE): without the
    NOOP before IDLE, this mail waited for the whole IDLE (24 min in the app, 60 s here)."""
    user, password = mail_user

    async def scenario() -> None:
        async with ImapConnection(imap_settings) as conn:
            await conn.select("INBOX")
            await asyncio.to_thread(dovecot.append, user, password, "INBOX", make_mail(1))
            assert await asyncio.wait_for(conn.idle_wait(60), timeout=10) is True
            # Reported once: the next IDLE waits for a new change.
            assert await asyncio.wait_for(conn.idle_wait(0.3), timeout=10) is False

    asyncio.run(scenario())


def test_idle_wait_polls_with_noop_when_idle_is_not_offered(
    dovecot: DovecotServer, mail_user: tuple[str, str], imap_settings: ImapSettings
) -> None:
    user, password = mail_user

    async def scenario() -> None:
        async with ImapConnection(imap_settings) as conn:
            await conn.select("INBOX")
            conn.capabilities = conn.capabilities - {"IDLE"}  # as a server without RFC 2177 would say
            assert await conn.idle_wait(0.3, poll_interval=0.1) is False
            await asyncio.to_thread(dovecot.append, user, password, "INBOX", make_mail(1))
            assert await asyncio.wait_for(conn.idle_wait(10, poll_interval=0.1), timeout=5) is True

    asyncio.run(scenario())


def test_cancelled_idle_gives_the_connection_back(imap_settings: ImapSettings) -> None:
    async def scenario() -> None:
        async with ImapConnection(imap_settings) as conn:
            await conn.select("INBOX")
            waiter = asyncio.ensure_future(conn.idle_wait(60))
            await asyncio.wait({waiter}, timeout=0.3)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            # A new IDLE right away must not revive the cancelled one (which would then run its full 60 s).
            assert await asyncio.wait_for(conn.idle_wait(0.2), timeout=5) is False
            # The next command queues behind the ending IDLE and then works.
            assert await asyncio.wait_for(conn.all_uids(), timeout=5) == []

    asyncio.run(scenario())


def test_server_going_away_during_idle_is_connection_lost(
    dovecot: DovecotServer, imap_settings: ImapSettings
) -> None:
    async def scenario() -> None:
        conn = await connected(imap_settings)
        try:
            await conn.select("INBOX")
            waiter = asyncio.ensure_future(conn.idle_wait(60))
            await asyncio.to_thread(dovecot.stop)  # kills the session, like a server restart
            await asyncio.to_thread(dovecot.start)
            with pytest.raises(ConnectionFailed) as info:
                await asyncio.wait_for(waiter, timeout=15)
            assert info.value.step == "connect"
        finally:
            await conn.close()
        async with ImapConnection(imap_settings) as again:  # a new connection works
            await again.select("INBOX")

    asyncio.run(scenario())


def test_uidvalidity_change_is_visible(
    dovecot: DovecotServer, mail_user: tuple[str, str], imap_settings: ImapSettings
) -> None:
    user, password = mail_user
    for n in range(2):
        dovecot.append(user, password, "INBOX", make_mail(n))

    async def select_inbox() -> tuple[int, list[int]]:
        async with ImapConnection(imap_settings) as conn:
            status = await conn.select("INBOX", readonly=True)
            headers = await conn.fetch_headers(await conn.all_uids())
            return status.uidvalidity, [h.uid for h in headers]

    before, uids_before = asyncio.run(select_inbox())
    dovecot.reset_uidvalidity(user)
    after, uids_after = asyncio.run(select_inbox())
    assert after != before
    assert len(uids_after) == len(uids_before) == 2
