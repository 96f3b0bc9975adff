"""The tray icon and deadline notifications: the one interruption the app allows itself.

A seller can leave the window behind other work; the tray shows how many conversations are overdue and raises
a desktop notification ``notify_before_minutes`` (Setting, default 30) before a deadline passes — once per
conversation and deadline (the rule lives in :mod:`inbox_app.domain.notifications`). Nothing else notifies:
quiet by default.

Signals:
    overdue_changed(int): the overdue count changed (the main window can show it in its status bar).
    notified(list): conversation ids just notified (for the status bar, and for tests).
    open_conversation(int): the user clicked a notification; the window should show that conversation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle, QSystemTrayIcon

from inbox_app.domain.notifications import Notified, due_notifications, overdue_count, prune_notified
from inbox_app.i18n import _, format_duration, ngettext
from inbox_app.services import conversations
from inbox_app.services.conversations import upcoming_deadlines
from inbox_app.services.settings import notify_before

log = logging.getLogger("inbox_app.ui")

CHECK_INTERVAL_MS = 60_000

#: Runs ``work`` off the UI thread and hands its result to ``on_done`` on it (the controller's runner).
RunInBackground = Callable[[str, Callable[[], Any], Callable[[Any], None]], None]


class DeadlineNotifier(QObject):
    """Owns the tray icon (when the desktop has a tray) and decides when to notify. See module docstring."""

    overdue_changed = Signal(int)
    notified = Signal(list)
    open_conversation = Signal(int)

    def __init__(
        self, parent: QObject | None = None, *, icon: QIcon | None = None, run: RunInBackground | None = None
    ) -> None:
        super().__init__(parent)
        self._run = run
        self._already: set[Notified] = set()
        self._overdue = -1
        self._last_notified: int | None = None
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            app = QApplication.instance()
            fallback = (
                app.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation)  # type: ignore[attr-defined]
                if app is not None
                else QIcon()
            )
            self.tray = QSystemTrayIcon(icon or fallback, self)
            self.tray.setToolTip(_("Inbox"))
            self.tray.messageClicked.connect(self._on_message_clicked)
            self.tray.show()
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_INTERVAL_MS)
        self._timer.timeout.connect(self._check_later)

    @property
    def overdue(self) -> int:
        return max(self._overdue, 0)

    def start(self) -> None:
        """Check now and then every minute (on the worker when there is one: the window is not kept waiting)."""
        self._check_later()
        self._timer.start()

    def _check_later(self) -> None:
        if self._run is None:
            self.check()
            return
        moment = datetime.now(UTC)

        def work() -> tuple[timedelta, dict[int, datetime]]:
            before = notify_before()
            return before, upcoming_deadlines(moment + before)

        def done(found: tuple[timedelta, dict[int, datetime]]) -> None:
            self._apply(found[1], moment, found[0])

        self._run("deadlines", work, done)

    def stop(self) -> None:
        self._timer.stop()
        if self.tray is not None:
            self.tray.hide()

    def check(self, now: datetime | None = None) -> list[int]:
        """Update the badge and notify what is due; returns the ids notified this time."""
        moment = now or datetime.now(UTC)
        before = notify_before()
        return self._apply(upcoming_deadlines(moment + before), moment, before)

    def _apply(self, deadlines: dict[int, datetime], moment: datetime, before: timedelta) -> list[int]:
        self._already = prune_notified(self._already, deadlines)
        self._set_overdue(overdue_count(deadlines, moment))
        due = due_notifications(deadlines, self._already, moment, before)
        if due:
            self._already.update((conv_id, deadlines[conv_id]) for conv_id in due)
            self._show(due, deadlines, moment)
            self.notified.emit(due)
        return due

    def _set_overdue(self, count: int) -> None:
        if count == self._overdue:
            return
        self._overdue = count
        if self.tray is not None:
            tip = (
                ngettext("{n} conversation overdue", "{n} conversations overdue", count).format(n=count)
                if count
                else _("No conversation overdue")
            )
            self.tray.setToolTip(tip)
        self.overdue_changed.emit(count)

    def _show(self, due: list[int], deadlines: dict[int, datetime], now: datetime) -> None:
        self._last_notified = due[0]
        if self.tray is None:
            return
        rows = conversations.summaries(due)
        first = rows.get(due[0])
        left = format_duration(deadlines[due[0]] - now)
        if len(due) == 1 and first is not None:
            title = _("Reply due in {time}").format(time=left)
            who = first.customer_label or first.subject
            text = _("{customer} · {channel}").format(customer=who, channel=first.channel_name)
        else:
            title = ngettext("{n} reply due soon", "{n} replies due soon", len(due)).format(n=len(due))
            text = _("The first is due in {time}").format(time=left)
        self.tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Warning, 10_000)

    def _on_message_clicked(self) -> None:
        if self._last_notified is not None:
            self.open_conversation.emit(self._last_notified)
