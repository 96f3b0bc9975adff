"""The customer's history beside the thread: every conversation of the same buyer across channels and accounts,
and merging or splitting customers by hand (each undoable with Ctrl+Z).

:class:`CustomerPanel` is the view (a table and two buttons, a context menu on the rows). Signals:
    conversation_requested(int): open one of the listed conversations (double click, Enter, "Open").
    merge_requested(int): "Same customer — merge" on a row linked by order or address (its customer's id).
    merge_search_requested(): "Merge with…": the seller looks the other customer up.
    split_requested(int): "Split off" (a conversation id): not the same customer after all.

:class:`CustomerActions` owns the behaviour: it fills the panel from ``services.customers`` and runs merge and
split as undo commands on the window's undo stack, telling the status bar what it did.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QFont, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inbox_app.domain.canned_library import CATEGORIES
from inbox_app.i18n import N_, _, format_datetime, ngettext
from inbox_app.services import customers
from inbox_app.services.customers import CustomerChoice, CustomerHistory, LinkedConversation
from inbox_app.ui import icons
from inbox_app.ui.buttons import action_button
from inbox_app.ui.conversation_model import STATUS_LABELS, local_zone

ID_ROLE = Qt.ItemDataRole.UserRole
CUSTOMER_ROLE = Qt.ItemDataRole.UserRole + 1
LINK_ROLE = Qt.ItemDataRole.UserRole + 2

CATEGORY_COLUMN = 3

LINK_WORDS = {
    "order": N_("same order"),
    "address": N_("same address"),
}


def category_text(category: str | None) -> str:
    if not category:
        return ""
    return _(CATEGORIES[category]) if category in CATEGORIES else category


class CustomerPanel(QWidget):
    """The history table (see the module docstring for the signals)."""

    conversation_requested = Signal(int)
    merge_requested = Signal(int)
    merge_search_requested = Signal()
    split_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("customerPanel")
        self._history: CustomerHistory | None = None
        self._current: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.table = QTreeWidget(self)
        self.table.setObjectName("customerHistory")
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setHeaderLabels([_("Channel"), _("Subject"), _("Order"), _("Category"), _("Status")])
        header = self.table.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header.setStretchLastSection(False)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.itemActivated.connect(self._on_activated)
        self.table.itemDoubleClicked.connect(self._on_activated)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.merge_button = action_button(
            self,
            _("Merge with…"),
            _("This buyer also wrote as another customer: bring their conversations here"),
            self.merge_search_requested,
        )
        self.split_button = action_button(
            self,
            _("Split off"),
            _("The selected conversation is somebody else: give it a customer of its own"),
            self._split_selected,
        )
        buttons.addWidget(self.merge_button)
        buttons.addWidget(self.split_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self._update_buttons()

    # ------------------------------------------------------------------------------------------ public
    def set_history(self, history: CustomerHistory | None, current: int | None) -> None:
        self._history, self._current = history, current
        self.table.clear()
        bold = QFont(self.table.font())
        bold.setBold(True)
        for conversation in history.conversations if history is not None else ():
            item = QTreeWidgetItem(self._cells(conversation))
            item.setIcon(0, icons.channel_icon(conversation.channel_kind))
            item.setData(0, ID_ROLE, conversation.id)
            item.setData(0, CUSTOMER_ROLE, conversation.customer_id)
            item.setData(0, LINK_ROLE, conversation.linked_by)
            when = (
                format_datetime(conversation.last_message_at, "short", tz=local_zone())
                if conversation.last_message_at
                else ""
            )
            item.setToolTip(1, f"{conversation.subject}\n{when}".strip())
            where = _("{channel} · account {account}").format(
                channel=conversation.channel_name, account=conversation.account_name
            )
            if conversation.linked_by in LINK_WORDS:
                where += f" ({_(LINK_WORDS[conversation.linked_by])})"
            item.setToolTip(0, where)
            if conversation.id == current:
                for column in range(self.table.columnCount()):
                    item.setFont(column, bold)
            self.table.addTopLevelItem(item)
        # The category column only where the profile has categories (issue 14.2): the pane is narrow.
        has_categories = history is not None and any(c.category for c in history.conversations)
        self.table.setColumnHidden(CATEGORY_COLUMN, not has_categories)
        self.merge_button.setEnabled(history is not None and history.customer_id is not None)
        self._update_buttons()

    def other_count(self) -> int:
        if self._history is None:
            return 0
        return sum(c.id != self._current for c in self._history.conversations)

    def history(self) -> CustomerHistory | None:
        return self._history

    def row_of(self, conversation_id: int) -> QTreeWidgetItem | None:
        for index in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(index)
            if item is not None and item.data(0, ID_ROLE) == conversation_id:
                return item
        return None

    # --------------------------------------------------------------------------------------- internals
    def _cells(self, conversation: LinkedConversation) -> list[str]:
        return [
            conversation.channel_name,
            conversation.subject,
            conversation.order_id or "",
            category_text(conversation.category),
            _(STATUS_LABELS.get(conversation.status, conversation.status)),
        ]

    def _selected(self) -> QTreeWidgetItem | None:
        items = self.table.selectedItems()
        return items[0] if items else None

    def _can_split(self, item: QTreeWidgetItem | None) -> bool:
        if item is None or self._history is None or item.data(0, LINK_ROLE) != "customer":
            return False
        own = [c for c in self._history.conversations if c.linked_by == "customer"]
        return len(own) > 1

    def _update_buttons(self) -> None:
        self.split_button.setEnabled(self._can_split(self._selected()))

    def _split_selected(self) -> None:
        item = self._selected()
        if self._can_split(item) and item is not None:
            self.split_requested.emit(int(item.data(0, ID_ROLE)))

    def _on_activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        value = item.data(0, ID_ROLE)
        if value is not None and value != self._current:
            self.conversation_requested.emit(int(value))

    def _context_menu(self, point: QPoint) -> None:
        item = self.table.itemAt(point)
        if item is None:
            return
        self.table.setCurrentItem(item)
        menu = self.context_menu_for(item)
        menu.exec(self.table.viewport().mapToGlobal(point))

    def context_menu_for(self, item: QTreeWidgetItem) -> QMenu:
        """The row's actions: Open; Same customer — merge (a row linked by order or address); Split off."""
        menu = QMenu(self)
        conversation_id = int(item.data(0, ID_ROLE))
        open_action = QAction(_("Open"), menu)
        open_action.triggered.connect(lambda: self._on_activated(item))
        open_action.setEnabled(conversation_id != self._current)
        menu.addAction(open_action)
        other_customer = item.data(0, CUSTOMER_ROLE)
        if item.data(0, LINK_ROLE) in LINK_WORDS and other_customer is not None:
            merge = QAction(_("Same customer — merge"), menu)
            merge.triggered.connect(lambda: self.merge_requested.emit(int(other_customer)))
            menu.addAction(merge)
        split = QAction(_("Split off into its own customer"), menu)
        split.setEnabled(self._can_split(item))
        split.triggered.connect(lambda: self.split_requested.emit(conversation_id))
        menu.addAction(split)
        return menu


class CustomerPickerDialog(QDialog):
    """ "Merge with…": type part of a name, address or user id, pick the customer."""

    def __init__(
        self,
        search: Callable[[str], list[CustomerChoice]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("customerPicker")
        self.setWindowTitle(_("Merge with another customer"))
        self._search = search
        self.query = QLineEdit(self)
        self.query.setPlaceholderText(_("Name, e-mail address or marketplace user id"))
        self.query.textChanged.connect(self._refresh)
        self.results = QListWidget(self)
        self.results.itemDoubleClicked.connect(lambda _item: self.accept())
        self.results.currentItemChanged.connect(lambda *_args: self._update_ok())
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(_("Merge"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(_("Their conversations will be listed with this customer's."), self))
        layout.addWidget(self.query)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.buttons)
        self.resize(460, 320)
        self._update_ok()

    def chosen(self) -> int | None:
        item = self.results.currentItem()
        return None if item is None else int(item.data(ID_ROLE))

    def _refresh(self, text: str) -> None:
        self.results.clear()
        if len(text.strip()) < 2:
            self._update_ok()
            return
        for choice in self._search(text):
            ways = ", ".join(value for _kind, value in choice.identities[:2])
            count = ngettext("{n} conversation", "{n} conversations", choice.conversation_count).format(
                n=choice.conversation_count
            )
            label = " · ".join(part for part in (choice.name, ways, count) if part)
            item = QListWidgetItem(label)
            item.setData(ID_ROLE, choice.id)
            self.results.addItem(item)
        if self.results.count():
            self.results.setCurrentRow(0)
        self._update_ok()

    def _update_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
            self.results.currentItem() is not None
        )


class _MergeCommand(QUndoCommand):
    def __init__(self, actions: CustomerActions, kept_id: int, removed_id: int) -> None:
        super().__init__(_("Merge customers"))
        self._actions, self._kept, self._removed = actions, kept_id, removed_id
        self._record: customers.MergeRecord | None = None

    def redo(self) -> None:
        self._record = customers.merge(self._kept, self._removed)
        self._actions.changed(_("Customers merged.") if self._record else _("Nothing to merge."))

    def undo(self) -> None:
        if self._record is not None:
            customers.undo_merge(self._record)
            self._actions.changed(_("Customers separated again."))


class _SplitCommand(QUndoCommand):
    def __init__(self, actions: CustomerActions, conversation_id: int) -> None:
        super().__init__(_("Split off customer"))
        self._actions, self._conversation = actions, conversation_id
        self._record: customers.SplitRecord | None = None

    def redo(self) -> None:
        self._record = customers.split_off(self._conversation)
        self._actions.changed(
            _("The conversation has a customer of its own now.")
            if self._record
            else _("Nothing to split off.")
        )

    def undo(self) -> None:
        if self._record is not None:
            customers.undo_split(self._record)
            self._actions.changed(_("The conversation is back with its customer."))


class CustomerActions(QObject):
    """Fills a :class:`CustomerPanel` and carries out its merge and split requests as undo commands.

    Signals:
        customers_changed(): a merge or split was done or undone (the thread's strip and list may refresh).
    """

    customers_changed = Signal()

    def __init__(
        self,
        panel: CustomerPanel,
        undo_stack: QUndoStack,
        *,
        message: Callable[[str], None],
        show: Callable[[CustomerHistory | None, int | None], None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self._show = show or panel.set_history
        self._undo_stack = undo_stack
        self._message = message
        self._current: int | None = None
        self.picker: CustomerPickerDialog | None = None
        panel.merge_requested.connect(self.merge_with)
        panel.merge_search_requested.connect(self.open_picker)
        panel.split_requested.connect(self.split_off)

    def show_for(self, conversation_id: int | None) -> None:
        self._current = conversation_id
        history = customers.history(conversation_id) if conversation_id is not None else None
        self._show(history, conversation_id)

    def merge_with(self, other_customer_id: int) -> None:
        history = self.panel.history()
        if history is None or history.customer_id is None or other_customer_id == history.customer_id:
            return
        self._undo_stack.push(_MergeCommand(self, history.customer_id, other_customer_id))

    def split_off(self, conversation_id: int) -> None:
        self._undo_stack.push(_SplitCommand(self, conversation_id))

    def open_picker(self) -> CustomerPickerDialog | None:
        history = self.panel.history()
        if history is None or history.customer_id is None:
            return None
        kept = history.customer_id
        dialog = CustomerPickerDialog(lambda text: customers.find_customers(text, exclude=kept), self.panel)
        self.picker = dialog

        def finished(result: int) -> None:
            chosen = dialog.chosen()
            self.picker = None
            if result == QDialog.DialogCode.Accepted and chosen is not None:
                self.merge_with(chosen)

        dialog.finished.connect(finished)
        dialog.open()
        return dialog

    def changed(self, text: str) -> None:
        self._message(text)
        self.show_for(self._current)
        self.customers_changed.emit()
