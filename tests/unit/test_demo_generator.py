"""The demo generator: reproducible, varied, and every deadline derived by the store from the messages."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from inbox_app.demo.generator import CHANNELS, DEMO_ACCOUNT_KIND, ORDER_ID_PATTERNS, generate
from inbox_app.domain import deadlines
from inbox_app.domain.views import DUE_SOON_WINDOW
from inbox_app.profile import Profile, open_profile
from inbox_app.store import ingest
from inbox_app.store.models import (
    Account,
    Attachment,
    Channel,
    Conversation,
    ConversationTag,
    Event,
    Message,
    Tag,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday
COUNT = 300


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "profile"
    prof = open_profile(folder)
    calls: list[tuple[int, int]] = []
    created = generate(prof, count=COUNT, seed=7, now=NOW, progress=lambda d, t: calls.append((d, t)))
    prof.close()
    assert created == COUNT
    assert calls[-1] == (COUNT, COUNT)
    return folder


@pytest.fixture
def demo(demo_dir: Path) -> Iterator[Profile]:
    """The module's demo profile, re-bound for this test (other tests' profiles rebind the store)."""
    ingest.clear_policy_cache()
    prof = open_profile(demo_dir)
    yield prof
    prof.close()
    ingest.clear_policy_cache()


def _snapshot() -> list[tuple[Any, ...]]:
    rows = []
    for conv in Conversation.select().order_by(Conversation.id):
        messages = tuple(
            (m.direction, m.sent_at, m.author_name, m.subject, m.text_body, m.is_read)
            for m in Message.select()
            .where(Message.conversation == conv)
            .order_by(Message.sent_at, Message.id)
        )
        tags = tuple(
            sorted(
                t.name for t in Tag.select().join(ConversationTag).where(ConversationTag.conversation == conv)
            )
        )
        rows.append(
            (
                conv.channel.name,
                conv.subject,
                conv.customer_name,
                conv.order_id,
                conv.status,
                conv.language,
                conv.deadline_at,
                conv.snoozed_until,
                tuple(sorted(conv.extra.items())),
                tags,
                messages,
            )
        )
    return rows


def test_same_seed_gives_the_same_workspace_and_another_seed_does_not(tmp_path: Path) -> None:
    snapshots = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        prof = open_profile(tmp_path / name)
        ingest.clear_policy_cache()
        generate(prof, count=60, seed=seed, now=NOW)
        snapshots.append(_snapshot())
        prof.close()
    assert len(snapshots[0]) == 60
    assert snapshots[0] == snapshots[1]
    assert snapshots[0] != snapshots[2]


def test_creates_a_demo_account_with_every_channel_and_language(demo: Profile) -> None:
    accounts = list(Account.select())
    assert [(a.kind, a.name) for a in accounts] == [(DEMO_ACCOUNT_KIND, "Demo shop")]
    used = {
        (c.kind, c.marketplace)
        for c in Channel.select().join(Conversation, on=(Conversation.channel == Channel.id)).distinct()
    }
    assert used == {(spec.kind, spec.marketplace) for spec in CHANNELS}
    mirakl = {c.name for c in Channel.select().where(Channel.kind == "mirakl")}
    assert mirakl == {"Carrefour", "Fnac Darty", "ManoMano", "Leroy Merlin", "PcComponentes", "Conrad"}
    languages = Counter(c.language for c in Conversation.select())
    assert set(languages) == {"es", "fr", "de", "it", "en"}
    # Language follows the marketplace mostly.
    amazon_de = Counter(
        c.language for c in Conversation.select().join(Channel).where(Channel.marketplace == "amazon.de")
    )
    assert amazon_de.most_common(1)[0][0] == "de"
    uk = {
        c.language for c in Conversation.select().join(Channel).where(Channel.marketplace == "amazon.co.uk")
    }
    assert uk == {"en"}


def test_deadlines_spread_from_overdue_to_days_ahead(demo: Profile) -> None:
    convs = list(Conversation.select())
    running = [c.deadline_at for c in convs if c.deadline_at is not None]
    overdue = [d for d in running if d <= NOW]
    overdue_by_days = [d for d in overdue if d < NOW - timedelta(days=1)]
    due_soon = [d for d in running if NOW < d <= NOW + DUE_SOON_WINDOW]
    later = [d for d in running if d > NOW + DUE_SOON_WINDOW]
    days_ahead = [d for d in running if d > NOW + timedelta(hours=30)]
    assert len(overdue) >= 15
    assert overdue_by_days
    assert len(due_soon) >= 15
    assert len(later) >= 30
    assert days_ahead, "48-hour channels should show deadlines more than a day ahead"
    stopped = [c for c in convs if c.status in ("closed", "pending")]
    assert stopped and all(c.deadline_at is None for c in stopped)
    statuses = Counter(c.status for c in convs)
    assert set(statuses) == {"open", "pending", "snoozed", "closed"}
    assert any(c.status == "open" and c.deadline_at is None for c in convs)  # answered, or no response needed
    assert all(c.snoozed_until > NOW for c in convs if c.status == "snoozed")


def test_every_deadline_is_what_the_channel_policy_gives_for_the_stored_messages(demo: Profile) -> None:
    checked = 0
    for conv in Conversation.select():
        rows = list(Message.select().where(Message.conversation == conv))
        state = deadlines.compute_deadline(
            ingest.policy_for_channel(conv.channel),
            [
                deadlines.ClockMessage(
                    "in" if m.direction == "in" else "out", m.sent_at, bool(m.is_auto_reply)
                )
                for m in rows
            ],
            status=conv.status,
            no_response_needed=bool(conv.no_response_needed),
            reply_needed_since=conv.reply_needed_since,
        )
        assert (conv.deadline_started_at, conv.deadline_at) == (state.started_at, state.deadline_at), conv.id
        checked += 1
    assert checked == COUNT


def test_messages_are_real_text_in_order_and_in_the_past(demo: Profile) -> None:
    counts = []
    for conv in Conversation.select():
        msgs = list(
            Message.select().where(Message.conversation == conv).order_by(Message.sent_at, Message.id)
        )
        counts.append(len(msgs))
        assert 1 <= len(msgs) <= 5
        assert msgs[0].direction == "in"
        assert conv.message_count == len(msgs)
        times = [m.sent_at for m in msgs]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert times[-1] <= NOW
        texts = [m.text_body for m in msgs]
        assert len(set(texts)) == len(texts), "a thread never says the same thing twice"
        for m in msgs:
            assert len(m.text_body.strip()) > 10
            assert "{" not in m.text_body and "}" not in m.text_body, m.text_body  # every slot filled
        assert conv.subject.strip() and "{" not in conv.subject
    average = sum(counts) / len(counts)
    assert 2.5 <= average <= 3.5
    assert Counter(counts)[5] > 0
    assert Message.select().where(Message.direction == "out").exists()


def test_order_ids_follow_each_channel_format(demo: Profile) -> None:
    seen: Counter[str] = Counter()
    for conv in Conversation.select().join(Channel):
        if conv.order_id is None:
            continue
        pattern = ORDER_ID_PATTERNS[conv.channel.kind]
        assert re.fullmatch(pattern, conv.order_id), (conv.channel.kind, conv.order_id)
        seen[conv.channel.kind] += 1
    assert set(seen) == {"amazon", "ebay", "mirakl", "kaufland", "email"}


def test_customers_tags_tracking_attachments_and_events(demo: Profile) -> None:
    per_customer = Counter(c.customer_id for c in Conversation.select() if c.customer_id is not None)
    assert per_customer and max(per_customer.values()) >= 2, "some customers should write more than once"
    tags = {t.name for t in Tag.select().join(ConversationTag).distinct()}
    assert {"Return", "Damaged"} <= tags
    with_tracking = [c for c in Conversation.select() if c.extra.get("tracking_number")]
    assert with_tracking and all(c.extra.get("carrier") for c in with_tracking)
    attachment = Attachment.select().first()
    assert attachment is not None and attachment.size > 0 and demo.blobs.exists(attachment.sha256)
    # Every message is in the event log, for reports.
    assert Event.select().where(Event.kind.in_(["received", "replied"])).count() == Message.select().count()


def test_amazon_customers_write_from_relay_aliases(demo: Profile) -> None:
    conv = Conversation.select().join(Channel).where(Channel.marketplace == "amazon.fr").first()
    first = Message.select().where(Message.conversation == conv).order_by(Message.sent_at).first()
    assert re.fullmatch(r"[a-z0-9]{15}@marketplace\.amazon\.fr", first.author_address)
    assert "Amazon" in conv.subject


def test_rejects_a_negative_count(profile: Profile) -> None:
    with pytest.raises(ValueError, match="negative"):
        generate(profile, count=-1)
    assert generate(profile, count=0) == 0


def test_without_now_the_deadlines_spread_around_the_current_time(profile: Profile) -> None:
    before = datetime.now(UTC)
    generate(profile, count=60, seed=2)
    running = [c.deadline_at for c in Conversation.select() if c.deadline_at is not None]
    assert any(d <= before for d in running)
    assert any(d > before for d in running)
    assert all(before - timedelta(days=5) < d < before + timedelta(days=4) for d in running)
