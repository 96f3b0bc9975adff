"""Saving a Mirakl attachment from the real window: "Save as…" in the thread downloads it from the sandbox on
127.0.0.1 (M13) through the services, writes it where the seller chose, and keeps it (no second download)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from inbox_app.app import Gui
from tests.servers.mirakl import MiraklSandbox
from tests.ui.real_app import run_real_app, wait_rows
from tests.ui.test_real_window_keyboard import wait_ready
from tests.ui.test_real_window_long_and_limits import click_link
from tests.ui.test_real_window_mirakl import add_account

PDF = b"%PDF-1.4 factura 2026-0042\n" + bytes(range(256)) * 8


def test_save_as_downloads_a_mirakl_attachment_once(
    qtbot,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "profile"
    chosen = [tmp_path / "saved" / "factura.pdf", tmp_path / "saved" / "factura-copia.pdf"]
    chosen[0].parent.mkdir()
    # The platform's file dialog (not ours to test): the seller picks these names.
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(chosen.pop(0)), ""))
    seen: dict[str, object] = {}
    with MiraklSandbox(operator_name="Fnac ES") as sandbox:
        thread = sandbox.add_thread(topic="Factura", customer_name="Lucía Pérez")
        sandbox.add_message(thread.id, "Adjunto la factura.", attachments=(("factura.pdf", PDF),))
        add_account(path, sandbox)

        def scenario(gui: Gui) -> None:
            wait_rows(qtbot, gui, 1)
            wait_ready(qtbot, gui)
            browser = gui.window.thread_view.browser
            qtbot.waitUntil(lambda: "factura.pdf" in browser.toPlainText())
            with qtbot.waitSignal(gui.controller.attachment_saved, timeout=20_000) as first:
                click_link(qtbot, browser, "Save as…")
            seen["first"] = first.args[0]
            seen["m13"] = [r.path for r in sandbox.requests if r.path.endswith("/download")]
            click_link(qtbot, browser, "Save as…")  # kept now: saved at once from the profile
            qtbot.waitUntil(lambda: (tmp_path / "saved" / "factura-copia.pdf").exists(), timeout=10_000)
            seen["m13_after_second"] = [r.path for r in sandbox.requests if r.path.endswith("/download")]

        run_real_app(path, scenario)
    assert Path(str(seen["first"])).read_bytes() == PDF
    assert (tmp_path / "saved" / "factura-copia.pdf").read_bytes() == PDF
    assert len(seen["m13"]) == 1  # type: ignore[arg-type]
    assert seen["m13_after_second"] == seen["m13"]
