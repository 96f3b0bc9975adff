"""A channel's badge wherever a conversation or an account is shown: its icon, its name, and the same words for
tooltips and screen readers.

Why one module: the list, the sidebar (channels and accounts) and the thread header must agree on what a
channel is called ("Fnac Darty" run by Mirakl, "eBay"), and an icon alone says nothing to a screen reader or to
someone who does not know the logo. An account whose sign-in failed wears a warning mark on its icon (a shape,
not only a colour), so the sidebar shows the trouble even when the banner was read and scrolled away.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

from inbox_app.domain.conversations import CHANNEL_LABELS
from inbox_app.domain.deadlines import Urgency
from inbox_app.i18n import _
from inbox_app.ui import icons

#: Account kinds whose icon is not the channel of the same name: a mailbox is "E-mail"; the demo wears the app's.
_ACCOUNT_CHANNELS = {"imap": "email", "demo": ""}
DEMO_ACCOUNT_KIND = "demo"

#: Pixel sizes painted for an account's icon (16 for the sidebar, the others for high-DPI screens).
_ACCOUNT_ICON_SIZES = (16, 24, 32, 48)


def kind_label(channel_kind: str) -> str:
    """The channel kind's own name ("eBay", "Mirakl"), translated; the kind itself when unknown."""
    label = CHANNEL_LABELS.get(channel_kind)
    return _(label) if label else channel_kind


def account_channel_kind(account_kind: str) -> str:
    """Which channel's icon an account of ``account_kind`` wears ("" for the demo: the app's own)."""
    kind = _ACCOUNT_CHANNELS.get(account_kind, account_kind)
    return kind if kind in CHANNEL_LABELS else ""


def channel_text(channel_kind: str, channel_name: str = "") -> str:
    """The name shown for a conversation's channel: the marketplace ("Fnac Darty", "Amazon.de"), else the kind."""
    return channel_name or kind_label(channel_kind)


def channel_description(channel_kind: str, channel_name: str = "") -> str:
    """Tooltip and accessible text: "Fnac Darty (Mirakl)" when the name is not the kind's own, else "eBay"."""
    label = kind_label(channel_kind)
    if not channel_name or channel_name.casefold() == label.casefold():
        return _("Channel: {channel}").format(channel=label)
    return _("Channel: {name} ({kind})").format(name=channel_name, kind=label)


def account_description(name: str, kind_label_text: str, trouble: str | None = None) -> str:
    """ "eBay account Shop name" — and why it needs attention, when it does."""
    text = _("{kind} account {name}").format(kind=kind_label_text, name=name)
    if trouble:
        text += " — " + _("needs you to sign in again: {reason}").format(reason=trouble)
    return text


def _base_icon(channel_kind: str) -> QIcon:
    return icons.channel_icon(channel_kind) if channel_kind else icons.app_icon()


@cache
def account_icon(channel_kind: str, trouble: bool = False) -> QIcon:
    """The account's channel icon (the app's for the demo); with ``trouble`` a warning triangle on its corner."""
    base = _base_icon(channel_kind)
    if not trouble:
        return base
    warning = icons.urgency_icon(Urgency.OVERDUE)
    icon = QIcon()
    for size in _ACCOUNT_ICON_SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        base.paint(painter, QRect(0, 0, size, size))
        mark = max(8, size * 5 // 8)
        painter.drawPixmap(size - mark, size - mark, warning.pixmap(QSize(mark, mark)))
        painter.end()
        icon.addPixmap(pixmap)
    return icon


class ChannelBadge(QLabel):
    """The channel's icon at text height, for a header line; its tooltip and accessible name say the channel."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("channelBadge")
        self._kind = ""
        self._name = ""

    def set_channel(self, channel_kind: str, channel_name: str = "") -> None:
        self._kind, self._name = channel_kind, channel_name
        size = max(16, self.fontMetrics().height() + 2)
        self.setPixmap(icons.channel_icon(channel_kind).pixmap(QSize(size, size)))
        description = channel_description(channel_kind, channel_name)
        self.setToolTip(description)
        self.setAccessibleName(description)

    def channel(self) -> tuple[str, str]:
        """The kind and name shown (tests, screen readers)."""
        return self._kind, self._name
