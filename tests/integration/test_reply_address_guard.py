"""Issue 11.8 against real servers: a mail whose From or Reply-To decodes to garbage is never answered there.

Real mails are appended into Dovecot, ``sync --once`` (the app's own entry point, a subprocess) reads them,
then a reply is tried through the CLI and through the real window. A malformed encoded word with ":" used to
become the recipient ``_victim2@evil.example=0D=0AX-Injected``; now the reply is refused with the reason, the
window says so under the thread with Send disabled, nothing is queued, and the SMTP server sees only the one
reply to the genuine customer.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from inbox_app.app import Gui
from inbox_app.ui.reply_editor import ReplyEditor
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer
from tests.ui.real_app import cli, run_real_app

pytestmark = pytest.mark.integration

SELLER = "seller@shop.example"
GARBAGE = "_victim2@evil.example=0D=0AX-Injected"


def _mail(n: int, headers: str, subject: str) -> bytes:
    return (
        f"{headers}\r\nTo: {SELLER}\r\nSubject: {subject}\r\nDate: Mon, 23 Nov 2026 10:0{n}:00 +0000\r\n"
        f"Message-ID: <guard{n}@example.net>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nWhere is my parcel?\r\n"
    ).encode()


MAILS = {
    "reply-to": _mail(
        1,
        "From: Anna <anna@example.net>\r\nReply-To: =?utf-8?q?attacker:_victim2@evil.example=0D=0AX-Injected?=",
        "Garbage Reply-To",
    ),
    "from": _mail(2, "From: =?utf-8?q?x:_victim2@evil.example=0D=0AX-Injected?=", "Garbage From"),
    "genuine": _mail(3, "From: Ben <ben@example.net>", "Genuine question"),
}


@pytest.fixture
def synced(tmp_path: Path, dovecot: DovecotServer, mail_user: tuple[str, str]) -> Any:
    """A profile with a mail account (added by the CLI) whose INBOX holds the three mails, synced."""
    user, password = mail_user
    for raw in MAILS.values():
        dovecot.append(user, password, "INBOX", raw)
    with SmtpServer() as smtp:
        profile = tmp_path / "profile"
        os.environ["GUARD_PW"] = password
        try:
            added = cli(
                profile,
                *["account", "add", "imap", "--name", "Shop", "--imap-host", dovecot.host, "--imap-port",
                  str(dovecot.port), "--imap-security", "none", "--user", user, "--password-env", "GUARD_PW",
                  "--smtp-host", smtp.host, "--smtp-port", str(smtp.port), "--smtp-security", "none",
                  "--smtp-auth", "none", "--from", SELLER],
            )  # fmt: skip
        finally:
            del os.environ["GUARD_PW"]
        assert added.returncode == 0, added.stderr
        synced = cli(profile, "sync", "--once")
        assert synced.returncode == 0, synced.stderr
        listing = cli(profile, "list", "--json")
        assert listing.returncode == 0, listing.stderr
        ids = {row["subject"]: row["id"] for row in json.loads(listing.stdout)}
        yield profile, smtp, {key: ids[raw_subject(raw)] for key, raw in MAILS.items()}


def raw_subject(raw: bytes) -> str:
    return next(line[9:] for line in raw.decode().split("\r\n") if line.startswith("Subject: "))


def outbox(profile: Path) -> list[dict[str, Any]]:
    out = cli(profile, "outbox", "list", "--all", "--json")
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


def test_cli_refuses_a_reply_to_a_garbage_address_and_the_genuine_one_is_delivered(
    synced: Any, tmp_path: Path
) -> None:
    profile, smtp, ids = synced
    body = tmp_path / "reply.txt"
    body.write_text("Your parcel left today.", encoding="utf-8")
    for key in ("reply-to", "from"):
        refused = cli(profile, "reply", str(ids[key]), "--body-file", str(body))
        assert refused.returncode == 1, (key, refused.stdout, refused.stderr)
        assert "No usable reply address" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert outbox(profile) == []
    shown = cli(profile, "show", str(ids["reply-to"]))
    assert shown.returncode == 0, shown.stderr
    queued = cli(profile, "reply", str(ids["genuine"]), "--body-file", str(body))
    assert queued.returncode == 0, queued.stderr
    sent = cli(profile, "sync", "--once")
    assert sent.returncode == 0, sent.stderr
    assert [m.rcpt_tos for m in smtp.messages] == [("ben@example.net",)]
    assert not any("evil" in r for m in smtp.messages for r in m.rcpt_tos)
    assert [row["recipients"] for row in outbox(profile)] == [["ben@example.net"]]


def select_by_keys(qtbot, gui: Gui, conversation_id: int) -> None:  # type: ignore[no-untyped-def]
    """Move through the list with j (then k) as the seller would, until ``conversation_id`` is shown."""
    listing = gui.window.conversation_list
    listing.setFocus()
    key = Qt.Key.Key_J
    for _step in range(20):
        if gui.controller.current_id() == conversation_id:
            break
        before = gui.controller.current_id()
        QTest.keyClick(listing, key)
        if gui.controller.current_id() == before:  # the end of the list: go back up
            key = Qt.Key.Key_K
    qtbot.waitUntil(lambda: gui.window.thread_view.conversation_id() == conversation_id)


def test_the_window_says_there_is_no_usable_address_and_sends_nothing(qtbot, synced: Any) -> None:  # type: ignore[no-untyped-def]
    profile, smtp, ids = synced
    seen: dict[str, Any] = {}

    def scenario(gui: Gui) -> None:
        qtbot.waitUntil(lambda: gui.controller.current_id() is not None)
        select_by_keys(qtbot, gui, ids["reply-to"])
        editor = gui.controller.reply_widget
        assert isinstance(editor, ReplyEditor)
        qtbot.waitUntil(lambda: editor.problem_label.isVisible())
        seen["problem"] = editor.problem_label.text()
        seen["send_enabled"] = editor.send_button.isEnabled()
        seen["tooltip"] = editor.send_button.toolTip()
        editor.text_edit.setFocus()
        QTest.keyClicks(editor.text_edit, "Your parcel left today.")
        QTest.keyClick(editor.text_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        seen["message"] = editor.message_label.text() if editor.message_label.isVisible() else ""
        seen["still_shown"] = editor.problem_label.isVisible()
        gui.window.grab().save(str(profile.parent / "no-reply-address.png"))

    run_real_app(profile, scenario)
    assert "No usable reply address" in seen["problem"] and GARBAGE.lower() in seen["problem"].lower()
    assert seen["send_enabled"] is False and "No usable reply address" in seen["tooltip"]
    assert seen["still_shown"] and seen["message"] == ""  # the reason once, not twice
    assert outbox(profile) == []
    assert smtp.messages == []


def test_a_thousand_deep_mail_in_dovecot_is_stored_with_a_reason_and_no_traceback(
    tmp_path: Path, dovecot: DovecotServer, mail_user: tuple[str, str]
) -> None:
    """Issue 11.9: the nested mail used to log a RecursionError traceback during sync."""
    from tests.unit.test_mime_nesting import nested_multipart

    user, password = mail_user
    dovecot.append(user, password, "INBOX", nested_multipart(1000))
    profile = tmp_path / "profile"
    os.environ["GUARD_PW"] = password
    try:
        added = cli(
            profile,
            *["account", "add", "imap", "--name", "Shop", "--imap-host", dovecot.host, "--imap-port",
              str(dovecot.port), "--imap-security", "none", "--user", user, "--password-env", "GUARD_PW",
              "--smtp-host", "127.0.0.1", "--smtp-auth", "none", "--smtp-security", "none", "--no-test",
              "--from", SELLER],
        )  # fmt: skip
    finally:
        del os.environ["GUARD_PW"]
    assert added.returncode == 0, added.stderr
    synced = cli(profile, "-v", "sync", "--once")
    assert synced.returncode == 0, synced.stderr
    assert "Traceback" not in synced.stderr and "RecursionError" not in synced.stderr
    connection = sqlite3.connect(f"file:{profile / 'inbox.sqlite3'}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT author_address, subject, problems FROM message").fetchall()
    finally:
        connection.close()
    assert len(rows) == 1
    address, subject, problems = rows[0]
    assert (address, subject) == ("anna@example.net", "deep")
    assert "nested too deeply" in json.loads(problems)[0]
    log_file = profile / "logs" / "inbox-app.log"
    assert not log_file.exists() or "Traceback" not in log_file.read_text(encoding="utf-8")
