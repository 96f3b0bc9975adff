"""The service layer (what ``ui/`` and ``cli/`` call) over a real profile: plain values out, verbs that do
what the windows did with the store before, and errors a caller can show."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import peewee
import pytest

from inbox_app.domain.conversations import Direction, IncomingMessage, Status
from inbox_app.domain.views import View, ViewKind
from inbox_app.services import accounts, conversations, outbox, policies, replies
from inbox_app.services.conversations import ConversationState
from inbox_app.store.accounts import MailAccountSettings, ServerSettings, create_mail_account
from inbox_app.store.ingest import add_message, create_conversation, ensure_channel
from inbox_app.store.models import Conversation, Event, OutboxItem
from inbox_app.store.outbox import OutboxState

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _conversation(kind: str = "email", marketplace: str | None = None) -> int:
    account = create_mail_account(
        "Shop",
        MailAccountSettings(
            imap=ServerSettings("imap.shop.example", 993, "tls", "seller"),
            smtp=ServerSettings("smtp.shop.example", 465, "tls", "seller"),
            from_address="seller@shop.example",
            from_name="Beispiel Shop",
        ),
    )
    name = "seller@shop.example" if kind == "email" else "Amazon.de"
    channel = ensure_channel(account, kind, name, marketplace)
    conv = create_conversation(account, channel, remote_id=None, subject="Parcel")
    add_message(
        conv,
        IncomingMessage(
            direction=Direction.IN,
            sent_at=WHEN,
            text="Where is my parcel?",
            author_name="Anna",
            author_address="anna@example.net",
            subject="Parcel",
            remote_id="<m1@example.net>",
        ),
    )
    return int(conv.id)


def _no_models(value: Any) -> None:
    """Nothing a service returns is (or holds) a peewee row."""
    if isinstance(value, peewee.Model):
        raise AssertionError(f"a peewee model leaked out of a service: {value!r}")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            _no_models(getattr(value, item.name))
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_models(key)
            _no_models(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _no_models(item)


def test_queries_return_plain_values(profile: Any) -> None:
    cid = _conversation("amazon", "amazon.de")
    replies.save_draft(cid, "Hallo Anna", language="de")
    queued = replies.queue_reply(cid, "Your parcel left today.")
    results = [
        conversations.conversation_ids(View(ViewKind.OPEN)),
        conversations.summaries([cid]),
        conversations.detail(cid, profile.blobs),
        conversations.state(cid),
        conversations.marketplaces([cid]),
        conversations.sidebar_sources(),
        accounts.accounts(),
        accounts.get(accounts.accounts()[0].id),
        accounts.account_infos(),
        outbox.overview(),
        outbox.rows_for(cid),
        outbox.item_infos(include_done=True),
        policies.stored_policies(),
        policies.channel_policy_rows(),
        policies.policy_choices(),
        queued,
    ]
    for result in results:
        _no_models(result)
    assert conversations.marketplaces([cid]) == {cid: "amazon.de"}
    assert [info["id"] for info in outbox.item_infos()] == [queued.outbox_id]


def test_state_and_status_changes_are_logged_and_undoable(profile: Any) -> None:
    cid = _conversation()
    state = conversations.state(cid)
    assert state == ConversationState(
        id=cid,
        status="open",
        snoozed_until=None,
        channel_kind="email",
        channel_name="seller@shop.example",
        deadline_started_at=state.deadline_started_at if state else None,
        deadline_at=state.deadline_at if state else None,
    )
    until = WHEN + timedelta(days=3)
    assert conversations.set_status(cid, Status.SNOOZED, until, actor="user")
    snoozed = conversations.state(cid)
    assert snoozed is not None and snoozed.status == "snoozed" and snoozed.snoozed_until == until
    assert conversations.set_status(cid, Status.OPEN, None, actor="undo")
    reopened = conversations.state(cid)
    assert reopened is not None and reopened.status == "open" and reopened.snoozed_until is None
    actors = [e.actor for e in Event.select().where(Event.conversation == cid).order_by(Event.id)]
    assert "user" in actors and "undo" in actors
    assert conversations.state(cid + 1000) is None
    assert not conversations.set_status(cid + 1000, Status.CLOSED)
    assert not conversations.mark_no_response_needed(cid + 1000)


def test_send_and_close_reports_what_it_changed(profile: Any) -> None:
    cid = _conversation()
    queued = replies.queue_reply(cid, "On its way.", close=True)
    assert queued.previous_status == "open" and not queued.demo
    assert Conversation.get_by_id(cid).status == "closed"
    again = replies.queue_reply(cid, "And a tracking number.", close=True)
    assert again.previous_status is None  # it was closed already: nothing to undo
    item = OutboxItem.get_by_id(again.outbox_id)
    assert item.close_after_send and item.state == OutboxState.QUEUED.value


def test_a_reply_that_cannot_be_sent_says_why(profile: Any) -> None:
    cid = _conversation()
    with pytest.raises(replies.ReplyError) as refused:
        replies.queue_reply(cid, "Dear {customer.name}")
    assert "{customer.name}" in refused.value.user_message
    assert OutboxItem.select().count() == 0


def test_a_reply_the_database_refuses_is_not_saved(tmp_path: Path) -> None:
    """A profile opened read-only refuses the write: ReplyNotSaved, not a peewee error, and nothing queued."""
    from inbox_app.profile import open_profile

    writable = open_profile(tmp_path / "p")
    cid = _conversation()
    writable.close()
    read_only = open_profile(tmp_path / "p", read_only=True)
    try:
        with pytest.raises(replies.ReplyNotSaved) as failed:
            replies.queue_reply(cid, "On its way.")
        assert not failed.value.disk_full
        assert isinstance(failed.value.__cause__, peewee.DatabaseError)
        assert OutboxItem.select().count() == 0
    finally:
        read_only.close()


def test_drafts_round_trip_as_plain_values(profile: Any) -> None:
    cid = _conversation()
    assert replies.load_draft(cid) is None
    replies.save_draft(cid, "Hallo", language="de", attachments=[{"name": "a.pdf", "sha256": "0" * 64}])
    assert replies.load_draft(cid) == replies.Draft("Hallo", "de", [{"name": "a.pdf", "sha256": "0" * 64}])
    replies.save_draft(cid, "   ")  # an empty draft is deleted
    assert replies.load_draft(cid) is None


def test_outbox_actions_answer_with_ids(profile: Any) -> None:
    cid = _conversation()
    queued = replies.queue_reply(cid, "On its way.")
    assert outbox.exists(queued.outbox_id) and not outbox.exists(queued.outbox_id + 1)
    assert outbox.conversation_of(queued.outbox_id) == cid
    assert outbox.conversation_of(queued.outbox_id + 1) is None
    assert outbox.pending_count() == 1
    assert outbox.send_again(queued.outbox_id) is None  # not a sent, unconfirmed reply
    OutboxItem.update(state=OutboxState.SENT.value, last_error="no answer after DATA").where(
        OutboxItem.id == queued.outbox_id
    ).execute()
    copy = outbox.send_again(queued.outbox_id, actor="user")
    assert isinstance(copy, int) and copy != queued.outbox_id
    assert outbox.cancel(copy, actor="user")
    assert not outbox.cancel(copy)  # cancelled already


def test_recompute_deadlines_reports_progress_and_stops_when_asked(profile: Any) -> None:
    ids = [_conversation() for _ in range(3)]
    Conversation.update(deadline_at=None).where(Conversation.id.in_(ids)).execute()
    seen: list[tuple[int, int]] = []
    policies.recompute_deadlines(ids, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(3, 3)]
    assert all(Conversation.get_by_id(i).deadline_at is not None for i in ids)
    seen.clear()
    policies.recompute_deadlines(ids, progress=lambda *a: seen.append(a), cancelled=lambda: True)
    assert seen == []


def test_saving_a_policy_moves_its_channels_deadlines(profile: Any) -> None:
    cid = _conversation()
    (channel,) = policies.channel_policy_rows()
    assert policies.assign_policies({channel.channel_id: "email"}) == [channel.channel_id]
    assert policies.assign_policies({channel.channel_id: "email"}) == []  # nothing changed the second time
    assert policies.running_conversation_ids([channel.channel_id]) == [cid]
    policies.policy_for_conversation(cid)  # resolved once, so the cache holds the old definition
    before = conversations.state(cid)
    email = next(p for p in policies.stored_policies() if p.key == "email")
    edited = dataclasses.replace(policies.office_policy(), name="Our promise", target=timedelta(hours=2))
    assert policies.save_policy(email.id, edited)
    assert policies.stored_policy(email.id) == dataclasses.replace(
        email, name="Our promise", definition=edited.to_dict()
    )
    assert policies.policy_for_conversation(cid) == edited  # the resolved-policy cache was forgotten
    policies.recompute_deadlines(conversations.running_ids())
    after = conversations.state(cid)
    assert before is not None and after is not None and after.deadline_at != before.deadline_at
