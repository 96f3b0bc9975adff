"""Kaufland Seller API v2 ticket JSON to the channel dataclasses, and the open-reason → category mapping.

Field names follow the vendor's OpenAPI contract (sellerapi.kaufland.com; the generated SDKs agree): a ticket
``{id_ticket, ids_order_units[], id_buyer, ts_created_iso, ts_updated_iso, status, open_reason, topic,
is_seller_responsible, fulfillment_type, storefront}`` with, when embedded, ``messages[]``, ``order_units[]``
(each with ``id_order`` and ``id_order_unit``), ``buyer``, ``files[]{filename, ts_created_iso, uri}``. A
message is ``{id_ticket_message, id_ticket, author{role, name}, text, ts_created_iso}``, the same whether it
comes embedded in its ticket or from ``GET /tickets/messages``.

Author roles: ``seller`` is us (outbound); ``buyer`` the customer; ``system`` and ``customer_service`` are
Kaufland itself (inbound, shown as from the marketplace). An unknown role becomes OTHER, inbound. A missing or
unreadable field is noted in ``problems``; the ticket is still delivered with the vendor's JSON in ``raw``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from inbox_app.channels.base import (
    Participant,
    ParticipantKind,
    RemoteAttachment,
    RemoteMessage,
    RemoteThread,
)
from inbox_app.domain.conversations import Direction

__all__ = [
    "CLOSED_STATUSES",
    "category_for",
    "format_datetime",
    "order_id_of",
    "parse_datetime",
    "parse_message",
    "parse_ticket",
    "reply_needed_since",
    "role_kind",
]

Json = Mapping[str, Any]

_ROLES = {
    "seller": ParticipantKind.SHOP,
    "buyer": ParticipantKind.CUSTOMER,
    "system": ParticipantKind.OPERATOR,
    "customer_service": ParticipantKind.OPERATOR,
}

#: Ticket statuses after which Kaufland awaits no answer from the seller.
CLOSED_STATUSES = frozenset({"buyer_closed", "seller_closed", "both_closed", "customer_service_closed_final"})

#: ``open_reason`` → the app's categories (delivery, damaged, wrong_item, return, refund, stock, promo_code,
#: payment, invoice, pre_sale, other).
_REASONS = {
    "product_not_as_described": "wrong_item",
    "product_defect": "damaged",
    "product_not_delivered": "delivery",
    "product_return": "return",
}

#: ``topic`` (the buyer's finer choice) → category, used when the reason says no more than "contact_other".
_TOPICS = {
    "order_cancel": "refund",
    "order_product_defect": "damaged",
    "delivery_not_received": "delivery",
    "delivery_delayed": "delivery",
    "delivery_wrong_products": "wrong_item",
    "delivery_parts_missing": "wrong_item",
    "delivery_change_address": "delivery",
    "delivery_to_store": "delivery",
    "delivery_other_question": "delivery",
    "return_check_status": "return",
    "return_request_label": "return",
    "issue_paypal": "payment",
    "issue_klarna": "payment",
    "issue_creditcard": "payment",
    "issue_sofort": "payment",
    "issue_consorsfinanz": "payment",
    "issue_cashinadvance": "payment",
    "issue_payback": "payment",
    "issue_barzahlen": "payment",
    "issue_coupon": "promo_code",
    "invoice_needed": "invoice",
    "admonition": "payment",
    "product_properties": "pre_sale",
    "product_other_question": "pre_sale",
    "product_availability": "stock",
}


def category_for(open_reason: object, topic: object = None) -> str:
    """The app's category for a ticket's ``open_reason`` (and ``topic`` when the reason is generic).

    Pure and total: unknown or missing values give "other", never an error.
    """
    reason = str(open_reason or "").strip().casefold()
    if reason in _REASONS:
        return _REASONS[reason]
    return _TOPICS.get(str(topic or "").strip().casefold(), "other")


def role_kind(role: object) -> ParticipantKind:
    return _ROLES.get(str(role or "").strip().casefold(), ParticipantKind.OTHER)


def parse_datetime(value: object) -> datetime | None:
    """ISO 8601 as Kaufland writes it ("2026-11-30T09:00:00Z", "…+01:00"); a time without zone is UTC.
    None when absent; ``ValueError`` when present but unreadable."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_datetime(value: datetime) -> str:
    """A query-string date for ``ts_updated_from_iso``: UTC, whole seconds rounded down (nothing skipped)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _dict(value: object) -> Json:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _raw(obj: Json, *, without: Iterable[str] = ()) -> str:
    skip = set(without)
    return json.dumps(
        {k: v for k, v in obj.items() if k not in skip},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )


def _date(obj: Json, key: str, problems: list[str], what: str) -> datetime | None:
    try:
        return parse_datetime(obj.get(key))
    except ValueError:
        problems.append(f"{what}.{key} unreadable: {obj.get(key)!r}")
        return None


def parse_message(obj: Json, thread_id: str | None = None) -> RemoteMessage:
    """One message, embedded in a ticket or from ``GET /tickets/messages`` (which names its ``id_ticket``)."""
    problems: list[str] = []
    ticket = _text(obj.get("id_ticket")) or (thread_id or "")
    if not ticket:
        raise ValueError("message without id_ticket")
    sent_at = _date(obj, "ts_created_iso", problems, "message")
    if sent_at is None:
        if obj.get("ts_created_iso") in (None, ""):
            problems.append("message.ts_created_iso missing")
        sent_at = datetime.fromtimestamp(0, UTC)
    author_obj = _dict(obj.get("author"))
    kind = role_kind(author_obj.get("role"))
    if kind is ParticipantKind.OTHER:
        problems.append(f"message.author.role unknown: {author_obj.get('role')!r}")
    author = Participant(
        kind=kind,
        display_name=_text(author_obj.get("name")),
        organization="Kaufland" if kind is ParticipantKind.OPERATOR else None,
    )
    remote_id = _text(obj.get("id_ticket_message"))
    if not remote_id:
        remote_id = "noid-" + hashlib.sha256(_raw(obj).encode("utf-8")).hexdigest()[:24]
        problems.append("message.id_ticket_message missing")
    return RemoteMessage(
        remote_id=remote_id,
        thread_id=ticket,
        sent_at=sent_at,
        author=author,
        direction=Direction.OUT if kind is ParticipantKind.SHOP else Direction.IN,
        body=_text(obj.get("text")),
        problems=tuple(problems),
        raw=_raw(obj),
    )


def order_id_of(ticket: Json) -> str | None:
    """The order id from the embedded ``order_units[].id_order`` (never an order *unit* id, an offer id or a
    product id: those are other numbers)."""
    for unit in (_dict(u) for u in _list(ticket.get("order_units"))):
        value = _text(unit.get("id_order")).strip()
        if value:
            return value
    return None


def reply_needed_since(messages: Iterable[RemoteMessage], status: str) -> datetime | None:
    """The 48 h clock's start: the oldest buyer message after the seller's last message, while the ticket is
    open. Kaufland's own notes (system, customer service) do not start the clock; a seller message stops it."""
    if status in CLOSED_STATUSES:
        return None
    waiting: datetime | None = None
    for message in sorted(messages, key=lambda m: (m.sent_at, m.remote_id)):
        if message.author.kind is ParticipantKind.SHOP:
            waiting = None
        elif message.author.kind is ParticipantKind.CUSTOMER and waiting is None:
            waiting = message.sent_at
    return waiting


def _attach_files(
    messages: list[RemoteMessage], files: list[Json], problems: list[str]
) -> list[RemoteMessage]:
    """Kaufland lists a ticket's files on the ticket, not on a message: each goes with the last message written
    at or before the file's date (the one it came with), else the first."""
    if not files or not messages:
        if files:
            problems.append(f"{len(files)} ticket files without any message to carry them")
        return messages
    extra: dict[int, list[RemoteAttachment]] = {}
    for file in files:
        uri = _text(file.get("uri"))
        if not uri:
            problems.append("ticket file without uri")
            continue
        try:
            when = parse_datetime(file.get("ts_created_iso"))
        except ValueError:
            when = None
        index = 0
        if when is not None:
            for i, message in enumerate(messages):
                if message.sent_at <= when:
                    index = i
        name = _text(file.get("filename")) or uri.rsplit("/", 1)[-1]
        extra.setdefault(index, []).append(RemoteAttachment(remote_id=uri, name=name))
    return [
        RemoteMessage(**{**m.__dict__, "attachments": m.attachments + tuple(extra[i])}) if i in extra else m
        for i, m in enumerate(messages)
    ]


def parse_ticket(
    obj: Json, *, messages: Iterable[Json] | None = None, complete: bool | None = None
) -> RemoteThread:
    """One ticket; its messages are embedded (``messages[]``) or given separately (``messages``, from
    ``GET /tickets/messages``). ``complete``: whether these are all its messages (default: True when the
    ticket embeds them)."""
    problems: list[str] = []
    ticket_id = _text(obj.get("id_ticket"))
    if not ticket_id:
        raise ValueError("ticket without id_ticket")
    embedded = "messages" in obj and isinstance(obj.get("messages"), list)
    source = list(messages) if messages is not None else _list(obj.get("messages"))
    parsed = sorted(
        (parse_message(_dict(m), ticket_id) for m in source), key=lambda m: (m.sent_at, m.remote_id)
    )
    parsed = _attach_files(parsed, [_dict(f) for f in _list(obj.get("files"))], problems)
    status = _text(obj.get("status"))
    order_id = order_id_of(obj)
    if order_id is None and _list(obj.get("ids_order_units")):
        problems.append("order units listed but not embedded: order id unknown")
    buyer = _dict(obj.get("buyer"))
    buyer_name = " ".join(
        p for p in (_text(buyer.get("firstname")), _text(buyer.get("lastname"))) if p
    ) or _text(buyer.get("name"))
    if not buyer_name:
        buyer_name = next(
            (m.author.display_name for m in parsed if m.author.kind is ParticipantKind.CUSTOMER), ""
        )
    buyer_id = _text(obj.get("id_buyer") or buyer.get("id_buyer")) or None
    customer = Participant(ParticipantKind.CUSTOMER, buyer_name, remote_id=buyer_id)
    storefront = _text(obj.get("storefront"))
    topic = _text(obj.get("topic"))
    open_reason = _text(obj.get("open_reason"))
    last = parsed[-1].sent_at if parsed else None
    return RemoteThread(
        remote_id=ticket_id,
        subject=(topic or open_reason).replace("_", " ").capitalize(),
        created_at=_date(obj, "ts_created_iso", problems, "ticket"),
        updated_at=_date(obj, "ts_updated_iso", problems, "ticket"),
        messages=tuple(parsed),
        messages_complete=embedded if complete is None else complete,
        participants=(customer, Participant(ParticipantKind.OPERATOR, "Kaufland", organization="Kaufland")),
        customer=customer,
        order_id=order_id,
        total_messages=len(parsed) if (embedded if complete is None else complete) else None,
        last_message_at=last,
        reply_needed_since=reply_needed_since(parsed, status),
        no_reply_needed=status in CLOSED_STATUSES,
        marketplace=f"Kaufland {storefront.upper()}" if storefront else "Kaufland",
        problems=tuple(problems),
        raw=_raw(obj, without=("messages",)),
        category_hint=category_for(open_reason, topic),
    )
