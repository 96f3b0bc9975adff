"""The "Channels" tab of the deadline settings: a policy per channel, per account, and the recompute it causes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget
from pytestqt.qtbot import QtBot

from inbox_app.profile import Profile
from inbox_app.store import ingest
from inbox_app.store.models import Account, Channel, Conversation
from inbox_app.ui.policy_settings import PolicySettingsDialog
from tests.ui.reply_fixtures import make_conversation, reply_profile

__all__ = ["reply_profile"]  # the fixture is used by name

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def mirakl_ids(reply_profile: Profile) -> list[int]:
    """Two open Mirakl conversations (operator unknown: 24 h) and, on the same account, an Amazon one."""
    ids = [make_conversation(kind="mirakl"), make_conversation(kind="mirakl")]
    make_conversation(kind="amazon")
    return ids


@pytest.fixture
def dialog(qtbot: QtBot, mirakl_ids: list[int]) -> Iterator[PolicySettingsDialog]:
    widget = PolicySettingsDialog()
    qtbot.addWidget(widget)
    widget.show()
    widget.tabs.setCurrentWidget(widget.channels)
    yield widget
    widget.close()


def _channel_of(conversation_id: int) -> Channel:
    return Channel.get_by_id(Conversation.get_by_id(conversation_id).channel.get_id())


def _cell(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    assert item is not None
    return item.text()


def _assigned(channel_id: int) -> str | None:
    """The key of the policy stored for a channel (None: its default)."""
    policy = Channel.get_by_id(channel_id).policy
    return None if policy is None else str(policy.key)


def _pick(dialog: PolicySettingsDialog, channel_id: int, key: str | None) -> None:
    combo = dialog.channels.combo(channel_id)
    index = combo.findData(key or "")
    assert index >= 0, key
    combo.setCurrentIndex(index)


def test_channels_tab_lists_every_channel_with_default_selected(
    dialog: PolicySettingsDialog, mirakl_ids: list[int]
) -> None:
    table = dialog.channels.table
    rows = {tuple(_cell(table, r, c) for c in range(3)) for r in range(table.rowCount())}
    assert rows == {("Shop", "Fnac", "mirakl.test"), ("Shop", "Amazon.es", "amazon.test")}
    mirakl = _channel_of(mirakl_ids[0])
    combo = dialog.channels.combo(mirakl.id)
    assert combo.currentText() == "Default for this channel (Mirakl marketplace: 24 hours)"
    assert combo.findData("mirakl_48h") > 0
    assert dialog.save_button.isHidden()  # the policy form's Save does not apply to this tab


def test_assigning_mirakl_48h_moves_open_deadlines(
    qtbot: QtBot, dialog: PolicySettingsDialog, mirakl_ids: list[int]
) -> None:
    ids = mirakl_ids
    before = [Conversation.get_by_id(i) for i in ids]
    for conv in before:
        assert conv.deadline_at == conv.deadline_started_at + timedelta(hours=24)
    mirakl = _channel_of(ids[0])
    _pick(dialog, mirakl.id, "mirakl_48h")
    with qtbot.waitSignal(dialog.policies_changed, timeout=10_000):
        dialog.channels.save_button.click()
    assert _assigned(mirakl.id) == "mirakl_48h"
    for conv in before:
        after = Conversation.get_by_id(conv.id)
        assert after.deadline_started_at == conv.deadline_started_at
        assert after.deadline_at == conv.deadline_started_at + timedelta(hours=48)
    assert dialog.channels.combo(mirakl.id).currentData() == "mirakl_48h"  # reloaded from the store

    _pick(dialog, mirakl.id, None)  # back to the preset
    with qtbot.waitSignal(dialog.policies_changed, timeout=10_000):
        assert dialog.save_channels()
    assert Channel.get_by_id(mirakl.id).policy_id is None
    assert Conversation.get_by_id(ids[0]).deadline_at == before[0].deadline_started_at + timedelta(hours=24)


def test_apply_to_all_channels_of_the_account(
    qtbot: QtBot, dialog: PolicySettingsDialog, mirakl_ids: list[int]
) -> None:
    ids = mirakl_ids
    mirakl = _channel_of(ids[0])
    amazon = Channel.get(Channel.kind == "amazon")
    elsewhere = ingest.ensure_channel(Account.create(kind="demo", name="Zoo shop"), "ebay", "eBay", None)
    dialog.channels.reload()  # a channel added while the dialog was open
    table = dialog.channels.table
    table.selectRow(dialog.channels.row_of(elsewhere.id))
    # Pick with the keyboard, as a user would: focusing a row's combo makes it the row "Apply to all…" copies.
    combo = dialog.channels.combo(mirakl.id)
    combo.setCurrentIndex(combo.findData("mirakl_48h") - 1)
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentData() == "mirakl_48h"
    assert table.currentRow() == dialog.channels.row_of(mirakl.id)
    dialog.channels.apply_account_button.click()
    assert dialog.channels.combo(amazon.id).currentData() == "mirakl_48h"
    assert dialog.channels.combo(elsewhere.id).currentData() == ""  # another account: untouched
    amazon_conv = Conversation.get(Conversation.channel == amazon.id)
    with qtbot.waitSignal(dialog.policies_changed, timeout=10_000):
        dialog.channels.save_button.click()
    assert _assigned(amazon.id) == "mirakl_48h"
    assert Channel.get_by_id(elsewhere.id).policy_id is None
    recomputed = Conversation.get_by_id(amazon_conv.id)
    assert recomputed.deadline_at == amazon_conv.deadline_started_at + timedelta(hours=48)


def test_saving_a_policy_keeps_unsaved_channel_choices(
    qtbot: QtBot, dialog: PolicySettingsDialog, mirakl_ids: list[int]
) -> None:
    mirakl = _channel_of(mirakl_ids[0])
    _pick(dialog, mirakl.id, "mirakl_48h")
    dialog.tabs.setCurrentIndex(0)
    assert not dialog.save_button.isHidden()
    with qtbot.waitSignal(dialog.policies_changed, timeout=10_000):
        assert dialog.save()  # the policy shown first, saved unchanged
    assert dialog.channels.combo(mirakl.id).currentData() == "mirakl_48h"
    assert _assigned(mirakl.id) is None  # still only chosen, not saved
