"""Tools → Reports in the real window, driven by key and mouse: every period preset and a custom period, every
group-by, the four charts, the marketplaces' 7/30/90-day late rate, the help, a drill-down from a group's cell,
and the window in German. The figures are checked against ``inbox-app report --json`` for the same dates.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMenu, QMessageBox, QPushButton, QWidget

from inbox_app.app import Gui
from inbox_app.domain.deadlines import MARKETPLACE_KINDS
from inbox_app.services import reports as report_service
from inbox_app.ui.report_charts import PATTERNS, BarChart
from inbox_app.ui.reports_window import FIGURES, DrillDownDialog, ReportsWindow, category_text, rate_text
from tests.ui.real_app import cli, make_demo_profile, run_real_app
from tests.ui.test_real_window_keyboard import wait_ready

IGNORED = ("This plugin does not support raise", "This plugin does not support grabbing the keyboard")


def _open_reports(qtbot, gui: Gui) -> ReportsWindow:  # type: ignore[no-untyped-def]
    """Tools → Reports with the mouse, whatever the language: the menu is the one holding the action."""
    bar = gui.window.menuBar()
    target = gui.window.actions_by_name["reports"]
    menu_action = next(a for a in bar.actions() if a.menu() is not None and target in a.menu().actions())
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(menu_action).center())
    menu = menu_action.menu()
    assert isinstance(menu, QMenu)
    qtbot.waitUntil(menu.isVisible)
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(target).center())
    qtbot.waitUntil(lambda: isinstance(gui.controller._reports_window, ReportsWindow))
    window = gui.controller._reports_window
    assert window is not None
    qtbot.waitUntil(
        lambda: window.isVisible() and window.report is not None and window.marketplace_rates is not None
    )
    shots = os.environ.get("REPORT_SHOTS")  # REPORT_SHOTS=DIR: screenshots to look at, in the app's language
    if shots:
        for size in ((1366, 768), (1920, 1080)):
            window.resize(*size)
            qtbot.waitUntil(lambda s=size: (window.width(), window.height()) == s)
            name = f"{window.windowTitle()}-{size[0]}x{size[1]}.png"
            window.grab().save(str(Path(shots) / name))
    return window


def _modal_text_then_ok(qtbot, click: Any) -> str:  # type: ignore[no-untyped-def]
    """Run ``click()`` (which opens a modal message box with its own loop) and return the box's text, closing
    it with a mouse click on its OK button from a timer inside that loop."""
    seen: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen.append(box.text())
        button = box.button(QMessageBox.StandardButton.Ok)
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, answer)
    click()
    qtbot.waitUntil(lambda: bool(seen))
    return seen[0]


def _cli_report(profile: Path, first: date, last: date, by: str = "channel") -> dict[str, Any]:
    result = cli(
        profile, "report", "--from", first.isoformat(), "--to", last.isoformat(), "--by", by, "--json"
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.qt_log_ignore(*IGNORED)
def test_every_period_group_chart_and_the_marketplace_rates_match_the_cli(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    profile = tmp_path / "profile"
    make_demo_profile(profile, count=40)
    seen: dict[str, Any] = {}

    def wait_period(window: ReportsWindow, first: date, last: date) -> None:
        qtbot.waitUntil(
            lambda: (
                window.report is not None
                and (window.report.period.first, window.report.period.last) == (first, last)
            ),
            timeout=20_000,
        )

    def scenario(gui: Gui) -> None:
        wait_ready(qtbot, gui)
        window = _open_reports(qtbot, gui)
        today = window.report.period.last if window.report else date.today()
        seen["today"] = today
        seen["marketplace"] = {
            k: [(r.days, r.episodes, r.late) for r in v] for k, v in (window.marketplace_rates or {}).items()
        }
        seen["marketplace_text"] = window.marketplace_label.text()
        # every group-by, with the keyboard, on the default 30 days
        window.group_box.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is window.group_box)
        groups: dict[str, list[Any]] = {}
        for _step in range(window.group_box.count() - 1):
            with qtbot.waitSignal(window.report_ready, timeout=20_000):
                QTest.keyClick(window.group_box, Qt.Key.Key_Down)
            assert window.report is not None
            groups[window.report.by.value] = [
                window.model.index(r, 0).data() for r in range(window.model.rowCount() - 1)
            ]
        seen["groups"] = groups
        seen["by"] = window.group_by().value  # the periods below are grouped by the last choice
        # every preset: Up from "Last 90 days"... the combo starts on 30 days
        window.period_box.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is window.period_box)
        reports: dict[str, Any] = {}
        for key, days in ((Qt.Key.Key_Down, 90), (Qt.Key.Key_Up, 30), (Qt.Key.Key_Up, 7), (Qt.Key.Key_Up, 1)):
            QTest.keyClick(window.period_box, key)
            wait_period(window, today - timedelta(days=days - 1), today)
            assert window.report is not None
            reports[f"last_{days}"] = report_service.summary_json(window.report)
            if days == 30:
                charts = {
                    "daily": [sum(s.values) for s in window.daily_chart.series],
                    "histogram": sum(window.histogram_chart.series[0].values),
                    "late_labels": list(window.late_chart.labels),
                    "late_values": list(window.late_chart.series[0].values),
                    "categories": sum(sum(s.values) for s in window.category_chart.series),
                    "category_series": len(window.category_chart.series),
                }
                seen["charts"] = charts
        # custom: Down to "Custom…", then type both dates
        for _step in range(4):
            QTest.keyClick(window.period_box, Qt.Key.Key_Down)
        qtbot.waitUntil(window.from_edit.isVisible)
        first, last = today - timedelta(days=20), today - timedelta(days=5)
        for edit, day in ((window.from_edit, first), (window.to_edit, last)):
            edit.setFocus()
            qtbot.waitUntil(lambda e=edit: QApplication.focusWidget() is e)
            QTest.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
            QTest.keyClicks(edit, day.isoformat())
        wait_period(window, first, last)
        assert window.report is not None
        reports["custom"] = report_service.summary_json(window.report)
        seen["reports"] = reports
        # the definitions, from "How is this counted?"
        help_button = next(b for b in window.findChildren(QPushButton) if b.text() == "How is this counted?")
        seen["help"] = _modal_text_then_ok(
            qtbot, lambda: QTest.mouseClick(help_button, Qt.MouseButton.LeftButton)
        )
        # a group's "Conversations" cell, clicked: its conversations; "Open" opens the one chosen
        column = 1 + FIGURES.index("conversations")
        groups_shown = window.model.rows[:-1]
        row = max(range(len(groups_shown)), key=lambda r: groups_shown[r].conversations)
        index = window.model.index(row, column)
        seen["drill_group"] = window.model.rows[row].key
        QTest.mouseClick(
            window.table.viewport(), Qt.MouseButton.LeftButton, pos=window.table.visualRect(index).center()
        )
        qtbot.waitUntil(lambda: isinstance(getattr(window, "drill_dialog", None), DrillDownDialog))
        dialog = window.drill_dialog
        qtbot.waitUntil(dialog.isVisible)
        seen["drill_count"] = dialog.list.count()
        seen["drill_ids"] = {
            dialog.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(dialog.list.count())
        }
        item = dialog.list.item(dialog.list.count() - 1)
        dialog.list.scrollToItem(item)
        QTest.mouseClick(
            dialog.list.viewport(), Qt.MouseButton.LeftButton, pos=dialog.list.visualItemRect(item).center()
        )
        chosen = dialog.chosen_id()
        assert chosen == item.data(Qt.ItemDataRole.UserRole)
        open_button = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Open)
        QTest.mouseClick(open_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.isVisible())
        qtbot.waitUntil(lambda: gui.controller.current_id() == chosen)
        seen["opened"] = chosen

    run_real_app(profile, scenario)
    today: date = seen["today"]
    for by, keys in seen["groups"].items():
        expected = _cli_report(profile, today - timedelta(days=29), today, by)
        missing = "not set" if by in ("category", "agent") else "unknown"
        shown = category_text if by == "category" else str
        assert keys == [shown(g["key"]) if g["key"] is not None else missing for g in expected["groups"]], by
    assert set(seen["groups"]) == {"account", "category", "agent", "language"}
    for name, first in (
        ("last_90", today - timedelta(days=89)),
        ("last_30", today - timedelta(days=29)),
        ("last_7", today - timedelta(days=6)),
        ("last_1", today),
        ("custom", today - timedelta(days=20)),
    ):
        last = today - timedelta(days=5) if name == "custom" else today
        assert seen["reports"][name] == _cli_report(profile, first, last, seen["by"]), name
    # the charts of the last 30 days hold the figures of the table
    month = _cli_report(profile, today - timedelta(days=29), today)
    charts = seen["charts"]
    assert charts["daily"] == [month["total"]["inbound"], month["total"]["replies"]]
    assert charts["categories"] == month["total"]["conversations"]
    assert charts["category_series"] <= len(PATTERNS)  # each series its own pattern: readable in grey-scale
    with_rate = [g for g in month["groups"] if g["late_response_rate"] is not None]
    assert charts["late_labels"] == [g["key"] for g in with_rate]
    assert charts["late_values"] == [g["late_response_rate"] for g in with_rate]
    episodes_csv = tmp_path / "episodes.csv"
    first30 = (today - timedelta(days=29)).isoformat()
    result = cli(profile, "report", "--from", first30, "--to", today.isoformat(), "--csv", str(episodes_csv))
    assert result.returncode == 0, result.stderr
    with episodes_csv.open(encoding="utf-8") as fh:
        assert charts["histogram"] == sum(1 for r in csv.DictReader(fh) if r["replied_at"])
    # the marketplaces' windows: the report of the last 7, 30 and 90 days per channel
    windows = {days: _cli_report(profile, today - timedelta(days=days - 1), today) for days in (7, 30, 90)}
    expected_rates = {}
    for days, data in windows.items():
        for g in data["groups"]:
            if g["episodes"] and g["key"] in MARKETPLACE_KINDS:  # e-mail has no marketplace to count it
                expected_rates.setdefault(g["key"], {})[days] = (days, g["episodes"], g["late"])
    assert seen["marketplace"] == {
        key: [per.get(days, (days, 0, 0)) for days in (7, 30, 90)] for key, per in expected_rates.items()
    }
    amazon = next(g for g in windows[90]["groups"] if g["key"] == "amazon")
    text = seen["marketplace_text"].replace("&nbsp;", " ")
    assert "<b>amazon</b>" in text and rate_text(amazon["late_response_rate"]) in text
    assert "<b>email</b>" not in text
    # the help says how every figure is counted
    for words in (
        "response episode",
        "First response time",
        "late",
        "Late response rate",
        "nearest-rank",
        "7, 30 and 90",
    ):
        assert words in seen["help"], words
    # the drill-down: the group's conversations of the custom period, one opened in the main window
    custom = _cli_report(profile, today - timedelta(days=20), today - timedelta(days=5), seen["by"])
    group = next(g for g in custom["groups"] if g["key"] == seen["drill_group"])
    assert seen["drill_count"] == group["conversations"] > 0
    assert seen["opened"] in seen["drill_ids"]


def _swatches_in_grey(chart: BarChart) -> list[bytes]:
    """Each legend swatch of a chart as grey-scale pixels (what a grey-scale print of it shows)."""
    image = chart.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    ratio = image.devicePixelRatio()
    out = []
    for rect in chart.legend_swatches():
        part = image.copy(
            int(rect.x() * ratio),
            int(rect.y() * ratio),
            int(rect.width() * ratio) + 1,
            int(rect.height() * ratio) + 1,
        )
        out.append(bytes(part.constBits()))
    return out


@pytest.mark.qt_log_ignore(*IGNORED)
def test_the_report_window_in_german_with_charts_readable_in_grey_scale(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    profile = tmp_path / "profile"
    make_demo_profile(profile, count=40)
    seen: dict[str, Any] = {}

    def scenario(gui: Gui) -> None:
        wait_ready(qtbot, gui)
        window = _open_reports(qtbot, gui)
        window.resize(1366, 768)
        qtbot.waitUntil(lambda: (window.width(), window.height()) == (1366, 768))
        seen["title"] = window.windowTitle()
        seen["charts"] = [
            c.title
            for c in (window.daily_chart, window.histogram_chart, window.late_chart, window.category_chart)
        ]
        seen["period"] = window.period_box.currentText()
        seen["header"] = [
            window.model.headerData(c, Qt.Orientation.Horizontal) for c in range(window.model.columnCount())
        ]
        seen["cells"] = [
            window.model.index(window.model.rowCount() - 1, c).data()
            for c in range(window.model.columnCount())
        ]
        seen["buckets"] = list(window.histogram_chart.labels)
        seen["grey"] = {
            name: _swatches_in_grey(chart)
            for name, chart in (("daily", window.daily_chart), ("categories", window.category_chart))
        }
        help_button = next(b for b in window.findChildren(QPushButton) if b.text() == "Wie wird gezählt?")
        seen["help"] = _modal_text_then_ok(
            qtbot, lambda: QTest.mouseClick(help_button, Qt.MouseButton.LeftButton)
        )
        # every label of the top bar fits its text (no clipped German words)
        seen["clipped"] = [
            w.text()
            for w in window.findChildren(QWidget)
            if hasattr(w, "text")
            and isinstance(w.text(), str)
            and w.isVisible()
            and w.text()
            and w.width() < w.fontMetrics().horizontalAdvance(w.text().split("\n")[0])
            and w.parent() is window
            and w.y() < 40
        ]

    run_real_app(profile, scenario, lang="de")
    assert seen["title"] == "Berichte"
    assert seen["charts"] == [
        "Eingehende Nachrichten und Antworten pro Tag",
        "Antwortzeiten",
        "Verspätungsquote pro Kanal",
        "Neue Konversationen pro Kategorie",
    ]
    assert seen["period"] == "Letzte 30 Tage"
    assert seen["header"][1] == "Konversationen" and seen["cells"][0] == "Gesamt"
    # durations by Babel in German: "Std." / "Tag" / "Min."
    assert any(unit in cell for cell in seen["cells"] for unit in ("Std.", "Min.", "Tg."))
    assert any("Std." in label for label in seen["buckets"])
    assert "Antwort" in seen["help"]
    for name, swatches in seen["grey"].items():
        assert len(swatches) >= 2 and len(set(swatches)) == len(swatches), (
            name
        )  # each series told apart in grey
    assert seen["clipped"] == []


@pytest.mark.qt_log_ignore(*IGNORED)
def test_every_export_of_the_window_writes_what_the_cli_writes(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Export → each of the five entries, with the mouse: the summary (CSV, JSON), one row per conversation,
    one row per episode and the workbook, each the same as ``inbox-app report`` writes (no row cap)."""
    import openpyxl
    from PySide6.QtWidgets import QFileDialog

    profile = tmp_path / "profile"
    make_demo_profile(profile, count=40)
    out = tmp_path / "out"
    out.mkdir()
    entries = {
        "Summary as CSV…": out / "summary.csv",
        "Summary as JSON…": out / "summary.json",
        "One row per conversation (CSV)…": out / "conversations.csv",
        "One row per episode (CSV)…": out / "episodes.csv",
        "Workbook (XLSX)…": out / "report.xlsx",
    }
    target: list[Path] = []
    # the platform's file dialog is not what this test checks: answer it with the entry's path
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target[-1]), ""))

    def scenario(gui: Gui) -> None:
        wait_ready(qtbot, gui)
        window = _open_reports(qtbot, gui)
        button = window.export_button
        menu = button.menu()
        for text, path in entries.items():
            target.append(path)

            def pick(text: str = text) -> None:
                if not menu.isVisible():
                    QTimer.singleShot(20, pick)
                    return
                action = next(a for a in menu.actions() if a.text() == text)
                QTest.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())

            QTimer.singleShot(0, pick)
            with qtbot.waitSignal(window.exported, timeout=20_000) as signal:
                QTest.mouseClick(button, Qt.MouseButton.LeftButton)
            assert signal.args == [str(path)]

    run_real_app(profile, scenario)
    cli_csv, cli_xlsx = tmp_path / "cli-episodes.csv", tmp_path / "cli.xlsx"
    result = cli(profile, "report", "--json", "--csv", str(cli_csv), "--xlsx", str(cli_xlsx))
    assert result.returncode == 0, result.stderr
    expected = json.loads(result.stdout)
    assert json.loads(entries["Summary as JSON…"].read_text(encoding="utf-8")) == expected
    with entries["Summary as CSV…"].open(encoding="utf-8", newline="") as fh:
        summary = list(csv.DictReader(fh))
    assert [r["key"] for r in summary] == [*(g["key"] for g in expected["groups"]), "Total"]
    assert [int(r["conversations"]) for r in summary] == [
        g["conversations"] for g in (*expected["groups"], expected["total"])
    ]
    assert entries["One row per episode (CSV)…"].read_text(encoding="utf-8") == cli_csv.read_text(
        encoding="utf-8"
    )
    with entries["One row per conversation (CSV)…"].open(encoding="utf-8", newline="") as fh:
        conversations = list(csv.DictReader(fh))
    assert list(conversations[0]) == list(report_service.CONVERSATION_COLUMNS)
    assert sum(int(r["inbound"]) for r in conversations) == expected["total"]["inbound"]
    assert sum(int(r["late"]) for r in conversations) == expected["total"]["late"]
    assert len({r["conversation_id"] for r in conversations}) == len(conversations)
    book, cli_book = openpyxl.load_workbook(entries["Workbook (XLSX)…"]), openpyxl.load_workbook(cli_xlsx)
    assert book.sheetnames == cli_book.sheetnames == ["Summary", "Conversations", "Episodes", "Period"]
    for name in book.sheetnames:
        assert list(book[name].iter_rows(values_only=True)) == list(
            cli_book[name].iter_rows(values_only=True)
        )
