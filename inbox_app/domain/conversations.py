"""What a conversation looks like to the rest of the program: plain, immutable data (no Qt, no database).

Repositories return these; views and the CLI display them. Keeping them free of peewee means the UI can never
trigger a lazy query by accident and the CLI's JSON is built from the same objects the window shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from inbox_app.domain import deadlines
from inbox_app.i18n import N_


class Status(StrEnum):
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer: the deadline clock stops
    SNOOZED = "snoozed"  # hidden until a time; the marketplace's clock keeps running
    CLOSED = "closed"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class ChannelKind(StrEnum):
    EMAIL = "email"
    AMAZON = "amazon"
    EBAY = "ebay"
    MIRAKL = "mirakl"
    KAUFLAND = "kaufland"
    ALLEGRO = "allegro"


CHANNEL_LABELS: dict[str, str] = {
    ChannelKind.EMAIL: N_("E-mail"),
    ChannelKind.AMAZON: N_("Amazon"),
    ChannelKind.EBAY: N_("eBay"),
    ChannelKind.MIRAKL: N_("Mirakl"),
    ChannelKind.KAUFLAND: N_("Kaufland"),
    ChannelKind.ALLEGRO: N_("Allegro"),
}


@dataclass(frozen=True)
class ConversationSummary:
    """One row of the conversation list."""

    id: int
    channel_kind: str
    channel_name: str
    account_name: str
    subject: str
    snippet: str
    customer_name: str
    order_id: str | None
    status: str
    language: str | None
    unread: bool
    message_count: int
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    deadline_at: datetime | None
    tags: tuple[str, ...] = ()
    # How to reach the customer (e-mail address, relay alias, user name): shown when there is no name.
    customer_address: str = ""
    category: str | None = None  # domain.categories vocabulary; None: not categorised yet
    assignee: str | None = None

    @property
    def customer_label(self) -> str:
        """The customer's name, else their address: what the list and ``list --json`` show as "customer"."""
        return self.customer_name or self.customer_address


@dataclass(frozen=True)
class AttachmentView:
    id: int
    name: str
    size: int
    mime_type: str
    # Where the bytes are on disk, None when not kept (too big, remote only). A synced mail's attachment is
    # written there from its raw source the first time it is needed (store.blob_repair.materialize).
    path: str | None
    inline: bool = False
    content_id: str | None = None
    remote_url: str | None = None


@dataclass(frozen=True)
class MessageView:
    id: int
    direction: str
    author_name: str
    author_address: str
    sent_at: datetime
    subject: str
    text: str
    html: str | None  # sanitized
    attachments: tuple[AttachmentView, ...] = ()
    problems: tuple[str, ...] = ()
    answered_elsewhere: bool = False  # flagged answered on the server, reply not here (stops the clock)
    unconfirmed_outbox_id: int | None = None  # our reply whose delivery was not confirmed (can be sent again)
    remote_id: str | None = None  # the channel's message id (Message-ID, the marketplace's id)
    author_role: str | None = None  # marketplaces: customer, operator (the marketplace itself), shop


@dataclass(frozen=True)
class NoteView:
    id: int
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class ConversationDetail:
    summary: ConversationSummary
    messages: tuple[MessageView, ...]
    notes: tuple[NoteView, ...] = ()
    customer_identities: tuple[tuple[str, str], ...] = ()  # (kind, value)
    other_conversations: tuple[ConversationSummary, ...] = ()
    policy_key: str | None = None
    policy_name: str | None = None
    deadline_started_at: datetime | None = None
    no_response_needed: bool = False
    no_response_url: str | None = None
    marketplace: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class IncomingMessage:
    """A message as a channel hands it over, before it is stored (the sync engine and the demo use this)."""

    direction: Direction
    sent_at: datetime
    text: str
    author_name: str = ""
    author_address: str = ""
    subject: str = ""
    remote_id: str | None = None
    html: str | None = None
    recipients: tuple[str, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    is_read: bool = True
    # An inbound message the seller answered elsewhere (IMAP ``\\Answered``): it stops the clock at its own time.
    is_answered: bool = False
    is_auto_reply: bool = False
    problems: tuple[str, ...] = ()
    raw: bytes | None = None
    attachments: tuple[tuple[str, str, bytes], ...] = ()  # (name, mime type, data)
    extra: dict[str, object] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------------
# The derived fields of a conversation: ONE definition, used by the single writer (store.ingest) and the bulk
# writer of the mail sync (store.mail_models.MailStore), so a conversation reads the same whichever path stored it.

SNIPPET_LENGTH = 160
# Characters of a text the snippet is taken from: its first informative line is in there (the bulk writer reads
# only this much of each body back from SQLite).
SNIPPET_SOURCE = 4000


# A rule line ("-----", "====") or a labelled one such as Amazon's relay markers "------------- Message: -------------":
# layout around the customer's words, never the words themselves.
_RULE_LINE = re.compile(r"^[-=_*~]{3,}(?:.{0,100}?[-=_*~]{3,})?$")


def _is_salutation(line: str) -> bool:
    """A short opening line ("Buenos días,", "Hallo Herr Weber,") that says nothing about the problem."""
    return len(line) <= 40 and line.endswith((",", ":", "!"))


def snippet_of(text: str) -> str:
    """The list line of a message: its first informative line (quoted and rule lines and a leading salutation
    skipped).

    Why skip the greeting: the list answers "what is this about?" at a glance (UX.md); "Hallo Herr Weber," says
    nothing, "mein Paket ist nicht angekommen" does. A message that is only a greeting keeps it.
    """
    lines: list[str] = []
    for raw in text[:SNIPPET_SOURCE].splitlines():
        line = raw.strip()
        if line and not line.startswith(">") and not _RULE_LINE.match(line):
            lines.append(line)
            if len(lines) == 2:  # the first line, and the next one in case the first is a salutation
                break
    if len(lines) > 1 and _is_salutation(lines[0]):
        lines = lines[1:]
    return lines[0][:SNIPPET_LENGTH] if lines else ""


def identity_value(kind: str, value: str) -> str:
    """A customer identity as stored and compared: e-mail addresses lower-cased, everything trimmed."""
    return value.strip().lower() if kind == "email" else value.strip()


@dataclass(frozen=True)
class MessageFacts:
    """What a conversation's derived fields are computed from, for one of its messages."""

    direction: str
    sent_at: datetime
    auto_reply: bool
    text: str
    is_read: bool
    answered: bool


@dataclass(frozen=True)
class DerivedFields:
    """A conversation's list fields and deadline. ``None`` list fields (no message) mean "keep what is stored"."""

    message_count: int
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    unread: bool | None
    snippet: str | None
    deadline_started_at: datetime | None
    deadline_at: datetime | None
    has_messages: bool


def derive_fields(
    messages: Sequence[MessageFacts],
    policy: deadlines.DeadlinePolicy,
    *,
    status: str,
    no_response_needed: bool,
    reply_needed_since: datetime | None,
    vendor_clock: bool = False,
) -> DerivedFields:
    """The derived fields of a conversation from its messages (oldest first: by sent time, then by id).

    ``vendor_clock``: the marketplace runs the clock itself (Mirakl's ``shop_reply_needed_since``); without
    ``reply_needed_since`` no reply is awaited, whatever the messages say."""
    clock_messages = [] if vendor_clock and reply_needed_since is None else messages
    state = deadlines.compute_deadline(
        policy,
        [
            deadlines.ClockMessage(
                direction="in" if m.direction == Direction.IN.value else "out",
                at=m.sent_at,
                auto_reply=m.auto_reply,
                answered=m.answered,
            )
            for m in clock_messages
        ],
        status=status,
        no_response_needed=no_response_needed,
        reply_needed_since=reply_needed_since,
    )
    if not messages:
        return DerivedFields(0, None, None, None, None, state.started_at, state.deadline_at, False)
    inbound = [m for m in messages if m.direction == Direction.IN.value]
    return DerivedFields(
        message_count=len(messages),
        last_message_at=messages[-1].sent_at,
        last_inbound_at=inbound[-1].sent_at if inbound else None,
        unread=any(not m.is_read for m in inbound),
        snippet=snippet_of(messages[-1].text),
        deadline_started_at=state.started_at,
        deadline_at=state.deadline_at,
        has_messages=True,
    )
