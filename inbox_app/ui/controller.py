"""The main window's logic: what happens when the seller picks a view, searches, reads, closes or undoes.

The window and its widgets are layout; this object connects their signals, calls the services and decides
what to refresh. Work that can take more than a few milliseconds on a big profile (a view's ids, a search,
the sidebar counts) runs on one worker thread (:class:`BackgroundRunner`): one worker keeps SQLite access
serialized, and results come back to the UI thread through a queued Qt signal. Each kind of work has a "key";
only the latest request per key is delivered ("latest wins", which is what search-as-you-type needs).

Status changes are quick single-row writes done on the UI thread, pushed on a ``QUndoStack`` so Ctrl+Z brings
a closed conversation back (the event log records both the change and the undo).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from inbox_app.domain.conversations import AttachmentView, ConversationDetail, Status
from inbox_app.domain.views import View, ViewKind
from inbox_app.i18n import _, format_number, format_time, ngettext
from inbox_app.profile import Profile
from inbox_app.services import account_states, accounts, attachments, conversations, outbox
from inbox_app.services import search as search_service
from inbox_app.services.account_states import AccountState
from inbox_app.services.attachments import BlobCorruptError, BlobNotFoundError
from inbox_app.services.conversations import ConversationState, sidebar_sources
from inbox_app.services.settings import mark_read_delay
from inbox_app.ui.conversation_model import ConversationListModel, local_zone
from inbox_app.ui.customer_panel import CustomerActions
from inbox_app.ui.main_window import MainWindow
from inbox_app.ui.reconnect_banner import AccountTrouble
from inbox_app.ui.saved_searches import SavedSearches

if TYPE_CHECKING:
    from inbox_app.ui.outbox_dialog import OutboxDialog
    from inbox_app.ui.reports_window import ReportsWindow

log = logging.getLogger("inbox_app.ui")

SEARCH_DEBOUNCE_MS = 150
OUTBOX_KEY = "outbox"  # extra entry in the counts dict: replies waiting in the outbox
OUTBOX_FAILED_KEY = "outbox_failed"  # extra entry in the counts dict: replies that failed for good
OUTBOX_HELD_KEY = "outbox_held"  # replies the collision check held for the seller
ACCOUNTS_KEY = "accounts"  # extra entry in the counts dict: how many accounts exist (first run when none)
DEFAULT_VIEW = View(ViewKind.OPEN)

Confirm = Callable[[str, str], bool]


class BackgroundRunner(QObject):
    """Runs callables on a single worker thread and delivers results on the UI thread, latest per key."""

    _finished = Signal(object)

    def __init__(self, executor: ThreadPoolExecutor | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-ui-store")
        self._generation: dict[str, int] = {}
        self._futures: dict[str, Future[Any]] = {}
        self._busy = 0
        self._stopped = False
        self._finished.connect(self._deliver)

    def run(
        self,
        key: str,
        work: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        if self._stopped:
            return
        generation = self._generation.get(key, 0) + 1
        self._generation[key] = generation
        previous = self._futures.pop(key, None)
        if previous is not None and previous.cancel():
            self._busy -= 1
        self._busy += 1
        future = self._executor.submit(work)
        self._futures[key] = future
        future.add_done_callback(
            lambda f: (
                self._finished.emit((key, generation, f, on_done, on_error)) if not f.cancelled() else None
            )
        )

    def busy(self) -> bool:
        """Whether some work has not been delivered yet (tests wait on this)."""
        return self._busy > 0

    def _deliver(self, payload: tuple[str, int, Future[Any], Callable[[Any], None], Any]) -> None:
        key, generation, future, on_done, on_error = payload
        self._busy -= 1
        if self._futures.get(key) is future:
            del self._futures[key]
        if self._generation.get(key) != generation:
            return  # a newer request of the same kind superseded this one
        try:
            result = future.result()
        except Exception as exc:  # one place that reports background failures
            log.exception("background work %s failed", key)
            if on_error is not None:
                on_error(exc)
            return
        on_done(result)

    def shutdown(self, final: Callable[[], object] | None = None) -> None:
        """Stop the worker; ``final`` runs last on it (e.g. to close its database connection). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if final is not None:
            self._executor.submit(final)
        self._executor.shutdown(wait=True, cancel_futures=False)


@dataclass(frozen=True)
class _StatusChange:
    conversation_id: int
    old_status: str
    old_snoozed_until: datetime | None
    new_status: Status
    new_snoozed_until: datetime | None


class StatusCommand(QUndoCommand):
    """One status change (close, pending, snooze, reopen) that Ctrl+Z can revert."""

    def __init__(self, controller: MainController, change: _StatusChange, text: str) -> None:
        super().__init__(text)
        self._controller = controller
        self._change = change

    def redo(self) -> None:
        self._controller.write_status(
            self._change.conversation_id,
            self._change.new_status,
            self._change.new_snoozed_until,
            actor="user",
        )

    def undo(self) -> None:
        self._controller.write_status(
            self._change.conversation_id,
            Status(self._change.old_status),
            self._change.old_snoozed_until,
            actor="undo",
        )


def snooze_choices(now_local: datetime) -> list[tuple[str, datetime]]:
    """Snooze targets in local time: later today, tomorrow morning, next Monday morning."""
    morning = time(9, 0)
    tomorrow = datetime.combine(now_local.date() + timedelta(days=1), morning, now_local.tzinfo)
    days_to_monday = (7 - now_local.weekday()) % 7 or 7
    monday = datetime.combine(now_local.date() + timedelta(days=days_to_monday), morning, now_local.tzinfo)
    return [
        (_("For 3 hours"), now_local + timedelta(hours=3)),
        (_("Until tomorrow morning"), tomorrow),
        (_("Until next Monday"), monday),
    ]


class MainController(QObject):
    """Owns the main window's behaviour (see the module docstring).

    Signals:
        conversation_shown(object): the id now in the reading pane, or None.
        counts_updated(dict): view key -> count, after each refresh of the sidebar counts.
        rows_shown(): the list shows the first rows of a view or a search result (its first page, or all of
            it when that is short); the rest may still be on its way.
        ids_loaded(): the list finished loading a view or a search result (every row is in it).
        wake_outbox_requested(): a reply was put back in the queue ("Retry now"); the app connects this to
            the sync engine's ``wake_outbox`` so it is delivered at once.
        edit_account_requested(int) / remove_account_requested(int): the seller chose Edit…/Remove… for an
            account (sidebar, File ▸ Accounts, the problem banner); the app opens the dialog.
        retry_sync_requested(): "Retry" on the problem banner; the app restarts the engine's loops now.
    """

    conversation_shown = Signal(object)
    counts_updated = Signal(dict)
    rows_shown = Signal()
    ids_loaded = Signal()
    wake_outbox_requested = Signal()
    edit_account_requested = Signal(int)
    remove_account_requested = Signal(int)
    retry_sync_requested = Signal()
    attachment_saved = Signal(str)  # a downloaded marketplace attachment was saved here
    _change_event = Signal(object)  # queued hop from the sync engine's thread to the UI thread

    def __init__(
        self,
        profile: Profile,
        *,
        window: MainWindow | None = None,
        now_fn: Callable[[], datetime] | None = None,
        on_try_demo: Callable[[], object] | None = None,
        on_add_account: Callable[[], object] | None = None,
        confirm: Confirm | None = None,
        executor: ThreadPoolExecutor | None = None,
        reply_widget: QWidget | None = None,
    ) -> None:
        super().__init__()
        self.profile = profile
        self.now_fn: Callable[[], datetime] = now_fn or (lambda: datetime.now(UTC))
        self.window = window or MainWindow()
        self.settings = QSettings(str(profile.root / "ui.ini"), QSettings.Format.IniFormat)
        self.runner = BackgroundRunner(executor, self)
        self.account_trouble = AccountTrouble(
            self.window.reconnect_banner,
            self.window.sidebar.set_account_badges,
            self.runner.run,
            self,
            clear_other_problem=self.window.account_banner.clear_problem,
        )
        self.undo_stack = QUndoStack(self.window)  # dies with the window and its actions
        self.confirm: Confirm = confirm or self._ask
        self.model = ConversationListModel(now_fn=self.now_fn, parent=self)
        self.window.conversation_list.setModel(self.model)
        self._current_id: int | None = None
        self._inline_tried: set[str] = set()  # inline images whose file was looked for (see below)
        self._online = True
        self._sync_texts: dict[int | None, str] = {}
        self._account_names: dict[int, str] = {}
        self._account_states: dict[int, AccountState] = {}
        self._downloads: set[asyncio.Future[None]] = (
            set()
        )  # marketplace attachments on their way  # live, from the engine's account_state events
        self._has_conversations = False
        self._pending_select_row: int | None = None
        self._auto_selecting = False  # the app (not the seller) is moving the selection
        self._read_timer = QTimer(self)
        self._read_timer.setSingleShot(True)
        self._read_timer.timeout.connect(self.mark_current_read)
        self._outbox_dialog: OutboxDialog | None = None
        self._reports_window: ReportsWindow | None = None
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self._run_search)
        if on_try_demo is not None:
            self.window.try_demo_requested.connect(on_try_demo)
        if on_add_account is not None:
            self.window.add_account_requested.connect(on_add_account)
        self.saved_searches = SavedSearches(self.window, lambda title, text: self.confirm(title, text), self)
        self.saved_searches.changed.connect(self.refresh_counts)
        self.reply_widget = reply_widget if reply_widget is not None else self._make_reply_widget()
        self.window.set_reply_widget(self.reply_widget)
        self._connect()

    # ---------------------------------------------------------------------------------------- set-up
    def _make_reply_widget(self) -> QWidget | None:
        """The reply editor from ``ui.reply_editor`` when that module is available; nothing otherwise."""
        try:
            from inbox_app.ui.reply_editor import ReplyEditor
        except ImportError:
            log.info("reply editor not available; the reply slot stays empty")
            return None
        editor: QWidget = ReplyEditor(blobs=self.profile.blobs)
        return editor

    def _connect(self) -> None:
        w = self.window
        by = w.actions_by_name
        w.sidebar.view_selected.connect(self.switch_view)
        w.search_text_changed.connect(self._on_search_text)
        w.conversation_list.current_conversation_changed.connect(self.show_conversation)
        w.conversation_list.open_requested.connect(self._on_open_requested)
        w.conversation_list.clicked.connect(lambda _index: self.mark_current_read())
        w.conversation_list.ticked.connect(self._on_tick)
        w.thread_view.conversation_requested.connect(self.open_conversation)
        w.thread_view.no_response_requested.connect(self.no_response_needed)
        w.thread_view.save_attachment_requested.connect(self.save_attachment)
        w.thread_view.external_link_requested.connect(self.open_external_link)
        w.thread_view.cancel_reply_requested.connect(self.cancel_reply)
        w.thread_view.retry_reply_requested.connect(self.retry_reply)
        w.thread_view.send_again_requested.connect(self.send_again)
        w.thread_view.send_anyway_requested.connect(self.send_anyway)
        strip = w.thread_view.customer
        self.customer_actions = CustomerActions(
            strip.others,
            self.undo_stack,
            message=lambda text: w.statusBar().showMessage(text, 6000),
            show=strip.set_history,
            parent=self,
        )
        w.thread_view.edit_held_requested.connect(self.edit_held)
        w.thread_view.discard_held_requested.connect(self.discard_held)
        w.outbox_link_activated.connect(self.open_outbox)
        w.overdue_link_activated.connect(lambda: w.sidebar.select_view(View(ViewKind.OVERDUE)))
        w.closing.connect(self.save_settings)
        self._change_event.connect(self._apply_change_event)
        by["close"].triggered.connect(lambda: self.change_status(Status.CLOSED))
        by["pending"].triggered.connect(lambda: self.change_status(Status.PENDING))
        by["reopen"].triggered.connect(lambda: self.change_status(Status.OPEN))
        by["snooze"].triggered.connect(self._popup_snooze)
        by["mark_unread"].triggered.connect(self.mark_unread)
        by["undo"].triggered.connect(self.undo_stack.undo)
        by["undo"].setEnabled(False)
        self.undo_stack.canUndoChanged.connect(by["undo"].setEnabled)
        self.undo_stack.undoTextChanged.connect(self._on_undo_text)
        by["redo"].triggered.connect(self.undo_stack.redo)
        by["redo"].setEnabled(False)
        self.undo_stack.canRedoChanged.connect(by["redo"].setEnabled)
        self.undo_stack.redoTextChanged.connect(self._on_redo_text)
        by["refresh"].triggered.connect(self.sync_now)
        by["sort_reverse"].toggled.connect(self.model.set_reverse)
        by["reply"].triggered.connect(self.focus_reply)
        by["no_response"].triggered.connect(self._no_response_from_menu)
        by["about"].triggered.connect(self._about)
        by["canned_manager"].triggered.connect(self.open_canned_manager)
        by["policies"].triggered.connect(self.open_policy_settings)
        by["reports"].triggered.connect(self.open_reports)
        by["settings"].triggered.connect(self.open_preferences)
        w.snooze_menu.aboutToShow.connect(self._fill_snooze_menu)
        w.accounts_menu.aboutToShow.connect(self._fill_accounts_menu)
        w.sidebar.edit_account_requested.connect(self.edit_account_requested)
        w.sidebar.remove_account_requested.connect(self.remove_account_requested)
        w.account_banner.edit_requested.connect(self.edit_account_requested)
        w.account_banner.retry_requested.connect(self._retry_account)
        reply_queued = getattr(self.reply_widget, "reply_queued", None)
        if reply_queued is not None:
            reply_queued.connect(lambda cid, _oid, _closed: self.conversations_changed([cid]))
            reply_queued.connect(lambda *_args: self._reload_outbox_if_open())
        status_message = getattr(self.reply_widget, "status_message", None)
        if status_message is not None:
            status_message.connect(lambda text: w.statusBar().showMessage(text, 6000))

    def open_reports(self) -> ReportsWindow:
        """Show the report window (one per main window, not modal); it computes on the worker thread."""
        from inbox_app.ui.reports_window import ReportsWindow

        if self._reports_window is None:
            self._reports_window = ReportsWindow(self.runner.run, now_fn=self.now_fn, parent=self.window)
            self._reports_window.open_conversation.connect(self._open_from_outbox)
            self._reports_window.recompute()
        self._reports_window.show()
        self._reports_window.raise_()
        self._reports_window.activateWindow()
        return self._reports_window

    def open_canned_manager(self) -> None:
        from inbox_app.ui.canned_manager import CannedManagerDialog

        CannedManagerDialog(self.window).exec()

    # ---------------------------------------------------------------------------------------- outbox
    def open_outbox(self) -> OutboxDialog:
        """Show the outbox window (one per main window, not modal: the seller can keep reading)."""
        from inbox_app.ui.outbox_dialog import OutboxDialog

        if self._outbox_dialog is None:
            made = OutboxDialog(self.window, now_fn=self.now_fn, confirm=self.confirm)
            made.open_conversation.connect(self._open_from_outbox)
            made.retry_requested.connect(self.wake_outbox_requested)
            made.outbox_changed.connect(self._on_outbox_changed)
            self._outbox_dialog = made
        dialog = self._outbox_dialog
        dialog.set_online(self._online)
        dialog.reload()
        if dialog.isVisible():  # already open behind the main window: bring it forward
            dialog.raise_()
            dialog.activateWindow()
        else:
            dialog.show()
        return dialog

    def outbox_dialog(self) -> OutboxDialog | None:
        return self._outbox_dialog

    def _open_from_outbox(self, conversation_id: int) -> None:
        self.window.activateWindow()
        self.open_conversation(conversation_id)

    def cancel_reply(self, item_id: int) -> bool:
        """ "Cancel" under a queued reply in the thread: ask, cancel in the store, show what happened."""
        conversation_id = outbox.conversation_of(item_id)
        if conversation_id is None:
            return False
        if not self.confirm(_("Cancel reply"), _("Cancel this reply? It will not be sent.")):
            return False
        done = outbox.cancel(item_id, actor="user")
        self.window.statusBar().showMessage(
            _("Reply cancelled: it will not be sent.")
            if done
            else _("Too late to cancel: the reply is already on its way."),
            6000,
        )
        self._on_outbox_changed([conversation_id])
        return done

    def retry_reply(self, item_id: int) -> None:
        """ "Retry now" under a failed or waiting reply: back in the queue, and wake the delivery loop."""
        conversation_id = outbox.conversation_of(item_id)
        if conversation_id is None:
            return
        outbox.retry_now(item_id)
        self.wake_outbox_requested.emit()
        self._on_outbox_changed([conversation_id])

    def send_again(self, item_id: int) -> bool:
        """ "Send again" under a reply whose delivery was not confirmed: ask, queue a copy, wake the delivery."""
        conversation_id = outbox.conversation_of(item_id)
        if conversation_id is None or not self.confirm(
            _("Send again"),
            _("Send this reply again? If the first one did arrive, the customer gets it twice."),
        ):
            return False
        copy = outbox.send_again(item_id, actor="user")
        if copy is not None:
            self.window.statusBar().showMessage(
                _("A copy of the reply is in the queue and will be sent as soon as possible."), 6000
            )
            self.wake_outbox_requested.emit()
        self._on_outbox_changed([conversation_id])
        return copy is not None

    def send_anyway(self, item_id: int) -> bool:
        """ "Send anyway" on a held reply: the seller saw what changed; it goes out now, once."""
        conversation_id = outbox.conversation_of(item_id)
        if conversation_id is None:
            return False
        done = outbox.send_anyway(item_id, actor="user")
        if done:
            self.window.statusBar().showMessage(
                _("The reply is back in the queue and will be sent as soon as possible."), 6000
            )
            self.wake_outbox_requested.emit()
        self._on_outbox_changed([conversation_id])
        return done

    def edit_held(self, item_id: int) -> bool:
        """ "Edit" on a held reply: its text goes back into the reply box (the held one is withdrawn)."""
        conversation_id = outbox.conversation_of(item_id)
        if conversation_id is None:
            return False
        set_conversation = getattr(self.reply_widget, "set_conversation", None)
        if callable(set_conversation):
            set_conversation(
                None
            )  # writes what is in the box now, so the held text joins it, not replaces it
        done = outbox.edit_held(item_id, actor="user") is not None
        self._on_outbox_changed([conversation_id])
        if self._current_id == conversation_id:
            self.show_conversation(conversation_id)
        if done:
            self.focus_reply()
        return done

    def discard_held(self, item_id: int) -> bool:
        """ "Discard" on a held reply: asked first, then it is cancelled for good."""
        conversation_id = outbox.conversation_of(item_id)
        if conversation_id is None or not self.confirm(
            _("Discard reply"), _("Discard this reply? It will not be sent.")
        ):
            return False
        done = outbox.cancel(item_id, actor="user")
        if done:
            self.window.statusBar().showMessage(_("Reply discarded: it will not be sent."), 6000)
        self._on_outbox_changed([conversation_id])
        return done

    def _on_outbox_changed(self, conversation_ids: list[int]) -> None:
        """A reply was cancelled or re-queued: the counts, the open outbox and the thread's bubbles follow."""
        self.refresh_counts()
        if self._current_id in conversation_ids:
            self._redraw_thread()
        self._reload_outbox_if_open()

    def _reload_outbox_if_open(self) -> None:
        if self._outbox_dialog is not None and self._outbox_dialog.isVisible():
            self._outbox_dialog.reload()

    def _redraw_thread(self) -> None:
        """Read the shown conversation again (messages and replies still in the outbox) and redraw it."""
        cid = self._current_id
        detail = conversations.detail(cid, self.profile.blobs) if cid is not None else None
        pending = outbox.rows_for(cid) if cid is not None else []
        self.window.thread_view.set_detail(detail, self.now_fn(), pending)
        self.customer_actions.show_for(cid if detail is not None else None)
        self._materialize_inline_images(detail)

    def _materialize_inline_images(self, detail: ConversationDetail | None) -> None:
        """Write the files of inline images shown for the first time (see services.attachments), then redraw.

        On the background worker: the raw source is parsed, which can take a moment for a big mail. Each
        image is tried once per session, so a source that does not hold it cannot cause a redraw loop.
        """
        if detail is None:
            return
        wanted = {
            Path(a.path).name
            for m in detail.messages
            for a in m.attachments
            if a.inline and a.content_id and a.path and not Path(a.path).is_file()
        } - self._inline_tried
        if not wanted:
            return
        conversation_id = detail.summary.id
        blobs = self.profile.blobs

        def done(written: set[str]) -> None:
            self._inline_tried.update(wanted)
            if written and self._current_id == conversation_id:
                self._redraw_thread()

        self.runner.run("inline-images", lambda: attachments.materialize(blobs, wanted), done)

    def open_preferences(self) -> None:
        from inbox_app.ui.preferences import PreferencesDialog

        dialog = PreferencesDialog(self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def open_policy_settings(self) -> None:
        from inbox_app.ui.policy_settings import PolicySettingsDialog

        dialog = PolicySettingsDialog(self.window)
        dialog.policies_changed.connect(self.reload)
        dialog.exec()

    def start_notifier(self) -> None:
        """Tray badge and a notification shortly before a deadline passes (quiet otherwise)."""
        from inbox_app.ui.icons import app_icon
        from inbox_app.ui.tray import DeadlineNotifier

        self.notifier = DeadlineNotifier(self, icon=app_icon(), run=self.runner.run)
        self.notifier.open_conversation.connect(self._open_from_notification)
        self.notifier.start()

    def _open_from_notification(self, conversation_id: int) -> None:
        self.window.showNormal()
        self.window.activateWindow()
        self.open_conversation(conversation_id)

    def _on_undo_text(self, text: str) -> None:
        action = self.window.actions_by_name["undo"]
        if shiboken6.isValid(action):  # the stack still talks while the window is being destroyed
            action.setText(_("&Undo {action}").format(action=text) if text else _("&Undo"))

    def _on_redo_text(self, text: str) -> None:
        action = self.window.actions_by_name["redo"]
        if shiboken6.isValid(action):
            action.setText(_("&Redo {action}").format(action=text) if text else _("&Redo"))

    def start(self) -> None:
        """Restore the layout and the last view, load the sidebar, show the window's content."""
        self.window.restore_settings(self.settings)
        self.model.set_reverse(self.window.actions_by_name["sort_reverse"].isChecked())
        self.saved_searches.load()
        key = self.settings.value("list/last_view", DEFAULT_VIEW.key)
        try:
            view = View.parse(str(key))
        except ValueError:
            view = DEFAULT_VIEW
        if not self.window.sidebar.select_view(view, emit=False):
            view = DEFAULT_VIEW
            self.window.sidebar.select_view(view, emit=False)
        # The worker runs in order: the list's first page comes first, then the sidebar; the counts follow the
        # sidebar's entries (``_on_sources``), after the rest of the list (queued when its first page arrives).
        self.switch_view(view)
        self._load_sources()
        # What the last sync found (also by another copy of the app, or the CLI), until the engine says more.
        self.runner.run("account_states", account_states.live_states, self._on_stored_account_states)
        self.window.conversation_list.start_countdown()
        self.window.conversation_list.setFocus()  # j/k/Enter work at once (single keys live on the list)

    def save_settings(self) -> None:
        self.window.save_settings(self.settings)
        self.settings.setValue("list/last_view", self.model.view.key)
        self.settings.sync()
        flush = getattr(self.reply_widget, "flush_draft", None)
        if callable(flush):
            flush()

    def shutdown(self) -> None:
        """Stop the countdown and the worker thread (closing the worker's own database connection)."""
        self.window.conversation_list.stop_countdown()
        notifier = getattr(self, "notifier", None)
        if notifier is not None:  # its minute timer must not query a closed profile
            notifier.stop()
        database = self.profile.db

        def close_worker_connection() -> None:
            if not database.is_closed():  # peewee keeps one connection per thread
                database.close()

        self.runner.shutdown(close_worker_connection)

    # -------------------------------------------------------------------------------------- loading
    def reload(self) -> None:
        """Everything may have changed (demo filled, sync finished): sidebar, counts, list, thread."""
        self.reload_sidebar()
        self.refresh_list()

    def sync_now(self) -> None:
        """View ▸ Refresh (F5): reload what is shown and have every account sync now, not at its next turn."""
        self.reload()
        self.retry_sync_requested.emit()

    def reload_sidebar(self) -> None:
        self.saved_searches.load()
        self._load_sources()
        self.refresh_counts()

    def _load_sources(self) -> None:
        self.reload_sources()
        self.account_trouble.refresh()  # after the sources: the account entries exist when badges arrive

    def reload_sources(self) -> None:
        """Accounts, channels and tags on the worker; the counts follow when they arrive (``_on_sources``)."""
        self.runner.run("sources", sidebar_sources, self._on_sources)

    def _on_sources(self, sources: tuple[list[tuple[int, str]], list[str], list[str]]) -> None:
        accounts, channels, tags = sources
        self._account_names = dict(accounts)
        self.window.sidebar.set_sources(accounts, channels, tags)
        self.refresh_counts()

    def refresh_counts(self) -> None:
        views = [v for v in self.window.sidebar.views() if v.kind is not ViewKind.SAVED] + [
            View(ViewKind.ALL)
        ]
        now = self.now_fn()

        def work() -> dict[str, int]:
            counts = conversations.view_counts(views, now)
            saved = search_service.saved_counts(now)
            counts.update({View(ViewKind.SAVED, name).key: value for name, value in saved.items()})
            counts[ACCOUNTS_KEY] = accounts.account_count()
            counts[OUTBOX_KEY] = outbox.pending_count()
            counts[OUTBOX_FAILED_KEY] = outbox.failed_count()
            counts[OUTBOX_HELD_KEY] = outbox.held_count()
            return counts

        self.runner.run("counts", work, self._on_counts)

    def _on_counts(self, counts: dict[str, int]) -> None:
        self.window.sidebar.set_counts(counts)
        self.window.set_overdue_count(counts.get(ViewKind.OVERDUE.value, 0))
        self.window.set_outbox_count(
            counts.get(OUTBOX_KEY, 0),
            offline=not self._online,
            failed=counts.get(OUTBOX_FAILED_KEY, 0),
            held=counts.get(OUTBOX_HELD_KEY, 0),
        )
        self._has_conversations = counts.get(ViewKind.ALL.value, 0) > 0
        # The first-run screen is for a profile with nothing in it: an account that has not delivered (or
        # cannot reach its server) shows the list, with the problem banner above it.
        self.window.show_empty_state(not self._has_conversations and counts.get(ACCOUNTS_KEY, 0) == 0)
        self.counts_updated.emit(counts)

    def switch_view(self, view: View) -> None:
        """Show a view: ids are fetched on the worker, the list resets when they arrive."""
        if view.kind is ViewKind.SAVED:
            # A saved search is its query in the box: the seller sees what it searches and can refine it.
            self.window.search.setText(self.saved_searches.query_of(view.value or "") or "")
            self._search_timer.stop()
            self._run_search()
            return
        self.window.show_search_error(None)
        if self.window.search.text():
            self.window.search.blockSignals(True)
            self.window.search.clear()
            self.window.search.blockSignals(False)
        self._search_timer.stop()
        self.window.conversation_list.set_empty_text(_empty_text(view))
        # The first screenful from the head of the list-order index (milliseconds at 1,000,000), then the whole
        # view (a second or so there) appended under it; the same key: switching again drops both.
        self.runner.run(
            "ids",
            lambda: self.model.fetch_ids(view, "", first=FIRST_PAGE),
            lambda ids: self._on_view_first_page(view, ids),
        )

    def _on_view_first_page(self, view: View, ids: list[int]) -> None:
        self.model.set_ids(ids, view=view, search="")
        complete = len(ids) < FIRST_PAGE
        self._after_reset(complete)
        if not complete:
            self.runner.run("ids", lambda: self._fetch_all(view, ""), self._on_rest)

    def _fetch_all(self, view: View, text: str) -> tuple[bool, list[int]]:
        """On the worker: every id of the view or search, with the order they are in (reversed or not)."""
        reverse = self.model.reverse
        return reverse, self.model.fetch_ids(view, text)

    def _on_rest(self, fetched: tuple[bool, list[int]]) -> None:
        """The whole view or search after its first page: rows appended, selection and scroll kept."""
        reverse, ids = fetched
        if reverse != self.model.reverse:  # the order was flipped while the list was read
            ids.reverse()
        self.model.extend_ids(ids)
        self.ids_loaded.emit()

    def refresh_list(self) -> None:
        """Reload the ids of the current view or search, keeping the selection (after a change)."""
        current_row = self.window.conversation_list.currentIndex().row()
        self._pending_select_row = current_row if current_row >= 0 else None
        view, search = self.model.view, self.model.search_text
        self.runner.run("ids", lambda: self.model.fetch_ids(view, search), self._on_refreshed_ids)

    def _on_refreshed_ids(self, ids: list[int]) -> None:
        self.model.apply_ids(ids)
        listing = self.window.conversation_list
        self._auto_selecting = True
        try:
            if not listing.currentIndex().isValid() and self.model.rowCount() > 0:
                row = self._pending_select_row if self._pending_select_row is not None else 0
                listing.select_row(min(row, self.model.rowCount() - 1))
            elif self.model.rowCount() == 0:
                self.show_conversation(None)
        finally:
            self._auto_selecting = False
        self._pending_select_row = None
        self.rows_shown.emit()
        self.ids_loaded.emit()

    def _after_reset(self, loaded: bool = True) -> None:
        """The list was reset to new ids: select the conversation shown before if it is listed, else the
        first; ``loaded``: these are all of them (not a first page)."""
        listing = self.window.conversation_list
        self._auto_selecting = True
        try:
            if self._current_id is not None and listing.select_conversation(self._current_id):
                pass
            elif self.model.rowCount() > 0:
                listing.select_row(0)
            else:
                self.show_conversation(None)
        finally:
            self._auto_selecting = False
        self.rows_shown.emit()
        if loaded:
            self.ids_loaded.emit()

    # ---------------------------------------------------------------------------------- sync events
    def handle_change_event(self, event: Any) -> None:
        """Subscribe this to the sync engine's ``ChangeBus``; safe to call from any thread.

        The event is a ``sync.events.ChangeEvent`` (read by its fields only, so the UI does not import the
        sync layer): what changed, for which conversations or account.
        """
        self._change_event.emit(event)

    def _apply_change_event(self, event: Any) -> None:
        kind = str(getattr(event, "kind", ""))
        ids = sorted(getattr(event, "conversation_ids", ()) or ())
        account_id = getattr(event, "account_id", None)
        message = str(getattr(event, "message", "") or "")
        self.account_trouble.handle_event(kind, account_id, message)
        if kind in ("conversations", "flags", "expunged"):
            self.conversations_changed(list(ids))
            if kind == "conversations":
                self.reload_sidebar()
        elif kind == "outbox":
            # Delivered replies are messages now (list row, deadline); retried ones changed state only.
            if ids:
                self.conversations_changed(list(ids))
            else:
                self.refresh_counts()
                if self._current_id is not None:
                    self._redraw_thread()
            self._reload_outbox_if_open()
        elif kind in ("online", "offline"):
            self.set_online(kind == "online")
            if account_id is not None and kind == "online":
                self.window.account_banner.clear_problem(account_id)
            elif account_id is not None and message:
                self._show_account_problem(account_id, message)
        elif kind == account_states.ACCOUNT_STATE:
            state = account_states.state_of_event(event)
            if state is not None:
                self._show_account_states({state.account_id: state})
        elif kind == "progress":
            phase, done, total = getattr(event, "progress", None) or ("", 0, 0)
            if phase not in ("headers", "bodies", "indexing"):
                return  # a marketplace listing's count: its account_state says "syncing n of m"
            if phase == "headers":
                template = _("fetching messages: {done} of {total}")
            elif phase == "indexing":
                template = _("indexing for search: {done} of {total}")
            else:
                template = _("downloading message bodies: {done} of {total}")
            text = template.format(done=format_number(done), total=format_number(total))
            self._set_sync_text(account_id, text if done < total else _("up to date"))
        elif kind == "sync_started":
            self._set_sync_text(account_id, _("syncing…"))
        elif kind == "sync_finished":
            when = format_time(self.now_fn(), tz=local_zone())
            self._set_sync_text(account_id, _("up to date ({time})").format(time=when))
        elif kind == "error":
            if account_id is None or account_id not in self._account_states:
                # (an account's state says "offline", "needs reconnect"…; the banner below gives the why)
                self._set_sync_text(account_id, message or _("failed"))
            if account_id is not None:
                self._show_account_problem(account_id, message or _("The sync failed."))
            if message:
                self.window.statusBar().showMessage(message, 10_000)

    def set_online(self, online: bool) -> None:
        self._online = online
        self.window.set_online(online)
        if self._outbox_dialog is not None:
            self._outbox_dialog.set_online(online)
        set_online = getattr(self.reply_widget, "set_online", None)
        if callable(set_online):
            set_online(online)
        self.refresh_counts()

    def _show_account_problem(self, account_id: int, message: str) -> None:
        if self.account_trouble.needs_reconnect(account_id):
            return  # the reconnect banner already says it, with the one button that helps
        name = self._account_names.get(account_id, _("Account {id}").format(id=account_id))
        self.window.account_banner.show_problem(account_id, name, message)

    def _retry_account(self, account_id: int) -> None:
        self._set_sync_text(account_id, _("syncing…"))
        self.retry_sync_requested.emit()

    def _on_stored_account_states(self, stored: dict[int, AccountState]) -> None:
        fresh = {aid: state for aid, state in stored.items() if aid not in self._account_states}
        self._show_account_states(fresh)

    def _show_account_states(self, states: dict[int, AccountState]) -> None:
        """An account's state changed: its sidebar entry, its text in the status bar (and the Accounts menu,
        built from ``_account_states`` when opened)."""
        if not states:
            return
        self._account_states.update(states)
        self.window.sidebar.set_account_states(states)
        for account_id, state in states.items():
            self._set_sync_text(account_id, state.label())

    def account_state(self, account_id: int) -> AccountState | None:
        """The account's state as the window shows it (tests)."""
        return self._account_states.get(account_id)

    def _fill_accounts_menu(self) -> None:
        menu = self.window.accounts_menu
        menu.clear()
        if not self._account_names:
            empty = menu.addAction(_("No accounts yet"))
            empty.setEnabled(False)
            return
        for account_id, name in self._account_names.items():
            state = self._account_states.get(account_id)
            sub = menu.addMenu(f"{name} — {state.label()}" if state is not None else name)
            edit = sub.addAction(_("&Edit…"))
            edit.triggered.connect(lambda _c=False, a=account_id: self.edit_account_requested.emit(a))
            remove = sub.addAction(_("&Remove…"))
            remove.triggered.connect(lambda _c=False, a=account_id: self.remove_account_requested.emit(a))

    def _set_sync_text(self, account_id: int | None, text: str) -> None:
        self._sync_texts[account_id] = text
        named = {
            (self._account_names.get(aid, _("Account {id}").format(id=aid)) if aid else _("All")): value
            for aid, value in self._sync_texts.items()
        }
        self.window.set_sync_status(named)

    # --------------------------------------------------------------------------------------- search
    def _on_search_text(self, _text: str) -> None:
        self._search_timer.start()

    def _run_search(self) -> None:
        text = self.window.search.text().strip()
        view = self.model.view
        ranked = False
        if text:
            try:
                ranked = bool(search_service.parse(text).terms)
            except search_service.SearchQueryError as exc:
                self.window.show_search_error(exc.message)  # the list keeps the last good results
                return
        self.window.show_search_error(None)
        self.window.conversation_list.set_empty_text(
            _("No conversation matches “{text}”.").format(text=text) if text else _empty_text(view)
        )
        if text and not ranked:
            # Filters only: every match, in list order, can be 100,000 ids and 100-300 ms to read; the first
            # screenful is shown as soon as its page is read, the rest follows (same key: a newer keystroke
            # drops it).
            self.runner.run(
                "ids",
                lambda: self.model.fetch_ids(view, text, first=FIRST_PAGE),
                lambda ids: self._on_search_first_page(view, text, ids),
            )
            return
        self.runner.run(
            "ids",
            lambda: self.model.fetch_ids(view, text),
            lambda ids: self._on_search_ids(text, ids, ranked),
        )

    def _on_search_first_page(self, view: View, text: str, ids: list[int]) -> None:
        if len(ids) < FIRST_PAGE or self.model.reverse:
            self._on_search_ids(text, ids)  # that was every match
            return
        self.model.set_ids(ids, search=text)
        self._after_reset(loaded=False)
        self.runner.run(
            "ids", lambda: self._fetch_all(view, text), lambda rest: self._on_search_rest(text, rest)
        )

    def _on_search_rest(self, text: str, fetched: tuple[bool, list[int]]) -> None:
        if self.model.search_text != text:
            return
        self._on_rest(fetched)
        self.window.statusBar().showMessage(_search_count_text(len(fetched[1]), False), 10_000)

    def _on_search_ids(self, text: str, ids: list[int], ranked: bool = False) -> None:
        self.model.set_ids(ids, search=text)
        self._after_reset()
        if text:
            self.window.statusBar().showMessage(_search_count_text(len(ids), ranked), 10_000)

    # -------------------------------------------------------------------------------------- reading
    def show_conversation(self, conversation_id: int | None) -> None:
        """Show a conversation in the reading pane and mark it read."""
        self._current_id = conversation_id
        detail = conversations.detail(conversation_id, self.profile.blobs) if conversation_id else None
        pending = outbox.rows_for(conversation_id) if detail is not None and conversation_id else []
        self.window.thread_view.set_detail(detail, self.now_fn(), pending)
        self.customer_actions.show_for(conversation_id if detail is not None else None)
        self._materialize_inline_images(detail)
        set_conversation = getattr(self.reply_widget, "set_conversation", None)
        if callable(set_conversation):
            set_conversation(detail)
        self.window.actions_by_name["no_response"].setEnabled(
            detail is not None and bool(detail.no_response_url) and not detail.no_response_needed
        )
        self._read_timer.stop()
        if detail is not None and detail.summary.unread and not self._auto_selecting:
            # Selected by the seller (j/k, arrows): read after a moment, as mail clients do. A selection the
            # app makes itself (start-up, a refreshed list) marks nothing read.
            delay = mark_read_delay()
            if delay == 0:
                self.mark_current_read()
            elif delay > 0:
                self._read_timer.start(int(delay * 1000))
        self.conversation_shown.emit(conversation_id)

    def mark_current_read(self) -> None:
        """The seller opened the conversation on screen (Enter, a click, r, or the delay passed)."""
        self._read_timer.stop()
        detail = self.window.thread_view.detail()
        cid = self._current_id
        if cid is None or detail is None or detail.summary.id != cid or not detail.summary.unread:
            return
        conversations.mark_read(cid)
        self.model.refresh_ids([cid])
        self.refresh_counts()

    def open_conversation(self, conversation_id: int) -> None:
        """Open a conversation from elsewhere (the customer strip): select it when listed, else just show it."""
        if not self.window.conversation_list.select_conversation(conversation_id):
            self.window.conversation_list.clearSelection()
            self.show_conversation(conversation_id)
        self.mark_current_read()

    def _on_open_requested(self, _conversation_id: int) -> None:
        self.mark_current_read()
        self.focus_reply()

    def focus_reply(self) -> None:
        """Put the keyboard focus in the reply text (its focus proxy), so what the seller types goes there."""
        self.mark_current_read()
        focus_text = getattr(self.reply_widget, "focus_text", None)
        if self.reply_widget is not None and callable(focus_text) and focus_text():
            return
        self.window.thread_view.browser.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _on_tick(self) -> None:
        self.window.thread_view.set_now(self.model.now)
        self.refresh_counts()

    # -------------------------------------------------------------------------------------- changes
    def current_id(self) -> int | None:
        return self._current_id

    def change_status(self, status: Status, snoozed_until: datetime | None = None) -> bool:
        """Change the current conversation's status (undoable). False when nothing changed.

        Closing an unanswered marketplace conversation asks first (see :meth:`_confirm_closing`); declining
        leaves everything as it was.
        """
        cid = self._current_id
        if cid is None:
            return False
        conv = conversations.state(cid)
        if conv is None:
            return False
        if conv.status == status.value and snoozed_until is None:
            return False
        if status is Status.CLOSED and not self._confirm_closing(conv):
            return False
        change = _StatusChange(cid, conv.status, conv.snoozed_until, status, snoozed_until)
        labels = {
            Status.CLOSED: _("close"),
            Status.PENDING: _("set pending"),
            Status.SNOOZED: _("snooze"),
            Status.OPEN: _("reopen"),
        }
        self.undo_stack.push(StatusCommand(self, change, labels[status]))
        return True

    def _confirm_closing(self, conv: ConversationState) -> bool:
        """Ask before closing an unanswered marketplace conversation: its clock keeps running over there.

        "Send & close" never comes here (the reply answers the customer); e-mail closes without a question.
        """
        from inbox_app.domain.conversations import CHANNEL_LABELS
        from inbox_app.domain.deadlines import DeadlineState, closing_warning_needed

        kind = conv.channel_kind
        state = DeadlineState(conv.deadline_started_at, conv.deadline_at)
        if not closing_warning_needed(kind, state):
            return True
        channel = _(CHANNEL_LABELS[kind]) if kind in CHANNEL_LABELS else conv.channel_name
        return self.confirm(
            _("Close unanswered conversation"),
            _(
                "This {channel} conversation is still unanswered. {channel} keeps counting it against your "
                "response time until you reply or mark it 'No response needed'. Close anyway?"
            ).format(channel=channel),
        )

    def write_status(
        self, conversation_id: int, status: Status, snoozed_until: datetime | None, *, actor: str
    ) -> None:
        """Apply a status in the store (logged as an event), then refresh what shows it."""
        if not conversations.set_status(conversation_id, status, snoozed_until, actor=actor):
            return
        self.conversations_changed([conversation_id])

    def conversations_changed(self, ids: list[int]) -> None:
        """Something changed these conversations (status, new message, reply): repaint and re-query."""
        self.model.refresh_ids(ids)
        if self._current_id in ids:
            self._redraw_thread()
        self.refresh_list()
        self.refresh_counts()

    def mark_unread(self) -> None:
        cid = self._current_id
        if cid is None:
            return
        conversations.mark_unread(cid)
        self.model.refresh_ids([cid])
        self.refresh_counts()

    def _fill_snooze_menu(self) -> None:
        menu = self.window.snooze_menu
        menu.clear()
        now_local = self.now_fn().astimezone()
        for label, until in snooze_choices(now_local):
            action = menu.addAction(label)
            action.triggered.connect(
                lambda _checked=False, u=until: self.change_status(Status.SNOOZED, u.astimezone(UTC))
            )

    def _popup_snooze(self) -> None:
        listing = self.window.conversation_list
        index = listing.currentIndex()
        if not index.isValid():
            return
        rect = listing.visualRect(index)
        self.window.snooze_menu.popup(listing.viewport().mapToGlobal(rect.bottomLeft()))

    # --------------------------------------------------------------------------- marketplace, files
    def _no_response_from_menu(self) -> None:
        detail = self.window.thread_view.detail()
        if detail is not None and detail.no_response_url:
            self.no_response_needed(detail.summary.id, detail.no_response_url)

    def no_response_needed(self, conversation_id: int, url: str) -> None:
        """Amazon's "No response needed": open its page (after asking) and stop our clock too."""
        if not self.confirm(
            _("No response needed"),
            _("Open the marketplace page to mark this message as needing no response?\n\n{url}").format(
                url=url
            ),
        ):
            return
        QDesktopServices.openUrl(QUrl(url))
        if conversations.mark_no_response_needed(conversation_id, actor="user"):
            self.conversations_changed([conversation_id])

    def open_external_link(self, url: QUrl) -> None:
        if url.scheme().lower() not in ("http", "https", "mailto", "tel"):
            return
        if self.confirm(
            _("Open link"), _("Open this link in your browser?\n\n{url}").format(url=url.toString())
        ):
            QDesktopServices.openUrl(url)

    def save_attachment(self, attachment: AttachmentView) -> Path | None:
        """Save as…: the chosen path (None when cancelled, refused, or downloaded in the background first)."""
        if not attachment.path and not attachment.remote_url:
            return None
        chosen, _filter = QFileDialog.getSaveFileName(
            self.window, _("Save attachment"), str(Path.home() / attachment.name)
        )
        if not chosen:
            return None
        target = Path(chosen)
        if not attachment.path:  # a marketplace file, listed but not downloaded yet
            self._download_and_save(attachment, target)
            return None
        sha = Path(attachment.path).name
        try:
            try:
                # A synced mail's attachment file is written from its raw source on first use.
                attachments.materialize(self.profile.blobs, [sha])
                saved = self.profile.blobs.export(sha, target.parent, target.name)
            except (BlobCorruptError, BlobNotFoundError):
                # Damaged (by an OS crash, say) or unreadable: rebuild it from the raw source, then save.
                if not attachments.restore(self.profile.blobs, sha):
                    raise
                saved = self.profile.blobs.export(sha, target.parent, target.name)
        except (BlobCorruptError, BlobNotFoundError):
            QMessageBox.warning(
                self.window,
                _("Save attachment"),
                _(
                    "The stored copy of this attachment is damaged and could not be rebuilt from the original "
                    "mail, so it was not saved. Sync the account again to fetch the mail anew."
                ),
            )
            return None
        except OSError as exc:
            QMessageBox.warning(
                self.window, _("Save attachment"), _("Could not save: {error}").format(error=exc)
            )
            return None
        self.window.statusBar().showMessage(_("Saved {path}").format(path=str(saved)), 6000)
        return saved

    def _download_and_save(self, attachment: AttachmentView, target: Path) -> None:
        """Download a marketplace attachment (on the app's event loop, the window stays responsive), then save
        it to ``target``; the outcome in the status bar, a failure in a message box that says why."""
        self.window.statusBar().showMessage(_("Downloading {name}…").format(name=attachment.name))

        def refuse(text: str) -> None:
            self.window.statusBar().clearMessage()
            # Shown from Qt's own event loop, not from inside the asyncio task (a modal loop there would
            # re-enter the task runner).
            QTimer.singleShot(0, lambda: QMessageBox.warning(self.window, _("Save attachment"), text))

        async def work() -> None:
            try:
                sha = await attachments.fetch_marketplace_attachment(self.profile.blobs, attachment.id)
                saved = self.profile.blobs.export(sha, target.parent, target.name)
            except attachments.AttachmentUnavailable as exc:
                refuse(exc.user_message)
                return
            except OSError as exc:
                refuse(_("Could not save: {error}").format(error=exc))
                return
            self.window.statusBar().showMessage(_("Saved {path}").format(path=str(saved)), 6000)
            self.attachment_saved.emit(str(saved))
            if self._current_id is not None:
                self._redraw_thread()  # the file is kept now: it opens without a download next time

        task = asyncio.ensure_future(work())
        self._downloads.add(task)
        task.add_done_callback(self._downloads.discard)

    # ---------------------------------------------------------------------------------------- misc
    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self.window, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def _about(self) -> None:
        from inbox_app import app_version

        QMessageBox.about(
            self.window,
            _("About Inbox"),
            _("A unified inbox for e-commerce sellers, with response-deadline countdowns.")
            + "\n\n"
            + _("Version {version}").format(version=app_version()),
        )


#: Rows of a view or of a filter-only search shown before the rest are read (a few screenfuls).
FIRST_PAGE = 200


def _search_count_text(found: int, ranked: bool) -> str:
    """ "12 conversations found"; at the cap of ranked (text) results, "500+ …, best first"."""
    if ranked and found >= search_service.MAX_RESULTS:
        return _("{count}+ conversations found, best first").format(count=format_number(found))
    return ngettext("{count} conversation found", "{count} conversations found", found).format(
        count=format_number(found)
    )


def _empty_text(view: View) -> str:
    if view.kind is ViewKind.OVERDUE:
        return _("Nothing overdue. Well done!")
    if view.kind is ViewKind.DUE_SOON:
        return _("Nothing due in the next hours.")
    if view.kind is ViewKind.OPEN:
        return _("No open conversations: inbox zero.")
    return _("No conversations here.")
