""" "Try the demo": fill the profile with the demo workspace on a worker thread, showing progress.

The generator writes a few thousand rows; doing that on the UI thread would freeze the window, so it runs on a
plain thread and reports "120 of 300 conversations" through a queued Qt signal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from inbox_app.i18n import _, format_number
from inbox_app.profile import Profile

log = logging.getLogger("inbox_app.ui")

DEMO_SIZE = 300


class _DemoWorker(QObject):
    progressed = Signal(int, int)
    finished = Signal(object)  # None on success, else the error text

    def run(self, profile: Profile, count: int) -> None:
        from inbox_app.services.demo import fill

        try:
            fill(profile, count=count, progress=lambda done, total: self.progressed.emit(done, total))
        except Exception as exc:  # reported to the user below, and logged with its traceback
            log.exception("demo generation failed")
            self.finished.emit(str(exc))
        else:
            self.finished.emit(None)


_running: list[_DemoWorker] = []  # the demo being prepared, so a second click does not start another


def fill_demo(
    parent: QWidget, profile: Profile, *, on_done: Callable[[], object], count: int = DEMO_SIZE
) -> _DemoWorker | None:
    """Prepare the demo, unless it is being prepared or already there (returns None then, and says so)."""
    from inbox_app.services.demo import demo_conversation_count

    if _running:
        return None
    already = demo_conversation_count()
    if already:
        QMessageBox.information(
            parent,
            _("Demo workspace"),
            _("The demo is already in this profile ({count} conversations).").format(
                count=format_number(already)
            ),
        )
        on_done()
        return None
    dialog = QProgressDialog(_("Preparing the demo inbox…"), "", 0, count, parent)
    dialog.setWindowTitle(_("Demo workspace"))
    dialog.setCancelButton(None)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    worker = _DemoWorker()

    def progressed(done: int, total: int) -> None:
        dialog.setMaximum(total)
        dialog.setValue(done)
        dialog.setLabelText(
            _("Preparing the demo inbox: {done} of {total} conversations").format(
                done=format_number(done), total=format_number(total)
            )
        )

    def finished(error: object) -> None:
        _running.clear()
        dialog.close()
        worker.deleteLater()
        if error is not None:
            QMessageBox.warning(
                parent, _("Demo workspace"), _("The demo could not be prepared: {error}").format(error=error)
            )
        on_done()

    worker.progressed.connect(progressed, Qt.ConnectionType.QueuedConnection)
    worker.finished.connect(finished, Qt.ConnectionType.QueuedConnection)
    _running.append(worker)
    threading.Thread(target=worker.run, args=(profile, count), name="inbox-demo", daemon=True).start()
    dialog.show()
    return worker
