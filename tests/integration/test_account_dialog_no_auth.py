"""The account dialog's "No authentication (local relay)" option, clicked like a user would, against a real
aiosmtpd relay that offers no AUTH (and real Dovecot for the incoming side)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from inbox_app.domain.account_form import SECURITY_NONE
from inbox_app.profile import Profile
from inbox_app.secrets import get_secret
from inbox_app.store.accounts import list_accounts, mail_settings
from inbox_app.sync.account_setup import save_account, test_account
from inbox_app.sync.credentials import secret_ref, server_of
from inbox_app.ui.account_dialog import AccountDialog
from tests.integration.conftest import loopback_account_form
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration

WAIT_MS = 20_000


@pytest.fixture
def relay() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def test_no_auth_option_tests_and_saves_a_relay_account(
    qtbot: QtBot, profile: Profile, dovecot: DovecotServer, mail_user: tuple[str, str], relay: SmtpServer
) -> None:
    form = loopback_account_form(dovecot, mail_user, relay, smtp_user="", smtp_password="")
    dialog = AccountDialog(test_connection=test_account, save=save_account, form=form)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.advanced_button.setChecked(True)
    assert dialog.user_edits["smtp"].isEnabled()

    dialog.smtp_no_auth_check.click()
    assert dialog.smtp_no_auth_check.isChecked()
    assert not dialog.user_edits["smtp"].isEnabled() and not dialog.smtp_password_edit.isEnabled()
    assert dialog.form().smtp_auth is False

    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.progress.isVisible(), timeout=WAIT_MS)
    assert "Everything works" in dialog.result_label.text(), dialog.result_label.text()
    with qtbot.waitSignal(dialog.account_saved, timeout=WAIT_MS) as saved:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    [account] = list_accounts()
    assert account.id == saved.args[0]
    assert mail_settings(account).smtp.user == ""
    assert get_secret(secret_ref(account.id, "smtp"), server_of(account, "smtp")) is None


def test_no_auth_offers_plain_text_for_a_relay_on_the_local_network(qtbot: QtBot, profile: Profile) -> None:
    dialog = AccountDialog(test_connection=test_account, save=save_account)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.advanced_button.setChecked(True)
    dialog.host_edits["smtp"].setText("192.168.1.20")
    combo = dialog.security_combos["smtp"]
    none_item = combo.model().item(combo.findData(SECURITY_NONE))  # type: ignore[attr-defined]
    assert not none_item.isEnabled()  # with a password: never in plain text over a network
    dialog.smtp_no_auth_check.click()
    assert none_item.isEnabled()
    dialog.smtp_no_auth_check.click()
    assert not none_item.isEnabled()


def test_no_auth_to_a_server_on_the_internet_is_allowed_with_a_warning(
    qtbot: QtBot, profile: Profile
) -> None:
    dialog = AccountDialog(test_connection=test_account, save=save_account)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.advanced_button.setChecked(True)
    dialog.host_edits["smtp"].setText("smtp.shop.example")
    assert not dialog.smtp_auth_warning.isVisible()
    dialog.smtp_no_auth_check.click()
    assert dialog.smtp_auth_warning.isVisible()
    assert "smtp.shop.example is not on this computer or the local network" in dialog.smtp_auth_warning.text()
    dialog.host_edits["smtp"].setText("192.168.1.20")
    assert not dialog.smtp_auth_warning.isVisible()
