"""Read side for the window and the CLI: ids for a view, rows for the visible ids, counts, one thread.

The list model keeps only ids (a 100,000-row view is 100,000 ints) and asks :func:`summaries` for the rows it
paints, so opening and scrolling a huge inbox never loads it whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from peewee import fn

from inbox_app.domain.conversations import (
    AttachmentView,
    ConversationDetail,
    ConversationSummary,
    MessageView,
    NoteView,
    Status,
)
from inbox_app.domain.views import DUE_SOON_WINDOW, View, ViewKind
from inbox_app.store import db as store_db
from inbox_app.store.blobs import BlobStore
from inbox_app.store.ingest import policy_for_channel
from inbox_app.store.models import (
    Account,
    Attachment,
    Channel,
    Conversation,
    ConversationTag,
    CustomerIdentity,
    Message,
    Note,
    OutboxItem,
    Tag,
    to_db_time,
    utcnow,
)
from inbox_app.store.outbox import UNCONFIRMED
from inbox_app.store.settings import AGENT_NAME, get_setting

# Deadline first (nulls last), then newest activity: "what do I do next?" at the top.
# Mirrored by the ``conversation_list_order`` index (store.migrations): keep the two in step.
DEFAULT_ORDER = (
    Conversation.deadline_at.is_null(),
    Conversation.deadline_at,
    Conversation.last_message_at.desc(),
    Conversation.id.desc(),
)


def _view_condition(view: View, now: datetime) -> Any:
    """The WHERE clause of a view (a peewee expression)."""
    now_s = to_db_time(now)
    soon_s = to_db_time(now + DUE_SOON_WINDOW)
    open_like = Conversation.status.in_([Status.OPEN.value, Status.SNOOZED.value])
    kind = view.kind
    if kind is ViewKind.OVERDUE:
        return open_like & (Conversation.deadline_at <= now_s)
    if kind is ViewKind.DUE_SOON:
        return open_like & (Conversation.deadline_at > now_s) & (Conversation.deadline_at <= soon_s)
    if kind is ViewKind.OPEN:
        return Conversation.status == Status.OPEN.value
    if kind in (ViewKind.PENDING, ViewKind.SNOOZED, ViewKind.CLOSED):
        return Conversation.status == kind.value
    if kind is ViewKind.ACCOUNT:
        return (Conversation.account == int(view.value or 0)) & (Conversation.status != Status.CLOSED.value)
    if kind is ViewKind.CHANNEL:
        channel_ids = Channel.select(Channel.id).where(Channel.kind == view.value)
        return Conversation.channel.in_(channel_ids) & (Conversation.status != Status.CLOSED.value)
    if kind is ViewKind.MINE:
        agent = str(get_setting(AGENT_NAME, "") or "")
        return (Conversation.assignee == agent) & (Conversation.status != Status.CLOSED.value)
    if kind is ViewKind.UNASSIGNED:
        return Conversation.assignee.is_null() & (Conversation.status != Status.CLOSED.value)
    if kind is ViewKind.TAG:
        tagged = ConversationTag.select(ConversationTag.conversation).join(Tag).where(Tag.name == view.value)
        return Conversation.id.in_(tagged)
    return Conversation.id.is_null(False)


# DEFAULT_ORDER backwards: the same index read from its other end (the list's "oldest deadline last" order).
REVERSED_ORDER = (
    Conversation.deadline_at.is_null().desc(),
    Conversation.deadline_at.desc(),
    Conversation.last_message_at.asc(),
    Conversation.id.asc(),
)


def conversation_ids(
    view: View, now: datetime | None = None, limit: int | None = None, *, reverse: bool = False
) -> list[int]:
    """Ids of the conversations in ``view``, in display order (``reverse``: from the end); with ``limit``, the
    first ones only, so the window can show its first screenful before the whole view is read.

    The rows are read straight from the cursor: at 1,000,000 conversations peewee's row wrapper cost as much as
    the query, and ``fetchall`` held a tuple per row at once (90 MB of peak memory).
    """
    cond = _view_condition(view, now or utcnow())
    query = (
        Conversation.select(Conversation.id)
        .where(cond)
        .order_by(*(REVERSED_ORDER if reverse else DEFAULT_ORDER))
    )
    if limit is not None:
        query = query.limit(limit)
    sql, params = query.sql()
    cursor = store_db.database_proxy.execute_sql(sql, params)
    return [row[0] for row in cursor]


def running_deadlines(horizon: datetime) -> dict[int, datetime]:
    """Deadlines up to ``horizon`` (passed ones included) of the conversations whose clock runs (open and
    snoozed), from the ``(status, deadline_at)`` index: one query, however big the inbox."""
    query = (
        Conversation.select(Conversation.id, Conversation.deadline_at)
        .where(
            Conversation.status.in_([Status.OPEN.value, Status.SNOOZED.value])
            & (Conversation.deadline_at <= to_db_time(horizon))
        )
        .tuples()
    )
    return {int(row[0]): row[1] for row in query}


#: Views counted from :func:`_count_groups` (their conditions use status, account, channel and assignee only).
_GROUPED_KINDS = frozenset(
    {
        ViewKind.OPEN,
        ViewKind.PENDING,
        ViewKind.SNOOZED,
        ViewKind.CLOSED,
        ViewKind.ACCOUNT,
        ViewKind.CHANNEL,
        ViewKind.MINE,
        ViewKind.UNASSIGNED,
        ViewKind.ALL,
    }
)


def view_counts(views: Sequence[View], now: datetime | None = None) -> dict[str, int]:
    """How many conversations each view holds (what ``conversation_ids`` would list).

    A count per view read the table once per account, tag and assignment view (2.5 s at 1,000,000
    conversations, every 30 s); instead one grouped pass over the ``conversation_sidebar_counts`` index
    answers the status, account, channel and assignment views (:func:`_grouped_count` mirrors
    :func:`_view_condition` for them), one pass over the tag links the tag views, and the deadline views keep
    their own range query on ``(status, deadline_at)``.
    """
    moment = now or utcnow()
    counts: dict[str, int] = {}
    groups: list[tuple[str, int, str, str | None, int]] | None = None
    tags: dict[str, int] | None = None
    agent: str | None = None
    for view in views:
        if view.kind in _GROUPED_KINDS:
            if groups is None:
                groups = _count_groups()
                agent = str(get_setting(AGENT_NAME, "") or "")
            counts[view.key] = _grouped_count(view, groups, agent or "")
        elif view.kind is ViewKind.TAG:
            if tags is None:
                tags = _tag_counts()
            counts[view.key] = tags.get(str(view.value), 0)
        else:
            counts[view.key] = Conversation.select().where(_view_condition(view, moment)).count()
    return counts


def _count_groups() -> list[tuple[str, int, str, str | None, int]]:
    """(status, account id, channel kind, assignee, how many), read from ``conversation_sidebar_counts`` in
    its own order (grouped exactly by its columns: no sort)."""
    kinds = {int(row[0]): str(row[1]) for row in Channel.select(Channel.id, Channel.kind).tuples()}
    cursor = store_db.database_proxy.execute_sql(
        "SELECT status, account_id, channel_id, assignee, count(*) FROM conversation "
        "GROUP BY (assignee IS NULL), status, account_id, channel_id, assignee"
    )
    return [
        (str(status), int(account), kinds.get(int(channel), ""), assignee, int(n))
        for status, account, channel, assignee, n in cursor
    ]


def _grouped_count(view: View, groups: Sequence[tuple[str, int, str, str | None, int]], agent: str) -> int:
    """``view``'s count from the groups: the same conditions as :func:`_view_condition`, in Python."""
    kind = view.kind
    closed = Status.CLOSED.value
    if kind is ViewKind.OPEN:
        return sum(n for status, _a, _c, _who, n in groups if status == Status.OPEN.value)
    if kind in (ViewKind.PENDING, ViewKind.SNOOZED, ViewKind.CLOSED):
        return sum(n for status, _a, _c, _who, n in groups if status == kind.value)
    if kind is ViewKind.ACCOUNT:
        account_id = int(view.value or 0)
        return sum(n for status, a, _c, _who, n in groups if a == account_id and status != closed)
    if kind is ViewKind.CHANNEL:
        return sum(n for status, _a, c, _who, n in groups if c == view.value and status != closed)
    if kind is ViewKind.MINE:
        return sum(n for status, _a, _c, who, n in groups if who == agent and status != closed)
    if kind is ViewKind.UNASSIGNED:
        return sum(n for status, _a, _c, who, n in groups if who is None and status != closed)
    return sum(n for *_rest, n in groups)  # ViewKind.ALL


def _tag_counts() -> dict[str, int]:
    """Tag name → how many conversations carry it (a tag view lists them whatever their status)."""
    query = (
        ConversationTag.select(Tag.name, fn.COUNT(ConversationTag.conversation))
        .join(Tag)
        .group_by(Tag.name)
        .tuples()
    )
    return {str(row[0]): int(row[1]) for row in query}


def _tags_for(ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    result: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return {}
    query = (
        ConversationTag.select(ConversationTag.conversation, Tag.name)
        .join(Tag)
        .where(ConversationTag.conversation.in_(list(ids)))
        .order_by(Tag.name)
        .tuples()
    )
    for row in query:
        result[int(row[0])].append(str(row[1]))
    return {k: tuple(v) for k, v in result.items()}


_SUMMARY_FIELDS = (
    Conversation.id,
    Channel.kind,
    Channel.name,
    Account.name,
    Conversation.subject,
    Conversation.snippet,
    Conversation.customer_name,
    Conversation.order_id,
    Conversation.status,
    Conversation.language,
    Conversation.unread,
    Conversation.message_count,
    Conversation.last_message_at,
    Conversation.last_inbound_at,
    Conversation.deadline_at,
    Conversation.customer,
    Conversation.category,
    Conversation.assignee,
)

_CHUNK = 500  # SQLite's host-parameter limit is generous, but keep IN lists modest


def summaries(ids: Sequence[int]) -> dict[int, ConversationSummary]:
    """Rows for the given ids (any order; missing ids are simply absent)."""
    out: dict[int, ConversationSummary] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        tags = _tags_for(chunk)
        query = (
            Conversation.select(*_SUMMARY_FIELDS)
            .join(Channel, on=(Conversation.channel == Channel.id))
            .switch(Conversation)
            .join(Account, on=(Conversation.account == Account.id))
            .where(Conversation.id.in_(chunk))
            .tuples()
        )
        rows = list(query)
        addresses = _customer_addresses([row[15] for row in rows if not row[6] and row[15] is not None])
        for row in rows:
            out[row[0]] = ConversationSummary(
                id=row[0],
                channel_kind=row[1],
                channel_name=row[2],
                account_name=row[3],
                subject=row[4],
                snippet=row[5],
                customer_name=row[6],
                order_id=row[7],
                status=row[8],
                language=row[9],
                unread=bool(row[10]),
                message_count=row[11],
                last_message_at=row[12],
                last_inbound_at=row[13],
                deadline_at=row[14],
                tags=tags.get(row[0], ()),
                customer_address=addresses.get(row[15], "") if row[15] is not None else "",
                category=row[16],
                assignee=row[17],
            )
    return out


def _customer_addresses(customer_ids: Sequence[int]) -> dict[int, str]:
    """An address for each customer that has no name (an e-mail address first), for the list to show."""
    if not customer_ids:
        return {}
    rank = {"email": 0}
    best: dict[int, tuple[int, int, str]] = {}
    query = (
        CustomerIdentity.select(CustomerIdentity.customer, CustomerIdentity.kind, CustomerIdentity.value)
        .where(CustomerIdentity.customer.in_(sorted(set(customer_ids))))
        .order_by(CustomerIdentity.id)
        .tuples()
    )
    for order, row in enumerate(query):
        customer_id, kind, value = int(row[0]), str(row[1]), str(row[2])
        key = (rank.get(kind, 1), order, value)
        if customer_id not in best or key < best[customer_id]:
            best[customer_id] = key
    return {customer_id: key[2] for customer_id, key in best.items()}


def summary(conversation_id: int) -> ConversationSummary | None:
    return summaries([conversation_id]).get(conversation_id)


def _attachment_views(message_ids: Sequence[int], blobs: BlobStore | None) -> dict[int, list[AttachmentView]]:
    result: dict[int, list[AttachmentView]] = defaultdict(list)
    if not message_ids:
        return result
    for att in Attachment.select().where(Attachment.message.in_(list(message_ids))).order_by(Attachment.id):
        path = str(blobs.path(att.sha256)) if blobs is not None and att.sha256 else None
        result[att.message_id].append(
            AttachmentView(
                id=att.id,
                name=att.filename,
                size=att.size,
                mime_type=att.mime_type,
                path=path,
                inline=att.inline,
                content_id=att.content_id,
                remote_url=att.remote_url,
            )
        )
    return result


def detail(conversation_id: int, blobs: BlobStore | None = None) -> ConversationDetail | None:
    """The whole thread, oldest first, with notes, the customer's identities and other conversations."""
    head = summary(conversation_id)
    if head is None:
        return None
    conv = Conversation.get_by_id(conversation_id)
    msgs = list(
        Message.select().where(Message.conversation == conversation_id).order_by(Message.sent_at, Message.id)
    )
    atts = _attachment_views([m.id for m in msgs], blobs)
    unconfirmed = {  # sent message id -> its outbox row, for replies recorded as sent but unconfirmed
        int(item.sent_message_id): int(item.id)
        for item in OutboxItem.select(OutboxItem.id, OutboxItem.sent_message).where(
            (OutboxItem.conversation == conversation_id)
            & UNCONFIRMED
            & OutboxItem.sent_message.is_null(False)
        )
        if item.sent_message_id is not None
    }
    messages = tuple(
        MessageView(
            id=m.id,
            direction=m.direction,
            author_name=m.author_name,
            author_address=m.author_address,
            sent_at=m.sent_at,
            subject=m.subject,
            text=m.text_body,
            html=m.html_body,
            attachments=tuple(atts.get(m.id, ())),
            problems=tuple(m.problems or ()),
            answered_elsewhere=bool(m.is_answered),
            unconfirmed_outbox_id=unconfirmed.get(m.id),
            remote_id=m.remote_id,
            author_role=(m.extra or {}).get("author_role"),
        )
        for m in msgs
    )
    notes = tuple(
        NoteView(id=n.id, author=n.author, body=n.body, created_at=n.created_at)
        for n in Note.select().where(Note.conversation == conversation_id).order_by(Note.created_at)
    )
    identities: tuple[tuple[str, str], ...] = ()
    others: tuple[ConversationSummary, ...] = ()
    if conv.customer_id is not None:
        identities = tuple(
            (str(row[0]), str(row[1]))
            for row in CustomerIdentity.select(CustomerIdentity.kind, CustomerIdentity.value)
            .where(CustomerIdentity.customer == conv.customer_id)
            .tuples()
        )
        other_ids = [
            r[0]
            for r in Conversation.select(Conversation.id)
            .where((Conversation.customer == conv.customer_id) & (Conversation.id != conversation_id))
            .order_by(Conversation.last_message_at.desc())
            .limit(20)
            .tuples()
        ]
        found = summaries(other_ids)
        others = tuple(found[i] for i in other_ids if i in found)
    policy = policy_for_channel(conv.channel)
    return ConversationDetail(
        summary=head,
        messages=messages,
        notes=notes,
        customer_identities=identities,
        other_conversations=others,
        policy_key=policy.key,
        policy_name=policy.name,
        deadline_started_at=conv.deadline_started_at,
        no_response_needed=bool(conv.no_response_needed),
        no_response_url=conv.no_response_url,
        marketplace=conv.channel.marketplace,
        extra=dict(conv.extra or {}),
    )


def mark_unread(conversation_id: int) -> None:
    """Flag the conversation unread again (its last inbound message, so the mail sync pushes \\Seen off)."""
    last_in = (
        Message.select(Message.id)
        .where((Message.conversation == conversation_id) & (Message.direction == "in"))
        .order_by(Message.sent_at.desc())
        .first()
    )
    if last_in is not None:
        Message.update(is_read=False).where(Message.id == last_in.id).execute()
    Conversation.update(unread=True).where(Conversation.id == conversation_id).execute()


def sidebar_sources() -> tuple[list[tuple[int, str]], list[str], list[str]]:
    """Accounts (id, name), channel kinds and tag names the sidebar lists."""
    accounts = sorted(
        ((int(a.id), str(a.name)) for a in Account.select(Account.id, Account.name)),
        key=lambda pair: pair[1].casefold(),
    )
    channels = sorted({str(c.kind) for c in Channel.select(Channel.kind)})
    tags = [str(t.name) for t in Tag.select(Tag.name).order_by(Tag.name)]
    return accounts, channels, tags


def mark_read(conversation_id: int) -> None:
    if store_db.is_read_only():  # a profile opened read-only is looked at, not changed
        return
    Message.update(is_read=True).where(
        (Message.conversation == conversation_id) & (Message.is_read == False)  # noqa: E712
    ).execute()
    Conversation.update(unread=False).where(Conversation.id == conversation_id).execute()
