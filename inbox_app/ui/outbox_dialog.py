"""The outbox window: every reply on its way out, what happened to it, and a way to act on it.

Why it exists: a reply is written to the outbox before any byte leaves the machine, and the sync engine
delivers it when it can. The seller must be able to see that ("is my answer to Jana gone?"), cancel a reply
that has not started sending, and push a failed one again. The table lists what is still to be delivered and
the last replies that went out or were cancelled (rows come from ``services.outbox.overview``).

The text helpers at module level (:func:`phase_word`, :func:`status_line`, :func:`when_text`, …) are shared
with the thread view, which shows a conversation's replies still in the outbox under its messages.

Signals of :class:`OutboxDialog`:
    open_conversation(int): "Open conversation" (or a double click) on a row.
    retry_requested(): "Retry now" put a reply back in the queue; wake the delivery loop.
    outbox_changed(list): the listed conversations' outbox rows changed here (cancel, retry).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import IntEnum
from functools import cache
from typing import Any

from babel import dates as babel_dates
from PySide6.QtCore import (
    QModelIndex,
    QPointF,
    QRectF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QHideEvent,
    QIcon,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from inbox_app.i18n import N_, _, current_locale, format_datetime, format_duration, format_time, ngettext
from inbox_app.services.outbox import OutboxPhase, OutboxRow, held_reason
from inbox_app.ui.buttons import action_button
from inbox_app.ui.conversation_model import is_dark_palette, local_zone
from inbox_app.ui.table_model import (
    FlatTableModel,
    ModelIndex,
)

RowsFn = Callable[[], Sequence[OutboxRow]]
Confirm = Callable[[str, str], bool]

TICK_MS = 15_000  # "retrying in 2 min" stays true without a query: the clock is re-read, the rows are not

PHASE_WORDS: dict[OutboxPhase, str] = {
    OutboxPhase.QUEUED: N_("Queued"),
    OutboxPhase.SCHEDULED: N_("Scheduled"),
    OutboxPhase.WAITING: N_("Waiting to retry"),
    OutboxPhase.SENDING: N_("Sending"),
    OutboxPhase.SENT: N_("Sent"),
    OutboxPhase.FAILED: N_("Failed"),
    OutboxPhase.CANCELLED: N_("Cancelled"),
    OutboxPhase.DEMO: N_("Demo account: not sent"),
    OutboxPhase.HELD: N_("Held: the conversation changed"),
}

# Text colours with contrast on white (light) and on ~#2b2b2b (dark); the icon's shape carries the meaning too.
_COLORS_LIGHT = {
    OutboxPhase.QUEUED: "#5f6368",
    OutboxPhase.SCHEDULED: "#1a5fb4",
    OutboxPhase.WAITING: "#a35200",
    OutboxPhase.SENDING: "#1a5fb4",
    OutboxPhase.SENT: "#1e7e34",
    OutboxPhase.FAILED: "#b3261e",
    OutboxPhase.CANCELLED: "#5f6368",
    OutboxPhase.DEMO: "#6b4fa0",
    OutboxPhase.HELD: "#8a5300",
}
_COLORS_DARK = {
    OutboxPhase.QUEUED: "#bdc1c6",
    OutboxPhase.SCHEDULED: "#8ab4f8",
    OutboxPhase.WAITING: "#fdd663",
    OutboxPhase.SENDING: "#8ab4f8",
    OutboxPhase.SENT: "#81c995",
    OutboxPhase.FAILED: "#f28b82",
    OutboxPhase.CANCELLED: "#9aa0a6",
    OutboxPhase.DEMO: "#c5a8f0",
    OutboxPhase.HELD: "#ffb74d",
}


# ------------------------------------------------------------------------------------------- texts
def phase_word(phase: OutboxPhase) -> str:
    return _(PHASE_WORDS[phase])


def phase_color(phase: OutboxPhase, dark: bool | None = None) -> QColor:
    table = _COLORS_DARK if (is_dark_palette() if dark is None else dark) else _COLORS_LIGHT
    return QColor(table[phase])


def when_text(at: datetime, now: datetime) -> str:
    """A moment near ``now`` as briefly as it stays clear: "09:00" today, "Tue 09:00" this week, else a date."""
    zone = local_zone()
    local, local_now = at.astimezone(zone), now.astimezone(zone)
    if local.date() == local_now.date():
        return format_time(local, "short", tz=zone)
    if abs((local.date() - local_now.date()).days) < 7:
        locale = current_locale()
        skeleton = "Ehm" if "h" in locale.time_formats["short"].pattern else "EHm"
        return str(babel_dates.format_skeleton(skeleton, local, tzinfo=zone, locale=locale))
    return format_datetime(local, "short", tz=zone)


def error_text(row: OutboxRow) -> str:
    """The last error in the words the delivery side stored (already meant for the seller), or nothing."""
    return (row.last_error or "").strip()


def state_text(row: OutboxRow, now: datetime) -> str:
    """The table's state cell: the word, and the time when there is one ("Scheduled · send at 09:00")."""
    phase = row.phase(now)
    word = phase_word(phase)
    if phase is OutboxPhase.SCHEDULED and row.scheduled_at is not None:
        return _("{state} · send at {time}").format(state=word, time=when_text(row.scheduled_at, now))
    if phase is OutboxPhase.SENT and row.sent_at is not None:
        return _("{state} · {time}").format(state=word, time=when_text(row.sent_at, now))
    return word


def next_attempt_text(row: OutboxRow, now: datetime) -> str:
    phase = row.phase(now)
    if phase is OutboxPhase.WAITING and row.next_attempt_at is not None:
        return _("retrying in {duration}").format(duration=format_duration(row.next_attempt_at - now))
    if phase is OutboxPhase.SCHEDULED and row.scheduled_at is not None:
        return _("at {time}").format(time=when_text(row.scheduled_at, now))
    if phase is OutboxPhase.QUEUED:
        return _("as soon as online")
    if phase is OutboxPhase.SENDING:
        return _("now")
    if phase is OutboxPhase.FAILED:
        return _("not retried by itself")
    if phase is OutboxPhase.DEMO:
        return _("never (demo)")
    if phase is OutboxPhase.HELD:
        return _("when you choose Send anyway")
    return ""


def status_line(row: OutboxRow, now: datetime) -> str:
    """One sentence for a reply still in the outbox, as the thread view shows it under the messages."""
    phase = row.phase(now)
    error = error_text(row)
    if phase is OutboxPhase.SCHEDULED and row.scheduled_at is not None:
        return _("Scheduled for {time}").format(time=when_text(row.scheduled_at, now))
    if phase is OutboxPhase.WAITING:
        text = next_attempt_text(row, now)
        line = _("Waiting — {retry}").format(retry=text)
        return _("{state}. Last attempt: {error}").format(state=line, error=error) if error else line
    if phase is OutboxPhase.SENDING:
        return _("Sending…")
    if phase is OutboxPhase.FAILED:
        return _("Failed: {reason}").format(reason=error or _("no reason was recorded"))
    if phase is OutboxPhase.SENT:
        return _("Sent")
    if phase is OutboxPhase.CANCELLED:
        return _("Cancelled: it will not be sent")
    if phase is OutboxPhase.DEMO:
        return _(
            "Demo account: not sent. Replies of the demo stay in the outbox; add a mail account to send."
        )
    if phase is OutboxPhase.HELD:
        return _("Not sent: {changes}").format(changes=held_reason(row.held_changes))
    line = _("Queued — will send when online")
    return _("{state}. Last attempt: {error}").format(state=line, error=error) if error else line


# ------------------------------------------------------------------------------------------- icons
@cache
def phase_icon(phase: OutboxPhase, dark: bool = False) -> QIcon:
    """A small drawn icon per phase, each with its own shape so the state never depends on colour alone."""
    size = 32  # drawn at 2× and scaled down by Qt: sharp on high-DPI screens
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    color = phase_color(phase, dark)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(color, 3.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    ring = QRectF(4, 4, 24, 24)
    if phase is OutboxPhase.QUEUED:  # a ring with three dots: waiting its turn
        painter.drawEllipse(ring)
        painter.setBrush(color)
        painter.setPen(Qt.PenStyle.NoPen)
        for x in (10.5, 16, 21.5):
            painter.drawEllipse(QPointF(x, 16), 2.0, 2.0)
    elif phase is OutboxPhase.SCHEDULED:  # a clock
        painter.drawEllipse(ring)
        painter.drawLine(QPointF(16, 16), QPointF(16, 9))
        painter.drawLine(QPointF(16, 16), QPointF(21, 19))
    elif phase is OutboxPhase.WAITING:  # a circular arrow: it will try again
        painter.drawArc(ring, 60 * 16, 280 * 16)
        painter.setBrush(color)
        painter.setPen(Qt.PenStyle.NoPen)
        head = QPainterPath(QPointF(19, 2))
        head.lineTo(QPointF(27, 8))
        head.lineTo(QPointF(18, 12))
        head.closeSubpath()
        painter.drawPath(head)
    elif phase is OutboxPhase.SENDING:  # an arrow on its way
        painter.drawLine(QPointF(5, 16), QPointF(25, 16))
        painter.drawLine(QPointF(18, 8), QPointF(26, 16))
        painter.drawLine(QPointF(18, 24), QPointF(26, 16))
    elif phase is OutboxPhase.SENT:  # a check mark
        painter.drawPolyline([QPointF(6, 17), QPointF(13, 24), QPointF(26, 8)])
    elif phase is OutboxPhase.FAILED:  # a filled disc with a cross
        painter.setBrush(color)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(ring)
        painter.setPen(QPen(QColor("white"), 3.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(QPointF(11.5, 11.5), QPointF(20.5, 20.5))
        painter.drawLine(QPointF(20.5, 11.5), QPointF(11.5, 20.5))
    elif phase is OutboxPhase.HELD:  # a triangle with "!": stopped for the seller to look
        triangle = QPainterPath(QPointF(16, 4))
        triangle.lineTo(QPointF(28, 27))
        triangle.lineTo(QPointF(4, 27))
        triangle.closeSubpath()
        painter.drawPath(triangle)
        painter.drawLine(QPointF(16, 12), QPointF(16, 19))
        painter.drawPoint(QPointF(16, 23.5))
    elif phase is OutboxPhase.DEMO:  # a dashed ring: a rehearsal, nothing leaves
        painter.setPen(QPen(color, 3.2, Qt.PenStyle.DashLine, Qt.PenCapStyle.FlatCap))
        painter.drawEllipse(ring)
        painter.setBrush(color)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(QPointF(16, 16), 3.5, 3.5)
    else:  # cancelled: a ring with a bar through it
        painter.drawEllipse(ring)
        painter.drawLine(QPointF(8.5, 23.5), QPointF(23.5, 8.5))
    painter.end()
    return QIcon(pixmap)


# ------------------------------------------------------------------------------------------- model
class Column(IntEnum):
    STATE = 0
    CONVERSATION = 1
    RECIPIENTS = 2
    CREATED = 3
    ATTEMPTS = 4
    NEXT_ATTEMPT = 5
    ERROR = 6


COLUMN_TITLES: dict[Column, str] = {
    Column.STATE: N_("State"),
    Column.CONVERSATION: N_("Conversation"),
    Column.RECIPIENTS: N_("To"),
    Column.CREATED: N_("Written"),
    Column.ATTEMPTS: N_("Attempts"),
    Column.NEXT_ATTEMPT: N_("Next attempt"),
    Column.ERROR: N_("Last error"),
}


class OutboxTableModel(FlatTableModel):
    """The outbox rows as a table. Holds plain :class:`OutboxRow` values; never queries anything itself."""

    column_titles = COLUMN_TITLES

    IdRole = Qt.ItemDataRole.UserRole + 1
    RowRole = Qt.ItemDataRole.UserRole + 2

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[OutboxRow] = []
        self._now = datetime.now(UTC)

    def set_rows(self, rows: Sequence[OutboxRow], now: datetime) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._now = now
        self.endResetModel()

    def set_now(self, now: datetime) -> None:
        """Re-read the clock: only the cells that depend on it are repainted."""
        self._now = now
        if self._rows:
            last = len(self._rows) - 1
            for column in (Column.STATE, Column.NEXT_ATTEMPT):
                self.dataChanged.emit(self.index(0, column), self.index(last, column))

    def now(self) -> datetime:
        return self._now

    def rows(self) -> list[OutboxRow]:
        return list(self._rows)

    def row_at(self, row: int) -> OutboxRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, item_id: int) -> int | None:
        for number, row in enumerate(self._rows):
            if row.id == item_id:
                return number
        return None

    # ------------------------------------------------------------------------------------ Qt model
    def row_count(self) -> int:
        return len(self._rows)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = Column(index.column())
        phase = row.phase(self._now)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == self.IdRole:
            return row.id
        if role == self.RowRole:
            return row
        if role == Qt.ItemDataRole.DecorationRole and column is Column.STATE:
            return phase_icon(phase, is_dark_palette())
        if role == Qt.ItemDataRole.ForegroundRole:
            if column is Column.STATE or (column is Column.ERROR and phase is OutboxPhase.FAILED):
                return QBrush(phase_color(phase))
            return None
        if role == Qt.ItemDataRole.FontRole and column is Column.STATE and phase is OutboxPhase.FAILED:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            horizontal = (
                Qt.AlignmentFlag.AlignRight if column is Column.ATTEMPTS else Qt.AlignmentFlag.AlignLeft
            )
            return int(Qt.AlignmentFlag.AlignVCenter | horizontal)
        return None

    def _display(self, row: OutboxRow, column: Column) -> str:
        if column is Column.STATE:
            return state_text(row, self._now)
        if column is Column.CONVERSATION:
            subject = row.subject or _("(no subject)")
            return f"{subject} — {row.customer_name}" if row.customer_name else subject
        if column is Column.RECIPIENTS:
            return ", ".join(row.recipients) or row.channel_name
        if column is Column.CREATED:
            return when_text(row.created_at, self._now)
        if column is Column.ATTEMPTS:
            return str(row.attempts)
        if column is Column.NEXT_ATTEMPT:
            return next_attempt_text(row, self._now)
        error = error_text(row)
        if error and row.phase(self._now) is OutboxPhase.SENT:
            return _("Warning: {text}").format(text=error)
        return error

    def _tooltip(self, row: OutboxRow, column: Column) -> str | None:
        if column is Column.STATE:
            return status_line(row, self._now)
        if column is Column.CONVERSATION:
            preview = row.body.strip()
            return preview[:400] + ("…" if len(preview) > 400 else "")
        if column is Column.RECIPIENTS:
            return "\n".join(row.recipients) or None
        if column is Column.CREATED:
            return format_datetime(row.created_at, "medium", tz=local_zone())
        if column is Column.ERROR:
            return error_text(row) or None
        return None


# ------------------------------------------------------------------------------------------ dialog
def _service_rows() -> list[OutboxRow]:
    from inbox_app.services import outbox

    return outbox.overview()


def _service_cancel(item_id: int) -> bool:
    from inbox_app.services import outbox

    return outbox.cancel(item_id, actor="user")


def _service_retry(item_id: int) -> None:
    from inbox_app.services import outbox

    outbox.retry_now(item_id)


def _service_send_again(item_id: int) -> bool:
    from inbox_app.services import outbox

    return outbox.send_again(item_id, actor="user") is not None


def _service_send_anyway(item_id: int) -> bool:
    from inbox_app.services import outbox

    return outbox.send_anyway(item_id, actor="user")


class OutboxDialog(QDialog):
    """The outbox table with "Cancel reply", "Retry now", "Send again" (an unconfirmed delivery) and "Open
    conversation" (signals: module docstring)."""

    open_conversation = Signal(int)
    retry_requested = Signal()
    outbox_changed = Signal(list)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        rows_fn: RowsFn | None = None,
        now_fn: Callable[[], datetime] | None = None,
        cancel_fn: Callable[[int], bool] | None = None,
        retry_fn: Callable[[int], None] | None = None,
        send_again_fn: Callable[[int], bool] | None = None,
        send_anyway_fn: Callable[[int], bool] | None = None,
        confirm: Confirm | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("outboxDialog")
        self.setWindowTitle(_("Outbox"))
        self._rows_fn: RowsFn = rows_fn or _service_rows
        self._now_fn: Callable[[], datetime] = now_fn or (lambda: datetime.now(UTC))
        self._cancel_fn = cancel_fn or _service_cancel
        self._retry_fn = retry_fn or _service_retry
        self._send_again_fn = send_again_fn or _service_send_again
        self._send_anyway_fn = send_anyway_fn or _service_send_anyway
        self._confirm: Confirm = confirm or self._ask
        self._online = True

        self.summary = QLabel(self)
        self.summary.setObjectName("outboxSummary")
        self.summary.setWordWrap(True)

        self.model = OutboxTableModel(self)
        self.table = QTableView(self)
        self.table.setObjectName("outboxTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.doubleClicked.connect(self._on_double_click)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.modelReset.connect(self._update_buttons)

        self.empty = QLabel(
            _("The outbox is empty. Replies you send wait here until they are delivered."), self
        )
        self.empty.setObjectName("outboxEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setEnabled(False)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)

        self.detail = QLabel(self)
        self.detail.setObjectName("outboxDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.message = QLabel(self)
        self.message.setObjectName("outboxMessage")
        self.message.setWordWrap(True)
        self.message.setVisible(False)

        self.cancel_button = action_button(
            self,
            _("Cancel reply"),
            _("Do not send this reply (only while it waits in the queue)"),
            self.cancel_selected,
        )
        self.retry_button = action_button(
            self, _("Retry now"), _("Try to send this reply again right away"), self.retry_selected
        )
        self.send_again_button = action_button(
            self,
            _("Send again"),
            _("Send a copy of a reply whose delivery was not confirmed (the customer may get it twice)"),
            self.send_again_selected,
        )
        self.send_anyway_button = action_button(
            self,
            _("Send anyway"),
            _("Send a reply held because the conversation changed after you began writing it"),
            self.send_anyway_selected,
        )
        self.open_button = QPushButton(_("Open conversation"), self)
        self.open_button.clicked.connect(self.open_selected)
        close_box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close_box.rejected.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.send_again_button)
        buttons.addWidget(self.send_anyway_button)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        buttons.addWidget(close_box)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.detail)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(lambda: self.model.set_now(self._now_fn()))
        self.resize(1100, 460)
        self._update_buttons()

    # --------------------------------------------------------------------------------------- public
    def reload(self) -> None:
        """Read the outbox again, keeping the selected reply selected."""
        selected = self.selected_row()
        self.model.set_rows(self._rows_fn(), self._now_fn())
        self._fit_columns()
        if selected is not None:
            self.select_item(selected.id)
        self.stack.setCurrentWidget(self.table if self.model.rowCount() else self.empty)
        self._update_summary()

    def set_online(self, online: bool) -> None:
        self._online = online
        self._update_summary()

    def select_item(self, item_id: int) -> bool:
        row = self.model.row_of(item_id)
        if row is None:
            return False
        self.table.selectRow(row)
        self.table.scrollTo(self.model.index(row, 0))
        return True

    def selected_row(self) -> OutboxRow | None:
        indexes = self.table.selectionModel().selectedRows()
        return self.model.row_at(indexes[0].row()) if indexes else None

    def cancel_selected(self) -> bool:
        row = self.selected_row()
        if row is None or not row.can_cancel:
            return False
        who = row.customer_name or ", ".join(row.recipients) or row.channel_name
        if not self._confirm(
            _("Cancel reply"),
            _("Cancel the reply to {customer} about “{subject}”? It will not be sent.").format(
                customer=who, subject=row.subject or _("(no subject)")
            ),
        ):
            return False
        if self._cancel_fn(row.id):
            self._show_message(_("Reply cancelled: it will not be sent."))
            done = True
        else:
            self._show_message(_("Too late to cancel: the reply is already on its way."), error=True)
            done = False
        self.reload()
        self.outbox_changed.emit([row.conversation_id])
        return done

    def retry_selected(self) -> bool:
        row = self.selected_row()
        if row is None or not row.can_retry(self._now_fn()):
            return False
        self._retry_fn(row.id)
        self._show_message(_("The reply is back in the queue and will be sent as soon as possible."))
        self.reload()
        self.retry_requested.emit()
        self.outbox_changed.emit([row.conversation_id])
        return True

    def send_again_selected(self) -> bool:
        row = self.selected_row()
        if row is None or not row.can_send_again:
            return False
        who = row.customer_name or ", ".join(row.recipients) or row.channel_name
        if not self._confirm(
            _("Send again"),
            _(
                "The first delivery of this reply to {customer} was not confirmed. Send it again? If the first "
                "one did arrive, the customer gets it twice."
            ).format(customer=who),
        ):
            return False
        if not self._send_again_fn(row.id):
            return False
        self._show_message(_("A copy of the reply is in the queue and will be sent as soon as possible."))
        self.reload()
        self.retry_requested.emit()
        self.outbox_changed.emit([row.conversation_id])
        return True

    def send_anyway_selected(self) -> bool:
        """Release the selected held reply (the seller saw what changed: the detail line says it)."""
        row = self.selected_row()
        if row is None or not row.is_held or not self._send_anyway_fn(row.id):
            return False
        self._show_message(_("The reply is back in the queue and will be sent as soon as possible."))
        self.reload()
        self.retry_requested.emit()
        self.outbox_changed.emit([row.conversation_id])
        return True

    def open_selected(self) -> None:
        row = self.selected_row()
        if row is not None:
            self.open_conversation.emit(row.conversation_id)

    # ------------------------------------------------------------------------------------ internals
    def _update_buttons(self) -> None:
        row = self.selected_row()
        self.cancel_button.setEnabled(row is not None and row.can_cancel)
        self.retry_button.setEnabled(row is not None and row.can_retry(self.model.now()))
        self.send_again_button.setEnabled(row is not None and row.can_send_again)
        self.send_anyway_button.setEnabled(row is not None and row.is_held)
        self.open_button.setEnabled(row is not None)
        self._update_detail(row)

    def _update_detail(self, row: OutboxRow | None) -> None:
        """The selected reply in full words under the table: an error rarely fits in its column."""
        if row is None:
            self.detail.setText(_("Select a reply to see what happened to it."))
            self.detail.setStyleSheet("")
            return
        now = self.model.now()
        phase = row.phase(now)
        lines = [status_line(row, now)]
        if phase is OutboxPhase.SENT and error_text(row):
            lines.append(_("Warning: {text}").format(text=error_text(row)))
        if row.recipients:
            lines.append(_("To: {recipients}").format(recipients=", ".join(row.recipients)))
        self.detail.setText("\n".join(lines))
        alarming = (OutboxPhase.FAILED, OutboxPhase.WAITING, OutboxPhase.HELD)
        color = phase_color(phase).name() if phase in alarming else ""
        self.detail.setStyleSheet(f"color:{color}" if color else "")

    def _update_summary(self) -> None:
        now = self.model.now()
        phases = [row.phase(now) for row in self.model.rows()]
        waiting = sum(
            phase in (OutboxPhase.QUEUED, OutboxPhase.WAITING, OutboxPhase.SENDING) for phase in phases
        )
        scheduled = phases.count(OutboxPhase.SCHEDULED)
        failed = phases.count(OutboxPhase.FAILED)
        parts = [
            ngettext("{n} reply waiting to be sent", "{n} replies waiting to be sent", waiting).format(
                n=waiting
            )
        ]
        if scheduled:
            parts.append(ngettext("{n} scheduled", "{n} scheduled", scheduled).format(n=scheduled))
        if failed:
            parts.append(ngettext("{n} failed", "{n} failed", failed).format(n=failed))
        held = phases.count(OutboxPhase.HELD)
        if held:
            parts.append(
                ngettext(
                    "{n} held: the conversation changed", "{n} held: the conversations changed", held
                ).format(n=held)
            )
        text = " · ".join(parts)
        if not self._online and waiting:
            text += " — " + _("offline: they go out when the connection is back")
        elif failed:
            text += " — " + _("a failed reply is not retried by itself: fix the cause, then “Retry now”")
        self.summary.setText(text)

    def _show_message(self, text: str, *, error: bool = False) -> None:
        color = phase_color(OutboxPhase.FAILED).name() if error else ""
        self.message.setStyleSheet(f"color:{color}" if color else "")
        self.message.setText(text)
        self.message.setVisible(True)

    def _fit_columns(self) -> None:
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        for column, widest in ((Column.CONVERSATION, 240), (Column.RECIPIENTS, 180)):
            if header.sectionSize(column) > widest:
                header.resizeSection(column, widest)
        # The last column stretches over what is left; the full error is in the line under the table.
        header.resizeSection(Column.ERROR, 120)

    def _on_double_click(self, index: QModelIndex) -> None:
        row = self.model.row_at(index.row())
        if row is not None:
            self.open_conversation.emit(row.conversation_id)

    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._tick.start()

    def hideEvent(self, event: QHideEvent) -> None:
        self._tick.stop()
        super().hideEvent(event)


__all__ = [
    "Column",
    "OutboxDialog",
    "OutboxTableModel",
    "next_attempt_text",
    "phase_color",
    "phase_icon",
    "phase_word",
    "state_text",
    "status_line",
    "when_text",
]
