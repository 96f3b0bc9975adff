"""The customer's history beside the thread, in the real window: Lucía wrote through the Amazon relay, from her
own address (about the same order) and on Fnac (Mirakl). Unfolding the strip lists her conversations across
channels and accounts with their order ids; "Merge with…" (typing her Fnac user id) brings the Fnac thread in,
Ctrl+Z takes it out again; "Split off" on a selected row gives it its own customer. Real clicks and keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTreeWidget

from inbox_app import i18n
from inbox_app.app import Gui
from inbox_app.domain.conversations import Direction, IncomingMessage
from inbox_app.profile import open_profile
from inbox_app.store.ingest import add_message, create_conversation, ensure_channel, ensure_customer
from inbox_app.store.models import Account, Conversation
from inbox_app.ui.customer_panel import LINK_ROLE
from tests.ui.real_app import run_real_app
from tests.ui.test_real_window_long_and_limits import select_by_keys

ORDER = "404-3382716-4459122"


def _conversation(
    account: Account,
    kind: str,
    channel_name: str,
    identity: tuple[str, str],
    subject: str,
    order_id: str | None,
    at: datetime,
    marketplace: str | None = None,
) -> int:
    channel = ensure_channel(account, kind, channel_name, marketplace)
    customer = ensure_customer(identity[0], identity[1], "Lucía Fernández")
    conv = create_conversation(
        account, channel, remote_id=f"{kind}-{subject}", subject=subject, customer=customer, order_id=order_id
    )
    add_message(
        conv,
        IncomingMessage(
            direction=Direction.IN,
            sent_at=at,
            text=subject,
            author_name="Lucía Fernández",
            author_address=identity[1],
            subject=subject,
            remote_id=f"<{kind}-{at.timestamp()}@example>",
        ),
    )
    return int(conv.id)


def make_profile(path: Path) -> dict[str, int]:
    i18n.setup("en")
    profile = open_profile(path)
    now = datetime.now(UTC)
    try:
        mail = Account.create(kind="test", name="shop@example.es")
        fnac = Account.create(kind="test", name="Fnac ES")
        relay = ("amazon_alias", "k3x9q2@marketplace.amazon.es")
        return {
            "amazon": _conversation(
                mail,
                "amazon",
                "Amazon.es",
                relay,
                "Dónde está mi paquete",
                ORDER,
                now - timedelta(hours=3),
                "amazon.es",
            ),
            "own": _conversation(
                mail,
                "email",
                "shop@example.es",
                ("email", "lucia.f@example.es"),
                "Factura",
                ORDER,
                now - timedelta(hours=2),
            ),
            "fnac": _conversation(
                fnac,
                "mirakl",
                "Fnac ES",
                ("mirakl:9", "CUST-7781"),
                "Paquete roto",
                "FNAC-1",
                now - timedelta(hours=1),
                "fnac",
            ),
        }
    finally:
        profile.close()


def _rows(table: QTreeWidget) -> list[tuple[str, str]]:
    """(subject, order) of each listed conversation."""
    rows = []
    for index in range(table.topLevelItemCount()):
        item = table.topLevelItem(index)
        assert item is not None
        rows.append((item.text(1), item.text(2)))
    return sorted(rows)


def test_history_lists_the_buyer_everywhere_merge_undo_and_split(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    ids = make_profile(path)
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        gui.window.activateWindow()
        qtbot.waitUntil(lambda: gui.controller.current_id() is not None)
        select_by_keys(qtbot, gui, ids["amazon"])
        strip = gui.window.thread_view.customer
        panel = strip.others
        table = panel.table
        QTest.mouseClick(strip.toggle, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(panel.isVisible)
        seen["toggle"] = strip.toggle.text()
        seen["before"] = _rows(table)

        QTest.mouseClick(panel.merge_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: gui.controller.customer_actions.picker is not None)
        picker = gui.controller.customer_actions.picker
        assert picker is not None
        QTest.keyClicks(picker.query, "CUST-77")
        qtbot.waitUntil(lambda: picker.results.count() == 1)
        QTest.keyClick(picker.query, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: table.topLevelItemCount() == 3)
        seen["merged"] = _rows(table)
        seen["merged_toggle"] = strip.toggle.text()
        gui.window.grab().save(str(tmp_path / "merged.png"))

        gui.window.activateWindow()  # the picker was the active window
        qtbot.waitUntil(gui.window.isActiveWindow)
        gui.window.conversation_list.setFocus()
        QTest.keyClick(gui.window.conversation_list, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: table.topLevelItemCount() == 2)
        seen["undone"] = _rows(table)

        QTest.keyClick(
            gui.window.conversation_list,
            Qt.Key.Key_Z,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
        if table.topLevelItemCount() != 3:  # no redo shortcut in this window: merge again by hand
            panel.merge_requested.emit(Conversation.get_by_id(ids["fnac"]).customer_id)
        qtbot.waitUntil(lambda: table.topLevelItemCount() == 3)
        fnac_row = panel.row_of(ids["fnac"])
        assert fnac_row is not None
        QTest.mouseClick(
            table.viewport(),
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            table.visualItemRect(fnac_row).center(),
        )
        qtbot.waitUntil(panel.split_button.isEnabled)
        QTest.mouseClick(panel.split_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: table.topLevelItemCount() == 2)
        seen["split"] = _rows(table)

        # Her own address is linked by the order only: "Same customer — merge" from the row's context menu.
        own_row = panel.row_of(ids["own"])
        assert own_row is not None
        seen["own_link"] = own_row.data(0, LINK_ROLE)
        menu = panel.context_menu_for(own_row)
        (merge,) = [a for a in menu.actions() if a.text() == "Same customer — merge"]
        merge.trigger()
        qtbot.waitUntil(
            lambda: (row := panel.row_of(ids["own"])) is not None and row.data(0, LINK_ROLE) == "customer"
        )

    run_real_app(path, scenario)
    both = [("Dónde está mi paquete", ORDER), ("Factura", ORDER)]
    assert seen["before"] == both and seen["toggle"] == "1 other conversation"
    assert seen["merged"] == sorted([*both, ("Paquete roto", "FNAC-1")])
    assert seen["merged_toggle"] == "2 other conversations"
    assert seen["undone"] == both
    assert seen["split"] == both
    assert seen["own_link"] == "order"
    profile = open_profile(path)
    try:
        amazon = Conversation.get_by_id(ids["amazon"]).customer_id
        assert Conversation.get_by_id(ids["fnac"]).customer_id != amazon
        assert Conversation.get_by_id(ids["own"]).customer_id == amazon
    finally:
        profile.close()
