"""The fast MIME parse (opaque body runs collapsed before the stdlib parser) must equal the plain stdlib parse.

``mime._message_from_bytes`` may only change speed: every test builds the Message tree both ways and compares
it field by field, and compares ``parse_message`` results with the fast path against the plain stdlib path.
"""

from __future__ import annotations

import base64
import email
import email.message
import quopri
from collections.abc import Iterator
from email.policy import compat32
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inbox_app.channels.mail import mime
from inbox_app.channels.mail.mime import ParsedMail, parse_message

DATA = Path(__file__).resolve().parent.parent / "data" / "mail"


def _tree(msg: email.message.Message) -> list[object]:
    """Everything the parser stores, for every part, in document order."""
    out: list[object] = []
    stack = [msg]
    while stack:
        part = stack.pop()
        payload = part._payload  # type: ignore[attr-defined]
        out.append(
            (
                part._headers,  # type: ignore[attr-defined]
                part._unixfrom,  # type: ignore[attr-defined]
                part._default_type,  # type: ignore[attr-defined]
                part.preamble,
                part.epilogue,
                [(type(d).__name__, d.args) for d in part.defects],
                payload if isinstance(payload, str) else len(payload),
            )
        )
        if isinstance(payload, list):
            stack.extend(reversed(payload))
    return out


def _uses_fast_path(raw: bytes) -> bool:
    runs: list[str] = []
    if b"\x00" not in raw and mime._LONE_CR.search(raw) is None:
        mime._collapse_opaque_runs(raw, runs)
    return bool(runs)


def _plain_parse(raw: bytes, monkeypatch: pytest.MonkeyPatch, **kwargs: int) -> ParsedMail:
    """parse_message with the real stdlib parser in place of the fast one (the reference result)."""
    with monkeypatch.context() as patch:
        patch.setattr(
            mime, "_message_from_bytes", lambda data: email.message_from_bytes(data, policy=compat32)
        )
        return parse_message(raw, **kwargs)


def assert_same(raw: bytes, monkeypatch: pytest.MonkeyPatch | None = None, **kwargs: int) -> ParsedMail:
    reference = email.message_from_bytes(raw, policy=compat32)
    assert _tree(mime._message_from_bytes(raw)) == _tree(reference)
    fast = parse_message(raw, **kwargs)
    if monkeypatch is not None:
        assert fast == _plain_parse(raw, monkeypatch, **kwargs)
    return fast


def _b64_lines(data: bytes, eol: bytes = b"\r\n") -> bytes:
    return base64.encodebytes(data).replace(b"\n", eol)


def _line_endings(raw: bytes) -> Iterator[bytes]:
    lf = raw.replace(b"\r\n", b"\n")
    yield lf
    yield lf.replace(b"\n", b"\r\n")


HEAD = b"From: Anna <anna@example.org>\nTo: shop@example.com\nSubject: Test\nDate: Mon, 2 Nov 2026 10:00:00 +0000\n"


def _nested() -> bytes:
    body = b"Line one of the text\nline two\nline three\n"
    pdf = _b64_lines(bytes(range(256)) * 20, b"\n")
    return (
        HEAD + b'Content-Type: multipart/mixed; boundary="outer"\n\n'
        b"preamble text\nmore preamble\n--outer\n"
        b'Content-Type: multipart/alternative; boundary="inner"\n\n'
        b"--inner\nContent-Type: text/plain; charset=utf-8\n\n" + body + b"--inner\n"
        b"Content-Type: text/html; charset=utf-8\n\n<p>Hi</p>\n<p>there</p>\n--inner--\n"
        b"inner epilogue\nline\n--outer\n"
        b'Content-Type: application/pdf\nContent-Disposition: attachment; filename="a.pdf"\n'
        b"Content-Transfer-Encoding: base64\n\n" + pdf + b"--outer--\nepilogue one\nepilogue two\n"
    )


@pytest.mark.parametrize("raw", list(_line_endings(_nested())), ids=["LF", "CRLF"])
def test_nested_multipart_same_as_stdlib(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _uses_fast_path(raw)
    mail = assert_same(raw, monkeypatch)
    assert mail.attachments[0].data == bytes(range(256)) * 20
    assert "line three" in mail.text_body


def test_boundary_inside_preamble_and_body_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (
        HEAD + b'Content-Type: multipart/mixed; boundary="b1"\n\n'
        b"This preamble mentions b1 and --b1x and\nends here\n--b1\n"
        b"Content-Type: text/plain\n\nText that says --b1 is the boundary\n--b1 \n--b1\n"
        b"Content-Type: text/plain\n\nsecond\npart\nlines\n--b1--   \nafter\n"
    )
    for variant in _line_endings(raw):
        assert _uses_fast_path(variant)
        assert_same(variant, monkeypatch)


def test_missing_closing_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (
        HEAD + b'Content-Type: multipart/mixed; boundary="zz"\n\n--zz\nContent-Type: text/plain\n\n'
        b"hello\nworld\n--zz\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        + _b64_lines(b"x" * 3000, b"\n")
    )
    for variant in _line_endings(raw):
        mail = assert_same(variant, monkeypatch)
        assert any("closing boundary" in p for p in mail.problems)
    no_start = HEAD + b'Content-Type: multipart/mixed; boundary="zz"\n\njust\nsome\ntext\n'
    for variant in _line_endings(no_start):
        assert_same(variant, monkeypatch)


def test_lone_cr_and_nul_take_the_plain_path(monkeypatch: pytest.MonkeyPatch) -> None:
    cr = _nested().replace(b"\n", b"\r")
    nul = _nested().replace(b"line two", b"line\x00two")
    for raw in (cr, nul):
        assert not _uses_fast_path(raw)
        assert_same(raw, monkeypatch)


def test_base64_with_whitespace_and_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    good = base64.b64encode(b"attachment bytes " * 200)
    lines = [good[i : i + 60] for i in range(0, len(good), 60)]
    messy = b"\n".join(b"  " + line + b" \t" if n % 3 == 0 else line + b"!*" for n, line in enumerate(lines))
    raw = (
        HEAD + b'Content-Type: multipart/mixed; boundary="q"\n\n--q\n'
        b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + messy + b"\n"
        b"--q\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\n" + good[:-3] + b"\n--q--\n"
    )
    for variant in _line_endings(raw):
        mail = assert_same(variant, monkeypatch)
        assert len(mail.attachments) == 2


def test_quoted_printable_and_rfc2231_filenames(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Grüße aus Köln, der Preis ist 10 € = zehn Euro. " * 30
    qp = quopri.encodestring(text.encode("utf-8"))
    raw = (
        HEAD + b'Content-Type: multipart/mixed; boundary="r"\n\n--r\n'
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        + qp
        + b"\n"
        b"--r\nContent-Type: application/pdf\n"
        b"Content-Disposition: attachment;\n filename*0*=utf-8''Rechnung%20M%C3%A4rz;\n filename*1*=%202026.pdf\n"
        b"Content-Transfer-Encoding: base64\n\n" + _b64_lines(b"%PDF" * 500, b"\n") + b"--r--\n"
    )
    for variant in _line_endings(raw):
        mail = assert_same(variant, monkeypatch)
        assert "Grüße aus Köln" in mail.text_body
        assert mail.attachments[0].filename == "Rechnung März 2026.pdf"


def test_message_rfc822_and_delivery_status(monkeypatch: pytest.MonkeyPatch) -> None:
    inner = HEAD + b"Content-Type: text/plain\n\nforwarded\nbody\nlines\n"
    raw = (
        HEAD + b'Content-Type: multipart/report; report-type=delivery-status; boundary="d"\n\n--d\n'
        b"Content-Type: text/plain\n\nDelivery failed\nsorry\n--d\nContent-Type: message/delivery-status\n\n"
        b"Reporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; x@example.org\nAction: failed\n\n"
        b"--d\nContent-Type: message/rfc822\n\n" + inner + b"--d--\n"
    )
    for variant in _line_endings(raw):
        assert_same(variant, monkeypatch)


def test_sample_mails_same_as_stdlib(monkeypatch: pytest.MonkeyPatch) -> None:
    for path in sorted(DATA.glob("*.eml")):
        for variant in (path.read_bytes(), *_line_endings(path.read_bytes())):
            assert_same(variant, monkeypatch)


@pytest.mark.slow
def test_50_mb_attachment_over_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytes(range(256)) * (50 * 1024 * 1024 // 256)
    raw = (
        HEAD
        + b'Content-Type: multipart/mixed; boundary="big"\r\n\r\n--big\r\nContent-Type: text/plain\r\n\r\n'
        b"see attachment\r\n--big\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="big.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + _b64_lines(data)
        + b"--big--\r\n"
    )
    assert _uses_fast_path(raw)
    limit = 50 * 1024 * 1024 - 1
    mail = assert_same(raw, monkeypatch, max_attachment_bytes=limit)
    assert mail.attachments[0].data == b"" and mail.attachments[0].size > limit
    kept = parse_message(raw, max_attachment_bytes=2 * len(data))  # the limit check uses an estimate
    assert kept.attachments[0].data == data


_PIECES = [
    b"--b",
    b"--b--",
    b"--c",
    b"--c--",
    b"",
    b" folded",
    b"\tfolded",
    b"From someone",
    b"X-Header: value",
    b"Content-Type: multipart/mixed; boundary=b",
    b'Content-Type: multipart/alternative; boundary="c"',
    b"Content-Type: message/rfc822",
    b"Content-Type: message/delivery-status",
    b"Content-Transfer-Encoding: base64",
    b"QUJDREVGR0hJSktMTU5PUA==",
    b"plain text line",
    b"-dash line",
    b"caf\xc3\xa9 8-bit",
    b"=3D qp",
]


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(st.sampled_from(_PIECES) | st.binary(max_size=12), max_size=60),
    eol=st.sampled_from([b"\n", b"\r\n"]),
)
def test_random_line_soup_same_as_stdlib(lines: list[bytes], eol: bytes) -> None:
    raw = eol.join(lines).replace(b"\r", b"").replace(b"\n", eol)
    assert_same(raw)
