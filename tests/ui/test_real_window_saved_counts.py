"""Saved searches keep their sidebar counts live in the real window: a tag added with t, a status changed with
p, and each Ctrl+Z, move the counts of the saved searches they touch (real key events, the app's own loop);
a new tag shows in the sidebar's Tags at once (and stays, with no count, once undone: a tag list is a
vocabulary)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from inbox_app import i18n
from inbox_app.app import Gui
from inbox_app.domain.views import View, ViewKind
from inbox_app.profile import open_profile
from inbox_app.services import search
from tests.ui.real_app import make_demo_profile, run_real_app
from tests.ui.test_real_window_keyboard import press
from tests.ui.test_real_window_triage import idle, pick, refocus, select_three

pytestmark = pytest.mark.qt_log_ignore(
    "This plugin does not support propagateSizeHints",
    "This plugin does not support raise",
    "This plugin does not support grabbing the keyboard",
)

SAVED = {"Urgent": "tag:urgente", "Open": "status:open"}


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("saved-counts") / "profile"
    make_demo_profile(path, count=20)
    i18n.setup("en")
    profile = open_profile(path)
    try:
        for name, query in SAVED.items():
            search.save_search(name, query)
    finally:
        profile.close()
    return path


def test_saved_search_counts_follow_tags_statuses_and_undo(qtbot, demo_profile: Path) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        sidebar = gui.window.sidebar

        def shown() -> dict[str, str]:
            return {name: sidebar.count_text(View(ViewKind.SAVED, name)) for name in SAVED}

        def counted() -> dict[str, str]:
            return {name: (str(n) if (n := search.count(q)) else "") for name, q in SAVED.items()}

        qtbot.waitUntil(lambda: all(sidebar.index_of(View(ViewKind.SAVED, n)).isValid() for n in SAVED))
        qtbot.waitUntil(lambda: shown() == counted())
        start = shown()
        seen["start"] = start

        select_three(qtbot, gui)
        press(Qt.Key.Key_T)
        pick(qtbot, "urgente")
        qtbot.waitUntil(lambda: idle(gui) and shown() == counted() and shown() != start)
        seen["tagged"] = shown()
        tag_view = View(ViewKind.TAG, "urgente")
        qtbot.waitUntil(lambda: sidebar.count_text(tag_view) == "3")  # the new tag is in the sidebar too

        refocus(qtbot, gui)
        select_three(qtbot, gui)
        press(Qt.Key.Key_P)
        qtbot.waitUntil(lambda: idle(gui) and shown() == counted() and shown() != seen["tagged"])
        seen["pending"] = shown()
        gui.window.grab().save(str(demo_profile.parent / "saved-counts.png"))

        press(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        press(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: idle(gui) and shown() == start)
        qtbot.waitUntil(lambda: sidebar.count_text(tag_view) in ("", "0"))  # the tag is kept, unused

    run_real_app(demo_profile, scenario)
    start, tagged, pending = (dict(seen[k]) for k in ("start", "tagged", "pending"))  # type: ignore[call-overload]
    as_int = lambda text: int(text or 0)  # noqa: E731
    assert as_int(tagged["Urgent"]) == as_int(start["Urgent"]) + 3
    assert as_int(pending["Open"]) == as_int(start["Open"]) - 3
