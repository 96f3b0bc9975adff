"""Deadline policy settings (save → recompute open conversations on a worker) and the deadline notifier."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pytestqt.qtbot import QtBot

from inbox_app.domain.deadlines import Clock, DeadlinePolicy
from inbox_app.profile import Profile
from inbox_app.store.models import Channel, Conversation, DeadlinePolicyRow
from inbox_app.ui.policy_settings import PolicySettingsDialog, format_windows, parse_windows
from inbox_app.ui.tray import DeadlineNotifier
from tests.ui.reply_fixtures import make_conversation, reply_profile, set_setting

__all__ = ["reply_profile"]  # the fixture is used by name

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def dialog(qtbot: QtBot, reply_profile: Profile) -> Iterator[PolicySettingsDialog]:
    widget = PolicySettingsDialog()
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.close()


def select(dialog: PolicySettingsDialog, key: str) -> None:
    row = DeadlinePolicyRow.get(DeadlinePolicyRow.key == key)
    for i in range(dialog.list.count()):
        if dialog.list.item(i).data(256) == row.get_id():
            dialog.list.setCurrentRow(i)
            return
    raise AssertionError(key)


def test_windows_text_round_trip() -> None:
    text = "09:00–12:00, 13:00–24:00"
    assert format_windows(parse_windows(text)) == text
    with pytest.raises(ValueError):
        parse_windows("9 to 5")


def test_saving_a_policy_recomputes_open_conversations(qtbot: QtBot, dialog: PolicySettingsDialog) -> None:
    conv_id = make_conversation(kind="amazon")
    conv = Conversation.get_by_id(conv_id)
    amazon = DeadlinePolicyRow.get(DeadlinePolicyRow.key == "amazon")
    Channel.update(policy=amazon).where(Channel.id == conv.channel.get_id()).execute()
    before = Conversation.get_by_id(conv_id).deadline_at
    select(dialog, "amazon")
    assert dialog.target.value() == 24
    dialog.target.setValue(12)
    with qtbot.waitSignal(dialog.policies_changed, timeout=10_000):
        assert dialog.save()
    stored = DeadlinePolicy.from_dict(DeadlinePolicyRow.get_by_id(amazon.get_id()).definition)
    assert stored.target == timedelta(hours=12) and stored.clock is Clock.CALENDAR
    after = Conversation.get_by_id(conv_id).deadline_at
    assert before is not None and after == before - timedelta(hours=12)


def test_invalid_form_is_refused_with_a_message(dialog: PolicySettingsDialog) -> None:
    select(dialog, "email")
    dialog.day_edits[0].setText("nine to five")
    assert not dialog.save()
    assert "nine to five" in dialog.error.text()
    dialog.day_edits[0].setText("09:00–18:00")
    dialog.timezone.setCurrentText("Mars/Olympus")
    assert not dialog.save()
    assert "Mars/Olympus" in dialog.error.text()


def test_notifier_counts_overdue_and_notifies_once(qtbot: QtBot, reply_profile: Profile) -> None:
    set_setting("notify_before_minutes", 90)
    soon = make_conversation()
    late = make_conversation()
    far = make_conversation()
    now = datetime.now(UTC)
    for conv_id, deadline in (
        (soon, now + timedelta(minutes=60)),
        (late, now - timedelta(minutes=5)),
        (far, now + timedelta(hours=20)),
    ):
        Conversation.update(deadline_at=deadline).where(Conversation.id == conv_id).execute()
    notifier = DeadlineNotifier()
    with qtbot.waitSignal(notifier.notified) as blocker:
        assert notifier.check(now) == [soon]
    assert blocker.args == [[soon]]
    assert notifier.overdue == 1
    assert notifier.check(now + timedelta(minutes=1)) == []  # once per deadline
    notifier.stop()


def test_notifier_started_with_a_worker_reads_deadlines_off_the_ui_thread(
    qtbot: QtBot, reply_profile: Profile
) -> None:
    """In the window the notifier's checks run on the controller's store worker (the window never waits on
    them): the badge and the notification still follow."""
    import threading

    from inbox_app.services import conversations
    from inbox_app.ui.controller import BackgroundRunner

    set_setting("notify_before_minutes", 90)
    soon = make_conversation()
    late = make_conversation()
    now = datetime.now(UTC)
    Conversation.update(deadline_at=now + timedelta(minutes=60)).where(Conversation.id == soon).execute()
    Conversation.update(deadline_at=now - timedelta(minutes=5)).where(Conversation.id == late).execute()
    runner = BackgroundRunner()
    read_on: list[str] = []

    def run(key, work, on_done):  # type: ignore[no-untyped-def]
        def recorded():  # type: ignore[no-untyped-def]
            read_on.append(threading.current_thread().name)
            return work()

        runner.run(key, recorded, on_done)

    notifier = DeadlineNotifier(run=run)
    with qtbot.waitSignal(notifier.notified) as blocker:
        notifier.start()
    assert blocker.args == [[soon]]
    assert notifier.overdue == 1
    assert read_on and all(name != threading.main_thread().name for name in read_on)
    assert conversations.upcoming_deadlines(now + timedelta(minutes=90)).keys() == {soon, late}
    notifier.stop()
    runner.shutdown(reply_profile.db.close)  # the worker closes its own connection
