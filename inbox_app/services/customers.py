"""A customer's history across channels and accounts, and merging or splitting customers by hand.

See ``store.customers`` for how conversations are linked. Merge and split return records the caller keeps to
undo them (the window's Ctrl+Z).
"""

from __future__ import annotations

from typing import Any

from inbox_app.store import customers as store_customers
from inbox_app.store.customers import (
    CustomerChoice,
    CustomerHistory,
    LinkedConversation,
    MergeRecord,
    SplitRecord,
)

__all__ = [
    "CustomerChoice",
    "CustomerHistory",
    "LinkedConversation",
    "MergeRecord",
    "SplitRecord",
    "find_customers",
    "history",
    "linked_json",
    "merge",
    "other_conversations_json",
    "split_off",
    "undo_merge",
    "undo_split",
]


def history(conversation_id: int) -> CustomerHistory | None:
    """The conversation's customer with every conversation of theirs, newest first (itself included)."""
    return store_customers.history(conversation_id)


def find_customers(text: str, *, exclude: int | None = None) -> list[CustomerChoice]:
    """Customers to merge with: name or an address/user id containing ``text``."""
    return store_customers.find_customers(text, exclude=exclude)


def merge(kept_id: int, removed_id: int) -> MergeRecord | None:
    """One customer from two: ``removed_id``'s identities and conversations go to ``kept_id``."""
    return store_customers.merge(kept_id, removed_id)


def undo_merge(record: MergeRecord) -> None:
    store_customers.unmerge(record)


def split_off(conversation_id: int) -> SplitRecord | None:
    """ "Not the same customer": the conversation (and what was written from the same addresses) gets its own."""
    return store_customers.split_off(conversation_id)


def undo_split(record: SplitRecord) -> None:
    store_customers.unsplit(record)


def linked_json(conversation: LinkedConversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "channel": conversation.channel_kind,
        "channel_name": conversation.channel_name,
        "account": conversation.account_name,
        "subject": conversation.subject,
        "order_id": conversation.order_id,
        "status": conversation.status,
        "category": conversation.category,
        "linked_by": conversation.linked_by,
        "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
    }


def other_conversations_json(conversation_id: int) -> list[dict[str, Any]]:
    """``show --json``'s ``other_conversations``: the customer's other conversations across channels."""
    found = history(conversation_id)
    if found is None:
        return []
    return [linked_json(c) for c in found.conversations if c.id != conversation_id]
