"""``deadlines.clock_time``: the sender's Date header is believed only where plausible (issue 11.6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbox_app.domain import deadlines
from inbox_app.domain.deadlines import DATE_FUTURE_SKEW, DATE_MAX_AGE, clock_time

ARRIVED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("claimed", "expected"),
    [
        (None, ARRIVED),  # no Date header
        (datetime(1900, 1, 1, tzinfo=UTC), ARRIVED),  # far in the past
        (datetime(2099, 1, 1, tzinfo=UTC), ARRIVED),  # in the future
        (ARRIVED + DATE_FUTURE_SKEW + timedelta(seconds=1), ARRIVED),  # just beyond the skew
        (ARRIVED - DATE_MAX_AGE - timedelta(seconds=1), ARRIVED),  # just older than a week
        (ARRIVED + DATE_FUTURE_SKEW, ARRIVED + DATE_FUTURE_SKEW),  # a skewed but plausible clock
        (ARRIVED - DATE_MAX_AGE, ARRIVED - DATE_MAX_AGE),  # held in a queue for a week
        (ARRIVED - timedelta(minutes=3), ARRIVED - timedelta(minutes=3)),  # the usual case
    ],
)
def test_clock_time_believes_only_a_plausible_header(claimed: datetime | None, expected: datetime) -> None:
    assert clock_time(claimed, ARRIVED) == expected


def test_clock_time_answers_in_utc_and_compares_instants_across_zones() -> None:
    berlin = timezone(timedelta(hours=1))
    claimed = datetime(2026, 11, 20, 9, 50, tzinfo=berlin)  # 08:50 UTC: ten minutes before arrival
    result = clock_time(claimed, ARRIVED)
    assert result == claimed and result.tzinfo == UTC


def test_clock_time_refuses_naive_times() -> None:
    with pytest.raises(ValueError):
        clock_time(datetime(2026, 11, 20), ARRIVED)
    with pytest.raises(ValueError):
        clock_time(None, datetime(2026, 11, 20))


@given(
    claimed=st.none() | st.datetimes(timezones=st.just(UTC)),
    arrived=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
)
def test_clock_time_is_never_implausible(claimed: datetime | None, arrived: datetime) -> None:
    """Whatever the header says, the clock starts within [arrival - 7 days, arrival + 15 min]."""
    result = clock_time(claimed, arrived)
    assert arrived - DATE_MAX_AGE <= result <= arrived + DATE_FUTURE_SKEW
    assert result in (arrived, claimed)


def test_a_1900_header_does_not_make_a_new_mail_overdue() -> None:
    """The deadline computed from the clock time of a 1900 mail runs from its arrival."""
    policy = deadlines.preset_for("amazon", "amazon.de")
    start = clock_time(datetime(1900, 1, 1, tzinfo=UTC), ARRIVED)
    state = deadlines.compute_deadline(policy, [deadlines.ClockMessage("in", start)], status="open")
    assert state.started_at == ARRIVED and state.deadline_at == ARRIVED + timedelta(hours=24)
