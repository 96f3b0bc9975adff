"""The "Add a marketplace account" dialog: a Mirakl shop now, the other API channels through the same form.

The seller picks the kind, names the account after the marketplace ("Fnac ES": the name shown as the channel in
the list), types the API address, the shop API key and, when one key serves several shops, the shop id. "Test
connection" makes the channel's cheapest authenticated call and says which part failed — the address, the key
(refused) or the shop id (unknown) — and highlights that field; Save is offered once the test passed.

``ui`` may not import ``sync``: the caller injects ``test_connection`` (a coroutine function taking a
:class:`MarketplaceForm`, raising an error with ``part`` and ``user_message`` when the test fails) and ``save``
(returns the new account id; the key goes to the keyring there, never to the database). The test runs like the
mail dialog's (``account_dialog._BackgroundTest``): a task on the app's loop, the window never blocks.

Signals:
    account_saved(int): the account with this id was stored (the dialog then closes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from inbox_app.i18n import _
from inbox_app.ui.account_dialog import _BackgroundTest, _Relay


@dataclass(frozen=True)
class MarketplaceForm:
    kind: str
    name: str
    base_url: str
    api_key: str = field(repr=False)
    shop_id: str = ""


TestMarketplace = Callable[[MarketplaceForm], Awaitable[object]]
SaveMarketplace = Callable[[MarketplaceForm], int]

# Which field to highlight for the part the test names (see sync.channel_setup.FailedPart).
_PART_FIELDS = {"address": "base_url", "key": "api_key", "shop": "shop_id"}


def _part_label(part: str) -> str:
    return {
        "address": _("address"),
        "key": _("key refused"),
        "shop": _("shop id unknown"),
    }.get(part, _("service unavailable"))


class MarketplaceAccountDialog(QDialog):
    account_saved = Signal(int)

    def __init__(
        self,
        parent: QWidget | None,
        *,
        kinds: Sequence[tuple[str, str]],
        test_connection: TestMarketplace,
        save: SaveMarketplace,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Add a marketplace account"))
        self._test_connection = test_connection
        self._save = save
        self._test: _BackgroundTest | None = None
        self._tested: MarketplaceForm | None = None
        self._relay = _Relay()
        self._relay.done.connect(self._test_finished)

        layout = QVBoxLayout(self)
        intro = QLabel(
            _(
                "Connect a marketplace shop. Its API key is kept in your system's keyring, never in the "
                "inbox's database."
            ),
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.kind_combo = QComboBox(self)
        self.kind_combo.setObjectName("kind")
        for key, label in kinds:
            self.kind_combo.addItem(label, key)
        self.name_edit = self._line("name", _("e.g. Fnac ES, Carrefour, ManoMano"))
        self.url_edit = self._line("base_url", "https://fnac-es.mirakl.net")
        self.key_edit = self._line("api_key", _("the shop API key"))
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.shop_edit = self._line("shop_id", _("only when the key serves several shops"))
        form.addRow(_("Kind:"), self.kind_combo)
        form.addRow(_("Marketplace name:"), self.name_edit)
        form.addRow(_("API address:"), self.url_edit)
        form.addRow(_("API key:"), self.key_edit)
        form.addRow(_("Shop id:"), self.shop_edit)
        layout.addLayout(form)
        self.message_label = QLabel(self)
        self.message_label.setObjectName("message")
        self.message_label.setWordWrap(True)
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
        for edit in (self.name_edit, self.url_edit, self.key_edit, self.shop_edit):
            edit.textChanged.connect(self._edited)
        self.kind_combo.currentIndexChanged.connect(self._edited)
        self.resize(520, self.sizeHint().height())

    def _line(self, name: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit(self)
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        return edit

    def form(self) -> MarketplaceForm:
        return MarketplaceForm(
            kind=str(self.kind_combo.currentData()),
            name=self.name_edit.text().strip(),
            base_url=self.url_edit.text().strip().rstrip("/"),
            api_key=self.key_edit.text().strip(),
            shop_id=self.shop_edit.text().strip(),
        )

    def _edited(self, *_args: object) -> None:
        if self._tested is not None and self._tested != self.form():
            self._tested = None
            self.save_button.setEnabled(False)

    def _missing(self, form: MarketplaceForm) -> str | None:
        if not form.name:
            return "name"
        if not form.base_url:
            return "base_url"
        if not form.api_key:
            return "api_key"
        return None

    def _show(self, text: str, *, error: bool, field_name: str | None = None) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #b00020;" if error else "color: #1b5e20;")
        for edit in (self.name_edit, self.url_edit, self.key_edit, self.shop_edit):
            edit.setStyleSheet("")
        if field_name is not None:
            marked = self.findChild(QLineEdit, field_name)
            if marked is not None:
                marked.setStyleSheet("border: 2px solid #b00020;")
                marked.setFocus()

    def highlighted_field(self) -> str | None:
        for edit in (self.name_edit, self.url_edit, self.key_edit, self.shop_edit):
            if edit.styleSheet():
                return edit.objectName()
        return None

    def _test_clicked(self) -> None:
        form = self.form()
        missing = self._missing(form)
        if missing is not None:
            self._show(_("Fill in this field first."), error=True, field_name=missing)
            return
        if self._test is not None:
            self._test.cancel()
        self.test_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self._show(_("Testing the connection…"), error=False)
        self._pending = form

        async def run(tested: object) -> list[str]:
            assert isinstance(tested, MarketplaceForm)
            await self._test_connection(tested)
            return []

        self._test = _BackgroundTest(run, form, self._relay)  # type: ignore[arg-type]
        self._test.start()

    def _test_finished(self, _result: object, error: object) -> None:
        self.test_button.setEnabled(True)
        self._test = None
        if error is None:
            self._tested = self._pending
            self.save_button.setEnabled(True)
            self.save_button.setDefault(True)
            self._show(_("The connection works. Save the account to start syncing it."), error=False)
            return
        part = str(getattr(error, "part", "service"))
        message = str(getattr(error, "user_message", "") or error)
        self._show(
            _("Connection test failed ({part}): {message}").format(part=_part_label(part), message=message),
            error=True,
            field_name=_PART_FIELDS.get(part),
        )

    def _save_clicked(self) -> None:
        if self._tested is None:
            return
        try:
            account_id = self._save(self._tested)
        except Exception as exc:  # the keyring is missing or the disk is full: say so, keep the form
            message = str(getattr(exc, "user_message", "") or exc)
            self._show(_("The account could not be saved: {error}").format(error=message), error=True)
            return
        self.account_saved.emit(account_id)
        self.accept()

    def done(self, result: int) -> None:
        if self._test is not None:
            self._test.cancel()
            self._test = None
        super().done(result)
