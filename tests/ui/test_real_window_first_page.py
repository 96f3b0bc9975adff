"""Opening a big view in the real window (``open_gui`` + the app's loop): the first screenful of the view is
shown from its first page, the rest is appended under it without moving the selection, and the keyboard then
reaches every conversation of the view (End: the last one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from inbox_app.app import Gui
from inbox_app.domain.views import View, ViewKind
from inbox_app.services import conversations
from inbox_app.ui import controller as controller_module
from inbox_app.ui.conversation_model import ConversationListModel
from tests.ui.real_app import make_demo_profile, run_real_app

PAGE = 4


@pytest.fixture
def demo_profile(tmp_path: Path) -> Path:
    path = tmp_path / "profile"
    make_demo_profile(path, count=30)
    return path


def test_a_view_opens_on_its_first_page_then_end_reaches_its_last_conversation(  # type: ignore[no-untyped-def]
    qtbot, demo_profile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(controller_module, "FIRST_PAGE", PAGE)
    # What the list was given, in order (recorded from the start: the first page may arrive before the scenario
    # runs): a reset to the first page, then the whole view appended.
    resets: list[list[int]] = []
    extended: list[tuple[int, int]] = []
    original_set, original_extend = ConversationListModel.set_ids, ConversationListModel.extend_ids

    def set_ids(model: ConversationListModel, ids, **kwargs) -> None:  # type: ignore[no-untyped-def]
        resets.append(list(ids))
        original_set(model, ids, **kwargs)

    def extend_ids(model: ConversationListModel, ids) -> None:  # type: ignore[no-untyped-def]
        extended.append((model.rowCount(), len(ids)))
        original_extend(model, ids)

    monkeypatch.setattr(ConversationListModel, "set_ids", set_ids)
    monkeypatch.setattr(ConversationListModel, "extend_ids", extend_ids)
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        window, model = gui.window, gui.controller.model
        expected = conversations.conversation_ids(View(ViewKind.OPEN))
        assert len(expected) > 2 * PAGE
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        qtbot.waitUntil(lambda: model.ids() == expected)
        assert resets[-1] == expected[:PAGE]  # the list started from the view's first page…
        assert extended[-1] == (PAGE, len(expected))  # …and the rest was appended under it
        assert gui.controller.current_id() == expected[0]  # the first row stayed selected
        listing = window.conversation_list
        listing.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is listing)
        QTest.keyClick(listing, Qt.Key.Key_End)
        qtbot.waitUntil(lambda: gui.controller.current_id() == expected[-1])
        QTest.keyClick(listing, Qt.Key.Key_K)
        qtbot.waitUntil(lambda: gui.controller.current_id() == expected[-2])
        seen["count"] = len(expected)

    run_real_app(demo_profile, scenario)
    assert seen["count"]
