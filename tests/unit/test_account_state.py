"""The account state tracker: what each sequence of the engine's events makes of an account, and that the last
state is stored for a fresh window and ``account list --json``."""

from __future__ import annotations

from inbox_app.domain.account_state import AccountPhase, AccountState
from inbox_app.services.account_states import live_state_json, live_states, state_of_event
from inbox_app.store.account_states import write_account_state
from inbox_app.store.accounts import ApiAccountSettings, create_api_account, set_needs_reconnect
from inbox_app.sync.account_state import ACCOUNT_STATE, AccountStateTracker
from inbox_app.sync.events import ChangeBus, ChangeEvent


def _run(events: list[ChangeEvent]) -> tuple[list[AccountState], list[AccountState]]:
    bus = ChangeBus()
    written: list[AccountState] = []
    tracker = AccountStateTracker(bus, write=written.append)
    shown: list[AccountState] = []

    def listen(event: ChangeEvent) -> None:
        state = state_of_event(event)
        if state is not None:
            shown.append(state)

    bus.subscribe(listen)
    for event in events:
        bus.publish(event)
    tracker.close()
    return shown, written


def test_a_listing_with_a_total_reads_syncing_n_of_m_then_up_to_date() -> None:
    shown, written = _run(
        [
            ChangeEvent("sync_started", account_id=3),
            ChangeEvent("progress", account_id=3, progress=("threads", 40, 120)),
            ChangeEvent("progress", account_id=3, progress=("threads", 80, 120)),
            ChangeEvent("online", account_id=3),
        ]
    )
    assert [s.label() for s in shown] == ["syncing…", "syncing 40 of 120", "syncing 80 of 120", "up to date"]
    # progress is stored at most once a second; the outcome always
    assert [s.phase for s in written] == [AccountPhase.SYNCING, AccountPhase.UP_TO_DATE]


def test_the_same_failure_told_twice_keeps_the_precise_state() -> None:
    refused = "Fnac ES refused the key. Reconnect this account."
    down = "Fnac ES cannot be reached right now."
    shown, _written = _run(
        [
            ChangeEvent("needs_reconnect", account_id=1, message=refused),
            ChangeEvent("error", account_id=1, message=refused),
            ChangeEvent("sync_started", account_id=2),
            ChangeEvent("error", account_id=2, message=down),
            ChangeEvent("offline", account_id=2, message=down),
            ChangeEvent("error", account_id=2, message="Fnac ES asks to slow down."),
        ]
    )
    assert [(s.account_id, s.phase) for s in shown] == [
        (1, AccountPhase.NEEDS_RECONNECT),
        (2, AccountPhase.SYNCING),
        (2, AccountPhase.FAILED),
        (2, AccountPhase.OFFLINE),
        (2, AccountPhase.FAILED),
    ]
    assert shown[0].message == refused and shown[0].in_trouble


def test_events_without_an_account_or_of_other_kinds_change_no_state() -> None:
    shown, written = _run(
        [
            ChangeEvent("sync_started"),
            ChangeEvent("conversations", frozenset({1}), 4),
            ChangeEvent(ACCOUNT_STATE, account_id=4, progress=("offline", 0, 0)),
        ]
    )
    assert written == [] and [s.phase for s in shown] == [AccountPhase.OFFLINE]  # only the one published


def test_the_last_state_is_stored_and_read_back_as_json(profile: object) -> None:
    account = create_api_account("mirakl", "Fnac ES", ApiAccountSettings(base_url="https://x.example"))
    bus = ChangeBus()
    AccountStateTracker(bus)  # the store's own writer (no event loop: written at once)
    set_needs_reconnect(account.id, "The key was refused.")  # what the sync does before it tells
    bus.publish(ChangeEvent("needs_reconnect", account_id=account.id, message="The key was refused."))
    bus.publish(ChangeEvent("needs_reconnect", account_id=999, message="an account removed meanwhile"))
    assert set(live_states()) == {account.id}
    assert live_state_json(account.id) == {
        "state": "needs_reconnect",
        "label": "needs reconnect",
        "since": live_states()[account.id].at.isoformat(),  # type: ignore[union-attr]
        "done": None,
        "total": None,
        "message": "The key was refused.",
    }
    set_needs_reconnect(account.id, None)  # a round that went through clears the flag, then says "online"
    bus.publish(ChangeEvent("online", account_id=account.id))
    assert live_states()[account.id].phase is AccountPhase.UP_TO_DATE


def test_the_reconnect_flag_and_the_stored_state_cannot_disagree(profile: object) -> None:
    """The banner reads the flag, the sidebar and ``account list --json`` the stored state: setting the flag
    stores "needs reconnect", clearing it (a reconnect, an edit) drops it, and a stored state written past
    the flag (a late write of a killed sync) gives way to the flag."""
    account = create_api_account("ebay", "eBay DE", ApiAccountSettings(base_url="https://x.example"))
    set_needs_reconnect(account.id, "Reconnect eBay.")
    assert live_state_json(account.id)["state"] == "needs_reconnect"  # type: ignore[index]
    set_needs_reconnect(account.id, None)
    assert live_state_json(account.id) is None

    write_account_state(AccountState(account.id, AccountPhase.NEEDS_RECONNECT, message="Reconnect eBay."))
    assert live_state_json(account.id) is None  # no flag: signed in again since
    set_needs_reconnect(account.id, "Reconnect eBay.")
    write_account_state(AccountState(account.id, AccountPhase.UP_TO_DATE))
    state = live_states()[account.id]
    assert (state.phase, state.message) == (AccountPhase.NEEDS_RECONNECT, "Reconnect eBay.")
