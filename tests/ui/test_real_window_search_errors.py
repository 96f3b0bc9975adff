"""Malformed searches typed into the real window's box (real key events, the app's own loop): each is explained
under the box in a sentence, the list keeps what it showed, and correcting the text clears the message."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from inbox_app.app import Gui
from tests.ui.real_app import make_demo_profile, run_real_app
from tests.ui.test_real_window_keyboard import focused, wait_ready

CASES = [
    ('"no ha llegado', "A quote is not closed"),
    ("before:2026-02-30", "“2026-02-30” is not a date for before:"),
    ("before:0001-01-01", None),  # a real day: answered (or explained), never an exception in the window
    ("status:lost", "Unknown status “lost”"),
    ("is:starred", "Unknown is:starred"),
    ("colour:red", "Unknown filter “colour:”"),
    ("NEAR(a b) OR (", None),  # FTS syntax is taken as words, not passed to the database
]


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("search-errors") / "profile"
    make_demo_profile(path, count=12)
    return path


def test_malformed_queries_are_explained_under_the_box(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, tuple[bool, str, bool]] = {}

    def scenario(gui: Gui) -> None:
        window = gui.window
        wait_ready(qtbot, gui)
        before = list(gui.controller.model.ids())
        QTest.keyClick(focused(), Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: QApplication.focusWidget() is window.search)
        for text, expected in CASES:
            QTest.keyClick(window.search, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
            QTest.keyClick(window.search, Qt.Key.Key_Delete)
            qtbot.waitUntil(
                lambda: not window.search_error.isVisible() and list(gui.controller.model.ids()) == before
            )
            QTest.keyClicks(window.search, text)
            if expected is not None:
                qtbot.waitUntil(window.search_error.isVisible)
            else:
                qtbot.waitUntil(lambda: not gui.controller.runner.busy())
            seen[text] = (
                window.search_error.isVisible(),
                window.search_error.text(),
                list(gui.controller.model.ids()) == before,
            )
            if text == CASES[0][0]:
                window.grab().save(str(demo_profile.parent / "search-error.png"))
            popup = window.search_completer.popup()
            if popup.isVisible():
                QTest.keyClick(popup, Qt.Key.Key_Escape)
                window.activateWindow()
                qtbot.waitUntil(lambda: QApplication.focusWidget() is window.search)

    run_real_app(demo_profile, scenario)
    for text, expected in CASES:
        visible, message, kept = seen[text]
        if expected is None:
            assert "database" not in message.lower() and "sqlite" not in message.lower(), (text, message)
            continue
        assert visible and expected in message, (text, message)
        assert kept, f"{text!r}: the list keeps what it showed"
        assert "sqlite" not in message.lower() and "Traceback" not in message
