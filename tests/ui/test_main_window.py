"""The main window end to end on a real profile: empty state, reading, keyboard triage, search, undo, safety."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QImage, QTextDocument
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from inbox_app.channels.mail.html_sanitize import sanitize_html
from inbox_app.domain.conversations import Status
from inbox_app.domain.views import View, ViewKind
from inbox_app.profile import Profile, open_profile
from inbox_app.store.events import events_for
from inbox_app.store.models import Conversation, Message, Note
from inbox_app.sync.events import ChangeBus, ChangeEvent
from inbox_app.ui.controller import BackgroundRunner, MainController

from .conftest import Seed

# The offscreen platform reports that it cannot forward size hints; harmless, and not ours to fix.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


MakeController = Callable[..., MainController]


@pytest.fixture
def make_controller(qtbot: QtBot) -> Iterator[MakeController]:
    made: list[MainController] = []

    def make(profile: Profile, **kwargs: Any) -> MainController:
        kwargs.setdefault("confirm", lambda _title, _text: False)
        controller = MainController(profile, **kwargs)
        qtbot.addWidget(controller.window)
        controller.start()
        controller.window.show()
        qtbot.waitExposed(controller.window)
        controller.window.activateWindow()
        qtbot.waitUntil(lambda: not controller.runner.busy())
        made.append(controller)
        return controller

    yield make
    for controller in made:
        controller.shutdown()


def _wait_idle(qtbot: QtBot, controller: MainController) -> None:
    qtbot.waitUntil(lambda: not controller.runner.busy())


def test_fresh_profile_shows_empty_state_with_two_ways_in(
    qtbot: QtBot, profile: Profile, make_controller: MakeController
) -> None:
    calls: list[str] = []
    controller = make_controller(
        profile, on_try_demo=lambda: calls.append("demo"), on_add_account=lambda: calls.append("account")
    )
    window = controller.window
    qtbot.waitUntil(window.is_empty_state)
    assert window.empty_state.isVisible()
    assert window.empty_state.try_demo_button.text() == "Try the demo"
    assert window.empty_state.add_account_button.text() == "Add a mail account"
    qtbot.mouseClick(window.empty_state.try_demo_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.empty_state.add_account_button, Qt.MouseButton.LeftButton)
    assert calls == ["demo", "account"]


def test_window_leaves_empty_state_after_reload(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    controller = make_controller(profile)
    qtbot.waitUntil(controller.window.is_empty_state)
    seed.many(3)
    controller.reload()
    qtbot.waitUntil(lambda: not controller.window.is_empty_state() and controller.model.rowCount() == 3)


def test_selecting_a_conversation_shows_its_thread(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    convs = seed.many(5)
    seed.conversation(customer="Marie Lefèvre", subject="Colis non reçu", text="Bonjour, rien reçu.")
    controller = make_controller(profile)
    window = controller.window
    qtbot.waitUntil(lambda: controller.model.rowCount() == 6)
    target = Conversation.get(Conversation.subject == "Colis non reçu")
    assert window.conversation_list.select_conversation(target.id)
    qtbot.waitUntil(lambda: window.thread_view.conversation_id() == target.id)
    assert window.thread_view.title.text() == "Colis non reçu"
    assert "Marie Lefèvre" in window.thread_view.meta.text()
    assert "Bonjour, rien reçu." in window.thread_view.browser.toPlainText()
    assert "Customer wrote" in window.thread_view.browser.toPlainText()
    assert window.thread_view.deadline.text().startswith("Due in")
    # Selected by the seller, it counts as read once it stayed on screen for the delay (2 s by default).
    assert Conversation.get_by_id(target.id).unread
    qtbot.waitUntil(lambda: not Conversation.get_by_id(target.id).unread, timeout=5000)
    assert convs  # the other conversations stay listed
    assert controller.model.rowCount() == 6


def test_j_and_k_move_the_selection(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    seed.many(4)
    controller = make_controller(profile)
    listing = controller.window.conversation_list
    qtbot.waitUntil(lambda: controller.model.rowCount() == 4 and listing.currentIndex().row() == 0)
    listing.setFocus()
    qtbot.keyClick(listing, Qt.Key.Key_J)
    assert listing.currentIndex().row() == 1
    qtbot.keyClick(listing, Qt.Key.Key_J)
    qtbot.keyClick(listing, Qt.Key.Key_Down)
    assert listing.currentIndex().row() == 3
    qtbot.keyClick(listing, Qt.Key.Key_J)  # stays on the last row
    assert listing.currentIndex().row() == 3
    qtbot.keyClick(listing, Qt.Key.Key_K)
    assert listing.currentIndex().row() == 2
    assert controller.window.thread_view.conversation_id() == controller.model.id_at(2)


def test_ctrl_f_focuses_search_and_search_filters(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    convs = seed.many(6)
    seed.conversation(
        customer="Hans Meier", subject="Teekanne zerbrochen", text="Die Teekanne kam zerbrochen an"
    )
    controller = make_controller(profile)
    window = controller.window
    qtbot.waitUntil(lambda: controller.model.rowCount() == 7)
    window.conversation_list.setFocus()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window.conversation_list, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(window.search.hasFocus)
    qtbot.keyClicks(window.search, "teekanne")
    target = Conversation.get(Conversation.subject == "Teekanne zerbrochen")
    qtbot.waitUntil(lambda: controller.model.ids() == [target.id])
    assert window.thread_view.conversation_id() == target.id
    window.search.clear()
    qtbot.waitUntil(lambda: controller.model.rowCount() == 7)
    assert set(controller.model.ids()) == {c.id for c in convs} | {target.id}


def test_close_with_e_then_undo_brings_it_back(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    seed.many(4)
    # The user confirms the "still unanswered" warning (see test_closing_warning.py).
    controller = make_controller(profile, confirm=lambda _title, _text: True)
    window = controller.window
    listing = window.conversation_list
    qtbot.waitUntil(lambda: controller.model.rowCount() == 4 and listing.currentIndex().isValid())
    qtbot.waitUntil(window.isActiveWindow)
    listing.select_row(1)
    closed_id = controller.model.id_at(1)
    assert closed_id is not None
    listing.setFocus()
    qtbot.keyClick(listing, Qt.Key.Key_E)
    qtbot.waitUntil(lambda: closed_id not in controller.model.ids())
    assert Conversation.get_by_id(closed_id).status == "closed"
    # The next conversation takes its place, ready for the next keystroke.
    qtbot.waitUntil(lambda: listing.currentIndex().row() == 1)
    assert controller.current_id() == controller.model.id_at(1)
    assert window.actions_by_name["undo"].isEnabled()
    qtbot.keyClick(listing, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: closed_id in controller.model.ids())
    assert Conversation.get_by_id(closed_id).status == "open"
    changes = [(e.data["old"], e.data["new"]) for e in events_for(closed_id) if e.kind == "status_changed"]
    assert changes == [("open", "closed"), ("closed", "open")]
    _wait_idle(qtbot, controller)
    assert controller.model.rowCount() == 4


def test_pending_view_counts_follow_status_changes(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    seed.many(3)
    controller = make_controller(profile)
    qtbot.waitUntil(lambda: controller.model.rowCount() == 3 and controller.current_id() is not None)
    with qtbot.waitSignal(controller.counts_updated, check_params_cb=lambda c: c.get("pending") == 1):
        controller.window.actions_by_name["pending"].trigger()
    assert controller.window.sidebar.select_view(View(ViewKind.PENDING))
    qtbot.waitUntil(
        lambda: controller.model.rowCount() == 1 and controller.model.view.kind is ViewKind.PENDING
    )


class _CountingHandler(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []
    body: ClassVar[bytes] = b""

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: object) -> None:
        return


@pytest.fixture
def image_server() -> Iterator[tuple[str, type[_CountingHandler]]]:
    image = QImage(4, 4, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.red)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stub says bytes; PySide wants str
    handler = type("Handler", (_CountingHandler,), {"hits": [], "body": bytes(data.data())})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_remote_image_is_not_loaded_until_shown(
    qtbot: QtBot,
    profile: Profile,
    seed: Seed,
    make_controller: MakeController,
    image_server: tuple[str, type[_CountingHandler]],
) -> None:
    base, handler = image_server
    pixel = f"{base}/track.png"
    html = sanitize_html(f'<p>Hello from the shop</p><img src="{pixel}" alt="">')
    conv = seed.conversation(subject="Newsletter", text="Hello from the shop", html=html)
    controller = make_controller(profile)
    thread = controller.window.thread_view
    controller.window.conversation_list.select_conversation(conv.id)
    qtbot.waitUntil(lambda: thread.conversation_id() == conv.id)
    assert "1 remote image blocked" in thread.browser.toPlainText()
    # Even HTML that slipped past the sanitizer cannot make the view fetch: loadResource refuses remote URLs.
    blocked = thread.browser.loadResource(int(QTextDocument.ResourceType.ImageResource), QUrl(pixel))
    assert isinstance(blocked, QImage) and blocked.size().width() == 1  # a blank pixel, not the image
    thread.browser.setHtml(f'<img src="{base}/unsanitized.png">')
    QApplication.processEvents()
    assert f"{base}/unsanitized.png" in thread.browser.refused
    assert handler.hits == []
    # "Show" allows remote images for this message only, and then they load.
    detail = thread.detail()
    assert detail is not None
    message_id = detail.messages[0].id
    thread.browser.anchorClicked.emit(QUrl(f"inbox:show-images/{message_id}"))
    qtbot.waitUntil(lambda: pixel in thread.browser.remote_images)
    assert handler.hits == ["/track.png"]
    assert "remote image blocked" not in thread.browser.toPlainText()


def test_problem_message_and_attachment_are_shown(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    conv = seed.conversation(
        subject="Invoice",
        text="See attached",
        problems=("bad charset",),
        attachments=(("rechnung.pdf", "application/pdf", b"%PDF-1.4 " + b"x" * 2000),),
    )
    Note.create(conversation=conv, author="Emma", body="Called DHL, parcel is on its way back.")
    controller = make_controller(profile)
    thread = controller.window.thread_view
    controller.window.conversation_list.select_conversation(conv.id)
    qtbot.waitUntil(lambda: thread.conversation_id() == conv.id)
    text = thread.browser.toPlainText()
    assert "Internal note by Emma" in text
    assert "Called DHL, parcel is on its way back." in text
    assert "This message could not be fully read; the original is kept." in text
    assert "rechnung.pdf (2 KB)" in text
    assert "Save as…" in text
    assert "Answered from another mail app" not in text

    # The sync saw \\Answered set by the phone: its "flags" event redraws the open thread.
    Message.update(is_answered=True).where(Message.conversation == conv.id).execute()
    controller.handle_change_event(ChangeEvent("flags", frozenset({conv.id}), conv.account_id))
    qtbot.waitUntil(lambda: "Answered from another mail app" in thread.browser.toPlainText())


def test_layout_and_last_view_are_restored(
    qtbot: QtBot, tmp_path: Path, seed: Seed, make_controller: MakeController
) -> None:
    seed.many(3)
    root = seed.profile.root
    first = make_controller(seed.profile)
    window = first.window
    window.resize(760, 560)  # inside the offscreen screen (800×600): restoreGeometry clamps to it
    size = window.size()  # the minimum width may win over 760
    assert size.height() == 560
    window.main_splitter.setSizes([230, 530])
    window.conversation_list.horizontalHeader().resizeSection(2, 222)
    assert window.sidebar.select_view(View(ViewKind.PENDING))
    qtbot.waitUntil(lambda: first.model.view.kind is ViewKind.PENDING)
    sidebar_width = window.main_splitter.sizes()[0]
    assert sidebar_width > 200  # not the default (175)
    window.close()
    assert (root / "ui.ini").exists()
    first.shutdown()

    again = open_profile(root)
    second = make_controller(again)
    assert second.window.size() == size
    assert second.window.main_splitter.sizes()[0] == sidebar_width
    assert second.window.conversation_list.horizontalHeader().sectionSize(2) == 222
    assert second.model.view.kind is ViewKind.PENDING
    assert second.window.sidebar.current_view() == View(ViewKind.PENDING)


class _UrlCatcher(QObject):
    """Receives URLs Qt would hand to the desktop (registered with QDesktopServices.setUrlHandler)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())


def test_no_response_needed_opens_marketplace_and_stops_clock(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    conv = seed.conversation(subject="Thanks!", text="Thank you, all good.")
    url = "https://sellercentral.amazon.de/messaging/no-response?id=42"
    conv.no_response_url = url
    conv.save()
    asked: list[str] = []

    def confirm(title: str, _text: str) -> bool:
        asked.append(title)
        return True

    catcher = _UrlCatcher()
    QDesktopServices.setUrlHandler("https", catcher, "open")  # type: ignore[arg-type]  # PySide wants str
    try:
        controller = make_controller(profile, confirm=confirm)
        thread = controller.window.thread_view
        controller.window.conversation_list.select_conversation(conv.id)
        qtbot.waitUntil(lambda: thread.conversation_id() == conv.id)
        assert thread.no_response_button.isVisibleTo(controller.window)
        qtbot.mouseClick(thread.no_response_button, Qt.MouseButton.LeftButton)
        assert asked == ["No response needed"]
        assert catcher.urls == [url]
        stored = Conversation.get_by_id(conv.id)
        assert stored.no_response_needed and stored.deadline_at is None
        qtbot.waitUntil(lambda: not thread.no_response_button.isVisibleTo(controller.window))
        assert thread.deadline.text() == "No response needed"
    finally:
        QDesktopServices.unsetUrlHandler("https")


def test_snooze_and_mark_unread(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    convs = seed.many(3)
    controller = make_controller(profile)
    qtbot.waitUntil(lambda: controller.current_id() is not None)
    first = controller.current_id()
    assert first is not None
    assert Conversation.get_by_id(first).unread  # selected at start-up, not opened yet
    controller.mark_current_read()  # what Enter or a click does
    assert not Conversation.get_by_id(first).unread
    controller.window.actions_by_name["mark_unread"].trigger()
    assert Conversation.get_by_id(first).unread
    until = datetime.now(UTC) + timedelta(hours=3)
    assert controller.change_status(Status.SNOOZED, until)
    qtbot.waitUntil(lambda: first not in controller.model.ids())
    stored = Conversation.get_by_id(first)
    assert stored.status == "snoozed" and stored.snoozed_until == until
    controller.undo_stack.undo()
    qtbot.waitUntil(lambda: first in controller.model.ids())
    assert Conversation.get_by_id(first).snoozed_until is None
    assert len(convs) == controller.model.rowCount()


def test_sync_events_from_another_thread_update_list_and_status_bar(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    seed.many(2)
    controller = make_controller(profile)
    qtbot.waitUntil(lambda: controller.model.rowCount() == 2)
    bus = ChangeBus()
    bus.subscribe(controller.handle_change_event)
    account_id = seed.account.id if seed.account is not None else None
    fresh = seed.conversation(customer="New Buyer", subject="Just arrived")

    def publish() -> None:
        bus.publish(ChangeEvent("sync_started", account_id=account_id))
        bus.publish(ChangeEvent("conversations", frozenset({fresh.id}), account_id=account_id))
        bus.publish(ChangeEvent("offline"))
        bus.publish(ChangeEvent("sync_finished", account_id=account_id))

    worker = threading.Thread(target=publish)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: fresh.id in controller.model.ids())
    qtbot.waitUntil(lambda: "up to date" in controller.window.sync_label.text())
    assert "Test shop" in controller.window.sync_label.text()
    assert "Offline" in controller.window.online_label.text()


def test_long_sync_shows_its_progress_in_the_status_bar(
    qtbot: QtBot, profile: Profile, seed: Seed, make_controller: MakeController
) -> None:
    seed.many(1)
    controller = make_controller(profile)
    account_id = seed.account.id if seed.account is not None else None
    controller.handle_change_event(
        ChangeEvent("progress", account_id=account_id, progress=("headers", 1240, 20000))
    )
    qtbot.waitUntil(lambda: "1,240 of 20,000" in controller.window.sync_label.text())
    controller.handle_change_event(
        ChangeEvent("progress", account_id=account_id, progress=("bodies", 20000, 20000))
    )
    qtbot.waitUntil(lambda: "up to date" in controller.window.sync_label.text())


def test_background_runner_delivers_only_the_latest_result_per_key(qtbot: QtBot) -> None:
    runner = BackgroundRunner()
    release = threading.Event()
    delivered: list[str] = []

    def slow() -> str:
        release.wait(timeout=10)
        return "stale"

    try:
        runner.run("ids", slow, delivered.append)
        runner.run("ids", lambda: "cancelled before it ran", delivered.append)
        runner.run("ids", lambda: "latest", delivered.append)
        runner.run("counts", lambda: "other key", delivered.append)
        release.set()
        qtbot.waitUntil(lambda: not runner.busy())
        assert delivered == ["latest", "other key"]
    finally:
        runner.shutdown()


def test_background_errors_reach_the_error_callback(qtbot: QtBot, caplog: pytest.LogCaptureFixture) -> None:
    runner = BackgroundRunner()
    errors: list[BaseException] = []

    def broken() -> None:
        raise ValueError("disk on fire")

    try:
        with caplog.at_level(logging.ERROR, logger="inbox_app.ui"):
            runner.run("x", broken, lambda _r: None, errors.append)
            qtbot.waitUntil(lambda: not runner.busy())
        assert [str(e) for e in errors] == ["disk on fire"]
        assert "background work x failed" in caplog.text
    finally:
        runner.shutdown()
