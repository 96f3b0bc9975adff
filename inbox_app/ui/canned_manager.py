"""Manage the canned-response library: list by category with usage, edit per language, import and export.

Why: the library is the seller's accumulated wording (and a team's shared voice). It must be easy to fix a
text, add a language for a new marketplace, see which responses are actually used, and move the library
between machines or through a translator's spreadsheet (JSON lossless, CSV one row per language — formats
and their error messages live in :mod:`inbox_app.domain.canned_library`).

Signals (``CannedManagerDialog``):
    library_changed(): responses were saved, deleted or imported (the picker reloads on next open anyway).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inbox_app.domain.canned_library import (
    CATEGORIES,
    CannedResponseData,
    export_csv,
    export_json,
    import_csv,
    import_json,
)
from inbox_app.i18n import _, format_number
from inbox_app.services import canned

log = logging.getLogger("inbox_app.ui")

KEY_ROLE = Qt.ItemDataRole.UserRole + 1


def category_label(category: str) -> str:
    return _(CATEGORIES[category]) if category in CATEGORIES else category


def validate(item: CannedResponseData) -> CannedResponseData:
    """Check one response with the same rules (and messages) as an import; raises ``ValueError``."""
    (checked,) = import_json(export_json([item]))
    return checked


class CannedManagerDialog(QDialog):
    """The library editor. See the module docstring for signals."""

    library_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Canned responses"))
        self.resize(980, 600)
        self._original_key: str | None = None  # key of the response in the form, None for a new one

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels([_("Title"), _("Shortcut"), _("Used")])
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(self._on_current)

        self.title_edit = QLineEdit()
        self.key_edit = QLineEdit()
        self.key_edit.setPlaceholderText(_("typed after / in a reply, e.g. delay"))
        self.category = QComboBox()
        self.category.setEditable(True)
        for key in CATEGORIES:
            self.category.addItem(category_label(key), key)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.add_language_button = QPushButton(_("Add language…"))
        self.add_language_button.clicked.connect(self._ask_language)
        self.remove_language_button = QPushButton(_("Remove language"))
        self.remove_language_button.clicked.connect(self.remove_current_language)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)

        form = QFormLayout()
        form.addRow(_("Title"), self.title_edit)
        form.addRow(_("Shortcut"), self.key_edit)
        form.addRow(_("Category"), self.category)
        lang_buttons = QHBoxLayout()
        lang_buttons.addWidget(self.add_language_button)
        lang_buttons.addWidget(self.remove_language_button)
        lang_buttons.addStretch(1)
        variables_hint = QLabel(
            _(
                "Variables: {customer.first_name} {customer.name} {order.id} {order.tracking_number} "
                "{order.carrier} {agent.name} {shop.name} {today} — {name|fallback} gives a fallback."
            )
        )
        variables_hint.setWordWrap(True)
        variables_hint.setEnabled(False)
        variables_hint.setTextFormat(Qt.TextFormat.PlainText)

        self.save_button = QPushButton(_("Save"))
        self.save_button.clicked.connect(self.save_current)
        self.new_button = QPushButton(_("New"))
        self.new_button.clicked.connect(self.new_response)
        self.duplicate_button = QPushButton(_("Duplicate"))
        self.duplicate_button.clicked.connect(self.duplicate_current)
        self.delete_button = QPushButton(_("Delete…"))
        self.delete_button.clicked.connect(lambda: self.delete_current())
        self.import_button = QPushButton(_("Import…"))
        self.import_button.clicked.connect(self._ask_import)
        self.export_button = QPushButton(_("Export…"))
        self.export_button.clicked.connect(self._ask_export)
        close_button = QPushButton(_("Close"))
        close_button.clicked.connect(self.accept)

        editor = QWidget()
        right = QVBoxLayout(editor)
        right.setContentsMargins(0, 0, 0, 0)
        right.addLayout(form)
        right.addWidget(self.tabs, 1)
        right.addLayout(lang_buttons)
        right.addWidget(variables_hint)
        right.addWidget(self.message)
        splitter = QSplitter()
        splitter.addWidget(self.tree)
        splitter.addWidget(editor)
        splitter.setSizes([440, 540])
        buttons = QHBoxLayout()
        for button in (self.new_button, self.duplicate_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        for button in (self.import_button, self.export_button, self.save_button, close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)
        self.reload()

    # ---------------------------------------------------------------------------------------- list

    def reload(self, select_key: str | None = None) -> None:
        """Rebuild the tree from the store, keeping (or moving to) ``select_key``."""
        wanted = select_key or self._original_key
        usage = canned.usage_counts()
        self.tree.blockSignals(True)
        self.tree.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        chosen: QTreeWidgetItem | None = None
        for item in canned.all_responses():
            group = groups.get(item.category)
            if group is None:
                group = QTreeWidgetItem([category_label(item.category)])
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.tree.addTopLevelItem(group)
                groups[item.category] = group
            row = QTreeWidgetItem([item.title, "/" + item.key, format_number(usage.get(item.key, 0))])
            row.setData(0, KEY_ROLE, item.key)
            row.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            group.addChild(row)
            if item.key == wanted:
                chosen = row
        self.tree.expandAll()
        self.tree.blockSignals(False)
        if chosen is None and groups:
            first_group = self.tree.topLevelItem(0)
            chosen = first_group.child(0) if first_group is not None else None
        if chosen is not None:
            self.tree.setCurrentItem(chosen)
        else:
            self.new_response()

    def keys(self) -> list[str]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            for j in range(group.childCount() if group is not None else 0):
                child = group.child(j) if group is not None else None
                if child is not None:
                    out.append(str(child.data(0, KEY_ROLE)))
        return out

    def _on_current(self, current: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None) -> None:
        key = current.data(0, KEY_ROLE) if current is not None else None
        if not key:
            return
        found = next((r for r in canned.all_responses() if r.key == key), None)
        if found is not None:
            self.show_response(found, original_key=found.key)

    # ---------------------------------------------------------------------------------------- form

    def show_response(self, item: CannedResponseData, *, original_key: str | None) -> None:
        self._original_key = original_key
        self.title_edit.setText(item.title)
        self.key_edit.setText(item.key)
        index = self.category.findData(item.category)
        if index >= 0:
            self.category.setCurrentIndex(index)
        else:
            self.category.setEditText(item.category)
        self.tabs.clear()
        for lang, body in item.variants.items():
            self.add_language(lang, body)
        if not item.variants:
            self.add_language("en", "")
        self.tabs.setCurrentIndex(0)
        self.message.clear()

    def add_language(self, code: str, body: str = "") -> QPlainTextEdit:
        """A tab for ``code`` (or the existing one)."""
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i) == code:
                self.tabs.setCurrentIndex(i)
                existing = self.tabs.widget(i)
                assert isinstance(existing, QPlainTextEdit)
                return existing
        edit = QPlainTextEdit()
        edit.setPlainText(body)
        self.tabs.addTab(edit, code)
        self.tabs.setCurrentWidget(edit)
        return edit

    def remove_current_language(self) -> None:
        if self.tabs.count() > 1:
            self.tabs.removeTab(self.tabs.currentIndex())
        else:
            self._show(_("A response needs at least one language."), error=True)

    def form_data(self) -> CannedResponseData:
        variants = {}
        for i in range(self.tabs.count()):
            edit = self.tabs.widget(i)
            if isinstance(edit, QPlainTextEdit):
                variants[self.tabs.tabText(i)] = edit.toPlainText()
        text = self.category.currentText().strip()
        index = self.category.findText(text)
        category = str(self.category.itemData(index)) if index >= 0 else text
        return CannedResponseData(
            key=self.key_edit.text().strip(),
            title=self.title_edit.text().strip(),
            category=category,
            variants=variants,
        )

    def new_response(self) -> None:
        self.show_response(
            CannedResponseData(key="", title="", category="delivery_late", variants={"en": ""}),
            original_key=None,
        )
        self.title_edit.setFocus()

    def duplicate_current(self) -> None:
        data = self.form_data()
        existing = {r.key for r in canned.all_responses()}
        base = f"{data.key or 'response'}_copy"
        key, n = base, 2
        while key in existing:
            key, n = f"{base}{n}", n + 1
        copy = CannedResponseData(
            key=key,
            title=_("{title} (copy)").format(title=data.title),
            category=data.category,
            variants=data.variants,
        )
        self.show_response(copy, original_key=None)
        self._show(_("Copy ready: change it and press Save."))

    def save_current(self) -> bool:
        """Validate and store the form; renaming the shortcut replaces the old response. False if invalid."""
        try:
            item = validate(self.form_data())
        except ValueError as exc:
            self._show(str(exc), error=True)
            return False
        clash = item.key.casefold() != (self._original_key or "").casefold() and any(
            r.key.casefold() == item.key.casefold() for r in canned.all_responses()
        )
        if clash:
            self._show(
                _("The shortcut “/{key}” is already used by another response.").format(key=item.key),
                error=True,
            )
            return False
        canned.upsert([item])
        if self._original_key and self._original_key != item.key:
            canned.delete(self._original_key)
        self._original_key = item.key
        self.reload(select_key=item.key)
        self._show(_("Saved “{title}”.").format(title=item.title))
        self.library_changed.emit()
        return True

    def delete_current(self, *, confirm: bool = True) -> bool:
        key = self._original_key
        if not key:
            return False
        if confirm:
            answer = QMessageBox.question(
                self,
                _("Delete canned response"),
                _("Delete “{title}” (/{key}) in every language? This cannot be undone.").format(
                    title=self.title_edit.text(), key=key
                ),
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
        canned.delete(key)
        self._original_key = None
        self.reload()
        self._show(_("Deleted /{key}.").format(key=key))
        self.library_changed.emit()
        return True

    # ------------------------------------------------------------------------------------- files

    def export_file(self, path: Path) -> int:
        """Write the whole library to ``path`` (.csv → CSV, anything else → JSON); returns the count."""
        items = canned.all_responses()
        text = export_csv(items) if path.suffix.casefold() == ".csv" else export_json(items)
        try:
            path.write_text(text, encoding="utf-8", newline="")
        except OSError as exc:
            self._show(_("Cannot write {path}: {error}").format(path=path, error=exc.strerror), error=True)
            return 0
        self._show(_("Exported {count} responses to {path}.").format(count=len(items), path=path.name))
        return len(items)

    def import_file(self, path: Path) -> int:
        """Read ``path`` (JSON or CSV) and add or replace responses by shortcut; returns the count (0: error)."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            self._show(_("Cannot read {path}: {error}").format(path=path, error=exc.strerror), error=True)
            return 0
        except UnicodeDecodeError:
            self._show(_("{path} is not a UTF-8 text file.").format(path=path.name), error=True)
            return 0
        try:
            items = import_csv(text) if path.suffix.casefold() == ".csv" else import_json(text)
        except ValueError as exc:
            self._show(
                _("Nothing was imported from {path}: {error}").format(path=path.name, error=exc), error=True
            )
            return 0
        existing = {r.key for r in canned.all_responses()}
        replaced = sum(1 for i in items if i.key in existing)
        canned.upsert(items)
        self.reload(select_key=items[0].key if items else None)
        self._show(
            _("Imported {count} responses ({new} new, {replaced} replaced).").format(
                count=len(items), new=len(items) - replaced, replaced=replaced
            )
        )
        self.library_changed.emit()
        return len(items)

    def _ask_import(self) -> None:
        name, _filter = QFileDialog.getOpenFileName(
            self, _("Import canned responses"), "", _("Canned responses (*.json *.csv);;All files (*)")
        )
        if name and not self.import_file(Path(name)):
            QMessageBox.warning(self, _("Import failed"), self.message.text())

    def _ask_export(self) -> None:
        name, chosen = QFileDialog.getSaveFileName(
            self, _("Export canned responses"), "canned-responses.json", _("JSON (*.json);;CSV (*.csv)")
        )
        if not name:
            return
        path = Path(name)
        if not path.suffix:
            path = path.with_suffix(".csv" if "csv" in chosen.casefold() else ".json")
        self.export_file(path)

    def _ask_language(self) -> None:
        code, ok = QInputDialog.getText(self, _("Add language"), _("Language code (e.g. es, fr, pt-BR):"))
        if ok and code.strip():
            self.add_language(code.strip())

    def _show(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #b3261e; font-weight: bold;" if error else "")

    @property
    def message_text(self) -> str:
        return self.message.text()
