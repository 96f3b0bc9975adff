"""The one interface every channel implements, the data it hands over, and the errors it raises.

Why one interface: the sync engine and the outbox must not know which marketplace they talk to. A channel
lists what changed since a cursor, fetches a thread, downloads an attachment when the seller opens it, sends a
reply and, after a crash, looks that reply up again before anything is sent twice. What a channel cannot do
(mark read on Mirakl, upload files on eBay) is declared in :class:`ChannelCapabilities` and
:class:`ReplyLimits`, so callers ask instead of trying and failing.

Everything here is plain data: no Qt, no database. Channels return these dataclasses and the sync engine
stores them; the vendor's own JSON travels along in ``raw`` so nothing the vendor said is ever lost.

Errors: every *environment* problem (key refused, rate limited, server down, input refused) is a
:class:`ChannelError` with ``user_message`` already translated into the user's language. Any other exception
coming out of a channel is a bug and is logged loudly, not shown as "check your key".
"""

from __future__ import annotations

import abc
import re
import unicodedata
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Literal

from inbox_app.domain.channel_limits import (
    AttachmentCheck,
    ChannelLimits,
    Refusal,
    RefusalReason,
    check_attachments,
)
from inbox_app.domain.conversations import Direction
from inbox_app.i18n import _, format_duration, format_number, format_size, ngettext

__all__ = [
    "AttachmentContent",
    "AuthFailed",
    "BadConfiguration",
    "CertificateInvalid",
    "Channel",
    "ChannelCapabilities",
    "ChannelError",
    "LimitProblem",
    "LookupOutcome",
    "OutgoingFile",
    "OutgoingReply",
    "Participant",
    "ParticipantKind",
    "RateLimited",
    "RejectedInput",
    "RemoteAttachment",
    "RemoteMessage",
    "RemoteNotFound",
    "RemoteThread",
    "ReplyCheck",
    "ReplyLimits",
    "ReplyTarget",
    "SentLookup",
    "SentReceipt",
    "TemporarilyUnavailable",
    "ThreadBatch",
    "UnreadableAnswer",
    "Unsupported",
    "check_reply",
    "normalize_body",
]


# --------------------------------------------------------------------------------------------------------------
# Data handed over by a channel


class ParticipantKind(StrEnum):
    """Who wrote or receives a message. Vendors add enum values over time: unknown ones become OTHER."""

    CUSTOMER = "customer"
    OPERATOR = "operator"  # the marketplace itself (Mirakl operator, Kaufland customer service, eBay)
    SHOP = "shop"  # the seller: us
    OTHER = "other"


@dataclass(frozen=True)
class Participant:
    kind: ParticipantKind
    display_name: str = ""
    remote_id: str | None = None
    organization: str | None = None  # e.g. the operator's name ("Fnac ES") or the customer's company


@dataclass(frozen=True)
class RemoteAttachment:
    """An attachment as listed by the vendor; its bytes come later through ``Channel.download_attachment``."""

    remote_id: str
    name: str
    size: int | None = None
    mime_type: str | None = None


@dataclass(frozen=True)
class RemoteMessage:
    remote_id: str
    thread_id: str
    sent_at: datetime  # timezone-aware, as the vendor dated it
    author: Participant
    direction: Direction  # OUT when the shop wrote it (from this app or the vendor's back office)
    body: str
    recipients: tuple[Participant, ...] = ()
    attachments: tuple[RemoteAttachment, ...] = ()
    html: str | None = None  # unsanitized; the store sanitizes before anything shows it
    problems: tuple[str, ...] = ()  # what could not be read (bad date, missing field); the raw is kept
    raw: str = ""  # the vendor's JSON for this message, verbatim

    @property
    def from_operator(self) -> bool:
        return self.author.kind is ParticipantKind.OPERATOR


@dataclass(frozen=True)
class RemoteThread:
    """A conversation as the vendor knows it.

    ``messages`` may be only the most recent ones (Mirakl's M11 embeds the last 100): ``messages_complete``
    says whether they are all of them; when it is False, ``Channel.fetch_thread`` returns the whole thread.
    ``reply_needed_since`` is the vendor's own deadline clock start (None: no reply is awaited), and
    ``no_reply_needed`` is True when the customer or the operator said the shop need not answer.
    """

    remote_id: str
    subject: str
    created_at: datetime | None
    updated_at: datetime | None
    messages: tuple[RemoteMessage, ...]
    messages_complete: bool
    participants: tuple[Participant, ...] = ()
    customer: Participant | None = None
    order_id: str | None = None
    offer_id: str | None = (
        None  # the listing or offer the thread is about (eBay item, Allegro offer): never an order
    )
    total_messages: int | None = None
    last_message_at: datetime | None = None
    reply_needed_since: datetime | None = None
    no_reply_needed: bool = False
    marketplace: str | None = None  # the operator's name, when the vendor says it
    problems: tuple[str, ...] = ()
    raw: str = ""  # the vendor's JSON for the thread without its messages (those keep their own raw)
    category_hint: str | None = (
        None  # the vendor's reason mapped to the app's categories (Kaufland open_reason)
    )
    # The vendor's reason in words, when the buyer picked one from a list (a Mirakl REASON_CODE topic's label):
    # the category rules read it before the messages (``domain.categories.categorise``).
    marketplace_reason: str | None = None


@dataclass(frozen=True)
class ThreadBatch:
    """One page of changed threads and the cursor to commit *in the same transaction* as storing them.

    The cursor is opaque to the engine: it stores the string and hands it back to ``list_threads``. Resuming
    from any committed cursor never skips a change; it may list a thread again, which the store's upsert by
    ``remote_id`` absorbs (nothing doubled).
    """

    threads: tuple[RemoteThread, ...]
    cursor: str
    last: bool  # True on the final batch of this listing
    unreadable: tuple[str, ...] = ()  # the vendor's JSON of items that could not be read (kept, not dropped)
    # How many threads this listing holds in all, where the vendor says it (Kaufland's ``pagination.total``):
    # the account list shows "syncing 40 of 120". None: unknown (Mirakl's seek paging has no count).
    total: int | None = None


@dataclass(frozen=True)
class AttachmentContent:
    name: str
    data: bytes
    mime_type: str | None = None


@dataclass(frozen=True)
class OutgoingFile:
    name: str
    data: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True)
class ReplyTarget:
    kind: ParticipantKind
    remote_id: str | None = None


@dataclass(frozen=True)
class OutgoingReply:
    """A reply as the outbox hands it to a channel.

    ``reference`` is the outbox's idempotency reference (stable across retries of the same reply). Channels
    whose API takes an idempotency key pass it on; the others (Mirakl) use ``find_sent`` after a crash.
    """

    reference: str
    thread_id: str
    body: str
    files: tuple[OutgoingFile, ...] = ()
    to: tuple[ReplyTarget, ...] = (ReplyTarget(ParticipantKind.CUSTOMER),)


@dataclass(frozen=True)
class SentReceipt:
    """The vendor accepted the reply; ``remote_message_id`` is None when the vendor does not say it."""

    thread_id: str
    remote_message_id: str | None
    accepted_at: datetime


class LookupOutcome(StrEnum):
    FOUND = "found"  # the reply is on the marketplace: record it as sent, never send it again
    NOT_SENT = "not_sent"  # the vendor's full thread shows it is not there: safe to send
    CANNOT_CONFIRM = "cannot_confirm"  # neither can be proven: "sent, unconfirmed", the seller decides


@dataclass(frozen=True)
class SentLookup:
    outcome: LookupOutcome
    message: RemoteMessage | None = None
    detail: str = ""  # why, in English, for the log


# --------------------------------------------------------------------------------------------------------------
# What a channel can do and accept


@dataclass(frozen=True)
class ChannelCapabilities:
    mark_read: bool = False
    close_thread: bool = False
    reply_to_operator: bool = False  # the seller may address the marketplace as well as the customer
    idempotency_key: bool = False  # the API deduplicates by our reference itself


@dataclass(frozen=True)
class ReplyLimits:
    """What a reply must respect before it may enter the outbox (the reply editor and ``reply`` check it).

    ``attachments`` is the attachment table of :mod:`inbox_app.domain.channel_limits` (sizes, counts, uploads
    allowed at all); the rest describes the text and the thread.
    """

    attachments: ChannelLimits
    min_chars: int = 1
    max_chars: int | None = None
    max_messages_per_thread: int | None = None
    allowed_extensions: frozenset[str] | None = None  # lower-case without dot; None: any type
    links_forbidden: bool = False
    addresses_forbidden: bool = False  # e-mail addresses must not appear in the text
    max_attachments_per_entity: int | None = None  # e.g. Mirakl: 50 files across all threads of one order


class LimitProblem(StrEnum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    THREAD_FULL = "thread_full"
    FILE_REFUSED = "file_refused"
    FILE_TYPE = "file_type"
    LINK = "link"
    ADDRESS = "address"


@dataclass(frozen=True)
class ReplyCheck:
    problems: tuple[tuple[LimitProblem, str], ...]  # (code, message in the user's language)
    attachments: AttachmentCheck | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


_LINK = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
_EMAIL = re.compile(r"(?i)\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")


def check_reply(
    kind: str,
    limits: ReplyLimits,
    body: str,
    files: Sequence[tuple[str, int]] = (),
    *,
    thread_message_count: int | None = None,
) -> ReplyCheck:
    """Everything that is wrong with a reply for this channel, each with a message the seller understands."""
    problems: list[tuple[LimitProblem, str]] = []
    length = len(body.strip())
    if length < limits.min_chars:
        problems.append(
            (
                LimitProblem.TOO_SHORT,
                _("The reply is too short: {channel} needs at least {n} characters.").format(
                    channel=kind, n=format_number(limits.min_chars)
                ),
            )
        )
    # A channel without its own figure still has the sane maximum of channel_limits (mail: a million).
    max_chars = limits.max_chars if limits.max_chars is not None else limits.attachments.max_body_chars
    if len(body) > max_chars:
        problems.append(
            (
                LimitProblem.TOO_LONG,
                _("The reply is too long: {count} characters, {channel} accepts at most {n}.").format(
                    count=format_number(len(body)), channel=kind, n=format_number(max_chars)
                ),
            )
        )
    if (
        limits.max_messages_per_thread is not None
        and thread_message_count is not None
        and thread_message_count >= limits.max_messages_per_thread
    ):
        problems.append(
            (
                LimitProblem.THREAD_FULL,
                _("This conversation already has {n} messages, the most {channel} allows.").format(
                    n=format_number(limits.max_messages_per_thread), channel=kind
                ),
            )
        )
    if limits.links_forbidden and _LINK.search(body):
        problems.append(
            (LimitProblem.LINK, _("{channel} does not allow links in a reply.").format(channel=kind))
        )
    if limits.addresses_forbidden and _EMAIL.search(body):
        problems.append(
            (
                LimitProblem.ADDRESS,
                _("{channel} does not allow e-mail addresses in a reply.").format(channel=kind),
            )
        )
    attachments: AttachmentCheck | None = None
    if files:
        if limits.allowed_extensions is not None:
            for name, _size in files:
                ext = name.rsplit(".", 1)[-1].casefold() if "." in name else ""
                if ext not in limits.allowed_extensions:
                    problems.append(
                        (
                            LimitProblem.FILE_TYPE,
                            _("{channel} does not accept files of this type: {name}").format(
                                channel=kind, name=name
                            ),
                        )
                    )
        attachments = check_attachments(limits.attachments.kind, (), files)
        for refusal in attachments.refused:
            problems.append(
                (
                    LimitProblem.FILE_REFUSED,
                    _("{name} cannot be sent through {channel}: {reason}").format(
                        name=refusal.name,
                        channel=kind,
                        reason=_refusal_reason(
                            refusal, kind, links_only=limits.attachments.max_links is not None
                        ),
                    ),
                )
            )
    return ReplyCheck(tuple(problems), attachments)


def _refusal_reason(refusal: Refusal, channel: str, *, links_only: bool) -> str:
    """Why one file is refused; a channel that takes links instead of files (eBay) says what to do instead."""
    limit = refusal.limit or 0
    if refusal.reason is RefusalReason.NO_UPLOAD and links_only:
        return _(
            "{channel} accepts files only as HTTPS links: paste a link to the file (https://…) in the text."
        ).format(channel=channel)
    if refusal.reason is RefusalReason.NO_UPLOAD:
        return _("this channel takes no files.")
    if refusal.reason is RefusalReason.EMPTY:
        return _("the file is empty.")
    if refusal.reason is RefusalReason.FILE_TOO_BIG:
        return _("it is larger than {size}.").format(size=format_size(limit))
    if refusal.reason is RefusalReason.TOTAL_TOO_BIG:
        return _("all files together would exceed {size}.").format(size=format_size(limit))
    return ngettext("at most {n} file per reply.", "at most {n} files per reply.", limit).format(n=limit)


_WS = re.compile(r"\s+")


def normalize_body(text: str) -> str:
    """The text of a message as compared when looking a sent reply up again.

    Vendors may change line endings, trim or re-wrap whitespace and compose accents differently; none of
    that makes it another message.
    """
    return _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()


# --------------------------------------------------------------------------------------------------------------
# Errors shared by all channels


class ChannelError(Exception):
    """Base of every environment problem a channel reports; ``user_message`` is already translated.

    ``detail`` keeps the technical cause in English for the log (never a secret). ``retry_after`` is how
    long to wait before trying again, when known.
    """

    retryable: ClassVar[bool] = False

    def __init__(self, user_message: str, *, detail: str = "", retry_after: float | None = None) -> None:
        super().__init__(f"{user_message} [{detail}]" if detail else user_message)
        self.user_message = user_message
        self.detail = detail
        self.retry_after = retry_after


class AuthFailed(ChannelError):
    """The key or token was refused (revoked, wrong) or has no access to the shop: reconnect the account.

    ``what`` says which part failed, for the set-up dialog's "test connection".
    """

    def __init__(
        self,
        service: str,
        *,
        what: Literal["key", "shop"] = "key",
        detail: str = "",
    ) -> None:
        if what == "shop":
            message = _(
                "{service} refused access to this shop. Check the shop id, then reconnect this account."
            )
        else:
            message = _("{service} refused the key. Reconnect this account.")
        super().__init__(message.format(service=service), detail=detail)
        self.what = what
        self.service = service


class RateLimited(ChannelError):
    """Too many requests: wait ``retry_after`` seconds (from the vendor's Retry-After, or our own backoff)."""

    retryable = True

    def __init__(self, service: str, retry_after: float, *, detail: str = "") -> None:
        wait = format_duration(timedelta(seconds=max(1.0, retry_after)))
        super().__init__(
            _("{service} asks to slow down. Trying again in {wait}.").format(service=service, wait=wait),
            detail=detail,
            retry_after=retry_after,
        )


class TemporarilyUnavailable(ChannelError):
    """The service is down, slow, unreachable, or answered something unreadable: try again later.

    ``maybe_delivered`` is True when a reply had been sent in full and the answer was lost (timeout while
    waiting, dropped connection, 5xx): the outbox must look it up (``Channel.find_sent``) before sending it
    again. ``raw_body`` keeps an unreadable answer for the log and for support.
    """

    retryable = True

    def __init__(
        self,
        service: str,
        *,
        detail: str = "",
        retry_after: float | None = None,
        maybe_delivered: bool = False,
        raw_body: bytes | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(
            message
            or _("{service} cannot be reached right now. It will be tried again.").format(service=service),
            detail=detail,
            retry_after=retry_after,
        )
        self.maybe_delivered = maybe_delivered
        self.raw_body = raw_body


class UnreadableAnswer(TemporarilyUnavailable):
    """The vendor answered, but not in the documented format (malformed JSON, an HTML page): ``raw_body``
    keeps what came. Retried like an outage: it is usually a proxy's error page or a deployment in progress."""


class RejectedInput(ChannelError):
    """The vendor refused what we sent (HTTP 400/413/422…); ``vendor_message`` is its own explanation."""

    def __init__(
        self, service: str, vendor_message: str, *, status: int | None = None, detail: str = ""
    ) -> None:
        shown = vendor_message.strip() or _("no reason given")
        super().__init__(
            _("{service} refused the request: {reason}").format(service=service, reason=shown),
            detail=detail,
        )
        self.vendor_message = vendor_message
        self.status = status


class RemoteNotFound(ChannelError):
    """The thread or attachment does not exist (any more) on the marketplace."""

    def __init__(self, service: str, what: str, *, detail: str = "") -> None:
        super().__init__(
            _("{service} no longer has {what}.").format(service=service, what=what),
            detail=detail,
        )


class Unsupported(ChannelError):
    """The channel's API does not offer this action (see :class:`ChannelCapabilities`)."""

    def __init__(self, service: str, action: str) -> None:
        super().__init__(
            _("{service} does not offer this action: {action}").format(service=service, action=action)
        )


class BadConfiguration(ChannelError):
    """The account's settings cannot work (malformed address, plain HTTP to a remote host)."""


class CertificateInvalid(BadConfiguration):
    """The server's TLS certificate is not valid or not trusted: never retried, never bypassed."""

    def __init__(self, host: str, *, detail: str = "") -> None:
        super().__init__(
            _("The certificate of {host} is not valid or not trusted.").format(host=host), detail=detail
        )


# --------------------------------------------------------------------------------------------------------------
# The interface


class Channel(abc.ABC):
    """One account on one channel. Owns its network client: call :meth:`aclose` when done.

    Methods are coroutines on the application's event loop; none of them touches the database.
    """

    kind: ClassVar[str]

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The name shown to the user for this account's channel (e.g. the Mirakl operator, "Fnac ES")."""

    @property
    @abc.abstractmethod
    def limits(self) -> ReplyLimits: ...

    @property
    def capabilities(self) -> ChannelCapabilities:
        return ChannelCapabilities()

    @abc.abstractmethod
    async def test_connection(self) -> None:
        """One cheap authenticated call; raises the typed error that names what failed."""

    @abc.abstractmethod
    def list_threads(self, cursor: str | None) -> AsyncIterator[ThreadBatch]:
        """Threads changed since ``cursor`` (None: everything), in batches; paging stays inside.

        Each batch carries the cursor to commit with it. An error raised mid-way leaves the last committed
        cursor valid: the next call resumes from there.
        """

    @abc.abstractmethod
    async def fetch_thread(self, thread_id: str) -> RemoteThread:
        """The whole thread with all its messages (``messages_complete`` is True)."""

    @abc.abstractmethod
    async def download_attachment(self, attachment: RemoteAttachment) -> AttachmentContent: ...

    @abc.abstractmethod
    async def send_reply(self, reply: OutgoingReply) -> SentReceipt:
        """Deliver a reply once. Raises :class:`TemporarilyUnavailable` with ``maybe_delivered`` when the
        request went out in full but its answer was lost."""

    @abc.abstractmethod
    async def find_sent(
        self,
        reply: OutgoingReply,
        *,
        claimed_at: datetime,
        known_message_ids: Collection[str] = (),
    ) -> SentLookup:
        """After a crash between sending and recording: is ``reply`` already on the marketplace?

        ``claimed_at`` is when the outbox claimed the reply for sending (nothing of it can be older);
        ``known_message_ids`` are the thread's messages the store already had before that, never taken for it.
        """

    async def mark_read(self, thread_id: str) -> None:
        raise Unsupported(self.name, "mark read")

    async def close_thread(self, thread_id: str) -> None:
        raise Unsupported(self.name, "close")

    async def aclose(self) -> None:  # optional hook: channels without resources need nothing
        return None

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
