"""The account dialog driven like a user would, with the real ``test_account``/``save_account`` against real
Dovecot and aiosmtpd servers (here rather than in tests/ui so the server fixtures apply)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from inbox_app.domain.account_form import AccountForm
from inbox_app.profile import Profile
from inbox_app.store.accounts import list_accounts
from inbox_app.sync.account_setup import save_account, test_account
from inbox_app.sync.credentials import account_password
from inbox_app.ui.account_dialog import AccountDialog
from tests.integration.conftest import loopback_account_form
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration

WAIT_MS = 20_000  # a test against loopback servers takes well under a second; this is the failure limit


@pytest.fixture
def make_dialog(qtbot: QtBot, profile: Profile) -> Callable[..., AccountDialog]:
    def make(form: AccountForm | None = None) -> AccountDialog:
        dialog = AccountDialog(test_connection=test_account, save=save_account, form=form)
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog

    return make


@pytest.fixture
def servers_form(dovecot: DovecotServer, mail_user: tuple[str, str], smtp_server: SmtpServer) -> AccountForm:
    """The servers as a user would enter them under Advanced settings; the password is typed by the test."""
    return loopback_account_form(dovecot, mail_user, smtp_server, password="")


def run_test(qtbot: QtBot, dialog: AccountDialog) -> None:
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert dialog.progress.isVisible()  # the window keeps painting while the servers are asked
    assert not dialog.save_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.progress.isVisible(), timeout=WAIT_MS)


def test_working_account_is_tested_then_saved(
    qtbot: QtBot,
    make_dialog: Callable[..., AccountDialog],
    servers_form: AccountForm,
    mail_user: tuple[str, str],
) -> None:
    dialog = make_dialog(servers_form)
    qtbot.keyClicks(dialog.password_edit, mail_user[1])
    run_test(qtbot, dialog)

    assert dialog.save_button.isEnabled()
    assert not dialog.save_anyway_button.isVisible()
    assert "Everything works" in dialog.result_label.text()
    assert "INBOX" in dialog.found_folders
    assert dialog.step_state("imap", "login") == "ok"
    assert dialog.step_state("smtp", "login") == "ok"
    assert dialog.step_state("imap", "tls") == "skipped"  # no encryption on loopback: said, not hidden

    with qtbot.waitSignal(dialog.account_saved, timeout=WAIT_MS) as saved:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    account_id = saved.args[0]
    assert dialog.result() == AccountDialog.DialogCode.Accepted
    [account] = list_accounts()
    assert account.id == account_id
    assert account.name == "seller@shop.example"
    assert account_password(account_id, "imap") == mail_user[1]


def test_wrong_password_names_the_login_step(
    qtbot: QtBot,
    make_dialog: Callable[..., AccountDialog],
    servers_form: AccountForm,
) -> None:
    dialog = make_dialog(servers_form)
    qtbot.keyClicks(dialog.password_edit, "not-my-password")
    run_test(qtbot, dialog)

    text = dialog.result_label.text()
    assert "Incoming mail (IMAP), step “Login”" in text
    assert "refused the user name or password" in text
    assert dialog.step_state("imap", "connect") == "ok"
    assert dialog.step_state("imap", "login") == "failed"
    assert dialog.step_state("smtp", "dns") == "pending"
    assert "Password:" in dialog.highlighted_fields()
    assert not dialog.save_button.isEnabled()
    assert dialog.save_anyway_button.isVisible()
    assert list_accounts() == []

    # fixing the password clears the stale result; the next test passes
    dialog.password_edit.clear()
    assert dialog.step_state("imap", "login") == "pending"
    assert not dialog.save_anyway_button.isVisible()


def test_unknown_server_name_points_at_the_server_field(
    qtbot: QtBot, make_dialog: Callable[..., AccountDialog], servers_form: AccountForm
) -> None:
    servers_form.imap_host = "imap.no-such-shop.invalid"
    servers_form.imap_security = "tls"
    dialog = make_dialog(servers_form)
    qtbot.keyClicks(dialog.password_edit, "whatever")
    run_test(qtbot, dialog)

    assert dialog.step_state("imap", "dns") == "failed"
    assert "“imap.no-such-shop.invalid” could not be found" in dialog.result_label.text()
    assert dialog.advanced.isVisible()  # the field to fix is shown
    assert "Server:" in dialog.highlighted_fields()


def test_editing_after_a_passed_test_asks_for_a_new_test(
    qtbot: QtBot,
    make_dialog: Callable[..., AccountDialog],
    servers_form: AccountForm,
    mail_user: tuple[str, str],
) -> None:
    dialog = make_dialog(servers_form)
    qtbot.keyClicks(dialog.password_edit, mail_user[1])
    run_test(qtbot, dialog)
    assert dialog.save_button.isEnabled()

    qtbot.keyClicks(dialog.folders_edit, ", Amazon")
    assert not dialog.save_button.isEnabled()
    assert "Test the connection again" in dialog.result_label.text()
    run_test(qtbot, dialog)
    assert dialog.step_state("imap", "folder") == "failed"
    assert "“Amazon” does not exist" in dialog.result_label.text()


def test_typing_the_address_guesses_the_servers_and_no_encryption_is_local_only(
    qtbot: QtBot, make_dialog: Callable[..., AccountDialog]
) -> None:
    dialog = make_dialog()
    qtbot.keyClicks(dialog.email_edit, "verkauf@laden.example")
    assert dialog.host_edits["imap"].text() == "imap.laden.example"
    assert dialog.host_edits["smtp"].text() == "smtp.laden.example"
    assert (dialog.port_spins["imap"].value(), dialog.port_spins["smtp"].value()) == (993, 465)
    combo = dialog.security_combos["imap"]
    none_item = combo.model().item(combo.findData("none"))  # type: ignore[attr-defined]
    assert not none_item.isEnabled()
    assert not dialog.security_note.isHidden()

    combo.setCurrentIndex(combo.findData("starttls"))
    assert dialog.port_spins["imap"].value() == 143  # the usual port follows the security choice

    dialog.advanced_button.click()
    dialog.host_edits["imap"].setText("127.0.0.1")
    dialog.host_edits["smtp"].setText("localhost")
    assert none_item.isEnabled()
    assert dialog.security_note.isHidden()

    # a server the user chose is kept when the address changes
    qtbot.keyClicks(dialog.email_edit, "x")
    assert dialog.host_edits["imap"].text() == "127.0.0.1"


def test_incomplete_form_lists_what_is_missing_without_testing(
    qtbot: QtBot, make_dialog: Callable[..., AccountDialog]
) -> None:
    dialog = make_dialog()
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert not dialog.progress.isVisible()
    assert "Enter your e-mail address." in dialog.result_label.text()
    assert "Enter the password of your mailbox." in dialog.result_label.text()
    assert dialog.highlighted_fields()[:2] == ["E-mail address:", "Password:"]


def test_save_anyway_asks_first_then_keeps_the_account(
    qtbot: QtBot, make_dialog: Callable[..., AccountDialog], servers_form: AccountForm
) -> None:
    dialog = make_dialog(servers_form)
    qtbot.keyClicks(dialog.password_edit, "the-server-is-wrong-today")
    run_test(qtbot, dialog)
    assert dialog.save_anyway_button.isVisible()

    def answer(button: QMessageBox.StandardButton) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        assert "did not pass" in box.text()
        box.button(button).click()

    QTimer.singleShot(0, lambda: answer(QMessageBox.StandardButton.Cancel))
    qtbot.mouseClick(dialog.save_anyway_button, Qt.MouseButton.LeftButton)
    assert list_accounts() == []
    assert dialog.isVisible()

    QTimer.singleShot(0, lambda: answer(QMessageBox.StandardButton.Save))
    with qtbot.waitSignal(dialog.account_saved, timeout=WAIT_MS):
        qtbot.mouseClick(dialog.save_anyway_button, Qt.MouseButton.LeftButton)
    [account] = list_accounts()
    assert account_password(account.id, "imap") == "the-server-is-wrong-today"


def test_stopping_a_test_drops_its_result(
    qtbot: QtBot,
    make_dialog: Callable[..., AccountDialog],
    servers_form: AccountForm,
    mail_user: tuple[str, str],
) -> None:
    dialog = make_dialog(servers_form)
    qtbot.keyClicks(dialog.password_edit, mail_user[1])
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    running = dialog._running
    assert running is not None and dialog.test_button.text() == "Stop test"
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert running.join(WAIT_MS / 1000)
    QApplication.processEvents()  # deliver anything the worker might have queued
    assert dialog.result_label.text() == "Test stopped."
    assert dialog.step_state("imap", "login") == "pending"
    assert not dialog.save_button.isEnabled()
    assert dialog.test_button.text() == "Test connection"
    assert dialog.password_edit.isEnabled()
