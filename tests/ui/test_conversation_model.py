"""The conversation list model on a real profile: Qt's model contract, lazy loading, and the countdown."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QBrush
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from inbox_app.domain.conversations import ConversationSummary, Status
from inbox_app.domain.deadlines import Urgency
from inbox_app.domain.views import View, ViewKind
from inbox_app.store.ingest import set_status
from inbox_app.ui.conversation_list import ConversationList
from inbox_app.ui.conversation_model import Column, ConversationListModel, SummariesFn, urgency_color

from .conftest import Seed


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _collect_data_changed(model: ConversationListModel) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    seen: list[tuple[tuple[int, int], tuple[int, int]]] = []

    def on_changed(top: QModelIndex, bottom: QModelIndex, _roles: object = None) -> None:
        seen.append(((top.row(), top.column()), (bottom.row(), bottom.column())))

    model.dataChanged.connect(on_changed)
    return seen


def test_model_passes_qt_model_tester(qtmodeltester: ModelTester, seed: Seed) -> None:
    convs = seed.many(30)
    seed.conversation(customer="Closed One", subject="Already sorted")
    set_status(convs[0], Status.CLOSED)
    model = ConversationListModel()
    model.set_view(View(ViewKind.OPEN))
    assert model.rowCount() == 30
    qtmodeltester.check(model, force_py=True)
    # The tester keeps watching: a refresh that removes, adds and reorders rows must keep the contract too.
    set_status(convs[5], Status.PENDING)
    set_status(convs[0], Status.OPEN)
    model.refresh()
    assert convs[5].id not in model.ids()
    assert convs[0].id in model.ids()
    model.set_search("number 007")
    assert model.ids() == [convs[7].id]


def test_rows_show_deadline_channel_customer_and_subject(seed: Seed) -> None:
    received = datetime.now(UTC) - timedelta(hours=1)
    conv = seed.conversation(
        customer="Lucía Fernández", subject="¿Dónde está mi paquete?", received_at=received
    )
    clock = FakeClock(received + timedelta(hours=1))
    model = ConversationListModel(now_fn=clock)
    model.set_view(View(ViewKind.OPEN))
    row = model.row_of(conv.id)
    assert row == 0

    def text(column: Column) -> str:
        return str(model.data(model.index(0, column), Qt.ItemDataRole.DisplayRole))

    assert text(Column.TIME_LEFT) == "23h"
    assert text(Column.CHANNEL) == "Amazon.de"
    assert text(Column.CUSTOMER) == "Lucía Fernández"
    assert text(Column.SUBJECT) == "¿Dónde está mi paquete?"
    assert text(Column.ORDER) == "302-1234567-7654321"
    assert model.data(model.index(0, 0), ConversationListModel.IdRole) == conv.id
    assert model.data(model.index(0, 0), ConversationListModel.DeadlineRole) == received + timedelta(hours=24)
    assert model.data(model.index(0, Column.SUBJECT), Qt.ItemDataRole.ToolTipRole) == (
        "Hello, my order has not arrived yet."
    )
    assert model.data(model.index(0, Column.CUSTOMER), Qt.ItemDataRole.FontRole).bold()  # unread
    assert not model.data(model.index(0, Column.CHANNEL), Qt.ItemDataRole.DecorationRole).isNull()


def test_model_loads_lazily_and_stays_within_its_cache(seed: Seed) -> None:
    subjects = {conv.id: conv.subject for conv in seed.many(40)}
    model = ConversationListModel(cache_size=12, page_size=6)
    model.set_view(View(ViewKind.OPEN))
    assert model.rowCount() == 40
    assert model.summary_loads == 0  # opening a view loads ids only
    model.data(model.index(13, Column.CUSTOMER))
    assert model.summary_loads == 6  # one page around the painted row
    for row in range(40):
        cid = model.id_at(row)
        assert cid is not None
        assert model.data(model.index(row, Column.SUBJECT)) == subjects[cid]
        assert model.cached_count() <= 12
    loads = model.summary_loads
    model.data(model.index(39, Column.CUSTOMER))
    assert model.summary_loads == loads  # the most recent page is still cached


def test_tick_repaints_only_visible_time_cells(seed: Seed) -> None:
    seed.many(20)
    clock = FakeClock(datetime.now(UTC))
    model = ConversationListModel(now_fn=clock)
    model.set_view(View(ViewKind.OPEN))
    seen = _collect_data_changed(model)
    model.tick()
    assert seen == []  # nothing visible yet: nothing to repaint
    model.set_visible_rows(3, 9)
    model.tick(clock.now + timedelta(minutes=1))
    assert seen == [((3, Column.TIME_LEFT), (9, Column.TIME_LEFT))]
    model.set_visible_rows(15, 40)  # the view may ask past the end: clamp to the rows that exist
    seen.clear()
    model.tick()
    assert seen == [((15, Column.TIME_LEFT), (19, Column.TIME_LEFT))]


def test_countdown_turns_overdue_when_clock_passes_deadline(seed: Seed) -> None:
    received = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    conv = seed.conversation(received_at=received)  # Amazon: 24 h on the calendar clock
    deadline = received + timedelta(hours=24)
    clock = FakeClock(deadline - timedelta(hours=10))
    model = ConversationListModel(now_fn=clock)
    model.set_view(View(ViewKind.ALL))
    row = model.row_of(conv.id)
    assert row is not None
    cell = model.index(row, Column.TIME_LEFT)
    model.set_visible_rows(row, row)
    assert model.data(cell, ConversationListModel.UrgencyRole) == Urgency.OK
    assert model.data(cell) == "10h"  # short units: the column stays narrow, the tooltip says it in full
    assert model.data(cell, Qt.ItemDataRole.ToolTipRole).startswith("Due in 10 hr — reply by ")

    model.tick(deadline - timedelta(hours=3, minutes=20))
    assert model.data(cell, ConversationListModel.UrgencyRole) == Urgency.DUE_SOON
    assert model.data(cell) == "3h 20m"
    brush = model.data(cell, Qt.ItemDataRole.ForegroundRole)
    assert isinstance(brush, QBrush)
    assert brush.color() == urgency_color(Urgency.DUE_SOON)

    model.tick(deadline + timedelta(hours=2, minutes=5))
    assert model.data(cell, ConversationListModel.UrgencyRole) == Urgency.OVERDUE
    assert model.data(cell) == "\u22122h 5m"  # "−2h 5m": late by that much, the amount first and whole
    assert model.data(cell, Qt.ItemDataRole.ToolTipRole).startswith("Overdue by 2 hr 5 min — reply by ")
    assert model.data(cell, Qt.ItemDataRole.ForegroundRole).color() == urgency_color(Urgency.OVERDUE)
    assert model.data(cell, Qt.ItemDataRole.FontRole).bold()
    assert urgency_color(Urgency.OVERDUE) != urgency_color(Urgency.DUE_SOON)


def test_refresh_keeps_selection_on_the_same_conversation(seed: Seed) -> None:
    convs = seed.many(10)
    model = ConversationListModel()
    model.set_view(View(ViewKind.OPEN))
    selection = QItemSelectionModel(model)
    target = convs[6].id
    selection.setCurrentIndex(
        model.index(model.row_of(target) or 0, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    set_status(convs[1], Status.CLOSED)
    set_status(convs[2], Status.CLOSED)
    model.refresh()
    assert model.rowCount() == 8
    assert model.data(selection.currentIndex(), ConversationListModel.IdRole) == target
    assert [model.data(i, ConversationListModel.IdRole) for i in selection.selectedRows()] == [target]


def test_refresh_ids_repaints_only_changed_rows(seed: Seed) -> None:
    convs = seed.many(8)
    model = ConversationListModel()
    model.set_view(View(ViewKind.OPEN))
    model.data(model.index(3, Column.SUBJECT))
    seen = _collect_data_changed(model)
    row = model.row_of(convs[3].id)
    assert row is not None
    model.refresh_ids([convs[3].id, 999_999])
    assert seen == [((row, 0), (row, len(Column) - 1))]


def test_reverse_order_flips_the_list(seed: Seed) -> None:
    seed.many(5)
    model = ConversationListModel()
    model.set_view(View(ViewKind.OPEN))
    forward = model.ids()
    model.set_reverse(True)
    assert model.ids() == list(reversed(forward))
    model.refresh()
    assert model.ids() == list(reversed(forward))


def test_a_first_page_then_the_rest_keeps_selection_and_loaded_rows(seed: Seed) -> None:
    """The window shows a view's first page, then appends the rest: the rows shown, the selection and the
    loaded summaries stay; both directions of the order give the same list as reading the view whole."""
    seed.many(12)
    for reverse in (False, True):
        whole = ConversationListModel()
        whole.set_reverse(reverse)
        whole.set_view(View(ViewKind.OPEN))
        model = ConversationListModel()
        model.set_reverse(reverse)
        first = model.fetch_ids(View(ViewKind.OPEN), "", first=5)
        assert first == whole.ids()[:5]
        model.set_ids(first, view=View(ViewKind.OPEN), search="")
        selection = QItemSelectionModel(model)
        selection.setCurrentIndex(
            model.index(3, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
        )
        model.data(model.index(3, Column.SUBJECT))
        loads = model.summary_loads
        inserted: list[tuple[int, int]] = []
        model.rowsInserted.connect(lambda _parent, a, b, seen=inserted: seen.append((a, b)))
        model.extend_ids(model.fetch_ids())
        assert model.ids() == whole.ids()
        assert inserted == [(5, 11)]  # appended under the first page, nothing above moved
        assert selection.currentIndex().row() == 3
        model.data(model.index(3, Column.SUBJECT))
        assert model.summary_loads == loads  # the row shown was not read again
        # A list that no longer starts with the rows shown (changed meanwhile) is applied as a change.
        model.extend_ids(list(reversed(whole.ids())))
        assert model.ids() == list(reversed(whole.ids()))


def _synthetic_summaries(now: datetime, calls: list[int]) -> SummariesFn:
    """Rows built in memory, so a 100,000-row view needs no 100,000-row database in a unit test."""

    def summaries(ids: Sequence[int]) -> dict[int, ConversationSummary]:
        calls.append(len(ids))
        return {
            i: ConversationSummary(
                id=i,
                channel_kind="amazon",
                channel_name="Amazon.de",
                account_name="Shop",
                subject=f"Subject {i}",
                snippet="Where is my parcel?",
                customer_name=f"Customer {i}",
                order_id=None,
                status="open",
                language=None,
                unread=False,
                message_count=1,
                last_message_at=now,
                last_inbound_at=now,
                deadline_at=now + timedelta(minutes=i),
            )
            for i in ids
        }

    return summaries


def test_a_100k_view_opens_loading_only_the_visible_pages(qtbot: QtBot) -> None:
    now = datetime.now(UTC)
    calls: list[int] = []
    model = ConversationListModel(
        now_fn=lambda: now,
        ids_fn=lambda _view, _now: list(range(100_000)),
        summaries_fn=_synthetic_summaries(now, calls),
        search_fn=lambda _text: [],
    )
    listing = ConversationList()
    qtbot.addWidget(listing)
    listing.setModel(model)
    listing.resize(900, 700)
    model.set_view(View(ViewKind.OPEN))
    listing.show()
    qtbot.waitExposed(listing)
    listing.grab()
    assert model.rowCount() == 100_000
    assert 0 < sum(calls) <= 2 * model.page_size  # the first screenful, not 100,000 rows
    listing.scrollToBottom()
    listing.grab()
    assert sum(calls) <= 4 * model.page_size
    assert model.cached_count() <= model.cache_size
    visible = model.visible_rows()
    assert visible is not None and visible[1] == 99_999


def test_painting_the_list_keeps_references_to_none(qtbot: QtBot, seed: Seed) -> None:
    """Guards the PySide 6.12 / Python 3.11 reference leak on None through the delegate (see the delegate)."""
    seed.many(12)
    model = ConversationListModel()
    model.set_view(View(ViewKind.OPEN))
    listing = ConversationList()
    qtbot.addWidget(listing)
    listing.setModel(model)
    listing.resize(900, 600)
    listing.show()
    qtbot.waitExposed(listing)
    listing.grab()
    before = sys.getrefcount(None)
    for _round in range(5):
        listing.grab()
    assert sys.getrefcount(None) >= before - 50  # a leak would lose hundreds per paint
