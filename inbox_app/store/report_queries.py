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

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from inbox_app.store.models import Conversation, to_db_time
from inbox_app.store.reports import group_key_sql

__all__ = [
    "JOINS",
    "conversation_counts",
    "episode_counts",
    "episode_export_rows",
    "episode_figures",
    "figure_ids",
    "first_response_ranks",
    "message_counts",
    "overdue_counts",
]

# CROSS JOIN fixes SQLite's join order: the period's rows first, then one primary-key look-up each. Left to
# itself the planner put the small account table outside and scanned the period once per account (16 s at
# 100,000 conversations instead of a fraction of a second).
JOINS = (
    "CROSS JOIN conversation c ON c.id = x.conversation_id CROSS JOIN channel ch ON ch.id = c.channel_id "
    "CROSS JOIN account a ON a.id = c.account_id"
)

_MEASURED = "(x.replied_at IS NOT NULL OR coalesce(x.stopped_at, :now) >= x.deadline_at)"
_LATE = "(CASE WHEN x.replied_at IS NOT NULL THEN x.replied_at > x.deadline_at ELSE 1 END)"
_OVERDUE = (
    "x.replied_at IS NULL AND x.stopped_at IS NULL AND x.deadline_at <= :now "
    "AND c.status NOT IN ('pending', 'closed')"
)


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
    so a custom period of a hundred years costs what the days with data cost (one index lookup each way)."""
    row = _run(
        "SELECT min(sent_at), max(sent_at) FROM message WHERE sent_at >= :start AND sent_at < :end", params
    )
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


def message_counts(
    by: str, start: datetime, end: datetime, day_starts: Sequence[datetime]
) -> list[tuple[str | None, int, int, int]]:
    """(group key, index of the local day, inbound, replies) of the messages sent in [start, end)."""
    params = _bounds(start, end)
    day = _day_sql("x.sent_at", day_starts, params)
    sql = (
        f"SELECT {group_key_sql(by)} AS k, {day} AS d, sum(x.direction = 'in'), "
        "sum(x.direction != 'in' AND NOT x.is_auto_reply) "
        f"FROM message x {JOINS} WHERE x.sent_at >= :start AND x.sent_at < :end GROUP BY k, d"
    )
    return [(r[0], int(r[1]), int(r[2]), int(r[3])) for r in _run(sql, params)]


def conversation_counts(
    by: str, start: datetime, end: datetime, day_starts: Sequence[datetime]
) -> list[tuple[str | None, str | None, int, int]]:
    """(group key, category, index of the local day of the first inbound message in the period, count)."""
    params = _bounds(start, end)
    day = _day_sql("x.first_in", day_starts, params)
    sql = (
        f"SELECT {group_key_sql(by)} AS k, {group_key_sql('category')} AS cat, {day} AS d, count(*) "
        "FROM (SELECT conversation_id, min(sent_at) AS first_in FROM message "
        "WHERE direction = 'in' AND sent_at >= :start AND sent_at < :end GROUP BY conversation_id) x "
        f"{JOINS} GROUP BY k, cat, d"
    )
    return [(r[0], r[1], int(r[2]), int(r[3])) for r in _run(sql, params)]


def episode_counts(
    by: str, start: datetime, end: datetime, now: datetime, bounds: Sequence[int] = ()
) -> list[tuple[str | None, int, int, int]]:
    """(group key, response bucket, measured episodes starting in the period, late ones among them).

    The bucket is the index of the first of ``bounds`` (seconds) the response time is within, ``len(bounds)``
    above them all, and -1 for an episode without a reply: the response-time distribution comes with the
    counts, in the same scan."""
    cases = " ".join(f"WHEN x.response_s <= {int(b)} THEN {i}" for i, b in enumerate(bounds))
    bucket = f"CASE WHEN x.replied_at IS NULL THEN -1 {cases} ELSE {len(bounds)} END"
    sql = (
        f"SELECT {group_key_sql(by)} AS k, {bucket} AS b, count(*), sum({_LATE}) FROM report_episode x {JOINS} "
        f"WHERE x.started_at >= :start AND x.started_at < :end AND {_MEASURED} GROUP BY k, b"
    )
    return [(r[0], int(r[1]), int(r[2]), int(r[3])) for r in _run(sql, _bounds(start, end, now))]


def episode_figures(
    by: str, start: datetime, end: datetime, now: datetime, bounds: Sequence[int]
) -> tuple[list[tuple[str | None, int, int, int]], dict[str | None, dict[str, float]], dict[str, float]]:
    """The figures of :func:`episode_counts` and the median/p90 response time of the replied episodes, in one pass over the period's episodes.

    Why: each pass costs ≈ 0.3 s of CPU at 100,000 conversations, almost all of it the look-up of every
    episode's conversation; here the measured episodes are read once, ordered by group and response time, and
    counted, bucketed and ranked in Python. A replied episode is always measured, so the replied ones among
    these rows are the replied episodes starting in the period."""
    db = Conversation._meta.database
    sql = (
        f"SELECT {group_key_sql(by)} AS k, x.replied_at IS NOT NULL, x.response_s, {_LATE} FROM report_episode x "
        f"{JOINS} WHERE x.started_at >= :start AND x.started_at < :end AND {_MEASURED} ORDER BY k, x.response_s"
    )
    counts: dict[tuple[str | None, int], list[int]] = {}
    per_key: dict[str | None, list[float]] = {}
    over = len(bounds)
    for key, replied, response, late in db.execute_sql(sql, _bounds(start, end, now)):
        if not replied:
            bucket = -1
        elif response is None:
            bucket = over
        else:
            bucket = bisect_left(bounds, response)
            values = per_key.get(key)
            if values is None:
                values = per_key[key] = []
            values.append(response)
        found = counts.get((key, bucket))
        if found is None:
            found = counts[(key, bucket)] = [0, 0]
        found[0] += 1
        found[1] += late
    rows = [(key, bucket, n, late) for (key, bucket), (n, late) in counts.items()]
    everything = sorted(v for values in per_key.values() for v in values)
    return (
        rows,
        {k: _picked(v) for k, v in per_key.items() if v},
        _picked(everything) if everything else {},
    )


def _picked(values: list[float]) -> dict[str, float]:
    """Nearest-rank median and p90 of sorted values."""
    n = len(values)
    return {"p50": float(values[(n + 1) // 2 - 1]), "p90": float(values[(9 * n + 9) // 10 - 1])}


def _ranks(inner: str, params: dict[str, Any]) -> tuple[dict[str | None, dict[str, float]], dict[str, float]]:
    """Nearest-rank median and p90 per key of ``inner`` (columns ``k``, ``v``), and over all rows.

    One ordered scan; the ranks are picked in Python (a window-function query sorted twice and cost three
    times as much at 100,000 conversations)."""
    db = Conversation._meta.database
    per_key: dict[str | None, list[float]] = {}
    for key, value in db.execute_sql(f"SELECT k, v FROM ({inner}) ORDER BY k, v", params):
        values = per_key.get(key)
        if values is None:
            values = per_key[key] = []
        values.append(value)

    everything = sorted(v for values in per_key.values() for v in values)
    return {k: _picked(v) for k, v in per_key.items() if v}, (_picked(everything) if everything else {})


def first_response_ranks(
    by: str, start: datetime, end: datetime
) -> tuple[dict[str | None, dict[str, float]], dict[str, float]]:
    """Median/p90 first response time of conversations whose first inbound message is in the period."""
    inner = (
        f"SELECT {group_key_sql(by)} AS k, x.response_s AS v FROM report_first_response x {JOINS} "
        "WHERE x.first_in_at >= :start AND x.first_in_at < :end AND x.response_s IS NOT NULL"
    )
    return _ranks(inner, _bounds(start, end))


def overdue_counts(by: str, now: datetime) -> list[tuple[str | None, int]]:
    """(group key, running episodes past their deadline now)."""
    sql = (
        f"SELECT {group_key_sql(by)} AS k, count(*) FROM report_episode x {JOINS} WHERE {_OVERDUE} GROUP BY k"
    )
    return [(r[0], int(r[1])) for r in _run(sql, {"now": to_db_time(now)})]


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
