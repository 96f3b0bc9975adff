"""Keyboard flows in the real window (``open_gui`` + the app's qasync loop), with real key events.

Keys are sent to whatever widget has the keyboard focus, as the window system does for a user.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from inbox_app.app import Gui
from tests.ui.real_app import cli, make_demo_profile, run_real_app


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "profile"
    make_demo_profile(path, count=12)
    return path


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None, "nothing has the keyboard focus"
    return widget


def press(key: Qt.Key, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(focused(), key, modifiers)


def type_text(text: str) -> None:
    for char in text:
        QTest.keyClicks(focused(), char)


def wait_ready(qtbot, gui: Gui) -> int:  # type: ignore[no-untyped-def]
    """The window is active, the list loaded and a conversation selected; returns its id."""
    gui.window.activateWindow()
    qtbot.waitUntil(lambda: gui.window.isActiveWindow())
    qtbot.waitUntil(lambda: gui.controller.current_id() is not None)
    gui.window.conversation_list.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is gui.window.conversation_list)
    cid = gui.controller.current_id()
    assert cid is not None
    return cid


def no_dialog(gui: Gui) -> bool:
    return not any(
        w.isVisible() and w is not gui.window for w in QApplication.topLevelWidgets() if w.isWindow()
    )


def status_of(profile: Path, cid: int) -> str:
    out = cli(profile, "show", str(cid))
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("opener", [Qt.Key.Key_R, Qt.Key.Key_Return])
def test_r_or_enter_puts_the_cursor_in_the_reply_box_and_typing_goes_there(
    qtbot, demo_profile: Path, opener: Qt.Key
) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        cid = wait_ready(qtbot, gui)
        press(opener)
        editor = gui.controller.reply_widget
        qtbot.waitUntil(lambda: QApplication.focusWidget() is editor.text_edit)
        type_text("Hello, we")
        seen["cid"] = cid
        seen["body"] = editor.body()
        seen["current"] = gui.controller.current_id()
        seen["no_dialog"] = no_dialog(gui)
        press(Qt.Key.Key_Escape)

    run_real_app(demo_profile, scenario)
    assert seen["body"] == "Hello, we"
    assert seen["current"] == seen["cid"], "the conversation stays on screen"
    assert seen["no_dialog"], "no dialog popped up while typing"
    out = cli(demo_profile, "list", "--json")
    assert out.returncode == 0, out.stderr
    assert f'"id": {seen["cid"]}' in out.stdout, "the conversation is still open (e did not close it)"


def test_single_key_shortcuts_never_fire_in_the_search_box(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        cid = wait_ready(qtbot, gui)
        press(Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: QApplication.focusWidget() is gui.window.search)
        type_text("jkesp?ro")
        seen["search"] = gui.window.search.text()
        seen["current"] = gui.controller.current_id()
        seen["cid"] = cid
        seen["no_dialog"] = no_dialog(gui)

    run_real_app(demo_profile, scenario)
    assert seen["search"] == "jkesp?ro"
    assert seen["no_dialog"]


def test_triage_keys_work_right_after_start_without_a_click(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        gui.window.activateWindow()
        qtbot.waitUntil(lambda: gui.controller.current_id() is not None)
        qtbot.waitUntil(lambda: QApplication.focusWidget() is not None)  # activation is asynchronous
        seen["focus"] = focused() is gui.window.conversation_list
        first = gui.controller.current_id()
        press(Qt.Key.Key_J)  # to whatever has the focus, as the window system does
        qtbot.waitUntil(lambda: gui.controller.current_id() != first)
        seen["moved"] = True

    run_real_app(demo_profile, scenario)
    assert seen == {"focus": True, "moved": True}


def test_closing_the_window_stops_every_timer_that_reads_the_profile(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    """The deadline notifier's minute timer once outlived the window and queried a closed database."""
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        qtbot.waitUntil(lambda: gui.controller.current_id() is not None)
        seen["notifier"] = gui.controller.notifier
        seen["running"] = gui.controller.notifier._timer.isActive()

    run_real_app(demo_profile, scenario)
    assert seen["running"] is True
    assert not seen["notifier"]._timer.isActive()  # type: ignore[attr-defined]
