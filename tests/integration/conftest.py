"""Fixtures that start real servers on 127.0.0.1 (Dovecot IMAP, aiosmtpd SMTP) and stop them afterwards.

One Dovecot per test session (it starts in ~0.1 s but stopping takes ~1 s); every test gets its own fresh user
with an empty mailbox, so tests never see each other's mail. A missing Dovecot is a failure, not a skip: a
skipped integration suite would let channel bugs through unnoticed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inbox_app.domain.account_form import AccountForm
    from inbox_app.store.models import Account

from collections.abc import Iterator

import pytest

from inbox_app.channels.mail.imap import ImapSettings
from inbox_app.channels.mail.security import Security
from inbox_app.channels.mail.smtp import SmtpSettings
from tests.servers.dovecot import DovecotServer, dovecot_binary
from tests.servers.smtp import SmtpServer

SMTP_USER = "seller@shop.example"
SMTP_PASSWORD = "smtp-secret-42"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    if dovecot_binary() is None:
        pytest.fail(
            "Dovecot is not installed, so the IMAP integration tests cannot run. Run the test command from "
            "README.md, which installs it (apt-get install -y dovecot-imapd).",
            pytrace=False,
        )
    server = DovecotServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def mail_user(dovecot: DovecotServer) -> tuple[str, str]:
    """(user, password) of a new Dovecot user with an empty mailbox (INBOX, Sent, Drafts, Trash)."""
    return dovecot.new_user()


@pytest.fixture
def imap_settings(dovecot: DovecotServer, mail_user: tuple[str, str]) -> ImapSettings:
    user, password = mail_user
    return ImapSettings(
        host=dovecot.host, port=dovecot.port, security=Security.NONE, user=user, password=password, timeout=10
    )


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An aiosmtpd server that requires AUTH (``SMTP_USER``/``SMTP_PASSWORD``) over loopback plain text."""
    with SmtpServer(user=SMTP_USER, password=SMTP_PASSWORD) as server:
        yield server


@pytest.fixture
def smtp_settings(smtp_server: SmtpServer) -> SmtpSettings:
    return SmtpSettings(
        host=smtp_server.host,
        port=smtp_server.port,
        security=Security.NONE,
        user=SMTP_USER,
        password=SMTP_PASSWORD,
        timeout=10,
    )


@pytest.fixture
def smtp_account(
    profile: object, dovecot: DovecotServer, mail_user: tuple[str, str], smtp_server: SmtpServer
) -> Account:
    """The Dovecot user's mail account in the test profile, sending through the test SMTP server."""
    from tests.integration.test_mail_sync import mail_account

    return mail_account(
        dovecot, *mail_user, smtp_port=smtp_server.port, smtp_user=SMTP_USER, smtp_password=SMTP_PASSWORD
    )


def loopback_account_form(
    dovecot: DovecotServer, mail_user: tuple[str, str], smtp_server: SmtpServer, **overrides: object
) -> AccountForm:
    """Account settings that work against the test servers: loopback, no TLS (allowed on this computer only)."""
    from inbox_app.domain.account_form import AccountForm

    user, password = mail_user
    fields: dict[str, object] = {
        "email": "seller@shop.example",
        "password": password,
        "from_name": "Mein Laden",
        "imap_host": dovecot.host,
        "imap_port": dovecot.port,
        "imap_security": "none",
        "imap_user": user,
        "smtp_host": smtp_server.host,
        "smtp_port": smtp_server.port,
        "smtp_security": "none",
        "smtp_user": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        **overrides,
    }
    return AccountForm(**fields)  # type: ignore[arg-type]
