"""Allegro's JSON to the channel dataclasses, the cursor, the request budget and the token record."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from inbox_app.channels.allegro import OAuthTokens
from inbox_app.channels.allegro.connector import _Cursor, _RateBudget, upload_type
from inbox_app.channels.allegro.parse import attachment_id, parse_message, parse_thread
from inbox_app.channels.base import OutgoingFile, ParticipantKind
from inbox_app.domain.conversations import Direction


def message(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "id": "m-1",
        "status": "DELIVERED",
        "type": "ASK_QUESTION",
        "createdAt": "2026-12-01T08:30:00.123Z",
        "thread": {"id": "t-1"},
        "author": {"login": "kupujacy", "isInterlocutor": True},
        "text": "Dzień dobry",
        "subject": "Pytanie",
        "relatesTo": {"offer": {"id": "17001234567"}, "order": None},
        "hasAdditionalAttachments": False,
        "attachments": [],
    }
    data.update(overrides)
    return data


def test_is_interlocutor_decides_the_direction() -> None:
    buyer = parse_message(message(), "t-1")
    seller = parse_message(message(author={"login": "moj-sklep", "isInterlocutor": False}), "t-1")
    assert (buyer.direction, buyer.author.kind) == (Direction.IN, ParticipantKind.CUSTOMER)
    assert (seller.direction, seller.author.kind) == (Direction.OUT, ParticipantKind.SHOP)
    assert buyer.sent_at == datetime(2026, 12, 1, 8, 30, 0, 123000, tzinfo=UTC)
    assert buyer.problems == ()


def test_without_is_interlocutor_the_sellers_login_decides_and_the_gap_is_noted() -> None:
    parsed = parse_message(message(author={"login": "Moj-Sklep"}), "t-1", seller_login="moj-sklep")
    assert parsed.direction is Direction.OUT
    assert parsed.problems == ("message.author.isInterlocutor missing",)


def test_an_offer_is_never_taken_for_an_order() -> None:
    only_offer = parse_thread({"id": "t-1"}, [message()])
    assert only_offer.offer_id == "17001234567" and only_offer.order_id is None
    both = parse_thread(
        {"id": "t-1"},
        [message(relatesTo={"offer": {"id": "1700"}, "order": {"id": "c0ffee-order"}})],
    )
    assert (both.order_id, both.offer_id) == ("c0ffee-order", "1700")
    nothing = parse_thread({"id": "t-1"}, [message(relatesTo=None)])
    assert (nothing.order_id, nothing.offer_id) == (None, None)


def test_attachments_take_their_id_from_the_url() -> None:
    url = "https://upload.allegro.pl/message-center/message-attachments/5b0f1e0a-0c11-4d2b-a1b2-29d0c3f07c2b"
    assert attachment_id(url) == "5b0f1e0a-0c11-4d2b-a1b2-29d0c3f07c2b"
    parsed = parse_message(
        message(
            attachments=[
                {"fileName": "zdjecie.jpg", "mimeType": "image/jpeg", "url": url, "status": "SAFE"},
                {"fileName": "broken.jpg", "mimeType": "image/jpeg", "url": None, "status": "SAFE"},
            ]
        ),
        "t-1",
    )
    [attachment] = parsed.attachments
    assert (attachment.remote_id, attachment.name, attachment.mime_type) == (
        "5b0f1e0a-0c11-4d2b-a1b2-29d0c3f07c2b",
        "zdjecie.jpg",
        "image/jpeg",
    )
    assert parsed.problems == ("attachment without url",)


def test_an_unreadable_date_or_a_missing_id_is_noted_and_the_raw_kept() -> None:
    parsed = parse_message(message(createdAt="yesterday", id=None), "t-1")
    assert parsed.sent_at == datetime.fromtimestamp(0, UTC)
    assert parsed.remote_id.startswith("noid-")
    assert "message.createdAt unreadable: 'yesterday'" in parsed.problems
    assert json.loads(parsed.raw)["createdAt"] == "yesterday"
    again = parse_message(message(createdAt="yesterday", id=None), "t-1")
    assert again.remote_id == parsed.remote_id  # stable: the next sync does not double it
    with pytest.raises(ValueError):
        parse_thread({"read": True}, [])


def test_thread_fields_and_the_reply_clock() -> None:
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def at(minutes: int) -> str:
        return (start + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

    thread = parse_thread(
        {"id": "t-1", "read": False, "lastMessageDateTime": at(30), "interlocutor": {"login": "ania"}},
        [  # newest first, as Allegro sends them
            message(id="m-3", createdAt=at(30), subject=None),
            message(id="m-2", createdAt=at(20), author={"login": "sklep", "isInterlocutor": False}),
            message(id="m-1", createdAt=at(10), subject="Reklamacja"),
        ],
    )
    assert [m.remote_id for m in thread.messages] == ["m-1", "m-2", "m-3"]
    assert thread.subject == "Reklamacja"
    assert thread.customer is not None and thread.customer.display_name == "ania"
    assert thread.last_message_at == start + timedelta(minutes=30)
    assert thread.reply_needed_since == start + timedelta(minutes=30)  # m-3 came after the seller's answer
    assert thread.created_at == start + timedelta(minutes=10)
    assert json.loads(thread.raw)["read"] is False


def test_a_damaged_cursor_lists_everything_again() -> None:
    cursor = _Cursor(
        since=datetime(2026, 12, 1, tzinfo=UTC), offset=40, marker=datetime(2026, 12, 2, tzinfo=UTC)
    )
    assert _Cursor.decode(cursor.encode()) == cursor
    for damaged in ("{", '{"v": 2}', '{"v": 1, "offset": -3}', '{"v": 1, "since": "soon"}', "[]"):
        assert _Cursor.decode(damaged) == _Cursor()


def test_the_budget_never_lets_more_than_the_limit_through_in_a_minute() -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    budget = _RateBudget(3, clock=lambda: now[0], sleep=sleep)

    async def main() -> list[float]:
        sent: list[float] = []
        for _ in range(7):
            await budget.take()
            sent.append(now[0])
            now[0] += 1.0
        return sent

    sent = asyncio.run(main())
    assert sent == [0.0, 1.0, 2.0, 60.0, 61.0, 62.0, 120.0]
    assert all(sum(1 for t in sent if start <= t < start + 60) <= 3 for start in sent)
    assert budget.peak == 3 and waits


def test_tokens_round_trip_and_never_show_in_repr() -> None:
    tokens = OAuthTokens("acc-secret", "ref-secret", datetime(2026, 12, 5, 22, 0, tzinfo=UTC))
    assert OAuthTokens.from_json(tokens.to_json()) == tokens
    assert "secret" not in repr(tokens)


def test_upload_types_follow_what_allegro_takes() -> None:
    assert upload_type(OutgoingFile("a.PDF", b"x")) == "application/pdf"
    assert upload_type(OutgoingFile("scan.tif", b"x")) == "image/tiff"
    assert upload_type(OutgoingFile("photo", b"x", "image/jpeg")) == "image/jpeg"
