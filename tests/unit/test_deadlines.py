"""Deadline policies, business-time arithmetic (DST, holidays, closed days) and the clock rules."""

from __future__ import annotations

import json
import time as _time
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inbox_app.domain.deadlines import (
    MIRAKL_OPERATOR_TARGETS,
    PRESETS,
    Clock,
    ClockMessage,
    DeadlinePolicy,
    DeadlineState,
    Urgency,
    add_business_time,
    business_time_between,
    closing_warning_needed,
    compute_deadline,
    is_open_at,
    preset_for,
    urgency,
)

BERLIN = ZoneInfo("Europe/Berlin")
MADRID = ZoneInfo("Europe/Madrid")
H = timedelta(hours=1)


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in ``zone`` as an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


def office(zone: str = "Europe/Berlin", country: str | None = "DE", **kw: object) -> DeadlinePolicy:
    return DeadlinePolicy(
        key="office",
        name="Office",
        target=timedelta(hours=9),
        clock=Clock.BUSINESS,
        timezone=zone,
        schedule={d: ((time(9), time(18)),) for d in range(5)},
        holidays_country=country,
        **kw,  # type: ignore[arg-type]
    )


# ------------------------------------------------------------------------------------------------ presets


def test_presets_match_the_documented_rules() -> None:
    assert PRESETS["amazon"].target == timedelta(hours=24)
    assert PRESETS["amazon"].clock is Clock.CALENDAR
    assert PRESETS["kaufland"].target == timedelta(hours=48)
    assert PRESETS["kaufland"].clock is Clock.CALENDAR
    assert PRESETS["mirakl_24h"].target == timedelta(hours=24)
    assert PRESETS["mirakl_48h"].target == timedelta(hours=48)
    assert PRESETS["ebay"].target == timedelta(hours=24)
    assert PRESETS["ebay"].clock is Clock.CALENDAR
    assert PRESETS["ebay_returns"].clock is Clock.BUSINESS
    assert PRESETS["ebay_returns"].target == timedelta(days=3)
    email = PRESETS["email"]
    assert email.clock is Clock.BUSINESS
    assert email.holidays_country == "DE"
    assert set(email.schedule) == {0, 1, 2, 3, 4}
    assert all(w == ((time(9), time(18)),) for w in email.schedule.values())
    for key, policy in PRESETS.items():
        assert policy.key == key


def test_amazon_counts_weekends_and_holidays() -> None:
    start = local(BERLIN, 2026, 12, 24, 20, 0)  # Christmas Eve, Thursday evening
    assert add_business_time(PRESETS["amazon"], start, timedelta(hours=24)) == start + timedelta(hours=24)


def test_ebay_returns_three_business_days_skip_the_weekend() -> None:
    start = local(BERLIN, 2026, 11, 20, 15, 0)  # Friday 15:00
    deadline = add_business_time(PRESETS["ebay_returns"], start, PRESETS["ebay_returns"].target)
    assert deadline == local(BERLIN, 2026, 11, 25, 15, 0)  # Wednesday 15:00


def test_kaufland_can_be_switched_to_business_days() -> None:
    business = replace(PRESETS["kaufland"], clock=Clock.BUSINESS)
    start = local(BERLIN, 2026, 11, 20, 12, 0)  # Friday noon
    assert add_business_time(PRESETS["kaufland"], start, timedelta(hours=48)) == start + timedelta(hours=48)
    assert add_business_time(business, start, timedelta(hours=48)) == local(BERLIN, 2026, 11, 24, 12, 0)


@pytest.mark.parametrize(
    ("kind", "operator", "target"),
    [
        ("amazon", None, timedelta(hours=24)),
        ("email", None, timedelta(hours=9)),
        ("ebay", None, timedelta(hours=24)),
        ("kaufland", None, timedelta(hours=48)),
        ("allegro", None, timedelta(hours=24)),
        ("mirakl", "PcComponentes", timedelta(hours=24)),
        ("mirakl", "Conrad", timedelta(hours=48)),
        ("mirakl", "carrefour", timedelta(hours=48)),
        ("mirakl", "Fnac Darty", timedelta(hours=48)),
        ("mirakl", "ManoMano", timedelta(hours=48)),
        ("mirakl", "leroy-merlin", timedelta(hours=48)),
        ("mirakl", "some-new-operator", timedelta(hours=24)),
        ("mirakl", None, timedelta(hours=24)),
    ],
)
def test_preset_for(kind: str, operator: str | None, target: timedelta) -> None:
    policy = preset_for(kind, operator)
    assert policy.target == target
    if kind == "mirakl":
        assert policy.clock is Clock.CALENDAR


def test_preset_for_uses_the_users_operator_table() -> None:
    edited = {**MIRAKL_OPERATOR_TARGETS, "conrad": timedelta(hours=72)}
    policy = preset_for("mirakl", "Conrad", operator_targets=edited)
    assert policy.target == timedelta(hours=72)
    assert policy.key == "mirakl_conrad"
    assert preset_for("mirakl", "conrad").target == timedelta(hours=48)  # default table untouched


def test_preset_for_unknown_kind() -> None:
    with pytest.raises(ValueError, match="telegraph"):
        preset_for("telegraph")


# ------------------------------------------------------------------------------------- storage, validation


@pytest.mark.parametrize("key", sorted(PRESETS))
def test_presets_round_trip_through_json(key: str) -> None:
    policy = PRESETS[key]
    again = DeadlinePolicy.from_dict(json.loads(json.dumps(policy.to_dict())))
    assert again == policy
    assert hash(again) == hash(policy)


def test_custom_policy_round_trips() -> None:
    policy = DeadlinePolicy(
        key="shop",
        name="Shop",
        target=timedelta(hours=7, minutes=30, seconds=15),
        clock=Clock.BUSINESS,
        timezone="Europe/Madrid",
        schedule={0: ((time(14, 30), time(18)), (time(8), time(13, 15, 30))), 5: ((time(22), time(0)),)},
        holidays_country="ES",
        holidays_subdiv="MD",
        closed_days=frozenset({date(2026, 8, 14), date(2026, 12, 31)}),
    )
    data = json.loads(json.dumps(policy.to_dict()))
    assert data["schedule"]["5"] == [["22:00", "24:00"]]
    assert data["schedule"]["0"][0] == ["08:00", "13:15:30"]  # windows sorted
    assert DeadlinePolicy.from_dict(data) == policy


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target": timedelta(hours=-1)}, "negative"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"schedule": {7: ((time(9), time(10)),)}}, "weekday"),
        ({"schedule": {0: ((time(18), time(9)),)}}, "ends before"),
        ({"holidays_country": "XX"}, "holidays"),
        ({"holidays_country": "DE", "holidays_subdiv": "ZZ"}, "holidays"),
    ],
)
def test_invalid_policies_are_rejected(change: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "key": "x",
        "name": "X",
        "target": H,
        "clock": Clock.BUSINESS,
        **change,
    }
    with pytest.raises(ValueError, match=message):
        DeadlinePolicy(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        {"name": "X", "target_seconds": 3600, "clock": "calendar"},
        {"key": "x", "name": "X", "target_seconds": 3600, "clock": "sundial"},
        {
            "key": "x",
            "name": "X",
            "target_seconds": 3600,
            "clock": "business",
            "schedule": {"0": [["9", "x"]]},
        },
        {"key": "x", "name": "X", "target_seconds": 3600, "clock": "business", "schedule": []},
        {"key": "x", "name": "X", "target_seconds": 3600, "clock": "business", "closed_days": ["soon"]},
    ],
)
def test_from_dict_rejects_bad_data(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DeadlinePolicy.from_dict(data)


def test_never_open_policy_fails_clearly() -> None:
    policy = DeadlinePolicy(key="never", name="Never", target=H, clock=Clock.BUSINESS, schedule={})
    with pytest.raises(ValueError, match="never open"):
        add_business_time(policy, datetime(2026, 1, 1, tzinfo=UTC), H)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_business_time(PRESETS["email"], datetime(2026, 1, 1), H)
    with pytest.raises(ValueError, match="aware"):
        business_time_between(PRESETS["email"], datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC))


# ------------------------------------------------------------------------------------------ business hours


def test_business_time_inside_hours_and_across_the_night() -> None:
    policy = office()
    monday_10 = local(BERLIN, 2026, 11, 23, 10, 0)
    assert add_business_time(policy, monday_10, 2 * H) == local(BERLIN, 2026, 11, 23, 12, 0)
    assert add_business_time(policy, monday_10, 9 * H) == local(BERLIN, 2026, 11, 24, 10, 0)
    # Starting at night counts from the next opening.
    assert add_business_time(policy, local(BERLIN, 2026, 11, 23, 22, 0), H) == local(
        BERLIN, 2026, 11, 24, 10, 0
    )
    # Friday evening message: Monday.
    assert add_business_time(policy, local(BERLIN, 2026, 11, 27, 19, 0), 9 * H) == local(
        BERLIN, 2026, 11, 30, 18, 0
    )


def test_several_windows_per_day() -> None:
    policy = DeadlinePolicy(
        key="split",
        name="Split",
        target=4 * H,
        clock=Clock.BUSINESS,
        timezone="Europe/Madrid",
        schedule={d: ((time(9), time(14)), (time(16), time(19))) for d in range(5)},
    )
    start = local(MADRID, 2026, 11, 23, 12, 0)
    assert add_business_time(policy, start, 4 * H) == local(MADRID, 2026, 11, 23, 18, 0)
    assert business_time_between(policy, start, local(MADRID, 2026, 11, 24, 10, 0)) == 6 * H
    assert not is_open_at(policy, local(MADRID, 2026, 11, 23, 15, 0))
    assert is_open_at(policy, local(MADRID, 2026, 11, 23, 16, 0))


def test_window_until_midnight_runs_into_the_next_day() -> None:
    policy = DeadlinePolicy(
        key="late",
        name="Late",
        target=H,
        clock=Clock.BUSINESS,
        schedule={d: ((time(20), time(0)), (time(0), time(2))) for d in range(7)},
    )
    start = local(BERLIN, 2026, 11, 23, 23, 30)
    assert add_business_time(policy, start, H) == local(BERLIN, 2026, 11, 24, 0, 30)
    assert add_business_time(policy, start, 3 * H) == local(BERLIN, 2026, 11, 24, 20, 30)


def test_holidays_germany_christmas_2026() -> None:
    policy = office()
    start = local(BERLIN, 2026, 12, 24, 10, 0)  # Thursday; 25th (Fri) and 26th are holidays
    assert add_business_time(policy, start, 9 * H) == local(BERLIN, 2026, 12, 28, 10, 0)
    assert business_time_between(policy, local(BERLIN, 2026, 12, 25, 0), local(BERLIN, 2026, 12, 28, 0)) == (
        timedelta(0)
    )
    assert not is_open_at(policy, local(BERLIN, 2026, 12, 25, 12, 0))


def test_holidays_spain_epiphany_2026() -> None:
    policy = office("Europe/Madrid", "ES")
    start = local(MADRID, 2026, 1, 5, 17, 0)  # Monday 17:00; Tuesday 6 January is a holiday
    assert add_business_time(policy, start, 9 * H) == local(MADRID, 2026, 1, 7, 17, 0)
    no_holidays = office("Europe/Madrid", None)
    assert add_business_time(no_holidays, start, 9 * H) == local(MADRID, 2026, 1, 6, 17, 0)


def test_regional_holidays_use_the_subdivision() -> None:
    # Epiphany is a holiday in Bavaria but not in Berlin.
    bavaria = office(holidays_subdiv="BY")
    berlin = office(holidays_subdiv="BE")
    start = local(BERLIN, 2026, 1, 5, 17, 0)
    assert add_business_time(bavaria, start, 2 * H) == local(BERLIN, 2026, 1, 7, 10, 0)
    assert add_business_time(berlin, start, 2 * H) == local(BERLIN, 2026, 1, 6, 10, 0)


def test_closed_days_are_skipped() -> None:
    policy = office(closed_days=frozenset({date(2026, 12, 28), date(2026, 12, 29)}))
    start = local(BERLIN, 2026, 12, 24, 10, 0)
    assert add_business_time(policy, start, 9 * H) == local(BERLIN, 2026, 12, 30, 10, 0)


# --------------------------------------------------------------------------------------------------- DST


@pytest.mark.parametrize("zone", [BERLIN, MADRID])
def test_calendar_clock_is_exact_across_dst(zone: ZoneInfo) -> None:
    for start in (local(zone, 2026, 3, 28, 12, 0), local(zone, 2026, 10, 24, 12, 0)):
        deadline = add_business_time(PRESETS["amazon"], start, timedelta(hours=24))
        assert deadline - start == timedelta(hours=24)
    # 24 real hours after Saturday noon is 13:00 on the spring-forward Sunday, 11:00 on the fall-back Sunday.
    spring = add_business_time(PRESETS["amazon"], local(zone, 2026, 3, 28, 12, 0), timedelta(hours=24))
    autumn = add_business_time(PRESETS["amazon"], local(zone, 2026, 10, 24, 12, 0), timedelta(hours=24))
    assert spring.astimezone(zone).hour == 13
    assert autumn.astimezone(zone).hour == 11


@pytest.mark.parametrize("zone_name", ["Europe/Berlin", "Europe/Madrid"])
def test_office_hours_keep_local_time_across_dst(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    policy = office(zone_name, None)
    spring = add_business_time(policy, local(zone, 2026, 3, 27, 17, 0), 9 * H)  # Friday before last Sunday
    assert spring == local(zone, 2026, 3, 30, 17, 0)
    assert spring == datetime(2026, 3, 30, 15, 0, tzinfo=UTC)  # CEST, UTC+2
    autumn = add_business_time(policy, local(zone, 2026, 10, 23, 17, 0), 9 * H)
    assert autumn == local(zone, 2026, 10, 26, 17, 0)
    assert autumn == datetime(2026, 10, 26, 16, 0, tzinfo=UTC)  # CET, UTC+1


@pytest.mark.parametrize("zone_name", ["Europe/Berlin", "Europe/Madrid"])
def test_night_window_on_dst_sundays_has_real_length(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    policy = DeadlinePolicy(
        key="night",
        name="Night",
        target=H,
        clock=Clock.BUSINESS,
        timezone=zone_name,
        schedule={6: ((time(0), time(6)),)},
    )
    # 00:00–06:00 lasts 5 hours when clocks spring forward and 7 hours when they fall back.
    assert business_time_between(policy, local(zone, 2026, 3, 28, 0), local(zone, 2026, 3, 30, 0)) == 5 * H
    assert business_time_between(policy, local(zone, 2026, 10, 24, 0), local(zone, 2026, 10, 26, 0)) == 7 * H
    assert add_business_time(policy, local(zone, 2026, 3, 28, 12), 5 * H) == local(zone, 2026, 3, 29, 6, 0)


def test_round_the_clock_business_equals_calendar_across_dst() -> None:
    policy = DeadlinePolicy(key="247", name="24/7", target=H, clock=Clock.BUSINESS)
    start = local(BERLIN, 2026, 3, 27, 13, 17)
    for hours in (1, 24, 48, 100):
        assert add_business_time(policy, start, hours * H) == start + hours * H


# ------------------------------------------------------------------------------------------ property tests

ZONES = [
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
]


@st.composite
def policies(draw: st.DrawFn) -> DeadlinePolicy:
    schedule: dict[int, tuple[tuple[time, time], ...]] = {}
    for day in draw(st.sets(st.integers(0, 6), min_size=1)):
        cuts = sorted(draw(st.sets(st.integers(0, 24 * 4), min_size=2, max_size=6)))
        windows = []
        for i in range(0, len(cuts) - 1, 2):
            s, e = cuts[i], cuts[i + 1]
            windows.append((time(s // 4, s % 4 * 15), time(0) if e == 96 else time(e // 4, e % 4 * 15)))
        schedule[day] = tuple(windows)
    country = draw(st.sampled_from([None, "DE", "ES", "FR"]))
    return DeadlinePolicy(
        key="p",
        name="P",
        target=H,
        clock=Clock.BUSINESS,
        timezone=draw(st.sampled_from(ZONES)),
        schedule=schedule,
        holidays_country=country,
        closed_days=frozenset(draw(st.sets(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=5))),
    )


moments = st.datetimes(datetime(2025, 12, 1), datetime(2027, 1, 31), timezones=st.just(UTC))
deltas = st.timedeltas(timedelta(0), timedelta(days=6))


@settings(max_examples=200, deadline=None)
@given(policy=policies(), start=moments, delta=deltas)
def test_added_business_time_measures_back_to_delta(
    policy: DeadlinePolicy, start: datetime, delta: timedelta
) -> None:
    deadline = add_business_time(policy, start, delta)
    assert deadline >= start
    assert deadline.tzinfo is UTC
    assert business_time_between(policy, start, deadline) == delta
    assert business_time_between(policy, deadline, start) == -delta


@settings(max_examples=200, deadline=None)
@given(policy=policies(), start=moments, delta=deltas.filter(lambda d: d > timedelta(0)))
def test_business_deadline_never_lands_in_closed_time(
    policy: DeadlinePolicy, start: datetime, delta: timedelta
) -> None:
    deadline = add_business_time(policy, start, delta)
    # The clock was running right up to the deadline.
    assert is_open_at(policy, deadline - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(
    zone_name=st.sampled_from(["Europe/Berlin", "Europe/Madrid"]),
    country=st.sampled_from(["DE", "ES"]),
    start=moments,
    delta=st.timedeltas(timedelta(seconds=1), timedelta(days=5)),
)
def test_office_deadline_is_inside_office_hours_on_a_working_day(
    zone_name: str, country: str, start: datetime, delta: timedelta
) -> None:
    import holidays

    policy = office(zone_name, country)
    deadline = add_business_time(policy, start, delta)
    just_before = (deadline - timedelta(microseconds=1)).astimezone(ZoneInfo(zone_name))
    assert just_before.weekday() < 5
    assert just_before.date() not in holidays.country_holidays(country, years=just_before.year)
    assert time(9) <= just_before.time() < time(18)


@settings(max_examples=200, deadline=None)
@given(policy=policies(), start=moments, d1=deltas, d2=deltas)
def test_business_time_is_monotonic_and_additive(
    policy: DeadlinePolicy, start: datetime, d1: timedelta, d2: timedelta
) -> None:
    first = add_business_time(policy, start, d1)
    assert add_business_time(policy, first, d2) == add_business_time(policy, start, d1 + d2)
    if d1 <= d2:
        assert first <= add_business_time(policy, start, d2)


@settings(max_examples=200, deadline=None)
@given(policy=policies())
def test_any_policy_round_trips(policy: DeadlinePolicy) -> None:
    assert DeadlinePolicy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy


def test_thousands_of_deadlines_are_quick() -> None:
    policy = PRESETS["email"]
    start = datetime(2026, 12, 20, 7, 0, tzinfo=UTC)
    begin = _time.perf_counter()
    results = [add_business_time(policy, start + timedelta(minutes=47 * i), 9 * H) for i in range(3000)]
    elapsed = _time.perf_counter() - begin
    assert len(set(results)) > 100
    assert elapsed < 2.0, f"3000 business deadlines took {elapsed:.2f} s"


# ------------------------------------------------------------------------------------------ clock rules

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
AMAZON = PRESETS["amazon"]


def inbound(hours: float) -> ClockMessage:
    return ClockMessage("in", T0 + timedelta(hours=hours))


def outbound(hours: float, auto: bool = False) -> ClockMessage:
    return ClockMessage("out", T0 + timedelta(hours=hours), auto_reply=auto)


def test_no_messages_no_deadline() -> None:
    assert compute_deadline(AMAZON, [], status="open") == DeadlineState(None, None)


def test_first_unanswered_inbound_starts_the_clock() -> None:
    state = compute_deadline(AMAZON, [inbound(0), inbound(3)], status="open")
    assert state == DeadlineState(T0, T0 + timedelta(hours=24))
    assert state.running


def test_reply_stops_the_clock() -> None:
    state = compute_deadline(AMAZON, [inbound(0), outbound(1)], status="open")
    assert state == DeadlineState(None, None)
    assert not state.running


def test_auto_reply_does_not_stop_the_clock() -> None:
    state = compute_deadline(AMAZON, [inbound(0), outbound(0.01, auto=True)], status="open")
    assert state.started_at == T0


def test_a_mail_answered_from_another_client_stops_the_clock() -> None:
    """IMAP \\Answered on an inbound mail whose reply we do not hold: answered, and it covers earlier mail."""
    answered = ClockMessage("in", T0 + 2 * H, answered=True)
    assert compute_deadline(AMAZON, [inbound(0), answered], status="open") == DeadlineState(None, None)
    assert compute_deadline(AMAZON, [answered, inbound(3)], status="open").started_at == T0 + 3 * H
    assert compute_deadline(AMAZON, [inbound(0), replace(answered, answered=False)], status="open").running


def test_new_inbound_after_reply_starts_a_new_clock() -> None:
    state = compute_deadline(AMAZON, [inbound(0), outbound(2), inbound(5), inbound(6)], status="open")
    assert state == DeadlineState(T0 + 5 * H, T0 + 29 * H)


def test_messages_are_ordered_by_time() -> None:
    state = compute_deadline(AMAZON, [inbound(5), outbound(2), inbound(0)], status="open")
    assert state.started_at == T0 + 5 * H


def test_outbound_only_has_no_deadline() -> None:
    assert compute_deadline(AMAZON, [outbound(0)], status="open").deadline_at is None


@pytest.mark.parametrize("status", ["pending", "closed"])
def test_pending_and_closed_have_no_deadline(status: str) -> None:
    assert compute_deadline(AMAZON, [inbound(0)], status=status) == DeadlineState(None, None)


@pytest.mark.parametrize("status", ["open", "snoozed"])
def test_open_and_snoozed_keep_running(status: str) -> None:
    assert compute_deadline(AMAZON, [inbound(0)], status=status).deadline_at == T0 + 24 * H


def test_no_response_needed_stops_the_clock() -> None:
    assert compute_deadline(AMAZON, [inbound(0)], status="open", no_response_needed=True).deadline_at is None


def test_business_policy_deadline() -> None:
    friday_evening = local(BERLIN, 2026, 11, 27, 19, 0)
    state = compute_deadline(PRESETS["email"], [ClockMessage("in", friday_evening)], status="open")
    assert state.started_at == friday_evening
    assert state.deadline_at == local(BERLIN, 2026, 11, 30, 18, 0)


def test_mirakl_reply_needed_since_overrides_the_start() -> None:
    policy = preset_for("mirakl", "conrad")
    since = T0 - 3 * H  # the operator knows of an older unanswered message we never synced
    state = compute_deadline(policy, [inbound(0)], status="open", reply_needed_since=since)
    assert state == DeadlineState(since, since + 48 * H)
    # Even with no message synced at all.
    assert compute_deadline(policy, [], status="open", reply_needed_since=since).started_at == since
    # A later start from the operator (our earlier messages were answered there) wins too.
    later = T0 + 10 * H
    assert compute_deadline(policy, [inbound(0)], status="open", reply_needed_since=later).started_at == later


def test_mirakl_reply_after_reply_needed_since_stops_the_clock() -> None:
    policy = preset_for("mirakl", "pccomponentes")
    since = T0
    state = compute_deadline(policy, [inbound(0), outbound(1)], status="open", reply_needed_since=since)
    assert state.deadline_at is None
    # An auto-reply is not an answer.
    auto = compute_deadline(
        policy, [inbound(0), outbound(1, auto=True)], status="open", reply_needed_since=since
    )
    assert auto.deadline_at == since + 24 * H
    # A reply older than the operator's start does not count.
    old = compute_deadline(policy, [outbound(-5)], status="open", reply_needed_since=since)
    assert old.started_at == since


def test_mirakl_reply_needed_since_respects_status() -> None:
    policy = preset_for("mirakl", "conrad")
    assert compute_deadline(policy, [], status="closed", reply_needed_since=T0).deadline_at is None


def test_clock_accepts_other_time_zones() -> None:
    madrid_msg = ClockMessage("in", datetime(2026, 11, 23, 10, 0, tzinfo=MADRID))
    state = compute_deadline(AMAZON, [madrid_msg], status="open")
    assert state.started_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert state.started_at is not None and state.started_at.tzinfo is UTC


# --------------------------------------------------------------------------------------------- urgency


def test_urgency_levels() -> None:
    deadline = T0 + 10 * H
    assert urgency(None, T0) is Urgency.NONE
    assert urgency(deadline, T0) is Urgency.OK
    assert urgency(deadline, deadline - 4 * H) is Urgency.DUE_SOON
    assert urgency(deadline, deadline - 4 * H - timedelta(seconds=1)) is Urgency.OK
    assert urgency(deadline, deadline - timedelta(seconds=1)) is Urgency.DUE_SOON
    assert urgency(deadline, deadline) is Urgency.OVERDUE
    assert urgency(deadline, deadline + 48 * H) is Urgency.OVERDUE
    assert urgency(deadline, T0, due_soon=12 * H) is Urgency.DUE_SOON


@pytest.mark.parametrize("kind", ["amazon", "ebay", "mirakl", "kaufland", "allegro"])
def test_closing_an_unanswered_marketplace_conversation_warns(kind: str) -> None:
    running = compute_deadline(AMAZON, [inbound(0)], status="open")
    answered = compute_deadline(AMAZON, [inbound(0), outbound(1)], status="open")
    assert closing_warning_needed(kind, running)
    assert not closing_warning_needed(kind, answered)


def test_closing_own_email_does_not_warn() -> None:
    running = compute_deadline(PRESETS["email"], [inbound(0)], status="open")
    assert running.running
    assert not closing_warning_needed("email", running)
