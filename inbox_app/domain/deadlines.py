"""Response deadlines (SLA clocks): policies, business-time arithmetic and the clock rules.

Why this module exists: every marketplace measures how fast a seller answers, and each measures differently.
Amazon counts 24 calendar hours (weekends and holidays included), Mirakl operators 24 h or 48 h from
``shop_reply_needed_since``, a seller's own e-mail promise is usually "one business day" inside opening hours
and outside public holidays. A :class:`DeadlinePolicy` describes one such rule as data (so users can edit it
and it can be stored as JSON); the functions below turn a conversation's messages into a deadline.

Business time is computed in the policy's own time zone with :mod:`zoneinfo`, so a window "09:00–18:00"
stays 09:00–18:00 local time across daylight-saving changes; inputs and outputs are aware datetimes
(outputs in UTC).
The arithmetic jumps from opening window to opening window (never minute by minute), so computing deadlines
for thousands of conversations stays cheap.

Pure domain code: no Qt and no I/O (public holidays come from the ``holidays`` package, cached per
country/subdivision/year).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import InitVar, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from inbox_app.i18n import N_

__all__ = [
    "MARKETPLACE_KINDS",
    "MIRAKL_OPERATOR_TARGETS",
    "PRESETS",
    "Clock",
    "ClockMessage",
    "DeadlinePolicy",
    "DeadlineState",
    "Urgency",
    "add_business_time",
    "business_time_between",
    "clock_time",
    "closing_warning_needed",
    "compute_deadline",
    "is_open_at",
    "preset_for",
    "urgency",
]

Window = tuple[time, time]
Schedule = Mapping[int, tuple[Window, ...]]

#: An end time of 00:00 means "midnight at the end of the day" (``time`` cannot say 24:00).
END_OF_DAY = time(0, 0)

#: How far we search for the next opening before deciding a policy can never be open (e.g. every day closed).
_MAX_SEARCH_DAYS = 3 * 366


class Clock(StrEnum):
    """Whether a deadline counts every hour (calendar) or only opening hours on working days (business)."""

    CALENDAR = "calendar"
    BUSINESS = "business"


def _full_days(weekdays: Sequence[int]) -> dict[int, tuple[Window, ...]]:
    return {d: ((time(0, 0), END_OF_DAY),) for d in weekdays}


ALL_WEEK = _full_days(range(7))
MON_FRI = _full_days(range(5))
OFFICE_HOURS = {d: ((time(9, 0), time(18, 0)),) for d in range(5)}


def _check_window(weekday: int, window: Window) -> None:
    start, end = window
    if not isinstance(start, time) or not isinstance(end, time):
        raise ValueError(f"opening window on weekday {weekday} must be a pair of times, got {window!r}")
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError(f"opening window on weekday {weekday} must use local (naive) times")
    if end != END_OF_DAY and end <= start:
        raise ValueError(f"opening window on weekday {weekday} ends before it starts: {window!r}")


@dataclass(frozen=True)
class DeadlinePolicy:
    """One response-time rule: a target duration counted on a calendar or a business clock.

    ``schedule`` maps a weekday (0 = Monday) to that day's opening windows in local time of ``timezone``;
    a window ending at 00:00 runs to midnight. It only matters for the business clock. ``closed_days`` are
    extra days off (company holidays) on top of the public holidays of ``holidays_country`` and
    ``holidays_subdiv``.
    ``name`` is English source text marked with ``N_``: translate it where it is shown.
    """

    key: str
    name: str
    target: timedelta
    clock: Clock
    timezone: str = "Europe/Berlin"
    schedule: Schedule = field(default_factory=lambda: dict(ALL_WEEK))
    holidays_country: str | None = None
    holidays_subdiv: str | None = None
    closed_days: frozenset[date] = frozenset()
    #: False for the built-in presets: their calendars are known to exist, and checking one imports every
    #: country's calendar (a fifth of the window's start-up); a policy the user makes or stored is checked.
    check_calendar: InitVar[bool] = True

    def __post_init__(self, check_calendar: bool) -> None:
        if self.target < timedelta(0):
            raise ValueError(f"deadline target must not be negative, got {self.target}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        normalized: dict[int, tuple[Window, ...]] = {}
        for weekday, windows in self.schedule.items():
            if not isinstance(weekday, int) or not 0 <= weekday <= 6:
                raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday!r}")
            wins = tuple(tuple(w) for w in windows)
            for w in wins:
                if len(w) != 2:
                    raise ValueError(f"opening window on weekday {weekday} must be (start, end), got {w!r}")
                _check_window(weekday, (w[0], w[1]))
            if wins:
                normalized[weekday] = tuple(sorted((w[0], w[1]) for w in wins))
        object.__setattr__(self, "schedule", normalized)
        object.__setattr__(self, "clock", Clock(self.clock))
        object.__setattr__(self, "closed_days", frozenset(self.closed_days))
        if self.holidays_country is not None and check_calendar:
            # Fail early (with a clear message) on a country or subdivision the holidays package lacks.
            _holiday_dates(self.holidays_country, self.holidays_subdiv, 2026)

    def __hash__(self) -> int:
        # The schedule is a dict (unhashable); hash a frozen view so policies can key caches and sets.
        schedule = tuple(sorted(self.schedule.items()))
        return hash(
            (
                self.key,
                self.name,
                self.target,
                self.clock,
                self.timezone,
                schedule,
                self.holidays_country,
                self.holidays_subdiv,
                self.closed_days,
            )
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description; :meth:`from_dict` reads it back to an equal policy."""
        return {
            "key": self.key,
            "name": self.name,
            "target_seconds": self.target.total_seconds(),
            "clock": self.clock.value,
            "timezone": self.timezone,
            "schedule": {
                str(day): [[_time_to_str(s, False), _time_to_str(e, True)] for s, e in windows]
                for day, windows in sorted(self.schedule.items())
            },
            "holidays_country": self.holidays_country,
            "holidays_subdiv": self.holidays_subdiv,
            "closed_days": sorted(d.isoformat() for d in self.closed_days),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeadlinePolicy:
        """Rebuild a policy written by :meth:`to_dict`; raises ``ValueError`` on malformed data."""
        try:
            schedule_raw = data.get("schedule", {})
            if not isinstance(schedule_raw, Mapping):
                raise ValueError("schedule must be an object")
            schedule: dict[int, tuple[Window, ...]] = {}
            for day, windows in schedule_raw.items():
                schedule[int(day)] = tuple(
                    (_time_from_str(str(s), False), _time_from_str(str(e), True)) for s, e in windows
                )
            return cls(
                key=str(data["key"]),
                name=str(data["name"]),
                target=timedelta(seconds=float(data["target_seconds"])),
                clock=Clock(str(data["clock"])),
                timezone=str(data.get("timezone", "Europe/Berlin")),
                schedule=schedule,
                holidays_country=_opt_str(data.get("holidays_country")),
                holidays_subdiv=_opt_str(data.get("holidays_subdiv")),
                closed_days=frozenset(date.fromisoformat(str(d)) for d in data.get("closed_days", ())),
            )
        except KeyError as exc:
            raise ValueError(f"deadline policy is missing the field {exc.args[0]!r}") from exc
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"malformed deadline policy: {exc}") from exc


def _opt_str(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _time_to_str(value: time, is_end: bool) -> str:
    if is_end and value == END_OF_DAY:
        return "24:00"
    if value.second or value.microsecond:
        return value.isoformat()
    return value.strftime("%H:%M")


_TIME_RE = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")


def _time_from_str(text: str, is_end: bool) -> time:
    if is_end and text in ("24:00", "24:00:00"):
        return END_OF_DAY
    if not _TIME_RE.match(text):
        raise ValueError(f"invalid time {text!r} (expected HH:MM)")
    return time.fromisoformat(text.zfill(5) if len(text) == 4 else text)


# --------------------------------------------------------------------------------------------------- holidays


@lru_cache(maxsize=512)
def _holiday_dates(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    import holidays as _holidays  # on first use: it loads every country's calendar at once

    try:
        table = _holidays.country_holidays(country, subdiv=subdiv, years=year)
    except NotImplementedError as exc:
        raise ValueError(f"no public holidays known for {country!r} / {subdiv!r}: {exc}") from exc
    return frozenset(table.keys())


def _is_closed_day(policy: DeadlinePolicy, day: date) -> bool:
    if day in policy.closed_days:
        return True
    if policy.holidays_country is None:
        return False
    return day in _holiday_dates(policy.holidays_country, policy.holidays_subdiv, day.year)


# ------------------------------------------------------------------------------------------ business time


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a time-zone aware datetime")


def _day_intervals(policy: DeadlinePolicy, zone: ZoneInfo, day: date) -> list[tuple[datetime, datetime]]:
    """The opening intervals of one local day, in UTC, sorted and merged (DST can make windows touch)."""
    windows = policy.schedule.get(day.weekday(), ())
    if not windows or _is_closed_day(policy, day):
        return []
    out: list[tuple[datetime, datetime]] = []
    for start, end in windows:
        s = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
        end_day = day + timedelta(days=1) if end == END_OF_DAY else day
        e = datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)
        if e > s:  # a window wholly inside a spring-forward gap has no length
            out.append((s, e))
    out.sort()
    merged: list[tuple[datetime, datetime]] = []
    for s, e in out:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _intervals_from(policy: DeadlinePolicy, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Opening intervals (UTC) that end after ``moment``, in order, day by day, without end."""
    zone = policy.zone
    day = moment.astimezone(zone).date() - timedelta(days=1)
    empty_days = 0
    while True:
        intervals = _day_intervals(policy, zone, day)
        if intervals:
            empty_days = 0
        else:
            empty_days += 1
            if empty_days > _MAX_SEARCH_DAYS:
                raise ValueError(f"deadline policy {policy.key!r} is never open (no opening hours found)")
        for s, e in intervals:
            if e > moment:
                yield s, e
        day += timedelta(days=1)


def is_open_at(policy: DeadlinePolicy, moment: datetime) -> bool:
    """Whether the business clock runs at ``moment`` (always true for a calendar clock)."""
    _require_aware(moment, "moment")
    if policy.clock is Clock.CALENDAR:
        return True
    moment = moment.astimezone(UTC)
    zone = policy.zone
    local_day = moment.astimezone(zone).date()
    for day in (local_day - timedelta(days=1), local_day):
        for s, e in _day_intervals(policy, zone, day):
            if s <= moment < e:
                return True
    return False


def add_business_time(policy: DeadlinePolicy, start: datetime, delta: timedelta) -> datetime:
    """The moment when ``delta`` of the policy's clock has elapsed after ``start`` (UTC, aware).

    Calendar clock: plain addition. Business clock: time only runs inside opening windows on days that are
    neither public holidays nor ``closed_days``; a start outside hours begins counting at the next opening.
    """
    _require_aware(start, "start")
    if delta < timedelta(0):
        raise ValueError("delta must not be negative")
    start = start.astimezone(UTC)
    if policy.clock is Clock.CALENDAR or delta == timedelta(0):
        return start + delta
    remaining = delta
    for s, e in _intervals_from(policy, start):
        begin = max(s, start)
        available = e - begin
        if available >= remaining:
            return begin + remaining
        remaining -= available
    raise AssertionError("unreachable: _intervals_from never ends")  # pragma: no cover


def business_time_between(policy: DeadlinePolicy, a: datetime, b: datetime) -> timedelta:
    """How much of the policy's clock runs from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
    _require_aware(a, "a")
    _require_aware(b, "b")
    a, b = a.astimezone(UTC), b.astimezone(UTC)
    if b < a:
        return -business_time_between(policy, b, a)
    if policy.clock is Clock.CALENDAR:
        return b - a
    zone = policy.zone
    total = timedelta(0)
    day = a.astimezone(zone).date() - timedelta(days=1)
    last = b.astimezone(zone).date()
    while day <= last:
        for s, e in _day_intervals(policy, zone, day):
            lo, hi = max(s, a), min(e, b)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total


# --------------------------------------------------------------------------------------------------- presets


PRESETS: dict[str, DeadlinePolicy] = {
    "amazon": DeadlinePolicy(
        key="amazon",
        name=N_("Amazon: 24 hours, weekends and holidays included"),
        target=timedelta(hours=24),
        clock=Clock.CALENDAR,
        schedule=ALL_WEEK,
    ),
    # Kaufland's own pages disagree on whether weekends count: calendar by default; switching the clock to
    # business uses the Monday-to-Friday schedule below.
    "kaufland": DeadlinePolicy(
        key="kaufland",
        name=N_("Kaufland: 48 hours"),
        target=timedelta(hours=48),
        clock=Clock.CALENDAR,
        schedule=MON_FRI,
    ),
    "mirakl_24h": DeadlinePolicy(
        key="mirakl_24h",
        name=N_("Mirakl marketplace: 24 hours"),
        target=timedelta(hours=24),
        clock=Clock.CALENDAR,
        schedule=ALL_WEEK,
    ),
    "mirakl_48h": DeadlinePolicy(
        key="mirakl_48h",
        name=N_("Mirakl marketplace: 48 hours"),
        target=timedelta(hours=48),
        clock=Clock.CALENDAR,
        schedule=ALL_WEEK,
    ),
    # eBay has no official deadline for ordinary messages; 24 h is what sellers aim for.
    "ebay": DeadlinePolicy(
        key="ebay",
        name=N_("eBay: 24 hours (recommended)"),
        target=timedelta(hours=24),
        clock=Clock.CALENDAR,
        schedule=ALL_WEEK,
    ),
    "ebay_returns": DeadlinePolicy(
        key="ebay_returns",
        name=N_("eBay returns and money back: 3 business days"),
        target=timedelta(days=3),
        clock=Clock.BUSINESS,
        schedule=MON_FRI,
    ),
    # Allegro documents no response deadline: a sensible default the user can change.
    "allegro": DeadlinePolicy(
        key="allegro",
        name=N_("Allegro: 24 hours (recommended)"),
        target=timedelta(hours=24),
        clock=Clock.CALENDAR,
        schedule=ALL_WEEK,
    ),
    # The seller's own promise: one business day = one full day of opening hours (9 h here).
    "email": DeadlinePolicy(
        key="email",
        name=N_("E-mail: 1 business day (Mon–Fri 09:00–18:00)"),
        target=timedelta(hours=9),
        clock=Clock.BUSINESS,
        schedule=OFFICE_HOURS,
        holidays_country="DE",
        check_calendar=False,
    ),
}

#: Response targets per Mirakl operator. These are defaults taken from the operators' seller guides at the
#: time of writing; operators change them, so the settings let the user edit each one.
MIRAKL_OPERATOR_TARGETS: dict[str, timedelta] = {
    "pccomponentes": timedelta(hours=24),
    "conrad": timedelta(hours=48),
    "carrefour": timedelta(hours=48),
    "fnac": timedelta(hours=48),
    "darty": timedelta(hours=48),
    "fnacdarty": timedelta(hours=48),
    "manomano": timedelta(hours=48),
    "leroymerlin": timedelta(hours=48),
}

#: Channel kinds whose marketplace measures the response time itself (closing does not stop its clock).
MARKETPLACE_KINDS = frozenset({"amazon", "ebay", "mirakl", "kaufland", "allegro"})


def _operator_key(operator: str) -> str:
    return re.sub(r"[^a-z0-9]", "", operator.casefold())


def preset_for(
    channel_kind: str,
    operator: str | None = None,
    *,
    operator_targets: Mapping[str, timedelta] | None = None,
) -> DeadlinePolicy:
    """The default policy for a channel kind ("email", "amazon", "ebay", "mirakl", "kaufland", "allegro").

    For Mirakl, ``operator`` (e.g. "PcComponentes", "leroy-merlin") picks the target from
    ``operator_targets`` (the user's edited table, default :data:`MIRAKL_OPERATOR_TARGETS`); an unknown
    operator gets the stricter 24 h so a deadline is never shown later than the marketplace's.
    """
    kind = channel_kind.casefold()
    if kind == "mirakl":
        targets = MIRAKL_OPERATOR_TARGETS if operator_targets is None else operator_targets
        normalized = {_operator_key(k): v for k, v in targets.items()}
        target = normalized.get(_operator_key(operator or ""), timedelta(hours=24))
        for key in ("mirakl_24h", "mirakl_48h"):
            if PRESETS[key].target == target:
                return PRESETS[key]
        return replace(PRESETS["mirakl_24h"], key=f"mirakl_{_operator_key(operator or '')}", target=target)
    if kind in PRESETS:
        return PRESETS[kind]
    raise ValueError(f"no deadline preset for channel kind {channel_kind!r}")


# ------------------------------------------------------------------------------------------------ clock rules


#: How far a sender's Date header may lie after the moment the mail reached the mailbox (clock skew of the
#: sender's machine and of the servers between): beyond this the header is in the future and is not believed.
DATE_FUTURE_SKEW = timedelta(minutes=15)
#: How long before reaching the mailbox a mail may claim to have been written (a queue that held it, a mail
#: written offline and sent later); earlier than this the header is not believed either.
DATE_MAX_AGE = timedelta(days=7)


def clock_time(
    claimed: datetime | None,
    arrived: datetime,
    *,
    future_skew: timedelta = DATE_FUTURE_SKEW,
    max_age: timedelta = DATE_MAX_AGE,
) -> datetime:
    """The time a message counts from: the sender's ``claimed`` date where plausible, else when it ``arrived``.

    Why: the Date header is written by the sender and can say anything (``Date: 1900`` would make a new mail
    overdue since 1900, ``Date: 2099`` would hide a customer for 73 years). ``arrived`` is the receiving side's
    own clock (IMAP INTERNALDATE, a marketplace's timestamp), so a header that is missing, more than
    ``future_skew`` after it or more than ``max_age`` before it loses to it. A plausible header wins: it is
    the time the customer wrote, and what the thread shows.
    """
    _require_aware(arrived, "arrival time")
    if claimed is None:
        return arrived.astimezone(UTC)
    _require_aware(claimed, "message date")
    if claimed > arrived + future_skew or claimed < arrived - max_age:
        return arrived.astimezone(UTC)
    return claimed.astimezone(UTC)


@dataclass(frozen=True)
class ClockMessage:
    """What the clock needs to know about one message: who wrote it, when, and whether it was automatic."""

    direction: Literal["in", "out"]
    at: datetime
    auto_reply: bool = False
    # An inbound message the seller answered from another mail client (IMAP ``\\Answered``) whose reply we do
    # not hold: it counts as answered at its own time.
    answered: bool = False


@dataclass(frozen=True)
class DeadlineState:
    """When the running clock started and when it expires; both ``None`` when no answer is owed."""

    started_at: datetime | None
    deadline_at: datetime | None

    @property
    def running(self) -> bool:
        return self.deadline_at is not None


NO_DEADLINE = DeadlineState(None, None)

#: Statuses that stop the clock: the seller is waiting on someone else, or the conversation is done.
STOPPED_STATUSES = frozenset({"pending", "closed"})


def compute_deadline(
    policy: DeadlinePolicy,
    messages: Sequence[ClockMessage],
    *,
    status: str,
    no_response_needed: bool = False,
    reply_needed_since: datetime | None = None,
) -> DeadlineState:
    """Where the response clock of one conversation stands.

    The clock starts at the first inbound message that has no later human reply; a reply (outbound and not
    an auto-reply, or an inbound message flagged answered elsewhere) stops it, and the next inbound message
    starts a new one. Status ``pending``/``closed`` and
    "no response needed" mean no deadline; ``open`` and ``snoozed`` keep it running (snoozing hides a
    conversation, it does not pause the marketplace). ``reply_needed_since`` (Mirakl's
    ``shop_reply_needed_since``) is the marketplace's own start and wins, unless we replied after it (a reply
    the marketplace has not reported back yet).
    """
    if no_response_needed or status in STOPPED_STATUSES:
        return NO_DEADLINE
    ordered = sorted(messages, key=lambda m: m.at)
    started: datetime | None = None
    last_reply: datetime | None = None
    for message in ordered:
        _require_aware(message.at, "message time")
        if message.direction == "in":
            if message.answered:
                started = None
                last_reply = message.at
            elif started is None:
                started = message.at
        elif not message.auto_reply:
            started = None
            last_reply = message.at
    if reply_needed_since is not None:
        _require_aware(reply_needed_since, "reply_needed_since")
        started = None if last_reply is not None and last_reply >= reply_needed_since else reply_needed_since
    if started is None:
        return NO_DEADLINE
    started = started.astimezone(UTC)
    return DeadlineState(started, add_business_time(policy, started, policy.target))


class Urgency(StrEnum):
    """How close a deadline is, for colouring and sorting the list."""

    NONE = "none"
    OK = "ok"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


def urgency(deadline_at: datetime | None, now: datetime, due_soon: timedelta = timedelta(hours=4)) -> Urgency:
    """``OVERDUE`` from the deadline on, ``DUE_SOON`` within ``due_soon`` of it, else ``OK``."""
    if deadline_at is None:
        return Urgency.NONE
    if now >= deadline_at:
        return Urgency.OVERDUE
    if deadline_at - now <= due_soon:
        return Urgency.DUE_SOON
    return Urgency.OK


def closing_warning_needed(channel_kind: str, state: DeadlineState) -> bool:
    """Whether closing should warn: a marketplace keeps counting an unanswered conversation we close.

    Pass the state computed *before* the status change (with the conversation's current status).
    """
    return channel_kind.casefold() in MARKETPLACE_KINDS and state.deadline_at is not None
