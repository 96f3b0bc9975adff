"""Accounts as the windows and commands see them: which exist, adding, testing, editing, removing, and the
keyring notice that concerns them.

Testing and storing an account is ``sync.account_setup``'s work (it talks to the servers and the keyring);
these functions are the way in for ``ui`` and ``cli``. Failures are :class:`AccountSetupError` (domain).
``sync.account_setup`` is imported on first use: it brings the mail protocol code, which the window's first
paint does not need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inbox_app import secrets
from inbox_app.domain.account_form import AccountForm
from inbox_app.services import settings
from inbox_app.store import accounts as store_accounts
from inbox_app.store.models import Account, Conversation

DEMO_KIND = store_accounts.DEMO_KIND
PLAINTEXT_NOTICE_SHOWN = "plaintext_keyring_notice_shown"


@dataclass(frozen=True)
class AccountSummary:
    id: int
    kind: str
    name: str
    enabled: bool


def accounts(kind: str | None = None, *, enabled_only: bool = False) -> list[AccountSummary]:
    """Accounts by id (optionally of one kind, or only the enabled ones)."""
    return [
        AccountSummary(int(a.id), str(a.kind), str(a.name), bool(a.enabled))
        for a in store_accounts.list_accounts(kind, enabled_only=enabled_only)
    ]


def account_count() -> int:
    return int(Account.select().count())


def get(account_id: int) -> AccountSummary | None:
    account = store_accounts.get_account(account_id)
    if account is None:
        return None
    return AccountSummary(int(account.id), str(account.kind), str(account.name), bool(account.enabled))


def account_infos() -> list[dict[str, Any]]:
    """JSON-ready descriptions of every account (``account list --json``; no secret is in them), each with its
    live ``state`` (what the last sync found, None before the first) — the same the window's sidebar shows, and
    "needs_reconnect" exactly when the account's settings carry the reconnect flag."""
    from inbox_app.services.account_states import live_state_json, live_states

    states = live_states()
    return [
        {**store_accounts.account_info(a), "state": live_state_json(int(a.id), states)}
        for a in store_accounts.list_accounts()
    ]


def conversation_count(account_id: int) -> int:
    """How many conversations an account holds (asked before removing it)."""
    return int(Conversation.select().where(Conversation.account == account_id).count())


async def test_account(form: AccountForm, *, timeout: float = 20) -> list[str]:
    """Log in to the servers the form names; returns the folders found. Raises ``AccountSetupError``."""
    from inbox_app.sync import account_setup

    return await account_setup.test_account(form, timeout=timeout)


def save_account(form: AccountForm) -> int:
    """Store a new account and its passwords (in the keyring); returns its id."""
    from inbox_app.sync import account_setup

    return account_setup.save_account(form)


def account_form(account_id: int) -> AccountForm:
    """The stored account as a form to edit (passwords from the keyring)."""
    from inbox_app.sync import account_setup

    return account_setup.account_form(account_id)


def update_account(account_id: int, form: AccountForm) -> int:
    """Store an edited account; returns its id."""
    from inbox_app.sync import account_setup

    return account_setup.update_account(account_id, form)


def remove_account(account_id: int, *, delete_conversations: bool) -> int:
    """Remove an account and its passwords; returns how many conversations were deleted."""
    from inbox_app.sync import account_setup

    return account_setup.remove_account(account_id, delete_conversations=delete_conversations)


def plaintext_keyring_notice_due() -> bool:
    """Whether to show "passwords are in a plain file" now; True only once per profile (it is remembered).

    Due when the keyring backend is a plain file, there is an account with a password (the demo has none) and
    the notice was not shown before.
    """
    real_accounts = Account.select().where(Account.kind != DEMO_KIND).count()
    if not secrets.backend_is_plaintext() or real_accounts == 0:
        return False
    if settings.is_set(PLAINTEXT_NOTICE_SHOWN):
        return False
    settings.remember(PLAINTEXT_NOTICE_SHOWN)
    return True


def plaintext_warning() -> str:
    """The explanation shown when passwords are kept in a plain file (translated)."""
    return secrets.plaintext_warning()
