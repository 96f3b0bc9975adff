"""Run the real application on an empty profile and do what a newcomer does, by mouse:
``python -m tests.ui.first_hour_driver RESULT_JSON PROFILE``.

Clicks "Try the demo" on the first-run screen twice in a row, waits for the demo, then chooses File → Try the
demo again and Help → About; every message box is recorded and answered with its first button. Writes what the
boxes said to RESULT_JSON and closes the window, so the process ends through the app's own path.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog, QPushButton

    from inbox_app import cli
    from inbox_app.ui import main_window

    result_path, profile = Path(sys.argv[1]), sys.argv[2]
    result: dict[str, Any] = {"dialogs": [], "steps": []}
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication(sys.argv[:1])

    def save() -> None:
        result_path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")

    def answer_dialogs() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.isVisible() and not box.property("answered"):
            box.setProperty("answered", True)
            result["dialogs"].append({"title": box.windowTitle(), "text": box.text()})
            save()
            buttons = [b for b in box.buttons() if isinstance(b, QPushButton)]
            buttons[0].click()
        QTimer.singleShot(20, answer_dialogs)

    shown = main_window.MainWindow.show

    def show_and_drive(self: main_window.MainWindow) -> None:
        shown(self)
        polls = [0]

        def progress_open() -> bool:
            return any(
                isinstance(w, QProgressDialog) and w.isVisible() for w in QApplication.topLevelWidgets()
            )

        def step_click_twice() -> None:
            button = self.empty_state.try_demo_button
            QTest.mouseClick(button, Qt.MouseButton.LeftButton)
            if button.isVisible() and button.isEnabled():
                QTest.mouseClick(button, Qt.MouseButton.LeftButton)  # an impatient second click
            result["steps"].append("clicked Try the demo twice")
            QTimer.singleShot(20, wait_for_demo)

        def wait_for_demo() -> None:
            model = self.conversation_list.model()
            if (progress_open() or model is None or model.rowCount() == 0) and polls[0] < 1500:
                polls[0] += 1
                QTimer.singleShot(20, wait_for_demo)
                return
            result["steps"].append("demo loaded")
            self.actions_by_name["try_demo"].trigger()  # File → Try the demo, again
            QTimer.singleShot(20, about)

        def about() -> None:
            if progress_open():
                result["steps"].append("a second demo started")
            self.actions_by_name["about"].trigger()
            result["steps"].append("about shown")
            save()
            self.close()

        QTimer.singleShot(0, step_click_twice)

    main_window.MainWindow.show = show_and_drive  # type: ignore[method-assign]
    QTimer.singleShot(0, answer_dialogs)
    code = cli.main(["--profile", profile])
    save()
    del app
    return code


if __name__ == "__main__":
    sys.exit(main())
