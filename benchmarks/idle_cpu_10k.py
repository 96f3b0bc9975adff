"""Measure what an idle main window costs: CPU seconds over 60 s with ~10,000 open conversations on screen.

Why: the list's countdowns must stay live without a timer per row or a repaint loop; a seller leaves the
window open all day, so idle CPU should be close to zero (target: < 1 % of one core).

``python benchmarks/idle_cpu_10k.py [--seconds 60] [--profile DIR]`` fills a temporary profile with the demo
generator (12,000 conversations, seed 3, topped up with further seeds until at least 10,000 are open) unless ``--profile`` names an existing
one, builds the real ``MainWindow``/``MainController`` offscreen as ``app.run_gui`` does (without the sync
engine), waits until the first view is loaded and the worker is idle, then lets the event loop run for the
given wall time and prints the process CPU time consumed meanwhile (all threads, ``time.process_time``), as a
percentage of one core, and how often the countdown tick ran.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
TARGET_OPEN = 10_000


def fill(profile_dir: Path) -> int:
    """Generate the demo conversations; returns how many are open."""
    from inbox_app.demo.generator import generate
    from inbox_app.profile import open_profile
    from inbox_app.store.models import Conversation

    def open_count() -> int:
        return int(Conversation.select().where(Conversation.status == "open").count())

    profile = open_profile(profile_dir)
    try:
        generate(profile, count=12_000, seed=3)
        extra_seed = 4
        while open_count() < TARGET_OPEN:  # the demo mixes statuses: top up until enough are open
            missing = TARGET_OPEN - open_count()
            generate(profile, count=missing * 5 // 3 + 100, seed=extra_seed)
            extra_seed += 1
        return open_count()
    finally:
        profile.close()


def measure(profile_dir: Path, seconds: float) -> dict[str, float | int]:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from inbox_app import i18n
    from inbox_app.profile import open_profile
    from inbox_app.store.models import Conversation
    from inbox_app.ui.controller import MainController
    from inbox_app.ui.main_window import MainWindow

    i18n.setup("en")
    app = QApplication.instance() or QApplication([])
    profile = open_profile(profile_dir)
    open_count = int(Conversation.select().where(Conversation.status == "open").count())
    window = MainWindow()
    controller = MainController(profile, window=window)
    listing = window.conversation_list
    ticks = [0]
    listing.ticked.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    state: dict[str, float] = {}
    stop = QTimer()

    def start_when_idle() -> None:
        # Measure idling only: the first load (ids, summaries, sidebar counts) must be finished.
        if listing.model().rowCount() == 0 or controller.runner.busy():
            QTimer.singleShot(50, start_when_idle)
            return
        ticks[0] = 0
        state["rows"] = listing.model().rowCount()
        state["cpu0"] = time.process_time()
        state["wall0"] = time.monotonic()
        # A precise timer: the default coarse one may fire up to 5 % early on a 60 s interval.
        stop.setSingleShot(True)
        stop.setTimerType(Qt.TimerType.PreciseTimer)
        stop.timeout.connect(finish)
        stop.start(int(seconds * 1000))

    def finish() -> None:
        state["cpu1"] = time.process_time()
        state["wall1"] = time.monotonic()
        app.quit()

    controller.start()
    window.show()
    QTimer.singleShot(0, start_when_idle)
    app.exec()
    controller.shutdown()
    window.close()
    profile.close()
    cpu = state["cpu1"] - state["cpu0"]
    wall = state["wall1"] - state["wall0"]
    return {
        "open_conversations": open_count,
        "rows_in_view": int(state["rows"]),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 3),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 3),
        "countdown_ticks": ticks[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--profile", type=Path, help="an existing profile (default: a fresh temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="inbox-idle-") as tmp:
        profile_dir = args.profile
        if profile_dir is None:
            profile_dir = Path(tmp) / "profile"
            started = time.monotonic()
            opened = fill(profile_dir)
            print(
                f"filled {opened} open conversations in {time.monotonic() - started:.1f} s", file=sys.stderr
            )
        result = measure(profile_dir, args.seconds)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
