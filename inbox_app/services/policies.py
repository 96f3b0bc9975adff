"""Response-deadline policies: the stored policies, which channel uses which, and recomputing deadlines.

Why recomputing lives here: after a policy or an assignment changes, the deadlines of the affected running
conversations must follow. That is many small writes, so the settings dialog runs :func:`recompute_deadlines`
on a worker thread, batch by batch, and reports progress.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inbox_app.domain.deadlines import PRESETS, DeadlinePolicy
from inbox_app.store import ingest
from inbox_app.store import policies as store_policies
from inbox_app.store.db import database_proxy
from inbox_app.store.models import Conversation, DeadlinePolicyRow
from inbox_app.store.policies import ChannelPolicy, PolicyChoice

__all__ = [
    "ChannelPolicy",
    "PolicyChoice",
    "StoredPolicy",
    "assign_policies",
    "channel_policy_rows",
    "close_thread_connection",
    "office_policy",
    "policy_choices",
    "policy_for_conversation",
    "recompute_deadlines",
    "running_conversation_ids",
    "save_policy",
    "stored_policies",
    "stored_policy",
]

log = logging.getLogger("inbox_app.services")

RECOMPUTE_BATCH = 100


@dataclass(frozen=True)
class StoredPolicy:
    """A policy row as stored: ``definition`` is ``DeadlinePolicy.to_dict()`` (it may be damaged)."""

    id: int
    key: str
    name: str
    definition: dict[str, Any]


def _stored(row: DeadlinePolicyRow) -> StoredPolicy:
    return StoredPolicy(int(row.id), str(row.key), str(row.name), dict(row.definition or {}))


def stored_policies() -> list[StoredPolicy]:
    """Every stored policy, by name."""
    return [_stored(row) for row in DeadlinePolicyRow.select().order_by(DeadlinePolicyRow.name)]


def stored_policy(policy_id: int) -> StoredPolicy | None:
    row = DeadlinePolicyRow.get_or_none(id=policy_id)
    return None if row is None else _stored(row)


def save_policy(policy_id: int, policy: DeadlinePolicy) -> bool:
    """Store an edited policy under its row; the caller then recomputes the running deadlines."""
    row = DeadlinePolicyRow.get_or_none(id=policy_id)
    if row is None:
        return False
    row.name = policy.name
    row.definition = policy.to_dict()
    row.save()
    ingest.clear_policy_cache()
    return True


def policy_choices() -> list[PolicyChoice]:
    return store_policies.policy_choices()


def channel_policy_rows() -> list[ChannelPolicy]:
    return store_policies.channel_policy_rows()


def assign_policies(choices: Mapping[int, str | None]) -> list[int]:
    """Give channels their chosen policies; returns the channels whose policy changed."""
    changed = [
        channel_id for channel_id, key in choices.items() if store_policies.assign_policy(channel_id, key)
    ]
    ingest.clear_policy_cache()
    return changed


def running_conversation_ids(channel_ids: Sequence[int]) -> list[int]:
    """Open and snoozed conversations of these channels: the ones whose deadline a policy change moves."""
    return store_policies.running_conversation_ids(channel_ids)


def office_policy() -> DeadlinePolicy:
    """The seller's opening hours, for "next business hour": the e-mail policy (user-editable)."""
    row = DeadlinePolicyRow.get_or_none(DeadlinePolicyRow.key == "email")
    if row is not None:
        try:
            return DeadlinePolicy.from_dict(row.definition)
        except ValueError:
            log.warning("the stored e-mail deadline policy is malformed; using the preset")
    return PRESETS["email"]


def policy_for_conversation(conversation_id: int) -> DeadlinePolicy | None:
    """The policy a conversation's channel uses, or None when the conversation is gone."""
    conv = Conversation.get_or_none(id=conversation_id)
    return None if conv is None else ingest.policy_for_channel(conv.channel)


def recompute_deadlines(
    ids: Sequence[int],
    *,
    progress: Callable[[int, int], object] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> None:
    """Recompute the deadlines of ``ids`` in batches (one transaction each), reporting ``progress(done, total)``.

    Stops between batches when ``cancelled()`` says so. Run it off the UI thread, then
    :func:`close_thread_connection` on that thread.
    """
    db = database_proxy.obj
    total = len(ids)
    for start in range(0, total, RECOMPUTE_BATCH):
        if cancelled is not None and cancelled():
            break
        with db.atomic():
            for conv_id in ids[start : start + RECOMPUTE_BATCH]:
                conv = Conversation.get_or_none(id=conv_id)  # a primary-key read: microseconds
                if conv is not None:
                    ingest.refresh_conversation(conv)
        if progress is not None:
            progress(min(start + RECOMPUTE_BATCH, total), total)


def close_thread_connection() -> None:
    """Close this thread's database connection (peewee keeps one per thread); for worker threads."""
    database_proxy.obj.close()
