"""Settings page for response-deadline policies (target, clock, time zone, opening hours, holidays).

Why editable: marketplaces change their rules and a shop's own promise ("one business day, Mon–Fri 9–18,
Bavarian holidays") is its own. Policies are stored as ``DeadlinePolicy.to_dict()`` in ``DeadlinePolicyRow``;
after a save the policy cache is cleared and the deadlines of every open conversation are recomputed on a
worker thread with a progress dialog (thousands of conversations must not freeze the window).

A second tab, "Channels", says which policy each channel follows (its preset by default): one combo per
channel, and "Apply to all channels of this account" for the per-account case. Saving it stores the
assignments through ``services.policies`` and recomputes only the affected channels' running conversations.

Signals (``PolicySettingsDialog``):
    policies_changed(): a policy or a channel's assignment was saved and the affected open conversations'
        deadlines were recomputed.
"""

from __future__ import annotations

import logging
import re
from datetime import date, time, timedelta
from zoneinfo import available_timezones

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressDialog,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inbox_app.domain.deadlines import END_OF_DAY, Clock, DeadlinePolicy
from inbox_app.i18n import _, current_locale, format_number
from inbox_app.services import conversations, policies

log = logging.getLogger("inbox_app.ui")

_WINDOW_RE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


def format_windows(windows: tuple[tuple[time, time], ...]) -> str:
    """ "09:00–12:00, 13:00–18:00" for one weekday; an end at midnight is written 24:00."""
    parts = []
    for start, end in windows:
        end_text = "24:00" if end == END_OF_DAY else end.strftime("%H:%M")
        parts.append(f"{start.strftime('%H:%M')}–{end_text}")
    return ", ".join(parts)


def parse_windows(text: str) -> tuple[tuple[time, time], ...]:
    """Read what :func:`format_windows` writes; raises ``ValueError`` with the offending part."""
    windows: list[tuple[time, time]] = []
    for part in text.split(","):
        if not part.strip():
            continue
        match = _WINDOW_RE.match(part)
        if not match:
            raise ValueError(part.strip())
        start_s, end_s = match.groups()
        start = time.fromisoformat(start_s.zfill(5))
        end = END_OF_DAY if end_s in ("24:00", "0:00", "00:00") else time.fromisoformat(end_s.zfill(5))
        windows.append((start, end))
    return tuple(windows)


def parse_closed_days(text: str) -> frozenset[date]:
    days = set()
    for line in text.replace(",", "\n").splitlines():
        if line.strip():
            try:
                days.add(date.fromisoformat(line.strip()))
            except ValueError as exc:
                raise ValueError(line.strip()) from exc
    return frozenset(days)


class RecomputeThread(QThread):
    """Recompute the deadline of each given conversation; reports progress, never touches widgets.

    Signals:
        progress(int done, int total)
        failed(str): an unexpected error (logged with its traceback).
    """

    progress = Signal(int, int)
    failed = Signal(str)

    def __init__(self, ids: list[int]) -> None:
        super().__init__()
        self._ids = ids
        self.cancelled = False

    def run(self) -> None:
        try:
            policies.recompute_deadlines(
                self._ids, progress=self.progress.emit, cancelled=lambda: self.cancelled
            )
        except Exception as exc:  # a bug, not an environment problem: log it loudly, tell the user briefly
            log.exception("recomputing deadlines failed")
            self.failed.emit(str(exc))
        finally:
            policies.close_thread_connection()  # this thread's connection only


def open_conversation_ids() -> list[int]:
    """Conversations whose deadline can run (open and snoozed)."""
    return conversations.running_ids()


_DEFAULT = ""  # combo data of "Default for this channel" (a stored policy key is never empty)


class ChannelPoliciesPage(QWidget):
    """The "Channels" tab: account · channel · marketplace, and a combo of policies per channel.

    Choices stay on the page until "Save" (``save_requested``); the dialog stores them.

    Signals:
        save_requested(): the user asked to store the choices.
    """

    save_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels([_("Account"), _("Channel"), _("Marketplace"), _("Policy")])
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self._rows: list[policies.ChannelPolicy] = []
        hint = QLabel(
            _(
                "Which response deadline each channel counts with. “Default” follows the marketplace's "
                "own rule; pick another policy when your marketplace grants you more (or less) time."
            )
        )
        hint.setWordWrap(True)
        self.apply_account_button = QPushButton(_("Apply to all channels of this account"))
        self.apply_account_button.setToolTip(
            _("Give every channel of the selected channel's account the policy chosen for it")
        )
        self.apply_account_button.clicked.connect(self.apply_to_account)
        self.save_button = QPushButton(_("Save channel policies"))
        self.save_button.clicked.connect(self.save_requested)
        row = QHBoxLayout()
        row.addWidget(self.apply_account_button)
        row.addStretch(1)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)

    def reload(self, *, keep_choices: bool = False) -> None:
        """Read the channels and their assignments again (after a save or a policy rename).

        ``keep_choices`` keeps what the user picked but has not saved yet (a policy renamed meanwhile).
        """
        pending = self.choices() if keep_choices else {}
        choices = policies.policy_choices()
        self._rows = policies.channel_policy_rows()
        self.table.setRowCount(len(self._rows))
        for index, info in enumerate(self._rows):
            self.table.setItem(index, 0, QTableWidgetItem(info.account_name))
            self.table.setItem(index, 1, QTableWidgetItem(info.channel_name))
            self.table.setItem(index, 2, QTableWidgetItem(info.marketplace or ""))
            combo = QComboBox()
            default = _("Default for this channel")
            if info.default_name:
                default = _("Default for this channel ({policy})").format(policy=_(info.default_name))
            combo.addItem(default, _DEFAULT)
            for choice in choices:
                combo.addItem(_(choice.name), choice.key)
            chosen = pending.get(info.channel_id, info.policy_key)
            combo.setCurrentIndex(max(combo.findData(chosen or _DEFAULT), 0))
            self.table.setCellWidget(index, 3, combo)
        self.table.resizeColumnsToContents()
        self.apply_account_button.setEnabled(bool(self._rows))
        if self._rows and self.table.currentRow() < 0:
            self.table.selectRow(0)

    def row_of(self, channel_id: int) -> int:
        for index, info in enumerate(self._rows):
            if info.channel_id == channel_id:
                return index
        raise KeyError(channel_id)

    def combo(self, channel_id: int) -> QComboBox:
        """The policy combo of a channel (tests pick a policy through it, as a user would)."""
        widget = self.table.cellWidget(self.row_of(channel_id), 3)
        assert isinstance(widget, QComboBox)
        return widget

    def choices(self) -> dict[int, str | None]:
        """Channel id -> chosen policy key (``None``: the channel's default)."""
        result: dict[int, str | None] = {}
        for info in self._rows:
            key = self.combo(info.channel_id).currentData()
            result[info.channel_id] = str(key) if key else None
        return result

    def apply_to_account(self) -> int:
        """Copy the selected channel's choice to the other channels of its account; returns how many changed."""
        row = self.table.currentRow()
        if not 0 <= row < len(self._rows):
            return 0
        source = self._rows[row]
        key = self.combo(source.channel_id).currentData()
        changed = 0
        for info in self._rows:
            if info.account_id == source.account_id and info.channel_id != source.channel_id:
                combo = self.combo(info.channel_id)
                index = combo.findData(key)
                if index >= 0 and index != combo.currentIndex():
                    combo.setCurrentIndex(index)
                    changed += 1
        return changed


class PolicySettingsDialog(QDialog):
    """List of policies on the left, the selected one's form on the right. See module docstring."""

    policies_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Response deadlines"))
        self.resize(900, 540)
        self._thread: RecomputeThread | None = None
        self._progress: QProgressDialog | None = None

        self.list = QListWidget()
        self.list.currentItemChanged.connect(self._on_current)
        self.name_edit = QLineEdit()
        self.target = QDoubleSpinBox()
        self.target.setRange(0, 24 * 60)
        self.target.setDecimals(1)
        self.target.setSuffix(" " + _("h"))
        self.clock = QComboBox()
        self.clock.addItem(_("Calendar hours (nights, weekends and holidays count)"), Clock.CALENDAR.value)
        self.clock.addItem(_("Business hours (only opening hours on working days)"), Clock.BUSINESS.value)
        self.timezone = QComboBox()
        self.timezone.setEditable(True)
        self.timezone.addItems(sorted(available_timezones()))
        self.day_edits: list[QLineEdit] = []
        days = current_locale().days["format"]["wide"]
        self.country = QLineEdit()
        self.country.setPlaceholderText(_("e.g. DE, FR, ES (empty: no public holidays)"))
        self.region = QLineEdit()
        self.region.setPlaceholderText(_("e.g. BY for Bavaria (optional)"))
        self.closed_days = QPlainTextEdit()
        self.closed_days.setPlaceholderText(_("One date per line, e.g. 2026-12-24"))
        self.closed_days.setMaximumHeight(80)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: palette(highlight);")

        form = QFormLayout()
        form.addRow(_("Name"), self.name_edit)
        form.addRow(_("Answer within"), self.target)
        form.addRow(_("Clock"), self.clock)
        form.addRow(_("Time zone"), self.timezone)
        hint = QLabel(_("Opening hours per day, e.g. 09:00–12:00, 13:00–18:00 (empty: closed)"))
        hint.setWordWrap(True)
        form.addRow(hint)
        for weekday in range(7):
            edit = QLineEdit()
            self.day_edits.append(edit)
            form.addRow(str(days[weekday]).capitalize(), edit)
        form.addRow(_("Public holidays of"), self.country)
        form.addRow(_("Region"), self.region)
        form.addRow(_("Closed days"), self.closed_days)
        form.addRow(self.error)

        self.save_button = QPushButton(_("Save"))
        self.save_button.clicked.connect(self.save)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ApplyRole)
        buttons.rejected.connect(self.reject)

        right = QVBoxLayout()
        right.addLayout(form)
        right.addStretch(1)
        policies_page = QWidget()
        layout = QHBoxLayout(policies_page)
        self.list.setWordWrap(True)
        self.list.setMinimumWidth(300)
        self.save_button.setDefault(True)
        layout.addWidget(self.list, 2)
        layout.addLayout(right, 3)

        self.channels = ChannelPoliciesPage()
        self.channels.save_requested.connect(self.save_channels)
        self.tabs = QTabWidget()
        self.tabs.addTab(policies_page, _("Policies"))
        self.tabs.addTab(self.channels, _("Channels"))
        outer = QVBoxLayout(self)
        outer.addWidget(self.tabs)
        outer.addWidget(buttons)
        self.tabs.currentChanged.connect(self._on_tab)
        self.reload()

    # ----------------------------------------------------------------------------------------- loading

    def _on_tab(self, index: int) -> None:
        # "Save" belongs to the policy form; the channels page has its own button.
        self.save_button.setVisible(self.tabs.widget(index) is not self.channels)

    def reload(self) -> None:
        self.channels.reload()
        self.list.clear()
        for row in policies.stored_policies():
            item = QListWidgetItem(_(row.name))
            item.setData(256, row.id)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def _current_row(self) -> policies.StoredPolicy | None:
        item = self.list.currentItem()
        return None if item is None else policies.stored_policy(item.data(256))

    def _on_current(self, *_args: object) -> None:
        row = self._current_row()
        self.error.clear()
        if row is None:
            return
        try:
            policy = DeadlinePolicy.from_dict(row.definition)
        except ValueError as exc:
            self.error.setText(_("This policy is damaged: {error}").format(error=exc))
            return
        self.name_edit.setText(_(policy.name))
        self.target.setValue(policy.target.total_seconds() / 3600)
        self.clock.setCurrentIndex(self.clock.findData(policy.clock.value))
        self.timezone.setCurrentText(policy.timezone)
        for weekday, edit in enumerate(self.day_edits):
            edit.setText(format_windows(policy.schedule.get(weekday, ())))
        self.country.setText(policy.holidays_country or "")
        self.region.setText(policy.holidays_subdiv or "")
        self.closed_days.setPlainText("\n".join(sorted(d.isoformat() for d in policy.closed_days)))

    # ------------------------------------------------------------------------------------------ saving

    def policy_from_form(self, key: str) -> DeadlinePolicy:
        """Build the policy the form describes; raises ``ValueError`` with a message for the user."""
        schedule = {}
        days = current_locale().days["format"]["wide"]
        for weekday, edit in enumerate(self.day_edits):
            try:
                windows = parse_windows(edit.text())
            except ValueError as exc:
                raise ValueError(
                    _("{day}: cannot read “{text}” (write 09:00–18:00)").format(day=days[weekday], text=exc)
                ) from exc
            if windows:
                schedule[weekday] = windows
        try:
            closed = parse_closed_days(self.closed_days.toPlainText())
        except ValueError as exc:
            raise ValueError(
                _("Closed days: “{text}” is not a date like 2026-12-24").format(text=exc)
            ) from exc
        clock = Clock(self.clock.currentData())
        if clock is Clock.BUSINESS and not schedule:
            raise ValueError(_("A business-hours clock needs opening hours on at least one day"))
        try:
            return DeadlinePolicy(
                key=key,
                name=self.name_edit.text().strip() or key,
                target=timedelta(hours=self.target.value()),
                clock=clock,
                timezone=self.timezone.currentText().strip(),
                schedule=schedule,
                holidays_country=self.country.text().strip().upper() or None,
                holidays_subdiv=self.region.text().strip().upper() or None,
                closed_days=closed,
            )
        except ValueError as exc:
            raise ValueError(_("Cannot save this policy: {error}").format(error=exc)) from exc

    def save(self) -> bool:
        """Validate, store, then recompute open conversations in the background. False when invalid."""
        row = self._current_row()
        if row is None:
            return False
        try:
            policy = self.policy_from_form(row.key)
        except ValueError as exc:
            self.error.setText(str(exc))
            return False
        self.error.clear()
        policies.save_policy(row.id, policy)  # also forgets the resolved policies
        self.list.currentItem().setText(_(policy.name))
        self.channels.reload(keep_choices=True)  # the combos show policy names
        self.recompute()
        return True

    def save_channels(self) -> bool:
        """Store the channels page's choices, then recompute the affected conversations. False when busy."""
        if self.busy:
            return False
        changed = policies.assign_policies(self.channels.choices())
        self.channels.reload()
        self.recompute(policies.running_conversation_ids(changed))
        return True

    def recompute(self, ids: list[int] | None = None) -> None:
        """Recompute the deadlines of ``ids`` (default: every open and snoozed conversation) on a worker."""
        if ids is None:
            ids = open_conversation_ids()
        self.save_button.setEnabled(False)
        self.channels.save_button.setEnabled(False)
        self._progress = QProgressDialog(_("Recomputing deadlines…"), _("Stop"), 0, max(len(ids), 1), self)
        self._progress.setMinimumDuration(300)
        self._progress.setValue(0)
        thread = RecomputeThread(ids)
        self._thread = thread
        thread.progress.connect(self._on_progress)
        thread.failed.connect(self._on_failed)
        thread.finished.connect(self._on_finished)
        self._progress.canceled.connect(self._on_cancel)
        thread.start()

    def _on_progress(self, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress.setLabelText(
                _("Recomputing deadlines: {done} of {total}").format(
                    done=format_number(done), total=format_number(total)
                )
            )
            self._progress.setValue(done)

    def _on_cancel(self) -> None:
        if self._thread is not None:
            self._thread.cancelled = True

    def _on_failed(self, message: str) -> None:
        self.error.setText(_("Recomputing deadlines failed: {error}").format(error=message))

    def _on_finished(self) -> None:
        if self._progress is not None:
            self._progress.reset()
            self._progress.deleteLater()
            self._progress = None
        if self._thread is not None:
            self._thread.deleteLater()
            self._thread = None
        self.save_button.setEnabled(True)
        self.channels.save_button.setEnabled(True)
        self.policies_changed.emit()

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def done(self, result: int) -> None:
        # Closing while recomputing: let the worker finish its chunk rather than kill it mid-transaction.
        if self._thread is not None:
            self._thread.cancelled = True
            self._thread.wait()
        super().done(result)
