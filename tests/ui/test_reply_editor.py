"""The reply editor: language, canned insert, placeholders blocking send, outbox, drafts (even after a kill)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from pytestqt.qtbot import QtBot

from inbox_app.profile import Profile, open_profile
from inbox_app.store import drafts
from inbox_app.store.models import Conversation, OutboxItem
from inbox_app.ui.reply_editor import ReplyEditor
from tests.ui.reply_fixtures import detail_of, make_conversation, reply_profile, set_setting

__all__ = ["reply_profile"]  # the fixture is used by name

# The offscreen platform plugin warns when a top-level window is shown; it says nothing about our code.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def editor(qtbot: QtBot, reply_profile: Profile) -> Iterator[ReplyEditor]:
    widget = ReplyEditor(blobs=reply_profile.blobs)
    qtbot.addWidget(widget)
    widget.resize(900, 420)
    widget.show()
    yield widget
    widget.close()


def outbox_rows(conversation_id: int) -> list[OutboxItem]:
    return list(OutboxItem.select().where(OutboxItem.conversation == conversation_id))


def test_language_follows_conversation_then_setting_then_english(editor: ReplyEditor) -> None:
    editor.set_conversation(detail_of(make_conversation(language="es")))
    assert editor.language() == "es"
    assert "(es)" in editor.language_combo.currentText()
    editor.set_conversation(detail_of(make_conversation(language=None)))
    assert editor.language() == "en"
    set_setting("default_language", "de")
    editor.set_conversation(detail_of(make_conversation(language=None)))
    assert editor.language() == "de"
    editor.set_conversation(None)
    assert not editor.text_edit.isEnabled()


def test_canned_insert_uses_the_spanish_variant_and_fills_variables(
    qtbot: QtBot, editor: ReplyEditor
) -> None:
    set_setting("shop_name", "Tienda Sol")
    set_setting("agent_name", "Marta")  # Tools ▸ Settings: the signature is filled from here
    conv = make_conversation(language="es", extra={"tracking_number": "JJD0099", "carrier": "DHL"})
    editor.set_conversation(detail_of(conv))
    editor.text_edit.setFocus()
    qtbot.keyClicks(editor.text_edit, "/delay")
    assert editor.picker is not None and editor.picker.isVisible()
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Return)
    text = editor.body()
    assert text.startswith("Hola, Lucía:")
    assert "404-3382716-1234567" in text and "JJD0099" in text and "con DHL" in text
    assert text.rstrip().endswith("Marta\nTienda Sol")
    assert "{" not in text and "/delay" not in text
    assert not editor.picker.isVisible()


def test_without_names_in_the_settings_the_signature_is_a_highlighted_blank(
    qtbot: QtBot, editor: ReplyEditor
) -> None:
    conv = make_conversation(language="es", extra={"tracking_number": "JJD0099", "carrier": "DHL"})
    editor.set_conversation(detail_of(conv))
    assert editor.insert_response("delay")
    text = editor.body()
    assert text.rstrip().endswith("Un cordial saludo,\n{agent.name}\n{shop.name}")  # not silently dropped
    assert editor.text_edit.textCursor().selectedText() == "{agent.name}"  # selected, ready to type over
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "Fill in {agent.name} and 1 more" in editor.message_label.text()
    assert "Tools ▸ Settings" in editor.message_label.text()


def test_unknown_language_gets_the_default_language_variant(qtbot: QtBot, editor: ReplyEditor) -> None:
    set_setting("default_language", "fr")
    editor.set_conversation(detail_of(make_conversation(language="fi", customer_name="Aino Virtanen")))
    assert editor.language() == "fi"
    assert editor.insert_response("delay")
    assert editor.body().startswith("Bonjour Aino,")
    assert "no Finnish version" in editor.message_label.text()


def test_missing_variable_blocks_sending_and_tab_selects_it(qtbot: QtBot, editor: ReplyEditor) -> None:
    set_setting("agent_name", "Sam")
    set_setting("shop_name", "Shop Example")
    conv = make_conversation(language="en", customer_name="Jane Doe")
    editor.set_conversation(detail_of(conv))
    assert editor.insert_response("delay")
    # Inserting selects the first unfilled placeholder straight away.
    assert editor.text_edit.textCursor().selectedText() == "{order.tracking_number}"
    cursor = editor.text_edit.textCursor()
    cursor.setPosition(0)
    editor.text_edit.setTextCursor(cursor)

    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert outbox_rows(conv) == []
    assert editor.message_label.text() == "Fill in {order.tracking_number} before sending"
    assert editor.text_edit.textCursor().selectedText() == "{order.tracking_number}"

    cursor.setPosition(0)
    editor.text_edit.setTextCursor(cursor)
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Tab)
    assert editor.text_edit.textCursor().selectedText() == "{order.tracking_number}"
    qtbot.keyClicks(editor.text_edit, "1Z999")
    assert "1Z999" in editor.body() and "\t" not in editor.body()
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert len(outbox_rows(conv)) == 1


def test_shift_tab_selects_the_previous_placeholder(qtbot: QtBot, editor: ReplyEditor) -> None:
    editor.set_conversation(detail_of(make_conversation()))
    editor.text_edit.setPlainText("A {first} b {second} c")
    cursor = editor.text_edit.textCursor()
    cursor.setPosition(len(editor.body()))
    editor.text_edit.setTextCursor(cursor)
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert editor.text_edit.textCursor().selectedText() == "{second}"
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert editor.text_edit.textCursor().selectedText() == "{first}"
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Tab)
    assert editor.text_edit.textCursor().selectedText() == "{second}"


def test_send_queues_an_outbox_row_and_clears_the_draft(qtbot: QtBot, editor: ReplyEditor) -> None:
    conv = make_conversation()
    editor.set_conversation(detail_of(conv))
    editor.text_edit.setFocus()
    qtbot.keyClicks(editor.text_edit, "Hola Lucia, ya esta en camino.")
    qtbot.waitUntil(lambda: drafts.load_draft(conv) is not None)
    with (
        qtbot.waitSignal(editor.reply_queued) as queued,
        qtbot.waitSignal(editor.status_message) as status,
    ):
        qtbot.keyClick(editor.text_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    (row,) = outbox_rows(conv)
    assert row.body == "Hola Lucia, ya esta en camino."
    assert row.state == "queued" and not row.close_after_send
    assert len(row.recipients) == 1 and row.recipients[0].endswith("@marketplace.amazon.es")
    assert drafts.load_draft(conv) is None
    assert editor.body() == ""
    assert queued.args == [conv, row.get_id(), False]
    assert status.args == ["Sending…"]
    assert Conversation.get_by_id(conv).status == "open"


def test_a_full_database_keeps_the_reply_in_the_editor_and_says_why(
    qtbot: QtBot, editor: ReplyEditor
) -> None:
    """SQLite's own "database or disk is full" (its size capped at what it holds: ``max_page_count`` on this
    thread's connection): nothing is queued, the text stays, the seller is told; with room again it sends."""
    from inbox_app.store.db import database_proxy

    conv = make_conversation()
    editor.set_conversation(detail_of(conv))
    reply = "Hola Lucia, ya esta en camino. " + "Le enviamos el número de seguimiento. " * 3000  # new pages
    editor.text_edit.setPlainText(reply)
    db = database_proxy.obj
    pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
    db.execute_sql(f"PRAGMA max_page_count = {pages}")
    try:
        assert not editor.send()
        assert outbox_rows(conv) == []
        assert editor.body() == reply
        assert editor.message_label.text() == (
            "The disk is full, so the reply was not queued. Your text stays here: free some space, then send."
        )
    finally:
        db.execute_sql("PRAGMA max_page_count = 4294967294")
    assert editor.send()
    assert [row.body for row in outbox_rows(conv)] == [reply]


def test_offline_send_says_queued(qtbot: QtBot, editor: ReplyEditor) -> None:
    conv = make_conversation()
    editor.set_conversation(detail_of(conv))
    editor.set_online(False)
    editor.text_edit.setPlainText("Gracias.")
    with qtbot.waitSignal(editor.status_message) as blocker:
        assert editor.send()
    assert blocker.args == ["Queued — will send when online"]
    assert len(outbox_rows(conv)) == 1


def test_send_and_close_closes_and_undo_reopens(qtbot: QtBot, editor: ReplyEditor) -> None:
    conv = make_conversation()
    editor.set_conversation(detail_of(conv))
    editor.text_edit.setFocus()
    qtbot.keyClicks(editor.text_edit, "Reembolso hecho.")
    modifiers = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    with qtbot.waitSignal(editor.reply_queued) as blocker:
        qtbot.keyClick(editor.text_edit, Qt.Key.Key_Return, modifiers)
    assert blocker.args[2] is True
    (row,) = outbox_rows(conv)
    assert row.close_after_send
    assert Conversation.get_by_id(conv).status == "closed"

    assert editor.cancel_last()
    assert OutboxItem.get_by_id(row.get_id()).state == "cancelled"
    assert Conversation.get_by_id(conv).status == "open"
    assert editor.body() == "Reembolso hecho."
    draft = drafts.load_draft(conv)
    assert draft is not None and draft.body == "Reembolso hecho."
    assert not editor.cancel_last()


def test_send_later_schedules_in_the_future(editor: ReplyEditor) -> None:
    conv = make_conversation()
    editor.set_conversation(detail_of(conv))
    editor.text_edit.setPlainText("Le escribo mañana.")
    assert editor.send_later("business")
    (row,) = outbox_rows(conv)
    assert row.scheduled_at is not None and row.scheduled_at > datetime.now(UTC)
    assert editor.message_label.text().startswith("Scheduled for")


def test_empty_reply_is_not_sent(editor: ReplyEditor) -> None:
    conv = make_conversation()
    editor.set_conversation(detail_of(conv))
    assert not editor.send()
    assert editor.message_label.text() == "Write a reply first."
    assert outbox_rows(conv) == []


def test_draft_is_saved_after_typing_and_restored_on_switch(qtbot: QtBot, editor: ReplyEditor) -> None:
    first, second = make_conversation(), make_conversation(language="de", customer_name="Max Müller")
    editor.set_conversation(detail_of(first))
    editor.text_edit.setFocus()
    qtbot.keyClicks(editor.text_edit, "Borrador uno")
    qtbot.waitUntil(lambda: (d := drafts.load_draft(first)) is not None and d.body == "Borrador uno")
    qtbot.keyClicks(editor.text_edit, " mas")  # switching saves at once, without waiting for the debounce
    editor.set_conversation(detail_of(second))
    saved = drafts.load_draft(first)
    assert saved is not None and saved.body == "Borrador uno mas" and saved.language == "es"
    assert editor.body() == "" and editor.language() == "de"
    editor.set_conversation(detail_of(first))
    assert editor.body() == "Borrador uno mas"
    assert editor.language() == "es"


def test_draft_is_saved_on_close(qtbot: QtBot, editor: ReplyEditor) -> None:
    conv = make_conversation()
    editor.set_conversation(detail_of(conv))
    editor.text_edit.insertPlainText("Escrito justo antes de cerrar")
    editor.close()
    saved = drafts.load_draft(conv)
    assert saved is not None and saved.body == "Escrito justo antes de cerrar"


def test_draft_survives_a_killed_process(reply_profile: Profile) -> None:
    conv = make_conversation()
    reply_profile.close()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.ui.draft_crash_helper",
            str(reply_profile.root),
            str(conv),
            "Sobrevivo",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.strip() == "saved"
    reopened = open_profile(reply_profile.root)
    try:
        draft = drafts.load_draft(conv)
        assert draft is not None and draft.body == "Sobrevivo"
    finally:
        reopened.close()


def test_ebay_attachment_is_refused_with_a_clear_message(tmp_path: Path, editor: ReplyEditor) -> None:
    photo = tmp_path / "foto.jpg"
    photo.write_bytes(b"\xff\xd8" + b"x" * 1000)
    editor.set_conversation(detail_of(make_conversation(kind="ebay")))
    errors = editor.add_files([photo])
    assert len(errors) == 1
    assert "eBay does not accept files" in errors[0] and "foto.jpg" in errors[0] and "link" in errors[0]
    assert editor.message_label.text() == errors[0]
    assert editor.attachments() == []


def test_dropped_file_is_attached_and_kept_in_the_draft(
    qtbot: QtBot, tmp_path: Path, editor: ReplyEditor, reply_profile: Profile
) -> None:
    invoice = tmp_path / "factura.pdf"
    invoice.write_bytes(b"%PDF-1.4 invoice")
    big = tmp_path / "video.mp4"
    with big.open("wb") as fh:  # sparse: 11 MB without writing 11 MB
        fh.truncate(11 * 1024 * 1024)
    conv = make_conversation(kind="amazon")
    editor.set_conversation(detail_of(conv))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(invoice)), QUrl.fromLocalFile(str(big))])
    editor.text_edit.insertFromMimeData(mime)  # what a drop onto the text does
    (attached,) = editor.attachments()
    assert attached["name"] == "factura.pdf" and attached["mime_type"] == "application/pdf"
    assert reply_profile.blobs.read(str(attached["sha256"])) == b"%PDF-1.4 invoice"
    assert "video.mp4" in editor.message_label.text() and "10 MB" in editor.message_label.text()
    assert editor.attachment_strip.isVisible()
    qtbot.waitUntil(lambda: (d := drafts.load_draft(conv)) is not None and len(d.attachments) == 1)
    editor.text_edit.setPlainText("Adjunto la factura.")
    assert editor.send()
    (row,) = outbox_rows(conv)
    assert row.attachments == [attached]
    assert editor.attachments() == []


def test_refreshing_the_same_conversation_keeps_the_text(qtbot: QtBot, editor: ReplyEditor) -> None:
    conv = make_conversation()
    editor.set_conversation(detail_of(conv))
    editor.text_edit.setFocus()
    qtbot.keyClicks(editor.text_edit, "Escribiendo")
    cursor = editor.text_edit.textCursor()
    cursor.setPosition(3)
    editor.text_edit.setTextCursor(cursor)
    editor.set_conversation(detail_of(conv))  # a sync refreshed the thread
    assert editor.body() == "Escribiendo"
    assert editor.text_edit.textCursor().position() == 3
    assert editor.text_edit.document().isUndoAvailable()


def test_send_buttons_show_their_keys_where_there_is_room(qtbot: QtBot, editor: ReplyEditor) -> None:
    from inbox_app.ui.keys import SEND_CLOSE_KEYS, SEND_KEYS, native_key

    editor.resize(900, 240)
    assert editor.send_button.text().endswith(native_key(SEND_KEYS))
    assert editor.send_close_button.text().endswith(native_key(SEND_CLOSE_KEYS))
    editor.resize(editor.minimumSizeHint().width(), 240)  # a narrow pane: keys move to the tooltips
    assert editor.send_button.text() == "Send" and editor.send_close_button.text() == "Send && close"
    assert native_key(SEND_CLOSE_KEYS) in editor.send_close_button.toolTip()
