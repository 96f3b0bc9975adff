"""Building outgoing replies as raw RFC 5322 bytes, ready for SMTP and for APPEND to Sent.

The same bytes go to both places, so the copy in Sent is exactly what the buyer received, and the Message-ID
set here lets the outbox find it again (``search_header`` in Sent) after a crash.

Encoding: headers are RFC 2047-encoded where needed (no reliance on SMTPUTF8); a plain ASCII body with short
lines is sent 7bit, anything else quoted-printable, which every server accepts (8BITMIME is not everywhere).
Replies keep the original subject with one "Re: " in front, which marketplace relays (Amazon) require.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from inbox_app.domain.message_ids import new_message_id as new_message_id  # re-exported for callers

_RE_PREFIX = re.compile(r"^(\s*re\s*(\[\d+\]|\(\d+\))?\s*:)+\s*", re.IGNORECASE)
_MAX_REFERENCES = 30  # keep the thread root and the most recent ones (RFC 5322 §3.6.4 allows trimming)
_SHORT_LINE = 78


def reply_subject(subject: str) -> str:
    """``"Re: " + subject`` without piling up prefixes ("Re: Re: RE[2]: x" -> "Re: x")."""
    base = _RE_PREFIX.sub("", " ".join(subject.split()))
    return f"Re: {base}".rstrip() if base else "Re:"


def build_reply(
    *,
    from_addr: str,
    from_name: str,
    to: Sequence[str],
    subject: str,
    body_text: str,
    in_reply_to: str | None,
    references: Sequence[str],
    message_id: str,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    date: datetime | None = None,
) -> bytes:
    """The complete reply as bytes with CRLF line ends.

    ``to`` holds addresses ("a@b" or "Name <a@b>"); ``attachments`` are (file name, MIME type, content);
    ``date`` defaults to now (it must be aware if given).
    """
    if not to:
        raise ValueError("a reply needs at least one recipient")
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = Address(display_name=from_name, addr_spec=from_addr)
    msg["To"] = ", ".join(to)
    msg["Subject"] = reply_subject(subject)
    when = date or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("date must be timezone-aware")
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = _angle(message_id)
    refs = [_angle(r) for r in references if r.strip()]
    if in_reply_to:
        msg["In-Reply-To"] = _angle(in_reply_to)
        if _angle(in_reply_to) not in refs:
            refs.append(_angle(in_reply_to))
    if len(refs) > _MAX_REFERENCES:
        refs = [refs[0], *refs[-(_MAX_REFERENCES - 1) :]]
    if refs:
        msg["References"] = " ".join(refs)

    text = body_text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    simple = text.isascii() and all(len(line) <= _SHORT_LINE for line in text.split("\n"))
    msg.set_content(text, subtype="plain", charset="utf-8", cte="7bit" if simple else "quoted-printable")

    for filename, mime_type, data in attachments:
        maintype, _sep, subtype = mime_type.partition("/")
        if not maintype or not subtype or maintype == "multipart":
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes(policy=policy.SMTP)


def _angle(message_id: str) -> str:
    value = message_id.strip()
    if not value.startswith("<"):
        value = f"<{value}>"
    return value
