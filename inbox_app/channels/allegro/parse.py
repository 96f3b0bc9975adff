"""Allegro message-center JSON to the channel dataclasses.

Fields (developer.allegro.pl, "Message Center"): a thread is ``{id, read, lastMessageDateTime,
interlocutor{login, avatarUrl}}``; a message is ``{id, status, type, createdAt, thread{id}, author{login,
isInterlocutor}, text, subject, relatesTo{offer{id}, order{id}}, hasAdditionalAttachments,
attachments[]{fileName, mimeType, url, status}}``. ``author.isInterlocutor`` is True for the buyer and False
for the seller (us, from this app or Allegro's own pages). ``relatesTo.order.id`` is the order (checkout form)
id; ``relatesTo.offer.id`` is an offer and is kept as such, never as the order. An attachment has no id of
its own: its ``url`` ends with the id that ``GET /messaging/message-attachments/{id}`` downloads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from inbox_app.channels.base import (
    Participant,
    ParticipantKind,
    RemoteAttachment,
    RemoteMessage,
    RemoteThread,
)
from inbox_app.domain.conversations import Direction

__all__ = [
    "attachment_id",
    "format_datetime",
    "parse_datetime",
    "parse_message",
    "parse_thread",
]

Json = Mapping[str, Any]


def parse_datetime(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as Allegro writes it (``2026-12-05T10:00:00.000Z``)."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _dict(value: object) -> Json:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _raw(obj: Json) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def attachment_id(url: str) -> str:
    """The id at the end of an attachment's ``url`` (``…/message-attachments/{id}``)."""
    path = urlsplit(url).path.rstrip("/")
    return unquote(path.rsplit("/", 1)[-1]) if path else ""


def relates_to(obj: Json) -> tuple[str | None, str | None]:
    """(order id, offer id) of a message."""
    rel = _dict(obj.get("relatesTo"))
    order = _text(_dict(rel.get("order")).get("id")) or None
    offer = _text(_dict(rel.get("offer")).get("id")) or None
    return order, offer


def parse_message(obj: Json, thread_id: str, *, seller_login: str | None = None) -> RemoteMessage:
    problems: list[str] = []
    try:
        sent_at = parse_datetime(obj.get("createdAt"))
    except ValueError:
        problems.append(f"message.createdAt unreadable: {obj.get('createdAt')!r}")
        sent_at = None
    if sent_at is None:
        if not any(p.startswith("message.createdAt") for p in problems):
            problems.append("message.createdAt missing")
        sent_at = datetime.fromtimestamp(0, UTC)
    author_json = _dict(obj.get("author"))
    login = _text(author_json.get("login"))
    interlocutor = author_json.get("isInterlocutor")
    if isinstance(interlocutor, bool):
        is_buyer = interlocutor
    else:
        problems.append("message.author.isInterlocutor missing")
        is_buyer = not (seller_login and login.casefold() == seller_login.casefold())
    author = Participant(
        kind=ParticipantKind.CUSTOMER if is_buyer else ParticipantKind.SHOP,
        display_name=login,
        remote_id=login or None,
    )
    remote_id = _text(obj.get("id"))
    if not remote_id:
        remote_id = "noid-" + hashlib.sha256(_raw(obj).encode("utf-8")).hexdigest()[:24]
        problems.append("message.id missing")
    attachments: list[RemoteAttachment] = []
    for item in (_dict(a) for a in _list(obj.get("attachments"))):
        url = _text(item.get("url"))
        att_id = attachment_id(url) if url else ""
        if not att_id:
            problems.append("attachment without url")
            continue
        attachments.append(
            RemoteAttachment(
                remote_id=att_id,
                name=_text(item.get("fileName")) or att_id,
                mime_type=_text(item.get("mimeType")) or None,
            )
        )
    return RemoteMessage(
        remote_id=remote_id,
        thread_id=thread_id,
        sent_at=sent_at,
        author=author,
        direction=Direction.IN if is_buyer else Direction.OUT,
        body=_text(obj.get("text")),
        attachments=tuple(attachments),
        problems=tuple(problems),
        raw=_raw(obj),
    )


def _reply_needed_since(messages: Sequence[RemoteMessage]) -> datetime | None:
    """When the oldest buyer message not yet answered by the seller arrived (None: nothing awaits a reply)."""
    waiting: datetime | None = None
    for message in messages:
        if message.direction is Direction.OUT:
            waiting = None
        elif waiting is None:
            waiting = message.sent_at
    return waiting


def parse_thread(
    obj: Json, messages_json: Sequence[Json], *, complete: bool = True, seller_login: str | None = None
) -> RemoteThread:
    """A thread of ``GET /messaging/threads`` with the messages of ``GET …/{id}/messages`` (any order)."""
    problems: list[str] = []
    thread_id = _text(obj.get("id"))
    if not thread_id:
        raise ValueError("thread without id")
    messages = sorted(
        (parse_message(m, thread_id, seller_login=seller_login) for m in messages_json),
        key=lambda m: (m.sent_at, m.remote_id),
    )
    try:
        last_at = parse_datetime(obj.get("lastMessageDateTime"))
    except ValueError:
        problems.append(f"thread.lastMessageDateTime unreadable: {obj.get('lastMessageDateTime')!r}")
        last_at = None
    login = _text(_dict(obj.get("interlocutor")).get("login"))
    customer = (
        Participant(ParticipantKind.CUSTOMER, login, remote_id=login)
        if login
        else next((m.author for m in messages if m.direction is Direction.IN), None)
    )
    order_id: str | None = None
    offer_id: str | None = None
    subject = ""
    for message in reversed(messages):  # the newest message that says it wins
        data = json.loads(message.raw)
        order, offer = relates_to(data)
        order_id = order_id or order
        offer_id = offer_id or offer
    for message in messages:
        subject = _text(json.loads(message.raw).get("subject")).strip()
        if subject:
            break
    return RemoteThread(
        remote_id=thread_id,
        subject=subject,
        created_at=messages[0].sent_at if messages else None,
        updated_at=last_at,
        messages=tuple(messages),
        messages_complete=complete,
        participants=(customer,) if customer else (),
        customer=customer,
        order_id=order_id,
        offer_id=offer_id,
        total_messages=len(messages) if complete else None,
        last_message_at=last_at,
        reply_needed_since=_reply_needed_since(messages),
        marketplace="Allegro",
        problems=tuple(problems),
        raw=_raw(obj),
    )
