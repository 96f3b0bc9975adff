"""Reports as the window and the CLI ask for them: one call computes every figure, series and export row.

Why a service: the window (on its worker thread) and ``inbox-app report`` need the same numbers, built from
the store's reads (:mod:`inbox_app.store.reports`) and the definitions in :mod:`inbox_app.domain.reports`.
Category and agent do not exist as columns yet: ``category_of`` / ``agent_of`` are pluggable look-ups
(conversation ids → key); without them every conversation is uncategorised / unassigned (key ``None``).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from inbox_app.domain.reports import (
    NO_RESPONSE_NEEDED,
    ConversationFacts,
    Episode,
    GroupBy,
    GroupFigures,
    Period,
    ReportMessage,
    StatusChange,
    aggregate,
)
from inbox_app.store import reports as store_reports
from inbox_app.store.models import from_db_time

__all__ = [
    "RESPONSE_BUCKETS",
    "ConversationLabel",
    "EpisodeRow",
    "KeyLookup",
    "Report",
    "compute_report",
    "conversations_behind",
    "summary_json",
    "write_conversations_csv",
    "write_episodes_csv",
    "write_summary_csv",
    "write_summary_json",
]

#: conversation ids → group key (absent: None, shown as "uncategorised"/"unassigned").
KeyLookup = Callable[[Sequence[int]], Mapping[int, str]]

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
    episodes: list[EpisodeRow]
    daily: dict[date, tuple[int, int]]
    response_histogram: list[int]  # counts per RESPONSE_BUCKETS bucket (+1 open-ended)
    late_by_channel: list[GroupFigures]
    categories_daily: dict[date, dict[str | None, int]]
    conversation_keys: dict[int, dict[str, str | None]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return summary_json(self)


def _facts(
    since: datetime,
    category_of: KeyLookup | None,
    agent_of: KeyLookup | None,
    progress: Callable[[int, int], None] | None,
) -> list[ConversationFacts]:
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
            )
        current.messages.append(
            ReportMessage("in" if direction == "in" else "out", parse(sent_at), bool(auto), bool(answered))
        )
    if progress is not None:
        progress(1, 3)
    for conv_id, at, status in store_reports.status_rows():
        f = facts.get(conv_id)
        if f is not None:
            f.changes.append(StatusChange(at, status))
    ids = list(facts)
    categories = category_of(ids) if category_of is not None else {}
    agents = agent_of(ids) if agent_of is not None else {}
    for f in facts.values():
        f.category = categories.get(f.id)
        f.agent = agents.get(f.id)
        # A conversation flagged "no response needed" whose flag predates the event log: stop its clock at
        # its last message (the countdown shows no deadline for it either).
        if rows[f.id].no_response_needed and not any(c.status == NO_RESPONSE_NEEDED for c in f.changes):
            f.changes.append(StatusChange(f.messages[-1].at, NO_RESPONSE_NEEDED))
    if progress is not None:
        progress(2, 3)
    return list(facts.values())


def _bucket(seconds: float) -> int:
    for idx, bound in enumerate(RESPONSE_BUCKETS):
        if seconds <= bound:
            return idx
    return len(RESPONSE_BUCKETS)


def compute_report(
    period: Period,
    by: GroupBy,
    now: datetime,
    *,
    category_of: KeyLookup | None = None,
    agent_of: KeyLookup | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Compute a report over the open profile (call on a worker thread from the window)."""
    facts = _facts(period.start, category_of, agent_of, progress)
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
    if progress is not None:
        progress(3, 3)
    return Report(
        period=period,
        by=by,
        now=now,
        groups=groups,
        total=total,
        episodes=episodes,
        daily={day: (v[0], v[1]) for day, v in daily.items()},
        response_histogram=histogram,
        late_by_channel=late_by_channel,
        categories_daily={day: dict(v) for day, v in categories_daily.items()},
        conversation_keys={
            f.id: {
                "channel": f.channel,
                "account": f.account,
                "language": f.language,
                "category": f.category,
                "agent": f.agent,
            }
            for f in facts
        },
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


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat()


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


def write_episodes_csv(report: Report, path: Path) -> int:
    """One row per episode starting in the period (no row cap); returns the number of rows."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(EPISODE_COLUMNS)
        for e in report.episodes:
            writer.writerow(
                [
                    e.conversation_id,
                    e.channel,
                    e.account,
                    e.category or "",
                    e.agent or "",
                    _iso(e.started_at),
                    _iso(e.replied_at),
                    "" if e.response_s is None else e.response_s,
                    _iso(e.deadline_at),
                    _late_text(e.late),
                ]
            )
    return len(report.episodes)


def write_conversations_csv(report: Report, path: Path) -> int:
    """One row per conversation with an episode in the period: episodes, late ones, median response."""
    per: dict[int, list[EpisodeRow]] = defaultdict(list)
    for e in report.episodes:
        per[e.conversation_id].append(e)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "conversation_id",
                "channel",
                "account",
                "category",
                "agent",
                "language",
                "episodes",
                "late",
                "replied",
            ]
        )
        for conv_id in sorted(per):
            rows = per[conv_id]
            first = rows[0]
            writer.writerow(
                [
                    conv_id,
                    first.channel,
                    first.account,
                    first.category or "",
                    first.agent or "",
                    first.language or "",
                    len(rows),
                    sum(1 for r in rows if r.late),
                    sum(1 for r in rows if r.replied_at is not None),
                ]
            )
    return len(per)


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


def write_summary_csv(report: Report, path: Path, total_label: str = "total") -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["key", *SUMMARY_FIELDS])
        rows: Iterable[tuple[str, dict[str, Any]]] = [
            *((g.key or "", g.as_json()) for g in report.groups),
            (total_label, report.total.as_json()),
        ]
        for key, data in rows:
            writer.writerow([key, *("" if data[f] is None else data[f] for f in SUMMARY_FIELDS)])


def write_summary_json(report: Report, path: Path) -> None:
    path.write_text(json.dumps(summary_json(report), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


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
