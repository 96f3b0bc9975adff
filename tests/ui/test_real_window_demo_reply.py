"""The demo finishes the whole reply loop in the real window: r, type, Ctrl+Enter, and the reply waits in the
outbox as "Demo account: not sent" (window, outbox dialog, thread, ``outbox list``), never delivered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from inbox_app.app import Gui
from tests.ui.real_app import cli, make_demo_profile, run_real_app
from tests.ui.test_real_window_keyboard import press, type_text, wait_ready


@pytest.fixture
def demo_profile(tmp_path: Path) -> Path:
    path = tmp_path / "profile"
    make_demo_profile(path, count=12)
    return path


def test_a_demo_reply_is_queued_and_shown_as_not_sent(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        cid = wait_ready(qtbot, gui)
        editor = gui.controller.reply_widget
        press(Qt.Key.Key_R)
        qtbot.waitUntil(lambda: QApplication.focusWidget() is editor.text_edit)
        type_text("Thank you, we are on it.")
        press(Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: editor.body() == "")
        seen["cid"] = cid
        seen["editor_message"] = editor.message_label.text()
        qtbot.waitUntil(lambda: bool(gui.window.thread_view.outbox_rows()))
        seen["thread"] = gui.window.thread_view.browser.toPlainText()
        dialog = gui.controller.open_outbox()
        qtbot.waitUntil(lambda: dialog.model.rowCount() > 0)
        seen["dialog"] = [dialog.model.index(row, 0).data() for row in range(dialog.model.rowCount())]
        dialog.close()

    run_real_app(demo_profile, scenario)
    assert "Demo account" in str(seen["editor_message"])
    assert "Demo account: not sent" in str(seen["thread"])
    assert any("Demo account: not sent" in str(text) for text in seen["dialog"])  # type: ignore[attr-defined]
    out = cli(demo_profile, "outbox", "list", "--json")
    assert out.returncode == 0, out.stderr
    items = json.loads(out.stdout)
    assert [(i["conversation_id"], i["state"], i["demo"]) for i in items] == [(seen["cid"], "queued", True)]
    assert items[0]["attempts"] == 0
    text = cli(demo_profile, "outbox", "list")
    assert "demo account: not sent" in text.stdout


def test_the_cli_reply_works_in_the_demo_and_is_never_delivered(tmp_path: Path, demo_profile: Path) -> None:
    body = tmp_path / "body.txt"
    body.write_text("Merci, nous regardons.", encoding="utf-8")
    listing = json.loads(cli(demo_profile, "list", "--json").stdout)
    marketplace = next(row for row in listing if row["channel"] not in ("email", "amazon"))
    for row in (listing[0], marketplace):
        out = cli(demo_profile, "reply", str(row["id"]), "--body-file", str(body))
        assert out.returncode == 0, out.stderr
    from inbox_app import i18n
    from inbox_app.profile import open_profile
    from inbox_app.store import outbox
    from inbox_app.store.outbox_view import OutboxPhase, outbox_overview

    i18n.setup("en")
    copy = tmp_path / "copy"
    shutil.copytree(demo_profile, copy)
    profile = open_profile(copy)
    try:
        assert outbox.due_items() == [], "demo replies are never picked for delivery"
        rows = outbox_overview()
        assert len(rows) == 2
        assert {r.phase(rows[0].created_at) for r in rows} == {OutboxPhase.DEMO}
        assert not any(r.can_retry(r.created_at) for r in rows)
    finally:
        profile.close()
