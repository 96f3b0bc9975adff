"""The last live state of each account (up to date, syncing, offline, needs reconnect), kept across restarts.

Stored as one ``sync_state`` row per account under :data:`ACCOUNT_STATE_KEY` (the table that already holds
each account's cursors), so a fresh window and ``account list --json`` show what the last sync found before
the engine's first round. Written by the sync engine on its database worker; read by the services.
"""

from __future__ import annotations

from datetime import datetime

from inbox_app.domain.account_state import AccountState
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


def read_account_states() -> dict[int, AccountState]:
    """Account id → its last stored state (accounts never synced are missing)."""
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
