"""The report window (Tools → Reports): period, group-by, big figures, four charts, the table, drill-down, export.

Why it looks like this: a seller wants "am I answering in time?" at a glance (the big figures), the trend
(charts) and the detail per channel/account/… (the table). Every figure can be clicked down to the
conversations behind it; opening one selects it in the main window (signal ``open_conversation(int)``).
The report is computed by :func:`inbox_app.services.reports.compute_report` on the controller's worker thread
(``runner``); the window only lays it out.

Signals: ``open_conversation(int)`` — the user opened a conversation from a drill-down list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inbox_app.domain.reports import GroupBy, GroupFigures, Period
from inbox_app.i18n import _, format_date, format_duration, format_number, ngettext
from inbox_app.services import reports as report_service
from inbox_app.services import triage
from inbox_app.ui.report_charts import PATTERNS, BarChart, Series

log = logging.getLogger("inbox_app.ui")

#: (days, label) of the period choices; 0 = custom.
PERIODS: tuple[tuple[int, str], ...] = (
    (1, "Today"),
    (7, "Last 7 days"),
    (30, "Last 30 days"),
    (90, "Last 90 days"),
    (0, "Custom…"),
)

GROUP_LABELS: dict[GroupBy, str] = {
    GroupBy.CHANNEL: "Channel",
    GroupBy.ACCOUNT: "Account",
    GroupBy.CATEGORY: "Category",
    GroupBy.AGENT: "Agent",
    GroupBy.LANGUAGE: "Language",
}


def _tr_period(label: str) -> str:
    return {
        "Today": _("Today"),
        "Last 7 days": _("Last 7 days"),
        "Last 30 days": _("Last 30 days"),
        "Last 90 days": _("Last 90 days"),
        "Custom…": _("Custom…"),
    }[label]


def _tr_group(by: GroupBy) -> str:
    return {
        GroupBy.CHANNEL: _("Channel"),
        GroupBy.ACCOUNT: _("Account"),
        GroupBy.CATEGORY: _("Category"),
        GroupBy.AGENT: _("Agent"),
        GroupBy.LANGUAGE: _("Language"),
    }[by]


def group_label(group: GroupFigures, by: GroupBy) -> str:
    if group.is_total:
        return _("Total")
    if group.key is not None:
        return category_text(group.key) if by is GroupBy.CATEGORY else group.key
    if by in (GroupBy.CATEGORY, GroupBy.AGENT):
        return _("not set")
    return _("unknown")


def category_text(category: str) -> str:
    """A category's translated name (its key for one the app does not know)."""
    return triage.category_label(category) or category


def duration_text(seconds: float | None) -> str:
    return "–" if seconds is None else format_duration(timedelta(seconds=seconds))


def rate_text(rate: float | None) -> str:
    return "–" if rate is None else f"{format_number(round(rate * 100, 1))} %"


def help_text() -> str:
    """The definitions behind every figure (the same as the README's "Reports" section)."""
    return "\n\n".join(
        [
            _(
                "A response episode starts when the response clock starts: at the first customer message not yet "
                "answered. It ends at the next reply (automatic replies do not count). Pending, closed and "
                "'no response needed' stop the clock."
            ),
            _(
                "First response time: from a conversation's first customer message to the first reply after it. "
                "Response time: the length of every answered episode."
            ),
            _(
                "Conversations: those with at least one customer message in the period. Inbound and replies: the "
                "messages of each direction sent in the period."
            ),
            _(
                "An episode is late when its reply came after the deadline of the channel's rule (calendar or "
                "business hours, holidays included — the same as the countdowns), or when it is still "
                "unanswered past the deadline. Late response rate = late episodes / episodes that got a reply "
                "or reached their deadline, counted in the period in which they start."
            ),
            _(
                "Under the figures, each marketplace's late response rate over the last 7, 30 and 90 days "
                "(today included), whatever period is chosen: the windows over which Amazon's Account Health "
                "counts it, so you see the number before the marketplace does."
            ),
            _(
                "Median and p90 are nearest-rank: the middle value and the value 90 % of the episodes stay under."
            ),
            _(
                "Category and agent are the conversation's category and assignee; conversations without "
                "them are grouped as 'not set'. Click any figure to list the conversations behind it."
            ),
        ]
    )


#: table columns after the group name (each can be clicked down to the conversations behind it)
FIGURES: tuple[str, ...] = (
    "conversations",
    "inbound",
    "replies",
    "first_response_median_s",
    "first_response_p90_s",
    "response_median_s",
    "episodes",
    "late",
    "late_response_rate",
    "open_overdue",
)


def _headers() -> list[str]:
    return [
        _("Conversations"),
        _("Inbound"),
        _("Replies"),
        _("First response (median)"),
        _("First response (p90)"),
        _("Response (median)"),
        _("Episodes"),
        _("Late"),
        _("Late rate"),
        _("Overdue now"),
    ]


def figure_text(group: GroupFigures, figure: str) -> str:
    value = getattr(group, figure)
    if figure.endswith("_s"):
        return duration_text(value)
    if figure == "late_response_rate":
        return rate_text(value)
    return format_number(int(value))


class ReportTableModel(QAbstractTableModel):
    """Rows: the groups then the total; columns: :data:`FIGURES` after the group name."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[GroupFigures] = []
        self.by = GroupBy.CHANNEL
        self.headers = [_("Group"), *_headers()]

    def set_report(self, rows: list[GroupFigures], by: GroupBy) -> None:
        self.beginResetModel()
        self.rows, self.by = rows, by
        self.headers[0] = _tr_group(by)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(FIGURES) + 1

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid():
            return None
        group = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == 0:
                return group_label(group, self.by)
            return figure_text(group, FIGURES[index.column() - 1])
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and group.is_total:
            from PySide6.QtGui import QFont

            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and index.column() > 0:
            return _("Click to list the conversations behind this figure")
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers[section]
        return None

    def figure_at(self, index: QModelIndex) -> tuple[GroupFigures, str]:
        """The group and the figure of a cell (the group name's cell stands for its conversations)."""
        return self.rows[index.row()], FIGURES[max(index.column(), 1) - 1]


class DrillDownDialog(QDialog):
    """The conversations behind one figure; Enter or a double-click opens one in the main window."""

    def __init__(
        self, title: str, labels: list[report_service.ConversationLabel], parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setObjectName("reportDrillDown")
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                ngettext("{n} conversation", "{n} conversations", len(labels)).format(
                    n=format_number(len(labels))
                )
            )
        )
        self.list = QListWidget(self)
        self.list.setUniformItemSizes(True)
        for label in labels:
            item = QListWidgetItem(f"{label.customer or '–'} · {label.channel_name} · {label.subject}")
            item.setData(Qt.ItemDataRole.UserRole, label.id)
            self.list.addItem(item)
        if labels:
            self.list.setCurrentRow(0)
        layout.addWidget(self.list)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Close, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.list.itemActivated.connect(lambda _item: self.accept())
        layout.addWidget(buttons)
        self.resize(560, 420)

    def chosen_id(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else int(item.data(Qt.ItemDataRole.UserRole))


Runner = Callable[[str, Callable[[], Any], Callable[[Any], None], Callable[[BaseException], None]], None]


class ReportsWindow(QWidget):
    """Signals: ``open_conversation(int)``, ``report_ready()`` (a report was laid out; tests wait on it),
    ``progress_changed(int, int)`` (done, total conversations brought up to date; emitted from the worker
    thread, delivered queued on the UI thread), ``exported(str)`` (an export was written to this path)."""

    open_conversation = Signal(int)
    report_ready = Signal()
    progress_changed = Signal(int, int)
    exported = Signal(str)

    def __init__(
        self, run: Runner, now_fn: Callable[[], datetime] | None = None, parent: QWidget | None = None
    ):
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("reportsWindow")
        self.setWindowTitle(_("Reports"))
        self._run = run
        self.now_fn: Callable[[], datetime] = now_fn or (lambda: datetime.now(UTC))
        self.report: report_service.Report | None = None
        outer = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.period_box = QComboBox(self)
        self.period_box.setObjectName("reportPeriod")
        for days, label in PERIODS:
            self.period_box.addItem(_tr_period(label), days)
        self.period_box.setCurrentIndex(2)
        self.from_edit = QDateEdit(self)
        self.to_edit = QDateEdit(self)
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setVisible(False)
            edit.dateChanged.connect(lambda _d: self.recompute())
        self.group_box = QComboBox(self)
        self.group_box.setObjectName("reportGroupBy")
        for by in GroupBy:
            self.group_box.addItem(_tr_group(by), by.value)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(260)
        self.progress.setFormat(_("Computing…"))
        self.progress.setVisible(False)
        self.export_button = QToolButton(self)
        self.export_button.setObjectName("reportExport")
        self.export_button.setText(_("Export"))
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction(_("Summary as CSV…"), lambda: self.export("summary_csv"))
        menu.addAction(_("Summary as JSON…"), lambda: self.export("summary_json"))
        menu.addAction(_("One row per conversation (CSV)…"), lambda: self.export("conversations_csv"))
        menu.addAction(_("One row per episode (CSV)…"), lambda: self.export("episodes_csv"))
        menu.addAction(_("Workbook (XLSX)…"), lambda: self.export("xlsx"))
        self.export_button.setMenu(menu)
        help_button = QPushButton(_("How is this counted?"), self)
        help_button.clicked.connect(self.show_help)
        bar.addWidget(QLabel(_("Period:"), self))
        bar.addWidget(self.period_box)
        bar.addWidget(self.from_edit)
        bar.addWidget(self.to_edit)
        bar.addSpacing(12)
        bar.addWidget(QLabel(_("Group by:"), self))
        bar.addWidget(self.group_box)
        bar.addWidget(self.progress)
        bar.addStretch(1)
        bar.addWidget(help_button)
        bar.addWidget(self.export_button)
        outer.addLayout(bar)
        figures = QHBoxLayout()
        self.figure_buttons: dict[str, QPushButton] = {}
        for figure in (
            "conversations",
            "first_response_median_s",
            "response_median_s",
            "late_response_rate",
            "open_overdue",
        ):
            button = QPushButton(self)
            button.setObjectName(f"figure_{figure}")
            button.setFlat(True)
            button.setMinimumHeight(56)
            big = button.font()  # the answer at a glance: the five figures stand out from the rest
            big.setPointSizeF(big.pointSizeF() * 1.2)
            big.setBold(True)
            button.setFont(big)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.clicked.connect(lambda _c=False, f=figure: self.drill_total(f))
            figures.addWidget(button)
            self.figure_buttons[figure] = button
        outer.addLayout(figures)
        # The rate the marketplaces judge the seller by (Amazon: over the last 7, 30 and 90 days), whatever
        # period is chosen above.
        self.marketplace_label = QLabel(self)
        self.marketplace_label.setObjectName("reportMarketplaceRates")
        self.marketplace_label.setWordWrap(True)
        self.marketplace_label.setTextFormat(Qt.TextFormat.RichText)
        self.marketplace_rates: dict[str, list[report_service.LateRate]] | None = None
        outer.addWidget(self.marketplace_label)
        charts = QGridLayout()
        self.daily_chart = BarChart(_("Daily inbound messages and replies"), self)
        self.histogram_chart = BarChart(_("Response times"), self)
        self.late_chart = BarChart(_("Late response rate per channel"), self)
        self.category_chart = BarChart(_("New conversations per category"), self)
        charts.addWidget(self.daily_chart, 0, 0)
        charts.addWidget(self.histogram_chart, 0, 1)
        charts.addWidget(self.late_chart, 1, 0)
        charts.addWidget(self.category_chart, 1, 1)
        outer.addLayout(charts, 3)
        self.model = ReportTableModel(self)
        self.table = QTableView(self)
        self.table.setObjectName("reportTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectItems)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.clicked.connect(self.drill_cell)
        self.table.activated.connect(self.drill_cell)
        outer.addWidget(self.table, 2)
        self.progress_changed.connect(self._on_progress)
        self.period_box.currentIndexChanged.connect(self._on_period_changed)
        self.group_box.currentIndexChanged.connect(lambda _i: self.recompute())
        self.resize(1200, 760)

    # ------------------------------------------------------------------------------------------ compute
    def period(self) -> Period:
        now = self.now_fn().astimezone()
        zone = now.tzinfo or UTC
        days = int(self.period_box.currentData())
        if days:
            return Period.last_days(days, now.date(), zone)
        first = self.from_edit.date().toPython()
        last = self.to_edit.date().toPython()
        assert isinstance(first, date) and isinstance(last, date)
        return Period(min(first, last), max(first, last), zone)

    def group_by(self) -> GroupBy:
        return GroupBy(str(self.group_box.currentData()))

    def _on_period_changed(self, _index: int) -> None:
        custom = int(self.period_box.currentData()) == 0
        if custom and self.report is not None:
            for edit, day in (
                (self.from_edit, self.report.period.first),
                (self.to_edit, self.report.period.last),
            ):
                edit.blockSignals(True)
                edit.setDate(QDate(day.year, day.month, day.day))
                edit.blockSignals(False)
        self.from_edit.setVisible(custom)
        self.to_edit.setVisible(custom)
        self.recompute()

    def recompute(self) -> None:
        """Compute the report on the worker thread; the progress bar counts the conversations whose episodes
        are brought up to date first (many only after a big import), otherwise it just says "Computing…"."""
        period, by, now = self.period(), self.group_by(), self.now_fn()
        self.progress.setRange(0, 0)
        self.progress.setFormat(_("Computing…"))
        self.progress.setVisible(True)
        self._run(
            "report",
            lambda: report_service.compute_report(period, by, now, progress=self.progress_changed.emit),
            self._on_report,
            self._on_error,
        )
        zone = now.astimezone().tzinfo or UTC
        self._run(
            "report-marketplace",
            lambda: report_service.marketplace_late_rates(now, zone),
            self._on_marketplace_rates,
            self._on_error,
        )

    def _on_marketplace_rates(self, rates: dict[str, list[report_service.LateRate]]) -> None:
        self.marketplace_rates = rates
        windows = " / ".join(
            ngettext("{n} day", "{n} days", days).format(n=days)
            for days in report_service.MARKETPLACE_WINDOWS
        )
        parts = [  # non-breaking spaces: a line wraps between channels, never inside one
            "<b>{channel}</b>&nbsp;{rates}".format(
                channel=escape(channel),
                rates="&nbsp;/&nbsp;".join(
                    escape(rate_text(r.rate)).replace(" ", "&nbsp;") for r in per_window
                ),
            )
            for channel, per_window in rates.items()
        ]
        self.marketplace_label.setText(
            _("Late response rate as the marketplaces count it ({windows}):").format(windows=escape(windows))
            + " &nbsp; "
            + (" &nbsp;·&nbsp; ".join(parts) if parts else "–")
        )
        self.marketplace_label.setToolTip(
            _(
                "Late episodes / episodes that got a reply or reached their deadline, starting in the last 7, 30 "
                "and 90 days — the windows over which Amazon's Account Health shows its Late Response Rate."
            )
        )

    def _on_progress(self, done: int, total: int) -> None:
        if not self.progress.isVisible() or total <= 0:
            return
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(
            _("Updating {done} of {total} conversations…").format(
                done=format_number(done), total=format_number(total)
            )
        )

    def _on_error(self, exc: BaseException) -> None:
        self.progress.setVisible(False)
        QMessageBox.warning(
            self, _("Reports"), _("The report could not be computed: {error}").format(error=exc)
        )

    def _on_report(self, report: report_service.Report) -> None:
        self.progress.setVisible(False)
        self.report = report
        self.model.set_report([*report.groups, report.total], report.by)
        total = report.total
        captions = {
            "conversations": _("Conversations"),
            "first_response_median_s": _("First response (median)"),
            "response_median_s": _("Response (median)"),
            "late_response_rate": _("Late response rate"),
            "open_overdue": _("Overdue now"),
        }
        for figure, button in self.figure_buttons.items():
            value = figure_text(total, figure)
            button.setText(f"{value}\n{captions[figure]}")
            button.setToolTip(_("Click to list the conversations behind this figure"))
        self._fill_charts(report)
        self.report_ready.emit()

    def _fill_charts(self, report: report_service.Report) -> None:
        days = sorted(report.daily)
        labels = [format_date(datetime(d.year, d.month, d.day), "d MMM") for d in days]
        self.daily_chart.set_data(
            labels,
            [
                Series(_("Inbound"), [report.daily[d][0] for d in days]),
                Series(_("Replies"), [report.daily[d][1] for d in days]),
            ],
            lambda v: format_number(int(v)),
        )
        bounds = report_service.RESPONSE_BUCKETS
        bucket_labels = [f"≤ {duration_text(b)}" for b in bounds] + [f"> {duration_text(bounds[-1])}"]
        self.histogram_chart.set_data(
            bucket_labels,
            [Series(_("Answered episodes"), report.response_histogram)],
            lambda v: format_number(int(v)),
        )
        channels = [g for g in report.late_by_channel if g.late_response_rate is not None]
        self.late_chart.set_data(
            [g.key or _("unknown") for g in channels],
            [Series(_("Late response rate"), [(g.late_response_rate or 0.0) for g in channels])],
            lambda v: rate_text(v),
            show_zero=True,
        )
        totals: dict[str | None, int] = {}
        for per_day in report.categories_daily.values():
            for k, n in per_day.items():
                totals[k] = totals.get(k, 0) + n
        # as many categories as there are fill patterns (the most frequent), the rest together: each one stays
        # told apart in grey-scale
        ranked = sorted(totals, key=lambda k: (-totals[k], k is None, k or ""))
        shown = ranked if len(ranked) <= len(PATTERNS) else ranked[: len(PATTERNS) - 1]
        rest = [k for k in ranked if k not in shown]
        keys = sorted(shown, key=lambda k: (k is None, k or ""))
        series = [
            Series(
                category_text(k) if k is not None else _("not set"),
                [report.categories_daily[d].get(k, 0) for d in days],
            )
            for k in keys
        ]
        if rest:
            series.append(
                Series(
                    _("all others"), [sum(report.categories_daily[d].get(k, 0) for k in rest) for d in days]
                )
            )
        self.category_chart.set_data(
            labels,
            series,
            lambda v: format_number(int(v)),
            stacked=True,
        )

    # ----------------------------------------------------------------------------------------- drill-down
    def drill_total(self, figure: str) -> None:
        if self.report is None:
            return
        title = self.figure_buttons[figure].text().replace("\n", " — ")
        self._drill(title, self.report.total, figure)

    def drill_cell(self, index: QModelIndex) -> None:
        if self.report is None or not index.isValid():
            return
        group, figure = self.model.figure_at(index)
        title = f"{group_label(group, self.model.by)} — {self.model.headers[max(index.column(), 1)]}"
        self._drill(title, group, figure)

    def _drill(self, title: str, group: GroupFigures, figure: str) -> None:
        report = self.report
        assert report is not None
        self._run(
            "report-drill",
            lambda: report_service.conversations_behind(report_service.ids_behind(report, group, figure)),
            lambda labels: self._show_drill(title, labels),
            self._on_error,
        )

    def _show_drill(self, title: str, labels: list[report_service.ConversationLabel]) -> None:
        # open(), not exec(): a nested event loop would stall the worker's deliveries behind the dialog.
        dialog = DrillDownDialog(title, labels, self)
        self.drill_dialog = dialog
        dialog.accepted.connect(lambda: self._open_chosen(dialog))
        dialog.open()

    def _open_chosen(self, dialog: DrillDownDialog) -> None:
        chosen = dialog.chosen_id()
        if chosen is not None:
            self.open_conversation.emit(chosen)

    # ----------------------------------------------------------------------------------------------- misc
    def show_help(self) -> None:
        QMessageBox.information(self, _("How reports are counted"), help_text())

    def export(self, kind: str) -> None:
        if self.report is None:
            return
        suffix = {"summary_json": ".json", "xlsx": ".xlsx"}.get(kind, ".csv")
        path_text, _filter = QFileDialog.getSaveFileName(self, _("Export report"), f"report-{kind}{suffix}")
        if not path_text:
            return
        self.export_to(kind, Path(path_text))

    def export_to(self, kind: str, path: Path) -> None:
        """Write the export on the worker thread (an export of 100,000 episodes takes seconds); signal
        ``exported(str)`` with the path when done, or show why it could not be written."""
        report = self.report
        if report is None:
            return
        total = _("Total")

        def write() -> Path:
            if kind == "summary_csv":
                report_service.write_summary_csv(report, path, total)
            elif kind == "summary_json":
                report_service.write_summary_json(report, path)
            elif kind == "conversations_csv":
                report_service.write_conversations_csv(report, path)
            elif kind == "xlsx":
                report_service.write_xlsx(report, path, total)
            else:
                report_service.write_episodes_csv(report, path)
            return path

        self.progress.setRange(0, 0)
        self.progress.setFormat(_("Exporting…"))
        self.progress.setVisible(True)
        self._run("report-export", write, self._on_exported, self._on_export_error(path))

    def _on_exported(self, path: Path) -> None:
        self.progress.setVisible(False)
        self.exported.emit(str(path))

    def _on_export_error(self, path: Path) -> Callable[[BaseException], None]:
        def show(exc: BaseException) -> None:
            self.progress.setVisible(False)
            error = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            QMessageBox.warning(
                self, _("Export report"), _("Cannot write {path}: {error}").format(path=path, error=error)
            )

        return show
