"""Tools → Reports on a profile whose stored episodes all wait to be computed (a fresh bulk import) does not
freeze the main window (issue 15, item 5): the catch-up runs as short steps on the single database worker and
the list's own work runs in between — j moves to the next conversation and shows its thread, a view switch
shows its rows — before the report is done. Closing the report window stops the catch-up (what is done stays
done), opening it again resumes; at the end the figures are the CLI's and the progress bar is gone.

Why deterministic without sleeps: each step is one transaction of a few conversations
(``CATCH_UP_SECONDS = 0``), so the catch-up is a long series of worker jobs whatever the machine's speed, and a
list query queued by the test runs after at most the step under way.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from inbox_app.app import Gui
from inbox_app.domain.views import View, ViewKind
from inbox_app.services import reports as report_service
from inbox_app.ui.reports_window import ReportsWindow
from tests.ui.real_app import cli, make_demo_profile, run_real_app
from tests.ui.test_real_window_keyboard import focused, wait_ready
from tests.ui.test_real_window_reports import _click_menu

COUNT = 600
STEP = 4  # conversations per step: 150 steps


def _waiting(profile: Path) -> int:
    """Conversations whose episodes still wait, read from the file as another process would."""
    with sqlite3.connect(profile / "inbox.sqlite3") as conn:
        count = int(conn.execute("SELECT count(*) FROM report_dirty").fetchone()[0])
    conn.close()
    return count


@pytest.mark.qt_log_ignore(
    "This plugin does not support raise", "This plugin does not support grabbing the keyboard"
)
def test_the_main_list_answers_while_the_report_catches_up(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    profile = tmp_path / "profile"
    make_demo_profile(profile, count=COUNT)
    assert _waiting(profile) == COUNT
    monkeypatch.setattr(report_service, "CATCH_UP_BATCH", STEP)
    monkeypatch.setattr(report_service, "CATCH_UP_SECONDS", 0.0)
    steps: list[tuple[int, int]] = []
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        first = wait_ready(qtbot, gui)
        controller = gui.controller
        _click_menu(qtbot, gui, "Tools", "reports")
        qtbot.waitUntil(lambda: isinstance(controller._reports_window, ReportsWindow))
        reports = controller._reports_window
        assert reports is not None
        reports.progress_changed.connect(lambda done, total: steps.append((done, total)))
        qtbot.waitUntil(lambda: len(steps) >= 2)
        seen["progress_text"] = reports.progress.text()
        # closed during the catch-up: no further step is queued, what was done stays done
        reports.close()
        qtbot.waitUntil(lambda: not controller.runner.busy())
        seen["stopped"] = (reports.catching_up(), reports.report, len(steps))
        seen["waiting_after_close"] = _waiting(profile)
        # opened again (Tools → Reports): it resumes with what is left
        gui.window.activateWindow()
        qtbot.waitUntil(gui.window.isActiveWindow)
        _click_menu(qtbot, gui, "Tools", "reports")
        qtbot.waitUntil(lambda: reports.isVisible() and reports.catching_up())
        resumed_from = len(steps)
        qtbot.waitUntil(lambda: len(steps) > resumed_from)
        seen["resumed_total"] = steps[resumed_from][1]
        # back in the main window: j moves to the next conversation and its thread is shown
        gui.window.activateWindow()
        qtbot.waitUntil(gui.window.isActiveWindow)
        gui.window.conversation_list.setFocus()
        qtbot.waitUntil(lambda: focused() is gui.window.conversation_list)
        QTest.keyClick(focused(), Qt.Key.Key_J)
        qtbot.waitUntil(lambda: controller.current_id() not in (None, first))
        detail = gui.window.thread_view.detail()
        seen["j"] = (
            detail is not None and detail.summary.id == controller.current_id(),
            reports.catching_up(),
        )
        # a view switch with the mouse: its ids come from the same worker, between two steps
        when_loaded: list[tuple[bool, object, int, int]] = []
        controller.ids_loaded.connect(
            lambda: when_loaded.append(
                (reports.catching_up(), reports.report, reports.progress.value(), reports.progress.maximum())
            )
        )
        sidebar = gui.window.sidebar
        closed = sidebar.index_of(View(ViewKind.CLOSED))
        sidebar.scrollTo(closed)
        with qtbot.waitSignal(controller.ids_loaded, timeout=10_000):
            QTest.mouseClick(
                sidebar.viewport(), Qt.MouseButton.LeftButton, pos=sidebar.visualRect(closed).center()
            )
        seen["view_loaded"] = when_loaded[0]
        seen["closed_ids"] = sorted(controller.model.ids())
        seen["view"] = controller.model.view
        # the report comes when the catch-up is done, and the progress bar goes
        qtbot.waitUntil(lambda: reports.report is not None, timeout=60_000)
        report = reports.report
        assert report is not None
        seen["total"] = (report.total.conversations, report.total.late, report.total.open_overdue)
        seen["progress_visible"] = reports.progress.isVisible()

    run_real_app(profile, scenario)
    assert "Preparing the report:" in str(seen["progress_text"]) and f"of {COUNT} conversations" in str(
        seen["progress_text"]
    )
    catching_up, report, steps_at_close = seen["stopped"]  # type: ignore[misc]
    assert not catching_up and report is None
    # the step under way when the window closed is committed, only not shown
    reported_left = COUNT - steps[steps_at_close - 1][0]
    assert reported_left - STEP <= seen["waiting_after_close"] <= reported_left  # type: ignore[operator]
    assert seen["waiting_after_close"] > 0  # type: ignore[operator]
    assert seen["resumed_total"] == seen["waiting_after_close"]
    assert seen["j"] == (True, True)
    catching_up, report, done, total = seen["view_loaded"]  # type: ignore[misc]
    assert catching_up and report is None and 0 < done < total
    assert seen["view"] == View(ViewKind.CLOSED)
    closed = json.loads(cli(profile, "list", "--view", "closed", "--json").stdout)
    assert seen["closed_ids"] == sorted(c["id"] for c in closed) and closed
    assert steps[-1][0] == steps[-1][1] == seen["waiting_after_close"]
    assert seen["progress_visible"] is False
    assert _waiting(profile) == 0
    expected = json.loads(cli(profile, "report", "--json").stdout)["total"]
    assert seen["total"] == (expected["conversations"], expected["late"], expected["open_overdue"])
