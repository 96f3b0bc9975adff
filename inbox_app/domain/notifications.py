"""When to raise a desktop notification about a deadline: the pure decision, apart from the tray icon.

Why separate: notifications are only worth having if they are rare and right. "Once per conversation per
deadline, a set time before the breach" is easy to get wrong (a notification every minute, or none after the
deadline moves); keeping the rule here makes it testable without a desktop.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

Notified = tuple[int, datetime]


def due_notifications(
    deadlines: Mapping[int, datetime],
    already: set[Notified],
    now: datetime,
    before: timedelta,
) -> list[int]:
    """Conversation ids to notify now, soonest deadline first.

    A conversation is due when its deadline is still ahead but within ``before`` (``now < deadline <= now +
    before``) and ``(id, deadline)`` is not in ``already``: a new deadline (the customer wrote again) gets a
    new notification, the same one never twice. Deadlines already passed are not notified (the overdue badge
    shows them); the caller adds what it showed to ``already``.
    """
    if before < timedelta(0):
        raise ValueError("before must not be negative")
    horizon = now + before
    due = [
        (deadline, conv_id)
        for conv_id, deadline in deadlines.items()
        if now < deadline <= horizon and (conv_id, deadline) not in already
    ]
    due.sort()
    return [conv_id for _deadline, conv_id in due]


def overdue_count(deadlines: Mapping[int, datetime], now: datetime) -> int:
    """How many of ``deadlines`` have passed (the tray badge)."""
    return sum(1 for deadline in deadlines.values() if deadline <= now)


def prune_notified(already: set[Notified], deadlines: Mapping[int, datetime]) -> set[Notified]:
    """Forget notifications whose deadline no longer exists, so the set does not grow for ever."""
    return {(conv_id, at) for conv_id, at in already if deadlines.get(conv_id) == at}
