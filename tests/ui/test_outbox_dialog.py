"""The outbox in the window: the table and its buttons, the status bar link, and queued replies in the thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from PySide6.QtCore import QUrl
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from inbox_app.profile import Profile
from inbox_app.store import outbox
from inbox_app.store.models import Conversation, OutboxItem
from inbox_app.store.outbox_view import OutboxPhase, outbox_overview
from inbox_app.sync.events import ChangeEvent
from inbox_app.ui.controller import MainController
from inbox_app.ui.outbox_dialog import Column, OutboxDialog, OutboxTableModel, status_line

from .conftest import Seed

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

MakeController = Callable[..., MainController]
_ids = count(1)


@pytest.fixture
def make_controller(qtbot: QtBot) -> Iterator[MakeController]:
    made: list[MainController] = []

    def make(profile: Profile, **kwargs: Any) -> MainController:
        kwargs.setdefault("confirm", lambda _title, _text: True)
        controller = MainController(profile, **kwargs)
        qtbot.addWidget(controller.window)
        controller.start()
        controller.window.show()
        qtbot.waitExposed(controller.window)
        qtbot.waitUntil(lambda: not controller.runner.busy())
        made.append(controller)
        return controller

    yield make
    for controller in made:
        dialog = controller.outbox_dialog()
        if dialog is not None:
            dialog.close()
        controller.shutdown()


def _queue(conv: Conversation, body: str, **kw: Any) -> OutboxItem:
    return outbox.queue_reply(
        conv,
        body=body,
        message_id=f"<ui{next(_ids)}@shop.example>",
        subject=f"RE: {conv.subject}",
        recipients=["jana.becker@example.com"],
        **kw,
    )


def _cell(dialog: OutboxDialog, item_id: int, column: Column) -> str:
    row = dialog.model.row_of(item_id)
    assert row is not None, f"outbox item {item_id} is not listed"
    return str(dialog.model.index(row, column).data())


def _wait_idle(qtbot: QtBot, controller: MainController) -> None:
    qtbot.waitUntil(lambda: not controller.runner.busy())


def test_model_passes_qt_model_tester(qtbot: QtBot, qtmodeltester: ModelTester, seed: Seed) -> None:
    conv = seed.conversation()
    first = _queue(conv, "Hello")
    failed = _queue(conv, "World")
    outbox.mark_failed(failed, "Mailbox unavailable")
    outbox.mark_sent(_queue(conv, "Done"))
    model = OutboxTableModel()
    now = datetime.now(UTC)
    model.set_rows(outbox_overview(), now)
    assert model.rowCount() == 3
    qtmodeltester.check(model, force_py=True)
    model.set_now(now + timedelta(minutes=5))
    model.set_rows(outbox_overview()[:1], now)
    assert model.row_of(first.id) == 0 and model.row_of(failed.id) is None


def test_status_bar_link_opens_the_outbox_and_cancel_reaches_the_database(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    conv = seed.conversation()
    keep = _queue(conv, "Your parcel left our warehouse today.")
    drop = _queue(conv, "Sorry, wrong customer.")
    controller = make_controller(profile)
    window = controller.window
    qtbot.waitUntil(lambda: "Outbox 2 queued" in window.outbox_text())

    window.outbox_label.linkActivated.emit("outbox")  # what a click on the link does
    dialog = controller.outbox_dialog()
    assert dialog is not None and dialog.isVisible()
    assert dialog.model.rowCount() == 2
    assert _cell(dialog, keep.id, Column.STATE) == "Queued"
    assert _cell(dialog, keep.id, Column.CONVERSATION) == "Where is my parcel? — Jana Becker"
    assert _cell(dialog, keep.id, Column.RECIPIENTS) == "jana.becker@example.com"

    assert dialog.select_item(drop.id)
    assert dialog.cancel_button.isEnabled() and not dialog.retry_button.isEnabled()
    with qtbot.waitSignal(dialog.outbox_changed) as changed:
        dialog.cancel_button.click()
    assert changed.args == [[conv.id]]

    assert OutboxItem.get_by_id(drop.id).state == "cancelled"
    assert OutboxItem.get_by_id(keep.id).state == "queued"
    assert _cell(dialog, drop.id, Column.STATE) == "Cancelled"
    assert dialog.selected_row() is not None and dialog.selected_row().id == drop.id  # type: ignore[union-attr]
    assert not dialog.cancel_button.isEnabled(), "a cancelled reply cannot be cancelled again"
    assert dialog.message.text() == "Reply cancelled: it will not be sent."
    qtbot.waitUntil(lambda: "Outbox 1 queued" in window.outbox_text())


def test_cancel_is_refused_once_sending_started(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    conv = seed.conversation()
    item = _queue(conv, "Hello")
    controller = make_controller(profile)
    dialog = controller.open_outbox()
    dialog.select_item(item.id)
    outbox.mark_sending(OutboxItem.get_by_id(item.id))  # the engine claims it while the dialog is open
    assert not dialog.cancel_selected()
    assert OutboxItem.get_by_id(item.id).state == "sending"
    assert dialog.message.text() == "Too late to cancel: the reply is already on its way."
    assert _cell(dialog, item.id, Column.STATE) == "Sending"


def test_failed_reply_shows_its_error_and_retry_requeues_it(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    conv = seed.conversation()
    item = _queue(conv, "Hello")
    outbox.mark_sending(item)
    outbox.mark_failed(item, "The recipient's mailbox does not exist")
    controller = make_controller(profile)
    qtbot.waitUntil(lambda: "1 failed" in controller.window.outbox_text())
    controller.window.actions_by_name["outbox"].trigger()
    dialog = controller.outbox_dialog()
    assert dialog is not None
    assert _cell(dialog, item.id, Column.STATE) == "Failed"
    assert _cell(dialog, item.id, Column.ERROR) == "The recipient's mailbox does not exist"
    assert _cell(dialog, item.id, Column.ATTEMPTS) == "1"
    assert "1 failed" in dialog.summary.text()

    dialog.select_item(item.id)
    assert dialog.retry_button.isEnabled() and not dialog.cancel_button.isEnabled()
    with (
        qtbot.waitSignal(dialog.retry_requested),
        qtbot.waitSignal(controller.wake_outbox_requested),
    ):
        dialog.retry_button.click()
    assert OutboxItem.get_by_id(item.id).state == "queued"
    assert OutboxItem.get_by_id(item.id).next_attempt_at is None
    assert _cell(dialog, item.id, Column.STATE) == "Queued"


def test_an_unconfirmed_reply_can_be_sent_again_as_a_new_mail(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    conv = seed.conversation()
    item = _queue(conv, "Your parcel ships today.", in_reply_to="<buyer1@example.com>")
    confirmed = _queue(conv, "And a tracking number follows.")
    for row in (item, confirmed):
        outbox.mark_sending(row)
        outbox.mark_sent(row)
    warning = "The connection broke right after the message was transmitted"
    OutboxItem.update(last_error=warning).where(OutboxItem.id == item.id).execute()
    asked: list[str] = []
    controller = make_controller(profile, confirm=lambda _title, text: asked.append(text) or True)
    dialog = controller.open_outbox()

    dialog.select_item(confirmed.id)
    assert not dialog.send_again_button.isEnabled()  # delivered and confirmed: nothing to resend
    dialog.select_item(item.id)
    assert dialog.send_again_button.isEnabled() and not dialog.retry_button.isEnabled()
    assert "Warning: " + warning in dialog.detail.text()
    with qtbot.waitSignal(controller.wake_outbox_requested):
        dialog.send_again_button.click()
    assert asked and "gets it twice" in asked[0]

    copy = OutboxItem.select().where(OutboxItem.id > confirmed.id).get()
    assert (copy.state, copy.body, copy.in_reply_to) == ("queued", item.body, "<buyer1@example.com>")
    assert copy.message_id != item.message_id and copy.message_id.endswith("@shop.example>")
    assert OutboxItem.get_by_id(item.id).state == "sent"  # the original stays as it was
    assert "in the queue" in dialog.message.text()
    assert outbox.send_again(confirmed.id) is None


def test_waiting_and_scheduled_replies_say_when(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    now = datetime.now(UTC)
    conv = seed.conversation()
    waiting = _queue(conv, "Retry me")
    outbox.mark_sending(waiting)
    outbox.mark_retry(waiting, "Connection refused by the server", now=now)  # backoff 30 s
    OutboxItem.update(next_attempt_at=now + timedelta(minutes=2, seconds=30)).where(
        OutboxItem.id == waiting.id
    ).execute()
    later = _queue(conv, "Later", scheduled_at=now + timedelta(days=2))
    controller = make_controller(profile, now_fn=lambda: now)
    dialog = controller.open_outbox()
    assert _cell(dialog, waiting.id, Column.STATE) == "Waiting to retry"
    assert _cell(dialog, waiting.id, Column.NEXT_ATTEMPT) == "retrying in 2 min"
    assert _cell(dialog, waiting.id, Column.ERROR) == "Connection refused by the server"
    assert _cell(dialog, later.id, Column.STATE).startswith("Scheduled · send at ")
    dialog.select_item(later.id)
    assert dialog.cancel_button.isEnabled() and not dialog.retry_button.isEnabled()
    dialog.select_item(waiting.id)
    assert dialog.cancel_button.isEnabled() and dialog.retry_button.isEnabled()


def test_open_conversation_from_the_outbox(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    first = seed.conversation(customer="Jana Becker", subject="Where is my parcel?")
    second = seed.conversation(customer="Luca Rossi", subject="Wrong size")
    item = _queue(second, "We will exchange it.")
    controller = make_controller(profile)
    _wait_idle(qtbot, controller)
    controller.open_conversation(first.id)
    dialog = controller.open_outbox()
    dialog.select_item(item.id)
    with qtbot.waitSignal(controller.conversation_shown) as shown:
        dialog.open_button.click()
    assert shown.args == [second.id]
    assert controller.window.thread_view.conversation_id() == second.id


def test_outbox_change_event_reloads_the_open_dialog(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    conv = seed.conversation()
    item = _queue(conv, "Hello")
    controller = make_controller(profile)
    dialog = controller.open_outbox()
    assert _cell(dialog, item.id, Column.STATE) == "Queued"
    outbox.mark_sent(OutboxItem.get_by_id(item.id))  # what the delivery side does, then it tells the bus
    controller.handle_change_event(ChangeEvent("outbox", frozenset({conv.id}), conv.account_id))
    qtbot.waitUntil(lambda: _cell(dialog, item.id, Column.STATE).startswith("Sent · "))
    qtbot.waitUntil(lambda: "Outbox empty" in controller.window.outbox_text())


def test_thread_warns_of_an_unconfirmed_delivery_and_sends_it_again(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    from inbox_app.domain.conversations import Direction, IncomingMessage
    from inbox_app.store.ingest import add_message

    conv = seed.conversation(text="Hello, my order has not arrived yet.")
    item = _queue(conv, "Your parcel ships today.")
    sent = add_message(
        conv,
        IncomingMessage(
            direction=Direction.OUT, sent_at=datetime.now(UTC), text=item.body, remote_id=item.message_id
        ),
    )
    outbox.mark_sending(item)
    outbox.mark_sent(item, sent_message_id=sent.id)
    controller = make_controller(profile)
    thread = controller.window.thread_view
    controller.open_conversation(conv.id)
    qtbot.waitUntil(lambda: thread.conversation_id() == conv.id)
    assert "Delivery not confirmed" not in thread.browser.toPlainText()  # confirmed: no warning

    OutboxItem.update(last_error="The connection broke").where(OutboxItem.id == item.id).execute()
    controller.handle_change_event(ChangeEvent("outbox", frozenset({conv.id}), conv.account_id))
    qtbot.waitUntil(lambda: "Delivery not confirmed" in thread.browser.toPlainText())
    with qtbot.waitSignal(controller.wake_outbox_requested):
        thread.browser.anchorClicked.emit(
            QUrl(f"inbox:send-again/{item.id}")
        )  # what a click on the link does
    copy = OutboxItem.select().where(OutboxItem.id != item.id).get()
    assert (copy.state, copy.body, copy.conversation_id) == ("queued", item.body, conv.id)
    qtbot.waitUntil(lambda: "Reply in the outbox" in thread.browser.toPlainText())


def test_thread_shows_queued_reply_with_its_state_and_cancel_link(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    conv = seed.conversation(text="Hello, my order has not arrived yet.")
    queued = _queue(conv, "Your parcel is on its way, tracking 123.")
    failed = _queue(conv, "An earlier try")
    outbox.mark_failed(failed, "Message too large for the marketplace")
    controller = make_controller(profile)
    _wait_idle(qtbot, controller)
    controller.open_conversation(conv.id)
    view = controller.window.thread_view
    qtbot.waitUntil(lambda: view.conversation_id() == conv.id)

    assert [r.id for r in view.outbox_rows()] == [queued.id, failed.id]
    text = view.browser.toPlainText()
    assert "Your parcel is on its way, tracking 123." in text
    assert "Queued — will send when online" in text
    assert "Failed: Message too large for the marketplace" in text
    html = view.browser.toHtml()
    assert f"inbox:cancel-reply/{queued.id}" in html
    assert f"inbox:cancel-reply/{failed.id}" not in html, "a failed reply has nothing left to cancel"
    assert f"inbox:retry-reply/{failed.id}" in html

    view.browser.anchorClicked.emit(QUrl(f"inbox:cancel-reply/{queued.id}"))  # a click on "Cancel"
    assert OutboxItem.get_by_id(queued.id).state == "cancelled"
    assert [r.id for r in view.outbox_rows()] == [failed.id]
    assert "Queued — will send when online" not in view.browser.toPlainText()

    with qtbot.waitSignal(controller.wake_outbox_requested):
        view.browser.anchorClicked.emit(QUrl(f"inbox:retry-reply/{failed.id}"))
    assert OutboxItem.get_by_id(failed.id).state == "queued"
    assert "Queued — will send when online" in view.browser.toPlainText()


def test_thread_shows_a_reply_queued_from_the_editor(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    """The reply editor's ``reply_queued`` redraws the thread: the new reply shows under it at once."""
    conv = seed.conversation()
    controller = make_controller(profile)
    _wait_idle(qtbot, controller)
    controller.open_conversation(conv.id)
    view = controller.window.thread_view
    scheduled_at = datetime.now(UTC) + timedelta(days=1)
    item = _queue(conv, "Tomorrow morning then.", scheduled_at=scheduled_at)
    controller.conversations_changed([conv.id])  # what reply_queued triggers
    (row,) = view.outbox_rows()
    assert row.id == item.id and row.phase(datetime.now(UTC)) is OutboxPhase.SCHEDULED
    line = status_line(row, datetime.now(UTC))
    assert line.startswith("Scheduled for ")
    assert line in view.browser.toPlainText()


def test_the_countdown_of_a_waiting_reply_moves_with_the_clock(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    now = datetime.now(UTC)
    conv = seed.conversation()
    item = _queue(conv, "Retry me")
    outbox.mark_sending(item)
    outbox.mark_retry(item, "The server is busy", now=now)
    OutboxItem.update(next_attempt_at=now + timedelta(minutes=5, seconds=30)).where(
        OutboxItem.id == item.id
    ).execute()
    controller = make_controller(profile, now_fn=lambda: now)
    _wait_idle(qtbot, controller)
    controller.open_conversation(conv.id)
    view = controller.window.thread_view
    assert "Waiting — retrying in 5 min. Last attempt: The server is busy" in view.browser.toPlainText()
    view.set_now(now + timedelta(minutes=3))
    assert "retrying in 2 min" in view.browser.toPlainText()
    view.set_now(now + timedelta(minutes=6))  # due: the engine picks it up next
    assert "Queued — will send when online. Last attempt: The server is busy" in view.browser.toPlainText()

    dialog = controller.open_outbox()
    assert _cell(dialog, item.id, Column.NEXT_ATTEMPT) == "retrying in 5 min"
    dialog.model.set_now(now + timedelta(minutes=3))
    assert _cell(dialog, item.id, Column.NEXT_ATTEMPT) == "retrying in 2 min"
