"""Searching in the real window (``open_gui`` + the app's loop) with real key and mouse events: a malformed
query explained under the box, filters with results as you type, and a search saved to the sidebar."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from inbox_app.app import Gui
from inbox_app.domain.views import View, ViewKind
from inbox_app.profile import open_profile
from inbox_app.services import search
from inbox_app.ui import controller as controller_module
from tests.ui.real_app import make_demo_profile, run_real_app

QUERY = "status:open -channel:ebay is:unread"
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def demo_profile(tmp_path: Path) -> Path:
    path = tmp_path / "profile"
    make_demo_profile(path, count=40)
    return path


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None, "nothing has the keyboard focus"
    return widget


def listed(gui: Gui) -> list[int]:
    return list(gui.controller.model.ids())


def test_typing_filters_shows_errors_inline_and_saves_a_search(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        window = gui.window
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        qtbot.waitUntil(lambda: gui.controller.current_id() is not None)
        window.conversation_list.setFocus()
        QTest.keyClick(focused(), Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: QApplication.focusWidget() is window.search)
        before = listed(gui)

        QTest.keyClicks(focused(), "colour:red")
        qtbot.waitUntil(lambda: window.search_error.isVisible())
        assert "Unknown filter “colour:”" in window.search_error.text()
        assert listed(gui) == before  # the list keeps what it showed

        QTest.keyClick(focused(), Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        # The box completes the word being typed: "sta" offers "status:", picked with the arrow and Enter.
        QTest.keyClicks(focused(), "sta")
        popup = window.search_completer.popup()
        qtbot.waitUntil(popup.isVisible)
        QTest.keyClick(popup, Qt.Key.Key_Down)
        QTest.keyClick(popup, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: window.search.text() == "status:" and not popup.isVisible())
        window.activateWindow()  # the offscreen platform leaves no window active after a popup
        qtbot.waitUntil(lambda: QApplication.focusWidget() is window.search)
        QTest.keyClicks(focused(), QUERY.removeprefix("status:"))
        if popup.isVisible():  # "is:unread" is offered as it is typed in full
            QTest.keyClick(popup, Qt.Key.Key_Escape)
            window.activateWindow()
            qtbot.waitUntil(lambda: QApplication.focusWidget() is window.search)
        assert window.search.text() == QUERY
        expected = search.search_ids(QUERY)
        assert expected and len(expected) < len(before)
        qtbot.waitUntil(lambda: not window.search_error.isVisible() and listed(gui) == expected)
        assert window.statusBar().currentMessage() == f"{len(expected)} conversations found"

        QTest.keyClick(
            focused(), Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        )
        qtbot.waitUntil(
            lambda: (
                gui.controller.saved_searches.dialog is not None
                and gui.controller.saved_searches.dialog.isVisible()
            )
        )
        dialog = gui.controller.saved_searches.dialog
        qtbot.waitUntil(lambda: QApplication.focusWidget() is not None and dialog.isAncestorOf(focused()))
        QTest.keyClick(focused(), Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClicks(focused(), "Unread, not eBay")
        QTest.keyClick(focused(), Qt.Key.Key_Return)
        saved = View(ViewKind.SAVED, "Unread, not eBay")
        qtbot.waitUntil(lambda: window.sidebar.count_text(saved) == str(len(expected)))

        # Another view clears the box; a click on the saved search brings its query and its results back.
        qtbot.waitUntil(lambda: gui.controller.saved_searches.dialog is None)
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        QTest.keyClick(focused(), Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: window.search.text() == "" and listed(gui) != expected)
        sidebar = window.sidebar
        rect = sidebar.visualRect(sidebar.index_of(saved))
        QTest.mouseClick(sidebar.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.waitUntil(lambda: window.search.text() == QUERY and listed(gui) == expected)
        seen["count"] = len(expected)

        # Rename… from its context menu, then a second saved search, then Delete (asked first).
        next(a for a in sidebar.saved_menu(sidebar.index_of(saved)).actions() if "name" in a.text()).trigger()
        qtbot.waitUntil(lambda: gui.controller.saved_searches.dialog is not None)
        qtbot.waitUntil(lambda: gui.controller.saved_searches.dialog.isAncestorOf(focused()))
        QTest.keyClick(focused(), Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClicks(focused(), "To answer")
        QTest.keyClick(focused(), Qt.Key.Key_Return)
        renamed = View(ViewKind.SAVED, "To answer")
        qtbot.waitUntil(lambda: sidebar.count_text(renamed) == str(len(expected)))
        assert not sidebar.index_of(saved).isValid()

        def answer_yes() -> None:
            box = QApplication.activeModalWidget()
            assert isinstance(box, QMessageBox), box
            seen["question"] = box.text()
            QTest.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)

        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        window.focus_search()
        QTest.keyClicks(focused(), "lang:de")
        QTest.keyClick(focused(), Qt.Key.Key_S, CTRL_SHIFT)
        qtbot.waitUntil(lambda: gui.controller.saved_searches.dialog is not None)
        QTest.keyClick(gui.controller.saved_searches.dialog, Qt.Key.Key_Return)  # the query is the name
        qtbot.waitUntil(lambda: sidebar.index_of(View(ViewKind.SAVED, "lang:de")).isValid())
        QTimer.singleShot(0, answer_yes)
        next(
            a for a in sidebar.saved_menu(sidebar.index_of(renamed)).actions() if "Delete" in a.text()
        ).trigger()
        qtbot.waitUntil(lambda: not sidebar.index_of(renamed).isValid())

    run_real_app(demo_profile, scenario)
    assert seen["count"]
    assert "Delete the saved search “To answer”" in str(seen["question"])
    prof = open_profile(demo_profile)
    try:
        assert [(s.name, s.query) for s in search.saved_searches()] == [("lang:de", "lang:de")]
    finally:
        prof.close()


def test_a_broad_filter_shows_its_first_page_then_the_rest(  # type: ignore[no-untyped-def]
    qtbot, demo_profile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter matching most of the profile fills the first screen from its first page, then the rest are
    appended with the selection kept and the full count told."""
    monkeypatch.setattr(controller_module, "FIRST_PAGE", 4)  # 40 conversations: the page is a tenth
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        window = gui.window
        model = gui.controller.model
        resets: list[int] = []
        model.modelReset.connect(lambda: resets.append(model.rowCount()))
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        qtbot.waitUntil(lambda: gui.controller.current_id() is not None)
        window.focus_search()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is window.search)
        query = "-status:closed"
        expected = search.search_ids(query)
        assert len(expected) > 4
        QTest.keyClicks(focused(), query)
        qtbot.waitUntil(lambda: listed(gui) == expected)
        assert resets[-1] == 4  # the list was reset to the first page, the rest came as appended rows
        assert gui.controller.current_id() == expected[0]
        assert window.statusBar().currentMessage() == f"{len(expected)} conversations found"
        seen["count"] = len(expected)

    run_real_app(demo_profile, scenario)
    assert seen["count"]
