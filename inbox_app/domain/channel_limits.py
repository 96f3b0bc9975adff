"""What each channel accepts as attachments on a reply, and the check the reply editor runs on a drop.

Why a table: a seller drags a 12 MB PDF onto a reply to an Amazon buyer, and the relay silently bounces it
hours later, after the deadline. Checking at drop time against the channel's documented limits turns that into
an immediate, clear refusal. The figures come from each channel's documentation (see
``/work/shared/reference/channels.md``):

- Amazon buyer-seller messaging: at most 10 MB of attachments per message.
- eBay: no file upload at all; only up to five HTTPS links in the text.
- Mirakl (M12 multipart ``files`` parts) and Kaufland (base64 in JSON): 10 MB per file; Mirakl 20 MB per
  message, Kaufland 10 MB (the base64 body grows by a third).
- E-mail: most providers refuse messages above 25 MB *encoded*; base64 adds a third, so 18 MB of files.
- Allegro has no published figure: a cautious 10 MB, like Amazon.

The text of a reply has limits too (``max_body_chars``): eBay and Allegro 2,000 characters, Kaufland 10,000,
Mirakl 50,000 (M12 ``body``). Mail has no protocol limit, so a sane one is set here: 1,000,000 characters of
text (a reply is written by a person; a million characters is a 300-page book, so more is always a mistake
such as ``--body-file /dev/zero``), and at most 25 MB for the whole message as sent (text plus attachments
after base64, :data:`MAX_MAIL_MESSAGE_BYTES`), the size most providers refuse above. Amazon's relay takes
10 MB per message. :data:`MAX_BODY_CHARS` is the largest text any channel takes: a reader of untrusted input
(``reply --body-file``) never needs more than that plus one character to refuse it.

Pure data and arithmetic; messages for the user are built by the UI from :class:`Refusal`, and for the text
by :func:`body_problem_message`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from inbox_app.i18n import _, format_number, format_size

MB = 1024 * 1024


@dataclass(frozen=True)
class ChannelLimits:
    """Attachment limits of one channel kind; ``None`` means "no limit of that kind"."""

    kind: str
    uploads: bool
    max_total_bytes: int | None = None
    max_file_bytes: int | None = None
    max_files: int | None = None
    max_links: int | None = None
    max_body_chars: int = 1_000_000  # the reply's text, in characters (see the module docs)
    max_message_bytes: int | None = None  # the whole message as sent, encoded (mail)


#: The whole mail as it leaves: text and base64-encoded attachments (most providers refuse more than 25 MB).
MAX_MAIL_MESSAGE_BYTES = 25 * MB


LIMITS: dict[str, ChannelLimits] = {
    "amazon": ChannelLimits(
        "amazon", uploads=True, max_total_bytes=10 * MB, max_file_bytes=10 * MB, max_message_bytes=10 * MB
    ),
    "ebay": ChannelLimits("ebay", uploads=False, max_links=5, max_body_chars=2_000),
    "mirakl": ChannelLimits(
        "mirakl",
        uploads=True,
        max_total_bytes=20 * MB,
        max_file_bytes=10 * MB,
        max_files=10,
        max_body_chars=50_000,
    ),
    "kaufland": ChannelLimits(
        "kaufland", uploads=True, max_total_bytes=10 * MB, max_file_bytes=10 * MB, max_body_chars=10_000
    ),
    "email": ChannelLimits(
        "email",
        uploads=True,
        max_total_bytes=18 * MB,
        max_file_bytes=18 * MB,
        max_message_bytes=MAX_MAIL_MESSAGE_BYTES,
    ),
    # Allegro's attachment declaration takes at most 5 MiB per file (NewAttachmentDeclaration.size).
    "allegro": ChannelLimits(
        "allegro", uploads=True, max_total_bytes=10 * MB, max_file_bytes=5 * MB, max_body_chars=2_000
    ),
}

#: The most text any channel takes in one reply: read at most this plus one character of untrusted input.
MAX_BODY_CHARS = max(limits.max_body_chars for limits in LIMITS.values())

#: Used for a channel kind this table does not know yet: the strictest common figure.
UNKNOWN_LIMITS = ChannelLimits("unknown", uploads=True, max_total_bytes=10 * MB, max_file_bytes=10 * MB)


def limits_for(channel_kind: str) -> ChannelLimits:
    return LIMITS.get(channel_kind.casefold(), UNKNOWN_LIMITS)


def encoded_size(text: str, attachment_sizes: Iterable[int] = ()) -> int:
    """About how many bytes a mail with this text and these attachments takes once encoded for sending.

    Text goes out as UTF-8 quoted-printable or base64 (at most 4/3 of its bytes, plus line breaks), each file
    as base64 (4/3 plus a line break every 76 characters); a few kilobytes of headers on top. An estimate
    that errs on the large side, so a message under the limit here is under it on the wire.
    """

    def b64(n: int) -> int:
        encoded = (n + 2) // 3 * 4
        return encoded + encoded // 76 * 2

    body = len(text.encode("utf-8", "surrogatepass"))
    return 8 * 1024 + b64(body) + sum(b64(max(size, 0)) + 512 for size in attachment_sizes)


class BodyProblem(StrEnum):
    TOO_LONG = "too_long"  # more characters than the channel takes
    MESSAGE_TOO_BIG = "message_too_big"  # text and attachments together, encoded, over the message limit
    NOT_TEXT = "not_text"  # NUL or other control characters: a binary file, not a reply
    FILES_NOT_ACCEPTED = "files_not_accepted"  # files on a channel that takes links only (eBay)


# Control characters no typed text contains (tab, line feed, form feed and carriage return are fine).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def check_body(
    channel_kind: str, body: str, attachment_sizes: Sequence[int] = ()
) -> tuple[BodyProblem, int] | None:
    """What is wrong with a reply's text for this channel (the problem and the limit), None when nothing.

    The one check every way into the outbox runs (the reply editor as you type, ``reply --body-file``, and the
    outbox itself before it writes a row).
    """
    limits = limits_for(channel_kind)
    if len(body) > limits.max_body_chars:
        return BodyProblem.TOO_LONG, limits.max_body_chars
    if _CONTROL.search(body) is not None:
        return BodyProblem.NOT_TEXT, 0
    if attachment_sizes and not limits.uploads:
        return BodyProblem.FILES_NOT_ACCEPTED, 0
    if limits.max_message_bytes is not None and (
        encoded_size(body, attachment_sizes) > limits.max_message_bytes
    ):
        return BodyProblem.MESSAGE_TOO_BIG, limits.max_message_bytes
    return None


class RefusalReason(StrEnum):
    NO_UPLOAD = "no_upload"  # the channel takes links only
    EMPTY = "empty"  # a zero-byte file is almost always a mistake (a placeholder, a failed download)
    FILE_TOO_BIG = "file_too_big"
    TOTAL_TOO_BIG = "total_too_big"
    TOO_MANY = "too_many"


@dataclass(frozen=True)
class Refusal:
    """Why one file cannot go with the reply; ``limit`` is the figure that was exceeded (bytes or count)."""

    name: str
    size: int
    reason: RefusalReason
    limit: int | None = None


@dataclass(frozen=True)
class AttachmentCheck:
    accepted: tuple[tuple[str, int], ...]
    refused: tuple[Refusal, ...]


def check_attachments(
    channel_kind: str,
    existing: Sequence[tuple[str, int]],
    new: Iterable[tuple[str, int]],
) -> AttachmentCheck:
    """Which of ``new`` (name, size) files may join ``existing`` on a reply through ``channel_kind``.

    Files are taken in order; one that would break a limit is refused and the next ones are still tried, so
    a small file after a big one still gets in.
    """
    limits = limits_for(channel_kind)
    accepted: list[tuple[str, int]] = []
    refused: list[Refusal] = []
    total = sum(size for _name, size in existing)
    count = len(existing)
    for name, size in new:
        if not limits.uploads:
            refused.append(Refusal(name, size, RefusalReason.NO_UPLOAD))
            continue
        if size <= 0:
            refused.append(Refusal(name, size, RefusalReason.EMPTY))
            continue
        if limits.max_file_bytes is not None and size > limits.max_file_bytes:
            refused.append(Refusal(name, size, RefusalReason.FILE_TOO_BIG, limits.max_file_bytes))
            continue
        if limits.max_total_bytes is not None and total + size > limits.max_total_bytes:
            refused.append(Refusal(name, size, RefusalReason.TOTAL_TOO_BIG, limits.max_total_bytes))
            continue
        if limits.max_files is not None and count + 1 > limits.max_files:
            refused.append(Refusal(name, size, RefusalReason.TOO_MANY, limits.max_files))
            continue
        accepted.append((name, size))
        total += size
        count += 1
    return AttachmentCheck(tuple(accepted), tuple(refused))


def body_problem_message(channel_label: str, problem: BodyProblem, limit: int, length: int) -> str:
    """The sentence the seller reads for a :func:`check_body` problem (``channel_label``: "eBay", "E-mail")."""
    if problem is BodyProblem.TOO_LONG:
        return _("The reply is too long: {count} characters, {channel} accepts at most {n}.").format(
            count=format_number(length), channel=channel_label, n=format_number(limit)
        )
    if problem is BodyProblem.MESSAGE_TOO_BIG:
        return _("The reply with its attachments is larger than the {size} {channel} accepts.").format(
            size=format_size(limit), channel=channel_label
        )
    if problem is BodyProblem.FILES_NOT_ACCEPTED:
        return _(
            "{channel} accepts files only as HTTPS links: remove the attached files and paste a link to each "
            "(https://…) in the text."
        ).format(channel=channel_label)
    return _("The reply contains control characters (such as NUL): it looks like a binary file, not text.")


def links_only_note(channel_label: str) -> str:
    """Why the reply box offers no Attach on a channel without uploads ("eBay accepts files only as HTTPS
    links"): said before the seller tries, not after a refused drop."""
    return _("{channel} accepts files only as HTTPS links.").format(channel=channel_label)
