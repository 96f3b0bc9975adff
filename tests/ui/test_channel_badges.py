"""Channel badges: every channel has its own icon, the icons stay apart in grey scale (a printout, a colour-blind
seller), and the words that go with them (tooltips, screen readers) name the channel and the account's trouble."""

from __future__ import annotations

from itertools import combinations

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QImage

from inbox_app import i18n
from inbox_app.domain.conversations import ChannelKind
from inbox_app.ui import icons
from inbox_app.ui.channel_badges import (
    account_channel_kind,
    account_description,
    account_icon,
    channel_description,
)
from inbox_app.ui.reconnect_banner import ReconnectBanner, reconnect_text

SIZE = 24


@pytest.fixture(autouse=True)
def english() -> None:
    i18n.setup("en")


def grey(icon_kind: str) -> list[int]:
    image = icons.channel_icon(icon_kind).pixmap(QSize(SIZE, SIZE)).toImage()
    image = image.convertToFormat(QImage.Format.Format_ARGB32)
    values = []
    for y in range(SIZE):
        for x in range(SIZE):
            pixel = image.pixelColor(x, y)
            alpha = pixel.alphaF()  # over white paper
            values.append(round(pixel.lightness() * alpha + 255 * (1 - alpha)))
    return values


def test_every_channel_has_its_own_icon_file(qapp) -> None:  # type: ignore[no-untyped-def]
    for kind in ChannelKind:
        assert icons.icon_path(f"channels/{kind.value}.svg").exists(), kind
        assert not icons.channel_icon(kind.value).isNull()


def test_channel_icons_stay_apart_in_grey_scale(qapp) -> None:  # type: ignore[no-untyped-def]
    images = {kind.value: grey(kind.value) for kind in ChannelKind}
    for (a, pixels_a), (b, pixels_b) in combinations(images.items(), 2):
        difference = sum(abs(p - q) for p, q in zip(pixels_a, pixels_b, strict=True)) / len(pixels_a)
        assert difference > 20, f"{a} and {b} look alike in grey ({difference:.1f})"


def test_badge_words_name_the_channel_and_the_trouble() -> None:
    assert channel_description("ebay") == "Channel: eBay"
    assert channel_description("ebay", "eBay") == "Channel: eBay"
    assert channel_description("mirakl", "Fnac Darty") == "Channel: Fnac Darty (Mirakl)"
    assert account_description("Shop", "eBay") == "eBay account Shop"
    assert account_description("Shop", "eBay", "Reconnect eBay.") == (
        "eBay account Shop — needs you to sign in again: Reconnect eBay."
    )
    assert reconnect_text("eBay", "Shop DE") == "eBay (Shop DE) needs you to sign in again"
    assert reconnect_text("eBay", "ebay") == "eBay needs you to sign in again"
    assert [account_channel_kind(k) for k in ("imap", "demo", "ebay", "allegro", "future")] == [
        "email",
        "",
        "ebay",
        "allegro",
        "",
    ]


def test_an_account_in_trouble_wears_a_warning_mark(qapp) -> None:  # type: ignore[no-untyped-def]
    plain = account_icon("kaufland").pixmap(QSize(32, 32)).toImage()
    marked = account_icon("kaufland", True).pixmap(QSize(32, 32)).toImage()
    assert plain.pixelColor(4, 4) == marked.pixelColor(4, 4)  # the channel stays recognisable
    assert plain.pixelColor(28, 28) != marked.pixelColor(28, 28)  # the corner carries the mark


def test_the_banner_has_one_line_and_one_reconnect_button_per_account(qtbot) -> None:  # type: ignore[no-untyped-def]
    banner = ReconnectBanner()
    qtbot.addWidget(banner)
    asked: list[int] = []
    banner.reconnect_requested.connect(asked.append)
    banner.show_account(
        7, "eBay (Shop) needs you to sign in again", "Reconnect eBay.", account_icon("ebay", True)
    )
    banner.show_account(
        7, "eBay (Shop) needs you to sign in again", "Reconnect eBay.", account_icon("ebay", True)
    )
    assert banner.accounts() == {7: "eBay (Shop) needs you to sign in again"} and not banner.isHidden()
    button = banner.button(7)
    assert button is not None
    button.click()
    assert asked == [7]
    banner.clear_account(7)
    assert banner.accounts() == {} and banner.isHidden()
