"""The main window: sidebar | conversation list | conversation pane (thread over the reply box).

Layout only. :class:`~inbox_app.ui.controller.MainController` connects the signals, calls the store and owns
the logic; the window holds widgets, actions (each with its shortcut, listed in the menus so a mouse user
finds what a keyboard user types) and the status bar, and saves/restores its layout in a ``QSettings``.

Signals:
    try_demo_requested(): "Try the demo" (menu or empty-state button).
    add_account_requested(): "Add a mail account" (menu or empty-state button).
    search_text_changed(str): every edit of the search field (the controller debounces).
    overdue_link_activated(): the "⏰ N overdue" status bar label was clicked.
    outbox_link_activated(): the "Outbox …" status bar label was clicked (or Conversation ▸ Outbox…).
    closing(): the window is about to close (save state now).
"""

from __future__ import annotations

import html
from collections.abc import Callable

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QTextDocumentFragment
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inbox_app.domain.deadlines import Urgency
from inbox_app.domain.views import STATUS_VIEWS, VIEW_LABELS, View
from inbox_app.i18n import _, format_number, ngettext
from inbox_app.ui import icons
from inbox_app.ui.conversation_list import ConversationList
from inbox_app.ui.conversation_model import urgency_color
from inbox_app.ui.keys import extra_shortcuts, native_key
from inbox_app.ui.reconnect_banner import ReconnectBanner
from inbox_app.ui.search_completer import LastWordCompleter
from inbox_app.ui.sidebar import Sidebar
from inbox_app.ui.thread_view import ThreadView

SETTINGS_VERSION = 1
#: Actions whose shortcut is a plain key (no Ctrl/Alt): never fired while a text field has the focus.
SINGLE_KEY_ACTIONS = frozenset(
    {
        "next",
        "previous",
        "reply",
        "close",
        "pending",
        "snooze",
        "reopen",
        "mark_unread",
        "shortcuts",
        "search",
    }
)


class EmptyState(QFrame):
    """First run: invite the seller to add a mail account or try the demo, never a blank grid."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        logo = QLabel(self)
        logo.setPixmap(icons.app_icon().pixmap(QSize(96, 96)))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel(_("All your customer messages in one place"), self)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel(
            _(
                "Connect the mailbox where Amazon, eBay and your shop send buyer messages, and every "
                "conversation shows up here with the time left to answer it. Not ready yet? Look around "
                "in a demo inbox first."
            ),
            self,
        )
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setFixedWidth(480)  # a wrapped label under a centring layout needs a width to wrap at
        text.setMinimumHeight(text.heightForWidth(480))
        buttons = QHBoxLayout()
        self.add_account_button = QPushButton(_("Add a mail account"), self)
        self.add_account_button.setDefault(True)
        self.try_demo_button = QPushButton(_("Try the demo"), self)
        buttons.addStretch(1)
        buttons.addWidget(self.add_account_button)
        buttons.addWidget(self.try_demo_button)
        buttons.addStretch(1)
        # the marketplaces without any account: their loopback sandboxes, synced for real (demo --live)
        self.live_demo_check = QCheckBox(
            _("Start the live demo (loopback sandboxes of every marketplace)"), self
        )
        self.live_demo_check.setObjectName("liveDemoCheck")
        self.live_demo_status = QLabel(self)
        self.live_demo_status.setObjectName("liveDemoStatus")
        self.live_demo_status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.live_demo_status.setWordWrap(True)
        layout.addWidget(logo)
        layout.addSpacing(8)
        layout.addWidget(title)
        layout.addWidget(text, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(12)
        layout.addLayout(buttons)
        layout.addSpacing(8)
        layout.addWidget(self.live_demo_check, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.live_demo_status)
        layout.addStretch(3)


class AccountBanner(QFrame):
    """A thin bar above the list for an account in trouble: "shop@…: server not found — Retry · Edit".

    One line per account with a problem (the newest message of each); hidden when every account is fine.
    Signals: retry_requested(int account_id), edit_requested(int account_id).
    """

    retry_requested = Signal(int)
    edit_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("accountBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        color = urgency_color(Urgency.DUE_SOON)
        tint = color.name() if color is not None else "#a35200"
        self.setStyleSheet(f"#accountBanner {{ border: 1px solid {tint}; border-radius: 3px; }}")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(6, 3, 6, 3)
        self._layout.setSpacing(2)
        self._rows: dict[int, tuple[QWidget, QLabel]] = {}
        self.hide()

    def show_problem(self, account_id: int, name: str, message: str) -> None:
        if account_id not in self._rows:
            row = QWidget(self)
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            icon = QLabel(row)
            size = self.fontMetrics().height()
            icon.setPixmap(icons.urgency_icon(Urgency.DUE_SOON).pixmap(QSize(size, size)))
            label = QLabel(row)
            label.setObjectName(f"accountProblem_{account_id}")
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            retry = QPushButton(_("Retry"), row)
            retry.setObjectName(f"retryAccount_{account_id}")
            retry.clicked.connect(lambda: self.retry_requested.emit(account_id))
            edit = QPushButton(_("Edit account…"), row)
            edit.setObjectName(f"editAccount_{account_id}")
            edit.clicked.connect(lambda: self.edit_requested.emit(account_id))
            line.addWidget(icon)
            line.addWidget(label, 1)
            line.addWidget(retry)
            line.addWidget(edit)
            self._layout.addWidget(row)
            self._rows[account_id] = (row, label)
        self._rows[account_id][1].setText(_("{account}: {problem}").format(account=name, problem=message))
        self.show()

    def clear_problem(self, account_id: int) -> None:
        entry = self._rows.pop(account_id, None)
        if entry is not None:
            entry[0].deleteLater()
        self.setVisible(bool(self._rows))

    def problems(self) -> dict[int, str]:
        """Account id → the text shown (tests, screen readers)."""
        return {aid: label.text() for aid, (_row, label) in self._rows.items()}


class MainWindow(QMainWindow):
    """Three panes in splitters, menus mirroring every shortcut, and a truthful status bar."""

    try_demo_requested = Signal()
    live_demo_requested = Signal()  # the first-run screen's "Start the live demo" was checked
    add_account_requested = Signal()
    add_marketplace_requested = Signal()  # "Add a marketplace account" (Mirakl…)
    search_text_changed = Signal(str)
    overdue_link_activated = Signal()
    outbox_link_activated = Signal()
    closing = Signal()

    def __init__(
        self,
        *,
        on_try_demo: Callable[[], object] | None = None,
        on_add_account: Callable[[], object] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle(_("Inbox"))
        self.setWindowIcon(icons.app_icon())
        self.actions_by_name: dict[str, QAction] = {}
        self.view_actions: dict[str, QAction] = {}
        self._reply_widget: QWidget | None = None

        # Left: views.
        self.sidebar = Sidebar(self)
        # Middle: search over the list.
        self.search = QLineEdit(self)
        self.search.setObjectName("searchField")
        self.search.setPlaceholderText(_("Search messages, customers, order numbers…"))
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.search_text_changed)
        self.search_completer = LastWordCompleter(self.search)
        # Under the box: why a query cannot be understood (unknown filter, bad date, open quote).
        self.search_error = QLabel(self)
        self.search_error.setObjectName("searchError")
        self.search_error.setWordWrap(True)
        error_color = urgency_color(Urgency.OVERDUE)
        if error_color is not None:
            self.search_error.setStyleSheet(f"color: {error_color.name()}")
        self.search_error.setVisible(False)
        self.conversation_list = ConversationList(self)
        self.account_banner = AccountBanner(self)
        self.reconnect_banner = ReconnectBanner(self)  # "eBay (Shop) needs you to sign in again · Reconnect"
        list_box = QWidget(self)
        list_layout = QVBoxLayout(list_box)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.setSpacing(4)
        list_layout.addWidget(self.reconnect_banner)
        list_layout.addWidget(self.account_banner)
        list_layout.addWidget(self.search)
        list_layout.addWidget(self.search_error)
        list_layout.addWidget(self.conversation_list, 1)
        # Right: thread over the reply slot.
        self.thread_view = ThreadView(self)
        self.reply_slot = QWidget(self)
        self.reply_slot.setObjectName("replySlot")
        self._reply_layout = QVBoxLayout(self.reply_slot)
        self._reply_layout.setContentsMargins(0, 0, 0, 0)
        self.reply_slot.setVisible(False)
        self.pane_splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.pane_splitter.setObjectName("paneSplitter")
        self.pane_splitter.addWidget(self.thread_view)
        self.pane_splitter.addWidget(self.reply_slot)
        self.pane_splitter.setStretchFactor(0, 3)
        self.pane_splitter.setStretchFactor(1, 1)
        self.pane_splitter.setChildrenCollapsible(False)

        self.content_splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.content_splitter.setObjectName("contentSplitter")
        self.content_splitter.addWidget(list_box)
        self.content_splitter.addWidget(self.pane_splitter)
        # The list gets the larger share: its subject column takes whatever the fitted columns leave.
        self.content_splitter.setStretchFactor(0, 3)
        self.content_splitter.setStretchFactor(1, 2)
        self.content_splitter.setChildrenCollapsible(False)

        self.empty_state = EmptyState(self)
        self.empty_state.try_demo_button.clicked.connect(self.try_demo_requested)
        self.empty_state.add_account_button.clicked.connect(self.add_account_requested)
        self.empty_state.live_demo_check.toggled.connect(
            lambda on: self.live_demo_requested.emit() if on else None
        )
        self.content_stack = QStackedWidget(self)
        self.content_stack.addWidget(self.content_splitter)
        self.content_stack.addWidget(self.empty_state)

        self.main_splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.main_splitter.setObjectName("mainSplitter")
        self.main_splitter.addWidget(self.sidebar)
        self.main_splitter.addWidget(self.content_stack)
        self.main_splitter.setStretchFactor(0, 0)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setChildrenCollapsible(False)
        self.sidebar.setMinimumWidth(150)
        self.setCentralWidget(self.main_splitter)

        self._build_actions()
        self._build_menus()
        self._build_status_bar()
        self.conversation_list.set_context_actions(
            [
                self.actions_by_name["reply"],
                None,
                self.actions_by_name["close"],
                self.actions_by_name["pending"],
                self.snooze_menu.menuAction(),
                self.actions_by_name["reopen"],
                None,
                self.actions_by_name["mark_unread"],
            ]
        )
        self.resize(1280, 760)
        self.main_splitter.setSizes([190, 1090])
        self.content_splitter.setSizes([620, 470])
        if on_try_demo is not None:
            self.try_demo_requested.connect(on_try_demo)
        if on_add_account is not None:
            self.add_account_requested.connect(on_add_account)

    # ---------------------------------------------------------------------------------- actions
    def _action(
        self,
        name: str,
        text: str,
        shortcut: str | QKeySequence | QKeySequence.StandardKey | None = None,
        **kw: object,
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(f"action_{name}")
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if kw.get("checkable"):
            action.setCheckable(True)
        tip = kw.get("tip")
        if isinstance(tip, str):
            action.setStatusTip(tip)
        if name in SINGLE_KEY_ACTIONS:
            # A plain letter is text wherever the seller can type (reply box, search field, dialogs): it is
            # a shortcut only while the focus is in the sidebar, the list or the reading pane.
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            for widget in self._triage_widgets():
                widget.addAction(action)
        else:
            self.addAction(action)  # shortcuts work even when the menu bar is hidden
        self.actions_by_name[name] = action
        return action

    def _triage_widgets(self) -> list[QWidget]:
        """Where single-key shortcuts work: the panes that never take typed text."""
        return [self.sidebar, self.conversation_list, self.thread_view]

    def _build_actions(self) -> None:
        a = self._action
        a("add_account", _("Add a &mail account…"))
        a("add_marketplace", _("Add a mar&ketplace account…"))
        a("try_demo", _("Try the &demo"))
        a("quit", _("&Quit"), QKeySequence.StandardKey.Quit)
        a("undo", _("&Undo"), QKeySequence.StandardKey.Undo)
        redo = a("redo", _("&Redo"), "Ctrl+Shift+Z")
        redo.setShortcuts(_with_platform_keys(QKeySequence("Ctrl+Shift+Z"), QKeySequence.StandardKey.Redo))
        a("find", _("&Find"), QKeySequence.StandardKey.Find)
        # "/" as in mail and chat tools: from the list or the reading pane straight into the search box.
        a("search", _("Sea&rch"), "/")
        a("refresh", _("&Refresh"), QKeySequence.StandardKey.Refresh)
        a(
            "save_search",
            _("&Save search…"),
            "Ctrl+Shift+S",
            tip=_("Keep this search in the sidebar, with its count"),
        )
        a("sort_reverse", _("Least urgent &first"), checkable=True)
        a("plain_text", _("&Plain text"), "Ctrl+Shift+T", checkable=True)
        a("next", _("&Next conversation"), "J")
        a("previous", _("&Previous conversation"), "K")
        a("reply", _("&Reply"), "R")
        a("outbox", _("&Outbox…"), "Ctrl+Shift+O", tip=_("Replies waiting to be sent, sent and failed"))
        a("close", _("&Close"), "E", tip=_("Done: remove it from the open list"))
        a("pending", _("&Pending"), "P", tip=_("Waiting on the customer: stops the clock"))
        a("snooze", _("&Snooze…"), "S")
        a("reopen", _("Re&open"), "O")
        a("mark_unread", _("Mark &unread"), "U")
        a("no_response", _("&No response needed"))
        a("canned_manager", _("Canned &responses…"))
        a("policies", _("Response &deadlines…"))
        a(
            "reports",
            _("R&eports…"),
            tip=_("Response times and late responses per channel, account, language"),
        )
        a(
            "settings",
            _("&Settings…"),
            tip=_("Your name, the shop's name, when a conversation counts as read"),
        )
        a("shortcuts", _("&Keyboard shortcuts"), "?")
        a("about", _("&About"))
        self.actions_by_name["add_account"].triggered.connect(self.add_account_requested)
        self.actions_by_name["add_marketplace"].triggered.connect(self.add_marketplace_requested)
        self.actions_by_name["try_demo"].triggered.connect(self.try_demo_requested)
        self.actions_by_name["quit"].triggered.connect(self.close)
        self.actions_by_name["find"].triggered.connect(self.focus_search)
        self.actions_by_name["search"].triggered.connect(self.focus_search)
        self.actions_by_name["next"].triggered.connect(lambda: self.conversation_list.move_selection(1))
        self.actions_by_name["previous"].triggered.connect(lambda: self.conversation_list.move_selection(-1))
        self.actions_by_name["plain_text"].toggled.connect(self.thread_view.set_plain_text)
        self.thread_view.plain_button.toggled.connect(self.actions_by_name["plain_text"].setChecked)
        self.actions_by_name["shortcuts"].triggered.connect(self.show_shortcuts)
        self.actions_by_name["outbox"].triggered.connect(self.outbox_link_activated)
        for number, kind in enumerate(STATUS_VIEWS, start=1):
            action = self._action(f"view_{kind.value}", _(VIEW_LABELS[kind]), f"Ctrl+{number}")
            action.setData(View(kind).key)
            self.view_actions[View(kind).key] = action
            view = View(kind)
            action.triggered.connect(lambda _checked=False, v=view: self.sidebar.select_view(v))

    def _build_menus(self) -> None:
        bar = self.menuBar()
        by = self.actions_by_name
        file_menu = bar.addMenu(_("&File"))
        file_menu.addActions([by["add_account"], by["add_marketplace"], by["try_demo"]])
        self.accounts_menu = QMenu(_("&Accounts"), self)  # Edit…/Remove… per account, filled when opened
        self.accounts_menu.setObjectName("accountsMenu")
        file_menu.addMenu(self.accounts_menu)
        file_menu.addSeparator()
        file_menu.addAction(by["quit"])
        edit_menu = bar.addMenu(_("&Edit"))
        edit_menu.addActions([by["undo"], by["redo"]])
        edit_menu.addSeparator()
        edit_menu.addActions([by["find"], by["search"], by["save_search"]])
        view_menu = bar.addMenu(_("&View"))
        view_menu.addActions(list(self.view_actions.values()))
        view_menu.addSeparator()
        view_menu.addActions([by["sort_reverse"], by["plain_text"], by["refresh"]])
        conv_menu = bar.addMenu(_("&Conversation"))
        conv_menu.addActions([by["next"], by["previous"], by["reply"], by["outbox"]])
        conv_menu.addSeparator()
        conv_menu.addActions([by["close"], by["pending"]])
        self.snooze_menu = QMenu(_("&Snooze"), self)
        self.snooze_menu.setObjectName("snoozeMenu")
        conv_menu.addMenu(self.snooze_menu)
        conv_menu.addActions([by["reopen"], by["mark_unread"]])
        conv_menu.addSeparator()
        conv_menu.addAction(by["no_response"])
        tools_menu = bar.addMenu(_("&Tools"))
        tools_menu.addActions([by["canned_manager"], by["policies"], by["reports"], by["settings"]])
        help_menu = bar.addMenu(_("&Help"))
        help_menu.addActions([by["shortcuts"], by["about"]])

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.online_label = QLabel(self)
        self.online_label.setObjectName("onlineLabel")
        self.sync_label = QLabel(self)
        self.sync_label.setObjectName("syncLabel")
        self.outbox_label = QLabel(self)
        self.outbox_label.setObjectName("outboxLabel")
        self.outbox_label.setTextFormat(Qt.TextFormat.RichText)
        self.outbox_label.setToolTip(_("Show the outbox"))
        self.outbox_label.linkActivated.connect(lambda _link: self.outbox_link_activated.emit())
        self.overdue_label = QLabel(self)
        self.overdue_label.setObjectName("overdueLabel")
        self.overdue_label.setTextFormat(Qt.TextFormat.RichText)
        self.overdue_label.linkActivated.connect(lambda _link: self.overdue_link_activated.emit())
        status.addWidget(self.online_label)
        status.addWidget(self.sync_label, 1)
        status.addPermanentWidget(self.outbox_label)
        status.addPermanentWidget(self.overdue_label)
        self.set_online(True)
        self.set_sync_status({})
        self.set_outbox_count(0)
        self.set_overdue_count(0)

    # ------------------------------------------------------------------------------ public layout
    def set_reply_widget(self, widget: QWidget | None) -> None:
        """Dock the reply editor under the thread (None removes it)."""
        if self._reply_widget is not None:
            self._reply_layout.removeWidget(self._reply_widget)
            self._reply_widget.setParent(None)
        self._reply_widget = widget
        if widget is not None:
            self._reply_layout.addWidget(widget)
        self.reply_slot.setVisible(widget is not None)

    def reply_widget(self) -> QWidget | None:
        return self._reply_widget

    def show_empty_state(self, empty: bool) -> None:
        self.content_stack.setCurrentWidget(self.empty_state if empty else self.content_splitter)

    def is_empty_state(self) -> bool:
        return self.content_stack.currentWidget() is self.empty_state

    def show_search_error(self, message: str | None) -> None:
        """Say under the search box why the query cannot be understood (None: hide it)."""
        self.search_error.setText(_("⚠ {message}").format(message=message) if message else "")
        self.search_error.setVisible(bool(message))

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # -------------------------------------------------------------------------------- status bar
    def set_online(self, online: bool) -> None:
        self.online_label.setText("● " + _("Online") if online else "○ " + _("Offline"))
        self.online_label.setToolTip(
            _("Connected") if online else _("No network: replies wait in the outbox and send when online")
        )

    def set_sync_status(self, per_account: dict[str, str]) -> None:
        """One short text per account ("shop@… up to date", "Amazon relay 2 new")."""
        if not per_account:
            self.sync_label.setText("")
            return
        parts = [f"{name}: {text}" for name, text in per_account.items()]
        self.sync_label.setText(_("Sync") + " — " + " · ".join(parts))

    def set_outbox_count(self, count: int, *, offline: bool = False, failed: int = 0, held: int = 0) -> None:
        """ "Outbox 2 queued (offline) · 1 failed · 1 held" as a link that opens the outbox; failures in red,
        replies held by the collision check in amber."""
        if count == 0:
            text = _("Outbox empty")
        else:
            text = ngettext("Outbox {n} queued", "Outbox {n} queued", count).format(n=format_number(count))
            text += (" " + _("(offline)")) if offline else ""
        link = f"<a href='outbox' style='text-decoration:none'>{html.escape(text)}</a>"
        if failed:
            failed_text = ngettext("{n} failed", "{n} failed", failed).format(n=format_number(failed))
            overdue_color = urgency_color(Urgency.OVERDUE)
            color = overdue_color.name() if overdue_color is not None else "red"
            link += (
                f" · <a href='outbox' style='color:{color};font-weight:bold;text-decoration:none'>"
                f"{html.escape(failed_text)}</a>"
            )
        if held:
            held_text = ngettext("{n} held", "{n} held", held).format(n=format_number(held))
            soon_color = urgency_color(Urgency.DUE_SOON)
            color = soon_color.name() if soon_color is not None else "orange"
            link += (
                f" · <a href='outbox' style='color:{color};font-weight:bold;text-decoration:none'>"
                f"{html.escape(held_text)}</a>"
            )
        self.outbox_label.setText(link)

    def outbox_text(self) -> str:
        """The outbox label as plain text (what a screen reader says)."""
        return QTextDocumentFragment.fromHtml(self.outbox_label.text()).toPlainText()

    def set_overdue_count(self, count: int) -> None:
        if count == 0:
            self.overdue_label.setText(_("Nothing overdue"))
            return
        text = ngettext("{n} overdue", "{n} overdue", count).format(n=format_number(count))
        icon = icons.icon_path("urgency/overdue.svg").as_uri()
        size = self.overdue_label.fontMetrics().height() - 2
        overdue_color = urgency_color(Urgency.OVERDUE)
        color = overdue_color.name() if overdue_color is not None else "red"
        self.overdue_label.setText(
            f"<img src='{icon}' width='{size}' height='{size}'>&nbsp;"
            f"<a href='overdue' style='color:{color};font-weight:bold;text-decoration:none'>{text}</a>"
        )
        self.overdue_label.setToolTip(_("Show the overdue conversations"))

    def overdue_text(self) -> str:
        return self.overdue_label.text()

    # ----------------------------------------------------------------------------------- dialogs
    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(what it does, key) for every shortcut: the window's actions, then the keys of the list and the
        reply box that are not actions (Enter, /, Ctrl+Space, Tab, Ctrl+Enter…). Keys in the platform's notation.
        """
        view_names = {
            action: name for name, action in self.actions_by_name.items() if name.startswith("view_")
        }
        rows: list[tuple[str, str]] = []
        for action in self.actions_by_name.values():
            if action.shortcut().isEmpty():
                continue
            text = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
            if action in view_names:  # "Pending" the view, not "Pending" the status change
                text = _("Show the view “{view}”").format(view=text)
            rows.append((text, native_key(action.shortcut())))
        rows += [(text, native_key(QKeySequence(keys))) for text, keys in extra_shortcuts()]
        return rows

    def show_shortcuts(self) -> None:
        """List every action with its shortcut (what "?" promises)."""
        dialog = QDialog(self)
        dialog.setObjectName("shortcutsDialog")
        dialog.setWindowTitle(_("Keyboard shortcuts"))
        rows = self.shortcut_rows()
        table = QTableWidget(len(rows), 2, dialog)
        table.setObjectName("shortcutsTable")
        table.setHorizontalHeaderLabels([_("Action"), _("Shortcut")])
        table.verticalHeader().setVisible(False)
        for row, (name, key) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(name))
            table.setItem(row, 1, QTableWidgetItem(key))
        table.resizeColumnsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(table)
        layout.addWidget(buttons)
        dialog.resize(420, 520)
        dialog.open()

    # ---------------------------------------------------------------------------------- settings
    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("window/version", SETTINGS_VERSION)
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState(SETTINGS_VERSION))
        settings.setValue("window/main_splitter", self.main_splitter.saveState())
        settings.setValue("window/content_splitter", self.content_splitter.saveState())
        settings.setValue("window/pane_splitter", self.pane_splitter.saveState())
        settings.setValue("list/header", self.conversation_list.horizontalHeader().saveState())
        settings.setValue("list/reverse", self.actions_by_name["sort_reverse"].isChecked())
        settings.setValue("thread/plain_text", self.actions_by_name["plain_text"].isChecked())
        settings.sync()

    def restore_settings(self, settings: QSettings) -> None:
        def blob(key: str) -> QByteArray | None:
            value = settings.value(key)
            return value if isinstance(value, QByteArray) and not value.isEmpty() else None

        if (geometry := blob("window/geometry")) is not None:
            self.restoreGeometry(geometry)
        else:
            self._fit_first_run_size()
        if (state := blob("window/state")) is not None:
            self.restoreState(state, SETTINGS_VERSION)
        for key, splitter in (
            ("window/main_splitter", self.main_splitter),
            ("window/content_splitter", self.content_splitter),
            ("window/pane_splitter", self.pane_splitter),
        ):
            if (data := blob(key)) is not None:
                splitter.restoreState(data)
        if (header := blob("list/header")) is not None:
            self.conversation_list.horizontalHeader().restoreState(header)
        self.actions_by_name["sort_reverse"].setChecked(_to_bool(settings.value("list/reverse", False)))
        self.actions_by_name["plain_text"].setChecked(_to_bool(settings.value("thread/plain_text", False)))

    def _fit_first_run_size(self) -> None:
        """First start: fill a laptop screen (1366×768) and stay comfortable on a large one."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        available = screen.availableGeometry()
        width = min(max(1280, int(available.width() * 0.85)), available.width())
        height = min(max(760, int(available.height() * 0.85)), available.height() - 40)  # room for the frame
        self.resize(width, height)
        self.move(available.center().x() - width // 2, available.center().y() - height // 2)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closing.emit()
        super().closeEvent(event)


def _to_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _with_platform_keys(first: QKeySequence, standard: QKeySequence.StandardKey) -> list[QKeySequence]:
    """``first`` (the key shown in the menu and the "?" list), then the platform's own keys for the same
    action (Ctrl+Y for Redo on Windows), without doubles."""
    keys = [first]
    for key in QKeySequence.keyBindings(standard):
        if key not in keys:
            keys.append(key)
    return keys
