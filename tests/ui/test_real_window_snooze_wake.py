"""Snoozed conversations wake by themselves in the real window (``open_gui`` + the app's loop): one whose time
passed while the app was closed is open from the start, one whose time comes while the window is open joins
the open list at that time (not at the next half-minute check), without a key pressed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from inbox_app import i18n
from inbox_app.app import Gui
from inbox_app.domain.conversations import Status
from inbox_app.domain.views import View, ViewKind
from inbox_app.profile import open_profile
from inbox_app.services import conversations, triage
from tests.ui.conftest import Seed
from tests.ui.real_app import run_real_app

SOON = 3.0  # seconds until the second one wakes


def make_snoozed_profile(path: Path) -> tuple[int, int, datetime]:
    i18n.setup("en")
    profile = open_profile(path)
    try:
        seed = Seed(profile)
        seed.conversation(customer="Open Customer", subject="Still open")
        expired = seed.conversation(customer="Jana Becker", subject="Slept while closed")
        waking = seed.conversation(customer="Marie Lefèvre", subject="Wakes in a moment")
        now = datetime.now(UTC)
        triage.set_status([expired.id], Status.SNOOZED, now + timedelta(seconds=1))
        wake_at = now + timedelta(seconds=SOON + 2)
        triage.set_status([waking.id], Status.SNOOZED, wake_at)
        assert triage.next_wake() is not None
    finally:
        profile.close()
    time.sleep(1.1)  # the first one's time passes while the app is closed
    return expired.id, waking.id, wake_at


def status(cid: int) -> str:
    state = conversations.state(cid)
    return state.status if state is not None else "gone"


def test_snoozed_conversations_wake_by_themselves_on_time(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    expired, waking, wake_at = make_snoozed_profile(path)
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        gui.window.activateWindow()
        qtbot.waitUntil(lambda: gui.controller.current_id() is not None)
        listed = lambda: set(gui.controller.model.ids())  # noqa: E731
        qtbot.waitUntil(lambda: expired in listed(), timeout=5_000)
        seen["at_start"] = (status(expired), waking in listed())
        snoozed = View(ViewKind.SNOOZED)
        qtbot.waitUntil(lambda: gui.window.sidebar.count_text(snoozed) == "1")
        qtbot.waitUntil(lambda: waking in listed(), timeout=15_000)
        seen["woke_late_by"] = (datetime.now(UTC) - wake_at).total_seconds()
        seen["status"] = status(waking)
        qtbot.waitUntil(lambda: gui.window.sidebar.count_text(snoozed) in ("", "0"))

    run_real_app(path, scenario)
    assert seen["at_start"] == ("open", False)
    assert seen["status"] == "open"
    assert 0 <= float(seen["woke_late_by"]) < 5, seen  # type: ignore[arg-type]
