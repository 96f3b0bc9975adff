"""Testing and saving a mail account against real Dovecot and aiosmtpd servers, and the keyring."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest
from keyring.backends import fail

from inbox_app.domain.account_form import AccountForm, AccountSetupError
from inbox_app.profile import Profile
from inbox_app.store.accounts import list_accounts, mail_settings
from inbox_app.sync.account_setup import save_account, test_account
from inbox_app.sync.credentials import account_password
from tests.integration.conftest import SMTP_PASSWORD, SMTP_USER, loopback_account_form
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration


@pytest.fixture
def form(dovecot: DovecotServer, mail_user: tuple[str, str], smtp_server: SmtpServer) -> AccountForm:
    """Settings that work: loopback servers without TLS (allowed on this computer only)."""
    return loopback_account_form(
        dovecot, mail_user, smtp_server, name="Shop mailbox", folders=("INBOX", "Sent")
    )


def failure(form: AccountForm) -> AccountSetupError:
    with pytest.raises(AccountSetupError) as caught:
        asyncio.run(test_account(form, timeout=10))
    return caught.value


def test_working_settings_return_the_folders(form: AccountForm) -> None:
    folders = asyncio.run(test_account(form, timeout=10))
    assert {"INBOX", "Sent", "Drafts", "Trash"} <= set(folders)


def test_wrong_password_fails_at_imap_login(form: AccountForm) -> None:
    form.password = "not-the-password"
    error = failure(form)
    assert (error.server, error.step) == ("imap", "login")
    assert error.user_message == f"{form.imap_host} refused the user name or password."
    assert "not-the-password" not in str(error) + error.detail


def test_wrong_smtp_password_fails_at_smtp_login(form: AccountForm) -> None:
    form.smtp_password = "wrong-relay-password"
    error = failure(form)
    assert (error.server, error.step) == ("smtp", "login")


def test_unknown_server_name_fails_at_dns(form: AccountForm) -> None:
    form.imap_host = "imap.no-such-shop.invalid"
    form.imap_security = "tls"
    error = failure(form)
    assert (error.server, error.step) == ("imap", "dns")
    assert "imap.no-such-shop.invalid" in error.user_message


def test_nothing_listening_fails_at_connect(form: AccountForm, smtp_server: SmtpServer) -> None:
    smtp_server.stop()  # the port is now closed
    error = failure(form)
    assert (error.server, error.step) == ("smtp", "connect")


def test_missing_folder_fails_at_folder(form: AccountForm) -> None:
    form.folders = ("INBOX", "Amazon Kunden")
    error = failure(form)
    assert (error.server, error.step) == ("imap", "folder")
    assert error.user_message == "The folder “Amazon Kunden” does not exist on the server."


def test_plain_text_to_a_remote_host_is_refused_before_connecting(form: AccountForm) -> None:
    form.smtp_host = "smtp.shop.invalid"
    error = failure(form)  # the name would not even resolve: the refusal comes first
    assert error.step == "form"
    form_problems = form.field_problems()
    assert "only allowed to this computer" in form_problems["smtp_security"]


def test_save_stores_settings_in_the_db_and_passwords_only_in_the_keyring(
    form: AccountForm, profile: Profile
) -> None:
    account_id = save_account(form)
    [account] = list_accounts()
    assert account.id == account_id
    assert account.name == "Shop mailbox"
    settings = mail_settings(account)
    assert (settings.imap.host, settings.imap.port, settings.imap.user) == (
        form.imap_host,
        form.imap_port,
        form.imap_user,
    )
    assert (settings.smtp.user, settings.from_address, settings.from_name) == (
        SMTP_USER,
        "seller@shop.example",
        "Mein Laden",
    )
    assert settings.folders == ("INBOX", "Sent")
    assert account_password(account_id, "imap") == form.password
    assert account_password(account_id, "smtp") == SMTP_PASSWORD
    stored = json.dumps(account.settings)
    assert form.password not in stored and SMTP_PASSWORD not in stored
    profile.close()  # checkpoint: every byte the database ever got is now in these files
    for path in Path(profile.root).glob("inbox.sqlite3*"):
        data = path.read_bytes()
        assert form.password.encode() not in data
        assert SMTP_PASSWORD.encode() not in data


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def test_save_without_keyring_stores_nothing(form: AccountForm, profile: Profile, no_keyring: None) -> None:
    with pytest.raises(AccountSetupError) as caught:
        save_account(form)
    assert caught.value.step == "keyring"
    assert "PYTHON_KEYRING_BACKEND" in caught.value.user_message
    assert list_accounts() == []
