"""SMTP without authentication (a shop's local relay, a smarthost that trusts the LAN), against a real aiosmtpd
that offers no AUTH at all, from account set-up to a reply delivered by ``sync --once``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from inbox_app.domain.account_form import AccountForm, AccountSetupError
from inbox_app.profile import open_profile
from inbox_app.secrets import get_secret
from inbox_app.store.accounts import list_accounts, mail_settings
from inbox_app.sync.account_setup import test_account
from inbox_app.sync.credentials import secret_ref, server_of
from tests.integration.conftest import loopback_account_form
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def relay() -> Iterator[SmtpServer]:
    """An aiosmtpd relay without AUTH: it accepts mail from anyone who can reach it."""
    with SmtpServer() as server:
        yield server


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, PYTHONPATH=str(REPO), INBOX_APP_LANG="en", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "inbox_app", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=full_env,
        timeout=120,
    )


def test_a_relay_without_auth_passes_the_test_only_when_no_auth_is_chosen(
    dovecot: DovecotServer, mail_user: tuple[str, str], relay: SmtpServer
) -> None:
    with_login = loopback_account_form(dovecot, mail_user, relay)
    with pytest.raises(AccountSetupError) as caught:
        asyncio.run(test_account(with_login, timeout=10))
    assert (caught.value.server, caught.value.step) == ("smtp", "login")  # what sellers ran into so far
    without = loopback_account_form(dovecot, mail_user, relay, smtp_auth=False)
    assert without.effective_smtp_user == "" and without.effective_smtp_password == ""
    assert "INBOX" in asyncio.run(test_account(without, timeout=10))


def test_cli_adds_a_no_auth_account_and_sync_delivers_a_reply_through_the_relay(
    tmp_path: Path, dovecot: DovecotServer, mail_user: tuple[str, str], relay: SmtpServer
) -> None:
    user, password = mail_user
    folder = str(tmp_path / "profile")
    added = cli(
        "--profile", folder, "account", "add", "imap",
        "--name", "Shop", "--user", user, "--password-env", "SHOP_PW",
        "--from", "seller@shop.example",
        "--imap-host", dovecot.host, "--imap-port", str(dovecot.port), "--imap-security", "none",
        "--smtp-host", relay.host, "--smtp-port", str(relay.port), "--smtp-security", "none",
        "--smtp-auth", "none",
        env={"SHOP_PW": password},
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "is not on this computer" not in added.stderr  # loopback: no relay warning
    account_id = int(added.stdout.strip())
    profile = open_profile(Path(folder))
    try:
        [account] = list_accounts()
        assert account.id == account_id
        assert mail_settings(account).smtp.user == ""
        assert get_secret(secret_ref(account.id, "imap"), server_of(account, "imap")) == password
        assert (
            get_secret(secret_ref(account.id, "smtp"), server_of(account, "smtp")) is None
        )  # no password to keep for the relay
    finally:
        profile.close()

    mail = EmailMessage()
    mail["From"] = "Ana Cliente <ana@buyer.example>"
    mail["To"] = "seller@shop.example"
    mail["Subject"] = "Where is my parcel?"
    mail["Message-ID"] = "<q1@buyer.example>"
    mail.set_content("Hello, my order has not arrived yet.")
    dovecot.append(user, password, "INBOX", bytes(mail))
    synced = cli("--profile", folder, "sync", "--once")
    assert synced.returncode == 0, synced.stderr
    [row] = json.loads(cli("--profile", folder, "list", "--json").stdout)
    body = tmp_path / "reply.txt"
    body.write_text("Hello Ana, it left our warehouse today.", encoding="utf-8")
    queued = cli("--profile", folder, "reply", str(row["id"]), "--body-file", str(body))
    assert queued.returncode == 0, queued.stderr
    sent = cli("--profile", folder, "sync", "--once")
    assert sent.returncode == 0, sent.stderr
    [received] = relay.messages
    assert list(received.rcpt_tos) == ["ana@buyer.example"]
    assert b"it left our warehouse today" in received.raw


def test_cli_warns_when_a_relay_without_auth_is_on_the_internet(tmp_path: Path) -> None:
    added = cli(
        "--profile", str(tmp_path / "profile"), "account", "add", "imap",
        "--name", "Shop", "--user", "seller", "--password-env", "SHOP_PW",
        "--from", "seller@shop.example",
        "--imap-host", "imap.shop.example", "--smtp-host", "smtp.shop.example", "--smtp-auth", "none",
        "--no-test",
        env={"SHOP_PW": "pw"},
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "warning: smtp.shop.example is not on this computer or the local network" in added.stderr


@pytest.mark.parametrize(
    ("host", "auth", "allowed"),
    [
        ("127.0.0.1", True, True),
        ("192.168.1.20", False, True),
        ("10.0.0.5", False, True),
        ("relay", False, True),
        ("mail.shop.lan", False, True),
        ("192.168.1.20", True, False),  # a password never crosses a network unencrypted
        ("smtp.example.com", False, False),
        ("8.8.8.8", False, False),
    ],
)
def test_plain_text_smtp_is_allowed_only_where_no_password_crosses_a_network(
    host: str, auth: bool, allowed: bool
) -> None:
    form = AccountForm(
        email="seller@shop.example", password="pw", imap_host="imap.shop.example",
        smtp_host=host, smtp_port=25, smtp_security="none", smtp_auth=auth,
    )  # fmt: skip
    assert ("smtp_security" not in form.field_problems()) is allowed
