"""The full-text index is filled in batches (schema v2), yet search never misses, nor finds stale text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from inbox_app.domain.conversations import Direction, IncomingMessage
from inbox_app.profile import Profile, open_profile
from inbox_app.store import ingest, search_index
from inbox_app.store.models import Account, Conversation, Message
from inbox_app.store.search import search_conversation_ids


def _message(text: str, remote: str) -> tuple[Conversation, Message]:
    account, _ = Account.get_or_create(kind="imap", name="Shop")
    channel = ingest.ensure_channel(account, "email", "shop", None)
    conversation = ingest.create_conversation(account, channel, remote_id=remote, subject="Parcel")
    message = ingest.add_message(
        conversation,
        IncomingMessage(direction=Direction.IN, sent_at=datetime.now(UTC), text=text, remote_id=remote),
    )
    return conversation, message


def _fts_hits(profile: Profile, word: str) -> int:
    return int(
        profile.db.execute_sql(
            "SELECT COUNT(*) FROM message_fts WHERE message_fts MATCH ?", (word,)
        ).fetchone()[0]
    )


def test_new_messages_wait_in_the_queue_and_search_catches_up(profile: Profile) -> None:
    conversation, _message_row = _message("the blue kettle arrived broken", "a")
    assert search_index.pending_count() == 1
    assert _fts_hits(profile, "kettle") == 0  # not indexed inside the write
    assert search_conversation_ids("kettle") == [conversation.id]  # the search indexed the backlog first
    assert search_index.pending_count() == 0


def test_changed_text_is_reindexed_and_old_words_are_forgotten(profile: Profile) -> None:
    conversation, message = _message("placeholder", "b")
    assert search_index.index_pending() == 1
    Message.update(text_body="the red umbrella is torn").where(Message.id == message.id).execute()
    assert search_index.pending_count() == 1
    assert _fts_hits(profile, "placeholder") == 0  # forgotten at once, not at the next indexing run
    assert search_conversation_ids("umbrella") == [conversation.id]
    assert search_conversation_ids("placeholder") == []
    # A deleted message leaves neither the index nor the queue with a dangling row.
    Message.delete().where(Message.id == message.id).execute()
    assert search_index.pending_count() == 0
    assert _fts_hits(profile, "umbrella") == 0


def test_indexing_in_chunks_reports_progress(profile: Profile) -> None:
    for n in range(5):
        _message(f"order number {n} lamp", f"c{n}")
    seen: list[tuple[int, int]] = []
    assert search_index.index_pending(lambda done, total: seen.append((done, total)), chunk=2) == 5
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert _fts_hits(profile, "lamp") == 5


def test_a_version_1_database_keeps_its_index_after_the_upgrade(tmp_path: Path) -> None:
    fixture = Path(__file__).parent.parent / "data" / "schemas" / "schema_v1.sqlite3"
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "inbox.sqlite3").write_bytes(fixture.read_bytes())
    profile = open_profile(tmp_path / "p")
    try:
        assert search_index.pending_count() == 0  # v1 indexed in its triggers: nothing to catch up
        word = str(Message.select().first().text_body).split()[0]
        indexed = _fts_hits(profile, f'"{word}"')
        assert indexed > 0
        assert search_conversation_ids(word)
    finally:
        profile.close()
