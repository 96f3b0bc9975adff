"""The report's figures aggregated by SQLite over the messages and the stored episodes.

Why: at 100,000 conversations the report must answer in well under a second; SQLite groups and sorts ~300,000
messages and ~170,000 episodes far faster than Python objects can be built for them. Each query mirrors one
definition of :mod:`inbox_app.domain.reports` (the tests compare both ways on the same data):

* inbound/replies per group and per local day: the messages sent in the period (auto-replies are no replies);
* conversations per group (and per category and day, for the chart): first inbound message in the period;
* episodes/late: stored episodes starting in the period that are *measured* at ``now``;
* medians/p90: nearest rank (the ⌈n·p⌉-th smallest: ``(n + 1) / 2`` and ``(9n + 9) / 10`` in integers);
* open overdue: running episodes past their deadline at ``now`` in conversations not pending/closed.

Local days: compared against each day's start in UTC (``Period.day_starts``), so a period's days follow the
user's zone across DST changes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any

from inbox_app.store.models import Conversation, to_db_time
from inbox_app.store.reports import group_key_sql

__all__ = [
    "JOINS",
    "daily_counts",
    "episode_counts",
    "episode_export_rows",
    "episode_figures",
    "figure_ids",
    "first_response_ranks",
    "in_conversation_order",
    "message_count",
    "message_group_counts",
    "overdue_counts",
]

# CROSS JOIN fixes SQLite's join order: the period's rows first, then one primary-key look-up each. Left to
# itself the planner put the small account table outside and scanned the period once per account (16 s at
# 100,000 conversations instead of a fraction of a second).
JOINS = (
    "CROSS JOIN conversation c ON c.id = x.conversation_id CROSS JOIN channel ch ON ch.id = c.channel_id "
    "CROSS JOIN account a ON a.id = c.account_id"
)

#: The aggregations join the conversation alone and key channels and accounts by id; the names come from those
#: two small tables in Python (:func:`_key`). Why: the channel and account look-ups were a third of each row's
#: joins, and an inner join cannot be left out by the planner even when no column of it is read.
JOIN_CONVERSATION = "CROSS JOIN conversation c ON c.id = x.conversation_id"

# The inbound messages and the replies (an auto-reply is none). FILTER rather than sum() of a comparison: the
# aggregate is not even called for the other rows (≈ 30 % less over a period's messages).
_COUNT_IN = "count(*) FILTER (WHERE direction = 'in')"
_COUNT_REPLIES = "count(*) FILTER (WHERE direction != 'in' AND NOT is_auto_reply)"

_MEASURED = "(x.replied_at IS NOT NULL OR coalesce(x.stopped_at, :now) >= x.deadline_at)"
_LATE = "(CASE WHEN x.replied_at IS NOT NULL THEN x.replied_at > x.deadline_at ELSE 1 END)"
_OVERDUE = (
    "x.replied_at IS NULL AND x.stopped_at IS NULL AND x.deadline_at <= :now "
    "AND c.status NOT IN ('pending', 'closed')"
)


def _key_sql(by: str) -> str:
    """The group's key over ``conversation c`` alone: channels and accounts by id (see :func:`_key`)."""
    return {"channel": "c.channel_id", "account": "c.account_id"}.get(by) or group_key_sql(by)


def _key(by: str) -> Callable[[Any], Any]:
    """Turns a key of :func:`_key_sql` into the group key the report shows (a channel's kind, an account's name).
    Several channels share a kind: their rows come back under the same key, and callers add them up."""
    table = {"channel": "SELECT id, kind FROM channel", "account": "SELECT id, name FROM account"}.get(by)
    if table is None:
        return lambda key: key
    names = dict(Conversation._meta.database.execute_sql(table).fetchall())
    return names.__getitem__


def _run(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    db = Conversation._meta.database
    return list(db.execute_sql(sql, params).fetchall())


def _day_sql(column: str, day_starts: Sequence[datetime], params: dict[str, Any]) -> str:
    """The index of the local day holding a stored UTC time, as a binary tree of text comparisons against
    the days' starts in UTC (≈ log2(days) comparisons a row; parsing each time with ``date()`` cost twice as
    much). DST needs nothing special: a day's start is where the user's zone says it is."""

    def tree(lo: int, hi: int) -> str:
        if hi - lo == 1:
            return str(lo)
        mid = (lo + hi) // 2
        # The day's start as a literal, not a named parameter: SQLite looks a name up by a linear search, so a
        # custom period of years (thousands of days) spent a minute compiling the statement. The value is our
        # own timestamp text; quotes are doubled all the same.
        start = to_db_time(day_starts[mid]).replace("'", "''")
        return f"(CASE WHEN {column} < '{start}' THEN {tree(lo, mid)} ELSE {tree(mid, hi)} END)"

    lo, hi = _days_with_messages(day_starts, params)
    return tree(lo, hi)


def _days_with_messages(day_starts: Sequence[datetime], params: dict[str, Any]) -> tuple[int, int]:
    """The range of day indexes [lo, hi) that hold a message of the period: the tree covers those days only,
    so a custom period of a hundred years costs what the days with data cost (one index lookup each way).
    Two subqueries: SQLite looks a lone ``min()`` or ``max()`` up at the end of an index, but with both in one
    query it read the whole period (55 ms at 100,000 conversations, for each of two calls a report)."""
    within = "FROM message WHERE sent_at >= :start AND sent_at < :end"
    row = _run(f"SELECT (SELECT min(sent_at) {within}), (SELECT max(sent_at) {within})", params)
    first, last = row[0] if row else (None, None)
    if first is None or last is None:
        return 0, 1
    starts = [to_db_time(day) for day in day_starts]
    lo = max(bisect_right(starts, str(first)) - 1, 0)
    hi = max(bisect_right(starts, str(last)), lo + 1)
    return lo, hi


def _bounds(start: datetime, end: datetime, now: datetime | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"start": to_db_time(start), "end": to_db_time(end)}
    if now is not None:
        params["now"] = to_db_time(now)
    return params


def daily_counts(
    start: datetime, end: datetime, day_starts: Sequence[datetime]
) -> list[tuple[int, int, int, int]]:
    """(index of the local day, inbound, replies, messages) of the messages sent in [start, end), for the daily
    chart (and, summed, for :func:`in_conversation_order`).

    Why a query per day: each reads one range of the covering index ``report_message_time``, with no join and
    no sort (SQLite sorts every row it groups: one ``GROUP BY`` over the day tree cost three times as much).
    Only the days holding messages are asked; past a year of them, the single grouped query is cheaper than a
    statement per day."""
    params = _bounds(start, end)
    lo, hi = _days_with_messages(day_starts, params)
    counts = f"{_COUNT_IN}, {_COUNT_REPLIES}, count(*)"
    if hi - lo > 366:
        day = _day_sql("x.sent_at", day_starts, params)
        sql = f"SELECT {day} AS d, {counts} FROM message x WHERE x.sent_at >= :start AND x.sent_at < :end GROUP BY d"
        return [(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in _run(sql, params)]
    db = Conversation._meta.database
    sql = f"SELECT {counts} FROM message x WHERE x.sent_at >= ? AND x.sent_at < ?"
    bounds = [to_db_time(day) for day in day_starts[lo : hi + 1]]
    if len(bounds) == hi - lo:  # the last day ends where the period does
        bounds.append(params["end"])
    out = []
    for i in range(hi - lo):
        inbound, replies, messages = db.execute_sql(sql, (bounds[i], bounds[i + 1])).fetchone()
        if messages:
            out.append((lo + i, int(inbound), int(replies), int(messages)))
    return out


def message_group_counts(
    by: str, start: datetime, end: datetime, day_starts: Sequence[datetime], *, walk: bool = False
) -> list[tuple[str | None, str | None, int, int, int, int]]:
    """Per group key, category and local day of the first inbound message in the period (-1: none), the
    conversations with a message sent in [start, end): (key, category, day, conversations with an inbound
    message, inbound, replies).

    Why one pass per conversation: the messages of the period are summed per conversation first, so each
    conversation's group is looked up once, not once per message, and the inbound/replies counts and the
    "conversations" figure come from the same scan (``walk``: see :func:`in_conversation_order`). The
    conversations' rows are added up in Python: SQLite's ``GROUP BY`` runs every row through its sorter, which
    cost twice as much as reading them (≈ 2 µs a conversation at 100,000)."""
    params = _bounds(start, end)
    day = _day_sql("x.first_in", day_starts, params)
    index = "INDEXED BY message_conversation_time " if walk else ""
    sql = (
        f"SELECT {_key_sql(by)}, {group_key_sql('category')}, CASE WHEN x.first_in IS NULL THEN -1 ELSE {day} END, "
        "x.i, x.r FROM (SELECT conversation_id, "
        f"{_COUNT_IN} AS i, {_COUNT_REPLIES} AS r, min(sent_at) FILTER (WHERE direction = 'in') AS first_in "
        f"FROM message {index}WHERE sent_at >= :start AND sent_at < :end GROUP BY conversation_id) x "
        f"{JOIN_CONVERSATION}"
    )
    sums: dict[tuple[Any, str | None, int], list[int]] = {}
    for k, category, d, inbound, replies in _run(sql, params):
        found = sums.get((k, category, d))
        if found is None:
            sums[(k, category, d)] = [int(d >= 0), inbound, replies]
        else:
            found[0] += d >= 0  # the day is part of the key: -1 for them all or none
            found[1] += inbound
            found[2] += replies
    key = _key(by)
    return [
        (key(k), category, d, n, inbound, replies) for (k, category, d), (n, inbound, replies) in sums.items()
    ]


#: Above this share of all messages in the period, a period's rows are read in conversation order.
CONVERSATION_ORDER_SHARE = 0.1


def in_conversation_order(messages_in_period: int) -> bool:
    """Whether to read a period's messages, episodes and first responses walking all of them in conversation
    order (``walk``: the indexes ``message_conversation_time`` and ``report_episode_by_conversation``, and the
    first responses' table, the rows outside the period skipped) rather than the period's range of the time
    indexes.

    Why: each row needs its conversation's group. Read in conversation order, the messages are summed per
    conversation without a sort and the conversations are looked up in id order, a few pages apart; read by
    time they are sorted (≈ 0.9 µs a message) and looked up all over the table (≈ 1 µs an episode at 100,000
    conversations, against 0.07 µs a row skipped). Walking everything wins once the period holds a tenth of
    the messages, as a recent profile or a long period does; a month out of years of history is read by its
    range. SQLite has no statistics to choose so itself (no ``ANALYZE`` is kept up to date), so the share is
    the messages of the period (counted by :func:`daily_counts`) out of all of them (a count of the smallest
    index, ≈ free); the episodes and first responses follow the messages' share."""
    total = Conversation._meta.database.execute_sql("SELECT count(*) FROM message").fetchone()[0]
    return bool(total) and messages_in_period >= CONVERSATION_ORDER_SHARE * total


def message_count(start: datetime, end: datetime) -> int:
    """The messages sent in [start, end) (a count of an index range), for :func:`in_conversation_order`."""
    sql = "SELECT count(*) FROM message WHERE sent_at >= :start AND sent_at < :end"
    return int(_run(sql, _bounds(start, end))[0][0])


def _episodes(walk: bool) -> str:
    return "report_episode x INDEXED BY report_episode_by_conversation" if walk else "report_episode x"


def episode_counts(
    by: str, start: datetime, end: datetime, now: datetime, bounds: Sequence[int] = (), *, walk: bool = False
) -> list[tuple[str | None, int, int, int]]:
    """(group key, response bucket, measured episodes starting in the period, late ones among them).

    The bucket is the index of the first of ``bounds`` (seconds) the response time is within, ``len(bounds)``
    above them all, and -1 for an episode without a reply: the response-time distribution comes with the
    counts, in the same scan."""
    cases = " ".join(f"WHEN x.response_s <= {int(b)} THEN {i}" for i, b in enumerate(bounds))
    bucket = f"CASE WHEN x.replied_at IS NULL THEN -1 {cases} ELSE {len(bounds)} END"
    sql = (
        f"SELECT {_key_sql(by)} AS k, {bucket} AS b, count(*), sum({_LATE}) FROM {_episodes(walk)} "
        f"{JOIN_CONVERSATION} WHERE x.started_at >= :start AND x.started_at < :end AND {_MEASURED} GROUP BY k, b"
    )
    key = _key(by)
    return [(key(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in _run(sql, _bounds(start, end, now))]


def episode_figures(
    by: str, start: datetime, end: datetime, now: datetime, bounds: Sequence[int], *, walk: bool = False
) -> tuple[
    list[tuple[str | None, int, int, int]],
    dict[str | None, dict[str, float]],
    dict[str, float],
    dict[str, tuple[int, int]],
]:
    """The figures of :func:`episode_counts` and the median/p90 response time of the replied episodes, in one pass over the period's episodes.

    Why: each pass costs ≈ 0.3 s of CPU at 100,000 conversations, almost all of it the look-up of every
    episode's conversation; here the measured episodes are read once, ordered by group and response time, and
    counted, bucketed and ranked in Python. A replied episode is always measured, so the replied ones among
    these rows are the replied episodes starting in the period.

    The fourth part is (measured, late) per channel kind, for the late-rate-per-channel chart whatever the
    grouping: read in the same pass (a second pass by channel cost ≈ 0.2 s at 100,000 conversations)."""
    db = Conversation._meta.database
    cases = " ".join(f"WHEN x.response_s <= {int(b)} THEN {i}" for i, b in enumerate(bounds))
    sql = (
        f"SELECT {_key_sql(by)}, CASE WHEN x.replied_at IS NULL THEN -1 {cases} ELSE {len(bounds)} END, "
        f"{_LATE}, CASE WHEN x.replied_at IS NOT NULL THEN x.response_s END, c.channel_id FROM {_episodes(walk)} "
        f"{JOIN_CONVERSATION} WHERE x.started_at >= :start AND x.started_at < :end AND {_MEASURED}"
    )
    rows = db.execute_sql(sql, _bounds(start, end, now)).fetchall()
    channel_kind = _key("channel")
    per_channel: dict[str, list[int]] = {}
    for (channel_id, late), n in Counter(map(itemgetter(4, 2), rows)).items():
        found_channel = per_channel.setdefault(channel_kind(channel_id), [0, 0])
        found_channel[0] += n
        found_channel[1] += n * late
    key = _key(by)
    counts: dict[tuple[Any, int], list[int]] = {}
    for (k, bucket, late), n in Counter(map(itemgetter(0, 1, 2), rows)).items():
        found = counts.setdefault((key(k), bucket), [0, 0])
        found[0] += n
        found[1] += n * late
    per_key = _sorted_per_key(rows, 3, key)
    everything = sorted(chain.from_iterable(per_key.values()))
    return (
        [(k, bucket, n, late) for (k, bucket), (n, late) in counts.items()],
        {k: _picked(v) for k, v in per_key.items() if v},
        _picked(everything) if everything else {},
        {kind: (n, late) for kind, (n, late) in per_channel.items()},
    )


def _sorted_per_key(
    rows: Sequence[tuple[Any, ...]], column: int, key: Callable[[Any], Any]
) -> dict[str | None, list[float]]:
    """The non-null values of ``column`` per group key (column 0, turned by ``key``), sorted.

    Why in Python, unordered from SQLite: its ``ORDER BY`` ran every row through its sorter, and Python sorts
    a list of floats per group several times faster."""
    per_key: dict[Any, list[float]] = defaultdict(list)
    for row in rows:
        value = row[column]
        if value is not None:
            per_key[row[0]].append(value)
    merged: dict[str | None, list[float]] = {}
    for k, values in per_key.items():
        merged.setdefault(key(k), []).extend(values)
    for values in merged.values():
        values.sort()
    return merged


def _picked(values: list[float]) -> dict[str, float]:
    """Nearest-rank median and p90 of sorted values."""
    n = len(values)
    return {"p50": float(values[(n + 1) // 2 - 1]), "p90": float(values[(9 * n + 9) // 10 - 1])}


def first_response_ranks(
    by: str, start: datetime, end: datetime, *, walk: bool = False
) -> tuple[dict[str | None, dict[str, float]], dict[str, float]]:
    """Median/p90 first response time of conversations whose first inbound message is in the period."""
    sql = (
        f"SELECT {_key_sql(by)}, x.response_s FROM report_first_response x {'NOT INDEXED ' if walk else ''}"
        f"{JOIN_CONVERSATION} "
        "WHERE x.first_in_at >= :start AND x.first_in_at < :end AND x.response_s IS NOT NULL"
    )
    per_key = _sorted_per_key(_run(sql, _bounds(start, end)), 1, _key(by))
    everything = sorted(chain.from_iterable(per_key.values()))
    return {k: _picked(v) for k, v in per_key.items() if v}, (_picked(everything) if everything else {})


def overdue_counts(by: str, now: datetime) -> list[tuple[str | None, int]]:
    """(group key, running episodes past their deadline now)."""
    sql = (
        f"SELECT {_key_sql(by)} AS k, count(*) FROM report_episode x {JOIN_CONVERSATION} WHERE {_OVERDUE} "
        "GROUP BY k"
    )
    key = _key(by)
    return [(key(r[0]), int(r[1])) for r in _run(sql, {"now": to_db_time(now)})]


#: figure → (SQL selecting ``x.conversation_id`` with ``{JOINS}``, whether it needs ``now``)
_FIGURE_SQL: dict[str, str] = {
    "conversations": "SELECT x.conversation_id FROM message x {joins} WHERE x.direction = 'in' "
    "AND x.sent_at >= :start AND x.sent_at < :end",
    "replies": "SELECT x.conversation_id FROM message x {joins} WHERE x.direction != 'in' AND NOT x.is_auto_reply "
    "AND x.sent_at >= :start AND x.sent_at < :end",
    "first_response": "SELECT x.conversation_id FROM report_first_response x {joins} WHERE x.first_in_at >= :start "
    "AND x.first_in_at < :end AND x.response_s IS NOT NULL",
    "episodes": "SELECT x.conversation_id FROM report_episode x {joins} WHERE x.started_at >= :start "
    f"AND x.started_at < :end AND {_MEASURED}",
    "late": "SELECT x.conversation_id FROM report_episode x {joins} WHERE x.started_at >= :start "
    f"AND x.started_at < :end AND {_MEASURED} AND {_LATE}",
    "overdue": "SELECT x.conversation_id FROM report_episode x {joins} WHERE " + _OVERDUE,
}


def figure_ids(
    figure: str, by: str, key: str | None, *, total: bool, start: datetime, end: datetime, now: datetime
) -> set[int]:
    """The conversations behind one figure (``conversations``, ``replies``, ``first_response``, ``episodes``,
    ``late``, ``overdue``) of one group, or of the total."""
    sql = _FIGURE_SQL[figure].format(joins=JOINS)
    params = _bounds(start, end, now)
    if not total:
        sql += f" AND {group_key_sql(by)} IS :key"
        params["key"] = key
    return {int(r[0]) for r in _run(sql, params)}


def episode_export_rows(start: datetime, end: datetime, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Every stored episode starting in the period with its group keys, by conversation and start:
    (conversation id, channel kind, account, category, agent, language, started, deadline, replied, response_s,
    measured, late)."""
    db = Conversation._meta.database
    sql = (
        f"SELECT x.conversation_id, ch.kind, a.name, {group_key_sql('category')}, {group_key_sql('agent')}, "
        "NULLIF(c.language, ''), x.started_at, x.deadline_at, x.replied_at, x.response_s, "
        f"{_MEASURED}, {_LATE} FROM report_episode x {JOINS} "
        "WHERE x.started_at >= :start AND x.started_at < :end ORDER BY x.conversation_id, x.started_at, x.rowid"
    )
    yield from db.execute_sql(sql, _bounds(start, end, now))


def conversation_export_rows(start: datetime, end: datetime) -> list[tuple[Any, ...]]:
    """Per conversation with a message in the period: (id, channel kind, account, category, agent, language,
    inbound, replies) — plain reads of the messages, so a read-only profile can export them too."""
    sql = (
        f"SELECT x.conversation_id, ch.kind, a.name, {group_key_sql('category')}, {group_key_sql('agent')}, "
        "NULLIF(c.language, ''), sum(x.direction = 'in'), sum(x.direction != 'in' AND NOT x.is_auto_reply) "
        f"FROM message x {JOINS} WHERE x.sent_at >= :start AND x.sent_at < :end GROUP BY x.conversation_id"
    )
    return _run(sql, _bounds(start, end))
