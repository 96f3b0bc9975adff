"""Secrets live in the keyring (isolated per test by tests/conftest.py), never in the database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.chainer
import keyring.backends.fail
import pytest

from inbox_app import secrets
from inbox_app.store.accounts import MailAccountSettings, ServerSettings, account_info, create_mail_account
from inbox_app.sync.credentials import store_password


@pytest.fixture
def swap_backend() -> Iterator[Any]:
    original = keyring.get_keyring()
    try:
        yield keyring.set_keyring
    finally:
        keyring.set_keyring(original)


SERVER = secrets.ServerBinding("imap.example.com", 993, "seller")
IMAP_7 = secrets.SecretRef("0f3e", 7, "imap")
SMTP_7 = secrets.SecretRef("0f3e", 7, "smtp")


def test_round_trip_in_the_isolated_plaintext_keyring() -> None:
    backend = keyring.get_keyring()
    assert type(backend).__name__ == "PlaintextKeyring"
    file_path = Path(getattr(backend, "file_path"))  # noqa: B009  # PlaintextKeyring only
    assert file_path.is_relative_to(Path(os.environ["XDG_DATA_HOME"]))  # not the real home
    assert secrets.get_secret(IMAP_7, SERVER) is None
    secrets.set_secret(IMAP_7, "pässword-1", SERVER)
    secrets.set_secret(SMTP_7, "other", SERVER)
    assert secrets.get_secret(IMAP_7, SERVER) == "pässword-1"
    assert keyring.get_password("inbox-app", "profile:0f3e:account:7:imap") is not None
    assert keyring.get_password("inbox-app", "account:7:imap") is None
    assert secrets.delete_secret(IMAP_7) is True
    assert secrets.delete_secret(IMAP_7) is False
    assert secrets.get_secret(IMAP_7, SERVER) is None
    secrets.delete_account_secrets("0f3e", 7)
    assert secrets.get_secret(SMTP_7, SERVER) is None


def test_a_secret_is_only_handed_out_for_the_server_it_was_stored_for() -> None:
    secrets.set_secret(IMAP_7, "for-imap.example.com", SERVER)
    assert secrets.get_secret(IMAP_7, secrets.ServerBinding("IMAP.example.com", 993, "seller")) is not None
    for other in (
        secrets.ServerBinding("evil.example.net", 993, "seller"),
        secrets.ServerBinding("imap.example.com", 143, "seller"),
        secrets.ServerBinding("imap.example.com", 993, "someone-else"),
    ):
        with pytest.raises(secrets.SecretBoundElsewhere) as refused:
            secrets.get_secret(IMAP_7, other)
        assert "not sent there" in refused.value.user_message
    # A value without a recorded server (written by hand, or by an old version under the new name): refused.
    keyring.set_password("inbox-app", IMAP_7.username, "bare")
    with pytest.raises(secrets.SecretBoundElsewhere):
        secrets.get_secret(IMAP_7, SERVER)


def test_a_legacy_entry_moves_to_the_new_name_and_is_deleted_only_once_read_back() -> None:
    keyring.set_password("inbox-app", "account:7:imap", "legacy-pw")
    assert secrets.migrate_legacy_secret(IMAP_7, SERVER) is True
    assert secrets.get_secret(IMAP_7, SERVER) == "legacy-pw"
    assert keyring.get_password("inbox-app", "account:7:imap") is None
    assert secrets.migrate_legacy_secret(IMAP_7, SERVER) is False  # nothing left to move
    # An entry already under the new name is never overwritten by an old one.
    keyring.set_password("inbox-app", "account:7:imap", "stale")
    assert secrets.migrate_legacy_secret(IMAP_7, SERVER) is False
    assert secrets.get_secret(IMAP_7, SERVER) == "legacy-pw"
    assert keyring.get_password("inbox-app", "account:7:imap") == "stale"


def test_password_never_reaches_the_database(profile: Any) -> None:
    settings = MailAccountSettings(
        imap=ServerSettings("imap.example.com", 993, "tls", "seller"),
        smtp=ServerSettings("smtp.example.com", 465, "tls", "seller"),
        from_address="seller@example.com",
    )
    account = create_mail_account("Shop", settings)
    store_password(account, "imap", "TopSecret-4711")
    profile.db.execute_sql("PRAGMA wal_checkpoint(FULL)")
    assert b"TopSecret-4711" not in profile.db_path.read_bytes()
    assert "TopSecret-4711" not in repr(account_info(account))
    assert account_info(account)["settings"]["imap"]["host"] == "imap.example.com"


def test_no_usable_backend_is_explained(swap_backend: Any) -> None:
    swap_backend(keyring.backends.fail.Keyring())
    with pytest.raises(secrets.NoKeyringError) as caught:
        secrets.set_secret(IMAP_7, "x", SERVER)
    assert "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring" in caught.value.user_message
    assert "No keyring service found" in caught.value.user_message
    with pytest.raises(secrets.NoKeyringError):
        secrets.get_secret(IMAP_7, SERVER)


def test_empty_chainer_is_refused(swap_backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    chainer = keyring.backends.chainer.ChainerBackend()
    monkeypatch.setattr(type(chainer), "backends", property(lambda self: []))
    swap_backend(chainer)
    with pytest.raises(secrets.NoKeyringError):
        secrets.check_keyring()
