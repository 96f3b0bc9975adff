"""The deadline-notification rule: a set time before the breach, once per conversation and deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inbox_app.domain.notifications import due_notifications, overdue_count, prune_notified

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
BEFORE = timedelta(minutes=30)


def test_only_deadlines_inside_the_window_are_due_soonest_first() -> None:
    deadlines = {
        1: NOW + timedelta(minutes=29),
        2: NOW + timedelta(minutes=5),
        3: NOW + timedelta(minutes=31),  # too early to bother the seller
        4: NOW - timedelta(minutes=1),  # already overdue: the badge shows it, no popup
        5: NOW + BEFORE,  # exactly on the edge counts
    }
    assert due_notifications(deadlines, set(), NOW, BEFORE) == [2, 1, 5]


def test_each_deadline_is_notified_once() -> None:
    deadlines = {1: NOW + timedelta(minutes=10)}
    already: set[tuple[int, datetime]] = set()
    first = due_notifications(deadlines, already, NOW, BEFORE)
    assert first == [1]
    already.update((i, deadlines[i]) for i in first)
    later = NOW + timedelta(minutes=5)
    assert due_notifications(deadlines, already, later, BEFORE) == []


def test_a_new_deadline_for_the_same_conversation_notifies_again() -> None:
    old = NOW + timedelta(minutes=10)
    already = {(1, old)}
    moved = {1: NOW + timedelta(minutes=20)}
    assert due_notifications(moved, already, NOW, BEFORE) == [1]


def test_zero_window_notifies_nothing_and_negative_is_refused() -> None:
    deadlines = {1: NOW + timedelta(minutes=1)}
    assert due_notifications(deadlines, set(), NOW, timedelta(0)) == []
    with pytest.raises(ValueError):
        due_notifications(deadlines, set(), NOW, timedelta(minutes=-1))


def test_overdue_count_and_pruning() -> None:
    deadlines = {1: NOW - timedelta(hours=2), 2: NOW, 3: NOW + timedelta(hours=1)}
    assert overdue_count(deadlines, NOW) == 2
    already = {(1, NOW - timedelta(hours=2)), (7, NOW), (3, NOW)}
    assert prune_notified(already, deadlines) == {(1, NOW - timedelta(hours=2))}
