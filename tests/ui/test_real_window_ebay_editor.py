"""The reply box on an eBay conversation, in the real window: eBay takes files only as HTTPS links and at most
2,000 characters, so Attach is off and says why, a live counter shows what is left, and a reply over the limit
is refused before anything reaches the outbox (then queued once it fits)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from inbox_app.app import Gui
from inbox_app.ui.reply_editor import ReplyEditor
from tests.ui.real_app import cli, make_demo_profile, run_real_app
from tests.ui.test_real_window_long_and_limits import select_by_keys

#: Where the screenshots go (to look at them): $INBOX_APP_SHOTS, else a folder in the temporary directory.
SHOTS = Path(os.environ.get("INBOX_APP_SHOTS") or Path(tempfile.gettempdir()) / "inbox-app-shots")


def test_an_ebay_reply_has_no_attach_counts_down_from_2000_and_is_refused_over_it(
    qtbot, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    make_demo_profile(path, 40)
    rows = json.loads(cli(path, "list", "--json").stdout)  # the open ones: those the list shows
    ebay_id = next(row["id"] for row in rows if row["channel"] == "ebay")
    mirakl_id = next(row["id"] for row in rows if row["channel"] == "mirakl")
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        gui.window.activateWindow()
        qtbot.waitUntil(lambda: gui.controller.current_id() is not None)
        editor = gui.controller.reply_widget
        assert isinstance(editor, ReplyEditor)
        select_by_keys(qtbot, gui, mirakl_id)  # a channel that takes files: Attach works there
        seen["mirakl_attach"] = editor.attach_button.isEnabled()
        select_by_keys(qtbot, gui, ebay_id)
        seen["attach"] = editor.attach_button.isEnabled()
        seen["attach_tip"] = editor.attach_button.toolTip()
        seen["note"] = (editor.channel_note.isVisible(), editor.channel_note.text())
        seen["counter_empty"] = editor.limit_label.text()
        editor.text_edit.setFocus()
        QTest.keyClicks(editor.text_edit, "Hello Lena")
        seen["counter_typed"] = editor.limit_label.text()
        QApplication.clipboard().setText("x" * 1995)  # 10 + 1,995 = 2,005: five over
        QTest.keyClick(editor.text_edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: not editor.send_button.isEnabled())
        seen["counter_over"] = editor.limit_label.text()
        seen["problem"] = editor.problem_label.text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        for size in ((1366, 768), (1920, 1080)):
            gui.window.resize(*size)
            qtbot.wait(50)
            gui.window.grab().save(str(SHOTS / f"ebay-editor-{size[0]}.png"))
        QTest.keyClick(editor.text_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        seen["outbox_after_refused"] = json.loads(cli(path, "outbox", "list", "--json").stdout)
        for _ in range(5):
            QTest.keyClick(editor.text_edit, Qt.Key.Key_Backspace)
        qtbot.waitUntil(editor.send_button.isEnabled)
        seen["counter_fits"] = editor.limit_label.text()
        QTest.keyClick(editor.text_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: editor.body() == "")

    run_real_app(path, scenario)
    assert seen["mirakl_attach"] is True
    assert seen["attach"] is False
    assert seen["attach_tip"] == "eBay accepts files only as HTTPS links."
    assert seen["note"] == (True, "eBay accepts files only as HTTPS links.")
    assert seen["counter_empty"] == "2,000 left of 2,000"
    assert seen["counter_typed"] == "1,990 left of 2,000"
    assert seen["counter_over"] == "5 over 2,000"
    assert str(seen["problem"]).startswith(
        "The reply is too long: 2,005 characters, eBay accepts at most 2,000"
    )
    assert seen["outbox_after_refused"] == []
    assert seen["counter_fits"] == "0 left of 2,000"
    queued = json.loads(cli(path, "outbox", "list", "--json").stdout)
    assert [row["conversation_id"] for row in queued] == [ebay_id]
