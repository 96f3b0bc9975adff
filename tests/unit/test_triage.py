"""Triage through the services: bulk changes in one transaction with undo, snoozes that wake, conversations that
reopen when the customer writes, categories set on arrival (marketplace reason first, a hand-set one kept)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inbox_app.domain.conversations import Direction, IncomingMessage, Status
from inbox_app.domain.views import View, ViewKind
from inbox_app.profile import Profile
from inbox_app.services import conversations, triage
from inbox_app.store import ingest
from inbox_app.store.channel_threads import ChannelTarget, MessageRecord, ThreadRecord, store_thread_batch
from inbox_app.store.events import events_for
from inbox_app.store.models import Account, Conversation

NOW = datetime.now(UTC).replace(microsecond=0)


def _conversation(
    remote: str, text: str = "Hola, mi pedido aún no ha llegado", at: datetime | None = None
) -> int:
    account, _ = Account.get_or_create(kind="imap", name="Shop mailbox")
    channel = ingest.ensure_channel(account, "email", "shop@example.com")
    conv = ingest.create_conversation(account, channel, remote_id=remote, subject="Pedido")
    ingest.add_message(conv, _inbound(at or NOW - timedelta(hours=2), text, remote=f"<{remote}@x>"))
    return int(conv.id)


def _inbound(at: datetime, text: str, remote: str) -> IncomingMessage:
    return IncomingMessage(
        direction=Direction.IN, sent_at=at, text=text, author_name="Lucía", remote_id=remote
    )


def _row(conversation_id: int) -> Conversation:
    return Conversation.get_by_id(conversation_id)


def test_bulk_status_is_undone_exactly(profile: Profile) -> None:
    ids = [_conversation(f"c{i}") for i in range(5)]
    triage.set_status(ids[:1], Status.PENDING)
    before = {i: (_row(i).status, _row(i).deadline_at) for i in ids}

    result = triage.set_status(ids, Status.CLOSED)
    assert result.changed == 5 and "5" in result.description
    assert all(_row(i).status == "closed" and _row(i).deadline_at is None for i in ids)
    assert conversations.conversation_ids(View(ViewKind.CLOSED)) != []

    triage.undo(result.undo)
    assert {i: (_row(i).status, _row(i).deadline_at) for i in ids} == before
    kinds = [e.kind for e in events_for(ids[1])]
    assert kinds.count("status_changed") == 2  # closed, then back to open: the report sees both


def test_snooze_wakes_by_itself_and_earlier_when_the_customer_writes(profile: Profile) -> None:
    sleepy, early = _conversation("s1"), _conversation("s2")
    until = NOW + timedelta(hours=3)
    triage.set_status([sleepy, early], Status.SNOOZED, until)
    assert _row(sleepy).snoozed_until == until and triage.next_wake() == until
    assert triage.wake_snoozed(NOW) == []

    conv = _row(early)
    message = ingest.add_message(
        conv, _inbound(datetime.now(UTC) + timedelta(seconds=5), "¿Alguna novedad?", "<s2b@x>")
    )
    # storing the customer's message is enough: the one writer's hook wakes the conversation
    assert _row(early).status == "open" and _row(early).snoozed_until is None
    assert triage_store_inbound([message.id]) == set(), "already awake: nothing to do twice"

    assert triage.wake_snoozed(until + timedelta(seconds=1)) == [sleepy]
    assert _row(sleepy).status == "open" and triage.next_wake() is None


def triage_store_inbound(message_ids: list[int]) -> set[int]:
    from inbox_app.store import triage as store_triage

    return store_triage.reopen_on_inbound(message_ids)


def test_closed_reopens_on_a_new_message_but_not_on_an_old_one(profile: Profile) -> None:
    conv_id = _conversation("r1", at=NOW - timedelta(days=3))
    triage.set_status([conv_id], Status.CLOSED)
    old = ingest.add_message(_row(conv_id), _inbound(NOW - timedelta(days=2), "old mail", "<old@x>"))
    assert triage_store_inbound([old.id]) == set()
    assert _row(conv_id).status == "closed"
    new = ingest.add_message(
        _row(conv_id), _inbound(datetime.now(UTC) + timedelta(seconds=5), "Sigue sin llegar", "<new@x>")
    )
    # storing the customer's new message reopened it (the one writer's hook), with its clock running
    assert _row(conv_id).status == "open"
    assert triage_store_inbound([new.id]) == set(), "already open: nothing to do twice"
    assert _row(conv_id).deadline_at is not None, "reopened: the clock runs from the customer's new message"


def test_category_assign_tags_in_one_action_and_undo(profile: Profile) -> None:
    ids = [_conversation(f"t{i}") for i in range(3)]
    triage.tag(ids[:1], ["VIP"])
    triage.save_team(["Ana", "Jonas"])
    result = triage.apply(
        ids,
        triage.Change(category="damaged", assignee="Ana", add_tags=("urgent",), remove_tags=("VIP",)),
    )
    facts = triage.facts(ids)
    assert {f.category for f in facts.values()} == {"damaged"}
    assert {f.category_source for f in facts.values()} == {"manual"}
    assert {f.assignee for f in facts.values()} == {"Ana"}
    assert [f.tags for f in facts.values()] == [("urgent",)] * 3

    triage.undo(result.undo)
    facts = triage.facts(ids)
    assert facts[ids[0]].tags == ("VIP",) and facts[ids[1]].tags == ()
    assert {f.assignee for f in facts.values()} == {None}
    # undo restores what the rules had decided when the customer's message was stored ("aún no ha llegado")
    assert {(f.category, f.category_source) for f in facts.values()} == {("delivery", "rule")}


def test_unknown_category_changes_nothing(profile: Profile) -> None:
    ids = [_conversation("u1")]
    with pytest.raises(triage.UnknownCategoryError):
        triage.set_category(ids, "shipping")
    assert triage.facts(ids)[ids[0]].category_source != "manual"


def test_note_is_kept_and_missing_conversation_is_none(profile: Profile) -> None:
    conv_id = _conversation("n1")
    assert triage.add_note(conv_id, "Called the carrier", author="Ana") is not None
    assert triage.add_note(999_999, "x") is None
    detail = conversations.detail(conv_id)
    assert detail is not None and [n.body for n in detail.notes] == ["Called the carrier"]


def test_marketplace_batch_is_categorised_reason_first_and_manual_kept(profile: Profile) -> None:
    account = Account.create(kind="kaufland", name="Kaufland DE")
    target = ChannelTarget(account_id=int(account.id), kind="kaufland", name="Kaufland.de")

    def thread(remote: str, text: str, hint: str | None, at: datetime) -> ThreadRecord:
        message = IncomingMessage(
            direction=Direction.IN, sent_at=at, text=text, remote_id=f"{remote}-{at:%s}"
        )
        return ThreadRecord(
            remote_id=remote,
            subject="Ticket",
            messages=(MessageRecord(message, "customer"),),
            extra={"category_hint": hint} if hint else {},
        )

    first = NOW - timedelta(hours=1)
    store_thread_batch(
        target,
        [
            thread("k1", "Das Paket ist nicht angekommen", "damaged", first),
            thread("k2", "Ich brauche eine Rechnung", None, first),
        ],
        "cursor-1",
    )
    by_remote = {c.remote_id: c for c in Conversation.select()}
    assert (by_remote["k1"].category, by_remote["k1"].category_source) == ("damaged", "marketplace")
    assert (by_remote["k2"].category, by_remote["k2"].category_source) == ("invoice", "rule")

    triage.set_category([by_remote["k2"].id], "payment")
    triage.set_status([by_remote["k2"].id], Status.CLOSED)
    store_thread_batch(
        target,
        [thread("k2", "Rechnung fehlt immer noch", None, datetime.now(UTC) + timedelta(seconds=5))],
        "c2",
    )
    again = Conversation.get_by_id(by_remote["k2"].id)
    assert (again.category, again.category_source) == ("payment", "manual")  # the seller's choice stays
    assert again.status == "open"  # the buyer wrote again


def test_mine_and_unassigned_views_follow_the_agent_name(profile: Profile) -> None:
    from inbox_app.services import settings

    mine, theirs, nobody, done = (_conversation(f"v{i}") for i in range(4))
    settings.set_setting(settings.AGENT_NAME, "Ana")
    triage.assign([mine, done], "Ana")
    triage.assign([theirs], "Jonas")
    triage.set_status([done], Status.CLOSED)
    assert set(conversations.conversation_ids(View(ViewKind.MINE))) == {mine}
    assert set(conversations.conversation_ids(View(ViewKind.UNASSIGNED))) == {nobody}
    counts = conversations.view_counts([View(ViewKind.MINE), View(ViewKind.UNASSIGNED)])
    assert counts == {"mine": 1, "unassigned": 1}
    assert triage.team()[0] == "Ana"  # the agent is always in the team the picker offers


def test_mirakl_reason_code_topic_categorises_as_marketplace(profile: Profile) -> None:
    from inbox_app.channels.mirakl.parse import parse_thread
    from inbox_app.sync.channel_sync import thread_record

    account = Account.create(kind="mirakl", name="Fnac")
    raw = {
        "id": "th-9",
        "date_created": "2026-11-30T10:00:00Z",
        "date_updated": "2026-11-30T10:00:00Z",
        "topic": {"type": "REASON_CODE", "value": "Colis endommagé"},
        "current_participants": [{"id": "c1", "type": "CUSTOMER", "display_name": "Marie"}],
        "messages": [
            {
                "id": "m1",
                "date_created": "2026-11-30T10:00:00Z",
                "body": "Bonjour, je n'ai toujours pas reçu ma commande.",
                "from": {"type": "CUSTOMER_USER", "display_name": "Marie"},
            }
        ],
    }
    thread = parse_thread(raw)
    assert thread.marketplace_reason == "Colis endommagé"
    target = ChannelTarget(account_id=int(account.id), kind="mirakl", name="Fnac")
    store_thread_batch(target, [thread_record(thread)], "cursor")
    conv = Conversation.get(Conversation.remote_id == "th-9")
    assert (conv.category, conv.category_source) == ("damaged", "marketplace")  # not the words' "delivery"


def test_the_list_line_shows_category_tags_and_assignee(profile: Profile) -> None:
    from inbox_app.ui.conversation_model import status_and_tags

    conv_id = _conversation("l1")
    triage.apply(
        [conv_id], triage.Change(status=Status.PENDING, category="damaged", assignee="Ana", add_tags=("VIP",))
    )
    summary = conversations.summary(conv_id)
    assert summary is not None and (summary.category, summary.assignee) == ("damaged", "Ana")
    assert status_and_tags(summary) == "Pending · Damaged · VIP · @Ana"
    # A tag naming the category is not shown twice.
    triage.apply([conv_id], triage.Change(add_tags=("damaged",)))
    summary = conversations.summary(conv_id)
    assert summary is not None and "damaged" in summary.tags
    assert status_and_tags(summary) == "Pending · Damaged · VIP · @Ana"
