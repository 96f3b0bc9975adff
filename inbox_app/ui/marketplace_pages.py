"""One page per marketplace kind in the account dialog: what the seller types, and how it becomes a form.

Why pages: each marketplace signs in its own way. Mirakl and Kaufland take keys from their back office; eBay
sends the seller to its consent page in the browser and back with a code; Allegro shows a code that the seller
confirms on allegro.pl (device flow). A page holds the fields of its kind, builds the service's form from them
(:mod:`inbox_app.services.marketplace_accounts`), fills itself from a stored form (edit, reconnect), and says
which field to mark when a test names the part that failed. The dialog (``ui.marketplace_dialog``) owns the
buttons, the background work and the messages; pages are layout.

Signals (every page):
    changed(): the seller edited a field (a passed test no longer applies).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from inbox_app.i18n import _
from inbox_app.services.marketplace_accounts import (
    ALLEGRO_AUTH_URL,
    ALLEGRO_BASE_URL,
    EBAY_BASE_URL,
    KAUFLAND_BASE_URL,
    AllegroForm,
    EbayForm,
    KauflandForm,
    MarketplaceForm,
    MiraklForm,
)


def _note(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class MarketplacePage(QWidget):
    """Base of the kind pages: a form layout of named line edits, with the kind's one-sentence help on top."""

    changed = Signal()
    kind = ""
    #: failed part (``FailedPart`` value) → the field to mark
    part_fields: ClassVar[dict[str, str]] = {}

    def __init__(self, help_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edits: dict[str, QLineEdit] = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.help = _note(help_text, self)
        self.help.setObjectName("kindHelp")
        self._layout.addWidget(self.help)
        self.fields = QFormLayout()
        self._layout.addLayout(self.fields)

    def line(self, name: str, label: str, placeholder: str = "", *, secret: bool = False) -> QLineEdit:
        edit = QLineEdit(self)
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        if secret:
            edit.setEchoMode(QLineEdit.EchoMode.Password)
        edit.textChanged.connect(self.changed)
        self.fields.addRow(label, edit)
        self.edits[name] = edit
        return edit

    def text(self, name: str) -> str:
        return self.edits[name].text().strip()

    def set_texts(self, **values: str | None) -> None:
        for name, value in values.items():
            self.edits[name].setText(value or "")

    def end(self) -> None:
        """Close the page's layout: a short page keeps its fields together at the top of the dialog."""
        self._layout.addStretch(1)

    def required(self) -> tuple[str, ...]:
        """The fields a test needs, in the order the seller meets them."""
        return ()

    def missing(self) -> str | None:
        return next((name for name in self.required() if not self.text(name)), None)

    def field_for(self, part: str) -> str | None:
        return self.part_fields.get(part)

    def form(self) -> MarketplaceForm:
        raise NotImplementedError

    def load(self, form: MarketplaceForm) -> None:
        raise NotImplementedError


class MiraklPage(MarketplacePage):
    kind = MiraklForm.kind
    part_fields: ClassVar[dict[str, str]] = {"address": "base_url", "key": "api_key", "shop": "shop_id"}

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            _(
                "Your Mirakl shop API key, from the operator's back office → My account → API key. The "
                "account's name is shown as the channel (Fnac ES, Carrefour, ManoMano…)."
            ),
            parent,
        )
        self.line("name", _("Marketplace name:"), _("e.g. Fnac ES, Carrefour, ManoMano"))
        self.line("base_url", _("API address:"), "https://fnac-es.mirakl.net")
        self.line("api_key", _("API key:"), _("the shop API key"), secret=True)
        self.line("shop_id", _("Shop id:"), _("only when the key serves several shops"))

    def required(self) -> tuple[str, ...]:
        return ("name", "base_url", "api_key")

    def form(self) -> MiraklForm:
        return MiraklForm(
            name=self.text("name"),
            base_url=self.text("base_url").rstrip("/"),
            api_key=self.text("api_key"),
            shop_id=self.text("shop_id") or None,
        )

    def load(self, form: MarketplaceForm) -> None:
        assert isinstance(form, MiraklForm)
        self.set_texts(name=form.name, base_url=form.base_url, api_key=form.api_key, shop_id=form.shop_id)


class KauflandPage(MarketplacePage):
    kind = KauflandForm.kind
    part_fields: ClassVar[dict[str, str]] = {"address": "base_url", "key": "client_key", "shop": "client_key"}

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            _(
                "Your Kaufland Seller API client key and secret key, from the Seller Portal → Account → "
                "API keys. Every request is signed with them; they stay in your system's keyring."
            ),
            parent,
        )
        self.line("name", _("Account name:"), _("e.g. Kaufland DE"))
        self.line("client_key", _("Client key:"), secret=True)
        self.line("secret_key", _("Secret key:"), secret=True)
        self.line("base_url", _("API address:"), KAUFLAND_BASE_URL)
        self.edits["base_url"].setText(KAUFLAND_BASE_URL)

    def required(self) -> tuple[str, ...]:
        return ("name", "client_key", "secret_key", "base_url")

    def form(self) -> KauflandForm:
        return KauflandForm(
            name=self.text("name"),
            client_key=self.text("client_key"),
            secret_key=self.text("secret_key"),
            base_url=self.text("base_url").rstrip("/") or KAUFLAND_BASE_URL,
        )

    def load(self, form: MarketplaceForm) -> None:
        assert isinstance(form, KauflandForm)
        self.set_texts(
            name=form.name, client_key=form.client_key, secret_key=form.secret_key, base_url=form.base_url
        )


class EbayPage(MarketplacePage):
    """eBay: the app's keys, then the seller's consent in the browser; the code comes back by paste.

    Signals: sign_in_requested() — "Open eBay sign-in" (the dialog opens the consent page).
    """

    kind = EbayForm.kind
    part_fields: ClassVar[dict[str, str]] = {"address": "base_url", "key": "pasted", "shop": "username"}
    sign_in_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            _(
                "Your eBay seller account, signed in through eBay's own page: the app never sees your eBay "
                "password. You need the app's keys from developer.ebay.com (client id, client secret, RuName)."
            ),
            parent,
        )
        self.line("name", _("Account name:"), _("e.g. eBay DE"))
        self.line("username", _("eBay user name:"), _("the seller's user name on eBay"))
        self.line("client_id", _("Client id (App ID):"))
        self.line("client_secret", _("Client secret (Cert ID):"), secret=True)
        self.line("ru_name", _("RuName:"), _("the redirect name eBay gave the app"))
        self.line("base_url", _("API address:"), EBAY_BASE_URL)
        self.edits["base_url"].setText(EBAY_BASE_URL)
        self.steps = _note(
            _(
                "1. Click “Open eBay sign-in”: your browser shows eBay's page; sign in and agree.\n"
                "2. eBay then shows a page whose address contains the code: copy that address (or just the "
                "code) and paste it below. A refresh token works too.\n"
                "3. Click “Test connection”, then Save."
            ),
            self,
        )
        self.steps.setObjectName("ebaySteps")
        self._layout.addWidget(self.steps)
        row = QHBoxLayout()
        self.sign_in_button = QPushButton(_("Open eBay sign-in"), self)
        self.sign_in_button.setObjectName("ebaySignIn")
        self.sign_in_button.clicked.connect(self.sign_in_requested)
        row.addWidget(self.sign_in_button)
        row.addStretch(1)
        self._layout.addLayout(row)
        pasted = QLineEdit(self)
        pasted.setObjectName("pasted")
        pasted.setPlaceholderText(_("the code, the address eBay showed, or a refresh token"))
        pasted.textChanged.connect(self.changed)
        self.edits["pasted"] = pasted
        paste_row = QFormLayout()
        paste_row.addRow(_("Code from eBay:"), pasted)
        self._layout.addLayout(paste_row)
        self._stored: EbayForm | None = None

    def required(self) -> tuple[str, ...]:
        return ("name", "username", "client_id", "client_secret")

    def pasted(self) -> str:
        return self.text("pasted")

    def form(self) -> EbayForm:
        """The form as typed; the stored tokens are kept (a reconnect replaces them with the pasted code's)."""
        form = EbayForm(
            name=self.text("name"),
            username=self.text("username"),
            client_id=self.text("client_id"),
            client_secret=self.text("client_secret"),
            base_url=self.text("base_url").rstrip("/") or EBAY_BASE_URL,
            ru_name=self.text("ru_name"),
        )
        stored = self._stored
        if stored is not None and not self.pasted():
            form = dataclasses.replace(
                form,
                refresh_token=stored.refresh_token,
                access_token=stored.access_token,
                access_expires_at=stored.access_expires_at,
            )
        return form

    def load(self, form: MarketplaceForm) -> None:
        assert isinstance(form, EbayForm)
        self._stored = form
        self.set_texts(
            name=form.name,
            username=form.username,
            client_id=form.client_id,
            client_secret=form.client_secret,
            ru_name=form.ru_name,
            base_url=form.base_url,
        )


class AllegroPage(MarketplacePage):
    """Allegro: the app's keys, then the device flow — a code the seller confirms on allegro.pl.

    Signals: sign_in_requested() — "Sign in with Allegro"; cancel_requested() — Cancel while waiting;
    open_requested() — "Open the page" (the dialog opens the address in the browser).
    """

    kind = AllegroForm.kind
    part_fields: ClassVar[dict[str, str]] = {
        "address": "base_url",
        "key": "client_secret",
        "shop": "client_id",
    }
    sign_in_requested = Signal()
    cancel_requested = Signal()
    open_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            _(
                "Your Allegro seller account, confirmed on allegro.pl: the app shows a code, you open "
                "Allegro's page, check that it shows the same code and allow access. You need the app's "
                "client id and secret from apps.developer.allegro.pl."
            ),
            parent,
        )
        self.line("name", _("Account name:"), _("e.g. Allegro"))
        self.line("client_id", _("Client id:"))
        self.line("client_secret", _("Client secret:"), secret=True)
        self.line("base_url", _("API address:"), ALLEGRO_BASE_URL)
        self.line("auth_url", _("Sign-in address:"), ALLEGRO_AUTH_URL)
        self.edits["base_url"].setText(ALLEGRO_BASE_URL)
        self.edits["auth_url"].setText(ALLEGRO_AUTH_URL)
        row = QHBoxLayout()
        self.sign_in_button = QPushButton(_("Sign in with Allegro"), self)
        self.sign_in_button.setObjectName("allegroSignIn")
        self.sign_in_button.clicked.connect(self.sign_in_requested)
        row.addWidget(self.sign_in_button)
        row.addStretch(1)
        self._layout.addLayout(row)
        # Shown while waiting: the code (large, selectable), the address, the countdown, Open and Cancel.
        self.waiting = QWidget(self)
        self.waiting.setObjectName("allegroWaiting")
        waiting = QVBoxLayout(self.waiting)
        waiting.setContentsMargins(0, 0, 0, 0)
        self.code_label = QLabel(self.waiting)
        self.code_label.setObjectName("allegroCode")
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.code_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        font.setLetterSpacing(font.SpacingType.AbsoluteSpacing, 2.0)
        self.code_label.setFont(font)
        self.address_label = QLabel(self.waiting)
        self.address_label.setObjectName("allegroAddress")
        self.address_label.setWordWrap(True)
        self.address_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.countdown_label = QLabel(self.waiting)
        self.countdown_label.setObjectName("allegroCountdown")
        buttons = QHBoxLayout()
        self.open_button = QPushButton(_("Open the page"), self.waiting)
        self.open_button.clicked.connect(self.open_requested)
        self.cancel_button = QPushButton(_("Cancel sign-in"), self.waiting)
        self.cancel_button.setObjectName("allegroCancel")
        self.cancel_button.clicked.connect(self.cancel_requested)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        waiting.addWidget(self.address_label)
        waiting.addWidget(self.code_label)
        waiting.addWidget(self.countdown_label)
        waiting.addLayout(buttons)
        self._layout.addWidget(self.waiting)
        self.waiting.hide()
        self._signed_in: AllegroForm | None = None

    def required(self) -> tuple[str, ...]:
        return ("name", "client_id", "client_secret", "base_url", "auth_url")

    def form(self) -> AllegroForm:
        form = AllegroForm(
            name=self.text("name"),
            client_id=self.text("client_id"),
            client_secret=self.text("client_secret"),
            base_url=self.text("base_url").rstrip("/") or ALLEGRO_BASE_URL,
            auth_url=self.text("auth_url").rstrip("/") or ALLEGRO_AUTH_URL,
        )
        signed_in = self._signed_in
        if signed_in is not None:  # the tokens of the last sign-in (or the stored ones)
            form = dataclasses.replace(
                form,
                refresh_token=signed_in.refresh_token,
                access_token=signed_in.access_token,
                access_expires_at=signed_in.access_expires_at,
                seller_login=signed_in.seller_login,
            )
        return form

    def set_signed_in(self, form: AllegroForm | None) -> None:
        self._signed_in = form

    def load(self, form: MarketplaceForm) -> None:
        assert isinstance(form, AllegroForm)
        self._signed_in = form
        self.set_texts(
            name=form.name,
            client_id=form.client_id,
            client_secret=form.client_secret,
            base_url=form.base_url,
            auth_url=form.auth_url,
        )


def make_pages(parent: QWidget | None = None) -> list[MarketplacePage]:
    """The kinds the dialog offers, in the order shown (Mirakl first: the most common marketplace family)."""
    pages: list[MarketplacePage] = [
        MiraklPage(parent),
        EbayPage(parent),
        KauflandPage(parent),
        AllegroPage(parent),
    ]
    for page in pages:
        page.end()  # a short page keeps its fields together at the top of the dialog
    return pages
