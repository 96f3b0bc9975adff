"""The collision check before send: has the thread changed since the seller began this reply?

Right before a claimed reply is transmitted (nothing of it has left yet), the conversation is refreshed from
its channel and compared with what the seller had seen when the draft was begun (``OutboxItem.seen_message_id``,
``draft_started_at``). When the customer wrote again, or a reply went out from elsewhere (another workstation,
webmail, the marketplace's back office), the reply is *held* (``store.outbox_holds.hold``) instead of sent,
with what changed, until the seller chooses Send anyway, Edit or Discard. A held reply never leaves by itself.

* Mail: the store's messages after the one seen, plus what the server has that the store may not yet: mail
  from the customer's address in the inbox folders, and replies in Sent to the same message (In-Reply-To or
  References) other than this one, since a day before the draft began (SEARCH SINCE is by date).
* Marketplaces: the whole thread is fetched (``Channel.fetch_thread``) and stored like a sync would store it,
  then the store's messages after the one seen are the changes (the seller sees them in the thread too).

A row without ``seen_message_id`` (queued by a version before the check) is not checked.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from inbox_app.channels.base import Channel
from inbox_app.channels.mail.imap import HeaderInfo, ImapConnection
from inbox_app.store.accounts import mail_settings
from inbox_app.store.channel_threads import ChannelTarget, store_thread_batch
from inbox_app.store.models import Account, Conversation, OutboxItem
from inbox_app.store.outbox_holds import change, known_remote_ids, stored_changes
from inbox_app.sync.channel_sync import thread_record
from inbox_app.sync.db_worker import run_db

log = logging.getLogger("inbox_app.sync")

#: The SyncState key under which a refreshed thread's id is written (``store_thread_batch`` commits a cursor
#: with every batch; the listing's own cursor must not move for a single thread).
REFRESH_CURSOR_KEY = "__collision_refresh__"


def needs_check(item: OutboxItem) -> bool:
    return item.seen_message_id is not None


async def mail_changes(item: OutboxItem, account: Account, imap: ImapConnection) -> list[dict[str, Any]]:
    """What changed in a mail conversation since the reply was begun (empty: send it). Raises ``MailError``
    when the server cannot be asked (the caller keeps the reply queued: unchecked is never sent)."""
    changes = stored_changes(item)
    started = item.draft_started_at or item.created_at
    since = (started - timedelta(days=1)).date()
    found: list[tuple[str, HeaderInfo]] = []
    customer = next((str(r) for r in item.recipients or [] if r), "")
    if customer:
        for folder in mail_settings(account).folders or ("INBOX",):
            for header in await imap.search_fields(folder, ["FROM", customer, "SINCE", since]):
                found.append(("customer_wrote", header))
    sent_folder = await imap.find_sent_folder() if item.in_reply_to else None
    if sent_folder and item.in_reply_to:
        criteria = ["OR", "HEADER", "In-Reply-To", item.in_reply_to, "HEADER", "References", item.in_reply_to]
        for header in await imap.search_fields(sent_folder, [*criteria, "SINCE", since]):
            found.append(("answered_elsewhere", header))
    ids = [h.message_id for _kind, h in found if h.message_id]
    known = known_remote_ids(item, ids) | {c["remote_id"] for c in changes} | {item.message_id}
    for kind, header in found:
        if header.message_id in known or header.message_id is None:
            continue
        known.add(header.message_id)
        who = header.from_name or header.from_address
        changes.append(
            change(kind, who=who, at=header.date or header.internaldate, remote_id=header.message_id)
        )
    if changes:
        log.info("outbox item %s: the thread changed since the reply was begun: %s", item.id, changes)
    return changes


async def channel_changes(item: OutboxItem, channel: Channel) -> list[dict[str, Any]]:
    """What changed in a marketplace thread since the reply was begun, after storing the vendor's whole
    thread. Raises the channel's typed errors when it cannot be fetched (the reply stays queued)."""
    conversation = Conversation.get_by_id(item.conversation_id)
    # The thread the reply goes to (as ``channel_delivery`` addresses it).
    thread = await channel.fetch_thread(str(item.in_reply_to or conversation.remote_id))
    row = conversation.channel
    target = ChannelTarget(
        account_id=conversation.account_id, kind=row.kind, name=row.name, marketplace=row.marketplace
    )
    await run_db(
        lambda: store_thread_batch(
            target, [thread_record(thread)], thread.remote_id, cursor_key=REFRESH_CURSOR_KEY
        )
    )
    changes = stored_changes(OutboxItem.get_by_id(item.id))
    if changes:
        log.info("outbox item %s: the thread changed since the reply was begun: %s", item.id, changes)
    return changes


__all__ = ["channel_changes", "mail_changes", "needs_check"]
