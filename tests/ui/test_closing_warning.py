"""Closing an unanswered marketplace conversation asks first; e-mail and answered conversations do not."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from inbox_app.profile import Profile
from inbox_app.store import ingest
from inbox_app.store.models import Conversation
from inbox_app.ui.controller import MainController

from .conftest import Seed

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

Questions = list[tuple[str, str]]
MakeController = Callable[[Profile, bool], tuple[MainController, Questions]]


@pytest.fixture
def make_controller(qtbot: QtBot) -> Iterator[MakeController]:
    """A real window and controller whose ``confirm`` records each question and answers ``answer``."""
    made: list[MainController] = []
    ingest.clear_policy_cache()  # per process, keyed by channel id: forget earlier profiles' channels

    def make(profile: Profile, answer: bool) -> tuple[MainController, Questions]:
        asked: Questions = []

        def confirm(title: str, text: str) -> bool:
            asked.append((title, text))
            return answer

        controller = MainController(profile, confirm=confirm)
        qtbot.addWidget(controller.window)
        controller.start()
        controller.window.show()
        qtbot.waitExposed(controller.window)
        controller.window.activateWindow()
        qtbot.waitUntil(lambda: not controller.runner.busy())
        made.append(controller)
        return controller, asked

    yield make
    for controller in made:
        controller.shutdown()


def _press_e_on(qtbot: QtBot, controller: MainController, conversation_id: int) -> None:
    listing = controller.window.conversation_list
    qtbot.waitUntil(lambda: listing.select_conversation(conversation_id))
    qtbot.waitUntil(lambda: controller.current_id() == conversation_id)
    qtbot.waitUntil(controller.window.isActiveWindow)
    listing.setFocus()
    qtbot.keyClick(listing, Qt.Key.Key_E)


def _status(conversation_id: int) -> str:
    return str(Conversation.get_by_id(conversation_id).status)


def _wait_idle(qtbot: QtBot, controller: MainController) -> None:
    qtbot.waitUntil(lambda: not controller.runner.busy())


def test_declining_the_question_leaves_the_conversation_open(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    conv = seed.conversation(kind="amazon", marketplace="amazon.de", channel_name="Amazon.de")
    assert conv.deadline_at is not None  # unanswered: Amazon's clock runs
    controller, asked = make_controller(profile, False)
    _press_e_on(qtbot, controller, conv.id)
    qtbot.waitUntil(lambda: len(asked) == 1)
    title, text = asked[0]
    assert title == "Close unanswered conversation"
    assert text.startswith("This Amazon conversation is still unanswered. Amazon keeps counting it")
    assert "'No response needed'" in text and text.endswith("Close anyway?")
    _wait_idle(qtbot, controller)
    stored = Conversation.get_by_id(conv.id)
    assert stored.status == "open" and stored.deadline_at == conv.deadline_at
    assert controller.undo_stack.count() == 0  # nothing happened, so there is nothing to undo
    assert conv.id in controller.model.ids()


def test_confirming_closes_and_stays_undoable(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    conv = seed.conversation(kind="mirakl", marketplace="worten", channel_name="Worten")
    controller, asked = make_controller(profile, True)
    _press_e_on(qtbot, controller, conv.id)
    qtbot.waitUntil(lambda: conv.id not in controller.model.ids())
    assert [text.split(" conversation")[0] for _title, text in asked] == ["This Mirakl"]
    assert Conversation.get_by_id(conv.id).status == "closed"
    controller.window.actions_by_name["undo"].trigger()
    qtbot.waitUntil(lambda: Conversation.get_by_id(conv.id).status == "open")
    assert len(asked) == 1  # undoing a close is not a close: no second question


def test_email_and_answered_conversations_close_without_a_question(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    mail = seed.conversation(kind="email", marketplace=None, channel_name="shop@example.com", customer="Ana")
    answered = seed.conversation(replied=True, customer="Bea")
    assert mail.deadline_at is not None and answered.deadline_at is None
    controller, asked = make_controller(profile, False)
    for conv_id in (mail.id, answered.id):
        _press_e_on(qtbot, controller, conv_id)
        qtbot.waitUntil(lambda: _status(conv_id) == "closed")  # noqa: B023  # waited on before the next turn
    assert asked == []


def test_menu_close_asks_too(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    conv = seed.conversation(kind="ebay", marketplace=None, channel_name="eBay")
    controller, asked = make_controller(profile, False)
    qtbot.waitUntil(lambda: controller.window.conversation_list.select_conversation(conv.id))
    qtbot.waitUntil(lambda: controller.current_id() == conv.id)
    controller.window.actions_by_name["close"].trigger()
    assert len(asked) == 1 and "This eBay conversation" in asked[0][1]
    assert Conversation.get_by_id(conv.id).status == "open"
