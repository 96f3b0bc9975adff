"""Triage keys in the real window (``open_gui`` + the app's loop), real key and mouse events: x and Shift+J/K
build a multi-selection, e/p/s/t/c/a act on all of it in one go, Ctrl+Z takes each action back."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from inbox_app.app import Gui
from inbox_app.services import conversations, triage
from inbox_app.ui.triage_actions import TriageActions
from inbox_app.ui.triage_picker import TriagePicker
from tests.ui.real_app import make_demo_profile, run_real_app
from tests.ui.test_real_window_keyboard import press, type_text, wait_ready

# The offscreen platform cannot raise windows or grab the keyboard for a popup menu (the snooze menu, pickers).
pytestmark = pytest.mark.qt_log_ignore(
    "This plugin does not support propagateSizeHints",
    "This plugin does not support raise",
    "This plugin does not support grabbing the keyboard",
)

SHIFT = Qt.KeyboardModifier.ShiftModifier
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("triage-demo") / "profile"
    make_demo_profile(path, count=20)
    return path


def actions_of(gui: Gui) -> TriageActions:
    found = gui.controller.findChild(TriageActions)
    assert found is not None, "the window has no triage actions"
    return found


def select_three(qtbot, gui: Gui) -> list[int]:  # type: ignore[no-untyped-def]
    wait_ready(qtbot, gui)
    gui.window.conversation_list.clearSelection()  # what a plain click does; x then starts a new selection
    press(Qt.Key.Key_X)
    press(Qt.Key.Key_J, SHIFT)
    press(Qt.Key.Key_J, SHIFT)
    ids = actions_of(gui).selected_ids()
    assert len(ids) == 3, ids
    return ids


def answer_yes_when_asked(questions: list[str]) -> QTimer:
    """Click Yes on the next question box (closing unanswered marketplace conversations asks first)."""
    timer = QTimer()

    def poll() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            questions.append(box.text())
            button = box.button(QMessageBox.StandardButton.Yes)
            timer.stop()
            QTest.mouseClick(button, Qt.MouseButton.LeftButton)

    timer.timeout.connect(poll)
    timer.start(50)
    return timer


def statuses(ids: list[int]) -> list[str]:
    return [s.status if (s := conversations.state(i)) is not None else "gone" for i in ids]


def idle(gui: Gui) -> bool:
    return not gui.controller.runner.busy()


def test_x_shift_j_then_e_p_s_close_pend_snooze_all_and_ctrl_z_undoes(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        ids = select_three(qtbot, gui)
        before = statuses(ids)
        seen["unanswered"] = triage.unanswered_on_marketplaces(ids)
        questions: list[str] = []
        answering = answer_yes_when_asked(questions)
        press(Qt.Key.Key_E)
        qtbot.waitUntil(lambda: statuses(ids) == ["closed"] * 3)
        answering.stop()
        seen["questions"] = questions
        refocus(qtbot, gui)  # the question box took the focus away (offscreen does not give it back)
        qtbot.waitUntil(lambda: "Ctrl+Z" in gui.window.statusBar().currentMessage())
        seen["message"] = gui.window.statusBar().currentMessage()
        press(Qt.Key.Key_Z, CTRL)
        qtbot.waitUntil(lambda: statuses(ids) == before)
        seen["undone"] = statuses(ids)

        gui.window.conversation_list.setFocus()
        ids = select_three(qtbot, gui)
        before = statuses(ids)
        press(Qt.Key.Key_P)
        qtbot.waitUntil(lambda: statuses(ids) == ["pending"] * 3)
        press(Qt.Key.Key_Z, CTRL)
        qtbot.waitUntil(lambda: statuses(ids) == before)

        ids = select_three(qtbot, gui)
        press(Qt.Key.Key_S)  # the snooze menu pops up under the row
        menu = gui.window.snooze_menu
        qtbot.waitUntil(menu.isVisible)
        QTest.keyClick(menu, Qt.Key.Key_Down)
        QTest.keyClick(menu, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: statuses(ids) == ["snoozed"] * 3)
        seen["snoozed_until"] = {f.snoozed_until is not None for f in triage.facts(ids).values()}
        qtbot.waitUntil(lambda: idle(gui))

    run_real_app(demo_profile, scenario)
    assert "3" in str(seen["message"]) and "Ctrl+Z" in str(seen["message"])
    # Asked once, and only when a marketplace still counts one of them as unanswered.
    assert len(seen["questions"]) == (1 if seen["unanswered"] else 0)  # type: ignore[arg-type]
    assert seen["snoozed_until"] == {True}


def pick(qtbot, text: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(
        lambda: isinstance(QApplication.activeModalWidget() or QApplication.focusWidget(), object)
    )
    qtbot.waitUntil(
        lambda: any(isinstance(w, TriagePicker) and w.isVisible() for w in QApplication.topLevelWidgets())
    )
    picker = next(w for w in QApplication.topLevelWidgets() if isinstance(w, TriagePicker) and w.isVisible())
    picker.query.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is picker.query)
    type_text(text)
    press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not picker.isVisible())


def refocus(qtbot, gui: Gui) -> None:  # type: ignore[no-untyped-def]
    """Back to the list after a picker closed (the offscreen platform does not hand the focus back)."""
    gui.window.activateWindow()
    qtbot.waitUntil(lambda: gui.window.isActiveWindow())
    gui.window.conversation_list.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is gui.window.conversation_list)


def test_c_a_t_pick_with_fuzzy_typing_and_each_is_undone(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        ids = select_three(qtbot, gui)
        before = triage.facts(ids)
        press(Qt.Key.Key_C)
        pick(qtbot, "damagd")  # a typo still finds "Damaged"
        qtbot.waitUntil(lambda: {f.category for f in triage.facts(ids).values()} == {"damaged"})
        seen["source"] = {f.category_source for f in triage.facts(ids).values()}

        refocus(qtbot, gui)
        press(Qt.Key.Key_A)
        pick(qtbot, "Ana")  # not in the team yet: taken as a new name
        qtbot.waitUntil(lambda: {f.assignee for f in triage.facts(ids).values()} == {"Ana"})
        seen["team"] = triage.team()

        refocus(qtbot, gui)
        press(Qt.Key.Key_T)
        pick(qtbot, "llamar")
        qtbot.waitUntil(lambda: all("llamar" in f.tags for f in triage.facts(ids).values()))

        refocus(qtbot, gui)
        for _action in range(3):
            press(Qt.Key.Key_Z, CTRL)
        qtbot.waitUntil(lambda: idle(gui) and triage.facts(ids) == before)

    run_real_app(demo_profile, scenario)
    assert seen["source"] == {"manual"}
    assert "Ana" in list(seen["team"])  # type: ignore[call-overload]


def test_mouse_ctrl_click_selects_and_menus_and_help_list_the_actions(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        wait_ready(qtbot, gui)
        listing = gui.window.conversation_list
        model = listing.model()
        for row in (1, 3):
            rect = listing.visualRect(model.index(row, 1))
            QTest.mouseClick(listing.viewport(), Qt.MouseButton.LeftButton, CTRL, rect.center())
        seen["selected"] = len(actions_of(gui).selected_ids())
        conversation_menu = next(
            a.menu() for a in gui.window.menuBar().actions() if a.text() == "&Conversation"
        )
        seen["menu"] = [a.objectName() for a in conversation_menu.actions()]
        seen["context"] = [a.objectName() for a in listing._context_actions if a is not None]
        seen["help"] = [text for text, _key in gui.window.shortcut_rows()]
        seen["views"] = gui.window.sidebar.view_keys()

    run_real_app(demo_profile, scenario)
    assert seen["selected"] == 3  # the current row and the two clicked with Ctrl
    for name in ("action_tag", "action_category", "action_assign", "action_select_toggle"):
        assert name in seen["menu"]  # type: ignore[operator]
    assert {"action_tag", "action_category", "action_assign", "action_close"} <= set(seen["context"])  # type: ignore[call-overload]
    for text in ("Tag…", "Category…", "Assign…", "Select / unselect", "Extend selection down"):
        assert text in seen["help"]  # type: ignore[operator]
    assert {"mine", "unassigned"} <= set(seen["views"])  # type: ignore[call-overload]


def test_categories_and_team_settings_are_edited_saved_and_applied(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QDialogButtonBox

    from inbox_app.ui.triage_settings import RULED, TriageSettingsDialog

    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        wait_ready(qtbot, gui)
        gui.window.actions_by_name["triage_settings"].trigger()  # Tools → Categories and team…
        qtbot.waitUntil(
            lambda: any(
                isinstance(w, TriageSettingsDialog) and w.isVisible() for w in QApplication.topLevelWidgets()
            )
        )
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, TriageSettingsDialog))
        dialog.activateWindow()
        dialog.team.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is dialog.team)
        QTest.keyClick(dialog.team, Qt.Key.Key_End, CTRL)
        QTest.keyClick(dialog.team, Qt.Key.Key_Return)
        QTest.keyClicks(dialog.team, "Luis")
        dialog.rules.setCurrentCell(RULED.index("stock"), 0)  # Spanish
        dialog.rules.setFocus()
        QTest.keyClick(dialog.rules, Qt.Key.Key_F2)
        editor = QApplication.focusWidget()
        assert editor is not None
        QTest.keyClick(editor, Qt.Key.Key_A, CTRL)
        QTest.keyClicks(editor, "preventa*, agotad*")
        QTest.keyClick(editor, Qt.Key.Key_Tab)  # commits the cell and moves on
        save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
        QTest.mouseClick(save, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: "Category rules applied" in gui.window.statusBar().currentMessage(), timeout=20000
        )
        seen["rules"] = triage.category_rules()["stock"]["es"]
        seen["team"] = triage.team()

    run_real_app(demo_profile, scenario)
    assert seen["rules"] == ("preventa*", "agotad*")
    assert "Luis" in list(seen["team"])  # type: ignore[call-overload]
