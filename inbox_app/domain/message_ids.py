"""Message-IDs: their one stored form, new ones for replies (fixed when a reply is queued, so a crash mid-send can be recognised later),
and telling copies of one mail from different mails that share a Message-ID."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime


def new_message_id(domain: str) -> str:
    """A globally unique ``<random@domain>`` (no host name, pid or time leaked).

    ``domain`` may be a bare domain or an address ("shop@example.com" → "example.com"); IDN domains are
    written in their ASCII (punycode) form as RFC 5322 requires.
    """
    host = domain.strip().strip("<>").rpartition("@")[2].strip(".").lower() or "localhost"
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    return f"<{uuid.uuid4().hex}@{host}>"


def norm_id(value: str | None) -> str | None:
    """A Message-ID in its header form ``<id>``: how the store keeps Message-ID, In-Reply-To and References.

    One form for every writer: ENVELOPE keeps the brackets, the MIME parser drops them, and a reply's parent is
    found by comparing them as stored.
    """
    if not value:
        return None
    text = value.strip().strip("<>").strip()
    return f"<{text}>" if text else None


# ------------------------------------------------------------------------------------------ copies of one mail
# A Message-ID is only a claim by the sender: buggy mailers and forged mail reuse one for different mails. So a
# mail seen again under a known Message-ID is the *same* mail (a copy in Sent, All Mail, another folder) only
# when its content is the same too. Two checks, cheapest first:
#   copy_key        from the header fields the sync fetches anyway (sender, recipients, date, subject, parent);
#   content_hash    of the body and the author/MIME header fields, once fetched, for mails whose copy_key matched.
# Transport headers (Received, Delivered-To, X-…, Return-Path, signatures), which differ between copies of one
# mail, are in neither.


def copy_key(
    from_address: str,
    recipients: Iterable[str],
    date: datetime | None,
    subject: str,
    in_reply_to: str | None,
) -> str:
    """A short digest of the author-written header fields that copies of one mail share."""
    parts = [
        from_address.strip().lower(),
        ",".join(sorted({r.strip().lower() for r in recipients if r})),
        date.astimezone(UTC).isoformat() if date is not None else "",
        " ".join(subject.split()),
        (in_reply_to or "").strip().strip("<>").strip(),
    ]
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


_HEADER_END = re.compile(rb"\r?\n\r?\n")
#: Header fields that are part of what a mail *is* (written by its author or its MIME structure). Everything
#: else (Received, Delivered-To, Return-Path, DKIM/ARC signatures, X-…, Status) is added on the way or by a
#: mailbox and differs between copies of one mail.
CONTENT_FIELDS = frozenset(
    {
        b"from",
        b"sender",
        b"reply-to",
        b"to",
        b"cc",
        b"subject",
        b"date",
        b"message-id",
        b"in-reply-to",
        b"references",
        b"mime-version",
    }
)


def _content_fields(head: bytes) -> list[bytes]:
    """The content fields of a header block, unfolded, names lower-cased, blanks evened out, in order."""
    fields: list[bytes] = []
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if fields:
                fields[-1] += b" " + line.strip()
            continue
        fields.append(line)
    kept = []
    for field in fields:
        name, colon, value = field.partition(b":")
        name = name.strip().lower()
        if colon and (name in CONTENT_FIELDS or name.startswith(b"content-")):
            kept.append(name + b":" + b" ".join(value.split()))
    return kept


def content_hash(raw: bytes) -> str:
    """A digest of what a mail says: its body and its content header fields (see ``CONTENT_FIELDS``).

    Copies of one mail are byte-equal there (IMAP COPY/MOVE, a Sent copy and the delivered copy of the same
    bytes); servers may still turn LF into CRLF or pad lines, which the normalisation absorbs. The MIME fields
    count because the same bytes under another Content-Type are another text.
    """
    match = _HEADER_END.search(raw)
    # No blank line: no telling headers from text, so all of it counts (copies of such a mail are rare).
    head, body = (raw[: match.start()], raw[match.end() :]) if match else (b"", raw)
    lines = [line.rstrip() for line in body.replace(b"\r\n", b"\n").split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    digest = hashlib.sha256()
    for field in _content_fields(head):
        digest.update(field + b"\n")
    digest.update(b"\n")
    digest.update(b"\n".join(lines))
    return digest.hexdigest()
