"""The conversation list view: a table tuned for huge inboxes and keyboard triage.

Fixed row heights and no word wrap mean Qt never asks every row for its size, so a 100,000-row view opens as
fast as a 100-row one. One aligned timer (every 30 s, on :00 and :30) repaints the countdowns of the rows on
screen; no timer per row. The list reports which rows are visible to the model, which is all ``tick`` needs.

Signals:
    current_conversation_changed(object): id of the newly current conversation, or None.
    open_requested(int): Enter/Return or double-click on a conversation ("go to the thread/reply").
    ticked(): the countdown timer fired (the controller refreshes counts on the same beat).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QPainter,
    QPalette,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from inbox_app.i18n import _
from inbox_app.ui.conversation_model import Column, ConversationListModel, status_and_tags, time_left_samples

TICK_SECONDS = 30

# Columns are sized from what they show, measured with the list's font (bold: unread rows are bold), so a
# language with longer words gets wider columns instead of cut-off amounts; the subject takes the rest.
CHANNEL_SAMPLE = "Amazon.co.uk"  # the longest marketplace name: never cut
CHANNEL_MAX_FACTOR = 1.15  # longer channel names (a shop's mail address) are elided beyond this
ORDER_SAMPLE = "404-0000000-0000000"  # an Amazon order id: the customer cell's second line
# The order id is the customer cell's second line and status/tags lead the subject's second line, so their
# own columns start hidden (the header's context menu shows them).
_HIDDEN_BY_DEFAULT = (Column.ORDER, Column.STATUS)
TWO_LINE_COLUMNS = (Column.SUBJECT, Column.CUSTOMER)


def _second_line(column: int, summary: Any) -> str:
    if summary is None:
        return ""
    if column == Column.SUBJECT:
        status = status_and_tags(summary)
        return f"[{status}] {summary.snippet or ''}" if status else str(summary.snippet or "")
    if column == Column.CUSTOMER:
        return str(summary.order_id or "")
    return ""


class ConversationDelegate(QStyledItemDelegate):
    """Draws two-line cells: subject over a muted snippet, customer over the order id; others as usual."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        self._paint(painter, option, index)

    def _paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        if index.column() not in TWO_LINE_COLUMNS:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        subject = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is None:
            super().paint(painter, option, index)
            return
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        model = index.model()
        # Ask the Python model directly: PySide 6.12's QModelIndex.data() loses a reference to None
        # whenever a role has no value (crashes the interpreter at exit after enough paints).
        summary = model.summary_at(index.row()) if isinstance(model, ConversationListModel) else None
        snippet = _second_line(index.column(), summary)
        if snippet == subject:
            snippet = ""
        rect: QRect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        group = (
            QPalette.ColorGroup.Normal
            if opt.state & QStyle.StateFlag.State_Active
            else QPalette.ColorGroup.Inactive
        )
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.save()
        line_h = opt.fontMetrics.height()
        if snippet:
            top = rect.top() + max(0, (rect.height() - 2 * line_h) // 2)
        else:
            top = rect.top() + max(0, (rect.height() - line_h) // 2)
        painter.setFont(opt.font)
        painter.setPen(opt.palette.color(group, text_role))
        first = QRect(rect.left(), top, rect.width(), line_h)
        painter.drawText(
            first,
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            painter.fontMetrics().elidedText(subject, Qt.TextElideMode.ElideRight, rect.width()),
        )
        if snippet:
            font = opt.font
            font.setBold(False)
            painter.setFont(font)
            muted = opt.palette.color(group, text_role)
            if not selected:
                muted = opt.palette.color(group, QPalette.ColorRole.PlaceholderText)
            painter.setPen(muted)
            second = QRect(rect.left(), top + line_h, rect.width(), line_h)
            painter.drawText(
                second,
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                painter.fontMetrics().elidedText(snippet, Qt.TextElideMode.ElideRight, rect.width()),
            )
        painter.restore()


class ConversationList(QTableView):
    """The table of conversations (see the module docstring)."""

    current_conversation_changed = Signal(object)
    open_requested = Signal(int)
    ticked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conversationList")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setAlternatingRowColors(True)
        self.setSortingEnabled(False)  # the store orders by deadline; a 100k sort would load every row
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setItemDelegate(ConversationDelegate(self))
        vheader = self.verticalHeader()
        vheader.setVisible(False)
        vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vheader.setMinimumSectionSize(10)
        vheader.setDefaultSectionSize(2 * self.fontMetrics().height() + 10)
        hheader = self.horizontalHeader()
        hheader.setHighlightSections(False)
        hheader.setStretchLastSection(False)
        hheader.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        hheader.setSectionsMovable(True)
        hheader.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        hheader.customContextMenuRequested.connect(self._header_menu)
        self._context_actions: list[QAction | None] = []
        self._fitting = False
        self._channel_sized_by_user = False
        self._fitted_for = -1  # how many loaded rows the channel width was last measured for
        hheader.sectionResized.connect(self._on_section_resized)
        self._empty_text = _("No conversations here.")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timer)
        self.verticalScrollBar().valueChanged.connect(self.update_visible_range)
        self.doubleClicked.connect(self._on_double_clicked)

    # ----------------------------------------------------------------------------------------- set-up
    def conversation_model(self) -> ConversationListModel | None:
        model = self.model()
        return model if isinstance(model, ConversationListModel) else None

    def setModel(self, model: Any) -> None:
        super().setModel(model)
        hheader = self.horizontalHeader()
        if model is not None and model.columnCount() == len(Column):
            for column in Column:
                hheader.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            hheader.setSectionResizeMode(Column.SUBJECT, QHeaderView.ResizeMode.Stretch)
            self.fit_columns()
            for column in _HIDDEN_BY_DEFAULT:
                hheader.setSectionHidden(column, True)
        selection = self.selectionModel()
        if selection is not None:
            selection.currentRowChanged.connect(self._on_current_row_changed)
        if isinstance(model, ConversationListModel):
            model.modelReset.connect(self.update_visible_range)
            model.rowsInserted.connect(self.update_visible_range)
            model.rowsRemoved.connect(self.update_visible_range)
            model.layoutChanged.connect(self.update_visible_range)
        self.update_visible_range()

    # ---------------------------------------------------------------------------------- column widths
    def _text_width(self, texts: Iterable[str], *, bold: bool = True) -> int:
        font = QFont(self.font())
        font.setBold(bold)
        metrics = QFontMetrics(font)
        return max((metrics.horizontalAdvance(t) for t in texts), default=0)

    def column_width_for(self, column: Column) -> int:
        """The width a column needs for its content in the current language and font."""
        icon = 16 + 6  # decoration and its spacing
        padding = 2 * (self.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, self) + 1) + 8
        if column is Column.TIME_LEFT:
            return self._text_width(time_left_samples()) + icon + padding
        if column is Column.CHANNEL:
            sample = self._text_width([CHANNEL_SAMPLE])
            names = [CHANNEL_SAMPLE, *self._loaded_channel_names()]
            return min(self._text_width(names), int(sample * CHANNEL_MAX_FACTOR)) + icon + padding
        if column is Column.CUSTOMER:
            return self._text_width([ORDER_SAMPLE], bold=False) + padding
        if column is Column.ORDER:
            return self._text_width([ORDER_SAMPLE], bold=False) + padding
        return self._text_width([_("Snoozed"), _("Pending")], bold=False) + padding + 24

    def fit_columns(self) -> None:
        """Size every column but the subject from its content (the subject stretches over the rest)."""
        header = self.horizontalHeader()
        self._fitting = True
        try:
            for column in Column:
                if column is not Column.SUBJECT:
                    header.resizeSection(column, self.column_width_for(column))
        finally:
            self._fitting = False

    def _loaded_channel_names(self) -> list[str]:
        model = self.conversation_model()
        if model is None:
            return []
        return sorted({s.channel_name or "" for s in model.cached_summaries()})  # no query: what is loaded

    def _fit_channel_column(self, *_args: object) -> None:
        """Widen the channel column for a longer name just loaded, unless the seller sized it by hand."""
        model = self.conversation_model()
        loaded = model.cached_count() if model is not None else 0
        if self._channel_sized_by_user or loaded == self._fitted_for:
            return
        self._fitted_for = loaded
        wanted = self.column_width_for(Column.CHANNEL)
        header = self.horizontalHeader()
        if header.sectionSize(Column.CHANNEL) < wanted:
            self._fitting = True
            try:
                header.resizeSection(Column.CHANNEL, wanted)
            finally:
                self._fitting = False

    def _on_section_resized(self, column: int, _old: int, _new: int) -> None:
        if column == Column.CHANNEL and not self._fitting:
            self._channel_sized_by_user = True  # a drag or a restored layout: keep it

    def _header_menu(self, pos: Any) -> None:
        """Show or hide columns (the time-left column always stays)."""
        model = self.model()
        if model is None:
            return
        header = self.horizontalHeader()
        menu = QMenu(self)
        for column in range(1, model.columnCount()):
            title = model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
            action = menu.addAction(str(title))
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            action.toggled.connect(lambda on, c=column: header.setSectionHidden(c, not on))
        menu.exec(header.mapToGlobal(pos))

    def set_context_actions(self, actions: Iterable[QAction | None]) -> None:
        """The window's conversation actions, shown in the context menu (None: a separator)."""
        self._context_actions = list(actions)

    def set_empty_text(self, text: str) -> None:
        self._empty_text = text
        self.viewport().update()

    def start_countdown(self) -> None:
        """Start the aligned countdown timer (the window calls this once it is shown)."""
        self._arm_timer()

    def stop_countdown(self) -> None:
        self._timer.stop()

    def countdown_active(self) -> bool:
        return self._timer.isActive()

    # -------------------------------------------------------------------------------------- selection
    def current_conversation_id(self) -> int | None:
        index = self.currentIndex()
        if not index.isValid():
            return None
        return self._id_of(index)

    def select_row(self, row: int) -> bool:
        model = self.model()
        if model is None or not 0 <= row < model.rowCount():
            return False
        index = model.index(row, Column.SUBJECT)
        self.setCurrentIndex(index)
        self.scrollTo(index)
        return True

    def select_conversation(self, conversation_id: int) -> bool:
        model = self.conversation_model()
        row = model.row_of(conversation_id) if model is not None else None
        return row is not None and self.select_row(row)

    def move_selection(self, delta: int) -> None:
        model = self.model()
        if model is None or model.rowCount() == 0:
            return
        current = self.currentIndex()
        row = current.row() + delta if current.isValid() else 0
        self.select_row(max(0, min(row, model.rowCount() - 1)))

    def _id_of(self, index: QModelIndex | QPersistentModelIndex) -> int | None:
        """The conversation id of a row, asked of the Python model (never through ``index.data``)."""
        model = self.conversation_model()
        if model is None or not index.isValid():
            return None
        return model.id_at(index.row())

    def _on_current_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.current_conversation_changed.emit(self._id_of(current))

    def _on_double_clicked(self, index: QModelIndex) -> None:
        value = self._id_of(index)
        if value is not None:
            self.open_requested.emit(value)

    # ------------------------------------------------------------------------------------- keyboard
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        plain = not (event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier)
        if plain and key == Qt.Key.Key_J:
            self.move_selection(1)
            return
        if plain and key == Qt.Key.Key_K:
            self.move_selection(-1)
            return
        if plain and key in (Qt.Key.Key_Home, Qt.Key.Key_End):
            # A row is the unit here (whole rows are selected): Home/End go to the first/last conversation,
            # not to the first/last column as in a spreadsheet.
            model = self.model()
            if model is not None and model.rowCount():
                self.select_row(0 if key == Qt.Key.Key_Home else model.rowCount() - 1)
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            cid = self.current_conversation_id()
            if cid is not None:
                self.open_requested.emit(cid)
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        index = self.indexAt(event.pos())
        if not index.isValid() or not self._context_actions:
            return
        if index.row() != self.currentIndex().row():
            self.select_row(index.row())
        menu = QMenu(self)
        for action in self._context_actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        menu.exec(event.globalPos())

    # ------------------------------------------------------------------------------------ countdown
    def update_visible_range(self, *_args: object) -> None:
        model = self.conversation_model()
        if model is None:
            return
        count = model.rowCount()
        if count == 0:
            model.set_visible_rows(-1, -1)
            return
        first = self.rowAt(0)
        last = self.rowAt(max(0, self.viewport().height() - 1))
        if first < 0:
            first = 0
        if last < 0:
            last = count - 1
        model.set_visible_rows(first, last)

    def tick(self, now: datetime | None = None) -> None:
        """Repaint the countdowns of the visible rows (what the timer does; tests call it with a fake now)."""
        model = self.conversation_model()
        if model is not None:
            self.update_visible_range()
            model.tick(now)
        self.ticked.emit()

    def _arm_timer(self) -> None:
        now = datetime.now()
        into = (now.second % TICK_SECONDS) * 1000 + now.microsecond // 1000
        self._timer.start(TICK_SECONDS * 1000 - into + 50)

    def _on_timer(self) -> None:
        self.tick()
        self._arm_timer()

    # ------------------------------------------------------------------------------------- painting
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.update_visible_range()

    def paintEvent(self, event: Any) -> None:
        super().paintEvent(event)
        self._fit_channel_column()  # rows painted just now may have a longer channel name
        model = self.model()
        if model is not None and model.rowCount() == 0 and self._empty_text:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                self.viewport().rect().adjusted(24, 24, -24, -24),
                int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap),
                self._empty_text,
            )
            painter.end()
