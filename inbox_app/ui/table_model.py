"""The part every flat, read-only table model of the window shares: sizes, flags and translated headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from inbox_app.i18n import _

ModelIndex = QModelIndex | QPersistentModelIndex


class FlatTableModel(QAbstractTableModel):
    """Rows × ``column_titles`` (column number → English title marked with ``N_``); no children, no editing.

    Subclasses say how many rows there are (:meth:`row_count`) and implement ``data``.
    """

    column_titles: Mapping[Any, str] = {}  # keyed by an IntEnum of columns (int keys work too)

    def row_count(self) -> int:
        raise NotImplementedError

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else self.row_count()

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.column_titles)

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        title = self.column_titles.get(section)
        if orientation != Qt.Orientation.Horizontal or title is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return _(title)
        return None
