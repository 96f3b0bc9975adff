""" "Try the demo" fills the profile on a worker thread with progress, then hands back to the window."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from inbox_app.domain.views import View, ViewKind
from inbox_app.profile import Profile
from inbox_app.store.conversations import conversation_ids
from inbox_app.ui.demo_runner import fill_demo
from inbox_app.ui.main_window import MainWindow


def test_try_the_demo_fills_the_profile_off_the_ui_thread(qtbot: QtBot, profile: Profile) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    done: list[bool] = []
    fill_demo(window, profile, on_done=lambda: done.append(True), count=24)
    qtbot.waitUntil(lambda: done == [True], timeout=30_000)
    assert len(conversation_ids(View(ViewKind.ALL))) == 24
