"""A Mirakl account in the real window: the app's own engine syncs it from the sandbox on 127.0.0.1 and the list
shows its conversation with the operator's name as the channel (no hand-built widget, no mocked HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from inbox_app.app import Gui
from inbox_app.ui.conversation_model import Column
from tests.servers.mirakl import MiraklSandbox
from tests.ui.real_app import cli, run_real_app, wait_rows
from tests.ui.test_real_window_keyboard import press, type_text, wait_ready

KEY_ENV = "TEST_MIRAKL_KEY"


def add_account(path: Path, sandbox: MiraklSandbox) -> None:
    """``inbox-app account add mirakl`` as a user types it (the key in an environment variable)."""
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "inbox_app",
            "--profile",
            str(path),
            "account",
            "add",
            "mirakl",
            "--name",
            "Fnac ES",
            "--base-url",
            sandbox.base_url,
            "--api-key-env",
            KEY_ENV,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, KEY_ENV: sandbox.api_key, "INBOX_APP_LANG": "en"},
        timeout=120,
    )
    assert added.returncode == 0, added.stderr


def test_a_synced_mirakl_conversation_shows_with_its_operator_as_channel(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    with MiraklSandbox(operator_name="Fnac ES") as sandbox:
        thread = sandbox.add_thread(topic="Colis abîmé", order_id="ORDER-77-A", customer_name="Lucía Pérez")
        sandbox.add_message(thread.id, "Mi paquete llegó roto, ¿qué hago?")
        sandbox.add_message(thread.id, "Hemos pedido al vendedor que responda.", sender="OPERATOR")
        add_account(path, sandbox)
        seen: dict[str, str] = {}

        def scenario(gui: Gui) -> None:
            # The engine's own loop lists the account, stores the thread and publishes the change event.
            wait_rows(qtbot, gui, 1)
            listing = gui.window.conversation_list
            model = listing.conversation_model()
            listing.setFocus()
            QTest.keyClick(listing, Qt.Key.Key_Return)
            qtbot.waitUntil(lambda: gui.controller.current_id() is not None, timeout=10_000)
            for column in (Column.CHANNEL, Column.CUSTOMER, Column.SUBJECT, Column.ORDER):
                seen[column.name] = str(model.index(0, int(column)).data(Qt.ItemDataRole.DisplayRole))
            qtbot.waitUntil(lambda: "Hemos pedido" in gui.window.thread_view.browser.toPlainText())
            seen["thread"] = gui.window.thread_view.browser.toPlainText()
            gui.window.grab().save(str(tmp_path / "mirakl.png"))

        run_real_app(path, scenario)
    thread_text = seen.pop("thread")
    assert "Customer wrote" in thread_text  # Lucía
    assert "Operator support (Fnac ES)" in thread_text and "Marketplace wrote" in thread_text
    assert seen == {
        "CHANNEL": "Fnac ES",
        "CUSTOMER": "Lucía Pérez",
        "SUBJECT": "Colis abîmé",
        "ORDER": "ORDER-77-A",
    }
    shown = cli(path, "list", "--json")
    assert shown.returncode == 0 and "Fnac ES" in shown.stdout


def test_a_reply_typed_in_the_window_reaches_mirakl_once(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "profile"
    with MiraklSandbox(operator_name="Fnac ES") as sandbox:
        thread = sandbox.add_thread(topic="Factura", customer_name="Lucía Pérez")
        sandbox.add_message(thread.id, "¿Me pueden enviar la factura?")
        add_account(path, sandbox)

        def scenario(gui: Gui) -> None:
            wait_rows(qtbot, gui, 1)
            wait_ready(qtbot, gui)
            editor = gui.controller.reply_widget
            press(Qt.Key.Key_R)
            qtbot.waitUntil(lambda: QApplication.focusWidget() is editor.text_edit)
            type_text("Se la enviamos hoy mismo.")
            press(Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
            qtbot.waitUntil(lambda: editor.body() == "")
            # The engine's loop for the account sees the queued reply and delivers it through M12.
            qtbot.waitUntil(lambda: len(sandbox.replies) == 1, timeout=30_000)
            qtbot.waitUntil(
                lambda: "Se la enviamos" in gui.window.thread_view.browser.toPlainText(), timeout=10_000
            )

        run_real_app(path, scenario)
        assert [r.message_input["body"] for r in sandbox.replies] == ["Se la enviamos hoy mismo."]
    outbox = cli(path, "outbox", "list", "--all", "--json")
    assert outbox.returncode == 0, outbox.stderr
    assert [i["state"] for i in json.loads(outbox.stdout)] == ["sent"]


def test_adding_a_mirakl_account_in_the_window_names_what_failed_then_syncs(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from inbox_app.ui.marketplace_dialog import MarketplaceAccountDialog

    path = tmp_path / "profile"
    with MiraklSandbox(operator_name="Carrefour") as sandbox:
        thread = sandbox.add_thread(topic="¿Dónde está mi pedido?", customer_name="Jordi Puig")
        sandbox.add_message(thread.id, "Hace una semana que lo pedí.")
        seen: dict[str, object] = {}

        def scenario(gui: Gui) -> None:
            gui.window.activateWindow()
            qtbot.waitUntil(lambda: gui.window.isActiveWindow())
            gui.window.actions_by_name["add_marketplace"].trigger()
            qtbot.waitUntil(
                lambda: any(
                    isinstance(w, MarketplaceAccountDialog) and w.isVisible()
                    for w in QApplication.topLevelWidgets()
                )
            )
            dialog = next(
                w for w in QApplication.topLevelWidgets() if isinstance(w, MarketplaceAccountDialog)
            )
            QTest.keyClicks(dialog.name_edit, "Carrefour")
            QTest.keyClicks(dialog.url_edit, sandbox.base_url)
            QTest.keyClicks(dialog.key_edit, "a-wrong-key")
            QTest.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: "failed" in dialog.message_label.text(), timeout=20_000)
            seen["failure"] = dialog.message_label.text()
            seen["highlighted"] = dialog.highlighted_field()
            seen["save_after_failure"] = dialog.save_button.isEnabled()
            dialog.key_edit.selectAll()
            QTest.keyClicks(dialog.key_edit, sandbox.api_key)
            QTest.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(dialog.save_button.isEnabled, timeout=20_000)
            dialog.grab().save(str(tmp_path / "dialog.png"))
            QTest.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
            wait_rows(qtbot, gui, 1)
            model = gui.window.conversation_list.conversation_model()
            seen["channel"] = str(model.index(0, int(Column.CHANNEL)).data(Qt.ItemDataRole.DisplayRole))

        run_real_app(path, scenario)
    assert "Connection test failed (key refused)" in str(seen["failure"])
    assert seen["highlighted"] == "api_key" and seen["save_after_failure"] is False
    assert seen["channel"] == "Carrefour"
    accounts = json.loads(cli(path, "account", "list", "--json").stdout)
    assert [(a["kind"], a["name"]) for a in accounts] == [("mirakl", "Carrefour")]
    assert sandbox.api_key.encode() not in (path / "inbox.sqlite3").read_bytes()
