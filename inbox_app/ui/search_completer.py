"""Completion in the search box for the word being typed: filter names (``cha`` → ``channel:``) and the
fixed values after them (``status:p`` → ``status:pending``, ``is:o`` → ``is:overdue``).

Only the last word is completed; what was typed before it is kept, so ``lang:es sta`` offers ``status:``.
Values that depend on the data (accounts, tags, people) are not offered: they would need a query per key.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QStringListModel, Qt
from PySide6.QtWidgets import QCompleter, QLineEdit

from inbox_app.domain.conversations import ChannelKind
from inbox_app.domain.search_query import CATEGORY_NAMES, FILTER_KEYS, IS_VALUES, STATUS_NAMES

NOTHING = "\x00"  # a prefix no completion starts with
VALUES: dict[str, tuple[str, ...]] = {
    "channel": tuple(kind.value for kind in ChannelKind),
    "status": STATUS_NAMES,
    "category": CATEGORY_NAMES,
    "is": IS_VALUES,
}


def completions() -> list[str]:
    """Every word the box can complete to (filter names and ``key:value`` pairs, plain and negated)."""
    words = [f"{key}:" for key in FILTER_KEYS]
    words += [f"{key}:{value}" for key, values in VALUES.items() for value in values]
    return words + [f"-{word}" for word in words]


class LastWordCompleter(QCompleter):
    """A completer that looks at, and replaces, only the last blank-separated word of the line."""

    def __init__(self, line: QLineEdit, parent: QObject | None = None) -> None:
        super().__init__(parent or line)
        self.words = QStringListModel(completions(), self)  # owned here: a model made inline would be freed
        self.setModel(self.words)
        self.setObjectName("searchCompleter")
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self._line = line
        line.setCompleter(self)

    def splitPath(self, path: str) -> list[str]:
        last = path.rsplit(" ", 1)[-1]
        return [last if last else NOTHING]  # after a blank: no popup of every filter

    def pathFromIndex(self, index: QModelIndex | QPersistentModelIndex) -> str:
        word = str(super().pathFromIndex(index))
        head, _sep, _last = self._line.text().rpartition(" ")
        return f"{head} {word}" if head else word
