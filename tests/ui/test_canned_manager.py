"""The canned-response manager: edit, duplicate, delete (confirmed), and export → import round trips."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox, QPlainTextEdit
from pytestqt.qtbot import QtBot

from inbox_app.profile import Profile
from inbox_app.store import canned
from inbox_app.ui.canned_manager import CannedManagerDialog
from tests.ui.reply_fixtures import reply_profile

__all__ = ["reply_profile"]  # the fixture is used by name

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def dialog(qtbot: QtBot, reply_profile: Profile) -> Iterator[CannedManagerDialog]:
    widget = CannedManagerDialog()
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.close()


def by_key() -> dict[str, object]:
    return {r.key: r for r in canned.all_responses()}


def test_lists_the_library_by_category_with_usage(dialog: CannedManagerDialog) -> None:
    canned.record_use("refund")
    dialog.reload()
    assert set(dialog.keys()) == set(by_key())
    tops = [dialog.tree.topLevelItem(i) for i in range(dialog.tree.topLevelItemCount())]
    groups = {top.text(0): top for top in tops if top is not None}
    assert "Late delivery" in groups
    refund = groups["Refund"].child(0)
    assert refund is not None
    assert refund.text(1) == "/refund" and refund.text(2) == "1"


def test_create_edit_languages_and_save(dialog: CannedManagerDialog) -> None:
    dialog.new_response()
    dialog.title_edit.setText("Gift wrapping")
    dialog.key_edit.setText("gift")
    dialog.category.setEditText("presents")
    edit = dialog.tabs.widget(0)
    assert isinstance(edit, QPlainTextEdit)
    edit.setPlainText("Hello {customer.first_name}, yes we wrap gifts.")
    dialog.add_language("es", "Hola {customer.first_name}, sí envolvemos regalos.")
    assert dialog.save_current()
    saved = canned.all_responses()
    gift = next(r for r in saved if r.key == "gift")
    assert gift.category == "presents"
    assert gift.variants == {
        "en": "Hello {customer.first_name}, yes we wrap gifts.",
        "es": "Hola {customer.first_name}, sí envolvemos regalos.",
    }
    # Renaming the shortcut replaces the response instead of leaving a copy behind.
    dialog.key_edit.setText("wrap")
    assert dialog.save_current()
    assert "wrap" in by_key() and "gift" not in by_key()


def test_invalid_input_is_refused_with_a_clear_message(dialog: CannedManagerDialog) -> None:
    dialog.new_response()
    dialog.title_edit.setText("Bad")
    dialog.key_edit.setText("bad key!")
    edit = dialog.tabs.widget(0)
    assert isinstance(edit, QPlainTextEdit)
    edit.setPlainText("text")
    assert not dialog.save_current()
    assert "may only contain letters" in dialog.message_text
    dialog.key_edit.setText("refund")  # taken by another response
    assert not dialog.save_current()
    assert dialog.message_text == "The shortcut “/refund” is already used by another response."


def test_duplicate_then_delete_with_confirmation(
    dialog: CannedManagerDialog, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog.reload(select_key="delay")
    dialog.duplicate_current()
    assert dialog.key_edit.text() == "delay_copy"
    assert dialog.save_current()
    copy = by_key()["delay_copy"]
    assert copy.variants == by_key()["delay"].variants  # type: ignore[attr-defined]

    answers = iter([QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(QMessageBox, "question", lambda *_args, **_kw: next(answers))
    assert not dialog.delete_current()
    assert "delay_copy" in by_key()
    assert dialog.delete_current()
    assert "delay_copy" not in by_key()


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_export_import_round_trip(dialog: CannedManagerDialog, tmp_path: Path, suffix: str) -> None:
    before = canned.all_responses()
    path = tmp_path / f"library{suffix}"
    assert dialog.export_file(path) == len(before)
    for item in before:
        canned.delete(item.key)
    dialog.reload()
    assert dialog.keys() == []
    assert dialog.import_file(path) == len(before)
    assert "Imported" in dialog.message_text
    after = canned.all_responses()
    assert sorted((r.key, r.title, r.category, r.variants) for r in after) == sorted(
        (r.key, r.title, r.category, r.variants) for r in before
    )


def test_broken_import_explains_and_changes_nothing(dialog: CannedManagerDialog, tmp_path: Path) -> None:
    before = by_key()
    bad = tmp_path / "broken.csv"
    bad.write_text("key,title\nx,y\n", encoding="utf-8")
    assert dialog.import_file(bad) == 0
    assert "Nothing was imported from broken.csv" in dialog.message_text
    assert "category" in dialog.message_text
    assert set(by_key()) == set(before)
