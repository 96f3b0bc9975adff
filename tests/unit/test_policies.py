"""Policy per channel (``store.policies``): listing the assignments, assigning one, and what it recomputes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from inbox_app.domain.conversations import Direction, IncomingMessage, Status
from inbox_app.profile import Profile
from inbox_app.store import ingest, policies
from inbox_app.store.models import Account, Channel, Conversation, DeadlinePolicyRow

RECEIVED = datetime.now(UTC) - timedelta(hours=3)


@pytest.fixture(autouse=True)
def fresh_cache(profile: Profile) -> Iterator[None]:
    ingest.clear_policy_cache()  # the cache is per process and keyed by channel id: forget other profiles'
    yield
    ingest.clear_policy_cache()


def _conversation(account: Account, channel: Channel, n: int) -> Conversation:
    conv = ingest.create_conversation(
        account, channel, remote_id=f"thread-{channel.id}-{n}", subject="Parcel"
    )
    ingest.add_message(
        conv,
        IncomingMessage(
            direction=Direction.IN,
            sent_at=RECEIVED,
            text="Where is it?",
            author_name="Ana",
            remote_id=f"m{n}",
        ),
    )
    return Conversation.get_by_id(conv.id)


def test_rows_list_every_channel_with_its_default(profile: Profile) -> None:
    shop = Account.create(kind="mirakl", name="Shop FR")
    mail = Account.create(kind="imap", name="A mailbox")
    mirakl = ingest.ensure_channel(shop, "mirakl", "Worten", "worten")
    ingest.ensure_channel(mail, "email", "shop@example.com")
    rows = policies.channel_policy_rows()
    assert [(r.account_name, r.channel_name) for r in rows] == [
        ("A mailbox", "shop@example.com"),
        ("Shop FR", "Worten"),
    ]
    worten = rows[1]
    assert worten.channel_id == mirakl.id and worten.account_id == shop.id
    assert worten.marketplace == "worten" and worten.channel_kind == "mirakl"
    assert worten.policy_key is None
    assert worten.default_name == "Mirakl marketplace: 24 hours"  # an unknown operator gets the strict 24 h
    assert "mirakl_48h" in {c.key for c in policies.policy_choices()}


def test_assigning_mirakl_48h_moves_running_deadlines_only(profile: Profile) -> None:
    shop = Account.create(kind="mirakl", name="Shop FR")
    mirakl = ingest.ensure_channel(shop, "mirakl", "Worten", "worten")
    other = ingest.ensure_channel(shop, "amazon", "Amazon.fr", "amazon.fr")
    running = _conversation(shop, mirakl, 1)
    closed = _conversation(shop, mirakl, 2)
    ingest.set_status(closed, Status.CLOSED)
    amazon = _conversation(shop, other, 3)
    assert running.deadline_at == RECEIVED + timedelta(hours=24)

    assert policies.assign_policy(mirakl.id, "mirakl_48h")
    assert not policies.assign_policy(mirakl.id, "mirakl_48h")  # already so: nothing to do
    assert Channel.get_by_id(mirakl.id).policy_id == DeadlinePolicyRow.get(key="mirakl_48h").id
    ids = policies.running_conversation_ids([mirakl.id])
    assert ids == [running.id]
    for conv_id in ids:
        ingest.refresh_conversation(Conversation.get_by_id(conv_id))
    assert Conversation.get_by_id(running.id).deadline_at == RECEIVED + timedelta(hours=48)
    assert Conversation.get_by_id(amazon.id).deadline_at == RECEIVED + timedelta(hours=24)
    assert next(r for r in policies.channel_policy_rows() if r.channel_id == mirakl.id).policy_key == (
        "mirakl_48h"
    )

    assert policies.assign_policy(mirakl.id, None)  # back to the preset
    ingest.refresh_conversation(Conversation.get_by_id(running.id))
    assert Conversation.get_by_id(running.id).deadline_at == RECEIVED + timedelta(hours=24)
    assert Channel.get_by_id(mirakl.id).policy_id is None


def test_unknown_channel_or_policy_is_refused(profile: Profile) -> None:
    shop = Account.create(kind="mirakl", name="Shop FR")
    mirakl = ingest.ensure_channel(shop, "mirakl", "Worten", "worten")
    with pytest.raises(KeyError):
        policies.assign_policy(mirakl.id, "no-such-policy")
    with pytest.raises(KeyError):
        policies.assign_policy(mirakl.id + 1000, None)
    assert Channel.get_by_id(mirakl.id).policy_id is None
    assert policies.running_conversation_ids([]) == []
