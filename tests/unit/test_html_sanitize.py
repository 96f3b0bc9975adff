"""sanitize_html removes everything active and blocks remote images; html_to_text keeps the structure."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbox_app.channels.mail.html_sanitize import (
    count_blocked_images,
    html_is_too_deep,
    html_to_text,
    sanitize_html,
    sanitized_html_to_text,
)


@pytest.mark.parametrize(
    ("dirty", "forbidden"),
    [
        ("<script>alert(1)</script><p>x</p>", "alert"),
        ('<p onclick="steal()">x</p>', "steal"),
        ('<img src="x" onerror="steal()">', "steal"),
        ('<a href="javascript:steal()">x</a>', "javascript"),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "data:"),
        ('<iframe src="https://evil.example/"></iframe>', "iframe"),
        ('<form action="https://evil.example/"><input name="pw"></form>', "input"),
        ('<object data="x.swf"></object>', "object"),
        ('<embed src="x.swf">', "embed"),
        ('<meta http-equiv="refresh" content="0;url=https://evil.example/">', "refresh"),
        ('<link rel="stylesheet" href="https://evil.example/a.css">', "evil"),
        ("<style>body{background:url(https://evil.example/t.gif)}</style>", "evil"),
        ('<div style="background-image:url(https://evil.example/t.gif)">x</div>', "evil"),
        ('<table background="https://evil.example/t.gif"><tr><td>x</td></tr></table>', "evil"),
        ('<img srcset="https://evil.example/t.gif 1x">', "evil"),
        ("<svg><script>alert(1)</script></svg>", "alert"),
        ("<!-- secret comment -->x", "secret"),
        ('<base href="https://evil.example/">', "evil"),
    ],
)
def test_dangerous_things_are_removed(dirty: str, forbidden: str) -> None:
    assert forbidden not in sanitize_html(dirty)


def test_formatting_tables_and_links_survive() -> None:
    html = (
        '<p style="color: red; font-weight: bold">Hi <b>there</b> <i>you</i></p>'
        '<table border="1"><tr><td colspan="2">cell</td></tr></table>'
        '<ul><li>one</li></ul><a href="https://shop.example/track">track</a>'
    )
    clean = sanitize_html(html)
    assert 'style="color:red;font-weight:bold"' in clean.replace(" ", "")
    assert "<b>there</b>" in clean and "<i>you</i>" in clean
    assert '<td colspan="2">cell</td>' in clean
    assert "<li>one</li>" in clean
    assert '<a href="https://shop.example/track" rel="noopener noreferrer">track</a>' in clean


def test_remote_images_are_blocked_and_counted() -> None:
    html = (
        '<img src="https://t.example/open.gif?id=1&amp;u=2" width="1">'
        '<img src="http://t.example/b.png" alt="banner">'
        '<img src="//t.example/proto-relative.png">'
        '<img src="cid:logo@shop">'
        '<img src="data:image/png;base64,iVBORw0KGgo=">'
    )
    clean = sanitize_html(html)
    assert not re.search(r'\ssrc="(?:https?:)?//', clean)
    assert 'data-blocked-src="https://t.example/open.gif?id=1&amp;u=2"' in clean
    assert 'src="cid:logo@shop"' in clean
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in clean
    assert count_blocked_images(clean) == 3


def test_show_remote_images_works_on_stored_sanitized_html() -> None:
    stored = sanitize_html('<p>Hi</p><img src="https://cdn.example/p.jpg" alt="product">')
    assert count_blocked_images(stored) == 1
    shown = sanitize_html(stored, allow_remote=True)
    assert '<img src="https://cdn.example/p.jpg" alt="product">' in shown
    assert count_blocked_images(shown) == 0
    # Sanitizing stored HTML again without permission keeps it blocked (idempotent).
    assert sanitize_html(stored) == stored


def test_allow_remote_directly() -> None:
    shown = sanitize_html('<img src="https://cdn.example/p.jpg">', allow_remote=True)
    assert 'src="https://cdn.example/p.jpg"' in shown


def test_forged_blocked_attribute_cannot_smuggle_a_script_url() -> None:
    forged = '<img data-blocked-src="javascript:alert(1)"><img src="inbox-blocked:https://x.example/">'
    for allow in (False, True):
        clean = sanitize_html(forged, allow_remote=allow)
        assert "javascript" not in clean
        assert "x.example" not in clean


def test_count_blocked_images_of_nothing() -> None:
    assert count_blocked_images("") == 0
    assert count_blocked_images(None) == 0
    assert sanitize_html("") == ""


@given(st.text(alphabet=st.sampled_from(list("<>\"'=/ abcimgsrcpt:onhttp;&#x")), max_size=300))
def test_sanitize_never_yields_script_or_handlers(html: str) -> None:
    clean = sanitize_html(html)
    lowered = clean.lower()
    assert "<script" not in lowered
    assert " onerror=" not in lowered and " onload=" not in lowered
    assert count_blocked_images(clean) >= 0
    html_to_text(clean)


def test_html_to_text_keeps_paragraphs_and_breaks() -> None:
    html = (
        "<html><head><title>T</title><style>p{}</style></head><body>"
        "<p>Hello&nbsp;&amp; welcome</p><p>Line 1<br>Line 2</p>"
        "<ul><li>a</li><li>b</li></ul><table><tr><td>x</td><td>y</td></tr></table>"
        "<script>var hidden = 1;</script><pre>  keep   spacing</pre>&euro;5 &#8211; &#x263A;</body></html>"
    )
    assert html_to_text(html) == (
        "Hello & welcome\n\nLine 1\nLine 2\n\n• a\n• b\n\nx y\n\n  keep   spacing\n€5 – ☺"
    )


def test_html_to_text_of_broken_html() -> None:
    assert html_to_text("<p>unclosed <b>bold <i>x") == "unclosed bold x"
    assert html_to_text("") == ""
    assert html_to_text("<<<>>>&&&") == "<<<>>>&&&"


def test_text_from_sanitized_html_matches_html_to_text() -> None:
    html = (
        '<div><h1>Title</h1><p>One <a href="https://x.example">link</a></p><img src="cid:a" alt="Logo"></div>'
    )
    assert sanitized_html_to_text(sanitize_html(html)) == html_to_text(html) == "Title\n\nOne link\n\n[Logo]"


def test_nesting_bomb_is_flattened_quickly() -> None:
    bomb = "<div>" * 30000 + "deep <b>text</b>" + "</div>" * 30000
    assert html_is_too_deep(bomb)
    started = time.perf_counter()
    assert sanitize_html(bomb) == "<p>deep text</p>"
    assert html_to_text(bomb) == "deep text"
    assert time.perf_counter() - started < 2
    # Ordinary big documents and unclosed <p>/<li> (which never nest) are not affected.
    assert not html_is_too_deep("<p>para " * 20000)
    assert not html_is_too_deep("<ul>" + "<li>item " * 20000)


_URLS = st.sampled_from(
    [
        "https://t.example/p.gif", "http://t.example/p.gif", "//t.example/p.gif", "HTTPS://T.EXAMPLE/x",
        " https://t.example/space", "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java&#x09;script:alert(1)",
        "&#106;avascript:alert(1)", "data:text/html,<script>alert(1)</script>", "data:image/png;base64,AA==",
        "cid:part1@x", "vbscript:x", "inbox-blocked:https://t.example/", "relative/path.png", "",
        "https://t.example/a?b=1&c=2\"onerror=\"alert(1)",
    ]
)  # fmt: skip
_TAG_NAMES = st.sampled_from(
    ["img", "a", "p", "div", "td", "iframe", "script", "form", "input", "svg", "style"]
)
_ATTR_NAMES = st.sampled_from(["src", "href", "data-blocked-src", "onerror", "style", "srcset", "background"])


@st.composite
def _html_docs(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        tag = draw(_TAG_NAMES)
        attrs = " ".join(f'{draw(_ATTR_NAMES)}="{draw(_URLS)}"' for _ in range(draw(st.integers(0, 3))))
        parts.append(f"<{tag} {attrs}>{draw(st.text(max_size=10))}</{tag}>")
    return "".join(parts)


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@given(_html_docs(), st.booleans())
def test_sanitized_output_invariants(html: str, allow_remote: bool) -> None:
    inspector = _Inspector()
    inspector.feed(sanitize_html(html, allow_remote=allow_remote))
    for tag, attrs in inspector.tags:
        assert tag not in ("script", "iframe", "form", "input", "style", "svg")
        assert not any(name.startswith("on") for name in attrs)
        assert "srcset" not in attrs and "background" not in attrs
        for name in ("href", "src", "data-blocked-src"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("javascript:", "vbscript:", "data:text", "inbox-blocked:"))
        src = (attrs.get("src") or "").strip().lower()
        if tag == "img" and not allow_remote:
            assert not src.startswith(("http:", "https:", "//"))
        blocked = (attrs.get("data-blocked-src") or "").strip().lower()
        assert not blocked or blocked.startswith(("http:", "https:", "//"))
