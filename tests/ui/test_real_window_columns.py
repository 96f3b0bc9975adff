"""Columns fit their content at 1366×768 in every language (the real window, the demo workspace).

The time left (amount first, short units: "−3 T 19h"), the channel ("Amazon.co.uk") and the reply-language
box are never cut; the subject takes the width the fitted columns leave. Measured with the style's own text
rectangle of each cell and the cell's font, so what is checked is what is painted.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

from inbox_app.app import Gui
from inbox_app.ui.conversation_model import Column, time_left_samples
from tests.ui.real_app import make_demo_profile, run_real_app


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo-columns") / "profile"
    make_demo_profile(path, count=120)
    return path


def text_room(listing, row: int, column: Column) -> tuple[str, int, QFont]:  # type: ignore[no-untyped-def]
    """(text, width available for it, font) of one cell, as the delegate paints it."""
    index = listing.model().index(row, column)
    option = QStyleOptionViewItem()
    listing.initViewItemOption(option)  # what the view hands its delegate: icon size, alignment, font
    option.rect = listing.visualRect(index)
    listing.itemDelegate().initStyleOption(option, index)
    rect = listing.style().subElementRect(QStyle.SubElement.SE_ItemViewItemText, option, listing)
    return str(option.text), rect.width(), QFont(option.font)


@pytest.mark.parametrize("lang", ["en", "es", "fr", "de"])
def test_time_left_and_channel_fit_at_1366(qtbot, demo_template: Path, tmp_path: Path, lang: str) -> None:  # type: ignore[no-untyped-def]
    profile = tmp_path / "profile"
    shutil.copytree(demo_template, profile)
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        window, listing = gui.window, gui.window.conversation_list
        qtbot.waitUntil(lambda: gui.controller.model.rowCount() > 20 and not gui.controller.runner.busy())
        qtbot.waitUntil(lambda: listing.rowAt(listing.viewport().height() - 1) > 0)
        cut: list[str] = []
        channels: set[str] = set()
        for row in range(gui.controller.model.rowCount()):  # off-screen rows have the same column widths
            for column in (Column.TIME_LEFT, Column.CHANNEL):
                text, room, font = text_room(listing, row, column)
                if column is Column.CHANNEL and "@" in text:
                    continue  # a shop's mail address may be elided (the icon says "e-mail")
                if column is Column.CHANNEL:
                    channels.add(text)
                if QFontMetrics(font).horizontalAdvance(text) > room:
                    cut.append(
                        f"{column.name}: {text!r} needs {QFontMetrics(font).horizontalAdvance(text)} > {room}"
                    )
        # Every wording the time-left column can show (other views: "Pending", "Snoozed"…), in bold.
        _text, room, font = text_room(listing, 0, Column.TIME_LEFT)
        font.setBold(True)
        for sample in time_left_samples():
            if QFontMetrics(font).horizontalAdvance(sample) > room:
                cut.append(f"sample {sample!r}")
        subject = listing.columnWidth(Column.SUBJECT)
        fixed = sum(listing.columnWidth(c) for c in (Column.TIME_LEFT, Column.CHANNEL, Column.CUSTOMER))
        editor = gui.controller.reply_widget
        combo = editor.language_combo

        def combo_room() -> int:
            return (
                combo.style()
                .subControlRect(
                    QStyle.ComplexControl.CC_ComboBox,
                    _combo_option(combo),
                    QStyle.SubControl.SC_ComboBoxEditField,
                    combo,
                )
                .width()
            )

        def combo_fits() -> bool:
            return combo.fontMetrics().horizontalAdvance(combo.currentText()) <= combo_room()

        # The box sizes itself to its items once the layout runs after a conversation is loaded.
        with contextlib.suppress(qtbot.TimeoutError):  # then the assertion below says by how much
            qtbot.waitUntil(combo_fits, timeout=3000)
        combo_text = combo.currentText()
        seen.update(
            cut=cut,
            subject=subject,
            fixed=fixed,
            channels=channels,
            combo=(combo_text, combo.fontMetrics().horizontalAdvance(combo_text), combo_room()),
            tooltip=listing.model().index(0, Column.TIME_LEFT).data(3),  # Qt.ToolTipRole
            width=window.width(),
        )

    run_real_app(profile, scenario, lang=lang, size=(1366, 768))
    assert seen["width"] == 1366
    assert seen["cut"] == [], seen["cut"]
    assert "Amazon.co.uk" in seen["channels"]  # type: ignore[operator]
    assert seen["subject"] >= 180, f"the subject keeps a useful width ({seen['subject']} px)"  # type: ignore[operator]
    text, needed, room = seen["combo"]  # type: ignore[misc]
    assert needed <= room, f"reply language {text!r} cut: {needed} > {room}"
    if lang == "en":
        assert str(seen["tooltip"]).startswith(("Overdue by", "Due in")), seen["tooltip"]


def _combo_option(combo):  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QStyleOptionComboBox

    option = QStyleOptionComboBox()
    option.initFrom(combo)
    option.currentText = combo.currentText()
    option.editable = combo.isEditable()
    return option


def test_the_reading_pane_header_shows_the_whole_order_number_at_1366(
    qtbot, demo_template: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    profile = tmp_path / "profile"
    shutil.copytree(demo_template, profile)
    seen: list[str] = []

    def scenario(gui: Gui) -> None:
        listing, meta = gui.window.conversation_list, gui.window.thread_view.meta
        qtbot.waitUntil(lambda: gui.controller.model.rowCount() > 20 and not gui.controller.runner.busy())
        for row in range(12):  # the first conversations, as a seller reads them
            listing.select_row(row)
            qtbot.waitUntil(lambda: gui.controller.current_id() is not None and bool(meta.text()))

            def fits() -> bool:
                if not meta.wordWrap():
                    return QFontMetrics(meta.font()).horizontalAdvance(meta.text()) <= meta.width()
                return meta.height() >= meta.heightForWidth(meta.width())

            with contextlib.suppress(qtbot.TimeoutError):  # the layout settles after the text is set
                qtbot.waitUntil(fits, timeout=2000)
            if not fits():
                seen.append(meta.text())

    run_real_app(profile, scenario, lang="de", size=(1366, 768))
    assert seen == []
