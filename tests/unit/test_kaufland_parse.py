"""Kaufland pure parts: the request signature (the vendor's published test vector), the ticket parser (roles,
order id, files, deadline clock) and the open-reason → category mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from inbox_app.channels.base import ParticipantKind
from inbox_app.channels.kaufland import KauflandAuth, category_for, sign
from inbox_app.channels.kaufland.parse import order_id_of, parse_message, parse_ticket, role_kind
from inbox_app.domain.conversations import Direction

VECTOR_SECRET = "a7d0cb1da1ddbc86c96ee5fedd341b7d8ebfbb2f5c83cfe0909f4e57f05dd403"
VECTOR_SIGNATURE = "da0b65f51c0716c1d3fa658b7eaf710583630a762a98c9af8e9b392bd9df2e2a"


def test_signature_reproduces_the_vendors_published_test_vector() -> None:
    assert (
        sign(VECTOR_SECRET, "POST", "https://sellerapi.kaufland.com/v2/units/", b"", 1411055926)
        == VECTOR_SIGNATURE
    )
    # The trailing "/" is part of the URL that is signed.
    assert sign(VECTOR_SECRET, "POST", "https://sellerapi.kaufland.com/v2/units", b"", 1411055926) != (
        VECTOR_SIGNATURE
    )


def test_the_auth_signs_the_request_as_sent() -> None:
    auth = KauflandAuth("client-key", VECTOR_SECRET, clock=lambda: 1411055926.7)
    request = httpx.Request("POST", "https://sellerapi.kaufland.com/v2/units/")
    signed = next(auth.auth_flow(request))
    assert signed.headers["Shop-Client-Key"] == "client-key"
    assert signed.headers["Shop-Timestamp"] == "1411055926"
    assert signed.headers["Shop-Signature"] == VECTOR_SIGNATURE
    assert VECTOR_SECRET not in repr(auth)

    body = json.dumps({"text": "Grüße"}, ensure_ascii=False).encode()
    with_body = next(
        auth.auth_flow(httpx.Request("POST", "https://x.test/v2/tickets/1/messages?a=1", content=body))
    )
    assert with_body.headers["Shop-Signature"] == sign(
        VECTOR_SECRET, "POST", "https://x.test/v2/tickets/1/messages?a=1", body, 1411055926
    )


@pytest.mark.parametrize(
    ("reason", "topic", "category"),
    [
        ("product_not_as_described", None, "wrong_item"),
        ("product_defect", "delivery_delayed", "damaged"),  # the reason wins over the topic
        ("product_not_delivered", None, "delivery"),
        ("product_return", None, "return"),
        ("contact_other", None, "other"),
        ("contact_other", "issue_coupon", "promo_code"),
        ("contact_other", "invoice_needed", "invoice"),
        ("contact_other", "product_availability", "stock"),
        ("contact_other", "product_properties", "pre_sale"),
        ("contact_other", "issue_paypal", "payment"),
        ("contact_other", "order_cancel", "refund"),
        ("something_new", None, "other"),
        (None, None, "other"),
    ],
)
def test_open_reason_maps_to_the_apps_categories(
    reason: str | None, topic: str | None, category: str
) -> None:
    assert category_for(reason, topic) == category


def test_roles_seller_is_outbound_kaufland_itself_is_the_marketplace() -> None:
    assert role_kind("seller") is ParticipantKind.SHOP
    assert role_kind("buyer") is ParticipantKind.CUSTOMER
    assert role_kind("system") is ParticipantKind.OPERATOR
    assert role_kind("customer_service") is ParticipantKind.OPERATOR
    assert role_kind("robot") is ParticipantKind.OTHER
    note = parse_message(
        {
            "id_ticket_message": 7,
            "id_ticket": "t1",
            "author": {"role": "customer_service", "name": "Kaufland Kundenservice"},
            "text": "Bitte antworten Sie dem Kunden.",
            "ts_created_iso": "2026-11-30T10:00:00+01:00",
        }
    )
    assert note.direction is Direction.IN and note.from_operator
    assert note.sent_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    odd = parse_message({"id_ticket_message": 8, "id_ticket": "t1", "author": {"role": "robot"}, "text": "x"})
    assert odd.direction is Direction.IN and odd.problems  # kept, with what could not be read


def _ticket(**extra: object) -> dict[str, object]:
    return {
        "id_ticket": "5a1b",
        "ids_order_units": [401234567, 401234568],
        "id_buyer": 9000123,
        "ts_created_iso": "2026-11-30T09:00:00Z",
        "ts_updated_iso": "2026-11-30T12:00:00Z",
        "status": "opened",
        "open_reason": "product_defect",
        "topic": "order_product_defect",
        "storefront": "de",
        **extra,
    }


def _msg(mid: int, role: str, at: str, text: str = "…") -> dict[str, object]:
    return {
        "id_ticket_message": mid,
        "author": {"role": role, "name": role},
        "text": text,
        "ts_created_iso": at,
    }


def test_the_order_id_comes_from_order_units_never_from_unit_or_offer_ids() -> None:
    units = [{"id_order_unit": 401234567, "id_order": "MPWMHD2", "id_offer": "OFF-1"}]
    thread = parse_ticket(_ticket(messages=[], order_units=units))
    assert thread.order_id == "MPWMHD2"
    assert order_id_of({"ids_order_units": [401234567]}) is None  # only unit ids: no order id invented
    bare = parse_ticket(_ticket(messages=[]))
    assert bare.order_id is None and any("order units" in p for p in bare.problems)
    assert thread.category_hint == "damaged"
    assert thread.marketplace == "Kaufland DE"


def test_the_deadline_clock_starts_at_the_oldest_unanswered_buyer_message() -> None:
    messages = [
        _msg(1, "buyer", "2026-11-30T09:00:00Z"),
        _msg(2, "seller", "2026-11-30T10:00:00Z"),
        _msg(3, "customer_service", "2026-11-30T10:30:00Z"),  # Kaufland's note does not start it
        _msg(4, "buyer", "2026-11-30T11:00:00Z"),
        _msg(5, "buyer", "2026-11-30T11:30:00Z"),
    ]
    thread = parse_ticket(_ticket(messages=messages))
    assert thread.reply_needed_since == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    assert thread.messages_complete and [m.remote_id for m in thread.messages] == ["1", "2", "3", "4", "5"]
    answered = parse_ticket(_ticket(messages=[*messages, _msg(6, "seller", "2026-11-30T12:00:00Z")]))
    assert answered.reply_needed_since is None
    closed = parse_ticket(_ticket(messages=messages, status="buyer_closed"))
    assert closed.reply_needed_since is None and closed.no_reply_needed


def test_messages_from_the_bulk_endpoint_and_ticket_files() -> None:
    bulk = [
        {**_msg(2, "seller", "2026-11-30T10:00:00Z"), "id_ticket": "5a1b"},
        _msg(1, "buyer", "2026-11-30T09:00:00Z"),
    ]
    files = [{"filename": "foto.jpg", "ts_created_iso": "2026-11-30T09:00:00Z", "uri": "https://x.test/f/1"}]
    thread = parse_ticket(_ticket(files=files), messages=bulk, complete=False)
    assert not thread.messages_complete
    first, second = thread.messages
    assert [a.name for a in first.attachments] == ["foto.jpg"] and not second.attachments
    assert first.attachments[0].remote_id == "https://x.test/f/1"
    assert json.loads(thread.raw)["id_ticket"] == "5a1b" and "messages" not in json.loads(thread.raw)
    with pytest.raises(ValueError):
        parse_ticket({"status": "opened"})
