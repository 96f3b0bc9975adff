"""The marketplace account dialog: add (or reconnect, or edit) a Mirakl, eBay, Kaufland or Allegro account.

The seller picks the kind (each with its icon and one sentence on what it needs), fills its page
(``ui.marketplace_pages``) and signs in the kind's way: Mirakl and Kaufland by keys; eBay by opening eBay's
consent page in the system browser and pasting back the code (or the address eBay showed, or a refresh
token); Allegro by the device flow — the dialog shows the code, the address and a countdown, waits for the
seller to confirm on allegro.pl, and can be cancelled. "Test connection" makes the channel's cheapest
authenticated call and says which part failed (address, key refused, shop, service), marking that field; Save
is offered once the test passed and stores what the test ended with (tokens in the keyring).

Everything goes through :mod:`inbox_app.services.marketplace_accounts`. Network work never runs on the UI
thread's stack: it is a task on the app's loop (``account_dialog._BackgroundTest``, the one helper the account
dialogs share), and its result comes back through a Qt signal; closing the dialog cancels it.

Edit and reconnect (``account_id`` given): the kind is fixed, the stored settings are filled in, and the sign-in step
is what the seller does; Save updates the account, which clears its "needs reconnect" state.

Signals:
    account_saved(int): the account with this id was stored (the dialog then closes).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from inbox_app.i18n import _, format_duration
from inbox_app.services import marketplace_accounts as svc
from inbox_app.ui.account_dialog import _BackgroundTest, _Relay
from inbox_app.ui.channel_badges import kind_label
from inbox_app.ui.icons import channel_icon
from inbox_app.ui.marketplace_pages import AllegroPage, EbayPage, MarketplacePage, make_pages

log = logging.getLogger("inbox_app.ui")

OpenUrl = Callable[[QUrl], object]
_P = TypeVar("_P", bound=MarketplacePage)


class _Progress(QObject):
    """Carries the Allegro device code from the background work to the dialog (queued across threads)."""

    device_code = Signal(object)


async def ebay_signed_in(form: svc.EbayForm, pasted: str) -> svc.MarketplaceForm:
    """eBay's form with working tokens from what the seller pasted: a code or the address eBay showed (traded
    for tokens), else a refresh token; then tested. Raises ``MarketplaceSetupError`` naming what failed."""
    if not pasted:
        return await svc.test(form)
    try:
        exchanged = await svc.ebay_exchange_code(form, pasted)
    except svc.MarketplaceSetupError:
        if "code=" in pasted or "://" in pasted:
            raise  # an address eBay showed: its code was refused (used, or older than five minutes)
        # Not a code eBay takes: the seller may have pasted a refresh token.
        return await svc.test(dataclasses.replace(form, refresh_token=pasted, access_token=""))
    return await svc.test(exchanged)


class MarketplaceAccountDialog(QDialog):
    account_saved = Signal(int)

    def __init__(
        self,
        parent: QWidget | None,
        *,
        account_id: int | None = None,
        reconnect: bool = False,
        open_url: OpenUrl | None = None,
    ) -> None:
        super().__init__(parent)
        self._account_id = account_id
        self._open_url: OpenUrl = open_url or QDesktopServices.openUrl
        self._job: _BackgroundTest | None = None
        self._tested: svc.MarketplaceForm | None = None
        self._device: svc.AllegroDeviceCode | None = None
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick)

        layout = QVBoxLayout(self)
        self.intro = QLabel(
            _(
                "Connect a marketplace shop. Its keys and tokens are kept in your system's keyring, never in "
                "the inbox's database."
            ),
            self,
        )
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        kind_row = QFormLayout()
        self.kind_combo = QComboBox(self)
        self.kind_combo.setObjectName("kind")
        self.pages = make_pages(self)
        self.stack = QStackedWidget(self)
        for page in self.pages:
            self.kind_combo.addItem(channel_icon(page.kind), kind_label(page.kind), page.kind)
            self.stack.addWidget(page)
            page.changed.connect(self._edited)
        kind_row.addRow(_("Kind:"), self.kind_combo)
        layout.addLayout(kind_row)
        layout.addWidget(self.stack)
        self.message_label = QLabel(self)
        self.message_label.setObjectName("message")
        self.message_label.setWordWrap(True)
        # Room for a two-line message from the start: a test's answer never squeezes the form.
        self.message_label.setMinimumHeight(self.message_label.fontMetrics().lineSpacing() * 2 + 4)
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.message_label)
        buttons = QDialogButtonBox(self)
        self.test_button = QPushButton(_("Test connection"), self)
        self.save_button = QPushButton(_("Save"), self)
        self.save_button.setEnabled(False)
        buttons.addButton(self.test_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.test_button.clicked.connect(self._test_clicked)
        self.save_button.clicked.connect(self._save_clicked)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        ebay = self.page_of(EbayPage)
        ebay.sign_in_requested.connect(self._open_ebay_sign_in)
        allegro = self.page_of(AllegroPage)
        allegro.sign_in_requested.connect(self._start_allegro_sign_in)
        allegro.cancel_requested.connect(self._cancel_allegro_sign_in)
        allegro.open_requested.connect(self._open_allegro_page)

        # The Mirakl fields under their former names (the Mirakl set-up's callers and tests use them).
        mirakl = self.pages[0]
        self.name_edit = mirakl.edits["name"]
        self.url_edit = mirakl.edits["base_url"]
        self.key_edit = mirakl.edits["api_key"]
        self.shop_edit = mirakl.edits["shop_id"]

        self.setWindowTitle(_("Add a marketplace account"))
        if account_id is not None:
            self._load_stored(account_id, reconnect=reconnect)
        self.resize(600, self.sizeHint().height())

    # ---------------------------------------------------------------------------------------- pages
    def page_of(self, page_type: type[_P]) -> _P:
        return next(p for p in self.pages if isinstance(p, page_type))

    def current_page(self) -> MarketplacePage:
        page = self.stack.currentWidget()
        assert isinstance(page, MarketplacePage)
        return page

    def select_kind(self, kind: str) -> None:
        index = self.kind_combo.findData(kind)
        if index >= 0:
            self.kind_combo.setCurrentIndex(index)

    def _kind_changed(self, index: int) -> None:
        self._cancel_job()
        self.stack.setCurrentIndex(index)
        self._tested = None
        self.save_button.setEnabled(False)
        self._show("", error=False)

    def _load_stored(self, account_id: int, *, reconnect: bool) -> None:
        try:
            form = svc.stored_form(account_id)
        except LookupError:
            self._show(_("This account no longer exists."), error=True)
            self.test_button.setEnabled(False)
            return
        self.select_kind(form.kind)
        self.kind_combo.setEnabled(False)
        self.current_page().load(form)
        if not reconnect:
            self.setWindowTitle(_("Edit {account}").format(account=form.name))
            self.intro.setText(_("Change the account's settings or keys, test the connection, then save."))
            return
        self.setWindowTitle(_("Reconnect {account}").format(account=form.name))
        self.intro.setText(
            _(
                "{channel} no longer accepts this account's sign-in. Sign in again below, test the "
                "connection, then save: the sync starts again by itself."
            ).format(channel=kind_label(form.kind))
        )

    # ------------------------------------------------------------------------------------- messages
    def _show(self, text: str, *, error: bool, field_name: str | None = None) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #b00020;" if error else "color: #1b5e20;")
        for edit in self.current_page().edits.values():
            edit.setStyleSheet("")
        if field_name is not None:
            marked = self.current_page().findChild(QLineEdit, field_name)
            if marked is not None:
                marked.setStyleSheet("border: 2px solid #b00020;")
                marked.setFocus()

    def highlighted_field(self) -> str | None:
        for edit in self.current_page().edits.values():
            if edit.styleSheet():
                return edit.objectName()
        return None

    def _edited(self) -> None:
        if self._tested is not None:
            self._tested = None
            self.save_button.setEnabled(False)

    # ----------------------------------------------------------------------------- background work
    def _run(
        self,
        make: Callable[[], Awaitable[Any]],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Run ``make()`` off the UI thread's stack (a task on the app's loop); the latest job wins."""
        self._cancel_job()
        relay = _Relay(self)

        async def work(_unused: object) -> list[Any]:
            return [await make()]

        job = _BackgroundTest(work, None, relay)  # type: ignore[arg-type]
        relay.done.connect(lambda result, error: self._job_done(job, result, error, on_done, on_error))
        self._job = job
        job.start()

    def _job_done(
        self,
        job: _BackgroundTest,
        result: object,
        error: object,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        if job is not self._job:
            return  # a job that was replaced or cancelled
        self._job = None
        if isinstance(error, BaseException):
            on_error(error)
        elif isinstance(result, list) and result:
            on_done(result[0])

    def _cancel_job(self) -> None:
        job, self._job = self._job, None
        if job is not None:
            job.cancel()
        self._stop_waiting()

    def busy(self) -> bool:
        """Whether a test or a sign-in is running (tests wait on this)."""
        return self._job is not None

    # ---------------------------------------------------------------------------------------- test
    def _test_clicked(self) -> None:
        page = self.current_page()
        missing = page.missing()
        if missing is not None:
            self._show(_("Fill in this field first."), error=True, field_name=missing)
            return
        form = page.form()
        pasted = page.pasted() if isinstance(page, EbayPage) else ""
        self.test_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self._show(_("Testing the connection…"), error=False)

        async def test() -> svc.MarketplaceForm:
            if isinstance(form, svc.EbayForm):
                return await ebay_signed_in(form, pasted)
            return await svc.test(form)

        self._run(test, self._test_passed, self._test_failed)

    def _test_passed(self, tested: svc.MarketplaceForm) -> None:
        self.test_button.setEnabled(True)
        self._tested = tested
        page = self.current_page()
        if isinstance(page, AllegroPage) and isinstance(tested, svc.AllegroForm):
            page.set_signed_in(tested)
        self.save_button.setEnabled(True)
        self.save_button.setDefault(True)
        self._show(_("The connection works. Save the account to start syncing it."), error=False)

    def _test_failed(self, error: BaseException) -> None:
        self.test_button.setEnabled(True)
        self._tested = None
        if isinstance(error, svc.MarketplaceSetupError):
            self._show(
                svc.setup_error_text(error),
                error=True,
                # an empty field names itself (name, user name, RuName); a refused test names its part
                field_name=error.field
                or self.current_page().field_for(str(error.part))
                or ("name" if error.part is svc.FailedPart.INPUT else None),
            )
            return
        log.error("the marketplace connection test failed unexpectedly", exc_info=error)
        self._show(
            _("The test stopped on an internal error; details are in the log."),
            error=True,
        )

    # ---------------------------------------------------------------------------------------- save
    def _save_clicked(self) -> None:
        tested = self._tested
        if tested is None:
            return
        try:
            if self._account_id is None:
                account_id = svc.save(tested).id
            else:
                account_id = svc.update(self._account_id, tested).id
        except Exception as exc:  # the keyring is missing or the disk is full: say so, keep the form
            message = str(getattr(exc, "user_message", "") or exc)
            self._show(_("The account could not be saved: {error}").format(error=message), error=True)
            return
        self.account_saved.emit(account_id)
        self.accept()

    # ------------------------------------------------------------------------------------ eBay sign-in
    def _open_ebay_sign_in(self) -> None:
        page = self.page_of(EbayPage)
        for name in ("client_id", "ru_name"):
            if not page.text(name):
                self._show(_("Fill in this field first."), error=True, field_name=name)
                return
        try:
            url = svc.ebay_consent_url(page.form())
        except svc.MarketplaceSetupError as exc:
            self._show(exc.user_message, error=True, field_name=exc.field or "ru_name")
            return
        self._open_url(QUrl(url))
        self._show(
            _(
                "eBay's sign-in page is open in your browser. After you agree, copy the address of the page "
                "eBay shows (or its code) and paste it here."
            ),
            error=False,
        )
        page.edits["pasted"].setFocus()

    # --------------------------------------------------------------------------------- Allegro sign-in
    def _start_allegro_sign_in(self) -> None:
        page = self.page_of(AllegroPage)
        missing = page.missing()
        if missing is not None:
            self._show(_("Fill in this field first."), error=True, field_name=missing)
            return
        form = page.form()
        progress = _Progress(self)
        progress.device_code.connect(self._show_device_code)

        async def sign_in() -> svc.MarketplaceForm:
            # The flow runs to its end in this task (its connection is closed here, not by the garbage
            # collector); cancelling the task ends it inside the generator the same way.
            signed_in: svc.AllegroForm | None = None
            async for step in svc.allegro_device_flow(form):
                if isinstance(step, svc.AllegroDeviceCode):
                    progress.device_code.emit(step)
                else:
                    signed_in = step.form
            if signed_in is None:
                raise svc.MarketplaceSetupError(svc.FailedPart.SERVICE, _("Allegro ended the sign-in."))
            return await svc.test(signed_in)

        page.sign_in_button.setEnabled(False)
        self.test_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self._show(_("Asking Allegro for a code…"), error=False)
        self._run(sign_in, self._allegro_signed_in, self._allegro_failed)

    def _show_device_code(self, device: svc.AllegroDeviceCode) -> None:
        page = self.page_of(AllegroPage)
        self._device = device
        page.code_label.setText(device.user_code)
        page.address_label.setText(
            _("Open {address}, check that Allegro shows this code, and allow access:").format(
                address=device.verification_uri
            )
        )
        page.waiting.show()
        self._tick()
        self._countdown.start()
        self._show(_("Waiting for you to confirm on allegro.pl…"), error=False)

    def _tick(self) -> None:
        device = self._device
        if device is None:
            return
        left = device.seconds_left()
        self.page_of(AllegroPage).countdown_label.setText(
            _("The code is valid for {time}.").format(time=format_duration(timedelta(seconds=left)))
            if left > 0
            else _("The code has expired.")
        )

    def _stop_waiting(self) -> None:
        self._countdown.stop()
        self._device = None
        page = self.page_of(AllegroPage) if hasattr(self, "pages") else None
        if page is not None:
            page.waiting.hide()
            page.sign_in_button.setEnabled(True)

    def _open_allegro_page(self) -> None:
        device = self._device
        if device is not None:
            self._open_url(QUrl(device.verification_uri_complete or device.verification_uri))

    def _cancel_allegro_sign_in(self) -> None:
        self._cancel_job()
        self.test_button.setEnabled(True)
        self._show(_("Sign-in cancelled."), error=False)

    def _allegro_signed_in(self, tested: svc.MarketplaceForm) -> None:
        self._stop_waiting()
        self._test_passed(tested)
        self._show(_("Signed in to Allegro. Save the account to start syncing it."), error=False)

    def _allegro_failed(self, error: BaseException) -> None:
        self._stop_waiting()
        self._test_failed(error)

    # ------------------------------------------------------------------------------------------ close
    def done(self, result: int) -> None:
        self._cancel_job()
        super().done(result)
