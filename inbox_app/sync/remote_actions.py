"""Telling the marketplace what the seller did here: "read" (eBay, Allegro) or "closed" (Kaufland).

The actions wait in the store (``store.remote_actions``, written the moment the seller reads or closes); the
engine calls :func:`perform_due` for an account after each listing and whenever one becomes due. Per action:

* the channel cannot do it (``ChannelCapabilities``: Mirakl has neither) → dropped, with a log line;
* done → the row goes; the thread is gone or the vendor refuses it (``RemoteNotFound``, ``RejectedInput``,
  ``Unsupported``) → dropped with a log line: asking again would get the same answer;
* rate limited, down, unreachable → postponed with exponential backoff and jitter (the vendor's Retry-After
  when given), and the account's other actions wait for the next round too;
* the key refused (``AuthFailed``) → raised: it is the account's problem, shown as "needs reconnect".
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from inbox_app.channels.base import (
    AuthFailed,
    Channel,
    ChannelError,
    RateLimited,
    TemporarilyUnavailable,
)
from inbox_app.store.models import utcnow
from inbox_app.store.remote_actions import (
    PendingAction,
    RemoteActionKind,
    due_actions,
    finish_action,
    postpone_action,
)
from inbox_app.sync.db_worker import run_db

log = logging.getLogger("inbox_app.sync")

BACKOFF_BASE = 30.0  # s before the first retry
BACKOFF_MAX = 6 * 3600.0


@dataclass
class ActionsReport:
    done: int = 0
    dropped: int = 0
    postponed: int = 0


def _supported(channel: Channel, action: RemoteActionKind) -> bool:
    caps = channel.capabilities
    return caps.mark_read if action is RemoteActionKind.MARK_READ else caps.close_thread


def retry_delay(attempts: int, exc: ChannelError, rng: random.Random | None = None) -> float:
    """Seconds until the next try after ``attempts`` failed ones: Retry-After if given, else exponential with
    jitter (half to all of the ceiling)."""
    if exc.retry_after is not None:
        return exc.retry_after
    ceiling = min(BACKOFF_MAX, BACKOFF_BASE * 2**attempts)
    return (rng or random).uniform(ceiling / 2, ceiling)


async def _perform(channel: Channel, action: PendingAction) -> None:
    if action.action is RemoteActionKind.MARK_READ:
        await channel.mark_read(action.thread_id)
    else:
        await channel.close_thread(action.thread_id)


async def perform_due(account_id: int, channel: Channel) -> ActionsReport:
    """Perform the account's due actions; see the module docstring. Raises ``AuthFailed``."""
    report = ActionsReport()
    for action in await run_db(due_actions, account_id):
        if not _supported(channel, action.action):
            log.info(
                "%s cannot %s: dropped the action for conversation %s",
                channel.name,
                action.action.value,
                action.conversation_id,
            )
            await run_db(finish_action, action.id)
            report.dropped += 1
            continue
        try:
            await _perform(channel, action)
        except AuthFailed:
            raise
        except (RateLimited, TemporarilyUnavailable) as exc:
            delay = retry_delay(action.attempts, exc)
            log.info(
                "%s on %s of conversation %s: next try in %.0f s",
                exc.detail or type(exc).__name__,
                action.action.value,
                action.conversation_id,
                delay,
            )
            await run_db(postpone_action, action.id, exc.user_message, utcnow() + timedelta(seconds=delay))
            report.postponed += 1
            break  # the vendor is unwell: the account's other actions wait for the next round
        except ChannelError as exc:
            log.warning(
                "%s refused to %s conversation %s (%s): dropped",
                channel.name,
                action.action.value,
                action.conversation_id,
                exc.detail or exc.user_message,
            )
            await run_db(finish_action, action.id)
            report.dropped += 1
            continue
        await run_db(finish_action, action.id)
        report.done += 1
    return report
