"""Reading an Allegro conversation in the real window marks it read on Allegro: the app's own engine (over the
sandbox on 127.0.0.1) performs the action the window queued, within seconds and once."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from inbox_app.app import Gui
from inbox_app.channels.allegro import AllegroChannel, AllegroSettings, MemoryTokenStore
from inbox_app.profile import open_profile
from inbox_app.store.accounts import ApiAccountSettings, create_api_account
from inbox_app.sync.credentials import store_api_key
from inbox_app.sync.registry import ChannelKindSpec, ChannelRegistry
from tests.servers.allegro import AllegroSandbox
from tests.ui.real_app import run_real_app, wait_rows
from tests.ui.test_real_window_keyboard import press, wait_ready

pytest_plugins = ["tests.integration.allegro_fixtures"]


def test_opening_an_allegro_conversation_marks_it_read_on_allegro(
    qtbot,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    allegro_sandbox: AllegroSandbox,
    allegro_settings: AllegroSettings,
    allegro_tokens: MemoryTokenStore,
) -> None:
    path = tmp_path / "profile"
    thread = allegro_sandbox.add_thread(login="kupujacy_ola")
    allegro_sandbox.add_message(thread.id, "Czy paczka już wyszła?")
    profile = open_profile(path)
    try:
        account = create_api_account(
            "allegro", "Allegro", ApiAccountSettings(base_url=allegro_sandbox.base_url)
        )
        store_api_key(account, "held-by-the-channel")
    finally:
        profile.close()
    # The window's engine with an Allegro kind that reaches the sandbox (its sign-in is the fixture's tokens).
    registry = ChannelRegistry()
    registry.register(
        ChannelKindSpec(
            "allegro",
            "allegro",
            "Allegro",
            lambda _s, _n, _k: AllegroChannel(allegro_settings, allegro_tokens),
        )
    )
    monkeypatch.setattr("inbox_app.sync.engine.default_registry", lambda: registry)
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        wait_rows(qtbot, gui, 1)
        wait_ready(qtbot, gui)
        seen["before"] = list(allegro_sandbox.read_marks)  # selected by the app at start: not read yet
        press(Qt.Key.Key_Return)  # the seller opens it
        qtbot.waitUntil(lambda: allegro_sandbox.read_marks == [(thread.id, True)], timeout=20_000)

    run_real_app(path, scenario)
    assert seen == {"before": []}
    assert allegro_sandbox.read_marks == [(thread.id, True)]  # once, until the window closed
