"""A synced mail's inline image in the window: its file is written from the raw source when first shown.

Here rather than in tests/ui so the real Dovecot fixtures apply: the mail goes through the real sync, which
stores attachments by hash only (see ``sync.mail_parsing``).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QImage, QTextDocument
from pytestqt.qtbot import QtBot

from inbox_app.profile import Profile
from inbox_app.store.models import Account, Attachment, Message
from inbox_app.ui.controller import MainController
from tests.integration.test_mail_sync import DATA, _sync, mail_account, run, syncer
from tests.servers.dovecot import DovecotServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


def test_inline_image_of_a_synced_mail_appears_when_the_mail_is_shown(
    qtbot: QtBot, profile: Profile, dovecot: DovecotServer, mail_user: tuple[str, str]
) -> None:
    user, password = mail_user
    account: Account = mail_account(dovecot, user, password)
    dovecot.bulk_load(user, [(DATA / "multipart_related_cid.eml").read_bytes()])
    run(_sync(syncer(account, profile)))
    logo = Attachment.get(Attachment.content_id == "logo@shop.example.com")
    assert logo.inline and logo.sha256 and not profile.blobs.exists(logo.sha256)

    controller = MainController(profile, confirm=lambda _title, _text: False)
    qtbot.addWidget(controller.window)
    controller.start()
    try:
        qtbot.waitUntil(lambda: not controller.runner.busy())
        controller.show_conversation(Message.get().conversation_id)
        qtbot.waitUntil(lambda: profile.blobs.exists(logo.sha256) and not controller.runner.busy())
        browser = controller.window.thread_view.browser
        image = browser.loadResource(
            int(QTextDocument.ResourceType.ImageResource), QUrl("cid:logo@shop.example.com")
        )
        assert isinstance(image, QImage) and (image.width(), image.height()) == (1, 1)
        assert browser.refused == [] or all("tracker.example.com" in url for url in browser.refused)
    finally:
        controller.shutdown()
