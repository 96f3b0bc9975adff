"""Two profiles of one user, one keyring (the isolated PlaintextKeyring of tests/conftest.py), real Dovecot.

Before the fix every profile's "account 1" was the keyring entry ``account:1:imap``: adding an account in a
second profile overwrote the first profile's password, and the first profile then sent the second one's
password to its own server. Now entries are named by the profile's random id, moved over from the old names
when a profile opens, and bound to the server they were stored for.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import keyring
import pytest

from inbox_app import i18n
from inbox_app.profile import Profile, open_profile
from inbox_app.secrets import SERVICE
from inbox_app.store.accounts import mail_settings, update_mail_settings
from inbox_app.store.models import Account, Message, Setting
from inbox_app.sync.account_setup import save_account
from inbox_app.sync.credentials import MIGRATED_KEY, account_password, profile_uuid
from tests.integration.conftest import loopback_account_form
from tests.integration.outbox_helpers import engine_once
from tests.integration.test_mail_sync import make_mail
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration


@pytest.fixture
def two_users(dovecot: DovecotServer) -> tuple[tuple[str, str], tuple[str, str]]:
    first, second = dovecot.new_user("first"), dovecot.new_user("second")
    dovecot.append(*first, "INBOX", make_mail(1))
    dovecot.append(*second, "INBOX", make_mail(2))
    return first, second


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Any]:
    """``opened(name)`` opens (and rebinds the store to) the profile ``name``; closed at teardown."""
    i18n.setup("en")
    current: list[Profile] = []

    def open_named(name: str) -> Profile:
        for profile in current:
            profile.close()
        current[:] = [open_profile(tmp_path / name)]
        return current[0]

    yield open_named
    for profile in current:
        profile.close()


def test_two_profiles_keep_their_own_passwords(
    opened: Any,
    dovecot: DovecotServer,
    two_users: tuple[tuple[str, str], tuple[str, str]],
    smtp_server: SmtpServer,
) -> None:
    (first_user, first_pw), (second_user, second_pw) = two_users
    one = opened("one")
    first_id = save_account(loopback_account_form(dovecot, (first_user, first_pw), smtp_server))
    one_uuid = profile_uuid()
    two = opened("two")
    second_id = save_account(loopback_account_form(dovecot, (second_user, second_pw), smtp_server))
    assert first_id == second_id == 1  # the ids that used to share one keyring entry
    assert profile_uuid() != one_uuid
    assert engine_once(two).ok and Message.get().remote_id == "<msg2@example.net>"

    one = opened("one")
    assert account_password(first_id, "imap") == first_pw
    report = engine_once(one)
    assert report.ok, report.problems
    assert [m.remote_id for m in Message.select()] == ["<msg1@example.net>"]
    two_uuid = opened("two") and profile_uuid()
    assert _keyring_names() == {
        f"profile:{uuid_}:account:1:{purpose}"
        for uuid_ in (one_uuid, two_uuid)
        for purpose in ("imap", "smtp")
    }


def _keyring_names() -> set[str]:
    """Usernames stored under our service in the PlaintextKeyring file (an ini file: one section per service)."""
    import configparser

    backend = keyring.get_keyring()
    parser = configparser.RawConfigParser()
    parser.read(getattr(backend, "file_path"))  # noqa: B009  # PlaintextKeyring only
    from keyrings.alt.escape import escape, unescape  # keyrings.alt escapes section and option names

    if not parser.has_section(escape(SERVICE)):
        return set()
    return {unescape(key) for key in parser.options(escape(SERVICE))}


def test_old_shared_entries_move_to_the_first_profile_opened_and_no_other_gets_them(
    opened: Any,
    dovecot: DovecotServer,
    two_users: tuple[tuple[str, str], tuple[str, str]],
    smtp_server: SmtpServer,
) -> None:
    """Profiles written by the previous version: the entries are under ``account:1:<purpose>``."""
    (first_user, first_pw), (second_user, second_pw) = two_users
    two = opened("two")
    save_account(loopback_account_form(dovecot, (second_user, second_pw), smtp_server))
    two_uuid = profile_uuid()
    one = opened("one")
    save_account(loopback_account_form(dovecot, (first_user, first_pw), smtp_server))
    one_uuid = profile_uuid()
    # Back to how the previous version left the keyring: one shared entry per purpose, profile one's.
    for uuid_ in (one_uuid, two_uuid):
        for purpose in ("imap", "smtp"):
            keyring.delete_password(SERVICE, f"profile:{uuid_}:account:1:{purpose}")
    keyring.set_password(SERVICE, "account:1:imap", first_pw)
    keyring.set_password(SERVICE, "account:1:smtp", "smtp-secret-42")
    Setting.delete().where(Setting.key == MIGRATED_KEY).execute()
    opened("two")
    Setting.delete().where(Setting.key == MIGRATED_KEY).execute()

    one = opened("one")  # opening migrates
    assert keyring.get_password(SERVICE, "account:1:imap") is None
    assert account_password(1, "imap") == first_pw
    assert engine_once(one).ok

    two = opened("two")  # the old entry is gone: profile two asks for its password, sends nobody else's
    report = engine_once(two)
    assert [p.message for p in report.problems] == [
        "No password is stored for this account. Enter it again in the account settings."
    ]
    assert Message.select().count() == 0


class _Listener:
    """A TCP listener that records every byte a client sends it (a server the password must never reach)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.sendall(b"* OK IMAP4rev1 ready\r\n")
                conn.settimeout(2)
                try:
                    while chunk := conn.recv(4096):
                        self.received += chunk
                        conn.sendall(b"* BAD\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def test_a_password_is_never_sent_to_another_server_than_its_own(
    opened: Any,
    dovecot: DovecotServer,
    two_users: tuple[tuple[str, str], tuple[str, str]],
    smtp_server: SmtpServer,
) -> None:
    (user, password), _second = two_users
    profile = opened("one")
    account_id = save_account(loopback_account_form(dovecot, (user, password), smtp_server))
    other = _Listener()
    try:
        account = Account.get_by_id(account_id)
        settings = mail_settings(account)
        # The account now points elsewhere (edited settings, a tampered database): the port is another server's.
        update_mail_settings(account, replace(settings, imap=replace(settings.imap, port=other.port)))
        report = engine_once(profile)
    finally:
        other.close()
    assert password.encode() not in other.received
    assert not report.ok
    assert "saved for another server" in report.problems[0].message
