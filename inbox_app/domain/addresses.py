"""Is this string an address a reply may be sent to? A strict check, run before a reply is queued.

Why strict: the address a reply goes to comes from headers a stranger wrote. A malformed encoded word in
From or Reply-To (``=?utf-8?q?x:_victim2@evil.example=0D=0AX-Injected?=``) used to decode into a "recipient"
such as ``_victim2@evil.example=0D=0AX-Injected`` and the reply went there. Mail programs accept far more
than RFC 5321 allows; a seller's reply only ever needs the ordinary form, so anything else is refused and the
seller is told, instead of guessing.

Accepted: ``local@domain`` with a dot-atom local part (RFC 5322 ``atext`` and dots, no leading, trailing or
double dot, at most 64 characters) and a host name of at least two labels (letters, digits, hyphens; no
leading or trailing hyphen; 1–63 characters each; 253 in total) whose last label is alphabetic or punycode.
Non-ASCII letters are allowed in the domain (internationalised names) but not in the local part. Refused:
quoted local parts, address literals (``[192.0.2.1]``), comments, white space and every control character
(CR, LF, NUL…), more than one ``@``.
"""

from __future__ import annotations

import re

MAX_ADDRESS_LENGTH = 254  # RFC 5321 path limit minus the angle brackets
MAX_LOCAL_LENGTH = 64
MAX_DOMAIN_LENGTH = 253
MAX_LABEL_LENGTH = 63

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LOCAL = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_TLD = re.compile(r"(?:[^\W\d_]{2,}|xn--[a-z0-9-]{1,59})", re.IGNORECASE)


def _label_ok(label: str) -> bool:
    if not 1 <= len(label) <= MAX_LABEL_LENGTH or label[0] == "-" or label[-1] == "-":
        return False
    return all(ch == "-" or (ch.isalnum() and (ch.isascii() or ch.isalpha())) for ch in label)


def is_reply_address(address: object) -> bool:
    """True when ``address`` is a plain ``local@domain`` a reply may safely be sent to (see module docs)."""
    if not isinstance(address, str) or not address or len(address) > MAX_ADDRESS_LENGTH:
        return False
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in address):
        return False
    if address.count("@") != 1:
        return False
    local, _sep, domain = address.partition("@")
    if not local or len(local) > MAX_LOCAL_LENGTH or _LOCAL.fullmatch(local) is None:
        return False
    if not domain or len(domain) > MAX_DOMAIN_LENGTH:
        return False
    labels = domain.split(".")
    if len(labels) < 2 or not all(_label_ok(label) for label in labels):
        return False
    return _TLD.fullmatch(labels[-1]) is not None


def printable(text: str, limit: int = 80) -> str:
    """``text`` safe to show in one line: control characters as ``\\r``/``\\x00`` escapes, shortened to ``limit``."""
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text[: limit + 1])
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
