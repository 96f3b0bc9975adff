"""The local store: schema, derived fields, views, search, outbox states, drafts and the event log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import peewee
import pytest

from inbox_app.domain.conversations import Direction, IncomingMessage, Status
from inbox_app.domain.views import View, ViewKind
from inbox_app.profile import Profile, open_profile
from inbox_app.store import conversations, drafts, ingest, outbox, search
from inbox_app.store.events import events_for
from inbox_app.store.migrations import SCHEMA_VERSION, SchemaTooNewError, schema_version
from inbox_app.store.models import Account, Conversation, DeadlinePolicyRow, Event, Message

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _conversation(
    kind: str = "amazon", marketplace: str | None = "amazon.de", remote: str = "t1"
) -> Conversation:
    account, _ = Account.get_or_create(kind="imap", name="Shop mailbox")
    channel = ingest.ensure_channel(account, kind, f"{kind} {marketplace}", marketplace)
    customer = ingest.ensure_customer("email", f"{remote}@example.com", "Lucía Fernández", "es")
    return ingest.create_conversation(
        account,
        channel,
        remote_id=remote,
        subject="¿Dónde está mi paquete?",
        customer=customer,
        order_id="404-3382716-1234567",
    )


def _inbound(
    at: datetime, text: str = "Hola, mi pedido no ha llegado", remote: str | None = None
) -> IncomingMessage:
    return IncomingMessage(
        direction=Direction.IN, sent_at=at, text=text, author_name="Lucía", remote_id=remote, is_read=False
    )


def test_new_profile_has_schema_presets_and_starter_library(profile: Profile) -> None:
    assert schema_version(profile.db) == SCHEMA_VERSION
    assert DeadlinePolicyRow.select().where(DeadlinePolicyRow.key == "amazon").exists()
    from inbox_app.store import canned

    assert len(canned.all_responses()) >= 5
    mode = profile.db.execute_sql("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert profile.db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_refuses_a_database_from_a_newer_version(tmp_path: Path) -> None:
    prof = open_profile(tmp_path / "p")
    prof.db.execute_sql(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    prof.close()
    with pytest.raises(SchemaTooNewError, match=r"newer|update"):
        open_profile(tmp_path / "p")


def test_released_schema_fixture_opens_and_keeps_its_data(tmp_path: Path) -> None:
    """One fixture database per released schema: each must open (migrating, with a backup) and keep its rows."""
    fixtures = sorted((Path(__file__).parent.parent / "data" / "schemas").glob("schema_v*.sqlite3"))
    assert fixtures, "no schema fixtures: tests/data/schemas/schema_v1.sqlite3 must exist"
    for fixture in fixtures:
        target = tmp_path / fixture.stem
        target.mkdir()
        (target / "inbox.sqlite3").write_bytes(fixture.read_bytes())
        prof = open_profile(target)
        try:
            assert schema_version(prof.db) == SCHEMA_VERSION
            assert Conversation.select().count() > 0
            assert conversations.detail(Conversation.select().first().id) is not None
        finally:
            prof.close()
        version = int(fixture.stem.removeprefix("schema_v"))
        if version < SCHEMA_VERSION:
            assert list((target / "backups").glob(f"inbox-v{version}-*.sqlite3"))


def test_deadline_is_derived_from_messages_and_policy(profile: Profile) -> None:
    conv = _conversation()
    received = NOW - timedelta(hours=3)
    ingest.add_message(conv, _inbound(received, remote="m1"))
    conv = Conversation.get_by_id(conv.id)
    assert conv.deadline_started_at == received
    assert conv.deadline_at == received + timedelta(hours=24)  # Amazon: 24 h calendar
    assert conv.unread and conv.message_count == 1 and conv.snippet.startswith("Hola")

    ingest.add_message(
        conv, IncomingMessage(direction=Direction.OUT, sent_at=NOW, text="Lo sentimos", remote_id="r1")
    )
    conv = Conversation.get_by_id(conv.id)
    assert conv.deadline_at is None, "a reply stops the clock"

    later = NOW + timedelta(hours=1)
    ingest.add_message(conv, _inbound(later, "¿Alguna novedad?", remote="m2"))
    conv = Conversation.get_by_id(conv.id)
    assert conv.deadline_at == later + timedelta(hours=24), "a new inbound message starts a new clock"

    ingest.set_status(conv, Status.PENDING)
    assert Conversation.get_by_id(conv.id).deadline_at is None, "pending stops the clock"
    ingest.set_status(conv, Status.SNOOZED)
    assert Conversation.get_by_id(conv.id).deadline_at is not None, "snooze does not"
    kinds = [e.kind for e in events_for(conv.id)]
    assert kinds.count("received") == 2 and "replied" in kinds and kinds.count("status_changed") == 2


def test_adding_the_same_remote_message_twice_is_a_no_op(profile: Profile) -> None:
    conv = _conversation()
    first = ingest.add_message(conv, _inbound(NOW, remote="<abc@x>"))
    again = ingest.add_message(conv, _inbound(NOW, remote="<abc@x>"))
    assert first.id == again.id
    assert Message.select().count() == 1


def test_views_and_counts(profile: Profile) -> None:
    overdue = _conversation(remote="a")
    ingest.add_message(overdue, _inbound(NOW - timedelta(hours=30), remote="a1"))
    soon = _conversation(remote="b")
    ingest.add_message(soon, _inbound(NOW - timedelta(hours=22), remote="b1"))
    later = _conversation(remote="c")
    ingest.add_message(later, _inbound(NOW - timedelta(hours=1), remote="c1"))
    closed = _conversation(remote="d")
    ingest.add_message(closed, _inbound(NOW - timedelta(hours=1), remote="d1"))
    ingest.set_status(closed, Status.CLOSED)

    assert conversations.conversation_ids(View(ViewKind.OVERDUE), NOW) == [overdue.id]
    assert conversations.conversation_ids(View(ViewKind.DUE_SOON), NOW) == [soon.id]
    assert conversations.conversation_ids(View(ViewKind.OPEN), NOW) == [overdue.id, soon.id, later.id]
    assert conversations.conversation_ids(View(ViewKind.CLOSED), NOW) == [closed.id]
    assert conversations.conversation_ids(View(ViewKind.CHANNEL, "amazon"), NOW) == [
        overdue.id,
        soon.id,
        later.id,
    ]
    counts = conversations.view_counts([View(ViewKind.OVERDUE), View(ViewKind.OPEN)], NOW)
    assert counts == {"overdue": 1, "open": 3}

    rows = conversations.summaries([later.id, soon.id])
    assert rows[soon.id].customer_name == "Lucía Fernández"
    assert rows[soon.id].deadline_at == NOW + timedelta(hours=2)


def test_every_sidebar_count_is_the_length_of_its_view(profile: Profile) -> None:
    """The counts come from one grouped pass (not a query per view): each must still be what the view lists,
    for every kind of view, over accounts, channels, statuses, assignees and tags."""
    from inbox_app.store.models import ConversationTag, Tag
    from inbox_app.store.settings import AGENT_NAME, set_setting

    set_setting(AGENT_NAME, "Ana")
    shop = Account.create(kind="imap", name="Shop")
    other = Account.create(kind="mirakl", name="Fnac")
    channels = [
        ingest.ensure_channel(shop, "email", "shop mail", None),
        ingest.ensure_channel(shop, "amazon", "Amazon.de", "amazon.de"),
        ingest.ensure_channel(other, "mirakl", "Fnac", "fnac"),
    ]
    tags = [Tag.create(name="VIP"), Tag.create(name="Return")]
    statuses = [Status.OPEN, Status.PENDING, Status.SNOOZED, Status.CLOSED]
    for i in range(36):
        channel = channels[i % 3]
        conv = ingest.create_conversation(
            shop if channel.account_id == shop.id else other, channel, remote_id=f"r{i}", subject=f"S{i}"
        )
        ingest.add_message(conv, _inbound(NOW - timedelta(hours=i), remote=f"m{i}"))
        Conversation.update(status=statuses[i % 4].value, assignee=[None, "Ana", "Ben"][i % 5 % 3]).where(
            Conversation.id == conv.id
        ).execute()
        for tag in tags[: i % 3]:
            ConversationTag.create(conversation=conv, tag=tag)
    views = [
        View(kind) for kind in ViewKind if kind not in (ViewKind.ACCOUNT, ViewKind.CHANNEL, ViewKind.TAG)
    ]
    views = [view for view in views if view.kind is not ViewKind.SAVED]
    views += [View(ViewKind.ACCOUNT, str(shop.id)), View(ViewKind.ACCOUNT, str(other.id))]
    views += [View(ViewKind.CHANNEL, kind) for kind in ("email", "amazon", "mirakl", "ebay")]
    views += [View(ViewKind.TAG, name) for name in ("VIP", "Return", "Unused")]
    counts = conversations.view_counts(views, NOW)
    assert counts == {view.key: len(conversations.conversation_ids(view, NOW)) for view in views}
    assert 0 < counts["mine"] < counts["all"] == 36  # the sample exercises each kind, not only zeros


def test_search_is_safe_and_finds_words_prefixes_and_order_ids(profile: Profile) -> None:
    conv = _conversation()
    ingest.add_message(conv, _inbound(NOW, "La tetera llegó rota, envío foto por e-mail", remote="s1"))
    other = _conversation(remote="z")
    ingest.add_message(other, _inbound(NOW, "Wann kommt mein Paket?", remote="s2"))
    assert search.search_conversation_ids("tetera") == [conv.id]
    assert search.search_conversation_ids("tete") == [conv.id]  # prefix while typing
    assert search.search_conversation_ids("llego") == [conv.id]  # accents folded
    assert search.search_conversation_ids("paket") == [other.id]
    for hostile in ("e-mail", "user@x", '"', "AND OR NOT", "*", "(", 'tetera"; DROP TABLE message'):
        search.search_conversation_ids(hostile)  # never a syntax error
    assert search.search_conversation_ids("e-mail") == [conv.id]
    assert conv.id in search.search_conversation_ids("404-3382716-1234567")


def test_outbox_lifecycle_and_draft(profile: Profile) -> None:
    conv = _conversation()
    ingest.add_message(conv, _inbound(NOW, remote="o1"))
    drafts.save_draft(conv.id, "Hola Lucía,")
    assert drafts.load_draft(conv.id).body == "Hola Lucía,"
    # A mail reply always has a recipient: the outbox refuses one without (issue 11.8).
    item = outbox.queue_reply(
        conv, body="Hola Lucía, ya está en camino.", message_id="<x1@shop>", recipients=["lucia@example.es"]
    )
    assert drafts.load_draft(conv.id) is None, "queuing consumes the draft in the same transaction"
    assert [i.id for i in outbox.due_items(NOW)] == [item.id]
    outbox.mark_sending(item)
    outbox.mark_retry(item, "451 try later", now=NOW)
    assert outbox.due_items(NOW) == []
    assert [i.id for i in outbox.due_items(NOW + timedelta(minutes=1))] == [item.id]
    assert outbox.cancel(item.id)
    assert not outbox.cancel(item.id), "a cancelled reply cannot be cancelled again"
    with pytest.raises(peewee.IntegrityError):
        outbox.queue_reply(conv, body="dup", message_id="<x1@shop>", recipients=["lucia@example.es"])


def test_event_log_is_append_only(profile: Profile) -> None:
    conv = _conversation()
    ingest.add_message(conv, _inbound(NOW, remote="e1"))
    with pytest.raises(peewee.IntegrityError, match="append-only"):
        Event.update(kind="tampered").execute()
    with pytest.raises(peewee.IntegrityError, match="append-only"):
        Event.delete().execute()
    assert Event.select().count() == 1


def test_mark_unread_and_read_again(profile: Profile) -> None:
    conv = _conversation()
    ingest.add_message(conv, _inbound(NOW, remote="u1"))
    conversations.mark_read(conv.id)
    assert not conversations.summary(conv.id).unread
    conversations.mark_unread(conv.id)
    assert conversations.summary(conv.id).unread
    assert Message.select().where(Message.is_read == False).count() == 1  # noqa: E712


def test_sidebar_sources_list_accounts_channel_kinds_and_tags(profile: Profile) -> None:
    from inbox_app.store.models import ConversationTag, Tag

    conv = _conversation()
    ConversationTag.create(conversation=conv, tag=Tag.create(name="VIP"))
    accounts, channels, tags = conversations.sidebar_sources()
    assert accounts == [(conv.account_id, "Shop mailbox")]
    assert channels == ["amazon"]
    assert tags == ["VIP"]


def test_no_index_that_a_composite_index_already_covers(tmp_path: Path) -> None:
    """Fresh and migrated profiles alike: lookups by those columns still use an index (the composite one)."""
    from inbox_app.store.migrations import REDUNDANT_INDEXES

    fixture = Path(__file__).parent.parent / "data" / "schemas" / "schema_v1.sqlite3"
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "inbox.sqlite3").write_bytes(fixture.read_bytes())
    for folder in ("new", "old"):
        prof = open_profile(tmp_path / folder)
        try:
            names = {
                row[0] for row in prof.db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'index'")
            }
            assert names.isdisjoint(REDUNDANT_INDEXES)
            for sql in (
                "SELECT id FROM message WHERE conversation_id = 1",
                "SELECT id FROM conversation WHERE channel_id = 1",
                "SELECT id FROM conversation WHERE account_id = 1",
                "SELECT id FROM conversation WHERE status = 'open'",
                "SELECT id FROM mail_location WHERE account_id = 1",
            ):
                plan = " ".join(str(r[-1]) for r in prof.db.execute_sql("EXPLAIN QUERY PLAN " + sql))
                assert "USING" in plan and "INDEX" in plan, (sql, plan)
        finally:
            prof.close()


def test_upgrade_to_v3_marks_mail_already_flagged_answered_on_the_server(tmp_path: Path) -> None:
    """``message.is_answered`` is new in v3: a v2 profile's stored \\Answered flags fill it in."""
    import sqlite3

    fixture = Path(__file__).parent.parent / "data" / "schemas" / "schema_v2.sqlite3"
    db_path = tmp_path / "inbox.sqlite3"
    db_path.write_bytes(fixture.read_bytes())
    raw = sqlite3.connect(str(db_path))
    try:
        inbound = [
            r[0] for r in raw.execute("SELECT id FROM message WHERE direction = 'in' ORDER BY id LIMIT 2")
        ]
        account = raw.execute("SELECT id FROM account LIMIT 1").fetchone()[0]
        for uid, (message_id, flags) in enumerate(
            zip(inbound, ['["\\\\Answered", "\\\\Seen"]', '["\\\\Seen"]'], strict=True), start=1
        ):
            raw.execute(
                "INSERT INTO mail_location (account_id, folder, uidvalidity, uid, message_id, flags, body_fetched) "
                "VALUES (?, 'INBOX', 1, ?, ?, ?, 1)",
                (account, uid, message_id, flags),
            )
        raw.commit()
    finally:
        raw.close()
    prof = open_profile(tmp_path)
    try:
        answered = {m.id: m.is_answered for m in Message.select().where(Message.id.in_(inbound))}
        assert answered == {inbound[0]: True, inbound[1]: False}
        assert Message.select().where(Message.is_answered).count() == 1
    finally:
        prof.close()


def test_disk_full_is_recognised_through_wrapping_and_nothing_else_is() -> None:
    import errno
    import sqlite3

    from inbox_app.store.db import is_disk_full

    try:
        try:
            raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.OperationalError as inner:
            raise peewee.OperationalError("cannot rollback - no transaction is active") from inner
    except peewee.OperationalError as wrapped:
        assert is_disk_full(wrapped)
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(sqlite3.OperationalError("database is locked"))
    assert not is_disk_full(None)


def test_a_status_view_reads_the_list_order_index_without_sorting(profile: Profile) -> None:
    from inbox_app.store.conversations import DEFAULT_ORDER

    query = Conversation.select(Conversation.id).where(Conversation.status == "open").order_by(*DEFAULT_ORDER)
    sql, params = query.sql()
    plan = " ".join(str(row[-1]) for row in profile.db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
    assert "COVERING INDEX conversation_list_order" in plan and "TEMP B-TREE" not in plan, plan
