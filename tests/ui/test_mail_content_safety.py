"""Mail content cannot reach the seller's files: SVG images never render, the view loads no local path.

Qt's SVG renderer opens every file an ``<image xlink:href="/path">`` names (a FIFO hangs it). These tests use
a FIFO as the witness, strace-free: a thread keeps trying to open its writing end without blocking, which only
succeeds while someone has the reading end open — so the renderer touching the path is seen, and unblocked.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, QUrl
from PySide6.QtGui import QImage, QTextDocument
from pytestqt.qtbot import QtBot

from inbox_app.channels.mail.html_sanitize import sanitize_html
from inbox_app.profile import Profile
from inbox_app.ui.controller import MainController

from .conftest import Seed

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

IMAGE = int(QTextDocument.ResourceType.ImageResource)


_WITNESS = """
import errno, os, sys, time
path, log = sys.argv[1], sys.argv[2]
while True:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno != errno.ENXIO:  # ENXIO: nobody has the reading end open
            raise
        time.sleep(0.002)
        continue
    with open(log, "a") as out:
        out.write("opened\\n")
    os.close(fd)  # the reader sees EOF and goes on
"""


class FifoWitness:
    """A FIFO whose opening by anyone else is noticed (and let through with EOF so nothing hangs).

    The watcher is its own process: a thread could not run while Qt blocks in ``open()`` holding the GIL.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.log = path.with_suffix(".log")
        os.mkfifo(path)
        self._process = subprocess.Popen([sys.executable, "-c", _WITNESS, str(path), str(self.log)])

    @property
    def opened(self) -> int:
        return self.log.read_text().count("opened") if self.log.exists() else 0

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)


def _png(color: Qt.GlobalColor = Qt.GlobalColor.red) -> bytes:
    image = QImage(3, 2, QImage.Format.Format_RGB32)
    image.fill(color)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stub says bytes; PySide wants str
    return bytes(data.data())


def _svg(href: str) -> bytes:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="40" '
        f'height="40"><image xlink:href="{href}" width="40" height="40"/></svg>'
    ).encode()


def _data_url(kind: str, data: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


@pytest.fixture
def make_controller(qtbot: QtBot) -> Iterator[Callable[..., MainController]]:
    made: list[MainController] = []

    def make(profile: Profile, **kwargs: Any) -> MainController:
        kwargs.setdefault("confirm", lambda _title, _text: False)
        controller = MainController(profile, **kwargs)
        qtbot.addWidget(controller.window)
        controller.start()
        controller.window.show()
        qtbot.waitExposed(controller.window)
        qtbot.waitUntil(lambda: not controller.runner.busy())
        made.append(controller)
        return controller

    yield make
    for controller in made:
        controller.shutdown()


def test_sanitizer_drops_svg_data_images_whatever_type_they_claim(tmp_path: Path) -> None:
    svg = _svg(str(tmp_path / "secret.png"))
    png = _png()
    html = (
        f'<p>a</p><img src="{_data_url("image/svg+xml", svg)}" alt="s1">'
        f'<img src="{_data_url("image/png", svg)}" alt="s2">'  # mislabelled: the content is SVG
        f'<img src="{_data_url("image/png", b"<?xml version=1.0?>" + svg)}" alt="s3">'
        f'<img src="data:image/svg+xml,{svg.decode()}" alt="s4">'
        f'<img src="{_data_url("text/html", b"<script>x</script>")}" alt="s5">'
        f'<img src="{_data_url("image/png", png)}" alt="ok">'
    )
    clean = sanitize_html(html)
    assert clean.count("data:") == 1 and "svg" not in clean.lower()
    assert _data_url("image/png", png) in clean  # a real raster inline image stays
    for alt in ("s1", "s2", "s3", "s4", "s5"):
        assert f'alt="{alt}"' in clean  # the image is kept as an empty box with its text, nothing loads


def test_thread_view_never_opens_a_file_an_svg_or_a_url_names(
    qtbot: QtBot,
    profile: Profile,
    seed: Seed,
    make_controller: Callable[..., MainController],
    tmp_path: Path,
) -> None:
    fifo = FifoWitness(tmp_path / "fifo")
    local = tmp_path / "local.png"
    local.write_bytes(_png(Qt.GlobalColor.blue))
    svg_fifo = _svg(str(fifo.path))
    svg_file = _svg(f"file://{local}")
    # Stored HTML as an older version wrote it (not sanitized the new way): the view is the second wall.
    stored = (
        "<p>Order question</p>"
        f'<img src="{_data_url("image/svg+xml", svg_fifo)}">'
        f'<img src="{_data_url("image/png", svg_file)}">'
        f'<img src="{local}"><img src="file://{local}"><img src="local.png">'
    )
    conv = seed.conversation(subject="SVG", text="Order question", html=stored)
    try:
        controller = make_controller(profile)
        thread = controller.window.thread_view
        controller.window.conversation_list.select_conversation(conv.id)
        qtbot.waitUntil(lambda: thread.conversation_id() == conv.id)
        browser = thread.browser
        assert "Order question" in browser.toPlainText()
        browser.document().size()  # layout: every image resource is asked for by now
        thread.grab()  # and painted
        assert fifo.opened == 0  # (the witness logs before it lets the reader see EOF: no race)
        for url in (
            str(fifo.path),
            f"file://{fifo.path}",
            f"file://{local}",
            str(local),
            "local.png",
            "../local.png",
            "qrc:/qt-project.org/styles/commonstyle/images/standardbutton-ok-32.png",
            ":/qt-project.org/styles/commonstyle/images/standardbutton-ok-32.png",
            _data_url("image/svg+xml", svg_fifo),
            _data_url("image/png", svg_fifo),
            _data_url("image/png", svg_file),
        ):
            result = browser.loadResource(IMAGE, QUrl(url))
            assert isinstance(result, QImage) and result.size().width() == 1, url  # the blank pixel
            text = browser.loadResource(int(QTextDocument.ResourceType.StyleSheetResource), QUrl(url))
            assert isinstance(text, QByteArray) and text.isEmpty(), url
        # A real raster data: image still shows.
        shown = browser.loadResource(IMAGE, QUrl(_data_url("image/png", _png())))
        assert isinstance(shown, QImage) and (shown.width(), shown.height()) == (3, 2)
    finally:
        fifo.stop()
    assert fifo.opened == 0
    with contextlib.suppress(FileNotFoundError):
        fifo.path.unlink()
