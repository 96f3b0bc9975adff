"""The late response rate as the marketplaces count it (over the last 7, 30 and 90 days), and the summary and
per-conversation exports, on hand-built conversations with hand-computed answers (issue 15)."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from inbox_app.domain.conversations import Direction
from inbox_app.domain.reports import GroupBy, Period
from inbox_app.profile import Profile
from inbox_app.services import reports as rs
from inbox_app.store.models import Conversation
from tests.unit.test_report_episodes import BERLIN, NOW, _conv, _msg

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@pytest.fixture
def aged(profile: Profile) -> dict[str, Conversation]:
    """Amazon (24 h calendar) and Kaufland episodes of different ages before ``NOW`` (30 Dec 2026)."""
    convs: dict[str, Conversation] = {}
    for name, kind, began, reply_after in (
        ("late_3d", "amazon", NOW - 3 * DAY, 30 * HOUR),  # last 7 days: late
        ("ok_20d", "amazon", NOW - 20 * DAY, 2 * HOUR),  # last 30 days: on time
        ("late_60d", "amazon", NOW - 60 * DAY, 25 * HOUR),  # last 90 days: late
        ("never_100d", "amazon", NOW - 100 * DAY, None),  # older than 90 days: counted nowhere
        ("running", "amazon", NOW - HOUR, None),  # clock running, deadline not reached: not measured
        ("ok_10d", "kaufland", NOW - 10 * DAY, HOUR),
    ):
        conv = convs[name] = _conv(kind, name)
        _msg(conv, Direction.IN, began)
        if reply_after is not None:
            _msg(conv, Direction.OUT, began + reply_after)
    return convs


@pytest.mark.parametrize("from_scratch", [False, True])
def test_marketplace_late_rate_over_7_30_and_90_days(
    aged: dict[str, Conversation], from_scratch: bool
) -> None:
    rates = rs.marketplace_late_rates(NOW, BERLIN, from_scratch=from_scratch)
    assert {k: [(r.days, r.episodes, r.late) for r in v] for k, v in rates.items()} == {
        "amazon": [(7, 1, 1), (30, 2, 1), (90, 3, 2)],
        "kaufland": [(7, 0, 0), (30, 1, 0), (90, 1, 0)],
    }
    assert [r.rate for r in rates["amazon"]] == [1.0, 0.5, pytest.approx(2 / 3)]
    assert rates["kaufland"][0].rate is None and rates["kaufland"][1].rate == 0.0
    # the same figure as the report of the window's local days, ending today
    for late_rate in rates["amazon"]:
        period = Period.last_days(late_rate.days, NOW.astimezone(BERLIN).date(), BERLIN)
        report = rs.compute_report(period, GroupBy.CHANNEL, NOW, from_scratch=from_scratch)
        amazon = next(g for g in report.groups if g.key == "amazon")
        assert (amazon.episodes, amazon.late) == (late_rate.episodes, late_rate.late)


def test_summary_csv_and_json_exports_are_the_report(aged: dict[str, Conversation], tmp_path: Path) -> None:
    report = rs.compute_report(Period(date(2026, 10, 1), date(2026, 12, 30), BERLIN), GroupBy.CHANNEL, NOW)
    rs.write_summary_json(report, tmp_path / "summary.json")
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8")) == rs.summary_json(report)
    rs.write_summary_csv(report, tmp_path / "summary.csv", total_label="Total")
    with (tmp_path / "summary.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["key", *rs.SUMMARY_FIELDS]
    assert [r["key"] for r in rows] == ["amazon", "kaufland", "Total"]
    data = rs.summary_json(report)
    for row, figures in zip(rows, [*data["groups"], data["total"]], strict=True):
        for name in rs.SUMMARY_FIELDS:
            value = figures[name]
            assert row[name] == ("" if value is None else str(value)), name
    # hand-computed: amazon has 3 measured episodes in the period (late_3d, ok_20d, late_60d), 2 late
    assert (rows[0]["episodes"], rows[0]["late"], rows[0]["response_median_s"]) == (
        "3",
        "2",
        str(25 * 3600.0),
    )


def test_conversations_csv_has_one_row_per_conversation_without_a_cap(
    aged: dict[str, Conversation], tmp_path: Path
) -> None:
    report = rs.compute_report(Period(date(2026, 10, 1), date(2026, 12, 30), BERLIN), GroupBy.CHANNEL, NOW)
    assert rs.write_conversations_csv(report, tmp_path / "c.csv") == 5  # never_100d has nothing in the period
    with (tmp_path / "c.csv").open(encoding="utf-8", newline="") as fh:
        rows = {int(r["conversation_id"]): r for r in csv.DictReader(fh)}
    assert list(next(iter(rows.values()))) == list(rs.CONVERSATION_COLUMNS)
    ids = {name: conv.id for name, conv in aged.items()}
    assert set(rows) == {ids[n] for n in ("late_3d", "ok_20d", "late_60d", "running", "ok_10d")}
    late = rows[ids["late_3d"]]
    assert (late["channel"], late["inbound"], late["replies"], late["episodes"], late["late"]) == (
        "amazon", "1", "1", "1", "1",
    )  # fmt: skip
    running = rows[ids["running"]]
    assert (running["inbound"], running["replies"], running["episodes"], running["late"]) == (
        "1",
        "0",
        "0",
        "0",
    )
    assert sum(int(r["inbound"]) for r in rows.values()) == report.total.inbound
    assert sum(int(r["late"]) for r in rows.values()) == report.total.late == 2
