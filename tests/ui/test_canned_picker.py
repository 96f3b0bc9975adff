"""The "/" picker: fuzzy search, preview in the buyer's language, keyboard-only from open to sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from inbox_app.domain.canned_library import CannedResponseData
from inbox_app.profile import Profile
from inbox_app.store import canned
from inbox_app.store.models import OutboxItem
from inbox_app.ui.canned_picker import search_responses
from inbox_app.ui.reply_editor import ReplyEditor
from tests.ui.reply_fixtures import detail_of, make_conversation, reply_profile, set_setting

__all__ = ["reply_profile"]  # the fixture is used by name

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

RETRASO = CannedResponseData(
    key="retraso",
    title="Retraso de envío",
    category="delivery_late",
    variants={"es": "Hola {customer.first_name}: su pedido {order.id} lleva retraso. Disculpe."},
)


@pytest.fixture
def editor(qtbot: QtBot, reply_profile: Profile) -> Iterator[ReplyEditor]:
    canned.upsert([RETRASO])
    widget = ReplyEditor(blobs=reply_profile.blobs)
    qtbot.addWidget(widget)
    widget.resize(900, 520)
    widget.show()
    yield widget
    widget.close()


def test_fuzzy_search_finds_delay_and_retraso_from_del(reply_profile: Profile) -> None:
    canned.upsert([RETRASO])
    keys = [r.key for r in search_responses("del", canned.all_responses())]
    assert keys[0] == "delay"  # the shortcut itself wins
    assert "retraso" in keys  # found through its category "delivery_late"
    assert "refund" not in keys
    assert search_responses("retras", canned.all_responses())[0].key == "retraso"
    assert search_responses("qqqzz", canned.all_responses()) == []


def test_empty_query_lists_most_used_first(reply_profile: Profile) -> None:
    canned.record_use("thanks")
    canned.record_use("thanks")
    canned.record_use("refund")
    keys = [r.key for r in search_responses("", canned.all_responses(), canned.usage_counts())]
    assert keys[:2] == ["thanks", "refund"]


def test_slash_opens_the_picker_with_a_spanish_preview(qtbot: QtBot, editor: ReplyEditor) -> None:
    editor.set_conversation(detail_of(make_conversation(language="es")))
    editor.text_edit.setFocus()
    qtbot.keyClicks(editor.text_edit, "Hola /del")
    picker = editor.picker
    assert picker is not None and picker.isVisible()
    assert picker.query == "del"
    assert picker.current() is not None and picker.current().key == "delay"  # type: ignore[union-attr]
    assert picker.heading.text().endswith("· es")
    assert "Lamentamos que su pedido 404-3382716-1234567" in picker.preview.toPlainText()
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Down)
    assert picker.current() is not None and picker.current().key != "delay"  # type: ignore[union-attr]
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Up)
    assert picker.current().key == "delay"  # type: ignore[union-attr]


def test_slash_inside_a_word_does_not_open_it(qtbot: QtBot, editor: ReplyEditor) -> None:
    editor.set_conversation(detail_of(make_conversation()))
    editor.text_edit.setFocus()
    qtbot.keyClicks(editor.text_edit, "see https://example.com/delivery and 1/del")
    assert editor.picker is None or not editor.picker.isVisible()


def test_escape_closes_and_stays_closed_for_that_word(qtbot: QtBot, editor: ReplyEditor) -> None:
    editor.set_conversation(detail_of(make_conversation()))
    editor.text_edit.setFocus()
    qtbot.keyClicks(editor.text_edit, "/usr")
    assert editor.picker is not None and editor.picker.isVisible()
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Escape)
    assert not editor.picker.isVisible()
    qtbot.keyClicks(editor.text_edit, "/bin")
    assert not editor.picker.isVisible()
    assert editor.body() == "/usr/bin"
    qtbot.keyClicks(editor.text_edit, " /ref")  # a new "/" word opens it again
    assert editor.picker.isVisible() and editor.picker.query == "ref"


def test_ctrl_space_opens_the_picker_and_typing_filters(qtbot: QtBot, editor: ReplyEditor) -> None:
    editor.set_conversation(detail_of(make_conversation(language="es")))
    editor.text_edit.setFocus()
    qtbot.keyClicks(editor.text_edit, "Hola. ")
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    picker = editor.picker
    assert picker is not None and picker.isVisible() and picker.query == ""
    qtbot.keyClicks(editor.text_edit, "retras")
    assert picker.query == "retras"
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Return)
    assert editor.body().startswith("Hola. Hola Lucía: su pedido 404-3382716-1234567 lleva retraso.")


def test_keyboard_only_from_open_to_sent(qtbot: QtBot, editor: ReplyEditor) -> None:
    set_setting("agent_name", "Marta")
    set_setting("shop_name", "Tienda Sol")
    conv = make_conversation(language="es", extra={"carrier": "SEUR"})
    editor.set_conversation(detail_of(conv))
    editor.text_edit.setFocus()
    qtbot.keyClicks(editor.text_edit, "/del")
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Return)  # insert: the missing tracking number is selected
    assert editor.text_edit.textCursor().selectedText() == "{order.tracking_number}"
    qtbot.keyClicks(editor.text_edit, "SEU123")  # typing replaces the selection
    qtbot.keyClick(editor.text_edit, Qt.Key.Key_Tab)  # nothing left to fill: Tab moves on
    editor.text_edit.setFocus()
    with qtbot.waitSignal(editor.reply_queued):
        qtbot.keyClick(editor.text_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    (row,) = OutboxItem.select().where(OutboxItem.conversation == conv)
    assert "SEUR" in row.body and "SEU123" in row.body and row.body.startswith("Hola, Lucía:")
    assert canned.usage_counts()["delay"] == 1
    assert editor.body() == ""
