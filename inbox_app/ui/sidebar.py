"""The sidebar: the views a seller works through (Overdue first), then accounts, channels and tags.

Counts are live (the controller feeds :meth:`Sidebar.set_counts` after every change and on the countdown
beat). The sidebar knows nothing of the store: it shows what it is given and says which view was picked.

Signals:
    view_selected(object): the :class:`~inbox_app.domain.views.View` the user picked (a saved search too).
    saved_rename_requested(str), saved_delete_requested(str): a saved search's context menu, by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QContextMenuEvent, QFont, QIcon, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTreeView, QWidget

from inbox_app.domain.account_state import AccountPhase, AccountState
from inbox_app.domain.conversations import CHANNEL_LABELS
from inbox_app.domain.deadlines import Urgency
from inbox_app.domain.views import STATUS_VIEWS, TRIAGE_VIEWS, VIEW_LABELS, View, ViewKind
from inbox_app.i18n import N_, _, format_number
from inbox_app.ui import icons
from inbox_app.ui.channel_badges import channel_description

VIEW_KEY_ROLE = int(Qt.ItemDataRole.UserRole) + 1

SECTION_TITLES = {
    ViewKind.ACCOUNT: N_("Accounts"),
    ViewKind.CHANNEL: N_("Channels"),
    ViewKind.TAG: N_("Tags"),
    ViewKind.SAVED: N_("Saved searches"),
}

_VIEW_ICONS = {
    ViewKind.OVERDUE: Urgency.OVERDUE,
    ViewKind.DUE_SOON: Urgency.DUE_SOON,
    ViewKind.OPEN: Urgency.OK,
}


class Sidebar(QTreeView):
    """A two-column tree (label, count) of views; section headers are not selectable."""

    view_selected = Signal(object)
    edit_account_requested = Signal(int)
    remove_account_requested = Signal(int)
    saved_rename_requested = Signal(str)
    saved_delete_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self._model = QStandardItemModel(0, 2, self)
        self.setModel(self._model)
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setIndentation(10)
        self.setUniformRowHeights(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setIconSize(QSize(16, 16))
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self._items: dict[str, tuple[QStandardItem, QStandardItem]] = {}
        self._sections: dict[ViewKind, QStandardItem] = {}
        self._account_badges: dict[int, tuple[QIcon, str]] = {}  # account id → icon, description
        self._account_items: dict[int, tuple[QStandardItem, str]] = {}  # id → (entry, account name)
        self._account_states: dict[int, AccountState] = {}
        self._build_fixed()
        selection = self.selectionModel()
        selection.currentChanged.connect(self._on_current_changed)

    def _build_fixed(self) -> None:
        root = self._model.invisibleRootItem()
        for kind in (*STATUS_VIEWS, *TRIAGE_VIEWS):
            view = View(kind)
            icon = icons.urgency_icon(_VIEW_ICONS[kind]) if kind in _VIEW_ICONS else QIcon()
            root.appendRow(self._row(view, _(VIEW_LABELS[kind]), icon))
        for kind, title in SECTION_TITLES.items():
            header = QStandardItem(_(title))
            font = QFont(header.font())
            font.setBold(True)
            header.setFont(font)
            header.setFlags(Qt.ItemFlag.ItemIsEnabled)
            spacer = QStandardItem("")
            spacer.setFlags(Qt.ItemFlag.ItemIsEnabled)
            root.appendRow([header, spacer])
            self._sections[kind] = header
            self.setFirstColumnSpanned(header.row(), QModelIndex(), True)

    def _row(self, view: View, label: str, icon: QIcon) -> list[QStandardItem]:
        item = QStandardItem(icon, label)
        item.setData(view.key, VIEW_KEY_ROLE)
        item.setFlags(
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
        )
        count = QStandardItem("")
        count.setData(view.key, VIEW_KEY_ROLE)
        count.setFlags(item.flags())
        count.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._items[view.key] = (item, count)
        return [item, count]

    # -------------------------------------------------------------------------------------- content
    def set_sources(
        self,
        accounts: Sequence[tuple[int, str]],
        channels: Sequence[str],
        tags: Sequence[str],
    ) -> None:
        """Fill the Accounts / Channels / Tags sections (ids and names come from the store)."""
        current = self.current_view()
        entries: dict[ViewKind, list[tuple[View, str, QIcon]]] = {
            ViewKind.ACCOUNT: [
                (View(ViewKind.ACCOUNT, str(aid)), name, self._account_badges.get(aid, (QIcon(), ""))[0])
                for aid, name in accounts
            ],
            ViewKind.CHANNEL: [
                (
                    View(ViewKind.CHANNEL, kind),
                    _(CHANNEL_LABELS[kind]) if kind in CHANNEL_LABELS else kind,
                    icons.channel_icon(kind),
                )
                for kind in channels
            ],
            ViewKind.TAG: [(View(ViewKind.TAG, name), name, QIcon()) for name in tags],
        }
        for kind, rows in entries.items():
            self._fill_section(kind, rows)
        for channel_kind in channels:
            pair = self._items.get(View(ViewKind.CHANNEL, channel_kind).key)
            if pair is not None:
                description = channel_description(channel_kind)
                pair[0].setToolTip(description)
                pair[0].setData(description, Qt.ItemDataRole.AccessibleTextRole)
        self._apply_account_badges()
        self._account_items = {
            aid: (self._items[View(ViewKind.ACCOUNT, str(aid)).key][0], name) for aid, name in accounts
        }
        self._show_account_states()
        if current is not None and current.key in self._items:
            self.select_view(current, emit=False)

    def set_saved_searches(self, names: Sequence[tuple[str, str]]) -> None:
        """Fill the Saved searches section with (name, query) pairs; the query is the entry's tooltip."""
        current = self.current_view()
        self._fill_section(
            ViewKind.SAVED, [(View(ViewKind.SAVED, name), name, QIcon()) for name, _q in names]
        )
        for name, query in names:
            self._items[View(ViewKind.SAVED, name).key][0].setToolTip(query)
        if current is not None and current.key in self._items:
            self.select_view(current, emit=False)

    def _fill_section(self, kind: ViewKind, rows: Sequence[tuple[View, str, QIcon]]) -> None:
        header = self._sections[kind]
        for row in range(header.rowCount()):
            key = _key(header.child(row, 0).index())
            if key is not None:
                self._items.pop(key, None)
        header.removeRows(0, header.rowCount())
        for view, label, icon in rows:
            header.appendRow(self._row(view, label, icon))
        self.setExpanded(header.index(), True)

    def set_account_badges(self, badges: dict[int, tuple[QIcon, str]]) -> None:
        """Each account's channel icon (with a warning mark when its sign-in failed) and its description."""
        self._account_badges = dict(badges)
        self._apply_account_badges()

    def account_badge(self, account_id: int) -> tuple[QIcon, str] | None:
        """The icon and description an account's entry shows (tests, screen readers)."""
        pair = self._items.get(View(ViewKind.ACCOUNT, str(account_id)).key)
        if pair is None:
            return None
        return pair[0].icon(), pair[0].toolTip()

    def _apply_account_badges(self) -> None:
        for account_id, (icon, description) in self._account_badges.items():
            pair = self._items.get(View(ViewKind.ACCOUNT, str(account_id)).key)
            if pair is not None:
                pair[0].setIcon(icon)
                pair[0].setToolTip(description)
                pair[0].setData(description, Qt.ItemDataRole.AccessibleTextRole)

    def set_counts(self, counts: dict[str, int]) -> None:
        """Show counts next to views; Closed and Everything stay without a number (not a to-do list)."""
        for key, (_item, count_item) in self._items.items():
            if key in (ViewKind.CLOSED.value, ViewKind.ALL.value):
                continue
            value = counts.get(key)
            count_item.setText(format_number(value) if value else "")
            if key == ViewKind.OVERDUE.value:
                font = QFont(count_item.font())
                font.setBold(bool(value))
                count_item.setFont(font)

    def set_account_states(self, states: Mapping[int, AccountState]) -> None:
        """Show each account's live state on its entry: the name alone when up to date, else "Fnac ES ·
        offline", "Fnac ES · syncing 40 of 120" (the icon and tooltip stay the channel's badge)."""
        self._account_states.update(states)
        self._show_account_states()

    def _show_account_states(self) -> None:
        for account_id, (item, name) in self._account_items.items():
            state = self._account_states.get(account_id)
            shown = (
                name
                if state is None or state.phase is AccountPhase.UP_TO_DATE
                else f"{name} · {state.label()}"
            )
            if item.text() != shown:
                item.setText(shown)

    def account_entry_text(self, account_id: int) -> str:
        """What the account's entry shows (tests, screen readers); "" when it is not listed."""
        entry = self._account_items.get(account_id)
        return entry[0].text() if entry is not None else ""

    def index_of(self, view: View) -> QModelIndex:
        """The label cell of a view's row (invalid when the sidebar does not show it)."""
        pair = self._items.get(view.key)
        return pair[0].index() if pair is not None else QModelIndex()

    def count_text(self, view: View) -> str:
        """The count shown next to a view ("" when none)."""
        pair = self._items.get(view.key)
        return pair[1].text() if pair is not None else ""

    def view_keys(self) -> list[str]:
        return list(self._items)

    def views(self) -> list[View]:
        return [View.parse(key) for key in self._items]

    # ------------------------------------------------------------------------------------ selection
    def current_view(self) -> View | None:
        index = self.currentIndex()
        key = _key(index)
        return View.parse(key) if key else None

    def select_view(self, view: View, *, emit: bool = True) -> bool:
        pair = self._items.get(view.key)
        if pair is None:
            return False
        index = pair[0].index()
        self.blockSignals(not emit)
        try:
            self.selectionModel().setCurrentIndex(
                index,
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
            )
        finally:
            self.blockSignals(False)
        return True

    def saved_menu(self, index: QModelIndex) -> QMenu | None:
        """The context menu of a saved search (Rename…, Delete); None elsewhere."""
        key = _key(index)
        view = View.parse(key) if key else None
        if view is None or view.kind is not ViewKind.SAVED or not view.value:
            return None
        name = view.value
        menu = QMenu(self)
        menu.setObjectName("savedSearchContextMenu")
        rename = menu.addAction(_("Re&name…"))
        rename.triggered.connect(lambda: self.saved_rename_requested.emit(name))
        delete = menu.addAction(_("&Delete"))
        delete.triggered.connect(lambda: self.saved_delete_requested.emit(name))
        return menu

    def account_menu(self, index: QModelIndex) -> QMenu | None:
        """The context menu of an account entry (Edit…, Remove…); None elsewhere."""
        key = _key(index)
        view = View.parse(key) if key else None
        if view is None or view.kind is not ViewKind.ACCOUNT or not (view.value or "").isdigit():
            return None
        account_id = int(view.value or 0)
        menu = QMenu(self)
        menu.setObjectName("accountContextMenu")
        edit = menu.addAction(_("&Edit account…"))
        edit.triggered.connect(lambda: self.edit_account_requested.emit(account_id))
        remove = menu.addAction(_("&Remove account…"))
        remove.triggered.connect(lambda: self.remove_account_requested.emit(account_id))
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        index = self.indexAt(event.pos())
        menu = self.account_menu(index) or self.saved_menu(index)
        if menu is not None:
            menu.exec(event.globalPos())

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        key = _key(current)
        if key and not self.signalsBlocked():
            self.view_selected.emit(View.parse(key))


def _key(index: QModelIndex | QPersistentModelIndex) -> str | None:
    """The view key of a row; section headers have none.

    Only selectable items carry a key, and only those are asked: PySide 6.12's ``QModelIndex.data()`` loses a
    reference to None when a role has no value, which crashes the interpreter at exit after enough calls.
    """
    if not index.isValid() or not index.flags() & Qt.ItemFlag.ItemIsSelectable:
        return None
    value = index.data(VIEW_KEY_ROLE)
    return str(value) if value else None
