"""Hypothesis strategies of hostile input for the parsers (issue 11.10): mail, Amazon relay mail, HTML, queries.

Shared by ``tests/fuzz/test_fuzz_parsers.py`` (a small fixed budget in every test run) and
``benchmarks/fuzz_parsers.py`` (a big one, by hand). Generated input mixes well-formed structure with the
broken pieces real mail has: unknown charsets, bad encoded words, truncated base64, missing boundaries,
mixed line endings, NUL bytes, deep nesting; plus raw bytes and mutated samples of real mail.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st

DATA = Path(__file__).resolve().parents[1] / "data" / "mail"
try:  # CPython's own e-mail test corpus, where the Python install ships it
    import test.test_email as _cpython_email

    CPYTHON_EMAIL = sorted((Path(_cpython_email.__file__).parent / "data").glob("msg_*.txt"))
except ImportError:  # pragma: no cover - a Python without its test package
    CPYTHON_EMAIL = []
SAMPLES = [p.read_bytes() for p in sorted(DATA.glob("*.eml"))] + [p.read_bytes() for p in CPYTHON_EMAIL]

# --------------------------------------------------------------------------------------------------- mail
CHARSETS = [
    "utf-8", "us-ascii", "iso-8859-1", "windows-1252", "koi8-r", "gb2312", "shift_jis", "utf-16", "utf-7",
    "x-unknown", "", "utf-8'en'", "\"utf-8\"", "iso-2022-jp", "unicode-1-1-utf-7", "x-mac-roman", "cp65001",
]  # fmt: skip
ENCODINGS = ["7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "BASE64", "garbage", ""]
CONTENT_TYPES = [
    "text/plain", "text/html", "text/calendar", "image/png", "image/svg+xml", "application/octet-stream",
    "application/pdf", "message/rfc822", "message/delivery-status", "text", "multipart/mixed", "/", "x/y; ;;",
]  # fmt: skip
HEADER_NAMES = [
    "From", "To", "Cc", "Reply-To", "Sender", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Content-ID", "MIME-Version",
    "Auto-Submitted", "X-Autoreply", "Precedence", "Return-Path", "X-Amazon-Order", "Received",
]  # fmt: skip
TRICKY_VALUES = [
    "", " ", "<>", "<<>>", "@", "a@", "@b", '"', '"\\', "(comment", "=?", "=??=", "=?utf-8?B?=", "=?utf-8?Q?=ZZ?=",
    "=?x?B?////?=", "Mon, 32 Foo 99999 99:99:99 +9999", "Thu, 01 Jan 1900 00:00:00 -2400", "\x00", "\u2028",
    "a" * 300, "<a@b> <c@d> (x) <", "undisclosed-recipients:;", "group: a@b, c@d;", "=?utf-8?b?w6Q=?= =?utf-8?b?w7Y=?=",
    "=?utf-8?Q?_victim2@evil.example=0D=0AX-Injected:?= <x@y>", "\ud83d\ude00 =?utf-16?B?2D3eAA==?=",
]  # fmt: skip

_word_text = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="?"), max_size=24
)
encoded_words = st.builds(
    lambda cs, enc, text: f"=?{cs}?{enc}?{text}?=",
    st.sampled_from(CHARSETS),
    st.sampled_from(["B", "Q", "b", "q", "X", ""]),
    _word_text,
)
header_values = st.one_of(
    st.sampled_from(TRICKY_VALUES),
    encoded_words,
    st.text(max_size=60),
    st.lists(st.one_of(encoded_words, st.sampled_from(TRICKY_VALUES), st.text(max_size=10)), max_size=4).map(
        " ".join
    ),
    st.builds(lambda a, b: f"{a} <{b}>", st.text(max_size=15), st.text(max_size=20)),
)
headers = st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_values), max_size=8)
line_ends = st.sampled_from(["\r\n", "\n", "\r"])
bodies = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"PGh0bWw+PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            b"=3D=\r\n=ZZ=",
            b"begin 644 x\n`\nend\n",
            b"\x00" * 20,
        ]
    ),
)


def _param(name: str, value: str) -> str:
    return f'; {name}="{value}"' if value else ""


@st.composite
def leaf_parts(draw: st.DrawFn) -> tuple[list[tuple[str, str]], bytes]:
    ctype = draw(st.sampled_from(CONTENT_TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    extra = draw(headers.map(lambda hs: [h for h in hs if not h[0].startswith("Content-T")]))
    filename = draw(
        st.one_of(
            st.just(""),
            st.text(max_size=20),
            st.sampled_from(["../../etc/passwd", "a/b\\c.pdf", "=?utf-8?B?Li4vLi4veA==?="]),
        )
    )
    hs = [
        ("Content-Type", ctype + _param("charset", charset) + _param("name", filename)),
        ("Content-Transfer-Encoding", draw(st.sampled_from(ENCODINGS))),
        *extra,
    ]
    if filename and draw(st.booleans()):
        hs.append(
            (
                "Content-Disposition",
                draw(st.sampled_from(["attachment", "inline", "x"])) + _param("filename", filename),
            )
        )
    return hs, draw(bodies)


def _multipart(
    children: list[tuple[list[tuple[str, str]], bytes]], boundary: str, subtype: str, end: str
) -> tuple[list[tuple[str, str]], bytes]:
    chunks = []
    for hs, body in children:
        chunks.append(f"--{boundary}{end}".encode() + _header_block(hs, end) + body + end.encode())
    closing = f"--{boundary}--{end}".encode() if boundary else b""
    return [("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')], b"".join(chunks) + closing


def _header_block(hs: list[tuple[str, str]], end: str) -> bytes:
    return (
        "".join(f"{name}: {value}{end}" for name, value in hs).encode("utf-8", "surrogatepass") + end.encode()
    )


@st.composite
def mails(draw: st.DrawFn, max_leaves: int = 6) -> bytes:
    """A whole mail: top headers, a (nested) MIME body, then maybe truncated or with bytes flipped."""
    end = draw(line_ends)
    tree = draw(
        st.recursive(
            leaf_parts(),
            lambda children: st.builds(
                _multipart,
                st.lists(children, max_size=4),
                st.sampled_from(["b1", "", "=_x", "a" * 80, "--", "b1 b2"]),
                st.sampled_from(["mixed", "alternative", "related", "signed", "report", "digest"]),
                st.just(end),
            ),
            max_leaves=max_leaves,
        )
    )
    top = draw(headers)
    raw = _header_block([*top, ("MIME-Version", "1.0"), *tree[0]], end) + tree[1]
    return draw(mutated(raw))


@st.composite
def mutated(draw: st.DrawFn, raw: bytes) -> bytes:
    """``raw`` as is, truncated, with a few bytes replaced, or with a chunk repeated."""
    how = draw(st.sampled_from(["as is", "as is", "truncate", "flip", "repeat"]))
    if not raw or how == "as is":
        return raw
    at = draw(st.integers(0, len(raw) - 1))
    if how == "truncate":
        return raw[:at]
    if how == "flip":
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    size = draw(st.integers(1, 64))
    return raw[:at] + raw[at : at + size] * draw(st.integers(2, 50)) + raw[at:]


raw_mails = st.one_of(
    mails(),
    st.binary(max_size=3000),
    st.sampled_from(SAMPLES).flatmap(mutated) if SAMPLES else st.binary(max_size=10),
)

# ------------------------------------------------------------------------------------------- Amazon relay
RELAY_DOMAINS = [
    "marketplace.amazon.de",
    "marketplace.amazon.com",
    "marketplace.amazon.co.uk",
    "MARKETPLACE.AMAZON.FR",
    "marketplace.amazon.x",
    "marketplace.amazon.com.mx",
]
_alias = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=13, max_size=17)
relay_addresses = st.builds(
    lambda local, suffix, domain: f"{local}{suffix}@{domain}",
    _alias,
    st.sampled_from(["", "+abc", "+=?", "+" + "x" * 100]),
    st.sampled_from(RELAY_DOMAINS),
)
AMAZON_BODY_PIECES = [
    "------------- Nachricht: -------------", "------------- Message: -------------", "------------- Ende der Nachricht -------------",
    "Bestellnummer: 302-1234567-7654321", "Order ID: 111-2223334-5556667", "ASIN: B07XJ8C8F5", "B0", "commMgrTok",
    "https://sellercentral.amazon.de/gp/communication-manager/no-response-needed.html?msg=X&t=seller",
    "Frage von Max Müller zu", "Anfrage zu Lieferung von Kunde", "Subject: ", "<a href=\"javascript:x\">", "\x00",
]  # fmt: skip


@st.composite
def amazon_mails(draw: st.DrawFn) -> bytes:
    end = draw(line_ends)
    relay = draw(relay_addresses)
    name = draw(
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(["Max Müller - Amazon Marketplace", "- Amazon", "=?utf-8?B?w6Q=?= - Amazon"]),
        )
    )
    subject = draw(
        st.lists(
            st.one_of(
                st.sampled_from(
                    [
                        "Re: ",
                        "AW: ",
                        "Fwd: ",
                        "Bestellung 302-1234567-7654321",
                        "Anfrage von Kunde",
                        "(Bestellung: 123-4567890-1234567)",
                    ]
                ),
                st.text(max_size=15),
            ),
            max_size=5,
        ).map("".join)
    )
    body = draw(
        st.lists(st.one_of(st.sampled_from(AMAZON_BODY_PIECES), st.text(max_size=40)), max_size=12).map(
            end.join
        )
    )
    own_side = draw(st.sampled_from(["From", "Reply-To", "To"]))
    hs = [
        (own_side, f'"{name}" <{relay}>'),
        ("To" if own_side != "To" else "From", "seller@shop.example"),
        ("Subject", subject),
        (
            "Content-Type",
            f"text/{draw(st.sampled_from(['plain', 'html']))}; charset={draw(st.sampled_from(CHARSETS))}",
        ),
    ]
    raw = _header_block(hs, end) + body.encode("utf-8", "surrogatepass")
    return draw(mutated(raw))


# --------------------------------------------------------------------------------------------------- HTML
ACTIVE_TAGS = [
    "script", "iframe", "object", "embed", "form", "input", "button", "meta", "link", "base", "frame", "frameset",
    "applet", "svg", "math", "style", "textarea", "select", "video", "audio", "source", "track", "picture", "img",
    "image", "template", "noscript", "xml", "isindex", "marquee", "body", "html", "table", "td", "a", "div", "p",
    "span", "font", "bgsound", "layer", "ilayer", "portal", "use", "animate", "set", "foreignObject",
]  # fmt: skip
URL_ATTRS = [
    "href",
    "src",
    "action",
    "formaction",
    "background",
    "poster",
    "srcset",
    "data",
    "codebase",
    "xlink:href",
    "cite",
    "lowsrc",
    "dynsrc",
    "ping",
    "longdesc",
    "usemap",
    "manifest",
]
OTHER_ATTRS = [
    "style",
    "onerror",
    "onload",
    "onclick",
    "OnMouseOver",
    "on",
    "http-equiv",
    "content",
    "data-blocked-src",
    "alt",
    "title",
    "class",
    "id",
    "width",
    "srcdoc",
    "type",
    "rel",
]
HOSTILE_URLS = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "java&#x09;script:x", "&#106;avascript:x",
    " javascript:x", "vbscript:msgbox", "livescript:x", "data:text/html;base64,PHNjcmlwdD4=", "data:image/svg+xml;base64,PHN2Zz4=",
    "data:image/png;base64,iVBORw0KGgo=", "data:image/png;base64,PHN2Zz48L3N2Zz4=", "http://tracker.example/p.gif",
    "https://tracker.example/p.gif", "//tracker.example/p.gif", "\\\\tracker\\p", "file:///etc/passwd", "/etc/passwd",
    "cid:part1", "ftp://x/y", "mailto:a@b", "tel:123", "http://x/a.png 1x, //y/b.png 2x", "&#0000106&#0000097vascript:x",
    "jav&#x0A;ascript:x", "\x01javascript:x", "qrc:/x", "about:blank", "blob:x", "filesystem:x", "x-javascript:x",
]  # fmt: skip
HOSTILE_STYLES = [
    "background:url(http://t.example/x)", "background-image: url('//t')", "color: red; background: u\\72l(x)",
    "width: expression(alert(1))", "behavior: url(x.htc)", "-moz-binding: url(x)", "@import 'x'", "list-style: url(x)",
    "content: url(x)", "color:red", "font: 12px/1 x; border-image: url(x)", "background:URL(x)", "background: ur\\l(x)",
]  # fmt: skip

_attr_value = st.one_of(st.sampled_from(HOSTILE_URLS), st.sampled_from(HOSTILE_STYLES), st.text(max_size=20))
_attrs = st.lists(
    st.tuples(st.sampled_from(URL_ATTRS + OTHER_ATTRS), _attr_value, st.sampled_from(['"', "'", ""])),
    max_size=4,
).map(
    lambda attrs: "".join(f" {n}={q}{v.replace(q, '') if q else v.replace(' ', '')}{q}" for n, v, q in attrs)
)


def _element(tag: str, attrs: str, inner: str, close: bool) -> str:
    return f"<{tag}{attrs}>{inner}" + (f"</{tag}>" if close else "")


html_fragments = st.recursive(
    st.one_of(
        st.text(max_size=30),
        st.sampled_from(
            [
                "<!--",
                "-->",
                "<![CDATA[",
                "]]>",
                "<!doctype html>",
                "<?xml x?>",
                "</",
                "<",
                ">",
                "&",
                "&#",
                "<meta http-equiv=refresh content='0;url=http://t'>",
                "<style>@import url(x)</style>",
                "<svg><image href='/etc/passwd'/></svg>",
            ]
        ),
    ),
    lambda inner: st.builds(
        _element,
        st.sampled_from(ACTIVE_TAGS),
        _attrs,
        st.lists(inner, max_size=3).map("".join),
        st.booleans(),
    ),
    max_leaves=12,
)

# ------------------------------------------------------------------------------------------------- search
search_queries = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(
            [
                '"',
                "'",
                "*",
                "^",
                "(",
                ")",
                "-",
                "+",
                ":",
                "NEAR",
                "AND",
                "OR",
                "NOT",
                "e-mail",
                "user@x",
                "302-1234567-7654321",
                "{a b}",
                "\x00",
                "é",
                "ß",
                "日本",
                "\\",
                "%",
                "_",
                "--",
                ";",
                "col:",
                "rank",
            ]
        ),
        max_size=8,
    ).map(" ".join),
)
