"""Mirakl's inbox JSON (M10 thread, M11 threads page) to the channel dataclasses.

Field names follow Mirakl's seller API (developer.mirakl.com, "Messages": M10, M11; the official PHP SDK
``mirakl/sdk-php-shop`` ``Domain/Message/Thread``). Mirakl asks integrations to accept new fields and new enum
values; so does this parser: an unknown participant type becomes OTHER, a missing or unreadable field is noted
in ``problems`` and the thread is still delivered, with the vendor's JSON verbatim in ``raw``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
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
    "EMBEDDED_MESSAGES_MAX",
    "ORDER_ENTITY",
    "format_datetime",
    "parse_datetime",
    "parse_message",
    "parse_participant",
    "parse_thread",
    "participant_kind",
]

#: M11 embeds at most the last 100 messages of each thread (``with_messages``).
EMBEDDED_MESSAGES_MAX = 100
#: Entity type of a product order; its ``id`` is the order id.
ORDER_ENTITY = "MMP_ORDER"

_KINDS = {
    "CUSTOMER": ParticipantKind.CUSTOMER,
    "CUSTOMER_USER": ParticipantKind.CUSTOMER,
    "OPERATOR": ParticipantKind.OPERATOR,
    "OPERATOR_USER": ParticipantKind.OPERATOR,
    "SHOP": ParticipantKind.SHOP,
    "SHOP_USER": ParticipantKind.SHOP,
}

Json = Mapping[str, Any]


def participant_kind(value: object) -> ParticipantKind:
    return _KINDS.get(str(value or "").strip().upper(), ParticipantKind.OTHER)


def parse_datetime(value: object) -> datetime | None:
    """ISO 8601 as Mirakl writes it ("2019-08-24T14:15:22Z", with or without fraction or offset); a time
    without zone is taken as UTC. None when absent; ``ValueError`` when present but unreadable."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def format_datetime(value: datetime) -> str:
    """A query-string date for ``updated_since``: UTC, whole seconds (rounded down, so nothing is skipped)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _dict(value: object) -> Json:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _date(obj: Json, key: str, problems: list[str], what: str) -> datetime | None:
    try:
        return parse_datetime(obj.get(key))
    except ValueError:
        problems.append(f"{what}.{key} unreadable: {obj.get(key)!r}")
        return None


def _raw(obj: Json, *, without: str | None = None) -> str:
    data = {k: v for k, v in obj.items() if k != without} if without else obj
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def parse_participant(obj: object) -> Participant:
    data = _dict(obj)
    org = _dict(data.get("organization_details"))
    remote_id = data.get("id")
    return Participant(
        kind=participant_kind(data.get("type")),
        display_name=_text(data.get("display_name")),
        remote_id=None if remote_id in (None, "") else _text(remote_id),
        organization=_text(org.get("display_name")) or None,
    )


def parse_message(obj: Json, thread_id: str) -> RemoteMessage:
    problems: list[str] = []
    sent_at = _date(obj, "date_created", problems, "message")
    if sent_at is None:
        if "date_created" not in obj or obj.get("date_created") in (None, ""):
            problems.append("message.date_created missing")
        sent_at = datetime.fromtimestamp(0, UTC)
    author = parse_participant(obj.get("from"))
    remote_id = _text(obj.get("id"))
    if not remote_id:
        # Without an id the store could not tell this message from itself on the next sync: derive a stable
        # one from what identifies it, and say so.
        digest = hashlib.sha256(_raw(obj).encode("utf-8")).hexdigest()[:24]
        remote_id = f"noid-{digest}"
        problems.append("message.id missing")
    attachments = tuple(
        RemoteAttachment(
            remote_id=_text(a.get("id")),
            name=_text(a.get("name")) or _text(a.get("id")),
            size=a.get("size") if isinstance(a.get("size"), int) else None,
        )
        for a in (_dict(x) for x in _list(obj.get("attachments")))
        if a.get("id") not in (None, "")
    )
    return RemoteMessage(
        remote_id=remote_id,
        thread_id=thread_id,
        sent_at=sent_at,
        author=author,
        direction=Direction.OUT if author.kind is ParticipantKind.SHOP else Direction.IN,
        body=_text(obj.get("body")),
        recipients=tuple(parse_participant(p) for p in _list(obj.get("to"))),
        attachments=attachments,
        problems=tuple(problems),
        raw=_raw(obj),
    )


def _no_reply_needed(obj: Json, reply_needed_since: datetime | None, problems: list[str]) -> bool:
    """True when the customer or the operator said the shop need not answer, and nothing new came since.

    ``no_store_reply_needed`` lists such actions ``{date, user_type}``. An action older than the current
    ``shop_reply_needed_since`` is stale: the customer wrote again afterwards, so a reply is awaited again.
    """
    actions = [_dict(a) for a in _list(obj.get("no_store_reply_needed"))]
    if not actions:
        return False
    dates = [_date(a, "date", problems, "no_store_reply_needed") for a in actions]
    if reply_needed_since is None or any(d is None for d in dates):
        return True
    return max(d for d in dates if d is not None) >= reply_needed_since


def parse_thread(obj: Json, *, complete: bool | None = None) -> RemoteThread:
    """One thread of M11's ``data[]`` or M10's answer.

    ``complete``: True for M10 (all messages); None to decide from ``metadata.total_count`` (M11 embeds only
    the last 100).
    """
    problems: list[str] = []
    thread_id = _text(obj.get("id"))
    if not thread_id:
        raise ValueError("thread without id")
    metadata = _dict(obj.get("metadata"))
    messages = sorted(
        (parse_message(_dict(m), thread_id) for m in _list(obj.get("messages"))),
        key=lambda m: (m.sent_at, m.remote_id),
    )
    total = metadata.get("total_count")
    total_count = total if isinstance(total, int) and not isinstance(total, bool) else None
    if complete is None:
        if total_count is not None:
            complete = len(messages) >= total_count
        else:
            complete = len(messages) < EMBEDDED_MESSAGES_MAX
    participants = tuple(
        parse_participant(p)
        for p in _list(obj.get("current_participants")) or _list(obj.get("authorized_participants"))
    )
    authorized = tuple(parse_participant(p) for p in _list(obj.get("authorized_participants")))
    customer = next(
        (p for p in participants + authorized if p.kind is ParticipantKind.CUSTOMER),
        next((m.author for m in messages if m.author.kind is ParticipantKind.CUSTOMER), None),
    )
    operator = next((p for p in participants + authorized if p.kind is ParticipantKind.OPERATOR), None)
    order_id = next(
        (
            _text(e.get("id"))
            for e in (_dict(x) for x in _list(obj.get("entities")))
            if _text(e.get("type")).upper() == ORDER_ENTITY and e.get("id") not in (None, "")
        ),
        None,
    )
    reply_needed_since = _date(metadata, "shop_reply_needed_since", problems, "metadata")
    topic = _dict(obj.get("topic"))
    return RemoteThread(
        remote_id=thread_id,
        subject=_text(topic.get("value")),
        created_at=_date(obj, "date_created", problems, "thread"),
        updated_at=_date(obj, "date_updated", problems, "thread"),
        messages=tuple(messages),
        messages_complete=complete,
        participants=participants,
        customer=customer,
        order_id=order_id,
        total_messages=total_count,
        last_message_at=_date(metadata, "last_message_date", problems, "metadata"),
        reply_needed_since=reply_needed_since,
        no_reply_needed=_no_reply_needed(obj, reply_needed_since, problems),
        marketplace=(operator.display_name or operator.organization) if operator else None,
        problems=tuple(problems),
        raw=_raw(obj, without="messages"),
        marketplace_reason=_text(topic.get("value")) or None
        if _text(topic.get("type")).upper() == "REASON_CODE"
        else None,
    )
