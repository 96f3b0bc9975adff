"""Report definitions: response episodes, response times, late responses — computed, never counted on the side.

Why this module exists: a seller wants to know whether they answer in time *before* the marketplace tells them.
The figures must be exact and explainable, so every one is defined here, as pure functions over a
conversation's messages and its status history (the event log), with the same deadline arithmetic as the
countdowns in the list (:func:`inbox_app.domain.deadlines.add_business_time` with the channel's policy).

Definitions (also in the README's "Reports" section and the report window's help):

* A **response episode** starts when the response clock starts — at the first inbound message not yet
  answered, by the same rules as :func:`inbox_app.domain.deadlines.compute_deadline` — and ends at the next
  reply (an outbound message that is not an auto-reply, or an inbound message flagged as answered from another
  mail client, which counts as answered at its own time). A status change to *pending* or *closed*, or
  marking the conversation *no response needed*, stops the clock: the running episode ends *stopped*. When
  the conversation is opened (or snoozed) again while a message is still unanswered, the clock runs again from
  that message, exactly as the countdown does, and a new episode starts.
* **Deadline** of an episode: its start plus the policy's target on the policy's clock (calendar or business
  hours, public holidays and closed days included).
* An episode is **late** when its reply came after its deadline, or when it had no reply by its deadline
  (still unanswered now, or stopped after the deadline had passed).
* An episode is **measured** once it got a reply or reached its deadline (a stopped episode counts when it was
  stopped after its deadline). *Episodes* in a report are the measured episodes that *start* in the period.
* **Late response rate** = late episodes / measured episodes (``None`` without measured episodes) — what
  Amazon's "Late Response Rate" counts over 7, 30 or 90 days.
* **Response time**: the length of every replied episode (reply time − start), counted in the period where
  the episode starts.
* **First response time** of a conversation: from its first inbound message to the first reply at or after it
  (statuses in between do not change it); counted in the period that holds the first inbound message; a
  conversation without a reply has none.
* **Conversations** of a period: those with at least one inbound message sent in it. **Inbound** and
  **replies**: the messages of each direction sent in it (auto-replies are not replies).
* **Open overdue now**: conversations whose clock is running now past its deadline (whatever the period).
* **Median** and **p90** are nearest-rank percentiles: the ⌈n·p⌉-th smallest value (always a real value).

Pure domain code: no Qt and no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Literal

from inbox_app.domain.deadlines import STOPPED_STATUSES, DeadlinePolicy, add_business_time

__all__ = [
    "DEFAULT_PERIOD_DAYS",
    "ConversationFacts",
    "Episode",
    "GroupBy",
    "GroupFigures",
    "Period",
    "ReportMessage",
    "StatusChange",
    "aggregate",
    "effective_changes",
    "episodes_of",
    "first_response",
    "percentile",
]

DEFAULT_PERIOD_DAYS = 30


class GroupBy(StrEnum):
    """What a report's rows are: one per channel kind, account, category, agent or language."""

    CHANNEL = "channel"
    ACCOUNT = "account"
    CATEGORY = "category"
    AGENT = "agent"
    LANGUAGE = "language"


@dataclass(frozen=True)
class ReportMessage:
    """One message as the reports see it (aware datetimes)."""

    direction: Literal["in", "out"]
    at: datetime
    auto_reply: bool = False
    answered: bool = False  # inbound flagged \\Answered: answered elsewhere, at its own time

    @property
    def is_reply(self) -> bool:
        return self.direction == "out" and not self.auto_reply


@dataclass(frozen=True)
class StatusChange:
    """A status event from the log: ``status`` is the new status, or ``no_response_needed``."""

    at: datetime
    status: str


NO_RESPONSE_NEEDED = "no_response_needed"


@dataclass(frozen=True)
class Episode:
    """One run of the response clock. ``replied_at`` / ``stopped_at`` are ``None`` while it runs."""

    started_at: datetime
    deadline_at: datetime
    replied_at: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def response(self) -> timedelta | None:
        """Reply time − start, for a replied episode."""
        return None if self.replied_at is None else self.replied_at - self.started_at

    def ended_at(self) -> datetime | None:
        return self.replied_at if self.replied_at is not None else self.stopped_at

    def is_running(self) -> bool:
        return self.replied_at is None and self.stopped_at is None

    def is_measured(self, now: datetime) -> bool:
        """Got a reply, or reached its deadline without one (before being stopped, or by ``now``)."""
        if self.replied_at is not None:
            return True
        end = self.stopped_at if self.stopped_at is not None else now
        return end >= self.deadline_at

    def is_late(self, now: datetime) -> bool:
        """Replied after the deadline, or no reply by the deadline."""
        if self.replied_at is not None:
            return self.replied_at > self.deadline_at
        return self.is_measured(now)

    def is_overdue_now(self, now: datetime) -> bool:
        return self.is_running() and now >= self.deadline_at


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _ordered(
    messages: Iterable[ReportMessage], changes: Iterable[StatusChange]
) -> list[tuple[datetime, int, object]]:
    # At equal times a message comes before a status change ("Send & close" replies, then closes).
    items: list[tuple[datetime, int, object]] = [(_utc(m.at), 0, m) for m in messages]
    items.extend((_utc(c.at), 1, c) for c in changes)
    items.sort(key=lambda item: (item[0], item[1]))
    return items


def episodes_of(
    policy: DeadlinePolicy,
    messages: Iterable[ReportMessage],
    changes: Iterable[StatusChange] = (),
    *,
    initial_status: str = "open",
) -> list[Episode]:
    """Every response episode of one conversation, oldest first (see the module docstring)."""
    stopped = initial_status in STOPPED_STATUSES
    unanswered_since: datetime | None = None
    out: list[Episode] = []
    current: Episode | None = None

    def start(at: datetime) -> Episode:
        return Episode(started_at=at, deadline_at=add_business_time(policy, at, policy.target))

    for at, _kind, item in _ordered(messages, changes):
        if isinstance(item, ReportMessage):
            if item.is_reply or (item.direction == "in" and item.answered):
                if current is not None:
                    out.append(Episode(current.started_at, current.deadline_at, replied_at=at))
                    current = None
                unanswered_since = None
            elif item.direction == "in":
                if unanswered_since is None:
                    unanswered_since = at
                if not stopped and current is None:
                    current = start(unanswered_since)
        else:
            assert isinstance(item, StatusChange)
            if item.status in STOPPED_STATUSES or item.status == NO_RESPONSE_NEEDED:
                if current is not None:
                    out.append(Episode(current.started_at, current.deadline_at, stopped_at=at))
                    current = None
                stopped = True
            elif stopped and item.status != NO_RESPONSE_NEEDED:
                stopped = False
                if unanswered_since is not None and current is None:
                    current = start(unanswered_since)
    if current is not None:
        out.append(current)
    return out


def effective_changes(
    messages: Sequence[ReportMessage], changes: Sequence[StatusChange], no_response_needed: bool
) -> list[StatusChange]:
    """The status history the clock follows: a conversation flagged "no response needed" by a flag older than
    the event log gets the stop at its last message (the countdown shows no deadline for it either)."""
    out = list(changes)
    if no_response_needed and messages and not any(c.status == NO_RESPONSE_NEEDED for c in out):
        out.append(StatusChange(messages[-1].at, NO_RESPONSE_NEEDED))
    return out


def first_response(messages: Iterable[ReportMessage]) -> tuple[datetime | None, datetime | None]:
    """(first inbound message time, first reply at or after it); ``None`` where there is none."""
    first_in: datetime | None = None
    for at, _kind, item in _ordered(messages, ()):
        assert isinstance(item, ReportMessage)
        if first_in is None:
            if item.direction == "in":
                first_in = at
                if item.answered:
                    return first_in, at
        elif item.is_reply or (item.direction == "in" and item.answered):
            return first_in, at
    return first_in, None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (the ⌈n·p⌉-th smallest value); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(len(ordered) * p))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Period:
    """A report period: whole local days ``first`` to ``last`` inclusive, in the user's time zone."""

    first: date
    last: date
    zone: tzinfo

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"the period ends ({self.last}) before it starts ({self.first})")

    @classmethod
    def last_days(cls, days: int, today: date, zone: tzinfo) -> Period:
        """The ``days`` days ending today (``1`` = today only)."""
        return cls(today - timedelta(days=max(days, 1) - 1), today, zone)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """Exclusive end: midnight after the last day."""
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=self.zone).astimezone(UTC)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def day_starts(self) -> list[datetime]:
        """Each day's first instant in UTC (a DST day is 23 or 25 hours long): lets SQL find a time's day."""
        return [datetime.combine(d, time(0), tzinfo=self.zone).astimezone(UTC) for d in self.days()]


@dataclass
class ConversationFacts:
    """What the reports know about one conversation: its group keys, messages and status history."""

    id: int
    channel: str
    account: str
    language: str | None
    policy: DeadlinePolicy
    messages: list[ReportMessage]
    changes: list[StatusChange] = field(default_factory=list)
    category: str | None = None
    agent: str | None = None
    status: str = "open"  # current status: a stopped conversation is never "overdue now" (as the countdown)

    def key(self, by: GroupBy) -> str | None:
        return {
            GroupBy.CHANNEL: self.channel,
            GroupBy.ACCOUNT: self.account,
            GroupBy.CATEGORY: self.category,
            GroupBy.AGENT: self.agent,
            GroupBy.LANGUAGE: self.language,
        }[by]

    def episodes(self) -> list[Episode]:
        return episodes_of(self.policy, self.messages, self.changes)


@dataclass
class GroupFigures:
    """The figures of one group (or of the total, with ``key`` ``None`` and ``is_total``).

    The ``*_ids`` sets hold the conversations behind each figure when the report was computed in Python (the
    stored-episode path asks SQL for them on a click instead).
    """

    key: str | None
    conversations: int = 0
    inbound: int = 0
    replies: int = 0
    first_response_median_s: float | None = None
    first_response_p90_s: float | None = None
    response_median_s: float | None = None
    episodes: int = 0
    late: int = 0
    late_response_rate: float | None = None
    open_overdue: int = 0
    conversation_ids: set[int] = field(default_factory=set)
    late_ids: set[int] = field(default_factory=set)
    episode_ids: set[int] = field(default_factory=set)
    overdue_ids: set[int] = field(default_factory=set)
    first_response_ids: set[int] = field(default_factory=set)
    reply_ids: set[int] = field(default_factory=set)
    is_total: bool = False

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {} if self.is_total else {"key": self.key}
        data.update(
            conversations=self.conversations,
            inbound=self.inbound,
            replies=self.replies,
            first_response_median_s=self.first_response_median_s,
            first_response_p90_s=self.first_response_p90_s,
            response_median_s=self.response_median_s,
            episodes=self.episodes,
            late=self.late,
            late_response_rate=self.late_response_rate,
            open_overdue=self.open_overdue,
        )
        return data


@dataclass
class _Acc:
    figures: GroupFigures
    first_responses: list[float] = field(default_factory=list)
    responses: list[float] = field(default_factory=list)


def _secs(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)


def aggregate(
    facts: Iterable[ConversationFacts],
    period: Period,
    by: GroupBy,
    now: datetime,
    *,
    on_episode: Callable[[ConversationFacts, Episode], None] | None = None,
) -> tuple[list[GroupFigures], GroupFigures]:
    """The figures of each group and of the total. ``on_episode`` sees every episode starting in the period."""
    start, end = period.start, period.end
    groups: dict[str | None, _Acc] = {}
    total = _Acc(GroupFigures(None, is_total=True))
    for conv in facts:
        key = conv.key(by)
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = _Acc(GroupFigures(key))
        targets = (acc, total)
        inbound = sum(1 for m in conv.messages if m.direction == "in" and start <= m.at < end)
        replies = sum(1 for m in conv.messages if m.is_reply and start <= m.at < end)
        first_in, first_reply = first_response(conv.messages)
        eps = conv.episodes()
        for t in targets:
            f = t.figures
            f.inbound += inbound
            f.replies += replies
            if inbound:
                f.conversations += 1
                f.conversation_ids.add(conv.id)
            if replies:
                f.reply_ids.add(conv.id)
            if first_in is not None and first_reply is not None and start <= first_in < end:
                t.first_responses.append(_secs(first_reply - first_in))
                f.first_response_ids.add(conv.id)
        for ep in eps:
            if ep.is_overdue_now(now) and conv.status not in STOPPED_STATUSES:
                for t in targets:
                    t.figures.open_overdue += 1
                    t.figures.overdue_ids.add(conv.id)
            if not start <= ep.started_at < end:
                continue
            if on_episode is not None:
                on_episode(conv, ep)
            if not ep.is_measured(now):
                continue
            late = ep.is_late(now)
            response = ep.response
            for t in targets:
                f = t.figures
                f.episodes += 1
                f.episode_ids.add(conv.id)
                if late:
                    f.late += 1
                    f.late_ids.add(conv.id)
                if response is not None:
                    t.responses.append(_secs(response))
    out: list[GroupFigures] = []
    for acc in (*groups.values(), total):
        f = acc.figures
        f.first_response_median_s = percentile(acc.first_responses, 0.5)
        f.first_response_p90_s = percentile(acc.first_responses, 0.9)
        f.response_median_s = percentile(acc.responses, 0.5)
        f.late_response_rate = (f.late / f.episodes) if f.episodes else None
        if acc is not total and (f.conversations or f.inbound or f.replies or f.episodes or f.open_overdue):
            out.append(f)
    out.sort(key=lambda g: (g.key is None, (g.key or "").casefold()))
    return out, total.figures
