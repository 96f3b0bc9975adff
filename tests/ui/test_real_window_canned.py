"""Canned responses and the keys the window shows, in the real window (``open_gui`` + the app's loop).

The whole loop of a newcomer in the demo: open a Spanish conversation, r, "/" opens the picker, "retra"
finds the delay reply in Spanish, Enter inserts it with the seller's name blank highlighted, Tools ▸ Settings
fills it next time, Tab walks the blanks, Ctrl+Enter queues the reply.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QTableWidget

from inbox_app.app import Gui
from inbox_app.domain.templates import find_unfilled
from inbox_app.ui import keys
from tests.ui.real_app import cli, make_demo_profile, run_real_app
from tests.ui.test_real_window_keyboard import focused, press, type_text, wait_ready


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo-canned") / "profile"
    make_demo_profile(path, count=30)
    return path


def spanish_conversation(profile: Path) -> int:
    rows = json.loads(cli(profile, "list", "--json").stdout)
    return next(r["id"] for r in rows if r["language"] == "es" and r["channel"] in ("amazon", "email"))


def go_to(qtbot, gui: Gui, cid: int) -> None:  # type: ignore[no-untyped-def]
    """Move down the list with j until ``cid`` is on screen (what the seller does)."""
    wait_ready(qtbot, gui)
    for _step in range(gui.controller.model.rowCount()):
        if gui.controller.current_id() == cid:
            return
        press(Qt.Key.Key_J)
    assert gui.controller.current_id() == cid


def native(keys: str) -> str:
    return QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)


def test_slash_finds_the_spanish_delay_reply_and_the_blanks_are_filled_from_settings_or_highlighted(
    qtbot, demo_profile: Path
) -> None:  # type: ignore[no-untyped-def]
    cid = spanish_conversation(demo_profile)
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        go_to(qtbot, gui, cid)
        editor = gui.controller.reply_widget
        press(Qt.Key.Key_R)
        qtbot.waitUntil(lambda: QApplication.focusWidget() is editor.text_edit)
        assert editor.language() == "es"
        type_text("/")  # "/" alone opens the picker
        qtbot.waitUntil(lambda: editor.picker is not None and editor.picker.isVisible())
        seen["slash_alone"] = len(editor.picker.results())
        type_text("retra")
        seen["retra"] = [r.key for r in editor.picker.results()][:3]
        press(Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not editor.picker.isVisible())
        body = editor.body()
        seen["inserted"] = body
        seen["blanks"] = [s.name for s in find_unfilled(body)]
        seen["selected"] = editor.text_edit.textCursor().selectedText()
        # Ctrl+Space opens the picker anywhere in the text, too.
        editor.text_edit.selectAll()
        press(Qt.Key.Key_Delete)
        press(Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: editor.picker.isVisible())
        press(Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: not editor.picker.isVisible())

        # Tools ▸ Settings…: the names, typed once.
        gui.window.actions_by_name["settings"].trigger()
        qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), QDialog))
        dialog = QApplication.activeModalWidget()
        agent = dialog.findChild(QLineEdit, "agentName")
        qtbot.keyClicks(agent, "Lucia")
        qtbot.keyClicks(dialog.findChild(QLineEdit, "shopName"), "Tienda Demo")
        dialog.accept()
        # Another conversation and back, as the seller would, so the reply box reads the settings again.
        gui.window.conversation_list.setFocus()
        press(Qt.Key.Key_K if gui.window.conversation_list.currentIndex().row() > 0 else Qt.Key.Key_J)
        go_to(qtbot, gui, cid)
        press(Qt.Key.Key_R)
        qtbot.waitUntil(lambda: QApplication.focusWidget() is editor.text_edit)
        type_text("/retra")
        qtbot.waitUntil(lambda: editor.picker.isVisible())
        press(Qt.Key.Key_Return)
        signed = editor.body()
        seen["signed"] = signed
        # Tab to each blank still open and type over it, then Ctrl+Enter.
        for _blank in range(len(find_unfilled(signed))):
            assert editor.text_edit.textCursor().hasSelection()
            type_text("X1")
            press(Qt.Key.Key_Tab)
        seen["complete"] = editor.body()
        press(Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: editor.body() == "")

    run_real_app(demo_profile, scenario)
    assert seen["slash_alone"], "/ alone lists the canned responses"
    assert seen["retra"][0] == "delay", seen["retra"]  # type: ignore[index]
    assert "Lamentamos que su pedido" in str(seen["inserted"])  # the Spanish variant
    assert "agent.name" in seen["blanks"] and "shop.name" in seen["blanks"]  # type: ignore[operator]
    assert str(seen["selected"]).startswith("{"), "the first blank is selected, ready to type over"
    assert str(seen["signed"]).rstrip().endswith("Lucia\nTienda Demo")
    assert not find_unfilled(str(seen["complete"]))
    items = json.loads(cli(demo_profile, "outbox", "list", "--json").stdout)
    assert [i["conversation_id"] for i in items] == [cid]


def test_the_question_mark_lists_every_key_once_and_the_buttons_show_the_real_keys(
    qtbot, demo_profile: Path
) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        wait_ready(qtbot, gui)
        type_text("?")
        qtbot.waitUntil(lambda: QApplication.activeModalWidget() is not None)
        dialog = QApplication.activeModalWidget()
        table = dialog.findChild(QTableWidget, "shortcutsTable")
        seen["rows"] = [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]
        dialog.close()
        editor = gui.controller.reply_widget
        seen["send"] = editor.send_button.text()
        seen["send_close"] = editor.send_close_button.text()
        seen["tips"] = editor.send_button.toolTip(), editor.send_close_button.toolTip()
        # "?" typed in the reply is text, not the shortcut list.
        gui.window.conversation_list.setFocus()
        press(Qt.Key.Key_R)
        qtbot.waitUntil(lambda: focused() is editor.text_edit)
        type_text("Why?")
        seen["typed"] = editor.body()
        seen["modal"] = QApplication.activeModalWidget()

    run_real_app(demo_profile, scenario, size=(1920, 1080))  # room for both keys on the buttons
    rows: list[tuple[str, str]] = seen["rows"]  # type: ignore[assignment]
    names = [name for name, _key in rows]
    assert len(names) == len(set(names)), "no action is listed twice"
    assert names.count("Pending") == 1
    listed = {key for _name, key in rows}
    for wanted in (keys.OPEN_KEYS, "/", "Ctrl+Space", "Tab", keys.SEND_KEYS, keys.SEND_CLOSE_KEYS):
        assert native(wanted) in listed, wanted
    assert str(seen["send"]).endswith(native(keys.SEND_KEYS)) and "⏎" not in str(seen["send"])
    assert str(seen["send_close"]).endswith(native(keys.SEND_CLOSE_KEYS))
    send_tip, close_tip = seen["tips"]  # type: ignore[misc]
    assert (
        native(keys.SEND_KEYS) in send_tip and native(keys.SEND_CLOSE_KEYS) in close_tip
    )  # in a narrow pane
    assert seen["typed"] == "Why?" and seen["modal"] is None
