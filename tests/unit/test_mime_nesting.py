"""A mail nested a thousand levels deep is refused with a reason, never a RecursionError traceback."""

from __future__ import annotations

import logging

import pytest

from inbox_app.channels.mail.mime import parse_message
from inbox_app.sync.mail_parsing import parse_many


def nested_multipart(depth: int) -> bytes:
    head = (
        "From: Anna <anna@example.net>\r\nTo: shop@example.com\r\nSubject: deep\r\n"
        "Message-ID: <deep@example.net>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    )
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth)
    )
    closing = "".join(f"\r\n--b{i}--\r\n" for i in reversed(range(depth)))
    return (head + opening + "Content-Type: text/plain\r\n\r\nhello\r\n" + closing).encode()


def nested_rfc822(depth: int) -> bytes:
    inner = "Content-Type: text/plain\r\n\r\nhello\r\n"
    for _level in range(depth):
        inner = "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n" + inner
    head = "From: Anna <anna@example.net>\r\nSubject: deep\r\nMessage-ID: <deep2@example.net>\r\nMIME-Version: 1.0\r\n"
    return (head + inner).encode()


@pytest.mark.parametrize("build", [nested_multipart, nested_rfc822], ids=["multipart", "rfc822"])
def test_thousand_deep_nesting_is_refused_with_a_reason(
    build: object, caplog: pytest.LogCaptureFixture
) -> None:
    assert callable(build)
    with caplog.at_level(logging.WARNING):
        mail = parse_message(build(1000))
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert "RecursionError" not in caplog.text
    assert any("nested too deeply" in p for p in mail.problems)
    # The headers are still read: the mail threads, shows its sender and can be answered.
    assert mail.from_address == "anna@example.net"
    assert mail.subject == "deep"
    assert mail.text_body == ""


def test_the_sync_parser_stores_it_with_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        ((parsed, error, _language),) = parse_many([nested_multipart(1000)])
    assert error is None and parsed is not None
    assert any("nested too deeply" in p for p in parsed.problems)
    assert not [r for r in caplog.records if r.exc_info]


def test_moderate_nesting_still_reads_the_text() -> None:
    mail = parse_message(nested_multipart(40))
    assert mail.text_body.strip() == "hello"
    assert not any("nested too deeply" in p for p in mail.problems)
