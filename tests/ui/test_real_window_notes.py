"""An internal note written in the real window (``open_gui`` + the app's loop) with real keys and a real click:
n opens the note box on the current conversation, Add note stores it, the thread shows it at once (marked as
internal), ``show --json`` lists it, and it never reaches the outbox. Cancel stores nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QInputDialog, QPlainTextEdit

from inbox_app.app import Gui
from tests.ui.real_app import cli, make_demo_profile, run_real_app
from tests.ui.test_real_window_keyboard import press, wait_ready

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

NOTE = "Called the carrier: parcel found, out for delivery tomorrow."


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("notes") / "profile"
    make_demo_profile(path, count=8)
    return path


def note_dialog(qtbot) -> QInputDialog:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(
        lambda: any(w.objectName() == "noteDialog" and w.isVisible() for w in QApplication.topLevelWidgets())
    )
    found = next(
        w for w in QApplication.topLevelWidgets() if w.objectName() == "noteDialog" and w.isVisible()
    )
    assert isinstance(found, QInputDialog)
    return found


def test_n_writes_an_internal_note_shown_in_the_thread(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        cid = wait_ready(qtbot, gui)
        seen["cid"] = cid
        press(Qt.Key.Key_N)
        dialog = note_dialog(qtbot)
        editor = dialog.findChild(QPlainTextEdit)
        assert editor is not None
        editor.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is editor)
        QTest.keyClicks(editor, NOTE)
        seen["label"] = dialog.labelText()
        dialog.grab().save(str(demo_profile.parent / "note-dialog.png"))
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        QTest.mouseClick(ok, Qt.MouseButton.LeftButton)
        browser = gui.window.thread_view.browser
        qtbot.waitUntil(lambda: NOTE in browser.toPlainText())
        seen["thread"] = browser.toPlainText()
        gui.window.grab().save(str(demo_profile.parent / "note-thread.png"))

        # A second note, cancelled: nothing is stored.
        gui.window.activateWindow()
        gui.window.conversation_list.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is gui.window.conversation_list)
        press(Qt.Key.Key_N)
        dialog = note_dialog(qtbot)
        editor = dialog.findChild(QPlainTextEdit)
        QTest.keyClicks(editor, "not this one")
        QTest.keyClick(dialog, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: not dialog.isVisible())

    run_real_app(demo_profile, scenario)
    assert "never sent to the customer" in str(seen["label"])
    assert "Internal note by" in str(seen["thread"])
    shown = cli(demo_profile, "show", str(seen["cid"]), "--json")
    assert shown.returncode == 0, shown.stderr
    assert [n["body"] for n in json.loads(shown.stdout)["notes"]] == [NOTE]
    outbox = cli(demo_profile, "outbox", "list", "--all", "--json")
    assert NOTE not in outbox.stdout
