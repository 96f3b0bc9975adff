"""A synced mail's list line is the one the single writer would give it, so a status change never rewrites it.

Issue 12.4: the bulk writer of the mail sync took the first line ("Hallo Herr Weber,") while a status change
recomputes through ``store.ingest`` ("mein Paket …"): the list line of a synced mail jumped when the seller
closed it. Through a real Dovecot and the services the UI and CLI call.
"""

from __future__ import annotations

from typing import Any

import pytest

from inbox_app.domain.conversations import Status
from inbox_app.services import conversations as conversation_service
from inbox_app.store.models import Conversation
from inbox_app.sync.mail_sync import MailAccountSync
from tests.integration.test_mail_sync import SELLER, mail_account, run
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.integration

MAIL = (
    "From: Klaus Weber <k.weber@example.de>\r\n"
    f"To: {SELLER}\r\n"
    "Subject: Paket\r\n"
    "Date: Tue, 01 Dec 2026 09:00:00 +0000\r\n"
    "Message-ID: <weber-1@example.de>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Hallo Herr Weber,\r\n"
    "mein Paket ist immer noch nicht angekommen.\r\n"
    "Viele Grüße\r\n"
).encode()


async def _sync(account: Any) -> None:
    sync = MailAccountSync(account)
    try:
        await sync.sync_once()
    finally:
        await sync.close()


def test_synced_snippet_does_not_change_with_the_status(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str]
) -> None:
    user, password = mail_user
    dovecot.append(user, password, "INBOX", MAIL)
    account = mail_account(dovecot, user, password)
    run(_sync(account))

    conversation = Conversation.get(Conversation.account == account.id)
    synced = conversation.snippet
    assert synced == "mein Paket ist immer noch nicht angekommen."

    for status in (Status.CLOSED, Status.OPEN, Status.PENDING):
        assert conversation_service.set_status(conversation.id, status)
        assert Conversation.get_by_id(conversation.id).snippet == synced, status
    run(_sync(account))  # a resync refreshes through the bulk writer again
    assert Conversation.get_by_id(conversation.id).snippet == synced
