"""The outbox as the screen reads it: what is listed, in which order, and the phase each reply is in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from inbox_app.profile import Profile
from inbox_app.store import outbox
from inbox_app.store.ingest import create_conversation, ensure_channel, ensure_customer
from inbox_app.store.models import Account, Conversation, OutboxItem
from inbox_app.store.outbox_view import (
    OutboxPhase,
    failed_count,
    outbox_overview,
    outbox_rows_for,
    pending_count,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
_ids = count(1)


def _conversation(subject: str = "Where is my parcel?", customer: str = "Jana Becker") -> Conversation:
    account = Account.get_or_none(Account.name == "Shop") or Account.create(kind="test", name="Shop")
    channel = ensure_channel(account, "amazon", "Amazon.de", "amazon.de")
    person = ensure_customer("email", f"{customer.replace(' ', '.').lower()}@example.com", customer)
    return create_conversation(account, channel, remote_id=None, subject=subject, customer=person)


def _queue(conv: Conversation, body: str = "On its way.", scheduled_at: datetime | None = None) -> OutboxItem:
    n = next(_ids)
    return outbox.queue_reply(
        conv,
        body=body,
        message_id=f"<r{n}@shop.example>",
        recipients=["buyer@example.com"],
        scheduled_at=scheduled_at,
    )


def _set(item: OutboxItem, **fields: object) -> None:
    OutboxItem.update(**fields).where(OutboxItem.id == item.id).execute()


def test_overview_lists_undelivered_first_then_the_newest_finished(profile: Profile) -> None:
    conv = _conversation()
    queued = _queue(conv, "first")
    failed = _queue(conv, "second")
    outbox.mark_failed(failed, "Recipient address rejected")
    sending = _queue(conv, "third")
    outbox.mark_sending(sending)
    finished = []
    for minute in range(5):
        item = _queue(conv, f"done {minute}")
        outbox.mark_sent(item, at=NOW + timedelta(minutes=minute))
        finished.append(item)
    cancelled = _queue(conv, "never mind")
    assert outbox.cancel(cancelled.id)

    rows = outbox_overview(limit_done=3)

    assert [r.id for r in rows[:3]] == [queued.id, failed.id, sending.id], "undelivered, oldest first"
    # Cancelled has no sent_at: it counts from its creation (just now, after the sent ones of "NOW").
    done_ids = [r.id for r in rows[3:]]
    assert len(done_ids) == 3
    assert finished[4].id in done_ids and finished[3].id in done_ids
    assert finished[0].id not in done_ids, "only the newest finished replies are listed"
    assert rows[1].last_error == "Recipient address rejected"
    assert rows[0].subject == "Where is my parcel?"
    assert rows[0].customer_name == "Jana Becker"
    assert rows[0].channel_kind == "amazon" and rows[0].channel_name == "Amazon.de"
    assert rows[0].recipients == ("buyer@example.com",)
    assert rows[0].conversation_id == conv.id


def test_old_failures_are_never_cut_off(profile: Profile) -> None:
    conv = _conversation()
    failed = _queue(conv)
    outbox.mark_failed(failed, "Mailbox full")
    _set(failed, created_at=NOW - timedelta(days=90))
    for _n in range(4):
        outbox.mark_sent(_queue(conv), at=NOW)
    rows = outbox_overview(limit_done=2)
    assert [r.id for r in rows].count(failed.id) == 1
    assert len(rows) == 3


def test_phases_follow_the_clock(profile: Profile) -> None:
    conv = _conversation()
    plain = _queue(conv)
    scheduled = _queue(conv, scheduled_at=NOW + timedelta(hours=15))
    waiting = _queue(conv)
    outbox.mark_sending(waiting)
    outbox.mark_retry(waiting, "Server busy, try later", now=NOW)
    failed = _queue(conv)
    outbox.mark_failed(failed, "Rejected")
    rows = {r.id: r for r in outbox_rows_for(conv.id)}

    assert rows[plain.id].phase(NOW) is OutboxPhase.QUEUED
    assert rows[scheduled.id].phase(NOW) is OutboxPhase.SCHEDULED
    assert rows[scheduled.id].phase(NOW + timedelta(hours=16)) is OutboxPhase.QUEUED
    assert rows[waiting.id].phase(NOW) is OutboxPhase.WAITING
    assert rows[waiting.id].phase(NOW + timedelta(hours=1)) is OutboxPhase.QUEUED
    assert rows[failed.id].phase(NOW) is OutboxPhase.FAILED

    assert rows[plain.id].can_cancel and rows[scheduled.id].can_cancel and rows[waiting.id].can_cancel
    assert not rows[failed.id].can_cancel
    assert rows[failed.id].can_retry(NOW) and rows[waiting.id].can_retry(NOW)
    assert not rows[plain.id].can_retry(NOW), "nothing went wrong: nothing to retry"
    assert not rows[scheduled.id].can_retry(NOW), "a scheduled reply waits for its time, not for a retry"


def test_rows_for_a_conversation_hold_only_what_is_still_on_its_way(profile: Profile) -> None:
    conv = _conversation()
    other = _conversation("Refund please", "Luca Rossi")
    queued = _queue(conv)
    failed = _queue(conv)
    outbox.mark_failed(failed, "Rejected")
    outbox.mark_sent(_queue(conv))
    cancelled = _queue(conv)
    outbox.cancel(cancelled.id)
    _queue(other)

    assert [r.id for r in outbox_rows_for(conv.id)] == [queued.id, failed.id]
    assert [r.subject for r in outbox_rows_for(other.id)] == ["Refund please"]
    assert outbox_rows_for(999_999) == []


def test_counts_for_the_status_bar(profile: Profile) -> None:
    conv = _conversation()
    assert (pending_count(), failed_count()) == (0, 0)
    _queue(conv)
    sending = _queue(conv)
    outbox.mark_sending(sending)
    failed = _queue(conv)
    outbox.mark_failed(failed, "Rejected")
    outbox.mark_sent(_queue(conv))
    assert (pending_count(), failed_count()) == (2, 1)
    outbox.retry_now(failed.id)
    assert (pending_count(), failed_count()) == (3, 0)


def test_a_queued_reply_of_the_demo_account_shows_as_demo_and_is_never_due(profile) -> None:  # type: ignore[no-untyped-def]
    from inbox_app.store import outbox
    from inbox_app.store.outbox_view import outbox_overview

    demo = Account.create(kind="demo", name="Demo shop")
    channel = ensure_channel(demo, "ebay", "eBay", None)
    person = ensure_customer("email", "buyer@example.com", "Buyer")
    conv = create_conversation(demo, channel, remote_id=None, subject="Hi", customer=person)
    item = outbox.queue_reply(conv, body="Thanks", message_id="<x@demo.invalid>")
    (row,) = [r for r in outbox_overview() if r.id == item.id]
    assert row.phase(NOW) is OutboxPhase.DEMO
    assert not row.can_retry(NOW)
    assert row.can_cancel
    assert item.id not in [i.id for i in outbox.due_items(NOW)]
