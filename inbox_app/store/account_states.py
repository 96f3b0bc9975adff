"""The last live state of each account (up to date, syncing, offline, needs reconnect), kept across restarts.

Stored as one ``sync_state`` row per account under :data:`ACCOUNT_STATE_KEY` (the table that already holds
each account's cursors), so a fresh window and ``account list --json`` show what the last sync found before
the engine's first round. Written by the sync engine on its database worker; read by the services.

"Needs reconnect" has one source of truth: the marketplace account's flag in its settings
(``store.accounts.set_needs_reconnect``, what the reconnect banner reads). Setting or clearing the flag writes or
drops the stored "needs reconnect" state too, and :func:`read_account_states` takes the flag's word over a stored
state, so the sidebar, the banner and ``account list --json`` can never disagree (also for a state written by an
older version, or by a sync that was killed before it could store its next state).
"""

from __future__ import annotations

from datetime import datetime

from inbox_app.domain.account_state import AccountPhase, AccountState
from inbox_app.store.accounts import DEMO_KIND, MAIL_KIND, NEEDS_RECONNECT_KEY
from inbox_app.store.models import Account, SyncState, from_db_time, to_db_time, utcnow

#: ``SyncState.key`` of the row holding an account's live state (no IMAP folder or listing uses it).
ACCOUNT_STATE_KEY = "~account_state"


def write_account_state(state: AccountState) -> None:
    """Keep ``state`` as the account's last one (an account removed meanwhile is skipped)."""
    record = {**state.to_record(), "at": to_db_time(state.at or utcnow())}
    if not Account.select().where(Account.id == state.account_id).exists():
        return
    SyncState.insert(account=state.account_id, key=ACCOUNT_STATE_KEY, cursor=record).on_conflict(
        conflict_target=[SyncState.account, SyncState.key], update={SyncState.cursor: record}
    ).execute()


def mark_reconnect_state(account_id: int, message: str | None) -> None:
    """Keep the stored state in step with the account's "needs reconnect" flag: ``message`` stores "needs
    reconnect", None drops a stored "needs reconnect" (the account was signed in again: nothing is known until
    its next sync)."""
    if message is not None:
        write_account_state(AccountState(account_id, AccountPhase.NEEDS_RECONNECT, utcnow(), message=message))
        return
    for row in SyncState.select().where(
        (SyncState.account == account_id) & (SyncState.key == ACCOUNT_STATE_KEY)
    ):
        if dict(row.cursor or {}).get("phase") == AccountPhase.NEEDS_RECONNECT.value:
            row.delete_instance()


def read_account_states() -> dict[int, AccountState]:
    """Account id → its last stored state (accounts never synced are missing), reconciled with each
    marketplace account's "needs reconnect" flag (see the module docstring)."""
    found = _stored_states()
    for account in Account.select(Account.id, Account.kind, Account.settings):
        if account.kind in (MAIL_KIND, DEMO_KIND):  # mail keeps no flag: its stored state is its only word
            continue
        flag = (account.settings or {}).get(NEEDS_RECONNECT_KEY)
        state = found.get(account.id)
        if flag and (state is None or state.phase is not AccountPhase.NEEDS_RECONNECT):
            at = state.at if state is not None else None
            found[account.id] = AccountState(account.id, AccountPhase.NEEDS_RECONNECT, at, message=str(flag))
        elif not flag and state is not None and state.phase is AccountPhase.NEEDS_RECONNECT:
            del found[account.id]  # signed in again since: its next sync tells
    return found


def _stored_states() -> dict[int, AccountState]:
    found: dict[int, AccountState] = {}
    for row in SyncState.select().where(SyncState.key == ACCOUNT_STATE_KEY):
        record = dict(row.cursor or {})
        at: datetime | None = None
        raw_at = record.get("at")
        if isinstance(raw_at, str):
            try:
                at = from_db_time(raw_at.removesuffix("Z"))
            except ValueError:
                at = None
        state = AccountState.from_record(int(row.account_id), record, at)
        if state is not None:
            found[state.account_id] = state
    return found
