"""Run the real application (``inbox_app.cli.main`` → ``run_gui``) and answer its dialogs as a user would.

``python -m tests.ui.gui_dialog_driver RESULT_JSON ANSWERS CLI_ARGS...``: every message box that becomes the
active modal window is answered by clicking the button whose object name is the next entry of ANSWERS (comma
separated; ``default`` clicks the first button). What each box said and offered, whether the main window
appeared, how many conversations it listed and whether the read-only notice was shown are written to
RESULT_JSON; the window is closed right after it was shown, so the process ends by the app's own path.
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
    from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QPushButton

    from inbox_app import cli
    from inbox_app.ui import main_window

    result_path = Path(sys.argv[1])
    answers = [a for a in sys.argv[2].split(",") if a]
    args = sys.argv[3:]
    result: dict[str, Any] = {"dialogs": [], "window": None}
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication(sys.argv[:1])  # created here so the dialogs can be watched before run_gui shows any

    def save() -> None:
        result_path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")

    def answer_dialogs() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):  # a non-modal notice is answered as well
            box = next(
                (w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()),
                None,
            )
        if isinstance(box, QMessageBox) and box.isVisible() and not box.property("answered"):
            box.setProperty("answered", True)
            buttons = [b for b in box.buttons() if isinstance(b, QPushButton)]
            names = [b.objectName() for b in buttons]
            result["dialogs"].append(
                {
                    "name": box.objectName(),
                    "text": box.text(),
                    "informative": box.informativeText(),
                    "buttons": names,
                }
            )
            save()
            wanted = answers.pop(0) if answers else "default"
            button = next((b for b in buttons if b.objectName() == wanted), buttons[0])
            button.click()
        QTimer.singleShot(20, answer_dialogs)  # keep watching: the next dialog may come later

    shown = main_window.MainWindow.show

    def show_then_close(self: main_window.MainWindow) -> None:
        shown(self)

        polls = [0]

        def report_and_close() -> None:
            notice = self.findChild(QLabel, "read_only_notice")
            model = self.conversation_list.model()
            pending_box = any(
                isinstance(w, QMessageBox) and w.isVisible() and not w.property("answered")
                for w in QApplication.topLevelWidgets()
            )
            loading = model is None or model.rowCount() == 0  # the list loads off the UI thread
            if (loading or pending_box) and polls[0] < 250:
                polls[0] += 1
                QTimer.singleShot(20, report_and_close)
                return
            result["window"] = {
                "rows": model.rowCount() if model is not None else -1,
                "read_only_notice": notice.text() if notice is not None else None,
            }
            save()
            self.close()

        QTimer.singleShot(0, report_and_close)

    main_window.MainWindow.show = show_then_close  # type: ignore[method-assign]
    QTimer.singleShot(0, answer_dialogs)
    save()
    code = cli.main(args)
    save()
    del app
    return code


if __name__ == "__main__":
    sys.exit(main())
