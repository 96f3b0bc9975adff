"""Tools → Reports in the real window (``open_gui`` + the app's loop): figures, group-by, drill-down to a conversation.

The figures shown must be the ones ``inbox-app report --json`` prints for the same workspace; clicking a figure
lists the conversations behind it, and opening one selects it in the main window.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from inbox_app.app import Gui
from inbox_app.ui.reports_window import FIGURES, DrillDownDialog, ReportsWindow
from tests.ui.real_app import cli, make_demo_profile, run_real_app
from tests.ui.test_real_window_keyboard import wait_ready


def _click_menu(qtbot, gui: Gui, menu_title: str, action_name: str) -> None:  # type: ignore[no-untyped-def]
    bar = gui.window.menuBar()
    menu_action = next(a for a in bar.actions() if a.text().replace("&", "") == menu_title)
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(menu_action).center())
    menu = menu_action.menu()
    assert isinstance(menu, QMenu)
    qtbot.waitUntil(menu.isVisible)
    target = gui.window.actions_by_name[action_name]
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(target).center())


# offscreen cannot raise a window or grab the keyboard for a menu; both are harmless here.
@pytest.mark.qt_log_ignore(
    "This plugin does not support raise", "This plugin does not support grabbing the keyboard"
)
def test_reports_window_shows_the_cli_figures_and_drills_down_to_a_conversation(
    qtbot, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    profile = tmp_path / "profile"
    make_demo_profile(profile, count=40)
    expected = json.loads(cli(profile, "report", "--json").stdout)
    by_account = json.loads(cli(profile, "report", "--json", "--by", "account").stdout)
    seen: dict[str, object] = {}
    shots = os.environ.get("REPORT_SHOTS")

    def scenario(gui: Gui) -> None:
        wait_ready(qtbot, gui)
        _click_menu(qtbot, gui, "Tools", "reports")
        qtbot.waitUntil(lambda: isinstance(gui.controller._reports_window, ReportsWindow))
        window = gui.controller._reports_window
        assert window is not None
        qtbot.waitUntil(lambda: window.isVisible() and window.report is not None)
        model = window.model
        total_row = model.rowCount() - 1
        seen["total_conversations"] = model.index(total_row, 1).data()
        seen["keys"] = [model.index(r, 0).data() for r in range(total_row)]
        seen["overdue_button"] = window.figure_buttons["open_overdue"].text()
        if shots:
            for size in ((1366, 768), (1920, 1080)):
                window.resize(*size)
                qtbot.waitUntil(lambda s=size: (window.width(), window.height()) == s)
                window.grab().save(str(Path(shots) / f"reports-{size[0]}x{size[1]}.png"))
        # group by account with the keyboard
        window.group_box.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is window.group_box)
        with qtbot.waitSignal(window.report_ready, timeout=20_000):
            QTest.keyClick(window.group_box, Qt.Key.Key_Down)
        seen["account_keys"] = [model.index(r, 0).data() for r in range(model.rowCount() - 1)]
        seen["account_total_late"] = model.index(model.rowCount() - 1, 8).data()
        # click "Overdue now" of the total row: the conversations behind it
        column = 1 + FIGURES.index("open_overdue")
        index = model.index(model.rowCount() - 1, column)
        window.table.scrollTo(index)
        QTest.mouseClick(
            window.table.viewport(), Qt.MouseButton.LeftButton, pos=window.table.visualRect(index).center()
        )
        qtbot.waitUntil(lambda: isinstance(getattr(window, "drill_dialog", None), DrillDownDialog))
        dialog = window.drill_dialog
        qtbot.waitUntil(dialog.isVisible)
        seen["drill_count"] = dialog.list.count()
        dialog.list.setCurrentRow(dialog.list.count() - 1)
        chosen = dialog.chosen_id()
        dialog.list.setFocus()
        QTest.keyClick(dialog.list, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not dialog.isVisible())
        qtbot.waitUntil(lambda: gui.controller.current_id() == chosen)
        seen["opened"] = chosen

    run_real_app(profile, scenario)
    total = expected["total"]
    assert seen["total_conversations"] == str(total["conversations"])
    assert seen["keys"] == [g["key"] for g in expected["groups"]]
    assert str(total["open_overdue"]) in str(seen["overdue_button"])
    assert seen["account_keys"] == [g["key"] for g in by_account["groups"]]
    assert seen["drill_count"] == total["open_overdue"] > 0
    assert seen["opened"] is not None


@pytest.mark.qt_log_ignore(
    "This plugin does not support raise", "This plugin does not support grabbing the keyboard"
)
def test_reports_window_shows_progress_exports_a_workbook_and_drills_a_big_figure(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A fresh import leaves every conversation's episodes to compute: the window counts them in its progress
    bar (off the UI thread), then Export → Workbook writes the XLSX the CLI would write, and a click on the
    big "Late response rate" figure lists the late conversations."""
    import openpyxl  # a test dependency (pyproject): a missing one fails, never skips
    from PySide6.QtWidgets import QFileDialog

    from inbox_app.store import report_episodes

    profile = tmp_path / "profile"
    make_demo_profile(profile, count=40)
    monkeypatch.setattr(report_episodes, "BATCH", 7)  # several batches, so several progress steps
    target = tmp_path / "out" / "report.xlsx"
    target.parent.mkdir()
    # the platform's file dialog is not what this test checks: answer it with the target path
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    steps: list[tuple[int, int]] = []
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        wait_ready(qtbot, gui)
        window = gui.controller.open_reports()
        window.progress_changed.connect(lambda done, total: steps.append((done, total)))
        qtbot.waitUntil(lambda: window.report is not None, timeout=20_000)
        seen["late"] = window.report.total.late if window.report else None
        # Export → Workbook (XLSX)… with the mouse. The button's menu runs its own modal loop inside the click,
        # so the action is clicked from a timer while that loop runs.
        button = window.export_button
        menu = button.menu()

        def pick() -> None:
            if not menu.isVisible():
                QTimer.singleShot(20, pick)
                return
            action = next(a for a in menu.actions() if a.text() == "Workbook (XLSX)…")
            QTest.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())

        QTimer.singleShot(0, pick)
        with qtbot.waitSignal(window.exported, timeout=20_000):
            QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        # the big figure: click it, the late conversations are listed
        figure = window.figure_buttons["late_response_rate"]
        QTest.mouseClick(figure, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: isinstance(getattr(window, "drill_dialog", None), DrillDownDialog))
        seen["drill_count"] = window.drill_dialog.list.count()
        seen["drill_title"] = window.drill_dialog.windowTitle()
        window.drill_dialog.close()

    run_real_app(profile, scenario)
    assert steps, "the catch-up reported its progress"
    done, total = steps[-1]
    assert done == total and total >= 40 and len(steps) >= 2
    expected = json.loads(cli(profile, "report", "--json").stdout)["total"]
    wb = openpyxl.load_workbook(target, read_only=True)
    total_row = [list(r) for r in wb["Summary"].iter_rows(values_only=True)][-1]
    assert total_row[0] == "Total" and total_row[1] == expected["conversations"]
    assert seen["late"] == expected["late"] > 0
    late_conversations = len(
        {r[0] for r in wb["Episodes"].iter_rows(min_row=2, values_only=True) if r[9] == 1}
    )
    assert seen["drill_count"] == late_conversations
    assert "Late response rate" in str(seen["drill_title"])
