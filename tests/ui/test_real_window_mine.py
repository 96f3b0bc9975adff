"""Assignment in the real window (``open_gui`` + the app's loop, real keys and clicks): with "Your name" set to
Marta, a assigns the selection to her; the sidebar's Mine and Unassigned counts follow, a click on Mine lists
exactly her conversations, and Ctrl+Z hands them back."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from inbox_app import i18n
from inbox_app.app import Gui
from inbox_app.domain.views import View, ViewKind
from inbox_app.profile import open_profile
from inbox_app.services import settings
from tests.ui.real_app import make_demo_profile, run_real_app
from tests.ui.test_real_window_keyboard import press
from tests.ui.test_real_window_triage import idle, pick, refocus, select_three

pytestmark = pytest.mark.qt_log_ignore(
    "This plugin does not support propagateSizeHints",
    "This plugin does not support raise",
    "This plugin does not support grabbing the keyboard",
)

MINE, UNASSIGNED = View(ViewKind.MINE), View(ViewKind.UNASSIGNED)


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mine") / "profile"
    make_demo_profile(path, count=16)
    i18n.setup("en")
    profile = open_profile(path)
    try:
        settings.set_setting(settings.AGENT_NAME, "Marta")  # Tools ▸ Settings ▸ Your name
    finally:
        profile.close()
    return path


def count(gui: Gui, view: View) -> int:
    return int(gui.window.sidebar.count_text(view) or 0)


def test_a_assigns_to_me_mine_lists_them_and_ctrl_z_gives_them_back(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        sidebar = gui.window.sidebar
        qtbot.waitUntil(lambda: sidebar.count_text(UNASSIGNED) != "")
        unassigned, mine = count(gui, UNASSIGNED), count(gui, MINE)
        ids = select_three(qtbot, gui)
        press(Qt.Key.Key_A)
        pick(qtbot, "Marta")
        qtbot.waitUntil(lambda: idle(gui) and count(gui, MINE) == mine + 3)
        seen["unassigned"] = (unassigned, count(gui, UNASSIGNED))

        rect = sidebar.visualRect(sidebar.index_of(MINE))
        QTest.mouseClick(sidebar.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.waitUntil(lambda: sorted(gui.controller.model.ids()) == sorted(ids))
        gui.window.grab().save(str(demo_profile.parent / "mine.png"))

        refocus(qtbot, gui)
        press(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(
            lambda: idle(gui) and count(gui, MINE) == mine and list(gui.controller.model.ids()) == []
        )
        seen["back"] = count(gui, UNASSIGNED)

    run_real_app(demo_profile, scenario)
    before, after = seen["unassigned"]  # type: ignore[misc]
    assert after == before - 3
    assert seen["back"] == before
