"""The "needs you to sign in again" banner, and the object that keeps it and the sidebar's account badges true.

Why a banner of its own: a marketplace that refused an account's token (eBay revoked it, the Allegro grant
expired, a Kaufland key was replaced) will not recover by retrying; only the seller signing in again fixes it.
So the account gets a line above the list — "eBay (Shop name) needs you to sign in again" — with one button,
**Reconnect**, that opens the account's sign-in flow. Its conversations stay readable from the cache meanwhile.
The line goes away when the account's next sync succeeds (the engine's ``online`` event for it), not when a
dialog closes: only a working sync proves the new sign-in.

:class:`AccountTrouble` listens to the sync's change events (``needs_reconnect``, ``online``) and reads the
stored state through :func:`inbox_app.services.marketplace_accounts.account_states` at start-up and after each change, so an
account that failed before the app was closed shows its banner at once.

Signals (``ReconnectBanner``):
    reconnect_requested(int account_id): the seller clicked Reconnect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from inbox_app.i18n import _
from inbox_app.ui.channel_badges import (
    DEMO_ACCOUNT_KIND,
    account_channel_kind,
    account_description,
    account_icon,
    kind_label,
)

if TYPE_CHECKING:
    from inbox_app.services.marketplace_accounts import AccountState

#: ``BackgroundRunner.run``: (key, work, on_done) — the one way the window runs store work off the UI thread.
RunInBackground = Callable[[str, Callable[[], Any], Callable[[Any], None]], None]


def reconnect_text(kind_label: str, account_name: str) -> str:
    """ "eBay (Shop name) needs you to sign in again"; just the name when it is the channel's own ("eBay")."""
    if not account_name or account_name.casefold() == kind_label.casefold():
        return _("{channel} needs you to sign in again").format(channel=kind_label or account_name)
    return _("{channel} ({account}) needs you to sign in again").format(
        channel=kind_label, account=account_name
    )


class ReconnectBanner(QFrame):
    """One line per account whose sign-in failed, each with its Reconnect button; hidden when there is none."""

    reconnect_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reconnectBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#reconnectBanner { border: 1px solid #b3261e; border-radius: 3px; }")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(6, 3, 6, 3)
        self._layout.setSpacing(2)
        self._rows: dict[int, tuple[QWidget, QLabel, QLabel, QPushButton]] = {}
        self.hide()

    def show_account(self, account_id: int, text: str, reason: str, icon: QIcon) -> None:
        if account_id not in self._rows:
            row = QWidget(self)
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            badge = QLabel(row)
            label = QLabel(row)
            label.setObjectName(f"reconnectText_{account_id}")
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            font = label.font()
            font.setBold(True)
            label.setFont(font)
            button = QPushButton(_("Reconnect…"), row)
            button.setObjectName(f"reconnect_{account_id}")
            button.setToolTip(_("Sign in to this account again"))
            button.clicked.connect(lambda: self.reconnect_requested.emit(account_id))
            line.addWidget(badge)
            line.addWidget(label, 1)
            line.addWidget(button)
            self._layout.addWidget(row)
            self._rows[account_id] = (row, label, badge, button)
        _row, label, badge, button = self._rows[account_id]
        size = max(16, self.fontMetrics().height() + 2)
        badge.setPixmap(icon.pixmap(QSize(size, size)))
        label.setText(text)
        button.setAccessibleName(_("Reconnect: {what}").format(what=text))
        label.setToolTip(reason)
        label.setAccessibleDescription(reason)
        self.show()

    def clear_account(self, account_id: int) -> None:
        entry = self._rows.pop(account_id, None)
        if entry is not None:
            entry[0].hide()
            entry[0].deleteLater()
        self.setVisible(bool(self._rows))

    def accounts(self) -> dict[int, str]:
        """Account id → the line shown (tests, screen readers)."""
        return {aid: entry[1].text() for aid, entry in self._rows.items()}

    def button(self, account_id: int) -> QPushButton | None:
        entry = self._rows.get(account_id)
        return entry[3] if entry is not None else None


class AccountTrouble(QObject):
    """Keeps the reconnect banner and the sidebar's account badges in step with each account's sign-in state."""

    def __init__(
        self,
        banner: ReconnectBanner,
        set_badges: Callable[[dict[int, tuple[QIcon, str]]], None],
        run: RunInBackground,
        parent: QObject | None = None,
        *,
        clear_other_problem: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._banner = banner
        # The generic "account problem" line (Retry · Edit) says less than this banner: one line per account.
        self._clear_other_problem = clear_other_problem or (lambda _account_id: None)
        self._set_badges = set_badges
        self._run = run
        self._statuses: dict[int, AccountState] = {}
        self._failed: dict[int, str] = {}  # account id → why its sign-in failed

    def refresh(self) -> None:
        """Read every account's state again (off the UI thread) and redraw badges and banner."""
        self._run("account_status", _account_states, self._apply)

    def needs_reconnect(self, account_id: int | None) -> bool:
        return account_id is not None and account_id in self._failed

    def handle_event(self, kind: str, account_id: int | None, message: str) -> None:
        """A sync change event: ``needs_reconnect`` shows the line at once, ``online`` for it clears it."""
        if account_id is None:
            return
        if kind == "needs_reconnect":
            self._failed[account_id] = message
            self._show(account_id)
            self.refresh()
        elif kind == "online" and account_id in self._failed:
            del self._failed[account_id]
            self._banner.clear_account(account_id)
            self.refresh()
        elif kind == "error" and account_id not in self._failed:
            self.refresh()  # a refused token while sending a reply is stored without an event of its own

    def _apply(self, statuses: list[AccountState]) -> None:
        self._statuses = {s.id: s for s in statuses}
        self._failed = {s.id: s.message for s in statuses if s.needs_reconnect}
        for account_id in list(self._banner.accounts()):
            if account_id not in self._failed:
                self._banner.clear_account(account_id)
        for account_id in self._failed:
            self._show(account_id)
            self._clear_other_problem(account_id)
        self._set_badges(
            {
                s.id: (
                    account_icon(account_channel_kind(s.kind), s.id in self._failed),
                    account_description(s.name, account_kind_label(s.kind), self._failed.get(s.id)),
                )
                for s in statuses
            }
        )

    def _show(self, account_id: int) -> None:
        status = self._statuses.get(account_id)
        reason = self._failed.get(account_id, "")
        if status is None:  # not read yet (an account added a moment ago): the refresh brings its name
            text = reconnect_text("", _("Account {id}").format(id=account_id))
            icon = account_icon("", True)
        else:
            text = reconnect_text(account_kind_label(status.kind), status.name)
            icon = account_icon(account_channel_kind(status.kind), True)
        self._banner.show_account(account_id, text, reason, icon)


def _account_states() -> list[AccountState]:
    """Imported when first asked (the marketplace set-up code is not needed for the window's first paint)."""
    from inbox_app.services.marketplace_accounts import account_states

    return account_states()


def account_kind_label(account_kind: str) -> str:
    """ "eBay", "E-mail", "Demo": what an account of this kind is, for the seller."""
    if account_kind == DEMO_ACCOUNT_KIND:
        return _("Demo")
    return kind_label(account_channel_kind(account_kind)) or account_kind
