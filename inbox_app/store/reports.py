"""The reads behind the reports: messages, conversations and status events of the conversations a period needs.

Why raw SQL: a 30-day report over 100,000 conversations must answer in well under a second, so the three reads
below stream plain tuples (no model objects) ordered by conversation, and the conversations are chosen in
SQL: those with a message sent since the period's start (their episodes, inbound messages and replies), plus
those whose clock may still run now (open or snoozed, for "open overdue now"). Nothing here counts or sums;
:mod:`inbox_app.domain.reports` defines every figure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from inbox_app.domain import deadlines
from inbox_app.store import ingest
from inbox_app.store.events import EventKind
from inbox_app.store.models import Channel, Conversation, from_db_time, to_db_time

__all__ = [
    "ConversationRow",
    "channel_policies",
    "conversation_labels",
    "conversation_rows",
    "message_rows",
    "status_rows",
]

_CANDIDATES = """
    WITH cand(id) AS (
        SELECT DISTINCT conversation_id FROM message WHERE sent_at >= ?
        UNION
        SELECT id FROM conversation WHERE status IN ('open', 'snoozed') AND no_response_needed = 0
    )
"""


@dataclass(frozen=True)
class ConversationRow:
    id: int
    channel_id: int
    channel_kind: str
    account_name: str
    language: str | None
    no_response_needed: bool
    status: str = "open"
    category: str | None = None
    agent: str | None = None


def group_key_sql(by: str) -> str:
    """The SQL of a report group's key over ``conversation c``, ``channel ch`` and ``account a``."""
    return {
        "channel": "ch.kind",
        "account": "a.name",
        "language": "NULLIF(c.language, '')",
        "category": "NULLIF(c.category, '')",
        "agent": "NULLIF(c.assignee, '')",
    }[by]


def channel_policies() -> dict[int, deadlines.DeadlinePolicy]:
    """Every channel's policy, resolved as the countdowns resolve it."""
    return {int(ch.id): ingest.policy_for_channel(ch) for ch in Channel.select()}


def conversation_rows() -> dict[int, ConversationRow]:
    """Every conversation's group keys (a plain scan: cheaper than choosing them again in SQL)."""
    db = Conversation._meta.database
    sql = f"""
        SELECT c.id, c.channel_id, ch.kind, a.name, c.language, c.no_response_needed, c.status,
               {group_key_sql("category")}, {group_key_sql("agent")}
        FROM conversation c
        JOIN channel ch ON ch.id = c.channel_id
        JOIN account a ON a.id = c.account_id
        """
    return {
        int(r[0]): ConversationRow(
            int(r[0]), int(r[1]), str(r[2]), str(r[3]), r[4] or None, bool(r[5]), str(r[6]), r[7], r[8]
        )
        for r in db.execute_sql(sql)
    }


def message_rows(since: datetime) -> Iterator[tuple[int, str, str, int, int]]:
    """(conversation id, direction, sent_at as stored, auto-reply, answered elsewhere) of the conversations
    with a message since ``since`` or a clock that may run now, ordered by conversation and time."""
    db = Conversation._meta.database
    sql = (
        _CANDIDATES
        + """
        SELECT m.conversation_id, m.direction, m.sent_at, m.is_auto_reply, m.is_answered
        FROM message m WHERE m.conversation_id IN (SELECT id FROM cand)
        ORDER BY m.conversation_id, m.sent_at, m.id
        """
    )
    return iter(db.execute_sql(sql, (to_db_time(since),)))


def status_rows() -> Iterator[tuple[int, datetime, str]]:
    """(conversation id, time, new status or ``no_response_needed``) of every status event, by conversation."""
    db = Conversation._meta.database
    sql = """
        SELECT e.conversation, e.at, e.kind, json_extract(e.data, '$.new')
        FROM event e
        WHERE e.kind IN (?, ?) AND e.conversation IS NOT NULL
        ORDER BY e.conversation, e.at, e.id
        """
    params = (EventKind.STATUS_CHANGED.value, EventKind.NO_RESPONSE_NEEDED.value)
    for conv_id, at, kind, new in db.execute_sql(sql, params):
        status = "no_response_needed" if kind == EventKind.NO_RESPONSE_NEEDED.value else str(new or "")
        yield int(conv_id), from_db_time(at), status


def conversation_labels(ids: list[int]) -> list[tuple[int, str, str, str]]:
    """(id, customer name, subject, channel name) of these conversations, most recent first (any number)."""
    rows: list[tuple[int, str, str, str, str]] = []
    for offset in range(0, len(ids), 10_000):
        chunk = ids[offset : offset + 10_000]
        query = (
            Conversation.select(
                Conversation.id,
                Conversation.customer_name,
                Conversation.subject,
                Channel.name,
                Conversation.last_message_at,
            )
            .join(Channel)
            .where(Conversation.id.in_(chunk))
            .tuples()
        )
        rows.extend((int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4] or "")) for r in query)
    rows.sort(key=lambda r: (r[4], r[0]), reverse=True)
    return [r[:4] for r in rows]
