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

Pure data and arithmetic; messages for the user are built by the UI from :class:`Refusal`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

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


LIMITS: dict[str, ChannelLimits] = {
    "amazon": ChannelLimits("amazon", uploads=True, max_total_bytes=10 * MB, max_file_bytes=10 * MB),
    "ebay": ChannelLimits("ebay", uploads=False, max_links=5),
    "mirakl": ChannelLimits(
        "mirakl", uploads=True, max_total_bytes=20 * MB, max_file_bytes=10 * MB, max_files=10
    ),
    "kaufland": ChannelLimits("kaufland", uploads=True, max_total_bytes=10 * MB, max_file_bytes=10 * MB),
    "email": ChannelLimits("email", uploads=True, max_total_bytes=18 * MB, max_file_bytes=18 * MB),
    # Allegro's attachment declaration takes at most 5 MiB per file (NewAttachmentDeclaration.size).
    "allegro": ChannelLimits("allegro", uploads=True, max_total_bytes=10 * MB, max_file_bytes=5 * MB),
}

#: Used for a channel kind this table does not know yet: the strictest common figure.
UNKNOWN_LIMITS = ChannelLimits("unknown", uploads=True, max_total_bytes=10 * MB, max_file_bytes=10 * MB)


def limits_for(channel_kind: str) -> ChannelLimits:
    return LIMITS.get(channel_kind.casefold(), UNKNOWN_LIMITS)


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
