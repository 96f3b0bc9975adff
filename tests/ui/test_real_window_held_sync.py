"""A reply held by the real collision check (the Mirakl sandbox on 127.0.0.1, the app's own ``sync --once``),
then Discard or Edit clicked in the real window while the app's engine keeps running against the sandbox.

Discard: asked first; the held reply leaves the outbox for good (``cancelled``), nothing reaches the sandbox
however many rounds run, and what the seller had begun typing meanwhile stays in the reply box (and is kept as
the draft) — the held text does not come back. Edit: the held text comes back into the reply box, the seller
changes it and sends with Ctrl+Enter; the sandbox receives the edited text once, never the held one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from inbox_app import i18n
from inbox_app.app import Gui
from inbox_app.profile import open_profile
from inbox_app.services import replies
from tests.integration.mirakl_app_helpers import add_account, cli, listed, ok
from tests.servers.mirakl import MiraklSandbox
from tests.ui.real_app import run_real_app
from tests.ui.test_real_window_long_and_limits import click_link
from tests.ui.test_real_window_triage import answer_yes_when_asked

HELD = "Hola Lucía, le enviamos otro paquete hoy mismo."
TYPED = "Hola Lucia, "
ADDED = " Tambien le devolvemos el importe."
HELD_BLOCK = "Not sent: the conversation changed"


@pytest.fixture
def sandbox() -> Any:
    with MiraklSandbox(operator_name="Fnac ES") as server:
        yield server


def hold_a_reply(profile: Path, sandbox: MiraklSandbox) -> tuple[int, int]:
    """A synced thread, a reply queued, the customer writing again, then a sync round: the check holds it."""
    thread = sandbox.add_thread(topic="Paquete roto", order_id="ORDER-9-A", customer_name="Lucía Pérez")
    sandbox.add_message(thread.id, "Mi paquete llegó roto")
    add_account(profile, sandbox)
    ok(cli(profile, "sync", "--once"))
    (row,) = listed(profile)
    body = profile.parent / "body.txt"
    body.write_text(HELD, encoding="utf-8")
    item_id = int(ok(cli(profile, "reply", str(row["id"]), "--body-file", str(body))).strip())
    sandbox.add_message(thread.id, "¿Y el reembolso? Prefiero el dinero.")
    ok(cli(profile, "sync", "--once"))
    assert outbox_states(profile) == {item_id: "held"} and sandbox.replies == []
    return int(row["id"]), item_id


def outbox_states(profile: Path, *extra: str) -> dict[int, str]:
    rows = json.loads(ok(cli(profile, "outbox", "list", *extra, "--json")))
    return {int(r["id"]): str(r["state"]) for r in rows}


def open_held(qtbot, gui: Gui, conversation_id: int) -> Any:  # type: ignore[no-untyped-def]
    gui.window.activateWindow()
    qtbot.waitUntil(lambda: gui.controller.current_id() == conversation_id, timeout=20_000)
    browser = gui.window.thread_view.browser
    qtbot.waitUntil(lambda: HELD_BLOCK in browser.toPlainText(), timeout=20_000)
    return browser


def test_discard_on_a_held_reply_sends_nothing_and_keeps_what_is_being_typed(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, sandbox: MiraklSandbox
) -> None:
    profile = tmp_path / "profile"
    conversation_id, item_id = hold_a_reply(profile, sandbox)
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        browser = open_held(qtbot, gui, conversation_id)
        seen["changed"] = "Lucía Pérez wrote at" in browser.toPlainText()
        editor = gui.controller.reply_widget
        editor.text_edit.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is editor.text_edit)
        QTest.keyClicks(editor.text_edit, TYPED)  # the seller starts a fresh answer (QTest types ASCII only)
        questions: list[str] = []
        answering = answer_yes_when_asked(questions)
        click_link(qtbot, browser, "Discard")
        qtbot.waitUntil(lambda: HELD_BLOCK not in browser.toPlainText())
        answering.stop()
        seen["questions"] = questions
        seen["status"] = gui.window.statusBar().currentMessage()
        seen["body"] = editor.body()
        qtbot.waitUntil(lambda: "held" not in gui.window.outbox_text())  # the counts follow off the UI thread
        gui.window.grab().save(str(tmp_path / "discarded.png"))
        # The engine's loop keeps running against the sandbox: nothing goes out.
        qtbot.wait(1500)
        seen["posted"] = list(sandbox.replies)

    run_real_app(profile, scenario)
    assert seen["changed"], "the seller saw what changed"
    assert seen["questions"] == ["Discard this reply? It will not be sent."]
    assert "Reply discarded" in str(seen["status"])
    assert seen["body"] == TYPED, "the box keeps the new text; the held one does not come back"
    ok(cli(profile, "sync", "--once"))
    ok(cli(profile, "sync", "--once"))
    assert sandbox.replies == [] and seen["posted"] == []
    assert outbox_states(profile) == {}, "gone from the outbox"
    assert outbox_states(profile, "--all") == {item_id: "cancelled"}
    i18n.setup("en")
    opened = open_profile(profile)
    try:
        draft = replies.load_draft(conversation_id)
        assert draft is not None and draft.body == TYPED
    finally:
        opened.close()


def test_edit_on_a_held_reply_then_ctrl_enter_sends_the_edited_text_once(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, sandbox: MiraklSandbox
) -> None:
    profile = tmp_path / "profile"
    conversation_id, item_id = hold_a_reply(profile, sandbox)
    seen: dict[str, object] = {}

    def scenario(gui: Gui) -> None:
        browser = open_held(qtbot, gui, conversation_id)
        click_link(qtbot, browser, "Edit")
        editor = gui.controller.reply_widget
        qtbot.waitUntil(lambda: editor.body() == HELD)
        qtbot.waitUntil(lambda: QApplication.focusWidget() is editor.text_edit)
        QTest.keyClick(editor.text_edit, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClicks(editor.text_edit, ADDED)
        QTest.keyClick(editor.text_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: editor.body() == "")
        qtbot.waitUntil(lambda: len(sandbox.replies) == 1, timeout=30_000)
        seen["thread"] = browser.toPlainText()

    run_real_app(profile, scenario)
    ok(cli(profile, "sync", "--once"))
    assert [r.message_input["body"] for r in sandbox.replies] == [HELD + ADDED]
    states = outbox_states(profile, "--all")
    assert states[item_id] == "cancelled" and sorted(states.values()) == ["cancelled", "sent"]
