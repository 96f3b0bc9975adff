"""The peewee models: the shape of everything the product keeps locally.

Times are stored as aware-UTC ISO strings through :class:`UtcDateTimeField` so they sort as text and never
lose their offset. JSON blobs hold channel-specific extras so a new channel rarely needs a migration.
Secrets are never stored here: passwords and tokens live in the OS keyring (see ``inbox_app.secrets``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import peewee

from inbox_app.store.db import BaseModel


class UtcDateTimeField(peewee.TextField):
    """An aware datetime stored as a fixed-width UTC ISO string (sortable, comparable as text)."""

    field_type = "TEXT"

    def db_value(self, value: datetime | str | None) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC field")
        return to_db_time(value)

    def python_value(self, value: str | None) -> datetime | None:
        return None if value is None else from_db_time(value)


def to_db_time(value: datetime) -> str:
    """The stored text form of an aware datetime (``2026-11-02T03:04:05.000000Z``), for raw SQL comparisons."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_db_time(value: str) -> datetime:
    """The aware datetime of a stored time (fromisoformat, not strptime: 50x faster, and every list row and
    thread read parses several)."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


#: ``json.dumps(value, ensure_ascii=False, sort_keys=True)`` without building an encoder per call.
encode_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


class JsonField(peewee.TextField):
    def db_value(self, value: Any) -> str | None:
        return None if value is None else encode_json(value)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Setting(BaseModel):
    key = peewee.TextField(primary_key=True)
    value = JsonField()


class DeadlinePolicyRow(BaseModel):
    """A response-time rule (target and clock); the rules themselves live in ``domain.deadlines``."""

    key = peewee.TextField(unique=True)
    name = peewee.TextField()
    definition = JsonField()  # DeadlinePolicy.to_dict()

    class Meta:
        table_name = "deadline_policy"


class Account(BaseModel):
    """A connection the user set up: a mailbox, a marketplace API login. No secrets here."""

    kind = peewee.TextField()  # imap, ebay, mirakl, kaufland, allegro, demo
    name = peewee.TextField()
    settings = JsonField(default=dict)  # hosts, ports, security, user, from address, folders…
    enabled = peewee.BooleanField(default=True)
    created_at = UtcDateTimeField(default=utcnow)


class Channel(BaseModel):
    """Where conversations come from: "Amazon.de" via a mailbox, "Carrefour" via Mirakl, a shop mailbox."""

    account = peewee.ForeignKeyField(Account, backref="channels", on_delete="CASCADE")
    account_id: int
    kind = peewee.TextField()  # email, amazon, ebay, mirakl, kaufland, allegro
    name = peewee.TextField()  # display name: "Amazon.de", "Fnac Darty", "shop@example.com"
    marketplace = peewee.TextField(null=True)  # amazon.de, carrefour…
    policy = peewee.ForeignKeyField(DeadlinePolicyRow, null=True, on_delete="SET NULL")
    policy_id: int | None

    class Meta:
        indexes = ((("account", "kind", "marketplace"), True),)


class Customer(BaseModel):
    name = peewee.TextField(default="")
    language = peewee.TextField(null=True)
    created_at = UtcDateTimeField(default=utcnow)


class CustomerIdentity(BaseModel):
    """One way to reach a customer (e-mail address, Amazon relay alias, eBay user, Mirakl customer id)."""

    customer = peewee.ForeignKeyField(Customer, backref="identities", on_delete="CASCADE")
    customer_id: int
    kind = peewee.TextField()
    value = peewee.TextField()
    display_name = peewee.TextField(null=True)

    class Meta:
        table_name = "customer_identity"
        indexes = ((("kind", "value"), True),)


class Conversation(BaseModel):
    # index=False on these three: each is the first column of a composite index below (see migration v3).
    channel = peewee.ForeignKeyField(Channel, backref="conversations", on_delete="CASCADE", index=False)
    channel_id: int
    account = peewee.ForeignKeyField(Account, backref="conversations", on_delete="CASCADE", index=False)
    account_id: int
    remote_id = peewee.TextField(null=True)  # the channel's thread id, when it has one
    subject = peewee.TextField(default="")
    snippet = peewee.TextField(default="")  # first line of the last message, for the list
    status = peewee.TextField(default="open")  # open, pending, snoozed, closed
    snoozed_until = UtcDateTimeField(null=True)
    language = peewee.TextField(null=True)
    customer = peewee.ForeignKeyField(Customer, null=True, backref="conversations", on_delete="SET NULL")
    customer_id: int | None
    customer_name = peewee.TextField(default="")  # denormalized for the list
    order_id = peewee.TextField(null=True, index=True)
    created_at = UtcDateTimeField(default=utcnow)
    last_message_at = UtcDateTimeField(null=True)
    last_inbound_at = UtcDateTimeField(null=True)
    unread = peewee.BooleanField(default=False)
    message_count = peewee.IntegerField(default=0)
    no_response_needed = peewee.BooleanField(default=False)
    no_response_url = peewee.TextField(null=True)
    # Derived by domain.deadlines from the messages and the channel's policy; stored to sort and count fast.
    deadline_started_at = UtcDateTimeField(null=True)
    deadline_at = UtcDateTimeField(null=True)
    reply_needed_since = UtcDateTimeField(null=True)  # Mirakl's shop_reply_needed_since
    extra = JsonField(default=dict)
    # Triage (migration ``_triage``): null category = not categorised yet; ``category_source`` says who set it
    # (rule, marketplace, manual: a hand-set category is never overwritten by the rules); ``assignee`` is a
    # name from the profile's team list (null: unassigned).
    category = peewee.TextField(null=True)
    category_source = peewee.TextField(null=True)
    assignee = peewee.TextField(null=True)

    class Meta:
        indexes = (
            (("account", "remote_id"), True),
            (("status", "deadline_at"), False),
            (("channel", "status"), False),
        )


class Message(BaseModel):
    # Not indexed alone: ``message_conversation_time`` (conversation, sent_at, …), made by a migration
    # (``store.report_episodes.CONVERSATION_INDEX_SQL``), serves every lookup by conversation.
    conversation = peewee.ForeignKeyField(Conversation, backref="messages", on_delete="CASCADE", index=False)
    conversation_id: int
    direction = peewee.TextField()  # in, out
    remote_id = peewee.TextField(null=True)  # Message-ID or the API's message id
    author_name = peewee.TextField(default="")
    author_address = peewee.TextField(default="")
    recipients = JsonField(default=list)
    subject = peewee.TextField(default="")
    sent_at = UtcDateTimeField(index=True)
    received_at = UtcDateTimeField(default=utcnow)
    text_body = peewee.TextField(default="")
    html_body = peewee.TextField(null=True)  # already sanitized
    in_reply_to = peewee.TextField(null=True)
    references = JsonField(default=list)
    is_read = peewee.BooleanField(default=True)
    # Inbound mail flagged \\Answered on the server: answered from another mail client (stops the clock).
    is_answered = peewee.BooleanField(default=False)
    is_auto_reply = peewee.BooleanField(default=False)
    problems = JsonField(null=True)  # non-empty: the message could not be fully parsed (raw source kept)
    extra = JsonField(default=dict)

    class Meta:
        indexes = ((("remote_id",), False),)


class MessageSource(BaseModel):
    """The raw bytes as received (mail source), kept so nothing is lost even if parsing failed."""

    message = peewee.ForeignKeyField(Message, primary_key=True, backref="source", on_delete="CASCADE")
    message_id: int
    # Shadows Model.raw (raw SQL), which is never used on this table; the column name says what it holds.
    raw = peewee.BlobField()  # type: ignore[assignment]

    class Meta:
        table_name = "message_source"


class Attachment(BaseModel):
    message = peewee.ForeignKeyField(Message, backref="attachments", on_delete="CASCADE")
    message_id: int
    filename = peewee.TextField()  # safe display name
    mime_type = peewee.TextField(default="application/octet-stream")
    size = peewee.IntegerField(default=0)
    sha256 = peewee.TextField(null=True)  # content address in the blob store; null if too big / not fetched
    content_id = peewee.TextField(null=True)
    inline = peewee.BooleanField(default=False)
    remote_url = peewee.TextField(null=True)  # for channels that give links instead of bytes


class Tag(BaseModel):
    name = peewee.TextField(unique=True)
    color = peewee.TextField(default="#888888")


class ConversationTag(BaseModel):
    conversation = peewee.ForeignKeyField(Conversation, backref="tag_links", on_delete="CASCADE")
    conversation_id: int
    tag = peewee.ForeignKeyField(Tag, backref="conversation_links", on_delete="CASCADE")
    tag_id: int

    class Meta:
        table_name = "conversation_tag"
        indexes = ((("conversation", "tag"), True),)


class Note(BaseModel):
    """An internal note: seen by the team, never sent to the customer."""

    conversation = peewee.ForeignKeyField(Conversation, backref="notes", on_delete="CASCADE")
    conversation_id: int
    author = peewee.TextField(default="")
    body = peewee.TextField()
    created_at = UtcDateTimeField(default=utcnow)


class Draft(BaseModel):
    """The reply being written; saved continuously so a crash or a switch loses nothing."""

    conversation = peewee.ForeignKeyField(Conversation, unique=True, backref="drafts", on_delete="CASCADE")
    conversation_id: int
    body = peewee.TextField(default="")
    language = peewee.TextField(null=True)
    attachments = JsonField(default=list)  # [{name, sha256, size, mime_type}]
    updated_at = UtcDateTimeField(default=utcnow)
    # When the seller began this draft and the newest message of the thread then: what arrived after it was
    # not seen while writing, so the outbox holds the reply (``sync.collisions``). Schema: _collision_check.
    started_at = UtcDateTimeField(null=True)
    seen_message_id = peewee.IntegerField(null=True)


class OutboxItem(BaseModel):
    """A reply on its way out. Written before any network I/O; delivered exactly once by the sync engine.

    States: queued → sending → sent, or failed (permanent) / cancelled. ``message_id`` is fixed when queued so
    a crash between "server accepted" and "recorded" can be detected (look for it in Sent) before resending.
    While ``sending``, ``delivery_step`` records how far the delivery got (``store.outbox.DeliveryStep``), each
    step committed before the next network call, so a crash leaves the evidence recovery needs.
    """

    conversation = peewee.ForeignKeyField(Conversation, backref="outbox", on_delete="CASCADE")
    conversation_id: int
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    account_id: int
    state = peewee.TextField(default="queued", index=True)
    delivery_step = peewee.TextField(null=True)  # while sending: claimed, submitting, accepted (schema v3)
    # While sending (schema v4): the claiming process (``sync.ownership.process_token``) and until when its
    # claim holds without a renewal; see ``store.outbox.claim``.
    owner = peewee.TextField(null=True)
    lease_until = UtcDateTimeField(null=True)
    body = peewee.TextField()
    subject = peewee.TextField(default="")
    recipients = JsonField(default=list)
    message_id = peewee.TextField(unique=True)
    in_reply_to = peewee.TextField(null=True)
    references = JsonField(default=list)
    attachments = JsonField(default=list)
    close_after_send = peewee.BooleanField(default=False)
    created_at = UtcDateTimeField(default=utcnow)
    scheduled_at = UtcDateTimeField(null=True)  # "send later"
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = UtcDateTimeField(null=True)
    last_error = peewee.TextField(null=True)
    sent_at = UtcDateTimeField(null=True)
    sent_message = peewee.ForeignKeyField(Message, null=True, on_delete="SET NULL")
    sent_message_id: int | None
    # The collision check (``sync.collisions``, schema _collision_check): the draft's start and the newest
    # message seen then; on a ``held`` row what changed since ([{kind, who, at, remote_id}]); the changes the
    # seller has seen and sent anyway over (remote ids), never a reason to hold again.
    draft_started_at = UtcDateTimeField(null=True)
    seen_message_id = peewee.IntegerField(null=True)
    held_changes = JsonField(null=True)
    acknowledged = JsonField(default=list, constraints=[peewee.SQL("DEFAULT '[]'")])

    class Meta:
        table_name = "outbox_item"


class CannedResponse(BaseModel):
    key = peewee.TextField(unique=True)  # the shortcut typed after "/"
    title = peewee.TextField()
    category = peewee.TextField(default="other")
    usage_count = peewee.IntegerField(default=0)
    created_at = UtcDateTimeField(default=utcnow)
    updated_at = UtcDateTimeField(default=utcnow)

    class Meta:
        table_name = "canned_response"


class CannedVariant(BaseModel):
    response = peewee.ForeignKeyField(CannedResponse, backref="variants", on_delete="CASCADE")
    response_id: int
    language = peewee.TextField()
    subject = peewee.TextField(null=True)
    body = peewee.TextField()

    class Meta:
        table_name = "canned_variant"
        indexes = ((("response", "language"), True),)


class SyncState(BaseModel):
    """Where an account's sync stands for one folder or stream (UIDVALIDITY, last UID, MODSEQ, cursors)."""

    account = peewee.ForeignKeyField(Account, backref="sync_states", on_delete="CASCADE")
    account_id: int
    key = peewee.TextField()  # folder name or stream name
    uidvalidity = peewee.IntegerField(null=True)
    last_uid = peewee.IntegerField(default=0)
    highest_modseq = peewee.IntegerField(null=True)
    cursor = JsonField(default=dict)
    last_success_at = UtcDateTimeField(null=True)
    last_error = peewee.TextField(null=True)

    class Meta:
        table_name = "sync_state"
        indexes = ((("account", "key"), True),)


class MailLocation(BaseModel):
    """Where a stored message sits on an IMAP server: (account, folder, uidvalidity, uid) → message."""

    account = peewee.ForeignKeyField(Account, on_delete="CASCADE", index=False)  # first column below
    account_id: int
    folder = peewee.TextField()
    uidvalidity = peewee.IntegerField()
    uid = peewee.IntegerField()
    message = peewee.ForeignKeyField(Message, null=True, backref="locations", on_delete="CASCADE")
    message_id: int | None
    flags = JsonField(default=list)
    body_fetched = peewee.BooleanField(default=False)

    class Meta:
        table_name = "mail_location"
        indexes = ((("account", "folder", "uidvalidity", "uid"), True),)


class Event(BaseModel):
    """Append-only log (received, replied, status_changed, tagged…); reports are computed from it.

    A trigger (see migrations) refuses UPDATE and DELETE so history cannot be rewritten.
    """

    at = UtcDateTimeField(default=utcnow, index=True)
    kind = peewee.TextField(index=True)
    conversation = peewee.IntegerField(null=True, index=True)  # plain ids: events outlive deleted rows
    message = peewee.IntegerField(null=True)
    account = peewee.IntegerField(null=True)
    actor = peewee.TextField(default="")
    data = JsonField(default=dict)


ALL_MODELS: tuple[type[BaseModel], ...] = (
    Setting,
    DeadlinePolicyRow,
    Account,
    Channel,
    Customer,
    CustomerIdentity,
    Conversation,
    Message,
    MessageSource,
    Attachment,
    Tag,
    ConversationTag,
    Note,
    Draft,
    OutboxItem,
    CannedResponse,
    CannedVariant,
    SyncState,
    MailLocation,
    Event,
)
