"""Each account's live state for the window and the command line: up to date, syncing n of m, offline, needs
reconnect (see ``domain.account_state``).

The engine announces every change as an ``account_state`` change event (:func:`state_of_event` reads it) and
keeps the last state per account in the store (:func:`live_states`), so a window that opens, or
``inbox-app account list --json``, shows what the last sync found.
"""

from __future__ import annotations

from typing import Any

from inbox_app.domain.account_state import AccountPhase, AccountState
from inbox_app.store.account_states import read_account_states
from inbox_app.sync.account_state import ACCOUNT_STATE, state_of_event

__all__ = [
    "ACCOUNT_STATE",
    "AccountPhase",
    "AccountState",
    "live_state_json",
    "live_states",
    "state_of_event",
]


def live_states() -> dict[int, AccountState]:
    """Account id → its last known state (an account that never synced is missing)."""
    return read_account_states()


def live_state_json(account_id: int, states: dict[int, AccountState] | None = None) -> dict[str, Any] | None:
    """The ``state`` entry of ``account list --json`` for one account (None: never synced). Pass
    ``states`` (from :func:`live_states`) when describing many accounts: one query for all."""
    state = (states if states is not None else live_states()).get(account_id)
    return None if state is None else state.as_json()
