"""A small fuzzy picker for a category, an agent or a tag: type a few letters, Enter takes the best match.

Matching uses rapidfuzz (a dependency already, for the canned-response picker): "dmg" finds "Damaged",
"jon" finds "Jonas", typos are forgiven. With ``allow_new`` (tags) the typed text itself can be taken.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget
from rapidfuzz import fuzz, process

from inbox_app.i18n import _

STRONG = 85  # a score from which a match is preferred to taking the typed text as a new name


def rank(query: str, labels: Sequence[str]) -> list[tuple[int, float]]:
    """(index, score) of ``labels`` best first for ``query`` (all of them, in order, for an empty query)."""
    if not query.strip():
        return [(i, 100.0) for i in range(len(labels))]
    folded = [label.casefold() for label in labels]
    matches = process.extract(
        query.casefold(), folded, scorer=fuzz.WRatio, limit=len(labels), score_cutoff=50
    )
    return [(index, float(score)) for _label, score, index in matches]


class TriagePicker(QDialog):
    """Pick one of ``choices`` (value, label); :meth:`chosen` is the value (or the typed text, with
    ``allow_new``) after ``exec()`` returns ``Accepted``."""

    def __init__(
        self,
        title: str,
        choices: Sequence[tuple[str, str]],
        parent: QWidget | None = None,
        *,
        allow_new: bool = False,
        hint: str = "",
    ) -> None:
        super().__init__(parent)
        self.setObjectName("triagePicker")
        self.setWindowTitle(title)
        self._choices = list(choices)
        self._allow_new = allow_new
        self._chosen: str | None = None
        self.query = QLineEdit(self)
        self.query.setObjectName("triagePickerQuery")
        self.query.setPlaceholderText(_("Type to filter…"))
        self.results = QListWidget(self)
        self.results.setObjectName("triagePickerResults")
        self.results.setUniformItemSizes(True)
        layout = QVBoxLayout(self)
        if hint:
            layout.addWidget(QLabel(hint, self))
        layout.addWidget(self.query)
        layout.addWidget(self.results)
        self.query.textChanged.connect(self._filter)
        self.query.returnPressed.connect(self._accept_current)
        self.results.itemActivated.connect(lambda _item: self._accept_current())
        self.query.installEventFilter(self)
        self._filter("")
        self.resize(320, 360)

    def chosen(self) -> str | None:
        return self._chosen

    def _filter(self, text: str) -> None:
        self.results.clear()
        typed = text.strip()
        offer_new = self._allow_new and bool(typed) and typed not in {v for v, _l in self._choices}
        for index, score in rank(text, [label for _value, label in self._choices]):
            if offer_new and score < STRONG:  # weak matches come after the name being typed
                self._add_item(_("New: {name}").format(name=typed), typed)
                offer_new = False
            value, label = self._choices[index]
            self._add_item(label, value)
        if offer_new:
            self._add_item(_("New: {name}").format(name=typed), typed)
        self.results.setCurrentRow(0)

    def _add_item(self, label: str, value: str) -> None:
        item = QListWidgetItem(label)
        item.setData(Qt.ItemDataRole.UserRole, value)
        self.results.addItem(item)

    def _accept_current(self) -> None:
        item = self.results.currentItem()
        if item is None:
            return
        self._chosen = str(item.data(Qt.ItemDataRole.UserRole))
        self.accept()

    def eventFilter(self, watched: object, event: object) -> bool:
        """Up/Down in the text field move through the results (the hands stay on the keys)."""
        if (
            watched is self.query
            and isinstance(event, QKeyEvent)
            and event.type() == QKeyEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up)
        ):
            step = 1 if event.key() == Qt.Key.Key_Down else -1
            row = max(0, min(self.results.currentRow() + step, self.results.count() - 1))
            self.results.setCurrentRow(row)
            return True
        return False
