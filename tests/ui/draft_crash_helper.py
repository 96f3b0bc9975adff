"""Run as ``python -m tests.ui.draft_crash_helper PROFILE_DIR CONVERSATION_ID TEXT``: type a reply, wait for
the draft to be saved, then die by SIGKILL (no cleanup, no atexit, no Qt shutdown) — the crash test of drafts.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from inbox_app import i18n
    from inbox_app.profile import open_profile
    from inbox_app.store import conversations, drafts
    from inbox_app.ui.reply_editor import ReplyEditor

    root, conv_id, text = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    i18n.setup("en")
    profile = open_profile(root)
    app = QApplication([])  # noqa: F841 - kept alive until the kill
    editor = ReplyEditor(blobs=profile.blobs)
    editor.show()
    editor.set_conversation(conversations.detail(conv_id))
    editor.text_edit.setFocus()
    loop = QEventLoop()
    editor.draft_saved.connect(loop.quit)
    QTimer.singleShot(10_000, loop.quit)  # a safety net: the parent test then fails on the missing draft
    QTest.keyClicks(editor.text_edit, text)
    loop.exec()
    saved = drafts.load_draft(conv_id)
    print("saved" if saved is not None and saved.body == text else "not saved", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
