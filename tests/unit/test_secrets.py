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


@pytest.fixture
def swap_backend() -> Iterator[Any]:
    original = keyring.get_keyring()
    try:
        yield keyring.set_keyring
    finally:
        keyring.set_keyring(original)


def test_round_trip_in_the_isolated_plaintext_keyring() -> None:
    backend = keyring.get_keyring()
    assert type(backend).__name__ == "PlaintextKeyring"
    file_path = Path(getattr(backend, "file_path"))  # noqa: B009  # PlaintextKeyring only
    assert file_path.is_relative_to(Path(os.environ["XDG_DATA_HOME"]))  # not the real home
    assert secrets.get_secret(7, "imap") is None
    secrets.set_secret(7, "imap", "pässword-1")
    secrets.set_secret(7, "smtp", "other")
    assert secrets.get_secret(7, "imap") == "pässword-1"
    assert keyring.get_password("inbox-app", "account:7:imap") == "pässword-1"
    assert secrets.delete_secret(7, "imap") is True
    assert secrets.delete_secret(7, "imap") is False
    assert secrets.get_secret(7, "imap") is None
    secrets.delete_account_secrets(7)
    assert secrets.get_secret(7, "smtp") is None


def test_password_never_reaches_the_database(profile: Any) -> None:
    settings = MailAccountSettings(
        imap=ServerSettings("imap.example.com", 993, "tls", "seller"),
        smtp=ServerSettings("smtp.example.com", 465, "tls", "seller"),
        from_address="seller@example.com",
    )
    account = create_mail_account("Shop", settings)
    secrets.set_secret(account.id, "imap", "TopSecret-4711")
    profile.db.execute_sql("PRAGMA wal_checkpoint(FULL)")
    assert b"TopSecret-4711" not in profile.db_path.read_bytes()
    assert "TopSecret-4711" not in repr(account_info(account))
    assert account_info(account)["settings"]["imap"]["host"] == "imap.example.com"


def test_no_usable_backend_is_explained(swap_backend: Any) -> None:
    swap_backend(keyring.backends.fail.Keyring())
    with pytest.raises(secrets.NoKeyringError) as caught:
        secrets.set_secret(1, "imap", "x")
    assert "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring" in caught.value.user_message
    assert "No keyring service found" in caught.value.user_message
    with pytest.raises(secrets.NoKeyringError):
        secrets.get_secret(1, "imap")


def test_empty_chainer_is_refused(swap_backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    chainer = keyring.backends.chainer.ChainerBackend()
    monkeypatch.setattr(type(chainer), "backends", property(lambda self: []))
    swap_backend(chainer)
    with pytest.raises(secrets.NoKeyringError):
        secrets.check_keyring()
