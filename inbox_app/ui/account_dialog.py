"""The "Add mail account" dialog: address and password first, servers guessed, the connection tested.

Why it is built this way: most sellers know their address and password, not "IMAP port 993 SSL/TLS", so the
dialog asks for those, guesses the servers (``AccountForm.guess_servers``) and keeps the rest under
"Advanced settings". The test says exactly what failed in the user's words and marks the step (server name,
connection, encryption, login, folders) and the field to fix; Save is offered once the test passed, and
"Save anyway…" (with a confirmation) after a failure, for a server that is down right now.

``ui`` may not import ``sync``: the caller injects ``test_connection`` (a coroutine function returning the
IMAP folders or raising ``AccountSetupError``) and ``save`` (returns the new account id). In the app the test
is a task on the running qasync loop (network I/O is async there, like the sync engine's); without a running
loop (a dialog shown on its own) it runs in a worker thread with a plain asyncio loop of its own. Either way
the result comes back through a Qt signal and the window never blocks. (``asyncio.run`` in a thread would
pick up qasync's loop policy and fail with a RuntimeError: the worker makes its loop explicitly.)

Signals (``AccountDialog``):
    account_saved(int): the account with this id was stored (the dialog then closes with ``accept()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from inbox_app.domain.account_form import (
    SECURITY_NONE,
    SECURITY_STARTTLS,
    SECURITY_TLS,
    AccountForm,
    AccountSetupError,
    default_port,
    is_local_network_host,
    is_loopback_host,
)
from inbox_app.i18n import N_, _, ngettext

log = logging.getLogger("inbox_app.ui")

TestConnection = Callable[[AccountForm], Awaitable[list[str]]]
SaveAccount = Callable[[AccountForm], int]

SERVERS = ("imap", "smtp")
SERVER_LABELS = {"imap": N_("Incoming mail (IMAP)"), "smtp": N_("Outgoing mail (SMTP)")}
# The steps of one server in the order they happen; a failure at one means the earlier ones passed.
STEPS: dict[str, tuple[str, ...]] = {
    "imap": ("dns", "connect", "tls", "login", "folder"),
    "smtp": ("dns", "connect", "tls", "login"),
}
STEP_LABELS = {
    "dns": N_("Server name"),
    "connect": N_("Connection"),
    "tls": N_("Encryption"),
    "login": N_("Login"),
    "folder": N_("Folders"),
}
# What the user should look at after a failure at this step.
# What to look at next, beyond what the error itself says (no hint where the message already says it all).
STEP_HINTS = {
    "connect": N_("A firewall or antivirus program can also block the connection."),
    "tls": N_("The server name must be the one on the server's certificate (ask your provider)."),
    "login": N_(
        "Some providers (Gmail, iCloud, Yahoo, Outlook) need an app password instead of your usual one."
    ),
    "folder": N_("Separate several folders with commas."),
}
STEP_STATE_LABELS = {
    "pending": N_("not tested yet"),
    "ok": N_("works"),
    "skipped": N_("no encryption (this computer only)"),
    "failed": N_("failed"),
}
SECURITY_CHOICES = (
    (SECURITY_TLS, N_("SSL/TLS")),
    (SECURITY_STARTTLS, N_("STARTTLS")),
    (SECURITY_NONE, N_("None (this computer only)")),
)
OK_COLOR = "#2e7d32"
FAIL_COLOR = "#c62828"


W = TypeVar("W", bound=QWidget)


def _named(widget: W, name: str) -> W:
    """Give ``widget`` an object name (tests and style sheets find it by that) and return it."""
    widget.setObjectName(name)
    return widget


class _Relay(QObject):
    """Carries a worker thread's result to the GUI thread (queued: the relay lives in the GUI thread)."""

    done = Signal(object, object)  # folders (list[str]) or None, exception or None


def _plain_loop() -> asyncio.AbstractEventLoop:
    """A standard asyncio loop, whatever loop policy the application installed (qasync's needs Qt's thread)."""
    factory = getattr(asyncio, "ProactorEventLoop", None) if sys.platform == "win32" else None
    return factory() if factory is not None else asyncio.SelectorEventLoop()


class _BackgroundTest:
    """Runs ``factory(form)`` to completion: on the running (qasync) loop, else in a daemon thread."""

    def __init__(self, factory: TestConnection, form: AccountForm, relay: _Relay) -> None:
        self._factory = factory
        self._form = form
        self._relay = relay  # referenced here so it outlives a closed dialog until the thread is done
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name="account-test", daemon=True)
        self._in_loop = False

    def start(self) -> None:
        try:
            loop = asyncio.get_running_loop()  # the app's qasync loop, when called from its window
        except RuntimeError:
            loop = None
        if loop is None:
            self._thread.start()
            return
        self._in_loop = True
        self._loop = loop
        self._task = loop.create_task(self._main())
        self._task.add_done_callback(self._task_done)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker thread (tests, shutdown); True when it has ended."""
        if self._in_loop:
            return self._task is None or self._task.done()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or self._cancelled:
            return
        error = task.exception()
        folders = None if error is not None else task.result()
        self._relay.done.emit(folders, error)

    def cancel(self) -> None:
        """Stop the test; no result will be delivered."""
        self._cancelled = True
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop already finished
                loop.call_soon_threadsafe(task.cancel)

    async def _main(self) -> list[str]:
        if not self._in_loop:
            self._task = asyncio.current_task()
            self._loop = asyncio.get_running_loop()
        if self._cancelled:
            raise asyncio.CancelledError
        return list(await self._factory(self._form))

    def _run(self) -> None:
        folders: list[str] | None = None
        error: BaseException | None = None
        try:
            with asyncio.Runner(loop_factory=_plain_loop) as runner:
                folders = runner.run(self._main())
        except asyncio.CancelledError:
            return
        except Exception as exc:  # delivered to the GUI thread, which decides how to show it
            error = exc
        if self._cancelled:
            return
        with contextlib.suppress(RuntimeError):  # the relay's C++ side is gone (application quitting)
            self._relay.done.emit(folders, error)


class AccountDialog(QDialog):
    """Add an IMAP/SMTP mail account (see the module docstring). Signals: ``account_saved(int)``."""

    account_saved = Signal(int)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        test_connection: TestConnection,
        save: SaveAccount,
        form: AccountForm | None = None,
        editing: bool = False,
    ) -> None:
        super().__init__(parent)
        self.editing = editing  # an existing account: its stored settings are in the form
        self._test_connection = test_connection
        self._save = save
        self._relay = _Relay()
        self._relay.done.connect(self._test_finished)
        self._running: _BackgroundTest | None = None
        self._passed = False  # the last test passed and nothing changed since
        self._failed = False
        self._filling = False  # fields are being set by code, not typed by the user
        self._servers_edited = False  # the user touched a server setting: stop guessing
        self._step_states: dict[tuple[str, str], str] = {}
        self._highlighted: list[QLabel] = []
        self.found_folders: list[str] = []
        self.saved_account_id: int | None = None

        self.setWindowTitle(_("Edit mail account") if editing else _("Add mail account"))
        self.setMinimumWidth(640)
        self._build()
        self._connect()
        self.set_form(form or AccountForm())
        self._reset_steps()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        intro = QLabel(
            _(
                "Enter the address and password of the mailbox your customers write to. The server settings "
                "are filled in for you; you can change them under Advanced settings."
            )
        )
        intro.setWordWrap(True)
        outer.addWidget(intro)

        basic = QFormLayout()
        self.email_edit = _named(QLineEdit(), "email")
        self.email_edit.setPlaceholderText(_("shop@example.com"))
        self.password_edit = _named(QLineEdit(), "password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.from_name_edit = _named(QLineEdit(), "from_name")
        self.from_name_edit.setPlaceholderText(_("for example: Customer service, Shop Example"))
        basic.addRow(_("E-mail address:"), self.email_edit)
        basic.addRow(_("Password:"), self.password_edit)
        basic.addRow(_("Your name:"), self.from_name_edit)
        self._basic = basic
        outer.addLayout(basic)

        self.advanced_button = _named(QToolButton(), "advanced_toggle")
        self.advanced_button.setText(_("Advanced settings"))
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_button.setAutoRaise(True)
        outer.addWidget(self.advanced_button)

        self.advanced = _named(QWidget(), "advanced")
        adv = QVBoxLayout(self.advanced)
        adv.setContentsMargins(0, 0, 0, 0)
        name_form = QFormLayout()
        self.name_edit = _named(QLineEdit(), "name")
        name_form.addRow(_("Account name:"), self.name_edit)
        adv.addLayout(name_form)
        self._server_forms: dict[str, QFormLayout] = {}
        self.host_edits: dict[str, QLineEdit] = {}
        self.port_spins: dict[str, QSpinBox] = {}
        self.security_combos: dict[str, QComboBox] = {}
        self.user_edits: dict[str, QLineEdit] = {}
        servers_row = QHBoxLayout()
        for server in SERVERS:
            box = QGroupBox(_(SERVER_LABELS[server]))
            grid = QFormLayout(box)
            host = _named(QLineEdit(), f"{server}_host")
            port = _named(QSpinBox(), f"{server}_port")
            port.setRange(1, 65535)
            security = _named(QComboBox(), f"{server}_security")
            for value, label in SECURITY_CHOICES:
                security.addItem(_(label), value)
            user = _named(QLineEdit(), f"{server}_user")
            grid.addRow(_("Server:"), host)
            grid.addRow(_("Port:"), port)
            grid.addRow(_("Security:"), security)
            grid.addRow(_("User name:"), user)
            self.host_edits[server], self.port_spins[server] = host, port
            self.security_combos[server], self.user_edits[server] = security, user
            self._server_forms[server] = grid
            servers_row.addWidget(box)
        self.smtp_password_edit = _named(QLineEdit(), "smtp_password")
        self.smtp_password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.smtp_password_edit.setPlaceholderText(_("same as above"))
        self._server_forms["smtp"].addRow(_("Password:"), self.smtp_password_edit)
        self.smtp_no_auth_check = _named(QCheckBox(_("No authentication (local relay)")), "smtp_no_auth")
        self.smtp_no_auth_check.setToolTip(
            _("Send without logging in, for a relay on this computer or your network that trusts it.")
        )
        self._server_forms["smtp"].addRow(self.smtp_no_auth_check)
        # Shown when a relay without login is on the internet (see AccountForm.warnings).
        self.smtp_auth_warning = _named(QLabel(), "smtp_auth_warning")
        self.smtp_auth_warning.setWordWrap(True)
        self.smtp_auth_warning.hide()
        adv.addLayout(servers_row)
        adv.addWidget(self.smtp_auth_warning)
        self.security_note = QLabel(
            _(
                "“None” (no encryption) is offered only for servers on this computer: over a network anyone "
                "on the way could read your password."
            )
        )
        self.security_note.setWordWrap(True)
        self.security_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        adv.addWidget(self.security_note)
        folder_form = QFormLayout()
        self.folders_edit = _named(QLineEdit(), "folders")
        self.folders_edit.setToolTip(_("Folders to bring into the inbox, separated by commas."))
        folder_form.addRow(_("Folders:"), self.folders_edit)
        self._folder_form = folder_form
        adv.addLayout(folder_form)
        self.advanced.setVisible(False)
        outer.addWidget(self.advanced)

        test_row = QHBoxLayout()
        self.test_button = _named(QPushButton(_("Test connection")), "test_button")
        self.progress = _named(QProgressBar(), "progress")
        self.progress.setRange(0, 0)  # busy indicator: we cannot know how long a server takes
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(160)
        self.progress.setVisible(False)
        self.progress_label = QLabel()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.progress)
        test_row.addWidget(self.progress_label, 1)
        outer.addLayout(test_row)

        steps_grid = QGridLayout()
        steps_grid.setHorizontalSpacing(14)
        self.step_labels: dict[tuple[str, str], QLabel] = {}
        for row, server in enumerate(SERVERS):
            title = QLabel(f"<b>{html.escape(_(SERVER_LABELS[server]))}</b>")
            steps_grid.addWidget(title, row, 0)
            for column, step in enumerate(STEPS[server], start=1):
                cell = _named(QLabel(), f"{server}_{step}_step")
                cell.setTextFormat(Qt.TextFormat.RichText)
                self.step_labels[(server, step)] = cell
                steps_grid.addWidget(cell, row, column)
        steps_grid.setColumnStretch(len(STEPS["imap"]) + 1, 1)
        outer.addLayout(steps_grid)
        self.result_label = _named(QLabel(), "result")
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.result_label)
        outer.addStretch(1)

        self.buttons = QDialogButtonBox()
        self.save_button = self.buttons.addButton(_("Save"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_anyway_button = self.buttons.addButton(
            _("Save anyway…"), QDialogButtonBox.ButtonRole.ActionRole
        )
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.save_button.setEnabled(False)
        self.save_anyway_button.setVisible(False)
        outer.addWidget(self.buttons)
        self.test_button.setDefault(True)

    def _connect(self) -> None:
        self.email_edit.textEdited.connect(self._email_edited)
        self.advanced_button.toggled.connect(self._toggle_advanced)
        for server in SERVERS:
            self.host_edits[server].textEdited.connect(self._server_edited)
            self.host_edits[server].textChanged.connect(self._update_security_choices)
            self.port_spins[server].valueChanged.connect(self._server_edited)
            self.security_combos[server].currentIndexChanged.connect(
                lambda _i, s=server: self._security_changed(s)
            )
            self.user_edits[server].textEdited.connect(self._server_edited)
        self.user_edits["imap"].textChanged.connect(self._update_placeholders)
        edits = (
            self.email_edit,
            self.password_edit,
            self.from_name_edit,
            self.name_edit,
            self.smtp_password_edit,
            self.folders_edit,
            *self.host_edits.values(),
            *self.user_edits.values(),
        )
        for edit in edits:
            edit.textChanged.connect(self._settings_changed)
        self.smtp_no_auth_check.toggled.connect(self._smtp_auth_toggled)
        self.host_edits["smtp"].textChanged.connect(self._update_smtp_auth_warning)
        self.test_button.clicked.connect(self._test_clicked)
        self.save_button.clicked.connect(self._save_clicked)
        self.save_anyway_button.clicked.connect(self._save_anyway_clicked)
        self.cancel_button.clicked.connect(self.reject)

    # ------------------------------------------------------------------ form <-> widgets
    def form(self) -> AccountForm:
        """What the user entered, as the plain dataclass the injected functions take."""
        return AccountForm(
            email=self.email_edit.text().strip(),
            password=self.password_edit.text(),
            from_name=self.from_name_edit.text().strip(),
            name=self.name_edit.text().strip(),
            imap_host=self.host_edits["imap"].text().strip(),
            imap_port=self.port_spins["imap"].value(),
            imap_security=str(self.security_combos["imap"].currentData()),
            imap_user=self.user_edits["imap"].text().strip(),
            smtp_host=self.host_edits["smtp"].text().strip(),
            smtp_port=self.port_spins["smtp"].value(),
            smtp_security=str(self.security_combos["smtp"].currentData()),
            smtp_user=self.user_edits["smtp"].text().strip(),
            smtp_password=self.smtp_password_edit.text(),
            folders=tuple(f.strip() for f in self.folders_edit.text().split(",") if f.strip()),
            smtp_auth=not self.smtp_no_auth_check.isChecked(),
        )

    def set_form(self, form: AccountForm) -> None:
        """Fill every field from ``form`` (a pre-filled form counts as chosen servers: no more guessing)."""
        self._filling = True
        try:
            self.email_edit.setText(form.email)
            self.password_edit.setText(form.password)
            self.from_name_edit.setText(form.from_name)
            self.name_edit.setText(form.name)
            self._fill_servers(form)
            self.user_edits["imap"].setText(form.imap_user)
            self.user_edits["smtp"].setText(form.smtp_user)
            self.smtp_password_edit.setText(form.smtp_password)
            self.smtp_no_auth_check.setChecked(not form.smtp_auth)
            self.folders_edit.setText(", ".join(form.folders))
        finally:
            self._filling = False
        self._servers_edited = bool(form.imap_host or form.smtp_host)
        self._update_placeholders()

    def _fill_servers(self, form: AccountForm) -> None:
        for server in SERVERS:
            self.host_edits[server].setText(str(getattr(form, f"{server}_host")))
            combo = self.security_combos[server]
            combo.setCurrentIndex(max(0, combo.findData(getattr(form, f"{server}_security"))))
            combo.setProperty("previous", combo.currentData())
            self.port_spins[server].setValue(int(getattr(form, f"{server}_port")))

    # ------------------------------------------------------------------ reactions to typing
    def _email_edited(self, text: str) -> None:
        self._update_placeholders()
        if self._servers_edited:
            return
        guess = AccountForm()
        guess.guess_servers(text)
        if not guess.imap_host:
            return
        self._filling = True
        try:
            self._fill_servers(guess)
        finally:
            self._filling = False

    def _update_placeholders(self, *_args: object) -> None:
        """Empty fields show what will be used (see ``AccountForm.effective_*``)."""
        email = self.email_edit.text().strip()
        self.name_edit.setPlaceholderText(email or _("shown in the sidebar"))
        imap_user = self.user_edits["imap"].text().strip() or email
        self.user_edits["imap"].setPlaceholderText(email or _("your e-mail address"))
        self.user_edits["smtp"].setPlaceholderText(imap_user or _("same as incoming mail"))

    def _server_edited(self, *_args: object) -> None:
        if not self._filling:
            self._servers_edited = True
        self._settings_changed()

    def _security_changed(self, server: str) -> None:
        combo, port = self.security_combos[server], self.port_spins[server]
        previous, current = combo.property("previous"), str(combo.currentData())
        combo.setProperty("previous", current)
        if not self._filling and previous and port.value() == default_port(server, str(previous)):
            port.setValue(default_port(server, current))  # the user kept the usual port: follow the choice
        self._server_edited()

    def _smtp_auth_toggled(self, no_auth: bool) -> None:
        """No login: the SMTP user and password do not apply; plain text is possible on the local network."""
        self.user_edits["smtp"].setEnabled(not no_auth)
        self.smtp_password_edit.setEnabled(not no_auth)
        self._update_security_choices()
        self._update_smtp_auth_warning()
        self._settings_changed()

    def _update_smtp_auth_warning(self, *_args: object) -> None:
        warnings = self.form().warnings()
        self.smtp_auth_warning.setText("\n".join(warnings))
        self.smtp_auth_warning.setVisible(bool(warnings))
        if warnings:
            self._grow_to_fit()

    def _update_security_choices(self, *_args: object) -> None:
        """Offer "None" only where the host is this computer; the note says why it is greyed out."""
        any_remote = False
        for server in SERVERS:
            host = self.host_edits[server].text().strip()
            local = is_loopback_host(host) if host else False
            if server == "smtp" and host and self.smtp_no_auth_check.isChecked():
                local = is_local_network_host(host)  # no password to protect: a LAN relay may be plain
            any_remote = any_remote or not local
            combo = self.security_combos[server]
            index = combo.findData(SECURITY_NONE)
            item = combo.model().item(index)  # type: ignore[attr-defined]  # a QStandardItemModel
            item.setEnabled(local)
            item.setToolTip("" if local else _("Only for servers on this computer (localhost, 127.0.0.1)."))
        self.security_note.setVisible(any_remote)

    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        if shown:
            self._grow_to_fit()
        else:
            layout = self.layout()
            if layout is not None:
                layout.activate()
            self.adjustSize()

    def _settings_changed(self, *_args: object) -> None:
        """Any edit makes an earlier test result stale."""
        if self._filling or self._running is not None:
            return
        if self._passed or self._failed:
            self._passed = self._failed = False
            self._reset_steps()
            self.result_label.setText(
                html.escape(_("The settings changed since the last test. Test the connection again."))
            )
        self._update_buttons()

    # ------------------------------------------------------------------ testing
    def _test_clicked(self) -> None:
        if self._running is not None:
            self._stop_test()
            self.result_label.setText(html.escape(_("Test stopped.")))
            return
        form = self.form()
        self._clear_highlights()
        problems = form.field_problems()
        if problems:
            self._show_problems(problems)
            return
        self._passed = self._failed = False
        self._reset_steps()
        self.result_label.clear()
        self._set_busy(True, form)
        self._running = _BackgroundTest(self._test_connection, form, self._relay)
        self._running.start()

    def _stop_test(self) -> None:
        if self._running is not None:
            self._running.cancel()
            self._running = None
        self._set_busy(False)

    def _set_busy(self, busy: bool, form: AccountForm | None = None) -> None:
        self.progress.setVisible(busy)
        self.progress_label.setText(
            _("Testing {imap} and {smtp}…").format(imap=form.imap_host, smtp=form.smtp_host)
            if busy and form is not None
            else ""
        )
        self.test_button.setText(_("Stop test") if busy else _("Test connection"))
        for widget in (self.email_edit, self.password_edit, self.from_name_edit, self.advanced):
            widget.setEnabled(not busy)
        self._update_buttons()

    def _test_finished(self, folders: object, error: object) -> None:
        self._running = None
        self._set_busy(False)
        if isinstance(error, AccountSetupError):
            self._show_failure(error)
        elif error is not None:  # a bug, not a setting: say so plainly and log it loudly
            log.error("account test crashed", exc_info=error if isinstance(error, BaseException) else None)
            self._failed = True
            self.result_label.setText(
                self._cross(
                    _("The test stopped because of an unexpected error ({error}).").format(
                        error=type(error).__name__
                    )
                )
            )
        else:
            self._show_success(list(folders) if isinstance(folders, list) else [])
        self._update_buttons()
        self._grow_to_fit()

    def _grow_to_fit(self) -> None:
        """Grow (never shrink) so a longer result is not squeezed into the window's current height."""
        layout = self.layout()
        if layout is not None:
            layout.activate()
        hint = self.sizeHint()
        if self.height() < hint.height() or self.width() < hint.width():
            self.resize(max(self.width(), hint.width()), max(self.height(), hint.height()))

    def _show_success(self, folders: list[str]) -> None:
        self._passed, self._failed = True, False
        self._clear_highlights()
        self.found_folders = sorted(folders, key=lambda f: (f.upper() != "INBOX", f.casefold()))
        folders = self.found_folders
        for server in SERVERS:
            for step in STEPS[server]:
                self._step_states[(server, step)] = self._passed_state(server, step)
        self._render_steps()
        shown = ", ".join(folders[:6]) + (" …" if len(folders) > 6 else "")
        text = (
            _("Everything works. Receiving and sending are set up.")
            + " "
            + _("Folders on the server: {folders}").format(folders=shown)
        )
        self.result_label.setText(f'<span style="color:{OK_COLOR}">✓</span> {html.escape(text)}')

    def _passed_state(self, server: str, step: str) -> str:
        if step == "tls" and self.form_security(server) == SECURITY_NONE:
            return "skipped"
        return "ok"

    def form_security(self, server: str) -> str:
        return str(self.security_combos[server].currentData())

    def _show_failure(self, error: AccountSetupError) -> None:
        self._passed, self._failed = False, True
        if error.step == "form":
            self._show_problems(self.form().field_problems() or {"email": error.user_message})
            return
        server = error.server if error.server in SERVERS else ""
        if server:
            if server == "smtp":
                for step in STEPS["imap"]:
                    self._step_states[("imap", step)] = self._passed_state("imap", step)
            steps = STEPS[server]
            failed_at = steps.index(error.step) if error.step in steps else len(steps) - 1
            for i, step in enumerate(steps):
                if i < failed_at:
                    self._step_states[(server, step)] = self._passed_state(server, step)
                elif i == failed_at:
                    self._step_states[(server, step)] = "failed"
            self._render_steps()
            where = _("{server}, step “{step}”").format(
                server=_(SERVER_LABELS[server]), step=_(STEP_LABELS[steps[failed_at]])
            )
            text = f"<b>{html.escape(where)}:</b> {html.escape(error.user_message)}"
        else:
            text = html.escape(error.user_message)
        hint = STEP_HINTS.get(error.step)
        if hint:
            text += "<br>" + html.escape(_(hint))
        self.result_label.setText(self._cross(text, escaped=True))
        self._highlight_for(server, error.step)

    def _show_problems(self, problems: dict[str, str]) -> None:
        lines = "<br>".join(html.escape(p) for p in problems.values())
        self.result_label.setText(self._cross(lines, escaped=True))
        for name in problems:
            self._highlight_field(name)
        self._grow_to_fit()

    @staticmethod
    def _cross(text: str, *, escaped: bool = False) -> str:
        body = text if escaped else html.escape(text)
        return f'<span style="color:{FAIL_COLOR}"><b>✗</b></span> {body}'

    # ------------------------------------------------------------------ steps and highlights
    def _reset_steps(self) -> None:
        self._step_states = {(s, step): "pending" for s in SERVERS for step in STEPS[s]}
        self._render_steps()

    def step_state(self, server: str, step: str) -> str:
        """ "pending", "ok", "skipped" or "failed" (for tests and accessibility tools)."""
        return self._step_states.get((server, step), "pending")

    def _render_steps(self) -> None:
        """One cell per step: a sign *and* a colour, so the state reads without colour too."""
        for (server, step), cell in self.step_labels.items():
            state = self.step_state(server, step)
            name = html.escape(_(STEP_LABELS[step]))
            if state == "ok":
                cell.setText(f'<span style="color:{OK_COLOR}">✓ {name}</span>')
            elif state == "failed":
                cell.setText(f'<span style="color:{FAIL_COLOR}"><b>✗ {name}</b></span>')
            elif state == "skipped":
                cell.setText(f"– {name}")
            else:
                cell.setText(f"○ {name}")
            cell.setToolTip(_(STEP_STATE_LABELS[state]))

    def _highlight_for(self, server: str, step: str) -> None:
        fields = {
            "dns": [f"{server}_host"],
            "connect": [f"{server}_host", f"{server}_port"],
            "tls": [f"{server}_security", f"{server}_port"],
            "login": ["smtp_password" if server == "smtp" else "password", f"{server}_user"],
            "folder": ["folders"],
        }.get(step, [])
        for name in fields:
            # a login failure is nearly always the password: open Advanced for the user name only if shown
            self._highlight_field(name, reveal=step != "login")

    def _field(self, name: str) -> tuple[QWidget, QFormLayout] | None:
        simple: dict[str, tuple[QWidget, QFormLayout]] = {
            "email": (self.email_edit, self._basic),
            "password": (self.password_edit, self._basic),
            "from_name": (self.from_name_edit, self._basic),
        }
        if name in simple:
            return simple[name]
        server, _sep, kind = name.partition("_")
        if server in SERVERS:
            widgets: dict[str, dict[str, Any]] = {
                "host": self.host_edits,
                "port": self.port_spins,
                "security": self.security_combos,
                "user": self.user_edits,
            }
            if kind in widgets:
                return widgets[kind][server], self._server_forms[server]
            if name == "smtp_password":
                return self.smtp_password_edit, self._server_forms["smtp"]
        if name == "folders":
            return self.folders_edit, self._folder_form
        return None

    def _highlight_field(self, name: str, *, reveal: bool = True) -> None:
        """Mark the field's label (colour *and* a sign), open Advanced if it is there, focus the first one."""
        found = self._field(name)
        if found is None:
            return
        widget, layout = found
        label = layout.labelForField(widget)
        if isinstance(label, QLabel) and label not in self._highlighted:
            label.setProperty("plain_text", label.text())
            label.setText(f"⚠ {label.text()}")
            label.setStyleSheet(f"color: {FAIL_COLOR}; font-weight: bold;")
            self._highlighted.append(label)
        if reveal and self.advanced.isAncestorOf(widget) and not self.advanced_button.isChecked():
            self.advanced_button.setChecked(True)
        if len(self._highlighted) <= 1:
            widget.setFocus()

    def _clear_highlights(self) -> None:
        for label in self._highlighted:
            label.setText(str(label.property("plain_text")))
            label.setStyleSheet("")
        self._highlighted = []

    def highlighted_fields(self) -> list[str]:
        """The label texts currently marked as needing attention (without the sign)."""
        return [str(label.property("plain_text")) for label in self._highlighted]

    # ------------------------------------------------------------------ saving
    def _update_buttons(self) -> None:
        idle = self._running is None
        self.save_button.setEnabled(idle and self._passed)
        self.save_anyway_button.setVisible(idle and self._failed)
        self.save_button.setDefault(self._passed)
        self.test_button.setDefault(not self._passed)

    def _save_clicked(self) -> None:
        if self._passed:
            self._do_save()

    def _save_anyway_clicked(self) -> None:
        problems = self.form().field_problems()
        if problems:
            self._clear_highlights()
            self._show_problems(problems)
            return
        answer = QMessageBox.question(
            self,
            _("Save without a working connection?"),
            _(
                "The connection test did not pass. The account will not receive or send mail until the "
                "problem is fixed. Save it anyway?"
            ),
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Save:
            self._do_save()

    def _do_save(self) -> None:
        form = self.form()
        try:
            account_id = self._save(form)
        except AccountSetupError as exc:
            self.result_label.setText(self._cross(exc.user_message))
            return
        except Exception as exc:  # a bug: keep the dialog (and what was typed) and log it loudly
            log.exception("saving the account failed")
            self.result_label.setText(
                self._cross(_("The account could not be saved ({error}).").format(error=type(exc).__name__))
            )
            return
        self.saved_account_id = account_id
        self.account_saved.emit(account_id)
        self.accept()

    def done(self, result: int) -> None:
        self._stop_test()  # closing while testing: the worker's result is dropped
        super().done(result)


def ask_remove_account(
    parent: QWidget, name: str, conversations: int, on_chosen: Callable[[bool], object]
) -> QMessageBox:
    """Ask before removing an account: keep its conversations readable, delete them too, or cancel.

    Window-modal without a nested event loop; ``on_chosen(delete_conversations)`` runs after a choice.
    """
    box = QMessageBox(parent)
    box.setObjectName("removeAccountBox")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(_("Remove account"))
    box.setText(_("Remove the account “{name}”?").format(name=name))
    box.setInformativeText(
        ngettext(
            "It has {count} conversation. Keep it readable (nothing syncs or sends any more), or delete it "
            "from this computer too? The mailbox on the server is not touched.",
            "It has {count} conversations. Keep them readable (nothing syncs or sends any more), or delete "
            "them from this computer too? The mailbox on the server is not touched.",
            conversations,
        ).format(count=conversations)
    )
    keep = box.addButton(_("Remove, keep conversations"), QMessageBox.ButtonRole.AcceptRole)
    keep.setObjectName("keepConversations")
    delete = box.addButton(_("Remove and delete conversations"), QMessageBox.ButtonRole.DestructiveRole)
    delete.setObjectName("deleteConversations")
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)

    def finished(_result: int) -> None:
        clicked = box.clickedButton()
        if clicked is keep:
            on_chosen(False)
        elif clicked is delete:
            on_chosen(True)
        box.deleteLater()

    box.finished.connect(finished)
    box.open()
    return box
