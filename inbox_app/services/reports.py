"""Reports as the window and the CLI ask for them: one call computes every figure, series and export row.

Why a service: the window (on its worker thread) and ``inbox-app report`` need the same numbers. They are
aggregated by SQLite from the messages and the stored episodes (:mod:`inbox_app.store.report_episodes`, kept
up to date per conversation from the messages and the event log by :mod:`inbox_app.domain.reports`), which
answers in well under a second at 100,000 conversations; a read-only profile gets the same figures computed
in Python from scratch. Category and agent come from the conversation's ``category`` / ``assignee`` columns
where they exist ("not set" otherwise).
"""

from __future__ import annotations

import csv
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

from inbox_app.domain.deadlines import MARKETPLACE_KINDS
from inbox_app.domain.reports import (
    ConversationFacts,
    Episode,
    GroupBy,
    GroupFigures,
    Period,
    ReportMessage,
    StatusChange,
    aggregate,
    effective_changes,
)
from inbox_app.store import report_episodes
from inbox_app.store import report_queries as queries
from inbox_app.store import reports as store_reports
from inbox_app.store.models import from_db_time

__all__ = [
    "MARKETPLACE_WINDOWS",
    "RESPONSE_BUCKETS",
    "CatchUp",
    "ConversationLabel",
    "EpisodeRow",
    "LateRate",
    "Report",
    "catch_up_step",
    "compute_report",
    "conversations_behind",
    "marketplace_late_rates",
    "summary_json",
    "write_conversations_csv",
    "write_episodes_csv",
    "write_summary_csv",
    "write_summary_json",
    "write_xlsx",
]

#: Upper bounds (seconds) of the response-time distribution's buckets; the last bucket is open-ended.
RESPONSE_BUCKETS: tuple[int, ...] = (3600, 4 * 3600, 12 * 3600, 24 * 3600, 48 * 3600)


@dataclass(frozen=True)
class EpisodeRow:
    """One episode starting in the period, as exported (``--csv``)."""

    conversation_id: int
    channel: str
    account: str
    category: str | None
    agent: str | None
    language: str | None
    started_at: datetime
    replied_at: datetime | None
    response_s: float | None
    deadline_at: datetime
    late: bool | None  # None: not measured yet (running before its deadline, or stopped before it)


@dataclass
class Report:
    """Everything one report shows. ``daily`` maps a local day to (inbound, replies)."""

    period: Period
    by: GroupBy
    now: datetime
    groups: list[GroupFigures]
    total: GroupFigures
    daily: dict[date, tuple[int, int]]
    response_histogram: list[int]  # counts per RESPONSE_BUCKETS bucket (+1 open-ended)
    late_by_channel: list[GroupFigures]
    categories_daily: dict[date, dict[str | None, int]]
    stored: bool = True  # aggregated from the stored episodes (False: computed in Python from scratch)
    episode_list: list[EpisodeRow] | None = field(default=None, repr=False)  # see :func:`episode_rows`

    def as_json(self) -> dict[str, Any]:
        return summary_json(self)


def _facts(since: datetime) -> list[ConversationFacts]:
    policies = store_reports.channel_policies()
    rows = store_reports.conversation_rows()
    facts: dict[int, ConversationFacts] = {}
    current: ConversationFacts | None = None
    parse = from_db_time
    for conv_id, direction, sent_at, auto, answered in store_reports.message_rows(since):
        if current is None or current.id != conv_id:
            row = rows[conv_id]
            current = facts[conv_id] = ConversationFacts(
                id=conv_id,
                channel=row.channel_kind,
                account=row.account_name,
                language=row.language,
                policy=policies[row.channel_id],
                messages=[],
                category=row.category,
                agent=row.agent,
                status=row.status,
            )
        current.messages.append(
            ReportMessage("in" if direction == "in" else "out", parse(sent_at), bool(auto), bool(answered))
        )
    for conv_id, at, status in store_reports.status_rows():
        f = facts.get(conv_id)
        if f is not None:
            f.changes.append(StatusChange(at, status))
    for f in facts.values():
        f.changes = effective_changes(f.messages, f.changes, rows[f.id].no_response_needed)
    return list(facts.values())


def _bucket(seconds: float) -> int:
    for idx, bound in enumerate(RESPONSE_BUCKETS):
        if seconds <= bound:
            return idx
    return len(RESPONSE_BUCKETS)


#: Conversations recomputed per transaction while the window catches up (≈ 130 ms of CPU at 100,000
#: conversations): about the longest a write of the UI thread or of the sync waits for the lock. Measured at
#: 100,000 (benchmarks/report_100k.py, a loaded machine): the whole catch-up took 13–14 s of CPU at 500 per
#: transaction, 12–14 s at 2,000 (in one go), 14–17 s at 250 — so not smaller.
CATCH_UP_BATCH = 500
#: A catch-up step runs transactions until this much time has passed, then gives the worker back (at least one
#: transaction): with the batch above, about the longest a list query queued behind the catch-up waits.
CATCH_UP_SECONDS = 0.05


@dataclass(frozen=True)
class CatchUp:
    """One step of bringing the stored episodes up to date: conversations recomputed now, and still waiting."""

    recomputed: int
    left: int


def catch_up_step(*, first: bool = False) -> CatchUp:
    """Bring the stored episodes a step closer to up to date (call on the worker, again while ``left``).

    Why steps: the first catch-up after a bulk import or the upgrade takes 14–61 s at 100,000 conversations; as
    one job on the window's single database worker, every list query queued behind it and the main window
    felt frozen. A step lasts about :data:`CATCH_UP_SECONDS` in transactions of :data:`CATCH_UP_BATCH`
    conversations; the caller queues the next one behind whatever else waits, or stops (nothing is lost: what
    is left stays marked). ``first``: also check the channels' deadline policies (once per catch-up).
    A read-only profile has nothing to catch up (its reports are computed from scratch).
    """
    if not report_episodes.is_available():
        return CatchUp(0, 0)
    if first:
        report_episodes.mark_changed_policies()
    started = time.monotonic()
    recomputed = 0
    while True:
        batch = report_episodes.refresh_batch(CATCH_UP_BATCH)
        recomputed += batch.recomputed
        if not batch.left or not batch.recomputed or time.monotonic() - started >= CATCH_UP_SECONDS:
            return CatchUp(recomputed, batch.left)


def compute_report(
    period: Period,
    by: GroupBy,
    now: datetime,
    *,
    progress: Callable[[int, int], None] | None = None,
    from_scratch: bool = False,
) -> Report:
    """Compute a report over the open profile (call on a worker thread from the window).

    Normally the stored episodes are brought up to date (``progress(done, total)`` per batch of conversations
    recomputed, when any changed) and SQLite aggregates them; a read-only profile, or ``from_scratch``,
    computes every figure in Python from the messages and the event log instead — the same definitions.
    """
    if from_scratch or not report_episodes.is_available():
        return compute_report_from_scratch(period, by, now)
    report_episodes.refresh(progress)
    return _stored_report(period, by, now)


def compute_report_from_scratch(period: Period, by: GroupBy, now: datetime) -> Report:
    """Every figure computed in Python from the messages and the status events (no stored episode)."""
    facts = _facts(period.start)
    episodes: list[EpisodeRow] = []

    def on_episode(conv: ConversationFacts, ep: Episode) -> None:
        response = ep.response
        episodes.append(
            EpisodeRow(
                conversation_id=conv.id,
                channel=conv.channel,
                account=conv.account,
                category=conv.category,
                agent=conv.agent,
                language=conv.language,
                started_at=ep.started_at,
                replied_at=ep.replied_at,
                response_s=None if response is None else round(response.total_seconds(), 3),
                deadline_at=ep.deadline_at,
                late=ep.is_late(now) if ep.is_measured(now) else None,
            )
        )

    groups, total = aggregate(facts, period, by, now, on_episode=on_episode)
    late_by_channel = groups if by is GroupBy.CHANNEL else aggregate(facts, period, GroupBy.CHANNEL, now)[0]
    daily: dict[date, list[int]] = {day: [0, 0] for day in period.days()}
    categories_daily: dict[date, dict[str | None, int]] = {day: defaultdict(int) for day in period.days()}
    start, end = period.start, period.end
    for conv in facts:
        first_in_day: date | None = None
        for m in conv.messages:
            if not start <= m.at < end:
                continue
            day = period.local_day(m.at)
            if m.direction == "in":
                daily[day][0] += 1
                if first_in_day is None:
                    first_in_day = day
            elif m.is_reply:
                daily[day][1] += 1
        if first_in_day is not None:
            categories_daily[first_in_day][conv.category] += 1
    histogram = [0] * (len(RESPONSE_BUCKETS) + 1)
    for row in episodes:
        if row.response_s is not None:
            histogram[_bucket(row.response_s)] += 1
    return Report(
        period=period,
        by=by,
        now=now,
        groups=groups,
        total=total,
        daily={day: (v[0], v[1]) for day, v in daily.items()},
        response_histogram=histogram,
        late_by_channel=late_by_channel,
        categories_daily={day: {k: n for k, n in v.items() if n} for day, v in categories_daily.items()},
        stored=False,
        episode_list=episodes,
    )


def _stored_report(period: Period, by: GroupBy, now: datetime) -> Report:
    """The figures aggregated by SQLite over the messages and the stored episodes (see ``store.report_queries``)."""
    start, end, day_starts = period.start, period.end, period.day_starts()
    days = period.days()
    groups: dict[str | None, GroupFigures] = {}
    total = GroupFigures(None, is_total=True)

    def group(key: str | None) -> GroupFigures:
        found = groups.get(key)
        if found is None:
            found = groups[key] = GroupFigures(key)
        return found

    daily: dict[date, list[int]] = {day: [0, 0] for day in days}
    messages_in_period = 0
    for day_index, inbound, replies, messages in queries.daily_counts(start, end, day_starts):
        daily[days[day_index]] = [inbound, replies]
        messages_in_period += messages
    categories_daily: dict[date, dict[str | None, int]] = {day: {} for day in days}
    walk = queries.in_conversation_order(messages_in_period)
    for key, category, day_index, n, inbound, replies in queries.message_group_counts(
        by.value, start, end, day_starts, walk=walk
    ):
        g = group(key)
        for f in (g, total):
            f.conversations += n
            f.inbound += inbound
            f.replies += replies
        if n:
            per_day = categories_daily[days[day_index]]
            per_day[category] = per_day.get(category, 0) + n
    histogram = [0] * (len(RESPONSE_BUCKETS) + 1)
    episode_counts, response_ranks, all_response_ranks, per_channel = queries.episode_figures(
        by.value, start, end, now, RESPONSE_BUCKETS, walk=walk
    )
    for key, bucket, measured, late in episode_counts:
        for f in (group(key), total):
            f.episodes += measured
            f.late += late
        if bucket >= 0:
            histogram[bucket] += measured
    for key, overdue in queries.overdue_counts(by.value, now):
        group(key).open_overdue += overdue
        total.open_overdue += overdue
    for (per_group, overall), median_attr, p90_attr in (
        (
            queries.first_response_ranks(by.value, start, end, walk=walk),
            "first_response_median_s",
            "first_response_p90_s",
        ),
        ((response_ranks, all_response_ranks), "response_median_s", None),
    ):
        for f, values in (*((group(key), v) for key, v in per_group.items()), (total, overall)):
            setattr(f, median_attr, values.get("p50"))
            if p90_attr is not None:
                setattr(f, p90_attr, values.get("p90"))
    for f in (*groups.values(), total):
        f.late_response_rate = (f.late / f.episodes) if f.episodes else None
    ordered = sorted(
        (
            g
            for g in groups.values()
            if g.conversations or g.inbound or g.replies or g.episodes or g.open_overdue
        ),
        key=lambda g: (g.key is None, (g.key or "").casefold()),
    )
    if by is GroupBy.CHANNEL:
        late_by_channel = ordered
    else:
        late_by_channel = []
        for key in sorted(per_channel, key=lambda k: (k or "").casefold()):
            measured, late = per_channel[key]
            late_by_channel.append(
                GroupFigures(key, episodes=measured, late=late, late_response_rate=late / measured)
            )
    return Report(
        period=period,
        by=by,
        now=now,
        groups=ordered,
        total=total,
        daily={day: (v[0], v[1]) for day, v in daily.items()},
        response_histogram=histogram,
        late_by_channel=late_by_channel,
        categories_daily=categories_daily,
        stored=True,
    )


#: The trailing windows (days) over which the marketplaces count the late response rate: Amazon's Account
#: Health shows its "Late Response Rate" over the last 7, 30 and 90 days.
MARKETPLACE_WINDOWS: tuple[int, ...] = (7, 30, 90)


@dataclass(frozen=True)
class LateRate:
    """Late response rate of one channel over the last ``days`` days (the episodes starting in them)."""

    days: int
    episodes: int
    late: int

    @property
    def rate(self) -> float | None:
        return self.late / self.episodes if self.episodes else None


def marketplace_late_rates(
    now: datetime, zone: tzinfo, windows: Sequence[int] = MARKETPLACE_WINDOWS, *, from_scratch: bool = False
) -> dict[str, list[LateRate]]:
    """Each channel's late response rate over the trailing ``windows`` ending today, whatever period the
    report shows — the way a marketplace counts it, so a seller sees the number before the marketplace does.

    Same definition as the report's rate (late / measured episodes starting in the window, by the channel's
    deadline policy). One list per marketplace channel kind (not e-mail) with at least one measured episode in a window,
    one entry per window (``rate`` ``None`` where the window holds no measured episode)."""
    today = now.astimezone(zone).date()
    counts: dict[int, dict[str, tuple[int, int]]] = {}
    periods = {days: Period.last_days(days, today, zone) for days in windows}
    if from_scratch or not report_episodes.is_available():
        facts = _facts(min(p.start for p in periods.values()))
        for days, period in periods.items():
            groups, _total = aggregate(facts, period, GroupBy.CHANNEL, now)
            counts[days] = {str(g.key): (g.episodes, g.late) for g in groups if g.episodes}
    else:
        report_episodes.refresh()
        longest = max(periods.values(), key=lambda p: p.end - p.start)
        walk = queries.in_conversation_order(queries.message_count(longest.start, longest.end))
        for days, period in periods.items():
            per: dict[str, list[int]] = {}
            for key, _b, measured, late in queries.episode_counts(
                GroupBy.CHANNEL.value, period.start, period.end, now, walk=walk
            ):
                acc = per.setdefault(str(key), [0, 0])
                acc[0] += measured
                acc[1] += late
            counts[days] = {k: (v[0], v[1]) for k, v in per.items() if v[0]}
    channels = sorted(
        {k for per_window in counts.values() for k in per_window if k in MARKETPLACE_KINDS}, key=str.casefold
    )
    return {
        channel: [LateRate(days, *counts[days].get(channel, (0, 0))) for days in windows]
        for channel in channels
    }


def episode_rows(report: Report) -> list[EpisodeRow]:
    """Every episode starting in the report's period (no cap), by conversation and start."""
    if report.episode_list is not None:
        return report.episode_list
    out: list[EpisodeRow] = []
    period = report.period
    for (cid, channel, account, category, agent, language, started, deadline, replied, response, measured,
         late) in queries.episode_export_rows(period.start, period.end, report.now):  # fmt: skip
        out.append(
            EpisodeRow(
                conversation_id=int(cid),
                channel=str(channel),
                account=str(account),
                category=category,
                agent=agent,
                language=language,
                started_at=from_db_time(started),
                replied_at=None if replied is None else from_db_time(replied),
                response_s=response,
                deadline_at=from_db_time(deadline),
                late=bool(late) if measured else None,
            )
        )
    report.episode_list = out
    return out


#: drill-down figure → (the ``*_ids`` set of a Python-computed report, the stored-path query's figure)
FIGURE_IDS: dict[str, tuple[str, str]] = {
    "conversations": ("conversation_ids", "conversations"),
    "inbound": ("conversation_ids", "conversations"),
    "replies": ("reply_ids", "replies"),
    "first_response_median_s": ("first_response_ids", "first_response"),
    "first_response_p90_s": ("first_response_ids", "first_response"),
    "response_median_s": ("episode_ids", "episodes"),
    "episodes": ("episode_ids", "episodes"),
    "late": ("late_ids", "late"),
    "late_response_rate": ("late_ids", "late"),
    "open_overdue": ("overdue_ids", "overdue"),
}


def ids_behind(report: Report, group: GroupFigures, figure: str) -> set[int]:
    """The conversations behind one figure of one group (or of the total)."""
    attr, query_figure = FIGURE_IDS[figure]
    if not report.stored:
        ids: set[int] = getattr(group, attr)
        return set(ids)
    period = report.period
    return queries.figure_ids(
        query_figure,
        report.by.value,
        group.key,
        total=group.is_total,
        start=period.start,
        end=period.end,
        now=report.now,
    )


# -------------------------------------------------------------------------------------------------- export


def summary_json(report: Report) -> dict[str, Any]:
    """The JSON of ``inbox-app report --json``."""
    return {
        "from": report.period.first.isoformat(),
        "to": report.period.last.isoformat(),
        "by": report.by.value,
        "groups": [g.as_json() for g in report.groups],
        "total": report.total.as_json(),
    }


EPISODE_COLUMNS = (
    "conversation_id",
    "channel",
    "account",
    "category",
    "agent",
    "started_at",
    "replied_at",
    "response_s",
    "deadline_at",
    "late",
)


def _late_text(late: bool | None) -> str:
    return "" if late is None else ("1" if late else "0")


def _episode_table(report: Report) -> Iterator[list[Any]]:
    """The per-episode rows as values (times as aware datetimes, ``late`` as 1/0/None)."""
    for e in episode_rows(report):
        yield [
            e.conversation_id,
            e.channel,
            e.account,
            e.category,
            e.agent,
            e.started_at,
            e.replied_at,
            e.response_s,
            e.deadline_at,
            None if e.late is None else int(e.late),
        ]


CONVERSATION_COLUMNS = (
    "conversation_id",
    "channel",
    "account",
    "category",
    "agent",
    "language",
    "inbound",
    "replies",
    "episodes",
    "late",
    "replied",
)


def _conversation_table(report: Report) -> list[list[Any]]:
    """One row per conversation with a message or an episode in the period: its messages of each direction
    sent in the period, and its episodes starting in it (measured ones, late ones, replied ones)."""
    rows: dict[int, list[Any]] = {
        int(r[0]): [int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]), int(r[7]), 0, 0, 0]
        for r in queries.conversation_export_rows(report.period.start, report.period.end)
    }
    for e in episode_rows(report):
        row = rows.get(e.conversation_id)
        if row is None:  # an episode starting in the period of a conversation without a message in it
            row = rows[e.conversation_id] = [
                e.conversation_id, e.channel, e.account, e.category, e.agent, e.language, 0, 0, 0, 0, 0,
            ]  # fmt: skip
        row[8] += e.late is not None
        row[9] += bool(e.late)
        row[10] += e.replied_at is not None
    return [rows[cid] for cid in sorted(rows)]


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def write_episodes_csv(report: Report, path: Path) -> int:
    """One row per episode starting in the period (no row cap); returns the number of rows."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(EPISODE_COLUMNS)
        for row in _episode_table(report):
            writer.writerow([_csv_value(v) for v in row])
            count += 1
    return count


def write_conversations_csv(report: Report, path: Path) -> int:
    """One row per conversation of the period (see :func:`_conversation_table`); returns the number of rows."""
    table = _conversation_table(report)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CONVERSATION_COLUMNS)
        writer.writerows([_csv_value(v) for v in row] for row in table)
    return len(table)


SUMMARY_FIELDS = (
    "conversations",
    "inbound",
    "replies",
    "first_response_median_s",
    "first_response_p90_s",
    "response_median_s",
    "episodes",
    "late",
    "late_response_rate",
    "open_overdue",
)


def _summary_table(report: Report, total_label: str) -> list[list[Any]]:
    rows: list[tuple[str, dict[str, Any]]] = [
        *((g.key or "", g.as_json()) for g in report.groups),
        (total_label, report.total.as_json()),
    ]
    return [[key, *(data[f] for f in SUMMARY_FIELDS)] for key, data in rows]


def write_summary_csv(report: Report, path: Path, total_label: str = "total") -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["key", *SUMMARY_FIELDS])
        writer.writerows([_csv_value(v) for v in row] for row in _summary_table(report, total_label))


def write_summary_json(report: Report, path: Path) -> None:
    path.write_text(json.dumps(summary_json(report), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


#: Rows per XLSX sheet (Excel's limit is 1,048,576 with the header): longer tables go on to a next sheet.
XLSX_MAX_ROWS = 1_048_575


def write_xlsx(report: Report, path: Path, total_label: str = "total", max_rows: int = XLSX_MAX_ROWS) -> None:
    """One workbook: the summary, one row per conversation, one row per episode (no row cap: a table longer
    than a sheet continues on "Episodes (2)"…). Times are real spreadsheet dates in UTC, durations seconds.

    Why XlsxWriter: well kept, pure Python, and its ``constant_memory`` mode streams rows to disk, so an
    export of hundreds of thousands of episodes does not hold them all in memory twice.
    """
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "remove_timezone": True})
    try:
        bold = workbook.add_format({"bold": True})
        when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        percent = workbook.add_format({"num_format": "0.0%"})

        def sheet(
            name: str, header: Sequence[str], rows: Iterable[Sequence[Any]], formats: dict[int, Any]
        ) -> None:
            part, written = 1, 0
            ws = workbook.add_worksheet(name)
            ws.write_row(0, 0, header, bold)
            for row in rows:
                if written == max_rows:
                    part += 1
                    ws = workbook.add_worksheet(f"{name} ({part})")
                    ws.write_row(0, 0, header, bold)
                    written = 0
                written += 1
                for col, value in enumerate(row):
                    if value is None:
                        continue
                    if isinstance(value, datetime):
                        ws.write_datetime(written, col, value.astimezone(UTC), when)
                    else:
                        ws.write(written, col, value, formats.get(col))
            ws.freeze_panes(1, 0)

        rate_col = 1 + SUMMARY_FIELDS.index("late_response_rate")
        sheet("Summary", ["key", *SUMMARY_FIELDS], _summary_table(report, total_label), {rate_col: percent})
        sheet("Conversations", CONVERSATION_COLUMNS, _conversation_table(report), {})
        sheet("Episodes", EPISODE_COLUMNS, _episode_table(report), {})
        info = workbook.add_worksheet("Period")
        for idx, (label, value) in enumerate(
            (("from", report.period.first.isoformat()), ("to", report.period.last.isoformat()),
             ("by", report.by.value), ("times", "UTC"))
        ):  # fmt: skip
            info.write(idx, 0, label, bold)
            info.write(idx, 1, value)
    finally:
        workbook.close()


@dataclass(frozen=True)
class ConversationLabel:
    """A conversation behind a figure, as the drill-down list shows it."""

    id: int
    customer: str
    subject: str
    channel_name: str


def conversations_behind(ids: Iterable[int]) -> list[ConversationLabel]:
    """The conversations behind a figure (no cap), most recent first."""
    return [ConversationLabel(*row) for row in store_reports.conversation_labels(sorted(set(ids)))]
