"""The collision check before send, for mail, against real Dovecot + aiosmtpd: a reply whose conversation
changed after its draft was begun (the customer wrote again; someone answered from webmail) is held, never
sent; ``outbox list --json`` says why; ``outbox send-anyway`` releases it and it goes out exactly once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inbox_app.channels.mail.imap import ImapConnection
from inbox_app.services import replies
from inbox_app.store.accounts import mail_settings
from inbox_app.store.models import Account, Message, OutboxItem
from inbox_app.sync.engine import smtp_settings_for
from inbox_app.sync.mail_sync import imap_settings_for
from inbox_app.sync.outbox_delivery import DeliveryReport, deliver_due
from tests.integration.outbox_helpers import engine_once, profile_cli
from tests.integration.test_mail_sync import SELLER, make_mail, run
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ANSWER = "Your parcel left our warehouse today.\n"


def deliver_only(profile: Any, account: Account, password: str) -> DeliveryReport:
    """One delivery round without a sync first (as the window's delivery loop does): what the server got
    since the last sync is not in the store, so only the check's own look at the server can see it."""

    async def go() -> DeliveryReport:
        conn = ImapConnection(imap_settings_for(mail_settings(account), password))
        await conn.connect()
        try:
            return await deliver_due(account, conn, smtp_settings_for(account), blobs=profile.blobs)
        finally:
            await conn.close()

    return run(go())


def _drafted_reply(profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str]) -> tuple[int, int]:
    """A synced conversation, a draft begun on it, then the reply queued: (conversation id, outbox id)."""
    user, password = mail_user
    dovecot.append(user, password, "INBOX", make_mail(1))
    engine_once(profile)
    conv_id = Message.get(Message.remote_id == "<msg1@example.net>").conversation_id
    replies.save_draft(conv_id, "Your parcel")
    queued = replies.queue_reply(conv_id, ANSWER)
    return conv_id, queued.outbox_id


def test_customer_mail_after_the_draft_holds_the_reply_until_send_anyway(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
) -> None:
    user, password = mail_user
    _conv_id, item_id = _drafted_reply(profile, dovecot, mail_user)
    # The customer writes again while the reply waits; the app has not synced it yet.
    dovecot.append(
        user,
        password,
        "INBOX",
        make_mail(
            2,
            sender="Buyer 1 <buyer1@example.net>",
            subject="Re: Question about order 1",
            in_reply_to="<msg1@example.net>",
            body="Never mind, it just arrived, but the box is broken.",
        ),
    )
    report = deliver_only(profile, smtp_account, password)
    assert report.held == [item_id] and report.sent == []
    assert smtp_server.messages == []
    item = OutboxItem.get_by_id(item_id)
    assert item.state == "held" and item.owner is None
    assert [c["kind"] for c in item.held_changes] == ["customer_wrote"]
    assert item.held_changes[0]["remote_id"] == "<msg2@example.net>"

    # Held replies never leave by themselves, however many rounds run (now with the mail synced).
    engine_once(profile)
    engine_once(profile)
    assert smtp_server.messages == []

    listing = profile_cli(profile, "outbox", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    (info,) = json.loads(listing.stdout)
    assert info["id"] == item_id and info["state"] == "held"
    assert info["held_reason"].startswith("Buyer 1 wrote at ")

    released = profile_cli(profile, "outbox", "send-anyway", str(item_id))
    assert released.returncode == 0, released.stderr
    again = profile_cli(profile, "outbox", "send-anyway", str(item_id))
    assert again.returncode == 1 and "not held" in again.stderr

    report = engine_once(profile)
    assert report.deliveries[smtp_account.id].sent == [item_id]
    engine_once(profile)
    assert len(smtp_server.messages) == 1
    assert OutboxItem.get_by_id(item_id).state == "sent"


def test_reply_sent_from_webmail_after_the_draft_holds_the_reply(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
) -> None:
    user, password = mail_user
    _conv_id, item_id = _drafted_reply(profile, dovecot, mail_user)
    # A colleague answered from webmail: the answer sits in Sent, replying to the customer's mail.
    dovecot.append(
        user,
        password,
        "Sent",
        make_mail(
            3,
            sender=f"Shop <{SELLER}>",
            to="buyer1@example.net",
            subject="Re: Question about order 1",
            in_reply_to="<msg1@example.net>",
            body="We sent a new parcel this morning.",
        ),
        flags=["\\Seen"],
    )
    report = deliver_only(profile, smtp_account, password)
    assert report.held == [item_id]
    assert smtp_server.messages == []
    item = OutboxItem.get_by_id(item_id)
    assert [c["kind"] for c in item.held_changes] == ["answered_elsewhere"]


def test_a_reply_without_news_goes_out_and_the_thread_is_checked_only_once(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
) -> None:
    _conv_id, item_id = _drafted_reply(profile, dovecot, mail_user)
    report = engine_once(profile)
    assert (
        report.deliveries[smtp_account.id].sent == [item_id] and report.deliveries[smtp_account.id].held == []
    )
    assert len(smtp_server.messages) == 1
