"""Wiring for the window: builds the object graph once, then runs Qt and asyncio on one qasync loop.

Nothing here holds logic of its own: the profile (store), the sync engine, the change bus and the main
controller are created and connected, and the engine's continuous loops run on the same event loop as the UI
(network I/O is async; SQLite writes of the sync happen in short transactions). Quitting the window sets the
stop event; the engine closes its connections before the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inbox_app.profile import Profile

log = logging.getLogger("inbox_app")
#: Account kinds set up with the marketplace dialog (edit and reconnect open it too).
MARKETPLACE_KINDS = frozenset({"mirakl", "ebay", "kaufland", "allegro"})
_translator: object | None = None


def _install_qt_translator(app: object, locale_name: str) -> object | None:
    """Qt's own catalog, so standard dialogs (file pickers, message boxes) speak the user's language."""
    from PySide6.QtCore import QLibraryInfo, QLocale, QTranslator

    # Numbers in spin boxes and Qt's own date texts follow the same locale as our catalogs ("2,0 s" in German).
    QLocale.setDefault(QLocale(locale_name))
    translator = QTranslator()
    path = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    language = locale_name.split("_")[0]
    # Qt ships some languages only for one country (Portuguese as pt_BR): take it rather than English.
    regional = sorted(p.stem for p in Path(path).glob(f"qtbase_{language}_*.qm"))
    for name in (f"qtbase_{locale_name}", f"qtbase_{language}", *regional):
        if translator.load(name, path):
            app.installTranslator(translator)  # type: ignore[attr-defined]
            return translator
    return None


def _open_profile_asking(profile_dir: Path | None) -> Profile | None:
    """Open the profile; when it is damaged or read-only, ask (restore / read-only / quit) before any window.

    Returns None when the user quits. A restored backup is opened normally; the damaged file stays aside.
    """
    from inbox_app.profile import open_profile
    from inbox_app.store.backups import restore_backup
    from inbox_app.store.profile_check import ProfileProblem
    from inbox_app.ui.profile_problem_dialog import ask_about_profile_problem, show_restore_failed

    read_only = False
    while True:
        try:
            return open_profile(profile_dir, read_only=read_only)
        except ProfileProblem as problem:
            log.warning("profile problem: %s", problem)
            choice = ask_about_profile_problem(problem)
            if choice == "read_only" and not read_only:
                read_only = True
                continue
            newest = problem.newest_backup
            if choice == "restore" and newest is not None:
                try:
                    restore_backup(problem.db_path, newest.path)
                except (OSError, sqlite3.Error) as exc:
                    show_restore_failed(str(exc))
                    return None
                continue
            return None


def _show_read_only_notice(window: object) -> None:
    """A permanent mark in the status bar: the profile was opened read-only, so nothing syncs or changes."""
    from PySide6.QtWidgets import QLabel, QMainWindow

    from inbox_app.i18n import _

    assert isinstance(window, QMainWindow)
    label = QLabel(_("Read-only: nothing is synced or changed"))
    label.setObjectName("read_only_notice")
    label.setToolTip(
        _("The profile was opened read-only. Fix its file or folder rights, then open it again.")
    )
    window.statusBar().addPermanentWidget(label)


def run_gui(profile_dir: Path | None, lang: str | None) -> int:
    """Open the main window on the profile at ``profile_dir`` (default profile when None)."""
    gui = open_gui(profile_dir, lang)
    if isinstance(gui, int):
        return gui
    return gui.run()


@dataclass
class Gui:
    """The running application's object graph, as :func:`open_gui` wired it (tests drive it too)."""

    app: Any
    profile: Any
    window: Any
    controller: Any
    engine: Any
    stop: asyncio.Event
    restart_engine: asyncio.Event
    #: Called after the engine stopped, before the profile closes (the live demo's sandboxes stop here).
    on_exit: list[Callable[[], object]] = field(default_factory=list)

    async def main(self) -> None:
        """The engine on the qasync loop until the window closes; restarted when an account changes."""
        self.app.aboutToQuit.connect(self.stop.set)
        if self.profile.read_only:  # nothing may be written: no sync, no sending, until reopened normally
            await self.stop.wait()
        while not self.stop.is_set():
            self.restart_engine.clear()
            engine_stop = asyncio.Event()
            runner = asyncio.ensure_future(self.engine.run_forever(engine_stop))
            waiters = [
                asyncio.ensure_future(self.stop.wait()),
                asyncio.ensure_future(self.restart_engine.wait()),
            ]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            engine_stop.set()
            await runner
        self.controller.shutdown()
        for cleanup in self.on_exit:
            cleanup()

    def run(self) -> int:
        """Run Qt and asyncio on one qasync loop until the window is closed; then close the profile."""
        import qasync

        try:
            qasync.run(self.main())
        finally:
            self.profile.close()
        return 0


def open_gui(profile_dir: Path | None, lang: str | None) -> Gui | int:
    """Build the window and everything behind it (not yet running); an exit code when the profile fails."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication, QMessageBox

    from inbox_app import i18n
    from inbox_app.i18n import _
    from inbox_app.profile import APP_ID
    from inbox_app.store.migrations import SchemaTooNewError

    locale = i18n.setup(lang if lang and i18n.language_is_available(lang) else None)
    existing = QApplication.instance()
    if existing is None:  # only possible before the application object exists
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    app.setApplicationName("inbox-app")
    app.setApplicationDisplayName(_("Inbox App"))
    QGuiApplication.setDesktopFileName(APP_ID)
    global _translator
    _translator = _install_qt_translator(app, str(locale))  # kept alive for the app's lifetime
    if lang and not i18n.language_is_available(lang):
        QMessageBox.warning(
            None,
            _("Inbox App"),
            i18n.unknown_language_message(lang)
            + "\n\n"
            + _("The app continues in {language}.").format(
                language=locale.get_display_name(locale) or str(locale)
            ),
        )

    try:
        profile = _open_profile_asking(profile_dir)
    except (SchemaTooNewError, OSError) as exc:
        QMessageBox.critical(
            None, _("Inbox App"), _("The profile cannot be opened: {error}").format(error=exc)
        )
        return 2
    if profile is None:  # the user chose Quit in the profile-problem dialog
        return 2

    from inbox_app.sync.engine import SyncEngine
    from inbox_app.sync.events import ChangeBus
    from inbox_app.sync.ownership import ProfileLock
    from inbox_app.ui.icons import app_icon
    from inbox_app.ui.main_window import MainWindow

    app.setWindowIcon(app_icon())
    bus = ChangeBus()
    # One copy of the app per profile syncs (the lock); a second window works from the database meanwhile.
    engine = SyncEngine(profile.blobs, bus, lock=ProfileLock(profile.root))
    window = MainWindow()
    stop = asyncio.Event()
    restart_engine = asyncio.Event()

    def try_demo() -> None:
        from inbox_app.ui.demo_runner import fill_demo

        fill_demo(window, profile, on_done=controller.reload)

    def add_account() -> None:
        from inbox_app.sync.account_setup import save_account, test_account
        from inbox_app.ui.account_dialog import AccountDialog

        dialog = AccountDialog(window, test_connection=test_account, save=save_account)

        def saved(_account_id: int) -> None:
            restart_engine.set()  # the engine picks up the new account and starts syncing it
            controller.reload()
            maybe_show_plaintext_keyring_notice(window)

        dialog.account_saved.connect(saved)
        dialog.open()  # window-modal without a nested event loop: the sync keeps running meanwhile

    def open_marketplace_dialog(account_id: int | None = None, *, reconnect: bool = False) -> None:
        """Add a marketplace account (``None``), edit one, or sign one in again (``reconnect``)."""
        from inbox_app.ui.marketplace_dialog import MarketplaceAccountDialog

        dialog = MarketplaceAccountDialog(window, account_id=account_id, reconnect=reconnect)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one per opening, none left behind

        def saved(_account_id: int) -> None:
            restart_engine.set()  # the engine picks the account up (again) with its new keys or tokens
            controller.reload()
            maybe_show_plaintext_keyring_notice(window)

        dialog.account_saved.connect(saved)
        dialog.open()

    def add_marketplace_account() -> None:
        open_marketplace_dialog()

    def edit_account(account_id: int) -> None:
        from inbox_app.services import accounts as account_service
        from inbox_app.sync.account_setup import AccountSetupError, account_form, test_account, update_account
        from inbox_app.ui.account_dialog import AccountDialog

        summary = account_service.get(account_id)
        if summary is not None and summary.kind in MARKETPLACE_KINDS:
            open_marketplace_dialog(account_id)  # its keys or its sign-in, on the kind's own page
            return

        try:
            form = account_form(account_id)
        except AccountSetupError as exc:
            QMessageBox.warning(window, _("Edit mail account"), exc.user_message)
            return
        dialog = AccountDialog(
            window,
            test_connection=test_account,
            save=lambda edited: update_account(account_id, edited),
            form=form,
            editing=True,
        )

        def saved(_account_id: int) -> None:
            window.account_banner.clear_problem(account_id)
            restart_engine.set()  # the engine reconnects with the new settings
            controller.reload()

        dialog.account_saved.connect(saved)
        dialog.open()

    def remove_account(account_id: int) -> None:
        from inbox_app.store.accounts import get_account
        from inbox_app.store.models import Conversation
        from inbox_app.sync.account_setup import remove_account as remove
        from inbox_app.ui.account_dialog import ask_remove_account

        account = get_account(account_id)
        if account is None:
            return
        count = Conversation.select().where(Conversation.account == account_id).count()

        def chosen(delete_conversations: bool) -> None:
            remove(account_id, delete_conversations=delete_conversations)
            window.account_banner.clear_problem(account_id)
            restart_engine.set()  # stop syncing it
            controller.reload()

        ask_remove_account(window, str(account.name), count, chosen)

    from inbox_app.ui.controller import MainController

    controller = MainController(profile, window=window, on_try_demo=try_demo, on_add_account=add_account)
    from inbox_app.ui.triage_actions import TriageActions

    TriageActions(
        controller
    )  # multi-selection, bulk actions with undo (x, t, c, a…); owned by the controller
    controller.edit_account_requested.connect(edit_account)
    window.add_marketplace_requested.connect(add_marketplace_account)
    window.reconnect_banner.reconnect_requested.connect(
        lambda aid: open_marketplace_dialog(aid, reconnect=True)
    )
    controller.remove_account_requested.connect(remove_account)
    controller.retry_sync_requested.connect(restart_engine.set)
    bus.subscribe(controller.handle_change_event)
    controller.wake_outbox_requested.connect(engine.wake_outbox)
    reply_editor = controller.reply_widget
    if reply_editor is not None and hasattr(reply_editor, "reply_queued"):
        reply_editor.reply_queued.connect(lambda *_args: engine.wake_outbox())
    controller.start()
    controller.start_notifier()
    from inbox_app.ui.keyring_notice import maybe_show_plaintext_keyring_notice

    if not profile.read_only:
        QTimer.singleShot(0, lambda: maybe_show_plaintext_keyring_notice(window))
    if profile.read_only:
        _show_read_only_notice(window)
        if controller.reply_widget is not None:
            controller.reply_widget.setEnabled(False)  # no drafts, no sending
    window.show()

    # Closing the window ends main(), which stops the engine and then returns from qasync.run; letting
    # Qt quit on its own instead would stop the loop under the engine's feet.
    app.setQuitOnLastWindowClosed(False)
    window.closing.connect(stop.set)
    gui = Gui(app, profile, window, controller, engine, stop, restart_engine)
    gui.on_exit.append(_wire_live_demo(window, controller, restart_engine))
    return gui


def _wire_live_demo(window: Any, controller: Any, restart_engine: asyncio.Event) -> Callable[[], object]:
    """The first-run screen's "Start the live demo": sandboxes and accounts off the UI thread, then the engine
    restarts to sync them. Returns what stops the sandboxes when the app quits."""
    from inbox_app.i18n import _
    from inbox_app.ui.live_demo_runner import LiveDemoRunner

    runner = LiveDemoRunner(window)
    check, status = window.empty_state.live_demo_check, window.empty_state.live_demo_status

    def requested() -> None:
        check.setEnabled(False)  # once started it runs until the app quits
        status.setText(_("Starting the marketplace sandboxes on this computer…"))
        runner.start()

    def started(names: list[str]) -> None:
        status.setText(
            _("Live demo: {names} run on this computer (127.0.0.1).").format(names=", ".join(names))
        )
        restart_engine.set()  # the engine picks the new accounts up and syncs them
        controller.reload()

    def failed(message: str) -> None:
        status.setText(_("The live demo could not start: {error}").format(error=message))

    window.live_demo_requested.connect(requested)
    runner.started.connect(started)
    runner.failed.connect(failed)
    return runner.close
