"""Passwords and tokens, kept in the operating system's keyring and nowhere else.

Why a keyring: the database is a plain file that gets backed up, copied and attached to bug reports; a secret
there leaks with it. The keyring (Secret Service on Linux, Keychain on macOS, Credential Locker on Windows)
keeps it encrypted under the user's login. Entries are named service ``inbox-app``, username
``account:<id>:<purpose>`` (purpose: "imap", "smtp", "oauth-refresh"…), so one account's secrets can be found
and removed together.

A headless machine (a server running ``inbox-app sync --once`` from cron) often has no keyring daemon; rather
than fail with keyring's own terse error we say what to do, including the plain-file backend of
``keyrings.alt`` for people who accept that trade-off. Secret values are never logged.
"""

from __future__ import annotations

import logging

import keyring
import keyring.backend
import keyring.errors

from inbox_app.i18n import _

log = logging.getLogger("inbox_app.secrets")

SERVICE = "inbox-app"


class NoKeyringError(RuntimeError):
    """No usable keyring backend: secrets cannot be stored or read. ``user_message`` says how to fix it."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def _username(account_id: int, purpose: str) -> str:
    return f"account:{int(account_id)}:{purpose}"


def _backend() -> keyring.backend.KeyringBackend:
    """The active backend, refusing the "fail" backend and an empty chainer with a plain explanation."""
    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    usable = True
    if name.startswith("keyring.backends.fail"):
        usable = False
    elif name.startswith("keyring.backends.chainer"):
        usable = bool(getattr(backend, "backends", ()))
    elif name.startswith("keyring.backends.null"):
        usable = False
    if not usable:
        raise NoKeyringError(
            _(
                "No keyring service found on this machine ({backend}). Install/start one (for example "
                "GNOME Keyring or KWallet), or set PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring "
                "for a headless machine (the password is then kept in a plain file in your home folder)."
            ).format(backend=name)
        )
    return backend


def check_keyring() -> None:
    """Raise :class:`NoKeyringError` now, before asking the user for a password we could not keep."""
    _backend()


def set_secret(account_id: int, purpose: str, value: str) -> None:
    backend = _backend()
    try:
        backend.set_password(SERVICE, _username(account_id, purpose), value)
    except keyring.errors.KeyringError as exc:
        raise NoKeyringError(
            _("The keyring refused to store the password: {error}").format(error=type(exc).__name__)
        ) from exc


def get_secret(account_id: int, purpose: str) -> str | None:
    """The stored secret, or None when there is none (the account must then ask for it again)."""
    backend = _backend()
    try:
        return backend.get_password(SERVICE, _username(account_id, purpose))
    except keyring.errors.KeyringError as exc:
        raise NoKeyringError(
            _("The keyring could not be read: {error}").format(error=type(exc).__name__)
        ) from exc


def delete_secret(account_id: int, purpose: str) -> bool:
    """Remove one secret; False when it was not there."""
    backend = _backend()
    try:
        backend.delete_password(SERVICE, _username(account_id, purpose))
    except keyring.errors.PasswordDeleteError:
        return False
    return True


def delete_account_secrets(account_id: int, purposes: tuple[str, ...] = ("imap", "smtp")) -> None:
    for purpose in purposes:
        delete_secret(account_id, purpose)


# ------------------------------------------------------------------------------------------- plain-text backends
def backend_is_plaintext() -> bool:
    """True when secrets would land in a file anyone who can read the user's files can read.

    keyring picks keyrings.alt's ``PlaintextKeyring`` by itself when no keyring service runs (a headless
    machine, a minimal desktop), and stores passwords there without a word; callers use this to say so once.
    """
    backend = keyring.get_keyring()
    chain = getattr(backend, "backends", None)
    if chain:  # the chainer writes to its first (highest-priority) backend
        backend = chain[0]
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    return name.startswith("keyrings.alt.") and "Plaintext" in type(backend).__name__


def plaintext_file() -> str:
    """Where a plain-text backend keeps the secrets ("" when unknown)."""
    backend = keyring.get_keyring()
    chain = getattr(backend, "backends", None)
    if chain:
        backend = chain[0]
    return str(getattr(backend, "file_path", "") or "")


def plaintext_warning() -> str:
    """The sentence that tells the user their password is in a plain file, and how to avoid it."""
    return _(
        "No keyring service was found, so passwords are stored in a plain text file ({path}): anyone who can "
        "read your files can read them. Install and start a keyring (for example GNOME Keyring or KWallet) "
        "to keep them encrypted."
    ).format(path=plaintext_file() or "keyrings.alt")
