"""Reading in the real window: starting the app marks nothing read; opening (Enter, a click) or dwelling does."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from inbox_app import i18n
from inbox_app.app import Gui
from inbox_app.profile import open_profile
from inbox_app.store.models import Setting
from tests.ui.conftest import Seed
from tests.ui.real_app import cli, run_real_app


def make_unread_profile(path: Path, count: int = 4, *, delay: float | None = None) -> None:
    i18n.setup("en")
    profile = open_profile(path)
    try:
        Seed(profile).many(count)
        if delay is not None:
            Setting.replace(key="mark_read_delay_seconds", value=delay).execute()
    finally:
        profile.close()


def unread_ids(path: Path) -> set[int]:
    out = cli(path, "list", "--json")
    assert out.returncode == 0, out.stderr
    return {row["id"] for row in json.loads(out.stdout) if row["unread"]}


def unread_in(listing, cid: int) -> bool:  # type: ignore[no-untyped-def]
    model = listing.conversation_model()
    summary = model.summary_at(model.row_of(cid))
    return bool(summary.unread)


def test_starting_the_app_selects_the_top_conversation_but_leaves_it_unread(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    make_unread_profile(
        path, delay=0.05
    )  # even a short dwell delay does not apply to the app's own selection
    before = unread_ids(path)
    assert len(before) == 4
    shown: list[int | None] = []

    def scenario(gui: Gui) -> None:
        qtbot.waitUntil(lambda: gui.controller.current_id() is not None)
        shown.append(gui.controller.current_id())
        assert not gui.controller._read_timer.isActive(), "no dwell timer for the app's own selection"
        with qtbot.waitSignal(gui.controller.counts_updated, timeout=5000):
            gui.controller.refresh_counts()  # one more round trip through the worker and the loop

    run_real_app(path, scenario)
    assert shown[0] in before
    assert unread_ids(path) == before, "nothing was marked read without the seller opening it"


def test_enter_opens_and_marks_read_while_moving_with_j_marks_after_the_delay(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    make_unread_profile(path, delay=0.3)
    before = unread_ids(path)
    ids: dict[str, int] = {}

    def scenario(gui: Gui) -> None:
        listing = gui.window.conversation_list
        gui.window.activateWindow()
        qtbot.waitUntil(lambda: gui.controller.current_id() is not None)
        listing.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is listing)
        ids["first"] = gui.controller.current_id() or 0
        QTest.keyClick(listing, Qt.Key.Key_Return)  # open: read at once, cursor in the reply box
        qtbot.waitUntil(lambda: not unread_in(listing, ids["first"]))
        listing.setFocus()
        QTest.keyClick(listing, Qt.Key.Key_J)  # next: read once it stayed selected for the delay
        qtbot.waitUntil(lambda: gui.controller.current_id() != ids["first"])
        ids["second"] = gui.controller.current_id() or 0
        assert gui.controller._read_timer.isActive()
        qtbot.waitUntil(lambda: not unread_in(listing, ids["second"]))

    run_real_app(path, scenario)
    assert unread_ids(path) == before - {ids["first"], ids["second"]}
