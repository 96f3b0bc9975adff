"""Every report definition (domain/reports.py) against hand-built conversations with hand-computed answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from inbox_app.domain.deadlines import PRESETS
from inbox_app.domain.reports import (
    ConversationFacts,
    Episode,
    GroupBy,
    Period,
    ReportMessage,
    StatusChange,
    aggregate,
    episodes_of,
    first_response,
    percentile,
)

AMAZON = PRESETS["amazon"]  # 24 h calendar
EMAIL = PRESETS["email"]  # 9 business hours, Mon–Fri 09:00–18:00 Berlin, German public holidays
BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday


def inbound(at: datetime, **kw: bool) -> ReportMessage:
    return ReportMessage("in", at, **kw)


def reply(at: datetime, *, auto: bool = False) -> ReportMessage:
    return ReportMessage("out", at, auto_reply=auto)


def h(hours: float) -> timedelta:
    return timedelta(hours=hours)


def test_answered_on_time_is_one_replied_episode_not_late() -> None:
    [ep] = episodes_of(AMAZON, [inbound(T0), inbound(T0 + h(1)), reply(T0 + h(2))])
    assert ep == Episode(T0, T0 + h(24), replied_at=T0 + h(2))
    assert ep.response == h(2)
    assert ep.is_measured(T0 + h(3)) and not ep.is_late(T0 + h(3))


def test_answered_late_is_late() -> None:
    [ep] = episodes_of(AMAZON, [inbound(T0), reply(T0 + h(30))])
    assert ep.response == h(30)
    assert ep.is_late(T0 + h(40))


def test_reply_exactly_at_the_deadline_is_on_time() -> None:
    [ep] = episodes_of(AMAZON, [inbound(T0), reply(T0 + h(24))])
    assert not ep.is_late(T0 + h(48))


def test_never_answered_is_late_only_once_past_its_deadline() -> None:
    [ep] = episodes_of(AMAZON, [inbound(T0)])
    assert ep.is_running()
    assert not ep.is_measured(T0 + h(10)) and not ep.is_late(T0 + h(10)) and not ep.is_overdue_now(T0 + h(10))
    assert ep.is_measured(T0 + h(25)) and ep.is_late(T0 + h(25)) and ep.is_overdue_now(T0 + h(25))


def test_auto_reply_does_not_end_an_episode_and_a_new_inbound_starts_the_next() -> None:
    eps = episodes_of(
        AMAZON,
        [inbound(T0), reply(T0 + h(0.1), auto=True), reply(T0 + h(3)), inbound(T0 + h(5)), reply(T0 + h(6))],
    )
    assert [(e.started_at, e.replied_at) for e in eps] == [(T0, T0 + h(3)), (T0 + h(5), T0 + h(6))]


def test_answered_elsewhere_ends_the_episode_at_its_own_time() -> None:
    [ep] = episodes_of(AMAZON, [inbound(T0), inbound(T0 + h(2), answered=True)])
    assert ep.replied_at == T0 + h(2)


def test_pending_in_the_middle_stops_the_clock_and_reopening_restarts_it_from_the_unanswered_message() -> (
    None
):
    msgs = [inbound(T0), reply(T0 + h(30))]
    changes = [StatusChange(T0 + h(1), "pending"), StatusChange(T0 + h(26), "open")]
    stopped, resumed = episodes_of(AMAZON, msgs, changes)
    # stopped before its deadline: not measured, not late
    assert stopped.stopped_at == T0 + h(1) and not stopped.is_measured(T0 + h(48))
    # reopened: the countdown runs again from the unanswered message (same as compute_deadline), so it is late
    assert resumed.started_at == T0 and resumed.replied_at == T0 + h(30) and resumed.is_late(T0 + h(48))
    # statuses in between do not change the first response time
    assert first_response(msgs) == (T0, T0 + h(30))


def test_inbound_while_pending_starts_no_episode_and_closing_after_the_deadline_is_late() -> None:
    msgs = [inbound(T0), reply(T0 + h(1)), inbound(T0 + h(3))]
    changes = [StatusChange(T0 + h(2), "pending")]
    assert len(episodes_of(AMAZON, msgs, changes)) == 1
    closed_late = episodes_of(AMAZON, [inbound(T0)], [StatusChange(T0 + h(30), "closed")])
    assert closed_late[0].stopped_at == T0 + h(30) and closed_late[0].is_late(T0 + h(40))


def test_no_response_needed_stops_the_clock_for_good() -> None:
    eps = episodes_of(
        AMAZON, [inbound(T0), inbound(T0 + h(50))], [StatusChange(T0 + h(1), "no_response_needed")]
    )
    assert len(eps) == 1 and eps[0].stopped_at == T0 + h(1)


def test_business_hours_over_a_holiday_weekend() -> None:
    # Thursday before Easter 2026, 16:00 Berlin (CEST): 2 h left that day; Good Friday, the weekend and Easter
    # Monday are closed; 7 h more on Tuesday 09:00 → 16:00 CEST = 14:00 UTC.
    start = datetime(2026, 4, 2, 16, 0, tzinfo=BERLIN)
    on_time, late = (
        episodes_of(EMAIL, [inbound(start), reply(datetime(2026, 4, 7, hour, 0, tzinfo=BERLIN))])[0]
        for hour in (15, 17)
    )
    assert on_time.deadline_at == datetime(2026, 4, 7, 14, 0, tzinfo=UTC)
    assert not on_time.is_late(start + h(200)) and late.is_late(start + h(200))
    # the response time itself is wall-clock time (what the customer waited)
    assert on_time.response == datetime(2026, 4, 7, 15, 0, tzinfo=BERLIN) - start


def test_business_hours_across_the_autumn_dst_change() -> None:
    # Friday 23 Oct 2026 17:00 CEST: 1 h; clocks go back on Sunday; Monday 09:00 CET + 8 h = 17:00 CET = 16:00 UTC.
    [ep] = episodes_of(EMAIL, [inbound(datetime(2026, 10, 23, 17, 0, tzinfo=BERLIN))])
    assert ep.deadline_at == datetime(2026, 10, 26, 16, 0, tzinfo=UTC)
    # A calendar clock counts the extra hour: 24 h after Saturday 12:00 CEST is Sunday 11:00 CET.
    [cal] = episodes_of(AMAZON, [inbound(datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN))])
    assert cal.deadline_at.astimezone(BERLIN) == datetime(2026, 10, 25, 11, 0, tzinfo=BERLIN)


def test_period_is_whole_local_days_and_the_dst_day_has_25_hours() -> None:
    day = Period(date(2026, 10, 25), date(2026, 10, 25), BERLIN)
    assert day.end - day.start == h(25)
    assert day.start == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    assert Period.last_days(7, date(2026, 11, 8), BERLIN).first == date(2026, 11, 2)
    with pytest.raises(ValueError, match="before it starts"):
        Period(date(2026, 11, 2), date(2026, 11, 1), BERLIN)


def test_first_response_from_first_inbound_to_first_reply() -> None:
    assert first_response([reply(T0 - h(1)), inbound(T0), inbound(T0 + h(1)), reply(T0 + h(4))]) == (
        T0,
        T0 + h(4),
    )
    assert first_response([inbound(T0), reply(T0 + h(1), auto=True)]) == (T0, None)
    assert first_response([reply(T0)]) == (None, None)


def test_nearest_rank_percentiles() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0
    assert percentile([float(v) for v in range(1, 11)], 0.9) == 9.0
    assert percentile([float(v) for v in range(1, 12)], 0.9) == 10.0


def _conv(conv_id: int, channel: str, messages: list[ReportMessage], **kw: object) -> ConversationFacts:
    return ConversationFacts(
        id=conv_id,
        channel=channel,
        account="Shop",
        language="de",
        policy=AMAZON,
        messages=messages,
        **kw,  # type: ignore[arg-type]
    )


def test_aggregate_counts_each_figure_in_its_period_and_per_group() -> None:
    period = Period(date(2026, 11, 2), date(2026, 11, 8), UTC)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    facts = [
        # on time (2 h); the reply after the period still ends the episode
        _conv(1, "amazon", [inbound(T0), reply(T0 + h(2))]),
        # late (30 h), plus an auto-reply that is not a reply
        _conv(2, "amazon", [inbound(T0), reply(T0 + h(0.01), auto=True), reply(T0 + h(30))]),
        # never answered: late and overdue now
        _conv(3, "kaufland", [inbound(T0 + h(24))]),
        # before the period: not a conversation of it, its episode does not count
        _conv(4, "kaufland", [inbound(T0 - h(100)), reply(T0 - h(99))]),
        # started before the period, answered in it: a reply of the period, not an episode of it
        _conv(5, "amazon", [inbound(T0 - h(30)), reply(T0 + h(1))]),
    ]
    groups, total = aggregate(facts, period, GroupBy.CHANNEL, now)
    by_key = {g.key: g for g in groups}
    assert set(by_key) == {"amazon", "kaufland"}
    amazon, kaufland = by_key["amazon"], by_key["kaufland"]
    assert (amazon.conversations, amazon.inbound, amazon.replies) == (2, 2, 3)
    assert (amazon.episodes, amazon.late, amazon.late_response_rate) == (2, 1, 0.5)
    assert amazon.first_response_median_s == 7200 and amazon.first_response_p90_s == 30 * 3600
    assert amazon.response_median_s == 7200
    assert amazon.late_ids == {2} and amazon.conversation_ids == {1, 2}
    assert (kaufland.conversations, kaufland.episodes, kaufland.late, kaufland.open_overdue) == (1, 1, 1, 1)
    assert kaufland.response_median_s is None and kaufland.first_response_median_s is None
    assert (total.conversations, total.inbound, total.replies, total.episodes, total.late) == (3, 3, 3, 3, 2)
    assert total.late_response_rate == pytest.approx(2 / 3)
    assert total.open_overdue == 1 and total.overdue_ids == {3}
    assert "key" not in total.as_json() and by_key["amazon"].as_json()["key"] == "amazon"


def test_a_group_without_episodes_has_null_medians_and_rate() -> None:
    period = Period(date(2026, 11, 2), date(2026, 11, 2), UTC)
    # the clock runs but has not reached its deadline at "now": no measured episode
    groups, total = aggregate([_conv(1, "ebay", [inbound(T0)])], period, GroupBy.CHANNEL, T0 + h(1))
    data = total.as_json()
    assert groups[0].key == "ebay" and data["episodes"] == 0 and data["conversations"] == 1
    assert data["late_response_rate"] is None and data["response_median_s"] is None
    assert data["first_response_median_s"] is None and data["first_response_p90_s"] is None


def test_category_and_agent_default_to_none_and_follow_the_pluggable_keys() -> None:
    period = Period(date(2026, 11, 2), date(2026, 11, 2), UTC)
    facts = [
        _conv(1, "amazon", [inbound(T0)], category="late parcel", agent="ana"),
        _conv(2, "amazon", [inbound(T0)]),
    ]
    cats, _total = aggregate(facts, period, GroupBy.CATEGORY, T0)
    assert [g.key for g in cats] == ["late parcel", None]
    agents, _total = aggregate(facts, period, GroupBy.AGENT, T0)
    assert [g.key for g in agents] == ["ana", None]
    langs, _total = aggregate(facts, period, GroupBy.LANGUAGE, T0)
    assert [(g.key, g.conversations) for g in langs] == [("de", 2)]


def test_business_hours_and_calendar_across_the_spring_dst_change() -> None:
    # Friday 27 Mar 2026 17:00 CET: 1 h that day; clocks go forward on Sunday; Monday 09:00 CEST + 8 h = 17:00 CEST
    # = 15:00 UTC.
    [ep] = episodes_of(EMAIL, [inbound(datetime(2026, 3, 27, 17, 0, tzinfo=BERLIN))])
    assert ep.deadline_at == datetime(2026, 3, 30, 15, 0, tzinfo=UTC)
    # a reply at 16:30 CEST on Monday is on time, one at 17:30 CEST late
    on_time, late = (
        episodes_of(EMAIL, [inbound(datetime(2026, 3, 27, 17, 0, tzinfo=BERLIN)), reply(at)])[0]
        for at in (datetime(2026, 3, 30, 16, 30, tzinfo=BERLIN), datetime(2026, 3, 30, 17, 30, tzinfo=BERLIN))
    )
    assert not on_time.is_late(T0) and late.is_late(T0)
    # a calendar clock loses the hour: 24 h after Saturday 12:00 CET is Sunday 13:00 CEST
    [cal] = episodes_of(AMAZON, [inbound(datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN))])
    assert cal.deadline_at.astimezone(BERLIN) == datetime(2026, 3, 29, 13, 0, tzinfo=BERLIN)
    # the spring DST day has 23 hours
    day = Period(date(2026, 3, 29), date(2026, 3, 29), BERLIN)
    assert day.end - day.start == h(23)


def test_an_episode_counts_in_the_period_where_it_starts_even_when_answered_in_the_next() -> None:
    # 23:30 Berlin on Monday 2 Nov (22:30 UTC), answered 1 h later, on Tuesday in Berlin
    began = datetime(2026, 11, 2, 23, 30, tzinfo=BERLIN)
    conv = _conv(1, "amazon", [inbound(began), reply(began + h(1))])
    now = began + h(48)
    monday = Period(date(2026, 11, 2), date(2026, 11, 2), BERLIN)
    tuesday = Period(date(2026, 11, 3), date(2026, 11, 3), BERLIN)
    _groups, mon = aggregate([conv], monday, GroupBy.CHANNEL, now)
    _groups, tue = aggregate([conv], tuesday, GroupBy.CHANNEL, now)
    assert (mon.episodes, mon.response_median_s, mon.inbound, mon.replies, mon.conversations) == (
        1,
        3600,
        1,
        0,
        1,
    )
    assert (tue.episodes, tue.response_median_s, tue.inbound, tue.replies, tue.conversations) == (
        0,
        None,
        0,
        1,
        0,
    )
    assert mon.first_response_median_s == 3600 and tue.first_response_median_s is None
    # the same moment is a Monday in UTC too, but a Tuesday in Tokyo: the period follows the user's zone
    _groups, tokyo = aggregate(
        [conv], Period(date(2026, 11, 3), date(2026, 11, 3), ZoneInfo("Asia/Tokyo")), GroupBy.CHANNEL, now
    )
    assert tokyo.episodes == 1
