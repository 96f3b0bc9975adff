"""Each account's live state in the real window, driven by the app's own engine over the Mirakl sandbox on
127.0.0.1: up to date after the sync, offline while the sandbox is down, "needs reconnect" when the key is
revoked (401), up to date again after a refresh once the key works — in the status bar, the sidebar entry and the Accounts menu, and
kept for a fresh window and the command line."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from inbox_app.app import Gui
from inbox_app.domain.account_state import AccountPhase
from inbox_app.profile import open_profile
from inbox_app.services.account_states import live_state_json
from inbox_app.sync.ownership import ProfileLock
from tests.servers.mirakl import MiraklSandbox
from tests.ui.real_app import run_real_app
from tests.ui.test_real_window_keyboard import press, wait_ready
from tests.ui.test_real_window_mirakl import add_account

ACCOUNT_ID = 1  # the first account of a fresh profile


def _phase(gui: Gui) -> AccountPhase | None:
    state = gui.controller.account_state(ACCOUNT_ID)
    return None if state is None else state.phase


def _stored_phase(profile: Path) -> str:
    with sqlite3.connect(f"file:{profile / 'inbox.sqlite3'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT cursor FROM sync_state WHERE account_id = ? AND key = '~account_state'", (ACCOUNT_ID,)
        ).fetchone()
    return str(json.loads(row[0])["phase"]) if row else ""


def test_an_account_shows_up_to_date_offline_needs_reconnect_and_back(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    seen: dict[str, str] = {}
    with MiraklSandbox(operator_name="Fnac ES") as sandbox:
        thread = sandbox.add_thread(topic="Colis abîmé", customer_name="Lucía Pérez")
        sandbox.add_message(thread.id, "Mi paquete llegó roto.")
        add_account(path, sandbox)

        def scenario(gui: Gui) -> None:
            window = gui.window
            qtbot.waitUntil(lambda: _phase(gui) is AccountPhase.UP_TO_DATE, timeout=30_000)
            wait_ready(qtbot, gui)
            seen["up_to_date_bar"] = window.sync_label.text()
            seen["up_to_date_entry"] = window.sidebar.account_entry_text(ACCOUNT_ID)

            sandbox.stop_serving()  # the marketplace is down: connections are refused
            press(Qt.Key.Key_F5)  # View ▸ Refresh: sync now
            qtbot.waitUntil(lambda: _phase(gui) is AccountPhase.OFFLINE, timeout=60_000)
            seen["offline_bar"] = window.sync_label.text()
            seen["offline_entry"] = window.sidebar.account_entry_text(ACCOUNT_ID)
            window.accounts_menu.aboutToShow.emit()
            seen["offline_menu"] = window.accounts_menu.actions()[0].text()

            sandbox.revoke_key()
            sandbox.serve_again()
            press(Qt.Key.Key_F5)
            qtbot.waitUntil(lambda: _phase(gui) is AccountPhase.NEEDS_RECONNECT, timeout=60_000)
            seen["reconnect_entry"] = window.sidebar.account_entry_text(ACCOUNT_ID)
            seen["reconnect_bar"] = window.sync_label.text()
            qtbot.waitUntil(lambda: _stored_phase(path) == "needs_reconnect", timeout=10_000)

            # One line for it, the reconnect banner's (the generic Retry line would not help)
            qtbot.waitUntil(lambda: ACCOUNT_ID in window.reconnect_banner.accounts(), timeout=10_000)

            # Looked up on each check: the banner rebuilds its line, deleting the button found a moment ago.
            def no_retry_line() -> bool:
                retry = window.account_banner.findChild(QPushButton, f"retryAccount_{ACCOUNT_ID}")
                return retry is None or not retry.isVisible()

            qtbot.waitUntil(no_retry_line, timeout=10_000)

            sandbox.revoked = False  # the seller fixed the key at the operator's back office
            press(Qt.Key.Key_F5)
            qtbot.waitUntil(lambda: _phase(gui) is AccountPhase.UP_TO_DATE, timeout=60_000)
            qtbot.waitUntil(lambda: ACCOUNT_ID not in window.reconnect_banner.accounts(), timeout=10_000)
            seen["back_entry"] = window.sidebar.account_entry_text(ACCOUNT_ID)
            qtbot.waitUntil(lambda: _stored_phase(path) == "up_to_date", timeout=10_000)

        run_real_app(path, scenario)

        # A second copy of the app syncs this profile (it holds the lock): a fresh window shows the state the
        # last sync stored, in the status bar, before (and without) any round of its own.
        other_copy = ProfileLock(path)
        assert other_copy.acquire()
        try:

            def fresh(gui: Gui) -> None:
                qtbot.waitUntil(lambda: _phase(gui) is not None, timeout=10_000)
                seen["fresh_phase"] = str(_phase(gui))
                seen["fresh_bar"] = gui.window.sync_label.text()

            run_real_app(path, fresh)
        finally:
            other_copy.release()

    profile = open_profile(path)
    try:
        stored = live_state_json(ACCOUNT_ID)
    finally:
        profile.close()
    assert stored is not None and stored["state"] == "up_to_date" and stored["label"] == "up to date"
    assert seen["fresh_phase"] == "up_to_date" and "Fnac ES: up to date" in seen["fresh_bar"]
    assert "Fnac ES: up to date" in seen["up_to_date_bar"]
    assert seen["up_to_date_entry"] == "Fnac ES"
    assert "Fnac ES: offline" in seen["offline_bar"]
    assert seen["offline_entry"] == "Fnac ES · offline"
    assert seen["offline_menu"] == "Fnac ES — offline"
    assert seen["reconnect_entry"] == "Fnac ES · needs reconnect"
    assert "Fnac ES: needs reconnect" in seen["reconnect_bar"]
    assert seen["back_entry"] == "Fnac ES"
