"""A reply held by the collision check, in the real window: it shows under the thread in amber with what
changed ("Jana Becker wrote at …") and Send anyway · Edit · Discard; a real click on Send anyway puts it back
in the queue (once: a second click finds nothing to release), a click on Edit brings its text back into the
reply box and withdraws it. The outbox window shows it as held with a Send anyway button."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTextBrowser

from inbox_app import i18n
from inbox_app.app import Gui
from inbox_app.domain.conversations import Direction, IncomingMessage
from inbox_app.profile import open_profile
from inbox_app.store import outbox, outbox_holds
from inbox_app.store.ingest import add_message
from inbox_app.store.models import Conversation, OutboxItem
from tests.ui.conftest import Seed
from tests.ui.real_app import cli, run_real_app
from tests.ui.test_real_window_long_and_limits import click_link

REPLY = "Hello Jana, your parcel left today."


def make_held_profile(path: Path) -> tuple[int, int]:
    """A conversation with a reply queued, then a new customer message, then the real check holding it."""
    i18n.setup("en")
    profile = open_profile(path)
    try:
        now = datetime.now(UTC)
        conv = Seed(profile).conversation(received_at=now - timedelta(hours=2))
        item = outbox.queue_reply(
            conv, body=REPLY, message_id="<held-1@shop.example>", recipients=["jana.becker@example.com"]
        )
        add_message(
            Conversation.get_by_id(conv.id),
            IncomingMessage(
                direction=Direction.IN,
                sent_at=now - timedelta(minutes=5),
                text="Sorry, one more thing: the colour is wrong too.",
                author_name="Jana Becker",
                author_address="jana.becker@example.com",
                remote_id="<in-again@example.com>",
            ),
        )
        assert outbox.claim(item, "test-delivery")
        assert outbox_holds.hold(item, outbox_holds.stored_changes(item))
        return conv.id, item.id
    finally:
        profile.close()


def _held_thread(qtbot, gui: Gui, conv_id: int) -> QTextBrowser:
    """The window brought to the front and showing the held reply's conversation (the app opens it at start)."""
    gui.window.activateWindow()
    qtbot.waitUntil(lambda: gui.window.thread_view.conversation_id() == conv_id)
    return gui.window.thread_view.browser


def _outbox_state(path: Path, item_id: int) -> str:
    result = cli(path, "outbox", "list", "--all", "--json")
    assert result.returncode == 0, result.stderr
    (info,) = [i for i in json.loads(result.stdout) if i["id"] == item_id]
    return str(info["state"])


def test_send_anyway_on_the_amber_block_releases_the_held_reply_once(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    conv_id, item_id = make_held_profile(path)
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        browser = _held_thread(qtbot, gui, conv_id)
        text = browser.toPlainText()
        seen["block"] = "Not sent: the conversation changed" in text and "Jana Becker wrote at" in text
        seen["buttons"] = all(word in text for word in ("Send anyway", "Edit", "Discard"))
        qtbot.waitUntil(lambda: "1 held" in gui.window.outbox_label.text())
        gui.window.grab().save(str(tmp_path / "held.png"))

        dialog = gui.controller.open_outbox()
        qtbot.waitUntil(lambda: dialog.model.rowCount() == 1)
        dialog.select_item(item_id)
        seen["dialog_button"] = dialog.send_anyway_button.isEnabled()
        seen["dialog_detail"] = dialog.detail.text()
        dialog.close()

        click_link(qtbot, browser, "Send anyway")
        qtbot.waitUntil(lambda: "Not sent: the conversation changed" not in browser.toPlainText())
        seen["after"] = browser.toPlainText()
        seen["released_again"] = gui.controller.send_anyway(item_id)  # a second click: nothing to release

    run_real_app(path, scenario)
    assert seen["block"] and seen["buttons"], seen
    assert seen["dialog_button"] and "Jana Becker wrote at" in str(seen["dialog_detail"])
    assert "Reply in the outbox" in str(seen["after"])
    assert seen["released_again"] is False
    assert _outbox_state(path, item_id) == "queued"
    profile = open_profile(path)
    try:
        assert OutboxItem.select().count() == 1  # released, not copied: it can only go out once
    finally:
        profile.close()


def test_edit_on_the_amber_block_brings_the_text_back_into_the_reply_box(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    conv_id, item_id = make_held_profile(path)
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        browser = _held_thread(qtbot, gui, conv_id)
        click_link(qtbot, browser, "Edit")
        editor = gui.controller.reply_widget
        qtbot.waitUntil(lambda: editor.body() == REPLY)
        QTest.keyClick(editor.text_edit, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClicks(editor.text_edit, " Sorry about the colour!")  # the seller goes on writing
        seen["body"] = editor.body()
        seen["thread"] = browser.toPlainText()

    run_real_app(path, scenario)
    assert seen["body"] == REPLY + " Sorry about the colour!"
    assert "Not sent: the conversation changed" not in str(seen["thread"])
    assert _outbox_state(path, item_id) == "cancelled"
