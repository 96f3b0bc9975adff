"""The first-run screen's "Start the live demo" in the real window: the marketplace sandboxes start behind the
window (the UI keeps answering), one account per marketplace is added, the app's engine syncs their
conversations into the list, and the sandboxes stop when the app quits."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from inbox_app.app import Gui
from inbox_app.services.live_demo import LIVE_DEMO_NAMES
from tests.ui.real_app import cli, run_real_app


def _refused(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=2):
            return False
    except OSError:
        return True


def test_the_live_demo_checkbox_starts_the_sandboxes_and_syncs_them(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        window = gui.window
        qtbot.waitUntil(window.is_empty_state)
        check = window.empty_state.live_demo_check
        QTest.mouseClick(check, Qt.MouseButton.LeftButton, pos=check.rect().center())
        seen["checked_at_once"] = check.isChecked() and not check.isEnabled()
        seen["while_starting"] = window.empty_state.live_demo_status.text()
        # the UI thread is free meanwhile: typing in the search field is handled at once
        window.search.setFocus()
        QTest.keyClicks(window.search, "x")
        seen["typed"] = window.search.text()
        QTest.keyClick(window.search, Qt.Key.Key_Backspace)
        qtbot.waitUntil(lambda: "Live demo:" in window.empty_state.live_demo_status.text(), timeout=60_000)
        seen["started"] = window.empty_state.live_demo_status.text()
        listing = window.conversation_list
        qtbot.waitUntil(
            lambda: (
                not window.is_empty_state()
                and listing.conversation_model() is not None
                and listing.conversation_model().rowCount() >= 4
            ),
            timeout=90_000,
        )
        seen["rows"] = listing.conversation_model().rowCount()

    run_real_app(path, scenario)
    assert seen["checked_at_once"] is True
    assert seen["while_starting"] == "Starting the marketplace sandboxes on this computer…"
    assert seen["typed"] == "x"
    for name in LIVE_DEMO_NAMES:
        assert name in str(seen["started"])
    accounts = json.loads(cli(path, "account", "list", "--json").stdout)
    assert sorted(a["name"] for a in accounts) == sorted(LIVE_DEMO_NAMES)
    # the app quit: its sandboxes stopped with it
    assert all(_refused(a["settings"]["base_url"]) for a in accounts)
