"""Which response-deadline policy each channel uses: read the assignments, change one.

Why a module of its own: a channel normally follows its preset (``domain.deadlines.preset_for``), but a seller
may know better (a Mirakl operator that grants 48 h, a shop mailbox with its own promise). The assignment is
``Channel.policy``; changing it must also forget the resolved policies cached by ``store.ingest``, and the
caller then recomputes the deadlines of :func:`running_conversation_ids` (the settings dialog does that on a
worker thread). The UI reads and writes assignments only through these functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import peewee

from inbox_app.domain import deadlines
from inbox_app.store import ingest
from inbox_app.store.models import Account, Channel, Conversation, DeadlinePolicyRow

__all__ = [
    "ChannelPolicy",
    "PolicyChoice",
    "assign_policy",
    "channel_policy_rows",
    "policy_choices",
    "running_conversation_ids",
]

#: Statuses whose deadline keeps running (and so must be recomputed when the policy changes).
_RUNNING_STATUSES = ("open", "snoozed")


@dataclass(frozen=True)
class PolicyChoice:
    """A stored policy a channel can be given. ``name`` is English source text: translate it for display."""

    key: str
    name: str


@dataclass(frozen=True)
class ChannelPolicy:
    """One channel and its policy: ``policy_key`` is ``None`` when it follows its preset (``default_name``)."""

    channel_id: int
    account_id: int
    account_name: str
    channel_kind: str
    channel_name: str
    marketplace: str | None
    policy_key: str | None
    default_name: str


def policy_choices() -> list[PolicyChoice]:
    """Every stored policy, by name."""
    rows = DeadlinePolicyRow.select(DeadlinePolicyRow.key, DeadlinePolicyRow.name).order_by(
        DeadlinePolicyRow.name
    )
    return [PolicyChoice(str(row.key), str(row.name)) for row in rows]


def _default_name(channel: Channel) -> str:
    try:
        return deadlines.preset_for(str(channel.kind), channel.marketplace).name
    except ValueError:  # a channel kind without a preset (should not happen): say nothing rather than fail
        return ""


def _key_of(row: DeadlinePolicyRow | None) -> str | None:
    return None if row is None else str(row.key)


def channel_policy_rows() -> list[ChannelPolicy]:
    """Every channel with its account and assigned policy, ordered by account then channel name."""
    query = (
        Channel.select(Channel, Account, DeadlinePolicyRow)
        .join(Account)
        .switch(Channel)
        .join(
            DeadlinePolicyRow, join_type=peewee.JOIN.LEFT_OUTER, on=(Channel.policy == DeadlinePolicyRow.id)
        )
    )
    rows = [
        ChannelPolicy(
            channel_id=int(channel.id),
            account_id=int(channel.account.id),
            account_name=str(channel.account.name),
            channel_kind=str(channel.kind),
            channel_name=str(channel.name),
            marketplace=channel.marketplace,
            policy_key=_key_of(channel.policy),
            default_name=_default_name(channel),
        )
        for channel in query
    ]
    rows.sort(key=lambda r: (r.account_name.casefold(), r.channel_name.casefold(), r.channel_id))
    return rows


def assign_policy(channel_id: int, policy_key: str | None) -> bool:
    """Give a channel a stored policy (``None``: back to its preset). Returns whether anything changed.

    Raises ``KeyError`` for an unknown channel or policy key. Clears the policy cache when something changed;
    the caller recomputes the deadlines of :func:`running_conversation_ids`.
    """
    channel = Channel.get_or_none(Channel.id == channel_id)
    if channel is None:
        raise KeyError(f"no channel {channel_id}")
    policy_id: int | None = None
    if policy_key is not None:
        row = DeadlinePolicyRow.get_or_none(DeadlinePolicyRow.key == policy_key)
        if row is None:
            raise KeyError(f"no deadline policy {policy_key!r}")
        policy_id = int(row.id)
    if channel.policy_id == policy_id:
        return False
    Channel.update(policy=policy_id).where(Channel.id == channel_id).execute()
    ingest.clear_policy_cache()
    return True


def running_conversation_ids(channel_ids: Iterable[int]) -> list[int]:
    """Open and snoozed conversations of these channels: the ones whose deadline a policy change moves."""
    wanted = list(channel_ids)
    if not wanted:
        return []
    query = (
        Conversation.select(Conversation.id)
        .where(Conversation.channel.in_(wanted) & Conversation.status.in_(_RUNNING_STATUSES))
        .order_by(Conversation.id)
    )
    return [int(conv.id) for conv in query]
