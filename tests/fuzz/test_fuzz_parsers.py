"""Fuzzing the parsers that read what strangers send (issue 11.10): zero crashes, nothing active gets through.

Every input is either parsed or quarantined with a reason; a parser that falls back to its catch-all (which
logs the exception) counts as a crash here, even though the mail would still be kept raw. In the normal test
run each parser gets a small, fixed budget (``derandomize``: the same examples every run, no flakes);
``benchmarks/fuzz_parsers.py`` runs the same properties with a big random budget (``INBOX_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings

from inbox_app.channels.mail.amazon_relay import parse_amazon
from inbox_app.channels.mail.html_sanitize import html_to_text, sanitize_html, sanitized_html_to_text
from inbox_app.channels.mail.mime import ParsedMail, parse_message
from inbox_app.sync.mail_parsing import parse_many
from tests.fuzz import strategies as s

#: Examples run per property in this process (the benchmark reads it).
EXAMPLES: Counter[str] = Counter()

_BUDGET = os.environ.get("INBOX_FUZZ_EXAMPLES")
F = TypeVar("F", bound=Callable[..., Any])


def fuzz(examples: int) -> Callable[[F], F]:
    """The fuzz profile: ``examples`` fixed examples per test run, or the benchmark's random budget."""
    return settings(
        max_examples=int(_BUDGET) if _BUDGET else examples,
        derandomize=not _BUDGET,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def no_logged_errors() -> Iterator[None]:
    """A parser's catch-all logs the exception it swallowed: for the fuzzer that is a crash."""
    handler = _Errors()
    logger = logging.getLogger("inbox_app")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    assert not handler.records, [
        (r.getMessage(), r.exc_info[1] if r.exc_info else None) for r in handler.records
    ]


def _storable(value: str, what: str) -> None:
    """SQLite stores text as UTF-8: a lone surrogate would make the row fail at write time."""
    assert isinstance(value, str), what
    value.encode("utf-8")


def check_parsed(parsed: ParsedMail) -> None:
    for what in ("subject", "from_name", "from_address", "text_body"):
        _storable(getattr(parsed, what), what)
    if parsed.html_body is not None:
        _storable(parsed.html_body, "html_body")
        check_inactive(parsed.html_body, allow_remote=False)
    for name, address in (*parsed.to, *parsed.cc, *parsed.reply_to):
        _storable(name, "address name")
        _storable(address, "address")
        assert "\r" not in address and "\n" not in address, address
    for ref in (parsed.message_id, parsed.in_reply_to, *parsed.references):
        if ref is not None:
            _storable(ref, "message id")
    for attachment in parsed.attachments:
        if attachment.filename is not None:
            _storable(attachment.filename, "filename")
        assert isinstance(attachment.data, bytes)
    for problem in parsed.problems:
        assert problem and isinstance(problem, str)


# --------------------------------------------------------------------------------------------------- MIME
@fuzz(400)
@given(raw=s.raw_mails)
def test_mime_parser_at_ingest_never_crashes(raw: bytes) -> None:
    """The entry point the sync's parse workers run (``parse_many``): a result, or ``None`` with a reason."""
    EXAMPLES["mime"] += 1
    with no_logged_errors():
        [(parsed, error, language)] = parse_many([raw], [True], hash_attachments=True)
    if parsed is None:
        assert error, "neither parsed nor quarantined with a reason"
        return
    check_parsed(parsed)
    assert language is None or isinstance(language, str)


@fuzz(300)
@given(raw=s.raw_mails)
def test_header_phase_parser_never_crashes(raw: bytes) -> None:
    """The sync's header phase reads the header fields on their own (``imap._header_info_from_fields``), before
    any body: a crash there would fail the FETCH of a whole batch (see ``imap._guarded``)."""
    from datetime import UTC, datetime

    from inbox_app.channels.mail import imap
    from inbox_app.sync.mail_sync import header_copy_key, message_time

    EXAMPLES["headers"] += 1
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    data = {
        imap._FIELDS_KEY: head,
        b"INTERNALDATE": datetime(2026, 12, 1, tzinfo=UTC),
        b"RFC822.SIZE": len(raw),
    }
    info = imap._header_info_from_fields(1, data)
    for value in (info.subject, info.from_name, info.from_address):
        _storable(value, "header field")
    header_copy_key(info)
    when = message_time(info)
    assert when.tzinfo is not None


# ------------------------------------------------------------------------------------------- Amazon relay
@fuzz(250)
@given(raw=s.amazon_mails())
def test_amazon_relay_parser_never_crashes(raw: bytes) -> None:
    EXAMPLES["amazon"] += 1
    with no_logged_errors():
        parsed = parse_message(raw)
        amazon = parse_amazon(parsed)
    check_parsed(parsed)
    if amazon is None:
        return
    assert (
        amazon.relay_address == amazon.relay_address.lower()
        and "@marketplace.amazon." in amazon.relay_address
    )
    for value in (amazon.buyer_name, amazon.order_id, amazon.topic, amazon.body_text):
        if value is not None:
            _storable(value, "amazon field")
    if amazon.no_response_needed_url is not None:
        assert amazon.no_response_needed_url.startswith("https://"), amazon.no_response_needed_url


# --------------------------------------------------------------------------------------------------- HTML
_RASTER_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"RIFF")
_ACTIVE_TAGS = frozenset(
    {
        "script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input", "button", "select",
        "textarea", "meta", "link", "base", "style", "svg", "math", "video", "audio", "source", "track", "picture",
        "bgsound", "portal", "image", "use", "animate", "set", "foreignobject", "template", "noscript", "xml",
        "isindex", "layer", "ilayer", "marquee",
    }
)  # fmt: skip
_URL_ATTRS = frozenset(
    {
        "href", "src", "action", "formaction", "background", "poster", "srcset", "data", "codebase", "xlink:href",
        "cite", "lowsrc", "dynsrc", "ping", "longdesc", "usemap", "manifest", "srcdoc",
    }
)  # fmt: skip
_CSS_LOADERS = re.compile(r"url\s*\(|expression\s*\(|@import|behavior\s*:|-moz-binding|\\", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")


def _raster_data_image(url: str) -> bool:
    match = re.fullmatch(
        r"data:image/(png|jpeg|jpg|pjpeg|gif|bmp|webp);base64,([A-Za-z0-9+/=\s]*)", url, re.I
    )
    if not match:
        return False
    try:
        data = base64.b64decode(re.sub(r"\s", "", match.group(2))[:64] + "==", validate=False)
    except (binascii.Error, ValueError):
        return False
    return data.startswith(_RASTER_MAGIC)


class _ActiveFinder(HTMLParser):
    """Everything in sanitized HTML that could run code or load something when rendered."""

    def __init__(self, allow_remote: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.allow_remote = allow_remote
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _ACTIVE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.found.append(f"{tag} {name}=")
            if name == "style" and _CSS_LOADERS.search(value):
                self.found.append(f"{tag} style={value!r}")
            if name == "http-equiv":
                self.found.append(f"{tag} http-equiv")
            if name not in _URL_ATTRS:
                continue
            url = _CONTROL.sub("", value).lower()
            scheme = url.partition(":")[0] if ":" in url else ""
            if scheme in (
                "javascript",
                "vbscript",
                "livescript",
                "file",
                "qrc",
                "blob",
                "filesystem",
                "about",
            ):
                self.found.append(f"{tag} {name}={value!r}")
            elif scheme == "data" and not (
                tag == "img" and name == "src" and _raster_data_image(value.strip())
            ):
                self.found.append(f"{tag} {name}={value[:60]!r}")
            elif (
                url
                and tag != "a"
                and name != "cite"
                and not self.allow_remote
                and scheme not in ("cid", "data")
            ):
                # Anything else an element loads by itself (img src, background, srcset…) is remote or a path.
                self.found.append(f"{tag} {name}={value!r}")

    handle_startendtag = handle_starttag


def check_inactive(html: str, *, allow_remote: bool) -> None:
    finder = _ActiveFinder(allow_remote)
    finder.feed(html)
    finder.close()
    assert not finder.found, (finder.found, html[:500])


@fuzz(400)
@given(html=s.html_fragments)
def test_sanitized_html_has_nothing_active_or_remote(html: str) -> None:
    EXAMPLES["html"] += 1
    with no_logged_errors():
        blocked = sanitize_html(html)
        shown = sanitize_html(blocked, allow_remote=True)  # what "Show remote images" renders
        text = html_to_text(html)
        sanitized_html_to_text(blocked)
    check_inactive(blocked, allow_remote=False)
    check_inactive(shown, allow_remote=True)
    _storable(text, "html_to_text")


@pytest.mark.parametrize(
    "src", ["0", "/etc/passwd", "../../x.png", "x.png", "C:\\x.png", "?x", "#x", "%2e%2e/x"]
)
def test_an_image_path_never_reaches_the_renderer(src: str) -> None:
    """Found by the fuzzer (``<img src="0">`` survived): an image is remote (blocked), cid: or raster data:."""
    html = sanitize_html(f'<p>x<img src="{src}" alt="a"></p>')
    assert "src" not in html.replace('alt="a"', ""), html
    check_inactive(html, allow_remote=False)
    check_inactive(sanitize_html(html, allow_remote=True), allow_remote=False)


def test_the_active_finder_finds_what_it_should() -> None:
    """The checker above is itself checked: each of these would be a finding."""
    for html in (
        "<script>x</script>",
        '<img src="http://t/x.gif">',
        '<a href="javascript:x">',
        '<p style="background:url(x)">',
        '<img src="data:image/svg+xml;base64,PHN2Zz4=">',
        '<img src="data:image/png;base64,PHN2Zz4=">',
        '<div onclick="x">',
        '<meta http-equiv="refresh" content="0;url=http://t">',
        '<iframe src="x">',
        '<a href="java&#x09;script:x">',
    ):
        with pytest.raises(AssertionError):
            check_inactive(html, allow_remote=False)
    check_inactive('<a href="https://shop.example/">x</a><img src="cid:part1">', allow_remote=False)
    check_inactive('<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==">', allow_remote=False)


# ------------------------------------------------------------------------------------------------- search
@pytest.fixture(scope="module")
def search_profile() -> Iterator[None]:
    """One real profile (migrations, FTS5 tables, triggers) with a few messages to search in."""
    from inbox_app.profile import open_profile

    with tempfile.TemporaryDirectory() as folder:
        profile = open_profile(Path(folder) / "profile")
        try:
            _fill_search_profile()
            yield
        finally:
            profile.close()


def _fill_search_profile() -> None:
    from datetime import UTC, datetime

    from inbox_app.domain.conversations import Direction, IncomingMessage
    from inbox_app.store import ingest
    from inbox_app.store.models import Account

    account = Account.create(name="Fuzz", kind="imap", settings={})
    channel = ingest.ensure_channel(account, "email", "Fuzz")
    conversation = ingest.create_conversation(account, channel, remote_id=None, subject="e-mail user@x")
    ingest.add_message(
        conversation,
        IncomingMessage(
            remote_id="<fuzz@example.net>",
            direction=Direction.IN,
            author_name="Fuzz",
            author_address="fuzz@example.net",
            sent_at=datetime(2026, 12, 1, tzinfo=UTC),
            text="Where is my e-mail about order 302-1234567-7654321? Größe 日本 ß",
        ),
    )


@fuzz(300)
@given(query=s.search_queries)
def test_search_query_parser_never_crashes(search_profile: None, query: str) -> None:
    from inbox_app.store import search

    EXAMPLES["search"] += 1
    fts = search.fts_query(query)
    assert fts is None or isinstance(fts, str)
    ids = search.search_conversation_ids(query)
    assert all(isinstance(i, int) for i in ids)
