""" "Start the live demo" on the first-run screen: what ``inbox-app demo --live`` does, behind the window.

The four marketplace sandboxes start on 127.0.0.1, one account per channel is tested and stored, and the app's
own engine then syncs them (its restart picks the new accounts up). Starting sandboxes and testing four
sign-ins takes a second or two, so it runs on a plain thread and reports back through a queued Qt signal; the
UI thread never waits. The sandboxes live as long as the window: :meth:`LiveDemoRunner.close` stops them after
the engine has stopped, when the app quits.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger("inbox_app.ui")


class LiveDemoRunner(QObject):
    """Signals: started(list[str] account names), failed(str message)."""

    started = Signal(list)
    failed = Signal(str)
    _done = Signal(object, object)  # (names, error text): from the worker thread to the UI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._demo: Any = None  # services.live_demo.LiveDemo once its sandboxes run
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._done.connect(self._report, Qt.ConnectionType.QueuedConnection)

    def running(self) -> bool:
        """Whether the demo was started (or is starting) and not closed."""
        return self._thread is not None and not self._closed

    def start(self) -> None:
        """Start the sandboxes and add the accounts off the UI thread (a second call does nothing)."""
        if self._thread is not None or self._closed:
            return
        self._thread = threading.Thread(target=self._run, name="inbox-live-demo", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from inbox_app.services import live_demo

        try:
            demo = live_demo.start()
            with self._lock:
                if self._closed:  # the app quit while the sandboxes were starting
                    demo.close()
                    return
                self._demo = demo
            # A plain loop of this thread's own (the process-wide policy is qasync's, bound to the UI thread)
            with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as loop:
                forms = loop.run(demo.signed_in_forms())
            added = demo.add_accounts(forms)
        except Exception as exc:  # a sandbox of ours refused or a port was taken: said in the window, logged
            log.exception("the live demo could not start")
            self._done.emit(None, str(getattr(exc, "user_message", "") or exc))
            return
        self._done.emit([a.name for a in added], None)

    def _report(self, names: object, error: object) -> None:
        if error is not None:
            self.failed.emit(str(error))
        elif isinstance(names, list):
            self.started.emit(names)

    def close(self) -> None:
        """Stop the sandboxes (the app quits; the engine has stopped). The demo's accounts then find their
        marketplace unreachable until the live demo runs again."""
        with self._lock:
            self._closed = True
            demo, self._demo = self._demo, None
        if self._thread is not None:
            self._thread.join(timeout=30)
        if demo is not None:
            demo.close()
