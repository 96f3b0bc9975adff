"""The reading pane: one conversation, oldest message first, with its deadline and its customer.

Safety first: message HTML was sanitized at ingest, and this view adds a second wall. The browser refuses
every remote resource (``http``, ``https``, ``file``, relative) in :meth:`MessageBrowser.loadResource`, so a
tracking pixel can never tell the sender when the seller read the mail; ``cid:`` images are served from the
attachments on disk. "Show" on the "N remote images blocked" bar allows remote images for that one message:
they are fetched by Qt's network manager into memory and shown, nothing else changes. Links never open by
themselves: a click asks first (the controller confirms and opens through ``QDesktopServices``).

Signals of :class:`ThreadView`:
    conversation_requested(int): a click on one of the customer's other conversations.
    no_response_requested(int, str): "No response needed" (conversation id, the marketplace's URL).
    save_attachment_requested(object): "Save as…" on an :class:`AttachmentView`.
    external_link_requested(QUrl): a link in a message was clicked.
    cancel_reply_requested(int): "Cancel" on a reply still queued in the outbox (the outbox item's id).
    retry_reply_requested(int): "Retry now" on a failed or waiting reply (the outbox item's id).
    send_again_requested(int): "Send again" on a reply whose delivery was not confirmed (the outbox item's id).
    send_anyway_requested(int): "Send anyway" on a reply held because the conversation changed meanwhile.
    edit_held_requested(int): "Edit" on a held reply (its text goes back into the reply box).
    discard_held_requested(int): "Discard" on a held reply.

A very long message (a 5 MB text, a 100 MB mail already in the profile) is drawn cut after
:data:`SHOWN_CHARS` characters with a "Show all" link: Qt lays out a table cell's text in time that grows
faster than its length (100,000 characters ≈ 0.3 s here, a million ≈ 7 s, five million ≈ 30 s), so drawing it
whole would freeze the window. "Show all" opens the whole text in a :class:`WholeMessageDialog`, a plain-text
viewer filled a slice per event-loop turn, so even 100 MB never blocks the window.

Replies of the shown conversation that are still in the outbox (queued, scheduled, sending, failed) are drawn
under the thread as outbound bubbles with a dashed border and their state, so the seller sees at once that an
answer exists but has not reached the customer yet.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QImage, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inbox_app.domain.conversations import (
    CHANNEL_LABELS,
    AttachmentView,
    ConversationDetail,
    Direction,
    MessageView,
    NoteView,
    Status,
)
from inbox_app.domain.deadlines import Urgency, urgency
from inbox_app.domain.views import DUE_SOON_WINDOW
from inbox_app.i18n import N_, _, format_datetime, format_duration, format_number, format_size, ngettext
from inbox_app.services.customers import CustomerHistory
from inbox_app.services.outbox import OutboxPhase, OutboxRow, change_text
from inbox_app.ui import icons
from inbox_app.ui.channel_badges import ChannelBadge
from inbox_app.ui.conversation_model import STATUS_LABELS, is_dark_palette, local_zone, urgency_color
from inbox_app.ui.customer_panel import CustomerPanel
from inbox_app.ui.outbox_dialog import phase_color, status_line, when_text

# Marked with N_ and translated with _ at use: a ``_('…')`` inside an f-string escapes the message extractor.

UNKNOWN_CUSTOMER = N_("Unknown customer")
NO_MESSAGES = N_("No messages yet.")
SEND_AGAIN = N_("Send again")
SHOW = N_("Show")
SHOW_ALL = N_("Show all")
SAVE_AS = N_("Save as…")
ATTACHMENT = N_("Attachment")
CANCEL = N_("Cancel")
RETRY_NOW = N_("Retry now")
SEND_ANYWAY = N_("Send anyway")
EDIT = N_("Edit")
DISCARD = N_("Discard")
YOU = N_("You")

_REMOTE_SCHEMES = frozenset({"http", "https", "ftp", "file", ""})
_IMG_SRC = re.compile(r"<img\b[^>]*?\ssrc=\"(https?://[^\"]+)\"", re.IGNORECASE)
MAX_REMOTE_IMAGES = 30
#: A message longer than this (characters of text, or of sanitized HTML) is drawn cut, with "Show all".
SHOWN_CHARS = 100_000
#: How much text the whole-message viewer adds per event-loop turn (≈ 0.05 s each here).
VIEWER_SLICE_CHARS = 500_000
MAX_REMOTE_IMAGE_BYTES = 5 * 1024 * 1024


def blank_image() -> QImage:
    """A 1×1 transparent image: what a blocked or missing image shows."""
    image = QImage(1, 1, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    return image


MAX_INLINE_IMAGE_BYTES = 20 * 1024 * 1024


def raster_image(data: bytes | QByteArray) -> QImage:
    """Decode ``data`` only if it is a PNG, JPEG, GIF, BMP or WebP by its own bytes, with that one decoder.

    Never by content sniffing across every plugin: Qt's SVG plugin would take an SVG (whatever its name or
    type claims) and open each file its ``<image xlink:href="/path">`` names, so mail could read local files
    (and hang on a FIFO). A null image when the data is anything else.
    """
    from PySide6.QtCore import QBuffer, QIODevice
    from PySide6.QtGui import QImageReader

    from inbox_app.domain.html_sanitize import raster_image_format

    raw = bytes(data.data()) if isinstance(data, QByteArray) else bytes(data)
    kind = raster_image_format(raw[:64])
    if kind is None:
        return QImage()
    buffer = QBuffer()
    buffer.setData(QByteArray(raw))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer, kind.encode("ascii"))
    reader.setAutoDetectImageFormat(False)
    reader.setDecideFormatFromContent(False)
    image = reader.read()
    buffer.close()
    return image


def _file_image(path: str) -> QImage:
    """An attachment image from the profile's own files (a regular file, read with a bound)."""
    import os
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return QImage()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return QImage()
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_INLINE_IMAGE_BYTES + 1)
    except OSError:
        return QImage()
    finally:
        os.close(fd)
    return raster_image(data) if len(data) <= MAX_INLINE_IMAGE_BYTES else QImage()


def _blend(base: QColor, other: QColor, amount: float) -> str:
    r = round(base.red() * (1 - amount) + other.red() * amount)
    g = round(base.green() * (1 - amount) + other.green() * amount)
    b = round(base.blue() * (1 - amount) + other.blue() * amount)
    return QColor(r, g, b).name()


def deadline_text(detail: ConversationDetail, now: datetime) -> tuple[str, Urgency]:
    """The header's deadline line: "Due in 3 h 20 min (Amazon, 24 h calendar)" / "Overdue by 2 h"."""
    summary = detail.summary
    rule = _(detail.policy_name) if detail.policy_name else ""
    if summary.deadline_at is None:
        if detail.no_response_needed:
            return _("No response needed"), Urgency.NONE
        if summary.status == Status.PENDING:
            return _("Waiting on the customer: the clock is stopped"), Urgency.NONE
        if summary.status == Status.CLOSED:
            return _("Closed"), Urgency.NONE
        return _("No reply due"), Urgency.NONE
    delta = summary.deadline_at - now
    level = urgency(summary.deadline_at, now, DUE_SOON_WINDOW)
    if delta.total_seconds() <= 0:
        text = _("Overdue by {duration}").format(duration=format_duration(-delta, threshold=1.0))
    else:
        text = _("Due in {duration}").format(duration=format_duration(delta, threshold=1.0))
    if rule:
        text = _("{deadline} ({rule})").format(deadline=text, rule=rule)
    return text, level


def cut_html(markup: str, limit: int) -> str:
    """The first ``limit`` characters of sanitized HTML, ended before a tag cut in half."""
    if len(markup) <= limit:
        return markup
    head = markup[:limit]
    opening = head.rfind("<")
    if opening > head.rfind(">"):
        head = head[:opening]
    return head


def cut_text(text: str, limit: int) -> str:
    """The first ``limit`` characters of plain text, ended at a line break when one is near."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    newline = head.rfind("\n", max(0, limit - 2000))
    return head[:newline] if newline > 0 else head


_BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(?:p|div|tr|li|h[1-6]|table|blockquote)\s*>")
_TAG = re.compile(r"<[^>]*>")


def html_slice_text(markup: str) -> str:
    """Readable text of a slice of sanitized HTML (block ends become line breaks), in linear time."""
    return html.unescape(_TAG.sub("", _BLOCK_END.sub("\n", markup)))


class WholeMessageDialog(QDialog):
    """The whole text of one long message, read-only, filled a slice per event-loop turn.

    ``is_html``: ``text`` is sanitized HTML (a message without a text part); each slice ends after a tag and
    is shown as text.

    Signals: ``loaded()`` once the last slice is in.
    """

    loaded = Signal()

    def __init__(
        self, title: str, text: str, parent: QWidget | None = None, *, is_html: bool = False
    ) -> None:
        super().__init__(parent)
        self._is_html = is_html
        self.setObjectName("wholeMessageDialog")
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._text = text
        self._done = 0
        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setUndoRedoEnabled(False)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, max(len(text), 1))
        self.progress.setFormat(_("Loading… %p%"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.progress)
        layout.addWidget(buttons)
        self.resize(900, 700)
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._next_slice)
        self._timer.start()

    def is_loaded(self) -> bool:
        return self._done >= len(self._text)

    def _next_slice(self) -> None:
        end = self._done + VIEWER_SLICE_CHARS
        if self._is_html and end < len(self._text):
            tag_end = self._text.find(">", end)
            end = len(self._text) if tag_end < 0 else tag_end + 1
        piece = self._text[self._done : end]
        cursor = self.view.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        cursor.insertText(html_slice_text(piece) if self._is_html else piece)
        self._done += len(piece)
        self.progress.setValue(self._done)
        if self._done >= len(self._text):
            self._timer.stop()
            self.progress.hide()
            self.view.moveCursor(self.view.textCursor().MoveOperation.Start)
            self.loaded.emit()


class MessageBrowser(QTextBrowser):
    """A QTextBrowser that never loads anything remote unless the user allowed it for that message."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.cid_images: dict[str, str] = {}  # content id -> file on disk
        self.remote_images: dict[str, QImage] = {}  # URL -> image fetched after "Show"
        self.refused: list[str] = []  # remote URLs the document asked for and did not get

    def loadResource(self, kind: int, url: QUrl | str) -> Any:
        """Only three things load: a ``cid:`` image of the shown messages, a raster ``data:`` image, and a
        remote image the user allowed and :class:`ThreadView` already fetched into memory. Never a file
        (``file:``, absolute or relative paths, ``qrc:``), never the network, never anything but an image,
        and never an SVG (see :func:`raster_image`)."""
        from inbox_app.domain.html_sanitize import data_url_image

        qurl = QUrl(url) if isinstance(url, str) else url
        scheme = qurl.scheme().lower()
        is_image = kind == QTextDocument.ResourceType.ImageResource
        if not is_image:  # a style sheet or HTML "resource": mail gets none
            return self._refuse(None, is_image)
        if scheme == "cid":
            path = self.cid_images.get(qurl.path()) or self.cid_images.get(qurl.toString()[4:])
            image = _file_image(path) if path else QImage()
            return image if not image.isNull() else self._refuse(None, is_image)
        if scheme == "data":
            found = data_url_image(qurl.toString())
            image = raster_image(found[1]) if found is not None else QImage()
            return image if not image.isNull() else self._refuse(None, is_image)
        if scheme in _REMOTE_SCHEMES:
            fetched = self.remote_images.get(qurl.toString())
            if fetched is not None and is_image:
                return fetched
            return self._refuse(qurl.toString() or None, is_image)
        return self._refuse(None, is_image)

    def _refuse(self, url: str | None, is_image: bool) -> QImage | QByteArray:
        """Record a refused URL; give images a blank pixel, because when a resource is missing Qt's image
        handler falls back to reading the name as a local file path, which must never happen for mail."""
        if url:
            self.refused.append(url)
        # Never None: PySide mis-counts a None returned through this QVariant override (crash at exit).
        return blank_image() if is_image else QByteArray()


class CustomerStrip(QFrame):
    """Who the customer is (identities) and, unfolded, their history across channels (``CustomerPanel``:
    every conversation of the same buyer, merge and split by hand)."""

    conversation_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("customerStrip")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(2)
        row = QHBoxLayout()
        self.label = QLabel(self)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.toggle = QToolButton(self)
        self.toggle.setObjectName("customerToggle")
        self.toggle.setCheckable(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.toggled.connect(self._on_toggled)
        row.addWidget(self.label, 1)
        row.addWidget(self.toggle)
        layout.addLayout(row)
        self.others = CustomerPanel(self)
        self.others.setMinimumHeight(150)
        self.others.setVisible(False)
        self.others.conversation_requested.connect(self.conversation_requested)
        layout.addWidget(self.others)

    def set_detail(self, detail: ConversationDetail) -> None:
        summary = detail.summary
        parts = [f"<b>{html.escape(summary.customer_label or _(UNKNOWN_CUSTOMER))}</b>"]
        parts.extend(html.escape(value) for _kind, value in detail.customer_identities[:3])
        self.label.setText(" · ".join(parts))
        self.label.setToolTip("\n".join(f"{kind}: {value}" for kind, value in detail.customer_identities))

    def set_history(self, history: CustomerHistory | None, current: int | None) -> None:
        """The customer's history (``services.customers.history``), given by the window's controller."""
        self.others.set_history(history, current)
        count = self.others.other_count()
        self.toggle.setVisible(history is not None and (count > 0 or history.customer_id is not None))
        self.toggle.setText(
            ngettext("{n} other conversation", "{n} other conversations", count).format(n=count)
            if count
            else _("Customer history")
        )

    def _on_toggled(self, checked: bool) -> None:
        self.others.setVisible(checked)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if checked else Qt.ArrowType.RightArrow)


class ThreadView(QWidget):
    """Header (who, where, deadline), customer strip, and the thread in a safe browser."""

    conversation_requested = Signal(int)
    no_response_requested = Signal(int, str)
    save_attachment_requested = Signal(object)
    external_link_requested = Signal(QUrl)
    cancel_reply_requested = Signal(int)
    retry_reply_requested = Signal(int)
    send_again_requested = Signal(int)
    send_anyway_requested = Signal(int)
    edit_held_requested = Signal(int)
    discard_held_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("threadView")
        self._detail: ConversationDetail | None = None
        self._now = datetime.now(UTC)
        self._plain = False
        self._allowed_remote: set[int] = set()
        self._network: Any = None
        self._pending: set[str] = set()  # remote image URLs being fetched
        self._outbox_rows: list[OutboxRow] = []  # this conversation's replies still in the outbox
        self._outbox_lines: list[str] = []  # their status lines as last drawn (the tick redraws on change)
        self.whole_message: WholeMessageDialog | None = None  # the "Show all" viewer, while open

        self.stack = QStackedWidget(self)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)

        self.placeholder = QLabel(_("Select a conversation to read it here."), self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setEnabled(False)
        self.stack.addWidget(self.placeholder)

        page = QWidget(self)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(10, 8, 10, 0)
        layout.setSpacing(6)
        head = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(2)
        self.title = QLabel(page)
        self.title.setObjectName("threadTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.title.setFont(font)
        self.meta = QLabel(page)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.meta.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.meta.setWordWrap(True)  # the order number at the end must never be cut at 1366 px
        deadline_row = QHBoxLayout()
        deadline_row.setSpacing(6)
        self.deadline_icon = QLabel(page)
        self.deadline = QLabel(page)
        self.deadline.setObjectName("threadDeadline")
        self.deadline.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.deadline.setWordWrap(True)
        deadline_row.addWidget(self.deadline_icon)
        deadline_row.addWidget(self.deadline, 1)
        titles.addWidget(self.title)
        meta_row = QHBoxLayout()
        meta_row.setSpacing(6)
        self.channel_badge = ChannelBadge(page)  # the channel's icon before "customer · channel · order"
        meta_row.addWidget(self.channel_badge, 0, Qt.AlignmentFlag.AlignTop)
        meta_row.addWidget(self.meta, 1)
        titles.addLayout(meta_row)
        titles.addLayout(deadline_row)
        head.addLayout(titles, 1)
        buttons = QVBoxLayout()
        self.no_response_button = QPushButton(_("No response needed"), page)
        self.no_response_button.setToolTip(
            _("Tell the marketplace this message needs no answer (opens its page), and stop the clock here")
        )
        self.no_response_button.clicked.connect(self._on_no_response)
        self.plain_button = QToolButton(page)
        self.plain_button.setText(_("Plain text"))
        self.plain_button.setCheckable(True)
        self.plain_button.setToolTip(_("Show messages as plain text"))
        self.plain_button.toggled.connect(self.set_plain_text)
        buttons.addWidget(self.no_response_button)
        buttons.addWidget(self.plain_button, 0, Qt.AlignmentFlag.AlignRight)
        buttons.addStretch(1)
        head.addLayout(buttons)
        layout.addLayout(head)

        self.customer = CustomerStrip(page)
        self.customer.conversation_requested.connect(self.conversation_requested)
        layout.addWidget(self.customer)

        self.browser = MessageBrowser(page)
        self.browser.anchorClicked.connect(self._on_anchor)
        layout.addWidget(self.browser, 1)
        self.stack.addWidget(page)
        self.page = page

    # --------------------------------------------------------------------------------------- public
    def detail(self) -> ConversationDetail | None:
        return self._detail

    def conversation_id(self) -> int | None:
        return self._detail.summary.id if self._detail is not None else None

    def set_detail(
        self,
        detail: ConversationDetail | None,
        now: datetime | None = None,
        pending: Sequence[OutboxRow] = (),
    ) -> None:
        """Show a conversation (None: the placeholder). Remote images start blocked for every message.

        ``pending``: the conversation's replies still in the outbox (``services.outbox.rows_for``),
        drawn under the messages with their state.
        """
        same = (
            detail is not None and self._detail is not None and detail.summary.id == self._detail.summary.id
        )
        if not same:
            self._allowed_remote.clear()
            self.browser.remote_images.clear()
            self.browser.refused.clear()
        self._detail = detail
        self._outbox_rows = list(pending) if detail is not None else []
        if now is not None:
            self._now = now
        if detail is None:
            self.stack.setCurrentWidget(self.placeholder)
            self.browser.clear()
            return
        self.stack.setCurrentWidget(self.page)
        self._render_header()
        self.customer.set_detail(detail)
        self._render_thread(keep_scroll=same)

    def set_now(self, now: datetime) -> None:
        """Advance the countdown in the header (the list's tick calls this)."""
        self._now = now
        if self._detail is not None:
            self._render_deadline()
            if self._outbox_rows and self._outbox_status_lines() != self._outbox_lines:
                self._render_thread(keep_scroll=True)  # "retrying in 2 min" became "1 min", or it is due

    def set_plain_text(self, plain: bool) -> None:
        if plain == self._plain:
            return
        self._plain = plain
        self.plain_button.setChecked(plain)
        if self._detail is not None:
            self._render_thread(keep_scroll=True)

    def outbox_rows(self) -> list[OutboxRow]:
        """The replies in the outbox drawn under the thread."""
        return list(self._outbox_rows)

    def is_plain_text(self) -> bool:
        return self._plain

    def allow_remote_images(self, message_id: int) -> None:
        """Load remote images for this one message ("Show" on the blocked bar)."""
        self._allowed_remote.add(message_id)
        if self._detail is None:
            return
        self._render_thread(keep_scroll=True)
        for message in self._detail.messages:
            if message.id == message_id and message.html:
                self._fetch_remote(self._allowed_html(message))

    def blocked_image_count(self, message_id: int) -> int:
        from inbox_app.domain.html_sanitize import count_blocked_images

        if self._detail is None or message_id in self._allowed_remote:
            return 0
        for message in self._detail.messages:
            if message.id == message_id:
                return count_blocked_images(message.html)
        return 0

    # --------------------------------------------------------------------------------------- header
    def _render_header(self) -> None:
        detail = self._detail
        assert detail is not None
        summary = detail.summary
        self.title.setText(summary.subject or summary.snippet or _("(no subject)"))
        label = CHANNEL_LABELS.get(summary.channel_kind)
        channel = summary.channel_name or (_(label) if label else summary.channel_kind)
        parts = [summary.customer_label or _("Unknown customer"), channel]
        if detail.marketplace and detail.marketplace.casefold() not in channel.casefold():
            parts.append(detail.marketplace)
        if summary.order_id:
            parts.append(_("Order {order}").format(order=summary.order_id))
        if summary.status != Status.OPEN:
            parts.append(_(STATUS_LABELS.get(summary.status, summary.status)))
        self.channel_badge.set_channel(summary.channel_kind, channel)
        self.meta.setText(" · ".join(parts))
        self.meta.setToolTip(" · ".join(parts))
        self.no_response_button.setVisible(bool(detail.no_response_url) and not detail.no_response_needed)
        self._render_deadline()

    def _render_deadline(self) -> None:
        detail = self._detail
        assert detail is not None
        text, level = deadline_text(detail, self._now)
        self.deadline.setText(text)
        self.deadline.setToolTip(text)
        color = urgency_color(level)
        self.deadline.setStyleSheet(f"color: {color.name()}; font-weight: bold;" if color is not None else "")
        size = self.deadline.fontMetrics().height()
        self.deadline_icon.setPixmap(icons.urgency_icon(level).pixmap(QSize(size, size)))

    # --------------------------------------------------------------------------------------- thread
    def _allowed_html(self, message: MessageView) -> str:
        from inbox_app.domain.html_sanitize import sanitize_html

        return sanitize_html(message.html or "", allow_remote=True)

    def _render_thread(self, *, keep_scroll: bool) -> None:
        from inbox_app.domain.html_sanitize import count_blocked_images

        detail = self._detail
        assert detail is not None
        bar = self.browser.verticalScrollBar()
        position = bar.value()
        self.browser.cid_images = {
            att.content_id.strip("<>"): att.path
            for message in detail.messages
            for att in message.attachments
            if att.content_id and att.path
        }
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        dark = is_dark_palette(palette)
        colors = {
            "in": base.name(),
            "out": _blend(base, palette.color(QPalette.ColorRole.Highlight), 0.14),
            "note": _blend(base, QColor("#f4c20d"), 0.30 if dark else 0.22),
            "warn": _blend(base, QColor("#e37400"), 0.30 if dark else 0.18),
            "border": _blend(base, palette.color(QPalette.ColorRole.Text), 0.18),
            "muted": _blend(base, palette.color(QPalette.ColorRole.Text), 0.6),
            "text": palette.color(QPalette.ColorRole.Text).name(),
        }
        items: list[tuple[datetime, str]] = []
        for message in detail.messages:
            blocked = (
                0
                if message.id in self._allowed_remote
                else count_blocked_images(cut_html(message.html or "", SHOWN_CHARS))
            )
            items.append((message.sent_at, self._message_html(message, blocked, colors)))
        for note in detail.notes:
            items.append((note.created_at, self._note_html(note, colors)))
        items.sort(key=lambda pair: pair[0])
        body = "".join(chunk for _when, chunk in items) or f"<p>{html.escape(_(NO_MESSAGES))}</p>"
        self._outbox_lines = self._outbox_status_lines()
        body += "".join(self._outbox_html(row, colors) for row in self._outbox_rows)
        self.browser.setHtml(f"<html><body style='color:{colors['text']}'>{body}</body></html>")
        if keep_scroll:
            bar.setValue(position)
        else:
            bar.setValue(bar.maximum())

    def _message_html(self, message: MessageView, blocked: int, colors: dict[str, str]) -> str:
        inbound = message.direction == Direction.IN
        who = message.author_name or message.author_address or (_("Customer") if inbound else _("You"))
        label = _("Customer wrote") if inbound else _("You replied")
        if message.author_role == "operator":  # the marketplace itself (Mirakl operator), not the customer
            label = _("Marketplace wrote")
        when = format_datetime(message.sent_at, "short", tz=local_zone())
        bg = colors["in"] if inbound else colors["out"]
        margins = "margin-right:48px;" if inbound else "margin-left:48px;"
        arrow = "⬅" if inbound else "➡"
        rows = [
            f"<tr><td><b>{html.escape(who)}</b>&nbsp;&nbsp;<span style='color:{colors['muted']}'>"
            f"{arrow} {html.escape(label)} · {html.escape(when)}</span></td></tr>"
        ]
        if message.unconfirmed_outbox_id is not None:
            warn = _("Delivery not confirmed: the customer may not have received this reply.")
            rows.append(
                f"<tr><td bgcolor='{colors['warn']}'>⚠ {html.escape(warn)} — "
                f"<a href='inbox:send-again/{message.unconfirmed_outbox_id}'>{html.escape(_(SEND_AGAIN))}</a>"
                "</td></tr>"
            )
        if message.answered_elsewhere:
            note = _("Answered from another mail app: no answer is due for this message.")
            rows.append(
                f"<tr><td><span style='color:{colors['muted']}'>✓ {html.escape(note)}</span></td></tr>"
            )
        if message.problems:
            warn = _("This message could not be fully read; the original is kept.")
            rows.append(f"<tr><td bgcolor='{colors['warn']}'>⚠ {html.escape(warn)}</td></tr>")
        if blocked:
            text = ngettext("{n} remote image blocked", "{n} remote images blocked", blocked).format(
                n=blocked
            )
            rows.append(
                f"<tr><td bgcolor='{colors['warn']}'>⚠ {html.escape(text)} — "
                f"<a href='inbox:show-images/{message.id}'>{html.escape(_(SHOW))}</a></td></tr>"
            )
        if message.html and not self._plain:
            markup = message.html
            cut = len(markup) > SHOWN_CHARS
            if cut:
                markup = cut_html(markup, SHOWN_CHARS)
            elif message.id in self._allowed_remote:
                markup = self._allowed_html(message)
            content = markup
        else:
            text = message.text or ""
            cut = len(text) > SHOWN_CHARS
            content = f"<div style='white-space:pre-wrap'>{html.escape(cut_text(text, SHOWN_CHARS))}</div>"
        rows.append(f"<tr><td>{content}</td></tr>")
        if cut:
            size = len(message.text or "") or len(message.html or "")
            note = _("This message is very long ({count} characters); only its beginning is shown.").format(
                count=format_number(size)
            )
            rows.append(
                f"<tr><td bgcolor='{colors['warn']}'>⚠ {html.escape(note)} — "
                f"<a href='inbox:show-all/{message.id}'>{html.escape(_(SHOW_ALL))}</a></td></tr>"
            )
        files = [att for att in message.attachments if not att.inline]
        if files:
            links = []
            for att in files:
                # (a marketplace file without a path is downloaded from the vendor when saved)
                saveable = att.path or att.remote_url
                action = f" — <a href='inbox:save/{att.id}'>{html.escape(_(SAVE_AS))}</a>" if saveable else ""
                links.append(
                    f"<b>{html.escape(_(ATTACHMENT))}</b>: {html.escape(att.name)} "
                    f"({html.escape(format_size(att.size))}){action}"
                )
            rows.append(f"<tr><td>{'<br>'.join(links)}</td></tr>")
        return (
            f"<table width='100%' cellspacing='0' cellpadding='6' border='1' "
            f"style='border-color:{colors['border']};border-style:solid;{margins}margin-bottom:10px' "
            f"bgcolor='{bg}'>{''.join(rows)}</table>"
        )

    def _outbox_status_lines(self) -> list[str]:
        return [status_line(row, self._now) for row in self._outbox_rows]

    def _outbox_html(self, row: OutboxRow, colors: dict[str, str]) -> str:
        """A reply not delivered yet: an outbound bubble with a dashed border, its state and what to do."""
        if row.is_held:
            return self._held_html(row, colors)
        phase = row.phase(self._now)
        color = phase_color(phase, is_dark_palette(self.palette())).name()
        head = _("Reply in the outbox · written {time}").format(time=when_text(row.created_at, self._now))
        links = []
        if row.can_cancel:
            links.append(f"<a href='inbox:cancel-reply/{row.id}'>{html.escape(_(CANCEL))}</a>")
        if row.can_retry(self._now):
            links.append(f"<a href='inbox:retry-reply/{row.id}'>{html.escape(_(RETRY_NOW))}</a>")
        actions = ("&nbsp;&nbsp;" + " · ".join(links)) if links else ""
        weight = "bold" if phase is OutboxPhase.FAILED else "normal"
        return (
            f"<table width='100%' cellspacing='0' cellpadding='6' border='1' "
            f"style='border-color:{color};border-style:dashed;margin-left:48px;margin-bottom:10px' "
            f"bgcolor='{colors['out']}'>"
            f"<tr><td><b>{html.escape(_(YOU))}</b>&nbsp;&nbsp;<span style='color:{colors['muted']}'>"
            f"➡ {html.escape(head)}</span></td></tr>"
            f"<tr><td><span style='color:{color};font-weight:{weight}'>{html.escape(status_line(row, self._now))}"
            f"</span>{actions}</td></tr>"
            f"<tr><td><div style='white-space:pre-wrap'>{html.escape(row.body)}</div></td></tr></table>"
        )

    def _held_html(self, row: OutboxRow, colors: dict[str, str]) -> str:
        """A reply the collision check held: amber, what changed since it was begun, and the three ways on."""
        phase = row.phase(self._now)
        color = phase_color(phase, is_dark_palette(self.palette())).name()
        head = _("Not sent: the conversation changed after you began this reply")
        changes = "".join(f"<li>{html.escape(change_text(change))}</li>" for change in row.held_changes)
        links = " · ".join(
            f"<a href='inbox:{action}/{row.id}'>{html.escape(_(word))}</a>"
            for action, word in (("send-anyway", SEND_ANYWAY), ("edit-held", EDIT), ("discard-held", DISCARD))
        )
        return (
            f"<table width='100%' cellspacing='0' cellpadding='6' border='1' "
            f"style='border-color:{color};border-style:solid;margin-left:48px;margin-bottom:10px' "
            f"bgcolor='{colors['warn']}'>"
            f"<tr><td><b>⚠ {html.escape(head)}</b><ul style='margin:2px'>{changes}</ul>{links}</td></tr>"
            f"<tr><td><div style='white-space:pre-wrap'>{html.escape(row.body)}</div></td></tr></table>"
        )

    def _note_html(self, note: NoteView, colors: dict[str, str]) -> str:
        when = format_datetime(note.created_at, "short", tz=local_zone())
        head = _("Internal note by {author} · {when}").format(author=note.author or _("you"), when=when)
        return (
            f"<table width='100%' cellspacing='0' cellpadding='6' style='margin-bottom:10px' "
            f"bgcolor='{colors['note']}'><tr><td>✎ <i>{html.escape(head)}</i><br>"
            f"<div style='white-space:pre-wrap'>{html.escape(note.body)}</div></td></tr></table>"
        )

    # ---------------------------------------------------------------------------------- interaction
    def _on_anchor(self, url: QUrl) -> None:
        if url.scheme() == "inbox":
            action, _sep, value = url.path().partition("/")
            if action == "show-images" and value.isdigit():
                self.allow_remote_images(int(value))
            elif action == "save" and value.isdigit():
                attachment = self._attachment(int(value))
                if attachment is not None:
                    self.save_attachment_requested.emit(attachment)
            elif action == "cancel-reply" and value.isdigit():
                self.cancel_reply_requested.emit(int(value))
            elif action == "retry-reply" and value.isdigit():
                self.retry_reply_requested.emit(int(value))
            elif action == "send-again" and value.isdigit():
                self.send_again_requested.emit(int(value))
            elif action == "send-anyway" and value.isdigit():
                self.send_anyway_requested.emit(int(value))
            elif action == "edit-held" and value.isdigit():
                self.edit_held_requested.emit(int(value))
            elif action == "discard-held" and value.isdigit():
                self.discard_held_requested.emit(int(value))
            elif action == "show-all" and value.isdigit():
                self.show_whole_message(int(value))
            return
        self.external_link_requested.emit(url)

    def show_whole_message(self, message_id: int) -> WholeMessageDialog | None:
        """ "Show all" on a message drawn cut: its whole text in a viewer that fills without blocking."""
        if self._detail is None:
            return None
        for message in self._detail.messages:
            if message.id == message_id:
                break
        else:
            return None
        if self.whole_message is not None:
            self.whole_message.close()
        text = message.text or message.html or ""
        is_html = not message.text and bool(message.html)
        who = message.author_name or message.author_address or ""
        title = " · ".join(part for part in (message.subject or self._detail.summary.subject, who) if part)
        dialog = WholeMessageDialog(title or _("Message"), text, self, is_html=is_html)
        dialog.finished.connect(lambda *_args: self._viewer_closed(dialog))
        self.whole_message = dialog
        dialog.show()
        return dialog

    def _viewer_closed(self, dialog: WholeMessageDialog) -> None:
        if self.whole_message is dialog:
            self.whole_message = None

    def _attachment(self, attachment_id: int) -> AttachmentView | None:
        if self._detail is None:
            return None
        for message in self._detail.messages:
            for att in message.attachments:
                if att.id == attachment_id:
                    return att
        return None

    def _on_no_response(self) -> None:
        if self._detail is not None and self._detail.no_response_url:
            self.no_response_requested.emit(self._detail.summary.id, self._detail.no_response_url)

    # ------------------------------------------------------------------------------ remote images
    def _fetch_remote(self, allowed_html: str) -> None:
        from PySide6.QtNetwork import QNetworkAccessManager, QNetworkRequest

        if self._network is None:
            self._network = QNetworkAccessManager(self)
            self._network.finished.connect(self._on_fetched)
        urls = [
            u for u in dict.fromkeys(_IMG_SRC.findall(allowed_html)) if u not in self.browser.remote_images
        ]
        for url in urls[:MAX_REMOTE_IMAGES]:
            if url in self._pending:
                continue
            self._pending.add(url)
            request = QNetworkRequest(QUrl(url))
            request.setAttribute(
                QNetworkRequest.Attribute.RedirectPolicyAttribute,
                QNetworkRequest.RedirectPolicy.NoLessSafeRedirectPolicy,
            )
            request.setTransferTimeout(15_000)
            self._network.get(request)

    def _on_fetched(self, reply: Any) -> None:
        url = reply.request().url().toString()
        self._pending.discard(url)
        data: QByteArray = reply.read(MAX_REMOTE_IMAGE_BYTES)
        reply.deleteLater()
        image = raster_image(data)
        if not image.isNull():
            self.browser.remote_images[url] = image
        if not self._pending and self._detail is not None:
            self._render_thread(keep_scroll=True)
