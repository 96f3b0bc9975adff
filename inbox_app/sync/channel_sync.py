"""The cursor loop every HTTP marketplace account runs: read the cursor → list → store → commit → publish.

One :class:`ChannelAccountSync` per account. A round reads the account's committed cursor, walks
``Channel.list_threads(cursor)`` batch by batch and hands each batch with *its* cursor to
``store.channel_threads.store_thread_batch``, which writes threads, messages and the cursor in one transaction
on the database worker (``sync.db_worker``: the UI thread never waits on SQLite). Then a ``conversations``
change event tells the views what changed. A crash at any point resumes from the last committed batch; a
batch listed twice adds nothing twice.

Errors (``channels.base``): ``AuthFailed`` marks the account "needs reconnect" (its message is shown in the
account list and the status bar) and stops its rounds until the seller reconnects; ``RateLimited`` and
``TemporarilyUnavailable`` wait — the vendor's ``Retry-After`` when it gave one, else an exponential backoff
with full jitter — and try again. Each account runs on its own, so one failing account never stalls another.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
from dataclasses import dataclass, field

from inbox_app.channels.base import (
    AuthFailed,
    Channel,
    ChannelError,
    ParticipantKind,
    RemoteMessage,
    RemoteThread,
)
from inbox_app.domain.conversations import IncomingMessage
from inbox_app.store.accounts import get_account, set_needs_reconnect
from inbox_app.store.channel_threads import (
    AttachmentRecord,
    ChannelTarget,
    MessageRecord,
    ThreadRecord,
    read_cursor,
    record_sync_error,
    store_thread_batch,
)
from inbox_app.store.models import Account
from inbox_app.sync.db_worker import run_db
from inbox_app.sync.events import ChangeBus, ChangeEvent
from inbox_app.sync.registry import ChannelRegistry

log = logging.getLogger("inbox_app.sync")

BACKOFF_BASE = 2.0
BACKOFF_MAX = 600.0


@dataclass
class ChannelSyncReport:
    new_messages: int = 0
    new_threads: int = 0
    batches: int = 0
    conversations: set[int] = field(default_factory=set)


def _author_name(message: RemoteMessage) -> str:
    author = message.author
    if author.organization and author.display_name and author.organization != author.display_name:
        return f"{author.display_name} ({author.organization})"
    return author.display_name or author.organization or ""


def message_record(message: RemoteMessage, subject: str) -> MessageRecord:
    return MessageRecord(
        message=IncomingMessage(
            direction=message.direction,
            sent_at=message.sent_at,
            text=message.body,
            html=message.html,
            author_name=_author_name(message),
            author_address=message.author.remote_id or "",
            subject=subject,
            remote_id=message.remote_id,
            recipients=tuple(p.display_name or p.kind.value for p in message.recipients),
            is_read=message.author.kind is ParticipantKind.SHOP,
            problems=message.problems,
            raw=message.raw.encode("utf-8") if message.raw else None,
        ),
        author_role=message.author.kind.value,
        attachments=tuple(
            AttachmentRecord(a.remote_id, a.name, a.size, a.mime_type) for a in message.attachments
        ),
    )


def thread_record(thread: RemoteThread) -> ThreadRecord:
    extra: dict[str, object] = {}
    if thread.offer_id:
        extra["offer_id"] = thread.offer_id
    if thread.problems:
        extra["problems"] = list(thread.problems)
    if thread.category_hint:
        extra["category_hint"] = thread.category_hint
    if thread.marketplace_reason:
        extra["marketplace_reason"] = thread.marketplace_reason
    customer = thread.customer
    return ThreadRecord(
        remote_id=thread.remote_id,
        subject=thread.subject,
        messages=tuple(message_record(m, thread.subject) for m in thread.messages),
        created_at=thread.created_at,
        order_id=thread.order_id,
        customer_key=(customer.remote_id or customer.display_name or None) if customer else None,
        customer_name=customer.display_name if customer else "",
        reply_needed_since=thread.reply_needed_since,
        no_reply_needed=thread.no_reply_needed,
        raw=thread.raw,
        extra=extra,
    )


class ChannelAccountSync:
    """Sync of one marketplace account; owns its channel (one HTTP client) until :meth:`close`."""

    def __init__(
        self,
        account: Account,
        registry: ChannelRegistry,
        *,
        bus: ChangeBus | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.account_id = account.id
        self.account_name = account.name
        self.registry = registry
        self.bus = bus or ChangeBus()
        self.target: ChannelTarget = registry.target(account)
        self._channel: Channel | None = None
        self._rng = rng or random.Random()
        self.failures = 0

    async def channel(self) -> Channel:
        if self._channel is None:
            account = await run_db(get_account, self.account_id)
            if account is None:
                raise LookupError(f"account {self.account_id} is gone")
            self._channel = self.registry.build(account)
        return self._channel

    async def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            with contextlib.suppress(Exception):
                await channel.aclose()

    async def sync_once(self, report: ChannelSyncReport | None = None) -> ChannelSyncReport:
        """One listing from the committed cursor to the end; raises the channel's typed errors."""
        report = report if report is not None else ChannelSyncReport()
        self.bus.publish(ChangeEvent("sync_started", frozenset(), self.account_id))
        listed = 0
        try:
            channel = await self.channel()
            cursor = await run_db(read_cursor, self.account_id)
            async for batch in channel.list_threads(cursor):
                listed += len(batch.threads) + len(batch.unreadable)
                # "syncing 40 of 120" in the account list (the count alone where the vendor gives no total)
                self.bus.publish(
                    ChangeEvent(
                        "progress",
                        account_id=self.account_id,
                        progress=("threads", listed, max(batch.total or 0, listed if batch.total else 0)),
                    )
                )
                records = [thread_record(t) for t in batch.threads]
                result = await run_db(
                    functools.partial(store_thread_batch, unreadable=batch.unreadable),
                    self.target,
                    records,
                    batch.cursor,
                )
                report.batches += 1
                report.new_messages += result.new_messages
                report.new_threads += result.new_threads
                report.conversations |= result.conversations
                if result.conversations:
                    self.bus.publish(
                        ChangeEvent("conversations", frozenset(result.conversations), self.account_id)
                    )
        except AuthFailed as exc:
            await run_db(set_needs_reconnect, self.account_id, exc.user_message)
            await run_db(record_sync_error, self.account_id, exc.user_message)
            self.bus.publish(ChangeEvent("needs_reconnect", frozenset(), self.account_id, exc.user_message))
            raise
        except ChannelError as exc:
            await run_db(record_sync_error, self.account_id, exc.user_message)
            raise
        self.failures = 0
        await run_db(set_needs_reconnect, self.account_id, None)
        return report

    def backoff(self, exc: BaseException) -> float:
        """How long to wait after ``exc`` before the next round: the vendor's ``Retry-After`` if it gave one
        (never shortened, a little jitter on top), else exponential with full jitter."""
        self.failures += 1
        retry_after = exc.retry_after if isinstance(exc, ChannelError) else None
        if retry_after is not None:
            return retry_after + self._rng.uniform(0.0, max(0.1, retry_after * 0.1))
        ceiling = min(BACKOFF_MAX, BACKOFF_BASE * (2 ** (self.failures - 1)))
        return self._rng.uniform(ceiling / 2, ceiling)
