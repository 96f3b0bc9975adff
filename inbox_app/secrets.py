"""Passwords and tokens, kept in the operating system's keyring and nowhere else.

Why a keyring: the database is a plain file that gets backed up, copied and attached to bug reports; a secret
there leaks with it. The keyring (Secret Service on Linux, Keychain on macOS, Credential Locker on Windows)
keeps it encrypted under the user's login. Entries are named service ``inbox-app``, username
``profile:<profile uuid>:account:<id>:<purpose>`` (purpose: "imap", "smtp", "oauth-refresh"…; see
:class:`SecretRef`): the profile's random id keeps two profiles of one user apart (entries once named only
``account:<id>:<purpose>`` were shared by "account 1" of every profile, so one profile's password overwrote
another's; :func:`migrate_legacy_secret` moves such an entry to its new name).

Each entry also records the server it is for (host, port, user: :class:`ServerBinding`), and
:func:`get_secret` refuses to hand it out for any other server: a password is never sent to a server other
than the one it was stored for, whatever the account's settings say by now.

A headless machine (a server running ``inbox-app sync --once`` from cron) often has no keyring daemon; rather
than fail with keyring's own terse error we say what to do, including the plain-file backend of
``keyrings.alt`` for people who accept that trade-off. Secret values are never logged.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

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


class SecretBoundElsewhere(NoKeyringError):
    """The stored secret was stored for another server than the one it is asked for: not handed out."""


@dataclass(frozen=True)
class SecretRef:
    """Which secret: of which profile (its random id), which account, for what."""

    profile: str
    account_id: int
    purpose: str

    @property
    def username(self) -> str:
        return f"profile:{self.profile}:account:{int(self.account_id)}:{self.purpose}"

    @property
    def legacy_username(self) -> str:
        """The name before entries were per profile (shared by every profile's account of that id)."""
        return f"account:{int(self.account_id)}:{self.purpose}"


@dataclass(frozen=True)
class ServerBinding:
    """The server a secret may be sent to."""

    host: str
    port: int
    user: str

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


_FORMAT = "inbox-app-secret/1"


def _encode(value: str, server: ServerBinding) -> str:
    return json.dumps(
        {
            "format": _FORMAT,
            "host": server.host.lower(),
            "port": server.port,
            "user": server.user,
            "secret": value,
        }
    )


def _decode(stored: str) -> tuple[str, ServerBinding | None]:
    """(secret, the server it is bound to); a value not in our format is an unbound secret."""
    try:
        data = json.loads(stored)
    except ValueError:
        return stored, None
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return stored, None
    return str(data["secret"]), ServerBinding(str(data["host"]), int(data["port"]), str(data["user"]))


def _same_server(a: ServerBinding, b: ServerBinding) -> bool:
    return (a.host.lower(), a.port, a.user) == (b.host.lower(), b.port, b.user)


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


def _read(username: str) -> str | None:
    backend = _backend()
    try:
        return backend.get_password(SERVICE, username)
    except keyring.errors.KeyringError as exc:
        raise NoKeyringError(
            _("The keyring could not be read: {error}").format(error=type(exc).__name__)
        ) from exc


def _write(username: str, value: str) -> None:
    backend = _backend()
    try:
        backend.set_password(SERVICE, username, value)
    except keyring.errors.KeyringError as exc:
        raise NoKeyringError(
            _("The keyring refused to store the password: {error}").format(error=type(exc).__name__)
        ) from exc


def _delete(username: str) -> bool:
    backend = _backend()
    try:
        backend.delete_password(SERVICE, username)
    except keyring.errors.PasswordDeleteError:
        return False
    return True


def set_secret(ref: SecretRef, value: str, server: ServerBinding) -> None:
    """Store ``value`` for ``ref``, usable only with ``server``."""
    _write(ref.username, _encode(value, server))


def get_secret(ref: SecretRef, server: ServerBinding) -> str | None:
    """The stored secret, or None when there is none (the account must then ask for it again).

    Raises :class:`SecretBoundElsewhere` when it was stored for another server (or without one): it is not
    handed out, so it cannot be sent anywhere it was not meant for."""
    stored = _read(ref.username)
    if stored is None:
        return None
    value, bound = _decode(stored)
    if bound is None or not _same_server(bound, server):
        log.warning(
            "keyring entry %s is for %s, not %s: not used",
            ref.username,
            bound.describe() if bound else "no recorded server",
            server.describe(),
        )
        raise SecretBoundElsewhere(
            _(
                "The stored password was saved for another server than {server}, so it is not sent there. "
                "Enter the password for this server again in the account settings."
            ).format(server=server.describe())
        )
    return value


def delete_secret(ref: SecretRef) -> bool:
    """Remove one secret; False when it was not there."""
    return _delete(ref.username)


def delete_account_secrets(
    profile: str, account_id: int, purposes: tuple[str, ...] = ("imap", "smtp")
) -> None:
    for purpose in purposes:
        delete_secret(SecretRef(profile, account_id, purpose))


def migrate_legacy_secret(ref: SecretRef, server: ServerBinding) -> bool:
    """Move an entry of the old, profile-less name to ``ref``'s name, bound to ``server`` (the account's server
    now). The old entry is deleted only once the new one reads back equal; an existing new entry is never
    overwritten. True when an entry was moved.

    The old name was shared by every profile, so the first profile opened takes it: the others ask for
    their password again, and a wrong one can only be sent to this account's own server, once."""
    old = _read(ref.legacy_username)
    if old is None or _read(ref.username) is not None:
        return False
    set_secret(ref, old, server)
    if get_secret(ref, server) != old:
        log.warning("keyring entry %s did not read back: the old entry is kept", ref.username)
        return False
    _delete(ref.legacy_username)
    log.info("keyring entry %s moved to %s", ref.legacy_username, ref.username)
    return True


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
