"""Stored episodes (store/report_episodes.py) and the SQL aggregation give exactly what the domain computes
from scratch, on hand-built conversations (on time, late, never answered, pending in the middle, no response
needed, business hours over a weekend and a holiday, a DST change) and on generated demo data; and they follow
every change (a new message, a status event, a policy change) by recomputing only the conversations touched.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from inbox_app.domain.conversations import Direction, IncomingMessage
from inbox_app.domain.reports import GroupBy, Period, ReportMessage, StatusChange, episodes_of
from inbox_app.profile import Profile, open_profile
from inbox_app.services import reports as rs
from inbox_app.store import ingest, report_episodes
from inbox_app.store.events import EventKind, log_event
from inbox_app.store.models import Account, Conversation, Message, from_db_time, to_db_time
from inbox_app.store.policies import assign_policy

BERLIN = ZoneInfo("Europe/Berlin")
MON = datetime(2026, 12, 21, 8, 0, tzinfo=UTC)  # Monday before Christmas: 09:00 in Berlin
NOW = datetime(2026, 12, 30, 12, 0, tzinfo=UTC)


def _conv(kind: str, remote: str) -> Conversation:
    account, _ = Account.get_or_create(kind="imap", name=f"Shop {kind}")
    channel = ingest.ensure_channel(account, kind, f"{kind} channel", None)
    return ingest.create_conversation(account, channel, remote_id=remote, subject=f"About {remote}")


def _msg(conv: Conversation, direction: Direction, at: datetime, **kw: Any) -> None:
    ingest.add_message(
        conv,
        IncomingMessage(
            direction=direction, sent_at=at, text="text", remote_id=f"{conv.id}-{at.isoformat()}", **kw
        ),
    )


def _status(conv: Conversation, new: str, at: datetime) -> None:
    Conversation.update(status=new).where(Conversation.id == conv.id).execute()
    log_event(EventKind.STATUS_CHANGED, conversation=conv.id, at=at, old="open", new=new)


def _same(now: datetime, periods: list[Period]) -> None:
    """Stored path and from-scratch path agree on every figure, chart series, export row and drill-down."""
    for period in periods:
        for by in GroupBy:
            stored = rs.compute_report(period, by, now)
            scratch = rs.compute_report(period, by, now, from_scratch=True)
            assert stored.stored and not scratch.stored
            assert rs.summary_json(stored) == rs.summary_json(scratch), (period, by)
            assert stored.daily == scratch.daily
            assert stored.response_histogram == scratch.response_histogram
            assert stored.categories_daily == scratch.categories_daily
            rate = [(g.key, g.late_response_rate) for g in stored.late_by_channel if g.episodes]
            assert rate == [(g.key, g.late_response_rate) for g in scratch.late_by_channel if g.episodes]

            def order(row: rs.EpisodeRow) -> tuple[Any, ...]:
                return (row.conversation_id, row.started_at, row.replied_at or row.started_at)

            assert sorted(rs.episode_rows(stored), key=order) == sorted(rs.episode_rows(scratch), key=order)
            for mine, theirs in zip(
                [*stored.groups, stored.total], [*scratch.groups, scratch.total], strict=True
            ):
                for figure in rs.FIGURE_IDS:
                    assert rs.ids_behind(stored, mine, figure) == rs.ids_behind(scratch, theirs, figure), (
                        figure
                    )


@pytest.fixture
def hand_built(profile: Profile) -> dict[str, Conversation]:
    convs = {name: _conv(kind, name) for name, kind in (
        ("on_time", "amazon"), ("late", "amazon"), ("never", "kaufland"), ("pending", "amazon"),
        ("no_response", "ebay"), ("business", "email"), ("dst", "email"), ("auto", "amazon"),
    )}  # fmt: skip
    _msg(convs["on_time"], Direction.IN, MON)
    _msg(convs["on_time"], Direction.OUT, MON + timedelta(hours=2))
    _msg(convs["late"], Direction.IN, MON)
    _msg(convs["late"], Direction.OUT, MON + timedelta(hours=30))
    _msg(convs["never"], Direction.IN, MON + timedelta(days=1))
    # pending in the middle: the clock stops, reopening restarts it from the unanswered message
    _msg(convs["pending"], Direction.IN, MON)
    _status(convs["pending"], "pending", MON + timedelta(hours=1))
    _status(convs["pending"], "open", MON + timedelta(hours=50))
    _msg(convs["pending"], Direction.OUT, MON + timedelta(hours=52))
    _msg(convs["no_response"], Direction.IN, MON)
    ingest.mark_no_response_needed(Conversation.get_by_id(convs["no_response"].id))
    # Friday 17:00 Berlin, the holidays of 24–26 December and a weekend in between (German policy)
    _msg(convs["business"], Direction.IN, datetime(2026, 12, 18, 16, 0, tzinfo=UTC))
    _msg(convs["business"], Direction.OUT, datetime(2026, 12, 22, 9, 0, tzinfo=UTC))
    # across the autumn DST change (Sunday 25 October 2026)
    _msg(convs["dst"], Direction.IN, datetime(2026, 10, 23, 15, 0, tzinfo=UTC))
    _msg(convs["dst"], Direction.OUT, datetime(2026, 10, 26, 9, 30, tzinfo=UTC))
    _msg(convs["auto"], Direction.IN, MON)
    _msg(convs["auto"], Direction.OUT, MON + timedelta(minutes=1), is_auto_reply=True)
    return convs


def _periods() -> list[Period]:
    return [
        Period(date(2026, 12, 21), date(2026, 12, 30), BERLIN),
        Period(date(2026, 10, 20), date(2026, 12, 31), BERLIN),  # over the DST change: a day of 25 hours
        Period(date(2026, 12, 22), date(2026, 12, 22), UTC),
        Period(date(2026, 12, 18), date(2026, 12, 21), ZoneInfo("America/New_York")),
    ]


def test_stored_episodes_are_the_domains_episodes(hand_built: dict[str, Conversation]) -> None:
    report_episodes.refresh()
    db = Conversation._meta.database
    for conv in hand_built.values():
        conv = Conversation.get_by_id(conv.id)
        rows = db.execute_sql(
            "SELECT started_at, deadline_at, replied_at, stopped_at FROM report_episode "
            "WHERE conversation_id = ? ORDER BY rowid",
            (conv.id,),
        ).fetchall()
        messages = [
            ReportMessage(m.direction, m.sent_at, m.is_auto_reply, m.is_answered)
            for m in Message.select()
            .where(Message.conversation == conv.id)
            .order_by(Message.sent_at, Message.id)
        ]
        changes = [
            StatusChange(from_db_time(at), status)
            for at, status in db.execute_sql(
                "SELECT at, coalesce(json_extract(data, '$.new'), 'no_response_needed') FROM event "
                "WHERE conversation = ? AND kind IN ('status_changed', 'no_response_needed') ORDER BY at, id",
                (conv.id,),
            )
        ]
        expected = episodes_of(ingest.policy_for_channel(conv.channel), messages, changes)
        assert rows == [
            (
                to_db_time(e.started_at),
                to_db_time(e.deadline_at),
                None if e.replied_at is None else to_db_time(e.replied_at),
                None if e.stopped_at is None else to_db_time(e.stopped_at),
            )
            for e in expected
        ]
    # the hand-computed answers: pending stopped one episode, reopening started a second from the same message
    pending = hand_built["pending"].id
    assert db.execute_sql(
        "SELECT count(*), sum(stopped_at IS NOT NULL) FROM report_episode WHERE conversation_id = ?",
        (pending,),
    ).fetchone() == (2, 1)
    # business hours: Friday 17:00 + 9 business hours skips the weekend → Monday 17:00 Berlin (16:00 UTC)
    business = hand_built["business"].id
    assert db.execute_sql(
        "SELECT deadline_at FROM report_episode WHERE conversation_id = ?", (business,)
    ).fetchone() == (to_db_time(datetime(2026, 12, 21, 16, 0, tzinfo=UTC)),)


def test_stored_and_from_scratch_reports_agree_on_hand_built_conversations(
    hand_built: dict[str, Conversation],
) -> None:
    for now in (MON + timedelta(hours=3), NOW):
        _same(now, _periods())
    report = rs.compute_report(_periods()[0], GroupBy.CHANNEL, NOW)
    amazon = next(g for g in report.groups if g.key == "amazon")
    # on time, late, the stopped pending episode (before its deadline: not measured), the reopened one (late),
    # and the auto-replied one (never answered: late)
    assert (amazon.episodes, amazon.late) == (4, 3)
    kaufland = next(g for g in report.groups if g.key == "kaufland")
    assert (kaufland.late, kaufland.open_overdue) == (1, 1)


def test_changes_dirty_only_the_conversations_they_touch(hand_built: dict[str, Conversation]) -> None:
    report_episodes.refresh()
    assert report_episodes.pending_count() == 0
    never = Conversation.get_by_id(hand_built["never"].id)
    _msg(never, Direction.OUT, NOW - timedelta(hours=1))
    _status(Conversation.get_by_id(hand_built["late"].id), "closed", NOW - timedelta(hours=2))
    assert report_episodes.pending_count() == 2
    assert report_episodes.refresh() == 2 and report_episodes.pending_count() == 0
    _same(NOW, _periods())
    # a policy change re-times every conversation of the channel
    email = Conversation.get_by_id(hand_built["business"].id).channel_id
    assert assign_policy(email, "amazon")
    ingest.clear_policy_cache()
    assert report_episodes.refresh() == 2  # "business" and "dst"
    _same(NOW, _periods())
    # a deleted conversation leaves no episode behind
    Conversation.delete_by_id(hand_built["auto"].id)
    report_episodes.refresh()
    db = Conversation._meta.database
    assert not db.execute_sql(
        "SELECT 1 FROM report_episode WHERE conversation_id = ?", (hand_built["auto"].id,)
    ).fetchall()
    _same(NOW, _periods())


def test_a_group_or_total_without_episodes_has_null_medians_and_rate(profile: Profile) -> None:
    conv = _conv("ebay", "quiet")
    _msg(conv, Direction.IN, NOW - timedelta(hours=1))  # clock running, deadline not reached
    report = rs.compute_report(Period(NOW.date(), NOW.date(), UTC), GroupBy.CHANNEL, NOW)
    data = rs.summary_json(report)
    assert data["groups"][0]["key"] == "ebay" and data["total"]["conversations"] == 1
    for figures in (data["groups"][0], data["total"]):
        assert figures["episodes"] == 0
        assert figures["late_response_rate"] is None and figures["response_median_s"] is None
        assert figures["first_response_median_s"] is None and figures["first_response_p90_s"] is None


def test_stored_and_from_scratch_agree_on_generated_data(tmp_path: Path) -> None:
    from inbox_app.demo.generator import generate

    prof = open_profile(tmp_path / "demo")
    try:
        generate(prof, count=150, seed=11)
        now = datetime.now(UTC)
        zone = now.astimezone().tzinfo or UTC
        today = now.astimezone(zone).date()
        periods = [Period.last_days(days, today, zone) for days in (1, 7, 30, 90)]
        periods.append(Period.last_days(30, today, BERLIN))
        _same(now, periods)
        _same(now + timedelta(days=2), periods[2:3])  # later: running episodes have passed their deadline
    finally:
        prof.close()


def test_a_read_only_profile_is_reported_from_scratch(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    prof = open_profile(folder)
    conv = _conv("amazon", "ro")
    _msg(conv, Direction.IN, NOW - timedelta(hours=30))
    prof.close()
    prof = open_profile(folder, read_only=True)
    try:
        report = rs.compute_report(Period(date(2026, 12, 29), date(2026, 12, 30), UTC), GroupBy.CHANNEL, NOW)
        assert not report.stored and report.total.late == 1
    finally:
        prof.close()


def test_xlsx_has_no_row_cap_a_long_table_continues_on_the_next_sheet(
    hand_built: dict[str, Conversation], tmp_path: Path
) -> None:
    import openpyxl  # a test dependency (pyproject): a missing one fails, never skips

    report = rs.compute_report(_periods()[1], GroupBy.CHANNEL, NOW)
    episodes = rs.episode_rows(report)
    assert len(episodes) > 4
    path = tmp_path / "r.xlsx"
    rs.write_xlsx(report, path, max_rows=3)
    wb = openpyxl.load_workbook(path, read_only=True)
    parts = [name for name in wb.sheetnames if name.startswith("Episodes")]
    assert parts[:2] == ["Episodes", "Episodes (2)"] and len(parts) == -(-len(episodes) // 3)
    ids = [r[0] for name in parts for r in wb[name].iter_rows(min_row=2, values_only=True)]
    assert ids == [e.conversation_id for e in episodes]


def test_the_period_scans_read_only_the_covering_indexes(hand_built: dict[str, Conversation]) -> None:
    """The episodes and first responses of a period come from the covering indexes alone (issue 15: the report
    over 100,000 conversations visits no episode row), with the same figures as from scratch."""
    from inbox_app.store import report_queries

    db = Conversation._meta.database
    report_episodes.refresh()
    now = datetime(2026, 3, 20, tzinfo=UTC)
    start, end = now - timedelta(days=30), now
    params = {"start": to_db_time(start), "end": to_db_time(end), "now": to_db_time(now)}
    for sql, index in (
        (
            f"SELECT count(*) FROM report_episode x {report_queries.JOINS} WHERE x.started_at >= :start "
            "AND x.started_at < :end AND x.replied_at IS NOT NULL AND x.response_s > 0",
            "COVERING INDEX report_episode_period",
        ),
        (
            f"SELECT count(*) FROM report_first_response x {report_queries.JOINS} WHERE x.first_in_at >= :start "
            "AND x.first_in_at < :end AND x.response_s IS NOT NULL",
            "COVERING INDEX report_first_response_period",
        ),
    ):
        plan = " ".join(str(row[-1]) for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
        assert index in plan, plan
    names = {r[0] for r in db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert not names & {"report_episode_started", "report_first_response_first_in"}
    _same(now, _periods())


def test_a_message_rewritten_with_the_same_fields_does_not_dirty_its_conversation(
    hand_built: dict[str, Conversation],
) -> None:
    """The mail sync's body batches rewrite ``is_auto_reply`` of every mail: only a real change dirties."""
    report_episodes.refresh()
    late = hand_built["late"].id
    first = Message.select().where(Message.conversation == late).order_by(Message.id).first()
    db = Conversation._meta.database
    db.execute_sql(
        "UPDATE message SET is_auto_reply = is_auto_reply, is_answered = is_answered, sent_at = sent_at "
        "WHERE id = ?",
        (first.id,),
    )
    assert report_episodes.pending_count() == 0
    db.execute_sql("UPDATE message SET is_auto_reply = 1 WHERE id = ?", (first.id,))
    assert report_episodes.pending_count() == 1
    assert report_episodes.refresh() == 1
    _same(NOW, _periods())


@pytest.mark.parametrize("share", [0.0, 2.0])
def test_both_ways_of_reading_a_periods_rows_give_the_same_figures(
    hand_built: dict[str, Conversation], monkeypatch: pytest.MonkeyPatch, share: float
) -> None:
    """A period's messages, episodes and first responses are read either walking all of them in conversation
    order (the period holds most of them) or by the period's range of the time indexes: same figures."""
    from inbox_app.store import report_queries

    monkeypatch.setattr(report_queries, "CONVERSATION_ORDER_SHARE", share)
    report_episodes.refresh()
    assert report_queries.in_conversation_order(1) is (share == 0.0)
    db = Conversation._meta.database
    for sql, index in (
        ("SELECT conversation_id, count(*) FROM message INDEXED BY message_conversation_time "
         "WHERE sent_at >= '2026-12-01' GROUP BY conversation_id", "COVERING INDEX message_conversation_time"),
        ("SELECT x.conversation_id, max(x.response_s) FROM report_episode x INDEXED BY "
         "report_episode_by_conversation WHERE x.started_at >= '2026-12-01' AND x.replied_at IS NULL "
         "GROUP BY x.conversation_id", "COVERING INDEX report_episode_by_conversation"),
        # the index took the place of (conversation_id, sent_at): a thread is still read in order, unsorted
        ("SELECT * FROM message WHERE conversation_id = 1 ORDER BY sent_at, id", "INDEX message_conversation_time"),
    ):  # fmt: skip
        plan = " ".join(str(row[-1]) for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql))
        assert index in plan and "TEMP B-TREE" not in plan, plan
    _same(NOW, _periods())
    rates = rs.marketplace_late_rates(NOW, BERLIN)
    assert rates and rates == rs.marketplace_late_rates(NOW, BERLIN, from_scratch=True)


def test_a_period_of_years_counts_its_days_in_one_grouped_query(profile: Profile) -> None:
    """Past a year of days with messages, the daily chart is one grouped query instead of a query per day."""
    convs = [_conv("amazon", f"year-{i}") for i in range(3)]
    first = datetime(2024, 3, 30, 23, 30, tzinfo=UTC)  # the last hour of a Berlin day before DST
    for i, conv in enumerate(convs):
        for days in (0, 200, 420 + i, 700):
            _msg(conv, Direction.IN, first + timedelta(days=days, minutes=i))
            _msg(conv, Direction.OUT, first + timedelta(days=days, hours=2 + i))
    period = Period(date(2024, 3, 1), date(2026, 3, 1), BERLIN)
    report = rs.compute_report(period, GroupBy.CHANNEL, NOW)
    assert sum(inbound for inbound, _replies in report.daily.values()) == 12
    _same(NOW, [period, Period(date(2024, 3, 1), date(2024, 12, 31), BERLIN)])
