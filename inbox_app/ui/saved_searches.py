"""Saved searches: keep the search in the box under a name (Ctrl+Shift+S), rename it, delete it.

They live in the profile (``services.search``) and in the sidebar's "Saved searches" section, where the
controller keeps their counts live with the other views'. Picking one puts its query in the search box, so
the seller sees, and can refine, exactly what it searches. Name dialogs are opened window-modal without a
nested event loop (``open``), so the app keeps syncing and counting while the seller types a name.

Signals:
    changed(): a saved search was added, renamed or deleted (the controller refreshes the counts).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QInputDialog

from inbox_app.domain.views import View, ViewKind
from inbox_app.i18n import _
from inbox_app.services import search
from inbox_app.services.search import SearchQueryError
from inbox_app.ui.main_window import MainWindow


class SavedSearches(QObject):
    changed = Signal()

    def __init__(
        self, window: MainWindow, confirm: Callable[[str, str], bool], parent: QObject | None = None
    ):
        super().__init__(parent)
        self.window = window
        self.confirm = confirm
        self._queries: dict[str, str] = {}
        self.dialog: QInputDialog | None = None  # the open name dialog (tests drive it)
        window.actions_by_name["save_search"].triggered.connect(self.ask_name)
        window.sidebar.saved_rename_requested.connect(self.ask_rename)
        window.sidebar.saved_delete_requested.connect(self.delete)

    def load(self) -> None:
        """Show the stored saved searches in the sidebar."""
        saved = search.saved_searches()
        self._queries = {s.name: s.query for s in saved}
        self.window.sidebar.set_saved_searches([(s.name, s.query) for s in saved])

    def query_of(self, name: str) -> str | None:
        return self._queries.get(name)

    def _name_dialog(self, title: str, label: str, value: str, on_name: Callable[[str], None]) -> None:
        dialog = QInputDialog(self.window)
        dialog.setObjectName("savedSearchNameDialog")
        dialog.setWindowTitle(title)
        dialog.setLabelText(label)
        dialog.setTextValue(value)
        dialog.textValueSelected.connect(on_name)
        dialog.finished.connect(lambda _result: self._closed(dialog))
        self.dialog = dialog
        dialog.open()

    def _closed(self, dialog: QInputDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def ask_name(self) -> None:
        """Ctrl+Shift+S: name the search in the box and keep it (a malformed one is explained, not saved)."""
        text = self.window.search.text().strip()
        if not text:
            self.window.show_search_error(_("Type a search first, then save it with Ctrl+Shift+S."))
            self.window.focus_search()
            return
        try:
            search.parse(text)
        except SearchQueryError as exc:
            self.window.show_search_error(exc.message)
            return
        self._name_dialog(
            _("Save search"), _("Name in the sidebar:"), text, lambda name: self.save(name, text)
        )

    def save(self, name: str, query: str) -> None:
        try:
            saved = search.save_search(name, query)
        except SearchQueryError as exc:
            self.window.show_search_error(exc.message)
            return
        self.load()
        self.window.sidebar.select_view(View(ViewKind.SAVED, saved.name), emit=False)
        self.window.statusBar().showMessage(
            _("Saved search “{name}” added to the sidebar.").format(name=saved.name), 5000
        )
        self.changed.emit()

    def ask_rename(self, name: str) -> None:
        self._name_dialog(_("Rename saved search"), _("New name:"), name, lambda new: self.rename(name, new))

    def rename(self, old: str, new: str) -> None:
        try:
            search.rename_saved(old, new)
        except SearchQueryError as exc:
            self.window.statusBar().showMessage(exc.message, 8000)
            return
        self.load()
        self.changed.emit()

    def delete(self, name: str) -> None:
        question = _("Delete the saved search “{name}”? The conversations stay as they are.").format(
            name=name
        )
        if not self.confirm(_("Delete saved search"), question):
            return
        search.delete_saved(name)
        self.load()
        self.changed.emit()
