"""Deliver due outbox rows over SMTP, exactly once as far as the protocols allow.

Per row, each step committed before the network call that follows it (``store.outbox.DeliveryStep``):
claim it (``sending``/``claimed``) → build the message (its Message-ID was fixed when queued) → SMTP envelope →
``submitting`` → DATA → on the server's 250, ``accepted`` → APPEND the same bytes to Sent (``\\Seen``) → record
(``sent``, the outbound message in the conversation, which stops the deadline clock; ``closed`` if asked) in
one transaction → ``\\Answered`` on the original.

One process at a time: a row is delivered only by the process that won its claim (``store.outbox.claim``, a
compare-and-set in the database); a ``sending`` row of another process is left alone while that process lives
(``sync.ownership.owner_alive``), however many copies of the app run on the profile.

Crash safety: a ``sending`` row whose owner is gone means that run died mid-delivery. It is taken over
(``store.outbox.take_over``, compare-and-set on the dead owner) and settled. First the Sent folder is
searched for its Message-ID: found, the mail went out and is only recorded. Otherwise the step decides:

* ``claimed`` (or no step: a row from before schema v3): nothing was transmitted, so it is sent now;
* ``accepted``: the server took it; the copy is APPENDed to Sent and the reply recorded, never sent again;
* ``submitting``: the app died while transmitting, so the server may or may not have it. It is recorded as
  sent but *unconfirmed* (``last_error`` says so, an event records it) and not resent automatically.

The connection breaking right after the whole message was transmitted (no reply to DATA) is the same
ambiguity and handled the same way. Both trade a rare lost reply, flagged to the seller, against a duplicate
to the buyer on every crash or flaky link. What is left unguarded is the instant between the server's 250 and
the commit of ``accepted`` (one small UPDATE): a crash exactly there reads as ``submitting``, so unconfirmed.

``INBOX_APP_TEST_CRASH_AT`` (test-only hook): ``after_claim``, ``before_data``, ``after_accept``, ``after_smtp``
or ``after_append`` kills this process with SIGKILL at that point so the crash tests can prove the above
against real servers.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime

from inbox_app.channels.mail import errors as mail_errors
from inbox_app.channels.mail.compose import build_reply
from inbox_app.channels.mail.errors import MailError, SendFailed
from inbox_app.channels.mail.imap import ImapConnection
from inbox_app.channels.mail.smtp import SmtpSettings, send_raw
from inbox_app.domain.conversations import Direction, IncomingMessage, Status
from inbox_app.i18n import _
from inbox_app.store import outbox, outbox_holds
from inbox_app.store.accounts import mail_settings
from inbox_app.store.blobs import BlobStore
from inbox_app.store.db import database_proxy
from inbox_app.store.events import EventKind, log_event
from inbox_app.store.ingest import add_message, set_status
from inbox_app.store.mail_models import MailStore
from inbox_app.store.models import Account, Conversation, Message, OutboxItem, SyncState
from inbox_app.sync import collisions
from inbox_app.sync.events import ChangeBus, ChangeEvent
from inbox_app.sync.ownership import owner_alive, process_token

log = logging.getLogger("inbox_app.sync")

CRASH_ENV = "INBOX_APP_TEST_CRASH_AT"
SENT_FLAGS = ("\\Seen",)


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)  # found in Sent after a crash: recorded, not resent
    retry: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    unconfirmed: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)  # the thread changed since the reply was begun (collisions)
    offline: bool = False
    conversations: set[int] = field(default_factory=set)


def _test_crash(point: str) -> None:
    """Test-only: die here without any cleanup when ``INBOX_APP_TEST_CRASH_AT`` names this point."""
    if os.environ.get(CRASH_ENV) == point:
        log.warning("test hook %s=%s: killing the process", CRASH_ENV, point)
        os.kill(os.getpid(), signal.SIGKILL)


def _sent_folder_of(account: Account) -> str | None:
    state = SyncState.get_or_none((SyncState.account == account.id) & (SyncState.key == "__sent_folder__"))
    return str(state.cursor.get("name")) if state is not None and state.cursor.get("name") else None


async def find_sent_folder(account: Account, imap: ImapConnection) -> str | None:
    cached = _sent_folder_of(account)
    if cached:
        return cached
    name = await imap.find_sent_folder()
    if name:
        SyncState.insert(account=account.id, key="__sent_folder__", cursor={"name": name}).on_conflict(
            conflict_target=[SyncState.account, SyncState.key], update={SyncState.cursor: {"name": name}}
        ).execute()
    return name


def _attachments(item: OutboxItem, blobs: BlobStore) -> list[tuple[str, str, bytes]]:
    result: list[tuple[str, str, bytes]] = []
    for entry in item.attachments or []:
        sha = str(entry.get("sha256", ""))
        name = str(entry.get("name") or entry.get("filename") or "attachment")
        mime = str(entry.get("mime_type") or "application/octet-stream")
        result.append((name, mime, blobs.read(sha)))
    return result


def build_item(item: OutboxItem, account: Account, blobs: BlobStore) -> bytes:
    settings = mail_settings(account)
    return build_reply(
        from_addr=settings.from_address,
        from_name=settings.from_name,
        to=list(item.recipients or []),
        subject=item.subject,
        body_text=item.body,
        in_reply_to=item.in_reply_to,
        references=list(item.references or []),
        message_id=item.message_id,
        attachments=_attachments(item, blobs),
    )


def record_sent(
    item: OutboxItem, account: Account, raw: bytes | None, *, unconfirmed: str | None = None
) -> Message:
    """Mark the row sent and add the outbound message to the conversation, in one transaction."""
    settings = mail_settings(account)
    db = database_proxy.obj
    now = datetime.now(UTC)
    # IMMEDIATE: the mail sync writes from its own connection (``sync.db_worker``); a DEFERRED transaction that
    # reads first would fail with SQLITE_BUSY if a sync batch committed before this one's first write.
    with db.atomic("IMMEDIATE"):
        conversation = Conversation.get_by_id(item.conversation_id)
        message = add_message(
            conversation,
            IncomingMessage(
                direction=Direction.OUT,
                sent_at=now,
                text=item.body,
                author_name=settings.from_name,
                author_address=settings.from_address,
                subject=item.subject,
                remote_id=item.message_id,
                recipients=tuple(item.recipients or []),
                in_reply_to=item.in_reply_to,
                references=tuple(item.references or []),
                is_read=True,
                raw=raw,
                extra={"outbox_id": item.id},
            ),
        )
        outbox.mark_sent(item, sent_message_id=message.id, at=now)
        if unconfirmed:
            OutboxItem.update(last_error=unconfirmed).where(OutboxItem.id == item.id).execute()
            log_event(
                EventKind.REPLY_FAILED,
                conversation=conversation.id,
                outbox=item.id,
                unconfirmed=True,
                error=unconfirmed,
            )
        if item.close_after_send:
            set_status(conversation, Status.CLOSED, actor="outbox")
    return message


async def _mark_answered(account: Account, imap: ImapConnection, item: OutboxItem) -> bool:
    """Set ``\\Answered`` on the mail we replied to; False when the server could not be told (the reply itself
    is recorded already: the row is left ``filing`` and this is done again by a later round)."""
    if not item.in_reply_to:
        return True
    store = MailStore(account.id)
    try:
        # Of this conversation only: another mail may share the Message-ID (domain.message_ids).
        for loc_id, folder, uid, flags in store.locations_of(item.in_reply_to, item.conversation_id):
            if "\\Answered" in flags:
                continue
            try:
                await imap.select(folder)
                await imap.add_flags([uid], ["\\Answered"])
            except mail_errors.FolderMissing:
                continue
            store.set_location_flags(loc_id, flags | {"\\Answered"})
    except MailError as exc:
        log.warning("could not set \\Answered for outbox item %s: %s", item.id, exc)
        return False
    return True


def _requeue(item: OutboxItem, error: str) -> None:
    """Back to the queue without a backoff: the network, not the message, was the problem."""
    OutboxItem.update(
        state=outbox.OutboxState.QUEUED.value,
        delivery_step=None,
        owner=None,
        lease_until=None,
        last_error=error,
    ).where(OutboxItem.id == item.id).execute()


def _step(item: OutboxItem, step: outbox.DeliveryStep, crash_point: str) -> None:
    outbox.mark_step(item, step)
    _test_crash(crash_point)


async def _copy_to_sent(imap: ImapConnection, sent_folder: str | None, item: OutboxItem, raw: bytes) -> bool:
    """APPEND the sent bytes to Sent. A failure never resends the reply (it went out); it returns False, and
    the row is left ``filing`` so that a later round makes the copy (``_finish_filing``)."""
    if not sent_folder:
        return True
    try:
        await imap.append(sent_folder, raw, SENT_FLAGS, datetime.now(UTC))
    except MailError as exc:
        log.warning("could not store the copy of outbox item %s in %s: %s", item.id, sent_folder, exc)
        return False
    return True


async def _file(account: Account, imap: ImapConnection, item: OutboxItem, *, copied: bool) -> None:
    """After a reply is recorded as sent: \\Answered on the original; what did not reach the server (the Sent
    copy, the flag) is left for a later round (``outbox.FILING``)."""
    answered = await _mark_answered(account, imap, item)
    if not (copied and answered):
        outbox.mark_filing(item)


async def _finish_filing(
    account: Account, imap: ImapConnection, sent_folder: str | None, blobs: BlobStore, me: str
) -> None:
    """Make the Sent copies and \\Answered flags an earlier round could not (the connection broke after the
    reply went out). A copy is made only when Sent does not hold the reply's Message-ID already: the APPEND
    that broke may have been carried out by the server all the same."""
    for item in outbox.filing_items(account.id):
        if item.owner is not None and not _abandoned(item, me, datetime.now(UTC)):
            continue
        if not outbox.take_filing(item, me):
            continue
        copied = True
        try:
            if sent_folder and not await imap.search_header(sent_folder, "Message-ID", item.message_id):
                copied = await _copy_to_sent(imap, sent_folder, item, build_item(item, account, blobs))
        except MailError as exc:
            log.warning("could not look for outbox item %s in %s: %s", item.id, sent_folder, exc)
            copied = False
        answered = copied and await _mark_answered(account, imap, item)
        outbox.end_filing(item, done=copied and answered)
        if not (copied and answered):
            return  # the server is not answering: the next round tries again


def _unconfirmed_after_crash() -> str:
    return _(
        "The app stopped while this reply was being transmitted: it may have been delivered, but the server's "
        "confirmation was not recorded. Resend it if the customer did not receive it."
    )


async def _recover(
    item: OutboxItem,
    account: Account,
    imap: ImapConnection,
    sent_folder: str | None,
    blobs: BlobStore,
    report: DeliveryReport,
) -> bool:
    """Settle a row an earlier run left in ``sending`` (see the module docstring): True when it is settled,
    False when nothing was transmitted and it may be sent now."""
    if sent_folder and await imap.search_header(sent_folder, "Message-ID", item.message_id):
        log.info("outbox item %s found in %s after a crash: recording, not resending", item.id, sent_folder)
        record_sent(item, account, None)
        report.recovered.append(item.id)
        copied = True
    elif item.delivery_step in (outbox.DeliveryStep.ACCEPTED.value, outbox.DeliveryStep.SUBMITTING.value):
        accepted = item.delivery_step == outbox.DeliveryStep.ACCEPTED.value
        log.info(
            "outbox item %s was %s before a crash: recording, not resending",
            item.id,
            "accepted" if accepted else "being transmitted",
        )
        raw = build_item(item, account, blobs)
        copied = await _copy_to_sent(imap, sent_folder, item, raw)
        record_sent(item, account, raw, unconfirmed=None if accepted else _unconfirmed_after_crash())
        (report.recovered if accepted else report.unconfirmed).append(item.id)
    else:
        return False
    report.conversations.add(item.conversation_id)
    await _file(account, imap, item, copied=copied)
    return True


#: Rows this process is delivering right now: never "recovered" by a second delivery round of the same process
#: (two engines in one process, as in tests); one of its own ``sending`` rows not in here is a leftover.
_IN_FLIGHT: set[int] = set()


def _abandoned(item: OutboxItem, me: str, now: datetime) -> bool:
    """May this process settle a ``sending`` row? Only when its owner is gone (``sync.ownership``): a live
    owner's claim is never taken, whatever its lease says; the lease decides only for an owner whose life
    cannot be checked (another machine)."""
    if item.owner == me:
        return item.id not in _IN_FLIGHT
    alive = owner_alive(item.owner)
    if alive is None:
        return item.lease_until is None or item.lease_until < now
    return not alive


async def deliver_due(
    account: Account,
    imap: ImapConnection,
    smtp_settings: SmtpSettings,
    *,
    blobs: BlobStore,
    bus: ChangeBus | None = None,
    now: datetime | None = None,
) -> DeliveryReport:
    """Deliver every due row of ``account``; connection trouble stops the round and leaves rows queued.

    A row is delivered only after this process won its claim (``outbox.claim``/``outbox.take_over``): rows
    another live process claimed, or claims it just won, are skipped."""
    report = DeliveryReport()
    sent_folder = await find_sent_folder(account, imap)
    me = process_token()
    await _finish_filing(account, imap, sent_folder, blobs, me)
    for item in outbox.due_items(now, account.id):
        if item.id in _IN_FLIGHT:
            continue
        taken_over = item.state == outbox.OutboxState.SENDING.value
        if taken_over:
            if not _abandoned(item, me, now or datetime.now(UTC)) or not outbox.take_over(item, me):
                continue
            log.info("outbox item %s: settling the claim of %s, which is gone", item.id, item.owner)
        elif not outbox.claim(item, me, now=now):
            continue  # another process claimed it first
        _IN_FLIGHT.add(item.id)
        try:
            stop = await _deliver_claimed(
                item, account, imap, smtp_settings, sent_folder, blobs, report, taken_over=taken_over
            )
        except outbox.ClaimLost as exc:
            log.warning("%s: not sending it", exc)
            continue
        finally:
            _IN_FLIGHT.discard(item.id)
        if stop:
            break
    if bus is not None and (report.conversations or report.retry):
        bus.publish(ChangeEvent("outbox", frozenset(report.conversations), account.id))
    return report


async def _deliver_claimed(
    item: OutboxItem,
    account: Account,
    imap: ImapConnection,
    smtp_settings: SmtpSettings,
    sent_folder: str | None,
    blobs: BlobStore,
    report: DeliveryReport,
    *,
    taken_over: bool,
) -> bool:
    """Deliver one row this process has claimed; True when the round should stop (server unreachable)."""
    if taken_over:  # from a process that is gone: settle what it left (see the module docstring)
        if await _recover(item, account, imap, sent_folder, blobs, report):
            return False
        outbox.mark_step(item, outbox.DeliveryStep.CLAIMED)
    _test_crash("after_claim")
    if collisions.needs_check(item):
        try:
            changes = await collisions.mail_changes(item, account, imap)
        except MailError as exc:  # unchecked is never sent: it stays queued for the next round
            _requeue(item, exc.user_message)
            report.retry.append(item.id)
            report.offline = isinstance(exc, mail_errors.ConnectionFailed)
            return True
        if changes:
            if outbox_holds.hold(item, changes):
                report.held.append(item.id)
                report.conversations.add(item.conversation_id)
            return False
    raw = build_item(item, account, blobs)
    settings = mail_settings(account)
    unconfirmed: str | None = None
    try:
        await send_raw(
            smtp_settings,
            raw,
            settings.from_address,
            list(item.recipients or []),
            before_data=functools.partial(_step, item, outbox.DeliveryStep.SUBMITTING, "before_data"),
            on_accepted=functools.partial(_step, item, outbox.DeliveryStep.ACCEPTED, "after_accept"),
        )
    except SendFailed as exc:
        if getattr(exc, "maybe_delivered", False) and exc.temporary:
            unconfirmed = _(
                "The connection broke right after the message was transmitted: it was probably delivered, "
                "but the server did not confirm it. Resend it if the customer did not receive it."
            )
            log.warning("outbox item %s: delivery unconfirmed (%s)", item.id, exc.detail)
        elif exc.temporary:
            outbox.mark_retry(item, exc.user_message)
            report.retry.append(item.id)
            return False
        else:
            outbox.mark_failed(item, f"{exc.user_message} ({exc.detail})" if exc.detail else exc.user_message)
            report.failed.append(item.id)
            report.conversations.add(item.conversation_id)
            return False
    except (mail_errors.ConnectionFailed, mail_errors.TlsFailed, mail_errors.LoginFailed) as exc:
        _requeue(item, exc.user_message)
        report.offline = isinstance(exc, mail_errors.ConnectionFailed)
        report.retry.append(item.id)
        # The server is unreachable: the other rows would fail the same way.
        return isinstance(exc, mail_errors.ConnectionFailed)
    _test_crash("after_smtp")
    copied = await _copy_to_sent(imap, sent_folder, item, raw)
    _test_crash("after_append")
    record_sent(item, account, raw, unconfirmed=unconfirmed)
    (report.unconfirmed if unconfirmed else report.sent).append(item.id)
    report.conversations.add(item.conversation_id)
    await _file(account, imap, item, copied=copied)
    return False
