"""An account's passwords: which keyring entry (``secrets.SecretRef``) and which server they may go to.

The entry is named by this profile's random id (``setting.profile_uuid``, schema v4) and the account's id, and
bound to the server of the account's settings for that purpose (IMAP or SMTP host, port and user). A secret
stored for another server is refused (``secrets.SecretBoundElsewhere``), never sent.
"""

from __future__ import annotations

import logging

from inbox_app.channels.mail import errors as mail_errors
from inbox_app.i18n import _
from inbox_app.secrets import (
    NoKeyringError,
    SecretBoundElsewhere,
    SecretRef,
    ServerBinding,
    delete_account_secrets,
    delete_secret,
    get_secret,
    migrate_legacy_secret,
    set_secret,
)
from inbox_app.store.accounts import MAIL_KIND, api_settings, list_accounts, mail_settings
from inbox_app.store.models import Account, Setting

log = logging.getLogger("inbox_app.sync")

PURPOSES = ("imap", "smtp")
#: The keyring purpose of a marketplace account's API key (bound to its base URL's host and port).
API_KEY = "api-key"
PROFILE_UUID_KEY = "profile_uuid"
MIGRATED_KEY = "keyring_names_migrated"


def profile_uuid() -> str:
    """The open profile's random id (made by schema v4)."""
    return str(Setting.get_by_id(PROFILE_UUID_KEY).value)


def secret_ref(account_id: int, purpose: str) -> SecretRef:
    return SecretRef(profile_uuid(), account_id, purpose)


def server_of(account: Account, purpose: str) -> ServerBinding:
    """The server the account's ``purpose`` password is for, from its settings."""
    settings = mail_settings(account)
    server = settings.smtp if purpose == "smtp" else settings.imap
    return ServerBinding(server.host.strip(), int(server.port), server.user)


def store_password(account: Account, purpose: str, value: str) -> None:
    set_secret(secret_ref(account.id, purpose), value, server_of(account, purpose))


def delete_passwords(account_id: int) -> None:
    from inbox_app.sync.marketplace_credentials import MARKETPLACE_PURPOSES

    delete_account_secrets(profile_uuid(), account_id, (*PURPOSES, API_KEY, *MARKETPLACE_PURPOSES))


def api_server_of(account: Account) -> ServerBinding:
    """The API host a marketplace account's key may be sent to: its base URL's host and port (the shop id, if
    any, as the user)."""
    from urllib.parse import urlsplit

    settings = api_settings(account)
    parts = urlsplit(settings.base_url.strip())
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    return ServerBinding((parts.hostname or "").lower(), port, settings.shop_id or "")


def store_api_key(account: Account, value: str) -> None:
    set_secret(secret_ref(account.id, API_KEY), value, api_server_of(account))


def api_key(account: Account) -> str | None:
    """The account's API key for the host in its settings; None when there is none (or it was stored for
    another host: never handed to a server it was not saved for)."""
    try:
        return get_secret(secret_ref(account.id, API_KEY), api_server_of(account))
    except SecretBoundElsewhere:
        log.warning("the API key of account %s is bound to another host: not used", account.id)
        return None


def account_password(account: Account | int, purpose: str) -> str:
    """The account's password for ``purpose`` ("imap"/"smtp") from the keyring, for the server in its
    settings. Raises ``LoginFailed`` when there is none, or when the stored one is for another server."""
    if not isinstance(account, Account):
        account = Account.get_by_id(account)
    server = server_of(account, purpose)
    try:
        value = get_secret(secret_ref(account.id, purpose), server)
    except SecretBoundElsewhere as exc:
        raise mail_errors.LoginFailed(
            exc.user_message,
            step="login",
            detail=f"keyring entry of account {account.id} is for another server",
        ) from exc
    if value is None:
        raise mail_errors.LoginFailed(
            _("No password is stored for this account. Enter it again in the account settings."),
            step="login",
            detail=f"no keyring entry for account {account.id} ({purpose})",
        )
    return value


def stored_password(account: Account, purpose: str) -> str:
    """The password kept for the account's current server, or "" when there is none or it belongs to another
    server (the edit form then asks for it; nothing is handed to a server it was not saved for)."""
    try:
        return get_secret(secret_ref(account.id, purpose), server_of(account, purpose)) or ""
    except SecretBoundElsewhere:
        return ""


def forget_password(account: Account, purpose: str) -> None:
    """Drop one stored password (an SMTP relay that no longer logs in keeps none)."""
    delete_secret(secret_ref(account.id, purpose))


def migrate_legacy_secrets() -> int:
    """Move keyring entries of the old shared names (``account:<id>:<purpose>``) to this profile's names,
    once per profile (``setting.keyring_names_migrated``). Without a usable keyring it is tried again at the
    next start. Returns how many entries were moved."""
    if Setting.get_or_none(Setting.key == MIGRATED_KEY) is not None:
        return 0
    moved = 0
    try:
        for account in list_accounts(MAIL_KIND):
            for purpose in PURPOSES:
                moved += migrate_legacy_secret(secret_ref(account.id, purpose), server_of(account, purpose))
    except NoKeyringError as exc:
        log.info("keyring entries not migrated yet: %s", exc)
        return moved
    Setting.insert(key=MIGRATED_KEY, value=True).on_conflict_replace().execute()
    return moved
