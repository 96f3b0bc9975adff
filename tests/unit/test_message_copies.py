"""``message_ids.content_hash`` / ``copy_key``: what makes two mails under one Message-ID the same mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from inbox_app.domain.message_ids import content_hash, copy_key

MAIL = (
    b"From: Anna <anna@example.net>\r\nTo: shop@example.com\r\nSubject: Kettle\r\n"
    b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <a@example.net>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nWhere is my kettle?\r\n"
)


def test_transport_headers_and_line_endings_do_not_make_another_mail() -> None:
    delivered = (
        b"Return-Path: <b@x>\r\nReceived: from mx by mail; Fri, 4 Dec 2026\r\n\tid 1\r\nDelivered-To: shop@example.com\r\n"
        b"X-Spam-Score: 0.1\r\nDKIM-Signature: v=1; a=rsa-sha256\r\n" + MAIL
    )
    lf_padded = MAIL.replace(b"\r\n", b"\n").replace(b"kettle?\n", b"kettle?   \n\n\n")
    assert content_hash(delivered) == content_hash(MAIL) == content_hash(lf_padded)


def test_another_text_or_another_mime_header_is_another_mail() -> None:
    assert content_hash(MAIL.replace(b"kettle", b"lamp")) != content_hash(MAIL)
    assert content_hash(MAIL.replace(b"charset=utf-8", b"charset=latin-1")) != content_hash(MAIL)
    assert content_hash(MAIL.replace(b"From: Anna", b"From: Mallory")) != content_hash(MAIL)
    # A folded header is the same header unfolded.
    folded = MAIL.replace(b"Subject: Kettle", b"Subject:\r\n Kettle")
    assert content_hash(folded) == content_hash(MAIL)


def test_a_mail_without_a_body_or_headers_still_hashes() -> None:
    assert content_hash(b"") == content_hash(b"")
    assert content_hash(b"no headers at all") != content_hash(b"")
    assert content_hash(b"\r\n\r\nonly a body") != content_hash(b"\r\n\r\nanother body")


def test_copy_key_ignores_case_order_and_blanks_but_not_the_author_or_the_time() -> None:
    when = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    key = copy_key("Anna@Example.net", ["b@x", "a@x"], when, "Kettle  broken", "<p@x>")
    same = copy_key(
        "anna@example.net",
        ["A@x", "b@x"],
        when.astimezone(timezone(timedelta(hours=1))),
        "Kettle broken",
        "p@x",
    )
    assert key == same
    assert copy_key("bob@example.net", ["a@x", "b@x"], when, "Kettle broken", "<p@x>") != key
    assert (
        copy_key("anna@example.net", ["a@x", "b@x"], when + timedelta(seconds=1), "Kettle broken", "<p@x>")
        != key
    )
    assert copy_key("anna@example.net", ["a@x", "b@x"], None, "Kettle broken", "<p@x>") != key
