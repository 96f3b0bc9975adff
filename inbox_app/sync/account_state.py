"""Each account's live state (up to date / syncing n of m / offline / needs reconnect), derived from the change
events the syncs already publish, announced as ``account_state`` events and kept in the store.

Why derived from events rather than set by each sync: mail (IDLE loop) and the marketplaces (cursor loop) already
say what happens to an account — ``sync_started``, ``progress``, ``online``, ``offline``, ``needs_reconnect``,
``error`` — so one tracker turns that into one state per account for every kind, and nothing in the loops needs
to know who shows it. An ``error`` right after ``offline`` or ``needs_reconnect`` with the same message is the
same failure told twice and keeps the more precise state.

The last state of each account is written on the sync's database worker (never on the UI thread), so a fresh
window and ``inbox-app account list --json`` show it; progress is written at most once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from inbox_app.domain.account_state import AccountPhase, AccountState
from inbox_app.store.account_states import write_account_state
from inbox_app.store.models import utcnow
from inbox_app.sync.db_worker import run_db
from inbox_app.sync.events import ChangeBus, ChangeEvent

log = logging.getLogger("inbox_app.sync")

#: The event kind the tracker publishes; ``progress`` holds (phase, done, total or 0), ``message`` the problem.
ACCOUNT_STATE = "account_state"
PROGRESS_WRITE_INTERVAL = 1.0  # s between two stored "syncing n of m" of one account


def state_of_event(event: ChangeEvent) -> AccountState | None:
    """The state an ``account_state`` event carries (for whoever listens: the window, tests)."""
    if event.kind != ACCOUNT_STATE or event.account_id is None or event.progress is None:
        return None
    phase, done, total = event.progress
    return AccountState(
        event.account_id,
        AccountPhase(phase),
        utcnow(),
        done if phase == AccountPhase.SYNCING else None,
        total or None if phase == AccountPhase.SYNCING else None,
        event.message,
    )


class AccountStateTracker:
    """Subscribed to the engine's bus from construction until :meth:`close`; see the module docstring."""

    def __init__(self, bus: ChangeBus, write: Callable[[AccountState], None] = write_account_state) -> None:
        self.bus = bus
        self._write = write
        self.states: dict[int, AccountState] = {}
        self._written_at: dict[int, float] = {}
        self._writes: set[asyncio.Future[None]] = set()
        self._unsubscribe = bus.subscribe(self._on_event)

    def _next(self, event: ChangeEvent, current: AccountState | None) -> AccountState | None:
        account_id = event.account_id
        assert account_id is not None
        kind = event.kind
        if kind == "sync_started":
            return AccountState(account_id, AccountPhase.SYNCING, utcnow(), 0)
        if kind == "progress" and event.progress is not None:
            _phase, done, total = event.progress
            return AccountState(account_id, AccountPhase.SYNCING, utcnow(), done, total or None)
        if kind == "online":
            return AccountState(account_id, AccountPhase.UP_TO_DATE, utcnow())
        if kind == "offline":
            return AccountState(account_id, AccountPhase.OFFLINE, utcnow(), message=event.message)
        if kind == "needs_reconnect":
            return AccountState(account_id, AccountPhase.NEEDS_RECONNECT, utcnow(), message=event.message)
        if kind == "error":
            if (
                current is not None
                and current.phase in (AccountPhase.OFFLINE, AccountPhase.NEEDS_RECONNECT)
                and current.message == event.message
            ):
                return None
            return AccountState(account_id, AccountPhase.FAILED, utcnow(), message=event.message)
        return None

    def _on_event(self, event: ChangeEvent) -> None:
        if event.account_id is None or event.kind == ACCOUNT_STATE:
            return
        current = self.states.get(event.account_id)
        state = self._next(event, current)
        if state is None or (current is not None and _same(current, state)):
            return
        self.states[state.account_id] = state
        self.bus.publish(
            ChangeEvent(
                ACCOUNT_STATE,
                frozenset(),
                state.account_id,
                state.message,
                (state.phase.value, state.done or 0, state.total or 0),
            )
        )
        now = time.monotonic()
        if (
            current is not None
            and current.phase is AccountPhase.SYNCING
            and state.phase is AccountPhase.SYNCING
            and now - self._written_at.get(state.account_id, 0.0) < PROGRESS_WRITE_INTERVAL
        ):
            return
        self._written_at[state.account_id] = now
        self._store(state)

    def _store(self, state: AccountState) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # published outside the event loop (a test, a thread): write here
            self._write_logged(state)
            return
        future = asyncio.ensure_future(run_db(self._write_logged, state), loop=loop)
        self._writes.add(future)
        future.add_done_callback(self._writes.discard)

    def _write_logged(self, state: AccountState) -> None:
        try:
            self._write(state)
        except Exception as exc:  # a busy or full database: the state shows anyway, the next one is stored
            log.warning("could not store the state of account %s: %s", state.account_id, exc)

    async def flush(self) -> None:
        """Wait until every state published so far is stored (before the database worker closes)."""
        if self._writes:
            with contextlib.suppress(Exception):
                await asyncio.gather(*list(self._writes), return_exceptions=True)

    def close(self) -> None:
        self._unsubscribe()


def _same(a: AccountState, b: AccountState) -> bool:
    return (a.phase, a.done, a.total, a.message) == (b.phase, b.done, b.total, b.message)
