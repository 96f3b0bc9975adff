"""The real entry point: `inbox-app` opens the window on a profile, runs the engine, and exits cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QTimer
    from inbox_app import cli
    from inbox_app.ui import main_window

    shown = main_window.MainWindow.show

    def show_then_close(self):
        shown(self)
        QTimer.singleShot(1500, self.close)  # the user closes the window

    main_window.MainWindow.show = show_then_close
    sys.exit(cli.main(["--profile", sys.argv[1]]))
    """
)


def test_window_opens_on_a_demo_profile_and_closing_it_exits_cleanly(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    demo = subprocess.run(
        [sys.executable, "-m", "inbox_app", "--profile", str(profile), "demo", "--count", "20"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(profile)], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert (profile / "ui.ini").exists(), "the window layout is saved on close"
