"""Actions the marketplace must hear about (the seller read or closed a conversation here), kept until done.

Why a table: reading a conversation in the app is instant and works offline; telling eBay or Allegro "read"
(or Kaufland "closed") needs the network. So the action is written here first, in the same moment, and the
sync engine (``sync.remote_actions``) performs it when it can — after a restart too — retrying with backoff.
One pending row per conversation and action: reading a conversation five times asks the marketplace once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import peewee

from inbox_app.store.accounts import is_api_account
from inbox_app.store.db import BaseModel
from inbox_app.store.models import Account, Conversation, UtcDateTimeField, utcnow


class RemoteActionKind(StrEnum):
    MARK_READ = "mark_read"
    CLOSE = "close"


class RemoteAction(BaseModel):
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    account_id: int
    conversation = peewee.ForeignKeyField(Conversation, on_delete="CASCADE")
    conversation_id: int
    thread_id = peewee.TextField()  # the marketplace's id of the thread (Conversation.remote_id)
    action = peewee.TextField()  # RemoteActionKind
    created_at = UtcDateTimeField(default=utcnow)
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = UtcDateTimeField(default=utcnow)
    last_error = peewee.TextField(null=True)

    class Meta:
        table_name = "remote_action"
        indexes = ((("conversation", "action"), True), (("account", "next_attempt_at"), False))


@dataclass(frozen=True)
class PendingAction:
    id: int
    account_id: int
    conversation_id: int
    thread_id: str
    action: RemoteActionKind
    attempts: int


def queue_remote_action(conversation_id: int, action: RemoteActionKind) -> bool:
    """Remember that the marketplace must be told ``action`` for this conversation; True when queued.

    Only marketplace conversations with a thread id are queued (mail keeps its flags on the IMAP server, the
    demo has nowhere to send them); a pending identical action stays as it is.
    """
    row: Any = (
        Conversation.select(Conversation.id, Conversation.remote_id, Conversation.account)
        .where(Conversation.id == conversation_id)
        .first()
    )
    if row is None or not row.remote_id:
        return False
    account = Account.get_or_none(Account.id == row.account_id)
    if account is None or not is_api_account(account):
        return False
    RemoteAction.insert(
        account=row.account_id,
        conversation=conversation_id,
        thread_id=str(row.remote_id),
        action=action.value,
    ).on_conflict_ignore().execute()
    return True


def withdraw_remote_action(conversation_id: int, action: RemoteActionKind) -> int:
    """The seller changed their mind before the marketplace was told (reopened, marked unread, undid the
    close): the pending action goes. Returns how many were withdrawn (0 or 1)."""
    return int(
        RemoteAction.delete()
        .where((RemoteAction.conversation == conversation_id) & (RemoteAction.action == action.value))
        .execute()
    )


def _pending(row: RemoteAction) -> PendingAction:
    """A stored row as what the sync and the tests read."""
    return PendingAction(
        int(row.id),
        row.account_id,
        row.conversation_id,
        str(row.thread_id),
        RemoteActionKind(row.action),
        row.attempts,
    )


def due_actions(account_id: int, now: datetime | None = None, limit: int = 50) -> list[PendingAction]:
    """The account's actions whose time has come, oldest first."""
    query = (
        RemoteAction.select()
        .where((RemoteAction.account == account_id) & (RemoteAction.next_attempt_at <= (now or utcnow())))
        .order_by(RemoteAction.id)
        .limit(limit)
    )
    return [_pending(r) for r in query]


def has_due_actions(account_id: int, now: datetime | None = None) -> bool:
    return bool(
        RemoteAction.select()
        .where((RemoteAction.account == account_id) & (RemoteAction.next_attempt_at <= (now or utcnow())))
        .exists()
    )


def finish_action(action_id: int) -> None:
    """Done (or dropped): the row goes."""
    RemoteAction.delete().where(RemoteAction.id == action_id).execute()


def postpone_action(action_id: int, error: str, next_attempt_at: datetime) -> None:
    RemoteAction.update(
        attempts=RemoteAction.attempts + 1, last_error=error, next_attempt_at=next_attempt_at
    ).where(RemoteAction.id == action_id).execute()


def pending_actions(conversation_id: int | None = None) -> list[PendingAction]:
    """Every action still waiting (optionally of one conversation), oldest first (tests, support)."""
    query = RemoteAction.select().order_by(RemoteAction.id)
    if conversation_id is not None:
        query = query.where(RemoteAction.conversation == conversation_id)
    return [_pending(r) for r in query]
