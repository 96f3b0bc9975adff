"""Outgoing replies: headers, threading, encodings, attachments — parsed back with the stdlib parser."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbox_app.channels.mail.compose import build_reply, new_message_id, reply_subject

DATE = datetime(2026, 11, 23, 14, 30, tzinfo=timezone(timedelta(hours=1)))


def make(**overrides: object) -> bytes:
    args: dict[str, object] = {
        "from_addr": "seller@shop.example",
        "from_name": "Mein Laden",
        "to": ["buyer@example.net"],
        "subject": "Where is my order?",
        "body_text": "Hello,\nit left today.\n",
        "in_reply_to": "<q1@example.net>",
        "references": ["<root@example.net>"],
        "message_id": "<r1@shop.example>",
        "date": DATE,
    }
    args.update(overrides)
    return build_reply(**args)  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage) -> str:
    """The text as a receiving client shows it (CRLF on the wire becomes a line end)."""
    content = message.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def test_headers_and_threading() -> None:
    raw = make()
    msg = parse(raw)
    assert msg["From"] == "Mein Laden <seller@shop.example>"
    assert msg["To"] == "buyer@example.net"
    assert msg["Subject"] == "Re: Where is my order?"
    assert msg["Message-ID"] == "<r1@shop.example>"
    assert msg["In-Reply-To"] == "<q1@example.net>"
    assert msg["References"] == "<root@example.net> <q1@example.net>"
    assert msg["Date"].datetime == DATE
    assert msg["MIME-Version"] == "1.0"


def test_crlf_line_ends_and_short_lines() -> None:
    raw = make(body_text="x" * 300 + "\nÜmlaut line " * 20, subject="Ä" * 80)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert raw.isascii()  # no 8-bit bytes: works without 8BITMIME or SMTPUTF8


def test_ascii_body_is_7bit_and_unicode_body_is_quoted_printable() -> None:
    plain = parse(make(body_text="Thanks, it ships today."))
    assert plain["Content-Transfer-Encoding"] == "7bit"
    unicode = parse(make(body_text="Danke! Es wird heute verschickt — Grüße 😊"))
    assert unicode["Content-Transfer-Encoding"] == "quoted-printable"
    assert unicode.get_content_charset() == "utf-8"
    assert text_of(unicode) == "Danke! Es wird heute verschickt — Grüße 😊\n"


def test_non_ascii_display_names_and_subject_are_encoded_words() -> None:
    raw = make(from_name="Jürgen’s Laden", subject="Bestellung Nr. 42 – wo?")
    assert b"=?utf-8?" in raw
    msg = parse(raw)
    assert msg["From"].addresses[0].display_name == "Jürgen’s Laden"
    assert msg["Subject"] == "Re: Bestellung Nr. 42 – wo?"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Order 42", "Re: Order 42"),
        ("Re: Order 42", "Re: Order 42"),
        ("RE: re: Re:Order 42", "Re: Order 42"),
        ("Re[2]: Order 42", "Re: Order 42"),
        ("  Re :  Order   42 ", "Re: Order 42"),
        ("Return policy", "Re: Return policy"),
        ("", "Re:"),
    ],
)
def test_subject_keeps_one_re(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected
    assert parse(make(subject=subject))["Subject"] == expected


@given(st.text(max_size=60))
def test_reply_subject_is_idempotent(subject: str) -> None:
    once = reply_subject(subject)
    assert once.startswith("Re:")
    assert reply_subject(once) == once


@given(st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=300))
def test_body_round_trips(body: str) -> None:
    msg = parse(make(body_text=body))
    expected = body if body.endswith("\n") else body + "\n"
    assert text_of(msg) == expected


def test_references_get_in_reply_to_once_and_are_trimmed() -> None:
    refs = [f"<m{i}@x>" for i in range(50)] + ["<q1@example.net>"]
    msg = parse(make(references=refs))
    got = msg["References"].split()
    assert got[0] == "<m0@x>"
    assert got[-1] == "<q1@example.net>"
    assert got.count("<q1@example.net>") == 1
    assert len(got) == 30


def test_no_in_reply_to_for_a_new_message() -> None:
    msg = parse(make(in_reply_to=None, references=[]))
    assert msg["In-Reply-To"] is None and msg["References"] is None


def test_attachments_round_trip() -> None:
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    raw = make(
        attachments=[("Rechnung Nr. 42 – März.pdf", "application/pdf", pdf), ("x.bin", "bogus", b"\0\1")]
    )
    msg = parse(raw)
    assert msg.get_content_type() == "multipart/mixed"
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and "it left today" in body.get_content()
    parts = list(msg.iter_attachments())
    assert [p.get_filename() for p in parts] == ["Rechnung Nr. 42 – März.pdf", "x.bin"]
    assert parts[0].get_content_type() == "application/pdf"
    assert parts[0].get_content() == pdf
    assert parts[1].get_content_type() == "application/octet-stream"


def test_date_defaults_to_now_and_must_be_aware() -> None:
    msg = parse(make(date=None))
    assert abs(msg["Date"].datetime - datetime.now(UTC)) < timedelta(minutes=1)
    with pytest.raises(ValueError):
        make(date=datetime(2026, 1, 1, 12, 0))


def test_recipients_required() -> None:
    with pytest.raises(ValueError):
        make(to=[])


def test_message_ids_are_unique_and_well_formed() -> None:
    ids = {new_message_id("shop.example") for _ in range(1000)}
    assert len(ids) == 1000
    for mid in ids:
        assert mid.startswith("<") and mid.endswith("@shop.example>")
    assert new_message_id("bücher.example").endswith("@xn--bcher-kva.example>")
