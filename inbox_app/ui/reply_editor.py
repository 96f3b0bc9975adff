"""The reply box docked under the thread: write in the buyer's language, insert canned text, send fast.

Why it looks like this: a seller answers dozens of buyers against marketplace clocks. Everything here serves
"canned response to sent in under ten seconds" from the keyboard: ``/del`` opens the fuzzy picker, Enter
inserts the variant in the conversation's language with the variables filled, Tab jumps to what is still
missing (highlighted, and sending is blocked until it is filled), Ctrl+Enter sends. Nothing is ever lost:
the draft is saved ~400 ms after typing stops, on conversation switch and on close, and a sent reply is
first a row in the outbox (the sync engine delivers it), so sending works offline and can be undone until
delivery starts.

Channel rules before Send: the text is checked as you type against the channel's own limits
(:func:`inbox_app.domain.channel_limits.check_body`: eBay 2,000 characters, mail 1,000,000 and 25 MB with
files…); a counter shows "1,840 / 2,000" once the text nears a limit, and what is wrong is said under the text
while Send, Send & close and Later are disabled with the reason in their tooltips. A mail whose sender left no
usable reply address (a garbage Reply-To) says so here too, and nothing can be sent. The outbox checks the same
again before it writes a row.

Signals (``ReplyEditor``):
    reply_queued(int conversation_id, int outbox_id, bool closed): a reply was persisted to the outbox.
    status_message(str): a short message for the status bar ("Sending…", "Queued — will send when online").
    draft_saved(int conversation_id): the draft was written to the database.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from PySide6.QtCore import QMimeData, QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QFocusEvent,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QShortcut,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inbox_app.domain.canned_library import CannedResponseData
from inbox_app.domain.channel_limits import (
    MAX_BODY_CHARS,
    Refusal,
    RefusalReason,
    body_problem_message,
    check_attachments,
    check_body,
    limits_for,
    links_only_note,
)
from inbox_app.domain.conversations import CHANNEL_LABELS, ConversationDetail, Status
from inbox_app.domain.deadlines import Clock, DeadlinePolicy, add_business_time, is_open_at
from inbox_app.domain.templates import MissingSpan, find_unfilled
from inbox_app.i18n import _, current_locale, format_datetime, format_number, format_size
from inbox_app.services import canned, conversations, outbox, replies
from inbox_app.services.attachments import BlobStore, BlobStoreError, open_profile_blobs
from inbox_app.services.policies import office_policy, policy_for_conversation
from inbox_app.services.replies import ReplyError, ReplyNotSaved, is_disk_full
from inbox_app.services.settings import get_setting
from inbox_app.ui.canned_picker import SELLER_VARIABLES, CannedPicker, conversation_values, render_response
from inbox_app.ui.keys import PICKER_KEYS, SEND_CLOSE_KEYS, SEND_KEYS, native_key

log = logging.getLogger("inbox_app.ui")

DRAFT_DEBOUNCE_MS = 400
PICKER_SIZE = (680, 240)
#: Languages always offered in the reply-language combo (the conversation's own is added when missing).
COMMON_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "sv")
# "/" at the start of a line or after white space, then letters (or none yet): the canned-response trigger.
_SLASH_RE = re.compile(r"(?:^|(?<=\s))/([\w-]*)$")


# ------------------------------------------------------------------------------------------ pure helpers


def later_times(now: datetime, policy: DeadlinePolicy, local_tz: tzinfo) -> dict[str, datetime]:
    """When "Later" sends: in one hour, tomorrow 09:00 (local time), and the next business hour.

    "Next business hour" is one hour of the policy's clock from now when the business is open, else the next
    opening (so a reply written at 22:00 leaves at 09:00, when the seller can follow up). A calendar-clock
    policy has no opening hours, so the seller's office hours (:func:`office_policy`) are used instead.
    """
    local_now = now.astimezone(local_tz)
    tomorrow = (local_now + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    hours = policy if policy.clock is Clock.BUSINESS else office_policy()
    if is_open_at(hours, now):
        business = add_business_time(hours, now, timedelta(hours=1))
    else:
        business = add_business_time(hours, now, timedelta(seconds=1)) - timedelta(seconds=1)
    return {
        "hour": now + timedelta(hours=1),
        "tomorrow": tomorrow,
        "business": business.replace(second=0, microsecond=0),
    }


def language_name(code: str) -> str:
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(current_locale())
    except (UnknownLocaleError, ValueError, TypeError):
        return code
    return (name or code)[:1].upper() + (name or code)[1:]


def refusal_message(channel_kind: str, refusal: Refusal) -> str:
    """A clear sentence for a file the channel will not take."""
    channel = _(CHANNEL_LABELS.get(channel_kind, channel_kind))
    if refusal.reason is RefusalReason.NO_UPLOAD:
        links = limits_for(channel_kind).max_links
        return _(
            "{channel} does not accept files in messages: upload “{name}” somewhere and paste a link "
            "(https://…) in the text instead (at most {links} links)."
        ).format(channel=channel, name=refusal.name, links=links or 0)
    if refusal.reason is RefusalReason.EMPTY:
        return _("“{name}” is empty and was not attached.").format(name=refusal.name)
    if refusal.reason is RefusalReason.FILE_TOO_BIG:
        return _("“{name}” ({size}) is larger than the {limit} {channel} accepts per file.").format(
            name=refusal.name,
            size=format_size(refusal.size),
            limit=format_size(refusal.limit or 0),
            channel=channel,
        )
    if refusal.reason is RefusalReason.TOTAL_TOO_BIG:
        return _("“{name}” would take the message over the {limit} {channel} accepts in total.").format(
            name=refusal.name, limit=format_size(refusal.limit or 0), channel=channel
        )
    return _("“{name}” was not attached: {channel} accepts at most {limit} files per message.").format(
        name=refusal.name, limit=refusal.limit or 0, channel=channel
    )


def attach_tip() -> str:
    return _("Attach files (or drop them on the text)")


def characters_left_text(count: int, limit: int) -> str:
    """The live counter under a reply on a short channel: "160 left of 2,000", "12 over 2,000"."""
    if count > limit:
        return _("{over} over {limit}").format(over=format_number(count - limit), limit=format_number(limit))
    return _("{left} left of {limit}").format(left=format_number(limit - count), limit=format_number(limit))


def placeholder_text(span: MissingSpan) -> str:
    return "{" + span.name + "}"


# ------------------------------------------------------------------------------------------------ widgets


class PlaceholderHighlighter(QSyntaxHighlighter):
    """Marks every unfilled ``{placeholder}`` (colour and underline, so it does not rely on colour alone)."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.placeholder_format = QTextCharFormat()
        self.placeholder_format.setForeground(QColor("#8a4b00"))
        self.placeholder_format.setBackground(QColor("#ffe3a3"))
        self.placeholder_format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        self.placeholder_format.setUnderlineColor(QColor("#c0392b"))

    def highlightBlock(self, text: str) -> None:
        for span in find_unfilled(text):
            self.setFormat(span.start, span.end - span.start, self.placeholder_format)


class ElidedLabel(QLabel):
    """A one-line hint that gives way to the controls beside it: shortened with "…" when space is short."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(0)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText))
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.width())
        painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), text)
        painter.end()


class ReplyTextEdit(QPlainTextEdit):
    """Plain text (marketplaces take plain text); keys and file drops go to the owning editor first."""

    def __init__(self, owner: ReplyEditor) -> None:
        super().__init__(owner)
        self._owner = owner
        self.setAcceptDrops(True)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self._owner.handle_key(event):
            super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        if event.reason() != Qt.FocusReason.PopupFocusReason:
            self._owner.close_picker()
        super().focusOutEvent(event)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return source.hasUrls() or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        files = [Path(u.toLocalFile()) for u in source.urls() if u.isLocalFile()] if source.hasUrls() else []
        if files:
            self._owner.add_files(files)
            return
        if source.hasText() and len(source.text()) > MAX_BODY_CHARS:  # a 100 MB paste would freeze the editor
            self._owner.refuse_paste(len(source.text()))
            return
        super().insertFromMimeData(source)


@dataclass
class AttachmentRef:
    """A file attached to the draft: its bytes are in the blob store under ``sha256``."""

    name: str
    size: int
    sha256: str
    mime_type: str

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256, "mime_type": self.mime_type}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttachmentRef:
        return cls(
            name=str(data.get("name", "")),
            size=int(data.get("size", 0)),
            sha256=str(data.get("sha256", "")),
            mime_type=str(data.get("mime_type", "application/octet-stream")),
        )


@dataclass
class _LastReply:
    conversation_id: int
    outbox_id: int
    body: str
    language: str
    attachments: list[AttachmentRef]
    previous_status: str | None  # set when "Send & close" closed the conversation


class ReplyEditor(QWidget):
    """The reply box. The window calls :meth:`set_conversation` and :meth:`set_online`; see module docs."""

    reply_queued = Signal(int, int, bool)
    status_message = Signal(str)
    draft_saved = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, blobs: BlobStore | None = None) -> None:
        super().__init__(parent)
        self._blobs = blobs
        self._detail: ConversationDetail | None = None
        self._attachments: list[AttachmentRef] = []
        self._online = True
        self._loading = False
        self._dirty = False
        self._last: _LastReply | None = None
        self._default_language = "en"
        self._agent_name: str | None = None
        self._shop_name: str | None = None
        self._responses: list[CannedResponseData] = []
        self._picker: CannedPicker | None = None
        self._picker_anchor: int | None = None
        self._picker_manual = False
        self._dismissed_anchor: int | None = None
        self._send_block: str | None = (
            None  # why Send is disabled (too long, no reply address…), None: it is not
        )
        self._address_problem: str | None = None  # the conversation's mail has no usable reply address

        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(DRAFT_DEBOUNCE_MS)
        self._save_timer.timeout.connect(self.flush_draft)

        # Header: "Reply  [Español (es) ▾]                 / canned responses · Tab next blank"
        self.title = QLabel(_("Reply"))
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.language_combo = QComboBox()
        self.language_combo.setToolTip(_("Language of this reply (canned responses use it)"))
        self.language_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        # Always as wide as its longest language name ("Spanisch (es)"): the hint gives way first.
        self.language_combo.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.language_combo.currentIndexChanged.connect(self._on_language_changed)
        self.hint = ElidedLabel(
            _("/ or {picker} canned responses · Tab next blank · {send} send").format(
                picker=native_key(PICKER_KEYS), send=native_key(SEND_KEYS)
            )
        )
        self.hint.setEnabled(False)
        self.hint.setToolTip(self.hint.text())
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.title)
        header.addWidget(self.language_combo)
        header.addWidget(self.hint, 1)

        self.text_edit = ReplyTextEdit(self)
        self.text_edit.setPlaceholderText(_("Write a reply… (type / for canned responses)"))
        self.text_edit.setTabChangesFocus(False)
        self.text_edit.textChanged.connect(self._on_text_changed)
        self.text_edit.cursorPositionChanged.connect(self._update_picker)
        self.highlighter = PlaceholderHighlighter(self.text_edit.document())

        self.attachment_strip = QWidget()
        self._strip_layout = QHBoxLayout(self.attachment_strip)
        self._strip_layout.setContentsMargins(0, 0, 0, 0)
        self._strip_layout.addStretch(1)
        self.attachment_strip.hide()

        self.limit_label = QLabel()  # "160 left of 2,000" once the text nears the channel's limit
        self.limit_label.setObjectName("replyLimitCounter")
        self.limit_label.setTextFormat(Qt.TextFormat.PlainText)
        self.limit_label.hide()
        self.problem_label = QLabel()  # what keeps this reply from being sent (limits, no reply address)
        self.problem_label.setObjectName("replyProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setTextFormat(Qt.TextFormat.PlainText)
        self.problem_label.setStyleSheet("color: #b3261e; font-weight: bold;")
        # Its whole wrapped text, always: the reply text gives way, not the reason Send is off.
        self.problem_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.problem_label.hide()
        # A channel rule said before the seller runs into it: "eBay accepts files only as HTTPS links".
        self.channel_note = QLabel()
        self.channel_note.setObjectName("replyChannelNote")
        self.channel_note.setWordWrap(True)
        self.channel_note.setTextFormat(Qt.TextFormat.PlainText)
        self.channel_note.setEnabled(False)  # the palette's muted text: information, not an error
        self.channel_note.hide()

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.hide()
        self.undo_button = QPushButton(_("Undo"))
        self.undo_button.setToolTip(_("Cancel the reply just queued and bring it back here"))
        self.undo_button.clicked.connect(self.cancel_last)
        self.undo_button.hide()
        message_row = QHBoxLayout()
        message_row.setContentsMargins(0, 0, 0, 0)
        message_row.addWidget(self.message_label, 1)
        message_row.addWidget(self.undo_button)

        self.attach_button = QToolButton()
        self.attach_button.setText(_("Attach…"))
        self.attach_button.setToolTip(attach_tip())
        self.attach_button.clicked.connect(self._choose_files)
        # The keys shown are the keys that work, in the platform's notation ("Ctrl+Return", "⌘↩").
        self.send_button = QPushButton(_("Send") + "  " + native_key(SEND_KEYS))
        self.send_button.setToolTip(_("Send ({keys})").format(keys=native_key(SEND_KEYS)))
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(lambda: self.send())
        self.send_close_button = QPushButton(_("Send && close") + "  " + native_key(SEND_CLOSE_KEYS))
        self.send_close_button.setToolTip(
            _("Send and close the conversation ({keys})").format(keys=native_key(SEND_CLOSE_KEYS))
        )
        self.send_close_button.clicked.connect(lambda: self.send(close=True))
        self.later_menu = QMenu(self)
        self.later_menu.aboutToShow.connect(self._fill_later_menu)
        self.later_button = QToolButton()
        self.later_button.setText(_("Later"))
        self.later_button.setToolTip(_("Send at the next business hour; the arrow offers other times"))
        self.later_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.later_button.setMenu(self.later_menu)
        self.later_button.clicked.connect(lambda: self.send_later("business"))
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.attach_button)
        buttons.addWidget(self.limit_label)
        buttons.addStretch(1)
        buttons.addWidget(self.later_button)
        buttons.addWidget(self.send_close_button)
        buttons.addWidget(self.send_button)
        # Labels with their keys ("Send  Ctrl+Enter") where there is room; in a narrow pane the keys move to
        # the tooltips ("Send"), so the reply box never forces the window wider than a laptop screen.
        self._labels = {
            self.send_button: (self.send_button.text(), _("Send")),
            self.send_close_button: (self.send_close_button.text(), _("Send && close")),
        }
        for button, (_full, short) in self._labels.items():
            button.setText(short)
            button.setMinimumWidth(button.sizeHint().width())
        self._fit_button_labels()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.text_edit, 1)
        layout.addWidget(self.attachment_strip)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.channel_note)
        layout.addLayout(message_row)
        layout.addLayout(buttons)

        # Shortcuts for when focus is on a button or the combo; inside the text the key handler does it.
        for keys, close in (("Ctrl+Return", False), ("Ctrl+Enter", False)):
            shortcut = QShortcut(
                QKeySequence(keys), self, context=Qt.ShortcutContext.WidgetWithChildrenShortcut
            )
            shortcut.activated.connect(lambda close=close: self.send(close=close))
        for keys in ("Ctrl+Shift+Return", "Ctrl+Shift+Enter"):
            shortcut = QShortcut(
                QKeySequence(keys), self, context=Qt.ShortcutContext.WidgetWithChildrenShortcut
            )
            shortcut.activated.connect(lambda: self.send(close=True))

        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.flush_draft)
        self.setAcceptDrops(True)
        self.setFocusProxy(self.text_edit)  # focusing the reply box puts the cursor in its text
        self._set_enabled(False)

    # ------------------------------------------------------------------------------------- public API

    @property
    def conversation_id(self) -> int | None:
        return self._detail.summary.id if self._detail is not None else None

    @property
    def picker(self) -> CannedPicker | None:
        return self._picker

    def body(self) -> str:
        return self.text_edit.toPlainText()

    def language(self) -> str:
        return str(self.language_combo.currentData() or self._default_language)

    def attachments(self) -> list[dict[str, object]]:
        return [a.to_dict() for a in self._attachments]

    def set_online(self, online: bool) -> None:
        self._online = online

    def focus_text(self) -> bool:
        """Put the cursor in the reply text ("r", Enter on a conversation); False when there is none."""
        if self._detail is None or not self.text_edit.isEnabled():
            return False
        self.text_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        return True

    def set_conversation(self, detail: ConversationDetail | None) -> None:
        """Show ``detail``'s draft (saving the previous conversation's first); ``None`` empties the box.

        The same conversation again (the thread was refreshed by a sync) keeps the text, cursor and undo
        history as they are: only the data used for variables is updated.
        """
        if detail is not None and self._detail is not None and detail.summary.id == self._detail.summary.id:
            self._detail = detail
            return
        self.flush_draft()
        self._close_picker()
        self._dismissed_anchor = None  # an Esc in another conversation's text says nothing about this one
        self._detail = detail
        self._show_message("")
        self.undo_button.setVisible(
            self._last is not None and detail is not None and self._last.conversation_id == detail.summary.id
        )
        self._default_language = str(get_setting("default_language", "en"))
        self._agent_name = get_setting("agent_name")
        self._shop_name = get_setting("shop_name")
        self._address_problem = None
        if detail is None:
            self._load("", self._default_language, [])
            self._set_enabled(False)
            return
        self._address_problem = replies.recipient_problem(detail.summary.id)
        draft = replies.load_draft(detail.summary.id)
        language = (draft.language if draft and draft.language else None) or detail.summary.language
        attachments = [AttachmentRef.from_dict(a) for a in draft.attachments] if draft else []
        self._load(draft.body if draft else "", language or self._default_language, attachments)
        self._set_enabled(True)
        self._check_limits()

    def flush_draft(self) -> None:
        """Write the draft now if it changed (debounce timer, switch, close, quit)."""
        self._save_timer.stop()
        if not self._dirty or self._detail is None:
            return
        self._dirty = False
        conv_id = self._detail.summary.id
        try:
            replies.save_draft(conv_id, self.body(), language=self.language(), attachments=self.attachments())
        except Exception as exc:  # a draft that cannot be written must not take the window down; say so
            self._dirty = True  # tried again with the next change or switch
            if is_disk_full(exc):
                log.error("saving the draft of conversation %s failed: the disk is full", conv_id)
                text = _(
                    "The disk is full, so the draft could not be saved. Free some space; the text stays here."
                )
            else:
                log.exception("saving the draft of conversation %s failed", conv_id)
                text = _("The draft could not be saved; copy your text somewhere safe.")
            self._show_message(text, error=True)
            return
        self.draft_saved.emit(conv_id)

    def send(self, *, close: bool = False, scheduled_at: datetime | None = None) -> bool:
        """Queue the reply (persisted before anything leaves the machine). False when blocked."""
        if self._detail is None:
            return False
        self._close_picker()
        self._check_limits()
        if self._send_block is not None:  # the keys reach here even with the buttons disabled
            self._show_message("")  # the reason is already shown, once, above the buttons
            self.status_message.emit(self._send_block)
            return False
        body = self.body()
        if not body.strip():
            self._show_message(_("Write a reply first."), error=True)
            self.text_edit.setFocus()
            return False
        missing = find_unfilled(body)
        if missing:
            first = missing[0]
            if len(missing) == 1:
                text = _("Fill in {placeholder} before sending").format(placeholder=placeholder_text(first))
            else:
                text = _("Fill in {placeholder} and {count} more before sending").format(
                    placeholder=placeholder_text(first), count=len(missing) - 1
                )
            if any(span.name in SELLER_VARIABLES for span in missing):
                text += " " + _("(Your name and the shop's name can be set once under Tools ▸ Settings…)")
            self._show_message(text, error=True)
            self._select_span(first)
            return False
        conv_id = self._detail.summary.id
        self._save_timer.stop()
        try:
            queued = replies.queue_reply(
                conv_id,
                body,
                close=close,
                scheduled_at=scheduled_at,
                attachments=self.attachments(),
            )
        except ReplyError as exc:
            self._show_message(exc.user_message, error=True)
            return False
        except ReplyNotSaved as exc:  # nothing was queued: the text stays in the editor
            log.error("queueing the reply to conversation %s failed: %s", conv_id, exc)
            self._dirty = True  # and the draft is written again at the next chance
            self._show_message(
                _(
                    "The disk is full, so the reply was not queued. Your text stays here: free some space, then send."
                )
                if exc.disk_full
                else _(
                    "The reply could not be saved, so it was not queued. Your text stays here: try again."
                ),
                error=True,
            )
            return False
        outbox_id = queued.outbox_id
        self._last = _LastReply(
            conv_id, outbox_id, body, self.language(), list(self._attachments), queued.previous_status
        )
        self._load("", self.language(), [])  # queue_reply already dropped the stored draft
        if queued.demo:
            message = _("Demo account: the reply stays in the outbox and is not sent.")
        elif scheduled_at is not None:
            local = scheduled_at.astimezone(datetime.now().astimezone().tzinfo)
            message = _("Scheduled for {time}").format(time=format_datetime(local, "short", tz=local.tzinfo))
        elif self._online:
            message = _("Sending…")
        else:
            message = _("Queued — will send when online")
        self._show_message(message)
        self.undo_button.show()
        self.status_message.emit(message)
        self.reply_queued.emit(conv_id, outbox_id, close)
        return True

    def send_later(self, which: str) -> bool:
        """ "hour", "tomorrow" or "business" (the default of the Later button)."""
        if self._detail is None:
            return False
        return self.send(scheduled_at=self._later_times()[which])

    def cancel_last(self) -> bool:
        """Cancel the last queued reply if it has not started sending; its text comes back as a draft."""
        last = self._last
        if last is None:
            return False
        if not outbox.cancel(last.outbox_id):
            message = _("Too late to cancel: the reply is already on its way.")
            self._show_message(message, error=True)
            self.status_message.emit(message)
            return False
        self._last = None
        self.undo_button.hide()
        if last.previous_status is not None:
            conversations.set_status(last.conversation_id, Status(last.previous_status))
        if self.conversation_id == last.conversation_id and not self.body().strip():
            self._load(last.body, last.language, last.attachments)
            self._dirty = True
            self.flush_draft()
            self.text_edit.setFocus()
        elif replies.load_draft(last.conversation_id) is None:
            replies.save_draft(
                last.conversation_id,
                last.body,
                language=last.language,
                attachments=[a.to_dict() for a in last.attachments],
            )
        message = _("Reply cancelled: it is back in the draft.")
        self._show_message(message)
        self.status_message.emit(message)
        return True

    def add_files(self, paths: list[Path]) -> list[str]:
        """Attach files after checking the channel's limits; returns the refusal messages shown."""
        if self._detail is None:
            return []
        kind = self._detail.summary.channel_kind
        sizes: list[tuple[str, int]] = []
        errors: list[str] = []
        by_name: dict[str, Path] = {}
        for path in paths:
            try:
                size = path.stat().st_size
            except OSError as exc:
                errors.append(_("Cannot read “{name}”: {error}").format(name=path.name, error=exc.strerror))
                continue
            if not path.is_file():
                errors.append(_("“{name}” is a folder, not a file.").format(name=path.name))
                continue
            sizes.append((path.name, size))
            by_name[path.name] = path
        check = check_attachments(kind, [(a.name, a.size) for a in self._attachments], sizes)
        errors.extend(refusal_message(kind, r) for r in check.refused)
        for name, size in check.accepted:
            try:
                data = by_name[name].read_bytes()
                sha = self._blob_store().put(data)
            except (OSError, BlobStoreError) as exc:
                errors.append(_("Cannot attach “{name}”: {error}").format(name=name, error=exc))
                continue
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            self._attachments.append(AttachmentRef(name, size, sha, mime))
        if check.accepted:
            self._rebuild_strip()
            self._mark_dirty()
        self._show_message("\n".join(errors), error=bool(errors))
        return errors

    def remove_attachment(self, index: int) -> None:
        if 0 <= index < len(self._attachments):
            del self._attachments[index]
            self._rebuild_strip()
            self._mark_dirty()

    def select_placeholder(self, forward: bool = True) -> bool:
        """Select the next (or previous) unfilled placeholder after (before) the cursor, wrapping around."""
        spans = find_unfilled(self.body())
        if not spans:
            return False
        cursor = self.text_edit.textCursor()
        if forward:
            pos = cursor.selectionEnd()
            target = next((s for s in spans if s.start >= pos), spans[0])
        else:
            pos = cursor.selectionStart()
            target = next((s for s in reversed(spans) if s.end <= pos), spans[-1])
        self._select_span(target)
        return True

    def open_picker(self, manual: bool = True) -> None:
        """Open the canned-response popup at the cursor (Ctrl+Space); typing then filters it."""
        if self._detail is None:
            return
        self._picker_manual = manual
        self._picker_anchor = self.text_edit.textCursor().position()
        self._show_picker("")

    def insert_response(self, key: str) -> bool:
        """Replace the "/query" (or insert at the cursor) with the response rendered for this conversation."""
        response = next((r for r in self._responses if r.key == key), None)
        if response is None:  # inserted without the picker (a menu, a test): read the library now
            self._responses = canned.all_responses()
            response = next((r for r in self._responses if r.key == key), None)
        if response is None:
            return False
        values = self._values()
        try:
            lang, rendered = render_response(response, values, self.language(), self._default_language)
        except ValueError:
            self._show_message(_("“{title}” has no text yet.").format(title=response.title), error=True)
            return False
        cursor = self.text_edit.textCursor()
        anchor = self._picker_anchor if self._picker_anchor is not None else cursor.position()
        end = cursor.position()
        self._close_picker()
        cursor.setPosition(min(anchor, end))
        cursor.setPosition(max(anchor, end), QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(rendered.text)
        inserted_end = cursor.position()
        self.text_edit.setTextCursor(cursor)
        canned.record_use(key)
        if lang.split("-")[0].casefold() != self.language().split("-")[0].casefold():
            self._show_message(
                _("“{title}” has no {language} version: inserted {used}.").format(
                    title=response.title, language=language_name(self.language()), used=language_name(lang)
                )
            )
        else:
            self._show_message("")
        first = next((s for s in find_unfilled(self.body()) if s.start >= min(anchor, end)), None)
        if first is not None and first.start < inserted_end:
            self._select_span(first)
        return True

    # ------------------------------------------------------------------------------------ key handling

    def handle_key(self, event: QKeyEvent) -> bool:
        """Keys the text box does not handle itself; True when consumed."""
        key = event.key()
        mods = event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        picker = self._picker
        if picker is not None and picker.isVisible():
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                picker.move_selection(1 if key == Qt.Key.Key_Down else -1)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab) and not ctrl:
                picker.accept_current()
                return True
            if key == Qt.Key.Key_Escape:
                self._dismissed_anchor = self._picker_anchor
                self._close_picker()
                return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and ctrl:
            self.send(close=shift)
            return True
        if key == Qt.Key.Key_Space and ctrl:
            self.open_picker(manual=True)
            return True
        if key == Qt.Key.Key_Tab and not ctrl:
            if self.select_placeholder(True):
                return True
            self.text_edit.focusNextChild()
            return True
        if key == Qt.Key.Key_Backtab:
            if self.select_placeholder(False):
                return True
            self.text_edit.focusPreviousChild()
            return True
        return False

    # ---------------------------------------------------------------------------------------- internals

    def _blob_store(self) -> BlobStore:
        if self._blobs is None:
            self._blobs = open_profile_blobs()
        return self._blobs

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (
            self.text_edit,
            self.language_combo,
            self.send_button,
            self.send_close_button,
            self.later_button,
            self.attach_button,
        ):
            widget.setEnabled(enabled)
        if enabled:
            self._apply_send_block()
        self._apply_file_rule()

    def _apply_file_rule(self) -> None:
        """On a channel that takes no files (eBay: links only) Attach is off, and the box says why."""
        detail = self._detail
        links_only = detail is not None and not limits_for(detail.summary.channel_kind).uploads
        note = links_only_note(self._channel_label()) if links_only else None
        if links_only:
            self.attach_button.setEnabled(False)
        self.attach_button.setToolTip(note or attach_tip())
        self.attach_button.setAccessibleDescription(note or "")
        self.channel_note.setText(note or "")
        self.channel_note.setVisible(note is not None)

    def _apply_send_block(self) -> None:
        """Send, Send & close and Later are off while :attr:`_send_block` says why (in their tooltips)."""
        blocked = self._send_block is not None
        for button, tip in (
            (self.send_button, _("Send ({keys})").format(keys=native_key(SEND_KEYS))),
            (
                self.send_close_button,
                _("Send and close the conversation ({keys})").format(keys=native_key(SEND_CLOSE_KEYS)),
            ),
            (self.later_button, _("Send at the next business hour; the arrow offers other times")),
        ):
            button.setEnabled(self._detail is not None and not blocked)
            button.setToolTip(self._send_block if self._send_block is not None else tip)

    def _check_limits(self) -> None:
        """Check the text (and files) against the channel's limits; show the counter and what is wrong."""
        detail = self._detail
        if detail is None:
            self._send_block = None
            self.limit_label.hide()
            self.problem_label.hide()
            return
        kind = detail.summary.channel_kind
        body = self.body()
        limit = limits_for(kind).max_body_chars
        if len(body) >= limit * 0.8 or limit <= 10_000:
            self.limit_label.setText(characters_left_text(len(body), limit))
            over = len(body) > limit
            self.limit_label.setStyleSheet("color: #b3261e; font-weight: bold;" if over else "")
            tip = _("{count} characters in this reply; {channel} accepts at most {limit}.").format(
                count=format_number(len(body)), channel=self._channel_label(), limit=format_number(limit)
            )
            self.limit_label.setToolTip(tip)
            self.limit_label.setAccessibleName(tip)
            self.limit_label.show()
        else:
            self.limit_label.hide()
        problem = check_body(kind, body, [a.size for a in self._attachments])
        block: str | None = None
        if self._address_problem is not None:
            block = self._address_problem
        elif problem is not None:
            block = body_problem_message(self._channel_label(), problem[0], problem[1], len(body))
        self._send_block = block
        self.problem_label.setText(block or "")
        self.problem_label.setVisible(block is not None)
        if self.text_edit.isEnabled():
            self._apply_send_block()

    def _channel_label(self) -> str:
        kind = self._detail.summary.channel_kind if self._detail is not None else ""
        label = CHANNEL_LABELS.get(kind)
        return _(label) if label else kind

    def refuse_paste(self, length: int) -> None:
        """A paste larger than any channel takes is refused before it reaches the editor (it would freeze it)."""
        self._show_message(
            _("Not pasted: {count} characters is more than any channel accepts ({limit}).").format(
                count=format_number(length), limit=format_number(MAX_BODY_CHARS)
            ),
            error=True,
        )

    def _load(self, body: str, language: str, attachments: list[AttachmentRef]) -> None:
        self._loading = True
        try:
            self._fill_languages(language)
            self.text_edit.setPlainText(body)
            cursor = self.text_edit.textCursor()
            cursor.movePosition(QTextCursor.MoveOperation.End)
            self.text_edit.setTextCursor(cursor)
            self._attachments = list(attachments)
            self._rebuild_strip()
        finally:
            self._loading = False
        self._dirty = False

    def _fill_languages(self, language: str) -> None:
        codes = list(COMMON_LANGUAGES)
        for code in (language, self._default_language):
            if code and code not in codes:
                codes.append(code)
        self.language_combo.blockSignals(True)
        self.language_combo.clear()
        for code in codes:
            self.language_combo.addItem(f"{language_name(code)} ({code})", code)
        self.language_combo.setCurrentIndex(max(self.language_combo.findData(language), 0))
        self.language_combo.blockSignals(False)

    def _on_language_changed(self, _index: int) -> None:
        if not self._loading:
            self._mark_dirty()
            if self._picker is not None and self._picker.isVisible():
                self._picker.set_context(self._values(), self.language(), self._default_language)

    def _on_text_changed(self) -> None:
        if self._loading:
            return
        self._check_limits()
        self._mark_dirty()
        if self.undo_button.isVisible() and self.body().strip():
            self.undo_button.hide()
        self._update_picker()

    def _mark_dirty(self) -> None:
        if self._loading or self._detail is None:
            return
        self._dirty = True
        self._save_timer.start()

    def _values(self) -> dict[str, str | None]:
        return conversation_values(
            self._detail, self.language(), agent_name=self._agent_name, shop_name=self._shop_name
        )

    def _show_message(self, text: str, *, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))
        self.message_label.setStyleSheet("color: #b3261e; font-weight: bold;" if error else "")

    def _select_span(self, span: MissingSpan) -> None:
        cursor = self.text_edit.textCursor()
        cursor.setPosition(span.start)
        cursor.setPosition(span.end, QTextCursor.MoveMode.KeepAnchor)
        self.text_edit.setTextCursor(cursor)
        self.text_edit.setFocus()

    def _later_times(self) -> dict[str, datetime]:
        policy = office_policy()
        if self._detail is not None:
            policy = policy_for_conversation(self._detail.summary.id) or policy
        return later_times(datetime.now(UTC), policy, datetime.now().astimezone().tzinfo or policy.zone)

    def _fill_later_menu(self) -> None:
        self.later_menu.clear()
        times = self._later_times()
        labels = (
            ("business", _("Next business hour")),
            ("hour", _("In 1 hour")),
            ("tomorrow", _("Tomorrow at 9:00")),
        )
        local_tz = datetime.now().astimezone().tzinfo
        for key, label in labels:
            when = format_datetime(times[key].astimezone(local_tz), "short", tz=local_tz)
            action = QAction(_("{label} ({time})").format(label=label, time=when), self.later_menu)
            action.triggered.connect(lambda _checked=False, key=key: self.send_later(key))
            self.later_menu.addAction(action)
        self.later_menu.setDefaultAction(self.later_menu.actions()[0])

    def _choose_files(self) -> None:
        names, _filter = QFileDialog.getOpenFileNames(self, _("Attach files"))
        if names:
            self.add_files([Path(n) for n in names])

    def _rebuild_strip(self) -> None:
        while self._strip_layout.count() > 1:
            item = self._strip_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for index, att in enumerate(self._attachments):
            chip = QToolButton()
            chip.setText(_("{name} ({size})  ✕").format(name=att.name, size=format_size(att.size)))
            chip.setToolTip(_("Remove {name}").format(name=att.name))
            chip.setAccessibleName(_("Remove attachment {name}").format(name=att.name))
            chip.clicked.connect(lambda _checked=False, i=index: self.remove_attachment(i))
            self._strip_layout.insertWidget(index, chip)
        self.attachment_strip.setVisible(bool(self._attachments))
        self._check_limits()  # files count towards the message size

    # ----------------------------------------------------------------------------------- picker glue

    def _update_picker(self) -> None:
        if self._loading or self._detail is None:
            return
        cursor = self.text_edit.textCursor()
        if cursor.hasSelection():
            self._close_picker()
            return
        pos = cursor.position()
        if self._picker_manual and self._picker_anchor is not None:
            text = self.body()
            query = text[self._picker_anchor : pos]
            if pos < self._picker_anchor or "\n" in query or "\u2029" in query:
                self._close_picker()
                return
            self._show_picker(query)
            return
        before = cursor.block().text()[: cursor.positionInBlock()]
        match = _SLASH_RE.search(before)
        if match is None:
            self._dismissed_anchor = None
            self._close_picker()
            return
        anchor = cursor.block().position() + match.start(1) - 1
        if anchor == self._dismissed_anchor:
            return
        self._picker_anchor = anchor
        self._picker_manual = False
        self._show_picker(match.group(1))

    def _ensure_picker(self) -> CannedPicker:
        host = self.window()
        if self._picker is None or self._picker.parentWidget() is not host:
            if self._picker is not None:
                self._picker.deleteLater()
            self._picker = CannedPicker(host)
            self._picker.picked.connect(self.insert_response)
        return self._picker

    def _show_picker(self, query: str) -> None:
        picker = self._ensure_picker()
        if not picker.isVisible():
            self._responses = canned.all_responses()
            picker.set_responses(self._responses, canned.usage_counts())
            picker.set_context(self._values(), self.language(), self._default_language)
        picker.set_query(query)
        self._place_picker(picker)
        picker.show()
        picker.raise_()

    def _place_picker(self, picker: CannedPicker) -> None:
        host = picker.parentWidget()
        if host is None:
            return
        rect: QRect = self.text_edit.cursorRect()
        top_left = self.text_edit.viewport().mapTo(host, rect.topLeft())
        bottom_left = self.text_edit.viewport().mapTo(host, rect.bottomLeft())
        width = min(PICKER_SIZE[0], host.width() - 8)
        height = min(PICKER_SIZE[1], host.height() - 8)
        x = max(4, min(top_left.x(), host.width() - width - 4))
        # Above the whole reply box (the thread is the spare room, the header stays visible), else above
        # the cursor line, else below it.
        box_top = self.mapTo(host, QPoint(0, 0)).y()
        if box_top - height - 2 >= 0:
            y = box_top - height - 2
        elif top_left.y() - height - 2 >= 0:
            y = top_left.y() - height - 2
        else:
            y = max(min(bottom_left.y() + 2, host.height() - height - 4), 0)
        picker.setGeometry(QRect(QPoint(x, y), QSize(width, height)))

    def close_picker(self) -> None:
        """Hide the canned-response popup (focus left the text, the conversation changed…)."""
        self._close_picker()

    def _close_picker(self) -> None:
        if self._picker is not None and self._picker.isVisible():
            self._picker.hide()
        self._picker_manual = False
        self._picker_anchor = None

    # ---------------------------------------------------------------------------------------- Qt events

    def _fit_button_labels(self) -> None:
        """Keys on both buttons when they fit, else on Send only, else in the tooltips only."""
        spare = self.width() - sum(w.sizeHint().width() for w in (self.attach_button, self.later_button)) - 48

        def need(text: str) -> int:
            return self.send_button.fontMetrics().horizontalAdvance(text.replace("&&", "&")) + 32

        (send_full, send_short), (close_full, close_short) = self._labels.values()
        if spare >= need(send_full) + need(close_full):
            texts = (send_full, close_full)
        elif spare >= need(send_full) + need(close_short):
            texts = (send_full, close_short)
        else:
            texts = (send_short, close_short)
        for button, text in zip(self._labels, texts, strict=True):
            if button.text() != text:
                button.setText(text)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_button_labels()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.flush_draft()
        super().closeEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and self._detail is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            self.add_files(files)
            event.acceptProposedAction()
