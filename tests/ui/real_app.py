"""Start the real application in the test process and drive its window (the same wiring as ``run_gui``).

``run_real_app(profile_dir, scenario)`` calls :func:`inbox_app.app.open_gui` (what ``inbox-app`` runs: the
profile, the sync engine, the controller, the window shown), then runs :meth:`Gui.run` — the app's own qasync
loop. ``scenario(gui)`` is called from that loop once it runs; it drives the window with real key and mouse
events (``QTest``) and waits with ``qtbot.waitUntil`` (which keeps the loop, and with it the engine's asyncio
tasks, turning). When the scenario returns or raises, the window is closed the way a user closes it, the
engine stops, the loop ends and the profile is closed; an exception of the scenario is raised again here.

The scenario runs from a Qt timer, not inside an asyncio task, so waiting in it may run asyncio callbacks.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from inbox_app.app import Gui, open_gui

Scenario = Callable[[Gui], object]


def run_real_app(
    profile_dir: Path,
    scenario: Scenario,
    *,
    lang: str = "en",
    size: tuple[int, int] | None = (1366, 768),
) -> None:
    """Open the real window on ``profile_dir``, run ``scenario(gui)`` inside the app's loop, then quit."""
    gui = open_gui(profile_dir, lang)
    assert isinstance(gui, Gui), f"the app did not start (exit code {gui})"
    if size is not None:
        gui.window.resize(*size)
    errors: list[BaseException] = []

    def drive() -> None:
        try:
            scenario(gui)
        except BaseException as exc:  # raised again after the loop ended cleanly
            errors.append(exc)
        finally:
            for widget in QApplication.topLevelWidgets():  # dialogs the scenario left open
                if widget is not gui.window and widget.isVisible():
                    widget.close()
            gui.window.close()

    QTimer.singleShot(0, drive)
    app = QApplication.instance()
    try:
        code = gui.run()
    finally:
        if isinstance(app, QApplication):
            app.setQuitOnLastWindowClosed(True)
    if errors:
        raise errors[0]
    assert code == 0


def cli(profile_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``inbox-app --profile DIR ARGS`` as a subprocess (reads what the window wrote, like a user would)."""
    import os

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "INBOX_APP_LANG": "en"}
    return subprocess.run(
        [sys.executable, "-m", "inbox_app", "--profile", str(profile_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def make_demo_profile(profile_dir: Path, count: int = 20) -> None:
    """A demo workspace built by the app's own ``demo`` command."""
    result = cli(profile_dir, "demo", "--count", str(count))
    assert result.returncode == 0, result.stderr


def wait_rows(qtbot, gui: Gui, count: int) -> None:
    """Wait (the app's loop turning) until the conversation list shows ``count`` rows: the engine's first sync
    of a new account ends there."""
    listing = gui.window.conversation_list
    qtbot.waitUntil(
        lambda: listing.conversation_model() is not None and listing.conversation_model().rowCount() == count,
        timeout=30_000,
    )
