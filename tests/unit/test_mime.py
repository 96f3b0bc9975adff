"""parse_message on real-looking sample mails, hostile input and random bytes; safe_filename properties."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbox_app.channels.mail.mime import ParsedMail, decode_bytes, decode_header_value, parse_message
from inbox_app.domain.filenames import MAX_FILENAME_CHARS, safe_filename

DATA = Path(__file__).resolve().parent.parent / "data" / "mail"


def load(name: str) -> ParsedMail:
    return parse_message((DATA / name).read_bytes())


# ------------------------------------------------------------------------------------------- samples
def test_plain_shop_mail_headers_and_body() -> None:
    mail = load("shop_plain.eml")
    assert mail.message_id == "CAF=+abc123@mail.example.org"
    assert mail.subject == "Frage zu Artikel 4711 - Lieferzeit?"
    assert (mail.from_name, mail.from_address) == ("Anna Schmidt", "anna.schmidt@example.org")
    assert mail.to == (("Beispiel Shop", "info@beispiel-shop.de"), ("", "support@beispiel-shop.de"))
    assert mail.cc == (("Jörg Meier", "joerg@example.org"),)
    assert mail.reply_to == (("", "anna.privat@example.org"),)
    assert mail.date == datetime(2026, 11, 20, 17, 21, 7, tzinfo=UTC)
    assert "Größe XL" in mail.text_body
    assert "Wie lange dauert der Versand nach Österreich?" in mail.text_body  # soft line break joined
    assert mail.html_body is None
    assert mail.attachments == ()
    assert mail.problems == ()
    assert not mail.is_auto_reply


def test_reply_headers_are_normalized() -> None:
    mail = load("amazon_reply_re.eml")
    assert mail.in_reply_to == "our-answer-1@example-shop.com"
    assert mail.references == (
        "0100018bd2f0e3a1-5c0e5a4b-1111-4a5b-9c3e-abcdef012345-000000@email.amazonses.com",
        "our-answer-1@example-shop.com",
    )
    assert mail.date == datetime(2026, 11, 17, 19, 0, tzinfo=UTC)


def test_multipart_related_with_cid_image_and_hostile_html() -> None:
    mail = load("multipart_related_cid.eml")
    assert mail.text_body.startswith("Your order has shipped.")
    html = mail.html_body
    assert html is not None
    assert "<script" not in html and "onload" not in html and "onclick" not in html
    assert "<iframe" not in html and "<form" not in html and "<input" not in html
    assert 'src="cid:logo@shop.example.com"' in html
    assert 'data-blocked-src="https://tracker.example.com/open.gif?u=42"' in html
    assert 'rel="noopener noreferrer"' in html
    (logo,) = mail.attachments
    assert logo.filename == "logo.png"
    assert logo.mime_type == "image/png"
    assert logo.content_id == "logo@shop.example.com"
    assert logo.inline
    assert logo.data.startswith(b"\x89PNG")


def test_html_only_mail_gets_text_from_html_and_8bit_headers_decode() -> None:
    mail = load("html_only_8bit_headers.eml")
    assert mail.subject == "Grüße ohne Kodierung"
    assert mail.from_name == "Jürgen"
    assert mail.text_body == "Erste Zeile & mehr\n\nZweite\nZeile"
    assert mail.html_body is not None and "evil()" not in mail.html_body


@pytest.mark.parametrize(
    ("name", "subject", "from_name", "body"),
    [
        ("charset_iso8859_1.eml", "Reçu mon colis abîmé", "François Léger", "Très déçu."),
        ("charset_windows1252.eml", "“Quoted” price € 45", "Peter", "You “quoted” €45 – that’s fine."),
        ("charset_koi8r.eml", "Где мой заказ", "Иван Петров", "Здравствуйте! Где мой заказ? Спасибо."),
        (
            "charset_shift_jis.eml",
            "注文について",
            "山田太郎",
            "注文した商品はいつ届きますか？①番の商品です。",
        ),
        ("charset_gb2312.eml", "订单查询", "王小明", "您好，我的订单什么时候发货？谢谢。"),
        ("charset_ks_c_5601.eml", "주문 문의", "", "안녕하세요, 배송은 언제 되나요?"),
    ],
)
def test_charsets_and_aliases(name: str, subject: str, from_name: str, body: str) -> None:
    mail = load(name)
    assert mail.subject == subject
    assert mail.from_name == from_name
    assert body in mail.text_body
    assert mail.problems == ()


def test_unknown_charset_falls_back_and_is_flagged() -> None:
    mail = load("unknown_charset.eml")
    assert mail.text_body == "Grüße aus Köln – the body is really UTF-8."
    assert any("x-unknown-foo" in p for p in mail.problems)


def test_unknown_charset_that_is_not_utf8_uses_windows_1252() -> None:
    problems: list[str] = []
    assert decode_bytes("Café €5".encode("cp1252"), "x-nonsense", problems) == "Café €5"
    assert problems


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("utf8", "Grüße"),
        ("UTF-8", "Grüße"),
        ("latin-1", "Grüße"),
        ("win-1252", "“Grüße”"),
        ("x-sjis", "日本語"),
        ("ks_c_5601-1987", "한국어"),
        ("koi8-r", "Привет"),
        ('"iso-8859-15"', "€uro"),
        ("big5", "繁體"),
        ("euc-jp", "日本語"),
    ],
)
def test_charset_aliases(label: str, text: str) -> None:
    codec = {
        "utf8": "utf-8",
        "UTF-8": "utf-8",
        "latin-1": "latin-1",
        "win-1252": "cp1252",
        "x-sjis": "shift_jis",
        "ks_c_5601-1987": "cp949",
        "koi8-r": "koi8_r",
        '"iso-8859-15"': "iso8859_15",
        "big5": "big5",
        "euc-jp": "euc_jp",
    }[label]
    problems: list[str] = []
    assert decode_bytes(text.encode(codec), label, problems) == text
    assert problems == []


def test_latin1_label_with_windows_1252_quotes() -> None:
    # Mailers label Windows-1252 text as ISO-8859-1 all the time; browsers decode it as 1252 too.
    assert decode_bytes(b"\x93hi\x94 \x80", "iso-8859-1") == "“hi” €"


def test_html_charset_from_meta_when_mime_header_has_none() -> None:
    raw = (
        b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n"
        b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251"></head>'
        b"<body><p>" + "Привет".encode("cp1251") + b"</p></body></html>"
    )
    mail = parse_message(raw)
    assert mail.text_body == "Привет"
    assert mail.html_body == "<p>Привет</p>"


def test_html_nesting_bomb_is_flagged_not_stalled() -> None:
    raw = (
        b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n"
        + b"<div>" * 40000
        + b"x"
        + b"</div>" * 40000
    )
    started = time.perf_counter()
    mail = parse_message(raw)
    assert time.perf_counter() - started < 3
    assert mail.text_body == "x"
    assert any("nested" in p for p in mail.problems)


def test_rfc2047_subject_and_filenames() -> None:
    mail = load("rfc2047_names.eml")
    assert mail.from_name == "Élodïe Clément"
    assert mail.subject.startswith("Réclamation commande ✔ n° 42 plain tail")
    assert any("malformed encoded word" in p for p in mail.problems)
    names = [a.filename for a in mail.attachments]
    assert names == ["Facture n° 42.pdf", "Photo du colis abîmé.jpg"]
    assert mail.attachments[0].data == b"%PDF-1.4 fake invoice"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-8?q?=C3?= =?utf-8?q?=A9t=C3=A9?=", "été"),  # a character split across two words
        ("=?utf-8?b?w6k=?==?utf-8?b?w6k=?=", "éé"),  # no space between words
        ("=?UTF-8?B?w6k?=", "é"),  # missing padding
        ("a =?utf-8?q?b?= c", "a b c"),
        ("=?iso-8859-1*de?q?Gr=FC=DFe?=", "Grüße"),  # RFC 2231 language tag
        ("=?x-unknown?q?abc?=", "abc"),
        ("plain\r\n  folded   text", "plain folded text"),
    ],
)
def test_decode_header_value_lenient(raw: str, expected: str) -> None:
    assert decode_header_value(raw) == expected


def test_broken_boundary_keeps_the_text_and_flags() -> None:
    mail = load("broken_boundary.eml")
    assert "never declared" in mail.text_body
    assert mail.problems
    assert any("boundary" in p for p in mail.problems)
    assert mail.from_address == "" and mail.date is None


def test_truncated_base64_and_bad_date_are_flagged() -> None:
    mail = load("truncated_base64.eml")
    (scan,) = mail.attachments
    assert scan.filename == "scan.pdf"
    assert scan.data.startswith(b"%PDF-1.4")
    assert any("Base64" in p for p in mail.problems)
    assert any("Date header" in p for p in mail.problems)
    assert mail.date is None


def test_missing_headers() -> None:
    mail = load("missing_headers.eml")
    assert mail.text_body == "Just a body, no headers at all."
    assert mail.message_id is None and mail.subject == ""
    assert "The message has no headers." in mail.problems


def test_hostile_attachment_names_are_made_safe() -> None:
    mail = load("evil_filenames.eml")
    names = [a.filename for a in mail.attachments]
    assert names[0] == "passwd"
    assert names[1] == "_CON.txt"
    assert names[2] == "invoicefdp.exe"  # NUL and the right-to-left override are gone
    assert len(names[3]) <= MAX_FILENAME_CHARS and names[3].endswith(".pdf")
    assert names[4] == "evil.dll"
    for name in names:
        assert "/" not in name and "\\" not in name and "\x00" not in name


def test_auto_reply_detection() -> None:
    mail = load("auto_reply.eml")
    assert mail.is_auto_reply
    assert mail.headers["Auto-Submitted"] == "auto-replied"
    assert not load("shop_plain.eml").is_auto_reply


def test_precedence_bulk_and_empty_return_path_are_automatic() -> None:
    bulk = parse_message(b"From: a@b.c\r\nPrecedence: bulk\r\n\r\nx")
    bounce = parse_message(b"From: mailer-daemon@b.c\r\nReturn-Path: <>\r\n\r\nx")
    human = parse_message(b"From: a@b.c\r\nAuto-Submitted: no\r\n\r\nx")
    assert bulk.is_auto_reply and bounce.is_auto_reply and not human.is_auto_reply


def test_oversized_attachment_keeps_metadata_only() -> None:
    payload = base64.b64encode(b"x" * 5000).decode()
    raw = (
        "From: a@example.com\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n'
        '--B\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename="big.zip"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{payload}\r\n--B--\r\n"
    ).encode()
    mail = parse_message(raw, max_attachment_bytes=1000)
    (big,) = mail.attachments
    assert big.filename == "big.zip" and big.data == b"" and big.size >= 1000
    assert any("big.zip" in p for p in mail.problems)
    assert parse_message(raw).attachments[0].data == b"x" * 5000


def test_forwarded_message_is_kept_as_eml_attachment() -> None:
    raw = (
        b"From: a@example.com\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nFYI\r\n'
        b"--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.e\r\nSubject: Old question\r\n\r\nold body\r\n"
        b"--B--\r\n"
    )
    mail = parse_message(raw)
    (fwd,) = mail.attachments
    assert fwd.filename == "Old question.eml" and fwd.mime_type == "message/rfc822"
    assert b"old body" in fwd.data
    assert mail.text_body == "FYI"


def test_deep_nesting_does_not_recurse_forever() -> None:
    depth = 300
    head = b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    body = b""
    for i in range(1, depth):
        body += f"--b{i - 1}\r\nContent-Type: multipart/mixed; boundary=b{i}\r\n\r\n".encode()
    body += f"--b{depth - 1}\r\nContent-Type: text/plain\r\n\r\ndeep\r\n".encode()
    mail = parse_message(head + body)
    assert isinstance(mail, ParsedMail)
    assert mail.problems


# --------------------------------------------------------------------------------------- robustness
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    mail = parse_message(raw)
    assert isinstance(mail, ParsedMail)
    assert isinstance(mail.text_body, str)


_header_names = st.sampled_from(
    ["From", "To", "Cc", "Subject", "Date", "Message-ID", "References", "In-Reply-To", "Content-Type",
     "Content-Transfer-Encoding", "Content-Disposition", "Reply-To", "X-Foo"]
)  # fmt: skip
_garbage = st.one_of(
    st.text(max_size=120),
    st.binary(max_size=120).map(lambda b: b.decode("latin-1")),
    st.sampled_from(
        [
            "=?utf-8?b?####?=", "=?bogus?q?x?=", "multipart/mixed; boundary=", "multipart/alternative",
            "text/plain; charset=x-unknown-foo", "base64", "quoted-printable", "attachment; filename*=x''%FF",
            "<a@b> <c@d", "\"unterminated <x@y>", "Mon, 99 Foo 2026 99:99:99 +9999", "=?utf-8?q?=C3?=",
            "text/plain; charset=\"utf-7\"", "text/html; charset=undefined", "application/x; name=\"../x\"",
        ]
    ),
)  # fmt: skip


@given(
    st.lists(st.tuples(_header_names, _garbage), max_size=12),
    st.binary(max_size=800),
)
def test_random_headers_never_raise(headers: list[tuple[str, str]], body: bytes) -> None:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    raw = head.encode("utf-8", "surrogateescape") + b"\r\n" + body
    mail = parse_message(raw)
    assert isinstance(mail, ParsedMail)
    for problem in mail.problems:
        problem.encode("utf-8")  # storable: no lone surrogates
    mail.subject.encode("utf-8")
    mail.text_body.encode("utf-8")
    for att in mail.attachments:
        assert att.filename and "/" not in att.filename


# ------------------------------------------------------------------------------------------ filenames
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("C:\\Users\\x\\Desktop\\report.pdf", "report.pdf"),
        ("CON.txt", "_CON.txt"),
        ("nul", "_nul"),
        ("com1.tar.gz", "_com1.tar.gz"),
        ("LPT9", "_LPT9"),
        ("console.txt", "console.txt"),
        ("a\x00b.txt", "ab.txt"),
        (".bashrc", "bashrc"),
        ("...", "attachment"),
        ("..", "attachment"),
        ("name. . .", "name"),
        ("  spaced   out  .pdf", "spaced out .pdf"),
        ("what?<>|*.txt", "what_____.txt"),
        ("e\u0301te\u0301.txt", "été.txt"),  # NFC
        (None, "attachment"),
        ("", "attachment"),
    ],
)
def test_safe_filename_cases(raw: str | None, expected: str) -> None:
    assert safe_filename(raw) == expected


def test_safe_filename_keeps_extension_when_truncating() -> None:
    name = safe_filename("x" * 400 + ".pdf")
    assert len(name) == MAX_FILENAME_CHARS and name.endswith("x.pdf")
    wide = safe_filename("日本" * 200 + ".docx")
    assert wide.endswith(".docx") and len(wide.encode("utf-8")) <= 200


def test_safe_filename_fallback_is_sanitized_too() -> None:
    assert safe_filename("///", fallback="../img.png") == "img.png"
    assert safe_filename("", fallback="") == "attachment"


@given(st.one_of(st.none(), st.text(max_size=400)), st.text(max_size=30))
def test_safe_filename_properties(name: str | None, fallback: str) -> None:
    result = safe_filename(name, fallback)
    assert result
    assert result not in (".", "..")
    assert "/" not in result and "\\" not in result and "\x00" not in result
    assert len(result) <= MAX_FILENAME_CHARS
    assert not result.startswith(".") and not result.endswith((".", " "))
    assert safe_filename(result) == result  # stable
