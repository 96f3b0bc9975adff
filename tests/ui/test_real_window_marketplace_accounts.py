"""eBay, Kaufland and Allegro accounts added in the real window, against their sandboxes on 127.0.0.1.

Each test opens File ▸ Add a marketplace account, picks the kind, types what a seller types, signs in the kind's
way (eBay: the consent page opens in the browser — caught here — and the code is pasted back; Allegro: the
device code is shown with its countdown and confirmed on the sandbox; Kaufland: keys), tests and saves; the
app's own engine then syncs the account, and its conversations appear with the channel's badge. For eBay, a
revoked refresh token shows the "needs you to sign in again" banner, and Reconnect signs in again and clears it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

from inbox_app.app import Gui
from inbox_app.ui import icons
from inbox_app.ui.conversation_model import Column
from inbox_app.ui.marketplace_dialog import MarketplaceAccountDialog
from inbox_app.ui.marketplace_pages import AllegroPage, EbayPage
from tests.servers.allegro import AllegroSandbox
from tests.servers.ebay import EbaySandbox
from tests.servers.kaufland import KauflandSandbox
from tests.ui.real_app import cli, run_real_app, wait_rows

#: Where the screenshots go (to look at them): $INBOX_APP_SHOTS, else a folder in the temporary directory.
SHOTS = Path(os.environ.get("INBOX_APP_SHOTS") or Path(tempfile.gettempdir()) / "inbox-app-shots")


class UrlCatcher(QObject):
    """Receives the https addresses the app hands to the system browser."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())


@pytest.fixture
def browser() -> Iterator[UrlCatcher]:
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("https", catcher, "open")
    yield catcher
    QDesktopServices.unsetUrlHandler("https")


def shoot(widget: QWidget, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(SHOTS / f"{name}.png"))


def open_dialog(qtbot, gui: Gui, kind: str | None) -> MarketplaceAccountDialog:  # type: ignore[no-untyped-def]
    """File ▸ Add a marketplace account, then the kind chosen with the arrow keys in the kind box."""
    if kind is not None:
        gui.window.activateWindow()
        qtbot.waitUntil(lambda: gui.window.isActiveWindow())
        gui.window.actions_by_name["add_marketplace"].trigger()
    qtbot.waitUntil(
        lambda: any(
            isinstance(w, MarketplaceAccountDialog) and w.isVisible() for w in QApplication.topLevelWidgets()
        )
    )
    dialog = next(
        w for w in QApplication.topLevelWidgets() if isinstance(w, MarketplaceAccountDialog) and w.isVisible()
    )
    if kind is not None:
        dialog.kind_combo.setFocus()
        for _step in range(dialog.kind_combo.findData(kind)):
            QTest.keyClick(dialog.kind_combo, Qt.Key.Key_Down)
        assert dialog.current_page().kind == kind
    return dialog


def fill(dialog: MarketplaceAccountDialog, **values: str) -> None:
    page = dialog.current_page()
    for name, value in values.items():
        edit = page.findChild(QLineEdit, name)
        assert edit is not None, name
        edit.selectAll()
        if value:
            QTest.keyClicks(edit, value)
        else:
            QTest.keyClick(edit, Qt.Key.Key_Delete)


def click(button: QWidget) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def channel_cell(gui: Gui, row: int = 0) -> tuple[str, str, bool]:
    """The channel column of a row: its text, its tooltip, and whether its icon is the eBay/… one."""
    model = gui.window.conversation_list.conversation_model()
    index = model.index(row, int(Column.CHANNEL))
    return (
        str(index.data(Qt.ItemDataRole.DisplayRole)),
        str(index.data(Qt.ItemDataRole.ToolTipRole)),
        index.data(Qt.ItemDataRole.DecorationRole).cacheKey(),
    )


def test_an_ebay_account_signs_in_through_the_browser_syncs_and_reconnects_after_a_revoked_token(
    qtbot, tmp_path: Path, browser: UrlCatcher
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    seen: dict[str, object] = {}
    with EbaySandbox() as sandbox:
        conv = sandbox.add_conversation(title="Is it still available?", buyer="anna_k")
        sandbox.add_message(conv.id, "Hello, is the lamp still available?")

        def scenario(gui: Gui) -> None:
            dialog = open_dialog(qtbot, gui, "ebay")
            page = dialog.current_page()
            assert isinstance(page, EbayPage)
            fill(
                dialog,
                name="eBay DE",
                username=sandbox.seller,
                client_id=sandbox.client_id,
                client_secret=sandbox.client_secret,
                ru_name=sandbox.ru_name,
                base_url=sandbox.base_url,
            )
            click(page.sign_in_button)
            qtbot.waitUntil(lambda: len(browser.urls) == 1)
            seen["consent"] = browser.urls[0]
            # The seller agrees on eBay's page; eBay shows an address with the code, which is pasted here.
            fill(
                dialog,
                pasted="https://auth2.ebay.com/oauth2/ThirdPartyAuthSucessFailure?isAuthSuccessful=true&code="
                + quote(sandbox.issue_code(), safe="")
                + "&expires_in=299",
            )
            shoot(dialog, "ebay-dialog")
            click(dialog.test_button)
            qtbot.waitUntil(lambda: not dialog.busy(), timeout=20_000)
            assert dialog.save_button.isEnabled(), dialog.message_label.text()
            click(dialog.save_button)
            wait_rows(qtbot, gui, 1)
            seen["cell"] = channel_cell(gui)
            gui.window.conversation_list.setFocus()
            QTest.keyClick(gui.window.conversation_list, Qt.Key.Key_Return)
            qtbot.waitUntil(lambda: gui.controller.current_id() is not None)
            seen["header"] = gui.window.thread_view.channel_badge.toolTip()
            account_id = json.loads(cli(path, "account", "list", "--json").stdout)[0]["id"]
            seen["sidebar"] = gui.window.sidebar.account_badge(account_id)[1]

            # eBay revokes the seller's consent: the next round cannot refresh the token.
            sandbox.revoke_refresh_token()
            sandbox.expire_access_tokens()
            gui.restart_engine.set()
            banner = gui.window.reconnect_banner
            qtbot.waitUntil(lambda: account_id in banner.accounts(), timeout=30_000)
            seen["banner"] = banner.accounts()[account_id]
            qtbot.waitUntil(lambda: "sign in again" in gui.window.sidebar.account_badge(account_id)[1])
            seen["sidebar_trouble"] = gui.window.sidebar.account_badge(account_id)[1]
            # the live state (sidebar entry, status bar) says the same as the banner
            qtbot.waitUntil(lambda: "needs reconnect" in gui.window.sidebar.account_entry_text(account_id))
            seen["old_banner"] = gui.window.account_banner.problems()
            for size in ((1366, 768), (1920, 1080)):
                gui.window.resize(*size)
                qtbot.wait(50)
                shoot(gui.window, f"reconnect-banner-{size[0]}")

            button = banner.button(account_id)
            assert button is not None
            click(button)
            again = open_dialog(qtbot, gui, None)
            seen["reconnect_kind"] = (again.kind_combo.currentData(), again.kind_combo.isEnabled())
            page = again.current_page()
            assert isinstance(page, EbayPage)
            click(page.sign_in_button)
            qtbot.waitUntil(lambda: len(browser.urls) == 2)
            fill(again, pasted=sandbox.issue_code())
            shoot(again, "ebay-reconnect-dialog")
            click(again.test_button)
            qtbot.waitUntil(again.save_button.isEnabled, timeout=20_000)
            click(again.save_button)
            qtbot.waitUntil(lambda: not banner.isVisible(), timeout=30_000)
            qtbot.waitUntil(lambda: "sign in again" not in gui.window.sidebar.account_badge(account_id)[1])
            seen["sidebar_after"] = gui.window.sidebar.account_badge(account_id)[1]
            qtbot.waitUntil(
                lambda: "needs reconnect" not in gui.window.sidebar.account_entry_text(account_id),
                timeout=30_000,
            )

        run_real_app(path, scenario)
    consent = str(seen["consent"])
    assert consent.startswith("https://auth.ebay.com/oauth2/authorize?")
    assert f"client_id={sandbox.client_id}" in consent
    assert seen["cell"] == ("eBay DE", "Channel: eBay DE (eBay)", icons.channel_icon("ebay").cacheKey())
    assert seen["header"] == "Channel: eBay DE (eBay)"
    assert seen["sidebar"] == "eBay account eBay DE"
    assert seen["banner"] == "eBay (eBay DE) needs you to sign in again"
    assert "needs you to sign in again" in str(seen["sidebar_trouble"])
    assert seen["old_banner"] == {}  # one line for the account, with the one button that helps
    assert seen["reconnect_kind"] == ("ebay", False)
    assert seen["sidebar_after"] == "eBay account eBay DE"
    accounts = json.loads(cli(path, "account", "list", "--json").stdout)
    assert "needs_reconnect" not in accounts[0]["settings"]
    # what a fresh window's sidebar starts from: not "needs reconnect" once the banner is gone
    assert accounts[0]["state"] is None or accounts[0]["state"]["state"] != "needs_reconnect"
    assert sandbox.client_secret.encode() not in (path / "inbox.sqlite3").read_bytes()


def test_a_kaufland_account_added_with_its_keys_names_a_wrong_key_then_syncs(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    seen: dict[str, object] = {}
    with KauflandSandbox() as sandbox:
        ticket = sandbox.add_ticket(order_id="MPWMHD2")
        sandbox.add_message(ticket.id, "Wo bleibt meine Bestellung?")

        def scenario(gui: Gui) -> None:
            dialog = open_dialog(qtbot, gui, "kaufland")
            fill(
                dialog,
                name="Kaufland DE",
                client_key=sandbox.client_key,
                secret_key="not-the-secret",
                base_url=sandbox.base_url,
            )
            click(dialog.test_button)
            qtbot.waitUntil(lambda: "failed" in dialog.message_label.text(), timeout=20_000)
            seen["failure"] = (dialog.message_label.text(), dialog.highlighted_field())
            fill(dialog, secret_key=sandbox.secret_key)
            click(dialog.test_button)
            qtbot.waitUntil(dialog.save_button.isEnabled, timeout=20_000)
            shoot(dialog, "kaufland-dialog")
            click(dialog.save_button)
            wait_rows(qtbot, gui, 1)
            seen["cell"] = channel_cell(gui)

        run_real_app(path, scenario)
    message, field = seen["failure"]  # type: ignore[misc]
    assert "Connection test failed (key refused)" in str(message) and field == "client_key"
    assert seen["cell"] == (
        "Kaufland DE",
        "Channel: Kaufland DE (Kaufland)",
        icons.channel_icon("kaufland").cacheKey(),
    )


def test_an_allegro_account_signs_in_with_the_device_code_then_syncs(
    qtbot, tmp_path: Path, browser: UrlCatcher
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    seen: dict[str, object] = {}
    with AllegroSandbox(device_interval=1) as sandbox:
        thread = sandbox.add_thread(login="kupujacy_jan")
        sandbox.add_message(
            thread.id, "Dzień dobry, kiedy wysyłka?", order_id="29738e61-7f6a-11e8-ac45-09db60ede9d6"
        )

        def scenario(gui: Gui) -> None:
            dialog = open_dialog(qtbot, gui, "allegro")
            page = dialog.current_page()
            assert isinstance(page, AllegroPage)
            fill(
                dialog,
                name="Allegro",
                client_id=sandbox.client_id,
                client_secret=sandbox.client_secret,
                base_url=sandbox.base_url,
                auth_url=sandbox.base_url,
            )
            # A first sign-in cancelled while waiting: nothing stored, the button is back.
            click(page.sign_in_button)
            qtbot.waitUntil(lambda: page.waiting.isVisible() and page.code_label.text() != "", timeout=20_000)
            click(page.cancel_button)
            seen["cancelled"] = (page.waiting.isVisible(), page.sign_in_button.isEnabled(), dialog.busy())
            click(page.sign_in_button)
            qtbot.waitUntil(lambda: page.waiting.isVisible() and page.code_label.text() != "", timeout=20_000)
            seen["countdown"] = page.countdown_label.text()
            seen["address"] = page.address_label.text()
            click(page.open_button)
            qtbot.waitUntil(lambda: len(browser.urls) == 1)
            shoot(dialog, "allegro-device-code")
            sandbox.approve(page.code_label.text())  # the seller allows access on allegro.pl
            qtbot.waitUntil(dialog.save_button.isEnabled, timeout=20_000)
            seen["signed_in"] = dialog.message_label.text()
            click(dialog.save_button)
            wait_rows(qtbot, gui, 1)
            seen["cell"] = channel_cell(gui)

        run_real_app(path, scenario)
    assert seen["cancelled"] == (False, True, False)
    assert str(seen["countdown"]).startswith("The code is valid for ")
    assert "https://allegro.pl/" in str(seen["address"])
    assert browser.urls[0].startswith("https://allegro.pl/skojarz-aplikacje?code=")
    assert "Signed in to Allegro" in str(seen["signed_in"])
    assert seen["cell"] == ("Allegro", "Channel: Allegro", icons.channel_icon("allegro").cacheKey())


def test_an_account_whose_sign_in_failed_before_shows_its_banner_when_the_app_opens(
    qtbot, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from inbox_app import i18n
    from inbox_app.profile import open_profile
    from inbox_app.store.accounts import set_needs_reconnect
    from tests.integration.mirakl_app_helpers import KEY_ENV
    from tests.integration.mirakl_app_helpers import cli as cli_with_key

    path = tmp_path / "profile"
    added = cli_with_key(
        path,
        "account",
        "add",
        "mirakl",
        "--name",
        "Fnac ES",
        "--base-url",
        "https://fnac-es.example.invalid",
        "--api-key-env",
        KEY_ENV,
        "--no-test",
        key="a-key-the-shop-has-since-replaced",
    )
    assert added.returncode == 0, added.stderr
    account_id = json.loads(cli(path, "account", "list", "--json").stdout)[0]["id"]
    i18n.setup("en")
    profile = open_profile(path)
    try:  # what the sync stored when Mirakl refused the key, in an earlier session
        set_needs_reconnect(account_id, "Mirakl refused the key. Reconnect this account.")
    finally:
        profile.close()
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        banner = gui.window.reconnect_banner
        qtbot.waitUntil(lambda: account_id in banner.accounts(), timeout=10_000)
        seen["banner"] = banner.accounts()[account_id]
        qtbot.waitUntil(lambda: (gui.window.sidebar.account_badge(account_id) or ("", ""))[1] != "")
        seen["sidebar"] = gui.window.sidebar.account_badge(account_id)[1]
        button = banner.button(account_id)
        assert button is not None
        click(button)
        dialog = open_dialog(qtbot, gui, None)
        seen["dialog"] = (dialog.windowTitle(), dialog.kind_combo.currentData(), dialog.url_edit.text())

    run_real_app(path, scenario, lang="en")
    assert seen["banner"] == "Mirakl (Fnac ES) needs you to sign in again"
    assert seen["sidebar"] == (
        "Mirakl account Fnac ES — needs you to sign in again: Mirakl refused the key. Reconnect this account."
    )
    assert seen["dialog"] == ("Reconnect Fnac ES", "mirakl", "https://fnac-es.example.invalid")
