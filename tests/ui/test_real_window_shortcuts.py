"""Every key of the issue's keyboard list, pressed in the real window (``open_gui`` + the app's loop) with real
key events, and each of its actions found in the menu bar and in the list's right-click menu.

The other keys are driven in their own flows (j/Enter/r: test_real_window_keyboard; x, Shift+J, e/p/s/t/c/a
and Ctrl+Z: test_real_window_triage); here k, Shift+K, "/", "?" and Ctrl+Shift+Z (redo), then the menus.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu, QTableWidget

from inbox_app.app import Gui
from inbox_app.services import search
from tests.ui.real_app import make_demo_profile, run_real_app
from tests.ui.test_real_window_keyboard import focused, press, type_text, wait_ready
from tests.ui.test_real_window_triage import actions_of, idle, refocus, statuses

pytestmark = pytest.mark.qt_log_ignore(
    "This plugin does not support propagateSizeHints",
    "This plugin does not support raise",
    "This plugin does not support grabbing the keyboard",
)

SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier

#: The issue's keyboard list (item 7) as the window's action names, with the key each must carry.
ISSUE_KEYS = {
    "next": "J",
    "previous": "K",
    "reply": "R",
    "close": "E",
    "pending": "P",
    "snooze": "S",
    "tag": "T",
    "category": "C",
    "assign": "A",
    "search": "/",
    "select_toggle": "X",
    "select_down": "Shift+J",
    "select_up": "Shift+K",
    "shortcuts": "?",
    "undo": "Ctrl+Z",
    "redo": "Ctrl+Shift+Z",
}


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shortcuts-demo") / "profile"
    make_demo_profile(path, count=20)
    return path


def ids_in_list(gui: Gui) -> list[int]:
    return list(gui.controller.model.ids())


def test_k_shift_k_redo_slash_and_question_mark_with_real_keys(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        wait_ready(qtbot, gui)
        listing = gui.window.conversation_list
        rows = ids_in_list(gui)
        listing.select_row(0)
        press(Qt.Key.Key_J)
        press(Qt.Key.Key_J)
        qtbot.waitUntil(lambda: gui.controller.current_id() == rows[2])
        press(Qt.Key.Key_K)
        qtbot.waitUntil(lambda: gui.controller.current_id() == rows[1])
        press(Qt.Key.Key_J)
        qtbot.waitUntil(lambda: gui.controller.current_id() == rows[2])

        # x, then Shift+K twice: the three rows above and at the cursor, in list order.
        listing.clearSelection()
        press(Qt.Key.Key_X)
        press(Qt.Key.Key_K, SHIFT)
        press(Qt.Key.Key_K, SHIFT)
        chosen = actions_of(gui).selected_ids()
        seen["selected"] = chosen == rows[:3]

        # p on the selection, Ctrl+Z takes it back, Ctrl+Shift+Z does it again, Ctrl+Z once more.
        before = statuses(chosen)
        press(Qt.Key.Key_P)
        qtbot.waitUntil(lambda: statuses(chosen) == ["pending"] * 3)
        press(Qt.Key.Key_Z, CTRL)
        qtbot.waitUntil(lambda: idle(gui) and statuses(chosen) == before)
        seen["redo_text"] = gui.window.actions_by_name["redo"].text()
        press(Qt.Key.Key_Z, CTRL | SHIFT)
        qtbot.waitUntil(lambda: idle(gui) and statuses(chosen) == ["pending"] * 3)
        seen["redone_message"] = gui.window.statusBar().currentMessage()
        press(Qt.Key.Key_Z, CTRL)
        qtbot.waitUntil(lambda: idle(gui) and statuses(chosen) == before)

        # "/" from the list: the cursor is in the search box and typing searches.
        QTest.keyClick(focused(), "/")
        qtbot.waitUntil(lambda: QApplication.focusWidget() is gui.window.search)
        type_text("lang:de")
        expected = search.search_ids("lang:de")
        qtbot.waitUntil(lambda: ids_in_list(gui) == expected)
        seen["searched"] = bool(expected) and len(expected) < len(rows)

        # "?" from the list: every shortcut, in a table.
        popup = gui.window.search_completer.popup()
        if popup.isVisible():  # "lang:de" is offered as it is typed
            QTest.keyClick(popup, Qt.Key.Key_Escape)
        refocus(qtbot, gui)  # the offscreen platform leaves no window active after the popup
        QTest.keyClick(focused(), "?")
        qtbot.waitUntil(
            lambda: any(
                w.objectName() == "shortcutsDialog" and w.isVisible() for w in QApplication.topLevelWidgets()
            )
        )
        dialog = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "shortcutsDialog")
        table = dialog.findChild(QTableWidget, "shortcutsTable")
        assert table is not None
        seen["keys"] = {table.item(r, 1).text() for r in range(table.rowCount())}
        dialog.grab().save(str(demo_profile.parent / "shortcuts.png"))
        dialog.close()

    run_real_app(demo_profile, scenario)
    assert seen["selected"], "x then Shift+K twice selects the cursor's row and the two above"
    assert seen["redo_text"] == "&Redo set pending"
    assert "Ctrl+Z to undo" in str(seen["redone_message"])
    assert seen["searched"]
    assert set(ISSUE_KEYS.values()) | {"Enter"} <= seen["keys"], seen["keys"]  # type: ignore[operator]


def _menu_actions(menu: QMenu) -> list[QAction]:
    found: list[QAction] = []
    for action in menu.actions():
        found.append(action)
        if action.menu() is not None:
            found += _menu_actions(action.menu())  # type: ignore[arg-type]
    return found


def test_every_key_is_in_a_menu_and_a_right_click_offers_the_row_actions(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        wait_ready(qtbot, gui)
        window = gui.window
        by = window.actions_by_name
        in_menus = {
            action
            for top in window.menuBar().actions()
            if top.menu() is not None
            for action in _menu_actions(top.menu())  # type: ignore[arg-type]
        }
        seen["keys"] = {name: by[name].shortcut().toString() for name in ISSUE_KEYS}
        # Snooze is a submenu in the menu bar (its times), the same one S pops up under the row.
        seen["not_in_menus"] = [
            name
            for name in ISSUE_KEYS
            if by[name] not in in_menus
            and not (name == "snooze" and window.snooze_menu.menuAction() in in_menus)
        ]

        listing = window.conversation_list
        rows = ids_in_list(gui)
        listing.clearSelection()
        point = listing.visualRect(listing.model().index(3, 2)).center()
        offered: list[str] = []

        def choose_pending() -> None:
            menu = QApplication.activePopupWidget()
            if not isinstance(menu, QMenu):
                QTimer.singleShot(20, choose_pending)
                return
            offered.extend(
                a.objectName() or ("snooze" if a.menu() is window.snooze_menu else "") for a in menu.actions()
            )
            seen["current"] = gui.controller.current_id() == rows[3]
            gui.window.grab().save(str(demo_profile.parent / "context-menu-window.png"))
            menu.grab().save(str(demo_profile.parent / "context-menu.png"))
            menu.setActiveAction(by["pending"])
            QTest.keyClick(menu, Qt.Key.Key_Return)

        QTimer.singleShot(0, choose_pending)
        # Through the window system's window (a click sent to the widget itself makes no context-menu event).
        at = listing.viewport().mapTo(window, point)
        QTest.mouseClick(
            window.windowHandle(), Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, at
        )
        qtbot.waitUntil(lambda: bool(offered) and statuses([rows[3]]) == ["pending"])
        seen["offered"] = [name for name in offered if name]

    run_real_app(demo_profile, scenario)
    assert seen["keys"] == ISSUE_KEYS
    assert seen["not_in_menus"] == []
    for name in ("reply", "close", "pending", "snooze", "tag", "category", "assign", "note", "select_toggle"):
        assert ("snooze" if name == "snooze" else f"action_{name}") in seen["offered"], seen["offered"]  # type: ignore[operator]
    assert seen["current"], "the right-clicked row is the one acted on"


def test_s_snoozes_the_selection_and_ctrl_z_wakes_it_as_it_was(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    from inbox_app.services import triage

    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        wait_ready(qtbot, gui)
        gui.window.conversation_list.clearSelection()
        press(Qt.Key.Key_X)
        press(Qt.Key.Key_J, SHIFT)
        chosen = actions_of(gui).selected_ids()
        before = (statuses(chosen), {cid: f.snoozed_until for cid, f in triage.facts(chosen).items()})
        press(Qt.Key.Key_S)
        menu = gui.window.snooze_menu
        qtbot.waitUntil(menu.isVisible)
        QTest.keyClick(menu, Qt.Key.Key_Down)  # "Until tomorrow morning"
        QTest.keyClick(menu, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: idle(gui) and statuses(chosen) == ["snoozed"] * 2)
        seen["until"] = {f.snoozed_until is not None for f in triage.facts(chosen).values()}
        refocus(qtbot, gui)
        press(Qt.Key.Key_Z, CTRL)
        qtbot.waitUntil(
            lambda: (
                idle(gui)
                and (statuses(chosen), {cid: f.snoozed_until for cid, f in triage.facts(chosen).items()})
                == before
            )
        )
        seen["undone"] = True

    run_real_app(demo_profile, scenario)
    assert seen == {"until": {True}, "undone": True}
