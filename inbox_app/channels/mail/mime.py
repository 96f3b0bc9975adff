"""Parse raw RFC 5322 bytes into a :class:`ParsedMail`, whatever the bytes are.

Real mailboxes hold years of mail from every mailer ever written: wrong or unknown charsets, 8-bit headers,
malformed RFC 2047 words, boundaries that never close, truncated base64. The rule here is: never raise for
bad input. Decode what can be decoded, and list what was wrong in ``ParsedMail.problems`` so the UI can flag
the message (the raw bytes are kept elsewhere, so nothing is lost).

The stdlib parser runs with the ``compat32`` policy: it is several times faster than ``policy.default`` on
headers and never raises while parsing; header decoding (RFC 2047, 8-bit) is done here, leniently.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.errors
import email.message
import email.parser
import email.utils
import logging
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.policy import compat32
from itertools import pairwise

from inbox_app.channels.mail.html_sanitize import html_is_too_deep, sanitize_html, sanitized_html_to_text
from inbox_app.domain.filenames import safe_filename

__all__ = [
    "ParsedAttachment",
    "ParsedMail",
    "attachment_payloads",
    "decode_bytes",
    "decode_header_value",
    "parse_message",
    "safe_filename",
]

log = logging.getLogger("inbox_app.channels.mail")

DEFAULT_MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024
_MAX_PARTS = 1000
_MAX_DEPTH = 50
_USEFUL_HEADERS = (
    "List-Id",
    "List-Unsubscribe",
    "Auto-Submitted",
    "X-Autoreply",
    "X-Autorespond",
    "Precedence",
    "Content-Language",
    "Return-Path",
    "X-Auto-Response-Suppress",
)


@dataclass(frozen=True)
class ParsedAttachment:
    """One attachment or inline part; ``filename`` is already safe to show and to write."""

    filename: str
    mime_type: str
    data: bytes
    content_id: str | None
    inline: bool
    size: int = 0  # decoded size, also known when ``data`` was dropped for being too large


@dataclass(frozen=True)
class ParsedMail:
    """Everything the inbox needs from one mail; ``problems`` non-empty means "flag this message"."""

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    from_name: str
    from_address: str
    to: tuple[tuple[str, str], ...]
    cc: tuple[tuple[str, str], ...]
    reply_to: tuple[tuple[str, str], ...]
    date: datetime | None
    text_body: str
    html_body: str | None
    attachments: tuple[ParsedAttachment, ...]
    headers: dict[str, str] = field(default_factory=dict)
    is_auto_reply: bool = False
    problems: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------------ charsets
# Labels seen in real mail that Python does not know, or knows as a narrower charset than senders mean
# (Outlook's "ks_c_5601-1987" is really cp949, "shift_jis" mail often holds cp932-only characters, and
# "iso-8859-1"/"ascii" labels routinely hide Windows-1252 quotes and euro signs, as browsers also assume).
_ALIASES = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "x-unicode20utf8": "utf-8",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "ansi_x3.4-1968": "utf-8",
    "windows-1252": "cp1252",
    "win-1252": "cp1252",
    "x-cp1252": "cp1252",
    "cp-1252": "cp1252",
    "win1252": "cp1252",
    "windows-1250": "cp1250",
    "win-1250": "cp1250",
    "windows-1251": "cp1251",
    "win-1251": "cp1251",
    "x-cp1251": "cp1251",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "x-ms-cp932": "cp932",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "x-euc-cn": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "x-mac-roman": "mac-roman",
    "macintosh": "mac-roman",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "iso-2022-jp": "iso2022_jp_2",
    "koi8-r": "koi8_r",
    "koi8r": "koi8_r",
}
# Python codecs that are not character sets a mail may legitimately claim.
_REFUSED_CODECS = frozenset(
    {"undefined", "unicode_escape", "raw_unicode_escape", "idna", "punycode", "mbcs", "oem", "utf_7"}
)
_charset_cache: dict[str, str | None] = {}
# Labels for which a strict decode failure just means "the label was too narrow": retry without a problem.
_WIDENED = {"utf-8": "cp1252", "cp1252": "latin-1", "cp932": "shift_jis_2004", "gb18030": "gb18030"}


def _resolve_charset(label: str | None) -> str | None:
    """Map a MIME charset label to a Python codec name, or None if unknown."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower()
    cached = _charset_cache.get(key, "")
    if cached != "":
        return cached
    name: str | None = _ALIASES.get(key, key)
    try:
        info = codecs.lookup(name or "")
    except (LookupError, ValueError, TypeError):
        name = None
    else:
        name = info.name if info._is_text_encoding and info.name not in _REFUSED_CODECS else None
        if name == "iso8859-1" or name == "latin-1":
            name = "cp1252"
        elif name == "ascii":
            name = "utf-8"
    if len(_charset_cache) < 1000:
        _charset_cache[key] = name
    return name


def decode_bytes(data: bytes, charset: str | None, problems: list[str] | None = None) -> str:
    """Decode text in its declared charset, falling back sensibly; unknown/wrong charsets become problems.

    Order: the declared (resolved) charset strictly; then a wider relative or UTF-8; then Windows-1252 with
    replacement characters. An unknown label is tried as UTF-8, then Windows-1252.
    """
    codec = _resolve_charset(charset)
    unknown_8bit = ("unknown-8bit", "x-unknown")
    if codec is None and charset and charset.strip().strip("\"'").lower() not in unknown_8bit:
        if problems is not None:
            problems.append(f"Unknown charset {_show(charset.strip())}; decoded as UTF-8 or Windows-1252.")
    elif codec is None and charset and problems is not None:
        problems.append("Text has an unknown 8-bit charset; decoded as UTF-8 or Windows-1252.")
    if codec is not None:
        try:
            return data.decode(codec)
        except (UnicodeError, LookupError):
            pass
        wider = _WIDENED.get(codec)
        if wider and wider != codec:
            try:
                return data.decode(wider)
            except (UnicodeError, LookupError):
                pass
        if codec != "utf-8":
            try:
                text = data.decode("utf-8")
            except UnicodeError:
                pass
            else:
                if problems is not None:
                    problems.append(f"Text declared as {_show(charset)} was UTF-8; decoded as UTF-8.")
                return text
        if problems is not None:
            problems.append(f"Text is not valid {_show(charset)}; undecodable bytes were replaced.")
        try:
            return data.decode(codec, "replace")
        except (UnicodeError, LookupError):
            return data.decode("cp1252", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeError:
        return data.decode("cp1252", "replace")


# ------------------------------------------------------------------------------------------- headers
_ENCODED_WORD = re.compile(r"=\?([^?\s]+?)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*?)\?=")
_SPACE_RUN = re.compile(r"\s+")


def _show(value: object) -> str:
    """A short printable quote of untrusted text for a problem description (no lone surrogates)."""
    text = str(value).encode("utf-8", "replace").decode("utf-8")
    return repr(text[:60])


def _raw_to_str(value: str) -> str:
    """A raw header value may hold undecoded 8-bit bytes (as surrogates): decode them as UTF-8 or cp1252."""
    if value.isascii():
        return value
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return decode_bytes(data, None)


def _decode_word(charset: str, encoding: str, text: str) -> bytes | None:
    try:
        if encoding in "bB":
            cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
            if len(cleaned) != len(text.rstrip("=")):
                return None
            cleaned = cleaned[: len(cleaned) - len(cleaned) % 4] if len(cleaned) % 4 == 1 else cleaned
            return binascii.a2b_base64(cleaned + "=" * (-len(cleaned) % 4))
        return quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=False)
    except (binascii.Error, ValueError):
        return None


def decode_header_value(value: str | None, problems: list[str] | None = None) -> str:
    """Decode RFC 2047 words leniently (also inside words, split multi-byte chars, bad padding)."""
    if not value:
        return ""
    value = _raw_to_str(value)
    if "=?" not in value:
        return _SPACE_RUN.sub(" ", value).strip()
    out: list[str] = []
    pending: bytearray = bytearray()
    pending_charset = ""
    pos = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending:
            out.append(decode_bytes(bytes(pending), pending_charset, problems))
            pending.clear()
        pending_charset = ""

    prev_decoded = False
    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos : m.start()]
        charset = m.group(1).lower()
        decoded = _decode_word(charset, m.group(2), m.group(3))
        # Whitespace between two encoded words is not part of the text (RFC 2047 §6.2).
        if gap and not (prev_decoded and decoded is not None and gap.isspace()):
            flush()
            out.append(gap)
        if decoded is None:
            flush()
            out.append(m.group(0))
            if problems is not None:
                problems.append("A header contains a malformed encoded word.")
        else:
            if pending and charset != pending_charset:
                flush()
            pending_charset = charset
            pending.extend(decoded)
        prev_decoded = decoded is not None
        pos = m.end()
    flush()
    out.append(value[pos:])
    return _SPACE_RUN.sub(" ", "".join(out)).strip()


def _headers_of(msg: email.message.Message) -> list[tuple[str, object]]:
    """The parsed header list as stored (compat32 keeps raw strings there, 8-bit bytes as surrogates)."""
    headers: list[tuple[str, object]] = getattr(msg, "_headers", [])
    return headers


def _payload_of(part: email.message.Message) -> object:
    """The undecoded payload: a str for leaf parts, a list of parts for multipart and message/*."""
    return getattr(part, "_payload", None)


def _get_raw(msg: email.message.Message, name: str) -> str | None:
    """The raw (unfolded) value of the first header ``name``; never a Header object."""
    lname = name.lower()
    size = len(lname)
    for key, value in _headers_of(msg):
        if len(key) == size and key.lower() == lname:
            text = value if isinstance(value, str) else str(value)
            return text.replace("\r", "").replace("\n", "")
    return None


def _get_all_raw(msg: email.message.Message, name: str) -> list[str]:
    lname = name.lower()
    return [
        (v if isinstance(v, str) else str(v)).replace("\r", "").replace("\n", "")
        for k, v in _headers_of(msg)
        if len(k) == len(lname) and k.lower() == lname
    ]


_ANGLE_ID = re.compile(r"<([^<>\s]+)>")


def _msg_ids(value: str | None) -> list[str]:
    if not value:
        return []
    value = _raw_to_str(value)
    ids = _ANGLE_ID.findall(value)
    if not ids:
        ids = [tok.strip("<>,;") for tok in value.split() if "@" in tok]
    seen: dict[str, None] = {}
    for mid in ids:
        if mid and mid not in seen:
            seen[mid] = None
    return list(seen)


# The common shapes "Name Words <local@domain>" and "local@domain", for which ``getaddresses`` is slow and
# its result is just the two pieces (checked against it on hundreds of thousands of generated values).
_SIMPLE_ADDRESS = re.compile(
    r"(?:([A-Za-z0-9]+(?: [A-Za-z0-9]+)*) <)?"
    r"([A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)(?(1)>)"
)


def _getaddresses(values: list[str]) -> list[tuple[str, str]]:
    """``email.utils.getaddresses(values)``, without its parser for a single simple address."""
    if len(values) == 1:
        match = _SIMPLE_ADDRESS.fullmatch(values[0])
        if match is not None:
            return [(match.group(1) or "", match.group(2))]
    return email.utils.getaddresses(values)


def _addresses(msg: email.message.Message, name: str, problems: list[str]) -> tuple[tuple[str, str], ...]:
    values = _get_all_raw(msg, name)
    if not values:
        return ()
    try:
        pairs = _getaddresses(values)
    except Exception:  # getaddresses has had parsing bugs on hostile input
        problems.append(f"The {name} header could not be parsed.")
        return ()
    result: list[tuple[str, str]] = []
    for display, addr in pairs:
        address = _raw_to_str(addr).strip().strip("<>").lower()
        display_name = decode_header_value(display, problems).strip().strip('"').strip()
        if not address and not display_name:
            continue
        result.append((display_name, address))
    return tuple(result)


def _parse_date(msg: email.message.Message, problems: list[str]) -> datetime | None:
    raw = _get_raw(msg, "Date")
    candidates = [raw] if raw else []
    if raw is None:
        problems.append("The message has no Date header.")
        # Fall back to the newest Received header (the receiving server's clock).
        received = _get_raw(msg, "Received")
        if received and ";" in received:
            candidates.append(received.rsplit(";", 1)[1])
    for candidate in candidates:
        try:
            parsed = email.utils.parsedate_to_datetime(_raw_to_str(candidate).strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            continue
    if raw is not None:
        problems.append(f"The Date header {_show(_raw_to_str(raw))} could not be understood.")
    return None


# ----------------------------------------------------------------------------------------------- bodies
_DEFECT_TEXT = {
    "NoBoundaryInMultipartDefect": "A multipart part has no boundary parameter.",
    "StartBoundaryNotFoundDefect": "The multipart boundary was never found; the body may be incomplete.",
    "CloseBoundaryNotFoundDefect": "The multipart body ends without its closing boundary (truncated?).",
    "FirstHeaderLineIsContinuationDefect": "The headers start with a continuation line.",
    "MisplacedEnvelopeHeaderDefect": "A 'From ' envelope line appears among the headers.",
    "MissingHeaderBodySeparatorDefect": "A header line is malformed (missing header/body separator).",
    "MultipartInvariantViolationDefect": "A part claims to be multipart but is not.",
    "InvalidMultipartContentTransferEncodingDefect": "A multipart part has an invalid transfer encoding.",
    "InvalidBase64PaddingDefect": "Base64 data has bad padding (truncated attachment?).",
    "InvalidBase64CharactersDefect": "Base64 data contains invalid characters.",
    "InvalidBase64LengthDefect": "Base64 data has an impossible length (truncated attachment?).",
    "NonASCIIHeaderDefect": "A header contains undeclared 8-bit characters.",
}


def _collect_defects(part: email.message.Message, problems: list[str]) -> None:
    for defect in getattr(part, "defects", ()):
        name = type(defect).__name__
        text = _DEFECT_TEXT.get(name, f"MIME defect: {name}.")
        if text not in problems:
            problems.append(text)


def _walk(msg: email.message.Message, problems: list[str]) -> Iterator[email.message.Message]:
    """Leaf parts in order, iteratively (a hostile nesting depth cannot hit the recursion limit)."""
    stack: list[tuple[email.message.Message, int]] = [(msg, 0)]
    count = 0
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > _MAX_PARTS:
            problems.append(f"More than {_MAX_PARTS} MIME parts; the rest was ignored.")
            return
        payload = _payload_of(part)
        if isinstance(payload, list) and part.get_content_maintype() == "multipart":
            _collect_defects(part, problems)
            if depth >= _MAX_DEPTH:
                problems.append("MIME parts are nested too deeply; the inner parts were ignored.")
                continue
            children = [p for p in payload if isinstance(p, email.message.Message)]
            stack.extend((child, depth + 1) for child in reversed(children))
        else:
            yield part


def _content_id(part: email.message.Message) -> str | None:
    raw = _get_raw(part, "Content-ID")
    if not raw:
        return None
    cid = _raw_to_str(raw).strip().strip("<>").strip()
    return cid or None


def _disposition(part: email.message.Message) -> str:
    raw = _get_raw(part, "Content-Disposition")
    if not raw:
        return ""
    return raw.split(";", 1)[0].strip().lower()


def _filename(part: email.message.Message, problems: list[str]) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name is None:
        try:
            name = part.get_param("name")  # type: ignore[assignment]  # may be a RFC 2231 tuple
        except Exception:
            name = None
        if isinstance(name, tuple):
            name = email.utils.collapse_rfc2231_value(name)
    if not name:
        return None
    return decode_header_value(str(name), problems)


_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE
)


def _meta_charset(data: bytes) -> str | None:
    """The charset an HTML part declares in ``<meta>`` when the MIME header says none (shop systems do)."""
    match = _META_CHARSET.search(data, 0, 2048)
    return match.group(1).decode("ascii") if match else None


def _payload_bytes(part: email.message.Message) -> bytes:
    """Decoded payload bytes; compat32 records base64 problems as defects on the part."""
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _estimated_size(part: email.message.Message) -> int:
    payload = _payload_of(part)
    if not isinstance(payload, str):
        return 0
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    return len(payload) * 3 // 4 if cte == "base64" else len(payload)


_EXT_BY_TYPE = {
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "text/csv": ".csv",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
}


def _attachment_from(
    part: email.message.Message,
    mime_type: str,
    name: str | None,
    disposition: str,
    max_bytes: int,
    index: int,
    problems: list[str],
) -> ParsedAttachment:
    cid = _content_id(part)
    payload = _payload_of(part)
    inner = payload[0] if isinstance(payload, list) and payload else None
    if name is None and mime_type == "message/rfc822" and isinstance(inner, email.message.Message):
        inner_subject = decode_header_value(_get_raw(inner, "Subject"))
        name = f"{inner_subject[:100]}.eml" if inner_subject else None
    fallback = f"{'image' if mime_type.startswith('image/') else 'attachment'}-{index}"
    fallback += _EXT_BY_TYPE.get(mime_type, ".bin")
    filename = safe_filename(name, fallback)
    inline = disposition == "inline" or (disposition == "" and cid is not None)
    if isinstance(payload, list):  # message/rfc822 and friends: keep the whole inner message
        try:
            data = inner.as_bytes(policy=compat32) if isinstance(inner, email.message.Message) else b""
        except Exception:
            data = b""
            problems.append(f"The attached message {filename!r} could not be re-serialized.")
    elif _estimated_size(part) > max_bytes:
        size = _estimated_size(part)
        problems.append(f"Attachment {filename!r} is larger than {max_bytes} bytes; its data was not kept.")
        return ParsedAttachment(filename, mime_type, b"", cid, inline, size)
    else:
        data = _payload_bytes(part)
    if len(data) > max_bytes:
        problems.append(f"Attachment {filename!r} is larger than {max_bytes} bytes; its data was not kept.")
        return ParsedAttachment(filename, mime_type, b"", cid, inline, len(data))
    return ParsedAttachment(filename, mime_type, data, cid, inline, len(data))


def _is_auto_reply(headers: dict[str, str], content_type: str) -> bool:
    auto = headers.get("Auto-Submitted", "").strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if headers.get("X-Autoreply") or headers.get("X-Autorespond"):
        return True
    if headers.get("Precedence", "").strip().lower() in ("bulk", "junk", "auto_reply", "auto-reply"):
        return True
    if headers.get("Return-Path", "").strip() == "<>":
        return True  # bounces and other delivery reports
    return content_type == "multipart/report"


def _clean_text(text: str) -> str:
    if (
        "\r" in text
    ):  # CRLF almost always; a lone CR (old Mac mail) rarely: one pass over the text in most cases
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            text = text.replace("\r", "\n")
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text


# ------------------------------------------------------------------------------------------ fast parse
# The stdlib FeedParser walks every body line in Python (boundary and end-of-part checks per line), which
# is most of the parse time for mail with base64 attachments or long texts. Its decisions depend on a line
# only when the line may be a header line (``headerRE``: holds a colon, starts with space, tab or "From "),
# is blank, or starts with "-" (a boundary). Any other line ends a header block (as a defect) and is body
# text otherwise, so a run of such lines is always one opaque block of body text: it is replaced by one
# placeholder line of the same kind (NUL, number, NUL, then the run's last line ending), and the runs are
# swapped back into the parsed payloads/preambles/epilogues. That yields exactly the Message tree the stdlib
# builds from the original bytes (checked old-vs-new on samples, generated mailboxes and random garbage);
# when anything does not add up (NUL bytes or lone CRs in the input, a placeholder not restored exactly once
# afterwards), the plain stdlib parse is used instead.
_SIGNIFICANT_START = re.compile(rb"\n(?=[ \t\r\n-]|From )")
_PLACEHOLDER = re.compile("\x00([0-9]+)\x00")
_LONE_CR = re.compile(rb"\r(?!\n)")


def _collapse_opaque_runs(raw: bytes, runs: list[str]) -> bytes:
    """Replace runs of body-only lines by numbered placeholder lines; the runs' text goes to ``runs``.

    Only for input whose lines all end in LF or CRLF (no lone CR): then a line starts after each LF. A line is
    significant to the parser when it starts with space, tab, "-", "From " or a line ending, or holds a
    colon; the first line is always kept. Everything between two significant lines is an opaque run.
    """
    starts = {0}
    starts.update(m.start() + 1 for m in _SIGNIFICANT_START.finditer(raw))
    colon = raw.find(b":")
    while colon >= 0:
        line_start = raw.rfind(b"\n", 0, colon) + 1
        starts.add(line_start)
        next_line = raw.find(b"\n", colon)
        if next_line < 0:
            break
        colon = raw.find(b":", next_line)
    pieces: list[bytes] = []
    done = 0
    ordered = sorted(starts)
    ordered.append(len(raw))
    for line_start, next_start in pairwise(ordered):
        run_start = raw.find(b"\n", line_start, next_start) + 1
        if run_start <= 0:
            continue
        run_end = raw.rfind(b"\n", run_start, next_start) + 1  # the last line without LF is not a run line
        if run_end <= 0:
            continue
        eol = b"\r\n" if raw[run_end - 2 : run_end] == b"\r\n" else b"\n"
        pieces.append(raw[done:run_start])
        pieces.append(b"\x00%d\x00%s" % (len(runs), eol))
        runs.append(raw[run_start : run_end - len(eol)].decode("ascii", "surrogateescape"))
        done = run_end
    if not runs:
        return raw
    pieces.append(raw[done:])
    return b"".join(pieces)


def _message_from_bytes(raw: bytes) -> email.message.Message:
    """``email.message_from_bytes(raw, policy=compat32)``, identical result, fewer lines through the parser."""
    runs: list[str] = []
    if b"\x00" not in raw and _LONE_CR.search(raw) is None:
        collapsed = _collapse_opaque_runs(raw, runs)
    if not runs:
        return email.message_from_bytes(raw, policy=compat32)
    msg = email.message_from_bytes(collapsed, policy=compat32)
    seen: set[int] = set()
    restored = 0

    def expand(match: re.Match[str]) -> str:
        nonlocal restored
        index = int(match.group(1))
        restored += 1
        seen.add(index)
        return runs[index] if index < len(runs) else match.group(0)

    stack: list[email.message.Message] = [msg]
    while stack:
        part = stack.pop()
        payload = _payload_of(part)
        if isinstance(payload, str):
            if "\x00" in payload:
                part._payload = _PLACEHOLDER.sub(expand, payload)  # type: ignore[attr-defined]
        elif isinstance(payload, list):
            stack.extend(p for p in payload if isinstance(p, email.message.Message))
        for attr in ("preamble", "epilogue"):
            value = getattr(part, attr, None)
            if isinstance(value, str) and "\x00" in value:
                setattr(part, attr, _PLACEHOLDER.sub(expand, value))
    if restored != len(runs) or len(seen) != len(runs):
        return email.message_from_bytes(raw, policy=compat32)
    return msg


def _headers_only(raw: bytes) -> email.message.Message:
    """The top-level headers with an empty body: for a mail whose MIME structure cannot be parsed safely."""
    msg = email.parser.BytesParser(policy=compat32).parsebytes(raw, headersonly=True)
    for name in ("Content-Type", "Content-Transfer-Encoding", "Content-Disposition"):
        del msg[name]
    msg.set_payload("")
    return msg


def _parse(raw: bytes, max_bytes: int, problems: list[str], *, headers_only: bool = False) -> ParsedMail:
    msg = _headers_only(raw) if headers_only else _message_from_bytes(raw)
    if not _headers_of(msg):
        problems.append("The message has no headers.")

    subject = decode_header_value(_get_raw(msg, "Subject"), problems)
    from_pairs = _addresses(msg, "From", problems)
    if not from_pairs:
        from_pairs = _addresses(msg, "Sender", problems)
    from_name, from_address = from_pairs[0] if from_pairs else ("", "")
    if not from_address:
        problems.append("The message has no From address.")
    message_ids = _msg_ids(_get_raw(msg, "Message-ID"))
    in_reply_to = _msg_ids(_get_raw(msg, "In-Reply-To"))
    references = _msg_ids(" ".join(_get_all_raw(msg, "References")))
    first_values: dict[str, object] = {}  # one pass instead of one _get_raw() scan per useful header
    for key, raw_value in _headers_of(msg):
        first_values.setdefault(key.lower(), raw_value)
    headers: dict[str, str] = {}
    for header in _USEFUL_HEADERS:
        found = first_values.get(header.lower())
        if found is not None:
            text = found if isinstance(found, str) else str(found)
            headers[header] = decode_header_value(text.replace("\r", "").replace("\n", ""))

    plain: list[str] = []
    html: list[str] = []
    attachments: list[ParsedAttachment] = []
    for part in _walk(msg, problems):
        mime_type = part.get_content_type()
        disposition = _disposition(part)
        name = _filename(part, problems)
        is_body_text = mime_type in ("text/plain", "text/html") and disposition != "attachment" and not name
        if is_body_text:
            charset = part.get_param("charset")
            if isinstance(charset, tuple):
                charset = email.utils.collapse_rfc2231_value(charset)
            data = _payload_bytes(part)
            if not charset and mime_type == "text/html":
                charset = _meta_charset(data)
            text = _clean_text(decode_bytes(data, charset, problems))
            (plain if mime_type == "text/plain" else html).append(text)
        elif mime_type.startswith("multipart/") and not name:
            # A multipart without usable parts (no boundary...): show its bytes rather than lose them.
            text = _clean_text(decode_bytes(_payload_bytes(part), None)).strip()
            if text:
                plain.append(text)
                problems.append("A multipart section could not be split into parts; shown as plain text.")
        else:
            index = len(attachments) + 1
            attachments.append(
                _attachment_from(part, mime_type, name, disposition, max_bytes, index, problems)
            )
        # Leaf defects (bad base64 padding...) appear while the payload is decoded, so collect them now.
        _collect_defects(part, problems)
    joined_html = "\n".join(html) if html else None
    if joined_html and html_is_too_deep(joined_html):
        problems.append("The HTML body is nested absurdly deep; it is shown as plain text.")
    html_body = sanitize_html(joined_html) if joined_html else None
    if plain:
        text_body = "\n\n".join(p.strip("\n") for p in plain)
    else:
        text_body = sanitized_html_to_text(html_body) if html_body else ""
    return ParsedMail(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=tuple(references),
        subject=subject,
        from_name=from_name,
        from_address=from_address,
        to=_addresses(msg, "To", problems),
        cc=_addresses(msg, "Cc", problems),
        reply_to=_addresses(msg, "Reply-To", problems),
        date=_parse_date(msg, problems),
        text_body=text_body,
        html_body=html_body,
        attachments=tuple(attachments),
        headers=headers,
        is_auto_reply=_is_auto_reply(headers, msg.get_content_type()),
        problems=(),
    )


def _dedupe(problems: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(problems))


def parse_message(raw: bytes, *, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES) -> ParsedMail:
    """Parse one raw message. Never raises: bad input yields a partial result plus ``problems``."""
    problems: list[str] = []
    try:
        if not isinstance(raw, bytes | bytearray | memoryview):
            raise TypeError(f"expected bytes, got {type(raw).__name__}")
        try:
            mail = _parse(bytes(raw), max_attachment_bytes, problems)
        except RecursionError:
            # The stdlib parser recurses once per nesting level (multipart or message/rfc822): a hostile mail
            # nested ~1,000 deep exhausts the stack. Refused with a reason; its headers still thread it.
            log.warning("a mail is nested too deeply to be parsed; only its headers were read")
            problems.clear()
            problems.append(
                "The message is nested too deeply to be read (MIME parts inside parts, over and over); "
                "only its headers were read. The original is kept."
            )
            mail = _parse(bytes(raw), max_attachment_bytes, problems, headers_only=True)
    except Exception as exc:  # a parser bug must not lose the message: the raw bytes are kept elsewhere
        log.exception("mail parser failed")
        problems.append(f"The message could not be parsed ({type(exc).__name__}); showing it as raw text.")
        text = bytes(raw).decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else ""
        return ParsedMail(
            message_id=None,
            in_reply_to=None,
            references=(),
            subject="",
            from_name="",
            from_address="",
            to=(),
            cc=(),
            reply_to=(),
            date=None,
            text_body=_clean_text(text),
            html_body=None,
            attachments=(),
            headers={},
            is_auto_reply=False,
            problems=_dedupe(problems),
        )
    return _replace_problems(mail, _dedupe(problems))


def _replace_problems(mail: ParsedMail, problems: tuple[str, ...]) -> ParsedMail:
    if not problems:
        return mail
    return replace(mail, problems=problems)


def attachment_payloads(raw: bytes) -> list[bytes]:
    """The decoded bytes of every attachment and inline part of a raw mail (to write their files on demand)."""
    return [a.data for a in parse_message(raw).attachments if a.data]
