"""Mirakl JSON → channel dataclasses: documented fields, tolerance of what the vendor may add or omit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbox_app.channels.base import ParticipantKind
from inbox_app.channels.mirakl.connector import _Cursor
from inbox_app.channels.mirakl.parse import format_datetime, parse_datetime, parse_thread
from inbox_app.domain.conversations import Direction

THREAD: dict[str, Any] = {
    "id": "3a0f-thread",
    "topic": {"type": "REASON_CODE", "value": "Article non reçu"},
    "entities": [
        {"id": "OFFER-9", "label": "Offer", "type": "MMP_OFFER"},
        {"id": "FR-12-A", "label": "FR-12", "type": "MMP_ORDER"},
    ],
    "authorized_participants": [
        {"display_name": "Jean D.", "id": "c-1", "type": "CUSTOMER"},
        {"display_name": "Carrefour", "type": "OPERATOR"},
        {"display_name": "Ma Boutique", "id": "2001", "type": "SHOP"},
    ],
    "current_participants": [
        {"display_name": "Jean D.", "id": "c-1", "type": "CUSTOMER"},
        {"display_name": "Ma Boutique", "id": "2001", "type": "SHOP"},
    ],
    "customer_organization": {"display_name": "Jean's Co", "id": "org-1"},
    "date_created": "2026-11-28T08:00:00Z",
    "date_updated": "2026-11-29T10:30:00.250Z",
    "metadata": {
        "last_message_date": "2026-11-29T10:30:00Z",
        "last_sender": {"type": "CUSTOMER_USER", "display_name": "Jean D."},
        "shop_reply_needed_since": "2026-11-29T10:30:00+00:00",
        "total_count": 2,
    },
    "no_store_reply_needed": [],
    "messages": [
        {
            "id": "m-2",
            "date_created": "2026-11-29T10:30:00Z",
            "body": "Toujours rien reçu.",
            "from": {
                "type": "CUSTOMER_USER",
                "display_name": "Jean D.",
                "organization_details": {"display_name": "Jean D.", "id": "c-1", "type": "CUSTOMER"},
            },
            "to": [{"display_name": "Ma Boutique", "id": "2001", "type": "SHOP"}],
            "attachments": [{"id": "att-1", "name": "preuve.png", "size": 2048}],
        },
        {
            "id": "m-1",
            "date_created": "2026-11-28T08:00:00Z",
            "body": "Bonjour, où est mon colis ?",
            "from": {"type": "CUSTOMER_USER", "display_name": "Jean D."},
            "to": [],
        },
    ],
}


def test_a_documented_thread_is_read_completely() -> None:
    thread = parse_thread(THREAD)
    assert thread.remote_id == "3a0f-thread" and thread.subject == "Article non reçu"
    assert thread.order_id == "FR-12-A"  # the MMP_ORDER entity, not the offer
    assert thread.marketplace == "Carrefour"
    assert thread.customer is not None and thread.customer.remote_id == "c-1"
    assert thread.updated_at == datetime(2026, 11, 29, 10, 30, 0, 250000, tzinfo=UTC)
    assert thread.reply_needed_since == datetime(2026, 11, 29, 10, 30, tzinfo=UTC)
    assert thread.total_messages == 2 and thread.messages_complete
    assert [m.remote_id for m in thread.messages] == ["m-1", "m-2"]  # oldest first
    latest = thread.messages[-1]
    assert latest.direction is Direction.IN and latest.author.kind is ParticipantKind.CUSTOMER
    assert latest.attachments[0].name == "preuve.png" and latest.attachments[0].size == 2048
    assert thread.problems == ()
    assert "messages" not in json.loads(thread.raw) and json.loads(latest.raw)["id"] == "m-2"


def test_m11_embeds_only_the_last_messages_so_the_thread_says_it_is_incomplete() -> None:
    data = {**THREAD, "metadata": {**THREAD["metadata"], "total_count": 140}}
    assert parse_thread(data).messages_complete is False
    assert parse_thread(data, complete=True).messages_complete is True  # M10 has them all
    no_count = {**THREAD, "metadata": {}, "messages": [THREAD["messages"][0]] * 100}
    assert parse_thread(no_count).messages_complete is False


def test_unknown_values_and_missing_fields_do_not_stop_the_thread() -> None:
    data = {
        "id": "t-2",
        "date_updated": "yesterday",
        "metadata": None,
        "messages": [
            {"body": "no id, no date", "from": {"type": "MARKETPLACE_BOT"}},
            {
                "id": "m-9",
                "date_created": "2026-01-01T00:00:00Z",
                "from": {"type": "SHOP_USER"},
                "body": None,
            },
        ],
    }
    thread = parse_thread(data)
    assert thread.updated_at is None and "thread.date_updated unreadable: 'yesterday'" in thread.problems
    bot, shop = thread.messages  # an undated message sorts first
    assert bot.author.kind is ParticipantKind.OTHER and bot.remote_id.startswith("noid-")
    assert "message.id missing" in bot.problems and "message.date_created missing" in bot.problems
    assert shop.direction is Direction.OUT and shop.body == ""
    assert parse_thread(data).messages[0].remote_id == bot.remote_id  # the derived id is stable
    assert thread.order_id is None and thread.customer is None and thread.reply_needed_since is None


def test_a_thread_without_id_is_refused() -> None:
    with pytest.raises(ValueError, match="without id"):
        parse_thread({"topic": {"value": "x"}})


def test_no_store_reply_needed_holds_until_the_customer_writes_again() -> None:
    action = [{"date": "2026-11-29T11:00:00Z", "user_type": "OPERATOR"}]
    answered = {**THREAD, "metadata": {**THREAD["metadata"], "shop_reply_needed_since": None}}
    assert parse_thread({**answered, "no_store_reply_needed": action}).no_reply_needed is True
    still_waiting_since_before = {**THREAD, "no_store_reply_needed": action}  # action after the wait began
    assert parse_thread(still_waiting_since_before).no_reply_needed is True
    new_message_after = {
        **THREAD,
        "metadata": {**THREAD["metadata"], "shop_reply_needed_since": "2026-11-29T12:00:00Z"},
        "no_store_reply_needed": action,
    }
    assert parse_thread(new_message_after).no_reply_needed is False
    assert parse_thread(THREAD).no_reply_needed is False


@given(
    st.dictionaries(
        st.sampled_from(
            ["topic", "entities", "metadata", "messages", "date_created", "no_store_reply_needed", "x"]
        ),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=10,
        ),
    )
)
def test_any_json_with_an_id_gives_a_thread(extra: dict[str, Any]) -> None:
    thread = parse_thread({**extra, "id": "t"})
    assert thread.remote_id == "t"
    json.loads(thread.raw)


def test_dates_for_the_query_are_utc_and_rounded_down() -> None:
    paris = datetime(2026, 12, 5, 10, 0, 59, 999000).astimezone()
    assert format_datetime(datetime(2026, 12, 5, 9, 0, 59, 999999, tzinfo=UTC)) == "2026-12-05T09:00:59Z"
    assert parse_datetime(format_datetime(paris)) is not None
    assert parse_datetime("2026-12-05T10:00:00+01:00") == datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    assert parse_datetime("2026-12-05T09:00:00") == datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_datetime(12345)


def test_cursor_round_trip_and_a_damaged_cursor_lists_everything_again() -> None:
    since = datetime(2026, 12, 1, tzinfo=UTC)
    cursor = _Cursor(since=since, page_token="tok", marker=since + timedelta(hours=1))
    assert _Cursor.decode(cursor.encode()) == cursor
    assert _Cursor.decode(None) == _Cursor() == _Cursor.decode("")
    for damaged in ("{", "[]", '{"v": 99}', '{"v": 1, "since": "not a date"}'):
        assert _Cursor.decode(damaged) == _Cursor()
