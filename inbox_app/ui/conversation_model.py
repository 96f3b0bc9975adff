"""The conversation list as a Qt table model that stays instant at 100,000 rows.

Why it looks like this: the model keeps only the ids of the current view (a list of ints) and asks the store
for the rows Qt actually paints, a page at a time, into a bounded LRU cache (Anki's browser table does the
same). Opening a huge view therefore costs one id query, never a summary per row.

The countdown ("3 h 20 min", "overdue 2 h") is recomputed from a clock that can be injected (``now_fn``), and
:meth:`ConversationListModel.tick` repaints only the time-left cells of the rows on screen: one timer for the
whole list, not one per row, and no work for rows nobody sees.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from enum import IntEnum
from typing import Any

from babel import dates as babel_dates
from PySide6.QtCore import (
    QModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication, QPalette

from inbox_app.domain.categories import CATEGORY_LABELS
from inbox_app.domain.conversations import CHANNEL_LABELS, ConversationSummary, Status
from inbox_app.domain.deadlines import Urgency, urgency
from inbox_app.domain.views import DUE_SOON_WINDOW, View, ViewKind
from inbox_app.i18n import N_, _, current_locale, format_datetime, format_duration
from inbox_app.ui import icons
from inbox_app.ui.channel_badges import channel_description
from inbox_app.ui.table_model import (
    FlatTableModel,
    ModelIndex,
)

IdsFn = Callable[..., list[int]]  # (view, now) or (view, now, limit, reverse=…)
SummariesFn = Callable[[Sequence[int]], dict[int, ConversationSummary]]
SearchFn = Callable[..., list[int]]  # (text) or (text, limit)


class Column(IntEnum):
    TIME_LEFT = 0  # first: the eye meets "what is due next" before anything else
    CHANNEL = 1
    CUSTOMER = 2
    SUBJECT = 3
    ORDER = 4
    STATUS = 5


COLUMN_TITLES: dict[Column, str] = {
    Column.TIME_LEFT: N_("Time left"),
    Column.CHANNEL: N_("Channel"),
    Column.CUSTOMER: N_("Customer"),
    Column.SUBJECT: N_("Subject"),
    Column.ORDER: N_("Order"),
    Column.STATUS: N_("Status"),
}

STATUS_LABELS: dict[str, str] = {
    Status.OPEN: N_("Open"),
    Status.PENDING: N_("Pending"),
    Status.SNOOZED: N_("Snoozed"),
    Status.CLOSED: N_("Closed"),
}

URGENCY_WORDS: dict[Urgency, str] = {
    Urgency.OK: N_("On time"),
    Urgency.DUE_SOON: N_("Due soon"),
    Urgency.OVERDUE: N_("Overdue"),
    Urgency.NONE: N_("No reply due"),
}

# Text colours chosen for contrast on white (light) and on ~#2b2b2b (dark); the icon carries the meaning too.
_URGENCY_COLORS_LIGHT = {Urgency.OK: "#1e7e34", Urgency.DUE_SOON: "#a35200", Urgency.OVERDUE: "#b3261e"}
_URGENCY_COLORS_DARK = {Urgency.OK: "#81c995", Urgency.DUE_SOON: "#fdd663", Urgency.OVERDUE: "#f28b82"}
_URGENCY_TINTS = {Urgency.DUE_SOON: (227, 116, 0, 28), Urgency.OVERDUE: (197, 34, 31, 34)}


def is_dark_palette(palette: QPalette | None = None) -> bool:
    pal = palette or QGuiApplication.palette()
    return pal.color(QPalette.ColorRole.Base).lightness() < 128


def urgency_color(level: Urgency, dark: bool | None = None) -> QColor | None:
    table = _URGENCY_COLORS_DARK if (is_dark_palette() if dark is None else dark) else _URGENCY_COLORS_LIGHT
    name = table.get(level)
    return QColor(name) if name else None


def local_zone() -> tzinfo | None:
    """The user's time zone (times are stored in UTC, shown in local time)."""
    return datetime.now().astimezone().tzinfo


MINUS = "\u2212"  # "−3d 19h": late by that much (the red colour and the warning icon say "overdue" too)


def time_left_text(summary: ConversationSummary, now: datetime) -> str:
    """What the first column says, as short as the language allows: "3h 20m", "−3 T 19h", "Pending".

    The amount always comes first and whole, in Babel's narrow units of the user's language; the tooltip
    (:func:`deadline_tooltip`) says it in full ("Overdue by 3 days 19 hours — reply by …").
    """
    if summary.deadline_at is None:
        if summary.status in (Status.PENDING, Status.CLOSED, Status.SNOOZED):
            return _(STATUS_LABELS[summary.status])
        return "—"
    delta = summary.deadline_at - now
    if delta.total_seconds() <= 0:
        return MINUS + compact_duration(-delta, precise=True)
    return compact_duration(delta, precise=delta <= DUE_SOON_WINDOW)


def compact_duration(delta: timedelta, *, precise: bool) -> str:
    """Two units at most in the narrow form ("3d 19h", "3 T 19h", "3j 19h"); minutes only when ``precise``."""
    seconds = abs(int(delta.total_seconds()))
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    if days:
        parts = [timedelta(days=days)] + ([timedelta(hours=hours)] if hours else [])
    elif hours:
        parts = [timedelta(hours=hours)] + ([timedelta(minutes=minutes)] if minutes and precise else [])
    else:
        parts = [timedelta(minutes=max(minutes, 1 if seconds else 0))]
    locale = current_locale()
    return " ".join(
        babel_dates.format_timedelta(p, format="narrow", threshold=1.0, locale=locale) for p in parts
    )


def time_left_samples() -> list[str]:
    """The widest texts the time-left column shows in this language (to size the column from the font)."""
    longest = timedelta(days=88, hours=23)
    texts = [
        MINUS + compact_duration(longest, precise=True),
        compact_duration(longest, precise=False),
        compact_duration(timedelta(hours=23, minutes=58), precise=True),
        MINUS + compact_duration(timedelta(hours=23, minutes=58), precise=True),
    ]
    texts += [_(label) for label in STATUS_LABELS.values()]
    return texts


def deadline_tooltip(summary: ConversationSummary, now: datetime) -> str:
    """The time left in full words: "Overdue by 3 days 19 hr — reply by 01/12/2026, 10:00"."""
    if summary.deadline_at is None:
        if summary.status == Status.PENDING:
            return _("Waiting on the customer: the clock is stopped")
        return _(URGENCY_WORDS[Urgency.NONE])
    delta = summary.deadline_at - now
    if delta.total_seconds() <= 0:
        state = _("Overdue by {duration}").format(duration=format_duration(-delta, threshold=1.0))
    else:
        state = _("Due in {duration}").format(duration=format_duration(delta, threshold=1.0))
    when = format_datetime(summary.deadline_at, "short", tz=local_zone())
    return _("{state} — reply by {when}").format(state=state, when=when)


class ConversationListModel(FlatTableModel):
    """Ids of one view (or one search) with lazily loaded rows.

    The store functions default to the real repositories (``store.conversations`` / ``store.search``); they
    are parameters so the controller can call the same code on its worker thread and hand the ids in with
    :meth:`set_ids` / :meth:`apply_ids`.
    """

    column_titles = COLUMN_TITLES

    IdRole = int(Qt.ItemDataRole.UserRole) + 1
    UrgencyRole = int(Qt.ItemDataRole.UserRole) + 2
    DeadlineRole = int(Qt.ItemDataRole.UserRole) + 3
    SummaryRole = int(Qt.ItemDataRole.UserRole) + 4

    def __init__(
        self,
        *,
        now_fn: Callable[[], datetime] | None = None,
        ids_fn: IdsFn | None = None,
        summaries_fn: SummariesFn | None = None,
        search_fn: SearchFn | None = None,
        cache_size: int = 600,
        page_size: int = 80,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        if ids_fn is None or summaries_fn is None or search_fn is None:
            from inbox_app.services import conversations

            ids_fn = ids_fn or conversations.conversation_ids
            summaries_fn = summaries_fn or conversations.summaries
            search_fn = search_fn or conversations.search_ids
        self._ids_fn: IdsFn = ids_fn
        self._summaries_fn: SummariesFn = summaries_fn
        self._search_fn: SearchFn = search_fn
        self._now_fn: Callable[[], datetime] = now_fn or (lambda: datetime.now(UTC))
        self._now = self._now_fn()
        self.cache_size = max(cache_size, page_size)
        self.page_size = page_size
        self._ids: list[int] = []
        self._cache: OrderedDict[int, ConversationSummary | None] = OrderedDict()
        self._view: View = View(ViewKind.OPEN)
        self._search = ""
        self._visible: tuple[int, int] | None = None
        self._reverse = False
        self.summary_loads = 0  # how many summaries were requested from the store (tests, benchmarks)

    # ------------------------------------------------------------------------------------------ sources
    @property
    def view(self) -> View:
        return self._view

    @property
    def search_text(self) -> str:
        return self._search

    @property
    def now(self) -> datetime:
        return self._now

    @property
    def reverse(self) -> bool:
        return self._reverse

    def fetch_ids(
        self, view: View | None = None, search: str | None = None, first: int | None = None
    ) -> list[int]:
        """The ids for a view or a search, in display order (safe to call on a worker thread); with ``first``,
        the first ids only (a reversed search gives the whole list: its head is the search's tail)."""
        text = (self._search if search is None else search).strip()
        if text and first is not None and not self._reverse:
            return self._search_fn(text, first)
        if not text and first is not None:
            return self._ids_fn(view or self._view, self._now_fn(), first, reverse=self._reverse)
        ids = self._search_fn(text) if text else self._ids_fn(view or self._view, self._now_fn())
        return list(reversed(ids)) if self._reverse else ids

    def set_view(self, view: View) -> None:
        self._view = view
        self._search = ""
        self._now = self._now_fn()
        self.set_ids(self.fetch_ids(view, ""), view=view, search="")

    def set_search(self, text: str) -> None:
        self._search = text.strip()
        self._now = self._now_fn()
        self.set_ids(self.fetch_ids(self._view, self._search), search=self._search)

    def set_reverse(self, reverse: bool) -> None:
        """Most urgent first (the default) or last; the order itself comes from the store."""
        if reverse == self._reverse:
            return
        self._reverse = reverse
        self.apply_ids(list(reversed(self._ids)))

    def set_ids(self, ids: Sequence[int], *, view: View | None = None, search: str | None = None) -> None:
        """Replace the list (a new view or search): a model reset, selection starts afresh."""
        self.beginResetModel()
        if view is not None:
            self._view = view
        if search is not None:
            self._search = search
        self._ids = list(ids)
        self._cache.clear()
        self._visible = None
        self._now = self._now_fn()
        self.endResetModel()

    def refresh(self) -> None:
        """Reload the ids of the current view or search, keeping the selection and scroll position."""
        self._now = self._now_fn()
        self.apply_ids(self.fetch_ids())

    def apply_ids(self, new_ids: Sequence[int]) -> None:
        """Move from the current ids to ``new_ids`` with row removals, insertions and one layout change.

        Unlike a reset this keeps the views' persistent indexes (selection, current row, scroll), which is
        what a refresh after a status change or a sync needs.
        """
        new_list = list(new_ids)
        new_set = set(new_list)
        old = self._ids
        removed_rows = [row for row, cid in enumerate(old) if cid not in new_set]
        runs = _runs(removed_rows)
        if len(runs) > 64:
            self.set_ids(new_list)
            return
        for first, last in reversed(runs):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._ids[first : last + 1]
            self.endRemoveRows()
        kept = set(self._ids)
        added = [cid for cid in new_list if cid not in kept]
        if added:
            start = len(self._ids)
            self.beginInsertRows(QModelIndex(), start, start + len(added) - 1)
            self._ids.extend(added)
            self.endInsertRows()
        for cid in added:
            self._cache.pop(cid, None)
        if self._ids != new_list:
            self.layoutAboutToBeChanged.emit()
            old_ids = self._ids
            self._ids = new_list
            persistent = self.persistentIndexList()
            rows = self._rows_of([old_ids[p.row()] for p in persistent if 0 <= p.row() < len(old_ids)])
            moved = [
                self.index(rows[old_ids[p.row()]], p.column())
                if 0 <= p.row() < len(old_ids)
                else QModelIndex()
                for p in persistent
            ]
            self.changePersistentIndexList(persistent, moved)
            self.layoutChanged.emit()
        # Rows that stayed may have changed (status, snippet): forget them and repaint.
        self._cache.clear()
        if self._ids:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._ids) - 1, len(Column) - 1))

    def extend_ids(self, ids: Sequence[int]) -> None:
        """The whole list arrived after its first page: append what follows the rows shown as inserted rows.

        Selection, current row and scroll position stay where they are (nothing above them moved), and no row
        already loaded is read again. When ``ids`` does not start with the rows shown (a refresh or a change
        of order came in between), it is applied as a change (:meth:`apply_ids`).
        """
        count = len(self._ids)
        if len(ids) < count or list(ids[:count]) != self._ids:
            self.apply_ids(ids)
            return
        if len(ids) == count:
            return
        self.beginInsertRows(QModelIndex(), count, len(ids) - 1)
        self._ids.extend(ids[count:])
        self.endInsertRows()

    def refresh_ids(self, changed_ids: Sequence[int]) -> None:
        """Some conversations changed (read, tagged, new message): reload and repaint only their rows."""
        rows = self._rows_of(changed_ids)
        last_col = len(Column) - 1
        for cid in changed_ids:
            self._cache.pop(cid, None)
            row = rows.get(cid)
            if row is not None:
                self.dataChanged.emit(self.index(row, 0), self.index(row, last_col))

    # ------------------------------------------------------------------------------------- countdown
    def set_visible_rows(self, first: int, last: int) -> None:
        """The view reports which rows are on screen, so :meth:`tick` repaints only those."""
        if first < 0 or last < first or not self._ids:
            self._visible = None
            return
        self._visible = (first, min(last, len(self._ids) - 1))

    def visible_rows(self) -> tuple[int, int] | None:
        return self._visible

    def tick(self, now: datetime | None = None) -> None:
        """Advance the clock and repaint the time-left cells of the visible rows (and nothing else)."""
        self._now = now or self._now_fn()
        if self._visible is None:
            return
        first, last = self._visible
        roles = [
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ForegroundRole,
            Qt.ItemDataRole.BackgroundRole,
            Qt.ItemDataRole.DecorationRole,
            Qt.ItemDataRole.ToolTipRole,
            Qt.ItemDataRole.FontRole,
            self.UrgencyRole,
        ]
        col = int(Column.TIME_LEFT)
        self.dataChanged.emit(self.index(first, col), self.index(last, col), roles)

    # ------------------------------------------------------------------------------------------- lookup
    def ids(self) -> list[int]:
        return list(self._ids)

    def id_at(self, row: int) -> int | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, conversation_id: int) -> int | None:
        return self._rows_of([conversation_id]).get(conversation_id)

    def cached_count(self) -> int:
        return len(self._cache)

    def cached_summaries(self) -> list[ConversationSummary]:
        """The rows loaded so far (no query)."""
        return [s for s in self._cache.values() if s is not None]

    def summary_at(self, row: int) -> ConversationSummary | None:
        if not 0 <= row < len(self._ids):
            return None
        cid = self._ids[row]
        if cid in self._cache:
            self._cache.move_to_end(cid)
            return self._cache[cid]
        self._load_page(row)
        return self._cache.get(cid)

    def _rows_of(self, ids: Sequence[int]) -> dict[int, int]:
        """The rows of those ``ids`` that are listed. No id → row map of the whole list is kept: at 1,000,000
        rows it held 100 MB, and it was rebuilt on the UI thread after every change. A few ids are looked up
        with ``list.index`` (C speed), more in one pass over the list."""
        wanted = set(ids)
        if len(wanted) > 4:
            return {cid: row for row, cid in enumerate(self._ids) if cid in wanted}
        found: dict[int, int] = {}
        for cid in wanted:
            try:
                found[cid] = self._ids.index(cid)
            except ValueError:
                continue
        return found

    def _load_page(self, row: int) -> None:
        start = row - row % self.page_size
        wanted = [cid for cid in self._ids[start : start + self.page_size] if cid not in self._cache]
        if not wanted:
            return
        found = self._summaries_fn(wanted)
        self.summary_loads += len(wanted)
        for cid in wanted:
            self._cache[cid] = found.get(cid)  # None remembers "deleted meanwhile" until the next refresh
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    # ---------------------------------------------------------------------------------------- Qt model
    def row_count(self) -> int:
        return len(self._ids)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        if role == self.IdRole:
            return self._ids[index.row()]
        summary = self.summary_at(index.row())
        if summary is None:
            return None
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(summary, column)
        if role == self.SummaryRole:
            return summary
        if role == self.UrgencyRole:
            return urgency(summary.deadline_at, self._now, DUE_SOON_WINDOW).value
        if role == self.DeadlineRole:
            return summary.deadline_at
        if role == Qt.ItemDataRole.DecorationRole:
            if column is Column.TIME_LEFT:
                return icons.urgency_icon(urgency(summary.deadline_at, self._now, DUE_SOON_WINDOW))
            if column is Column.CHANNEL:
                return icons.channel_icon(summary.channel_kind)
            return None
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole) and (
            column is Column.CHANNEL
        ):
            return channel_description(summary.channel_kind, summary.channel_name)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is Column.TIME_LEFT:
                return deadline_tooltip(summary, self._now)
            return summary.snippet or summary.subject or None
        if role == Qt.ItemDataRole.FontRole:
            level = urgency(summary.deadline_at, self._now, DUE_SOON_WINDOW)
            if summary.unread or (column is Column.TIME_LEFT and level is Urgency.OVERDUE):
                font = QFont()
                font.setBold(True)
                return font
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if column is Column.TIME_LEFT:
                color = urgency_color(urgency(summary.deadline_at, self._now, DUE_SOON_WINDOW))
                return QBrush(color) if color is not None else None
            return None
        if role == Qt.ItemDataRole.BackgroundRole:
            if column is Column.TIME_LEFT:
                tint = _URGENCY_TINTS.get(urgency(summary.deadline_at, self._now, DUE_SOON_WINDOW))
                return QBrush(QColor(*tint)) if tint else None
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft)
        return None

    def _display(self, summary: ConversationSummary, column: Column) -> str:
        if column is Column.TIME_LEFT:
            return time_left_text(summary, self._now)
        if column is Column.CHANNEL:
            label = CHANNEL_LABELS.get(summary.channel_kind)
            return summary.channel_name or (_(label) if label else summary.channel_kind)
        if column is Column.CUSTOMER:
            return summary.customer_label or "—"
        if column is Column.SUBJECT:
            return summary.subject or summary.snippet or _("(no subject)")
        if column is Column.ORDER:
            return summary.order_id or ""
        return status_and_tags(summary)


def status_and_tags(summary: ConversationSummary) -> str:
    """ "Pending · Damaged · VIP · @Ana": the status when it is not open, the category, the tags, the assignee."""
    parts = [] if summary.status == Status.OPEN else [_(STATUS_LABELS.get(summary.status, summary.status))]
    if summary.category in CATEGORY_LABELS and summary.category != "other":
        parts.append(_(CATEGORY_LABELS[str(summary.category)]))
    # A tag that says what the category already says ("Return" twice) is shown once.
    shown = {part.casefold() for part in parts}
    parts.extend(tag for tag in summary.tags if tag.casefold() not in shown)
    if summary.assignee:
        parts.append(f"@{summary.assignee}")
    return " · ".join(parts)


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted row numbers as contiguous (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs
