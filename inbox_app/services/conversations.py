"""Conversations for the views: ids of a view or a search, counts, summaries, a thread, and what the seller
does to a conversation (read, unread, status, snooze, "no response needed")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inbox_app.domain.conversations import ConversationDetail, ConversationSummary, Status
from inbox_app.domain.views import View, ViewKind
from inbox_app.services.search import search_ids as search_with_filters
from inbox_app.store import conversations as store_conversations
from inbox_app.store import db as store_db
from inbox_app.store import ingest, search
from inbox_app.store.blobs import BlobStore
from inbox_app.store.models import Channel, Conversation
from inbox_app.store.remote_actions import RemoteActionKind, queue_remote_action, withdraw_remote_action

#: How many conversations a search returns at most (the store's limit).
MAX_SEARCH_RESULTS = search.MAX_RESULTS


@dataclass(frozen=True)
class ConversationState:
    """What a status change needs to know about a conversation (and to undo it)."""

    id: int
    status: str
    snoozed_until: datetime | None
    channel_kind: str
    channel_name: str
    deadline_started_at: datetime | None
    deadline_at: datetime | None


def conversation_ids(
    view: View, now: datetime | None = None, limit: int | None = None, *, reverse: bool = False
) -> list[int]:
    """The ids of a view, in list order (``reverse``: from the end); with ``limit``, the first ones only."""
    return store_conversations.conversation_ids(view, now, limit, reverse=reverse)


def search_ids(text: str, limit: int | None = None, now: datetime | None = None) -> list[int]:
    """The ids of the conversations matching a search text with its filters, best first (see
    ``domain.search_query``); raises ``SearchQueryError`` when the text is malformed."""
    return search_with_filters(text, now=now, limit=limit)


def view_counts(views: Sequence[View], now: datetime | None = None) -> dict[str, int]:
    """View key → how many conversations it holds."""
    return store_conversations.view_counts(views, now)


def summaries(ids: Sequence[int]) -> dict[int, ConversationSummary]:
    """The list lines of ``ids`` (ids that no longer exist are missing from the result)."""
    return store_conversations.summaries(ids)


def summary(conversation_id: int) -> ConversationSummary | None:
    return store_conversations.summary(conversation_id)


def detail(conversation_id: int, blobs: BlobStore | None = None) -> ConversationDetail | None:
    """A whole thread with its messages and attachments (paths under ``blobs``), or None."""
    return store_conversations.detail(conversation_id, blobs)


def marketplaces(ids: Sequence[int]) -> dict[int, str | None]:
    """Each conversation's marketplace (not part of the list summary), in one query per 500 ids."""
    result: dict[int, str | None] = {}
    conversation_id: Any = Conversation.id  # peewee's auto primary key is not typed as a field
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        query: Any = (
            Conversation.select(conversation_id, Channel.marketplace)
            .join(Channel, on=(Conversation.channel == Channel.id))
            .where(conversation_id.in_(chunk))
            .tuples()
        )
        result.update((int(row[0]), row[1]) for row in query)
    return result


def running_ids() -> list[int]:
    """Conversations whose deadline can run (open and snoozed)."""
    return conversation_ids(View(ViewKind.OPEN)) + conversation_ids(View(ViewKind.SNOOZED))


def sidebar_sources() -> tuple[list[tuple[int, str]], list[str], list[str]]:
    """Accounts (id, name), channel kinds and tag names the sidebar lists."""
    return store_conversations.sidebar_sources()


def mark_read(conversation_id: int) -> None:
    """Read here; a marketplace conversation is marked read there too, by the sync engine when it can."""
    store_conversations.mark_read(conversation_id)
    if not store_db.is_read_only():
        queue_remote_action(conversation_id, RemoteActionKind.MARK_READ)


def mark_unread(conversation_id: int) -> None:
    store_conversations.mark_unread(conversation_id)
    if not store_db.is_read_only():  # not told "read" yet: it never will be
        withdraw_remote_action(conversation_id, RemoteActionKind.MARK_READ)


def state(conversation_id: int) -> ConversationState | None:
    """The status facts of one conversation, or None when it does not exist (any more)."""
    conv = Conversation.get_or_none(id=conversation_id)
    if conv is None:
        return None
    return ConversationState(
        id=conversation_id,
        status=str(conv.status),
        snoozed_until=conv.snoozed_until,
        channel_kind=str(conv.channel.kind),
        channel_name=str(conv.channel.name),
        deadline_started_at=conv.deadline_started_at,
        deadline_at=conv.deadline_at,
    )


def set_status(
    conversation_id: int, status: Status, snoozed_until: datetime | None = None, *, actor: str = ""
) -> bool:
    """Apply a status (logged as an event); ``snoozed_until`` goes with SNOOZED. False when it is gone."""
    conv = Conversation.get_or_none(id=conversation_id)
    if conv is None:
        return False
    if status is Status.SNOOZED:
        conv.snoozed_until = snoozed_until
    ingest.set_status(conv, status, actor=actor)
    if status is Status.SNOOZED:
        conv.save()
    # Kaufland closes the ticket too (where the channel can; see sync.remote_actions); reopened (or the close
    # undone) before the marketplace was told, it never will be.
    if status is Status.CLOSED:
        queue_remote_action(conversation_id, RemoteActionKind.CLOSE)
    else:
        withdraw_remote_action(conversation_id, RemoteActionKind.CLOSE)
    return True


def mark_no_response_needed(conversation_id: int, *, actor: str = "") -> bool:
    """The marketplace was told "no response needed": stop our clock too. False when it is gone."""
    conv = Conversation.get_or_none(id=conversation_id)
    if conv is None:
        return False
    ingest.mark_no_response_needed(conv, actor=actor)
    return True


def upcoming_deadlines(horizon: datetime) -> dict[int, datetime]:
    """Deadlines of conversations that still owe an answer, up to ``horizon`` (overdue ones included)."""
    return store_conversations.running_deadlines(horizon)
