"""The sender's Date header does not drive deadlines (issue 11.6), through a real Dovecot.

A Date of 1900 must not make a new mail overdue since 1900, a Date of 2099 must not hide a customer for 73
years: the clock starts when the mail reached the mailbox (IMAP INTERNALDATE). A plausible Date header is
still what the thread shows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from inbox_app.store import conversations as conversation_store
from inbox_app.store.models import Account, Conversation, Message
from inbox_app.sync.mail_sync import MailAccountSync
from tests.integration.test_mail_sync import imap_client, mail_account, make_mail, run
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.integration


@pytest.fixture
def account(profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str]) -> Account:
    return mail_account(dovecot, *mail_user)


async def _sync(account: Account) -> None:
    sync = MailAccountSync(account)
    try:
        await sync.sync_once()
    finally:
        await sync.close()


def _raw_with_date(n: int, date_header: str) -> bytes:
    """``make_mail`` with its Date line replaced verbatim (a date ``make_mail`` cannot format, like 1900)."""
    raw = make_mail(n)
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = [ln for ln in head.split(b"\r\n") if not ln.startswith(b"Date:")]
    if date_header:
        lines.append(b"Date: " + date_header.encode())
    return b"\r\n".join(lines) + sep + body


def _append(dovecot: DovecotServer, user: str, password: str, raw: bytes, arrived: datetime) -> None:
    """APPEND with an explicit INTERNALDATE (the time the mail reached the mailbox)."""
    with imap_client(dovecot, user, password) as client:
        client.append("INBOX", raw, msg_time=arrived)


def _detail_for(remote_id: str) -> Any:
    message = Message.get(Message.remote_id == remote_id)
    detail = conversation_store.detail(message.conversation_id)
    assert detail is not None
    return message, detail


def test_implausible_date_headers_do_not_drive_deadlines(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], account: Account
) -> None:
    user, password = mail_user
    arrived = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    _append(dovecot, user, password, _raw_with_date(1, "Mon, 01 Jan 1900 10:00:00 +0000"), arrived)
    _append(dovecot, user, password, _raw_with_date(2, "Thu, 01 Jan 2099 10:00:00 +0000"), arrived)
    _append(dovecot, user, password, _raw_with_date(3, ""), arrived)  # no Date header at all
    run(_sync(account))

    for n, header in ((1, "1900-01-01"), (2, "2099-01-01"), (3, None)):
        message, detail = _detail_for(f"<msg{n}@example.net>")
        conversation = Conversation.get_by_id(message.conversation_id)
        # The clock starts at INTERNALDATE: not overdue since 1900, not hidden until 2099.
        assert conversation.deadline_started_at == arrived, n
        assert arrived < conversation.deadline_at < arrived + timedelta(days=7), n
        assert detail.messages[0].sent_at == arrived, n
        assert message.received_at == arrived, n
        # The header itself is kept (raw data is never dropped), marked as not believed.
        if header:
            assert message.extra["date_header"].startswith(header), n
        else:
            assert "date_header" not in message.extra


def test_a_plausible_date_header_is_what_the_thread_shows(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], account: Account
) -> None:
    """Written two hours and three days before it arrived, or a few minutes "after" (skewed clocks): believed."""
    user, password = mail_user
    arrived = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    written = {
        1: arrived - timedelta(hours=2),
        2: arrived - timedelta(days=3),
        3: arrived + timedelta(minutes=10),
    }
    for n, when in written.items():
        _append(dovecot, user, password, make_mail(n, date=when), arrived)
    run(_sync(account))

    for n, when in written.items():
        message, detail = _detail_for(f"<msg{n}@example.net>")
        assert detail.messages[0].sent_at == when, n
        assert detail.deadline_started_at == when, n
        assert message.received_at == arrived and "date_header" not in message.extra, n
