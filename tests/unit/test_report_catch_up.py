"""The stored episodes caught up in bounded batches (``report_episodes.refresh_batch``, the window's steps): each
batch resumes where the last stopped, the result is the one a full refresh gives, a change made between two
batches is not missed, and a crash between batches (or inside one) loses nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inbox_app.domain.conversations import Direction, IncomingMessage
from inbox_app.profile import open_profile
from inbox_app.services import reports as rs
from inbox_app.store import ingest, report_episodes
from inbox_app.store.models import Conversation

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 30, 12, 0, tzinfo=UTC)


def _demo(folder: Path, count: int = 120) -> None:
    """A demo workspace fresh from a bulk import: every conversation's episodes wait to be computed."""
    from inbox_app.demo.generator import generate

    prof = open_profile(folder)
    try:
        generate(prof, count=count, seed=5)
        assert report_episodes.pending_count() == count
    finally:
        prof.close()


def _tables(folder: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], int]:
    """(episode rows, first-response rows, dirty marks) as stored in the profile's file."""
    with sqlite3.connect(folder / "inbox.sqlite3") as conn:
        episodes = conn.execute("SELECT * FROM report_episode ORDER BY 1, 2, 3, 4, 5, 6").fetchall()
        firsts = conn.execute("SELECT * FROM report_first_response ORDER BY 1").fetchall()
        dirty = conn.execute("SELECT count(*) FROM report_dirty").fetchone()[0]
    conn.close()
    return episodes, firsts, dirty


def _new_message(conversation_id: int) -> None:
    ingest.add_message(
        Conversation.get_by_id(conversation_id),
        IncomingMessage(direction=Direction.IN, sent_at=NOW, text="Any news?", remote_id="late-news"),
    )


def _fully_refreshed(folder: Path, change: int | None = None) -> tuple[object, ...]:
    prof = open_profile(folder)
    try:
        if change is not None:
            _new_message(change)
        report_episodes.refresh()
    finally:
        prof.close()
    return _tables(folder)


def test_batches_resume_where_they_stopped_and_give_what_a_full_refresh_gives(tmp_path: Path) -> None:
    batched, full = tmp_path / "batched", tmp_path / "full"
    _demo(batched)
    shutil.copytree(batched, full)
    prof = open_profile(batched)
    try:
        report_episodes.mark_changed_policies()
        left = report_episodes.pending_count()
        first_id = int(prof.db.execute_sql("SELECT min(conversation_id) FROM report_dirty").fetchone()[0])
        done_up_to = 0
        recomputed = 0
        batches = 0
        while left:
            if batches == 2:
                # a sync stores a message in a conversation already caught up: it waits again, and is not missed
                _new_message(first_id)
                left += 1
            batch = report_episodes.refresh_batch(25)
            batches += 1
            recomputed += batch.recomputed
            assert batch.recomputed == min(25, left) and batch.left == left - batch.recomputed
            remaining = prof.db.execute_sql("SELECT min(conversation_id) FROM report_dirty").fetchone()[0]
            # lowest ids first: what is left all comes after what was done (the next batch resumes there)
            assert remaining is None or remaining > done_up_to
            done_up_to = int(
                prof.db.execute_sql("SELECT max(conversation_id) FROM report_first_response").fetchone()[0]
            )
            left = batch.left
        assert batches == 5 and recomputed == 121
        assert report_episodes.refresh_batch(25) == report_episodes.Batch(0, 0)
    finally:
        prof.close()
    expected = _fully_refreshed(full, change=first_id)
    assert _tables(batched) == expected
    assert expected[0] and expected[1] and expected[2] == 0


@pytest.mark.parametrize("where", ["between", "inside"])
def test_a_crash_during_the_catch_up_loses_nothing(tmp_path: Path, where: str) -> None:
    """The process dies by SIGKILL after two batches (and, ``inside``, in the middle of the third, its dirty
    marks deleted but not committed): on reopening, exactly the conversations of the two committed batches are
    done, the rest still waits, and finishing gives what a full refresh gives."""
    crashed, full = tmp_path / "crashed", tmp_path / "full"
    _demo(crashed, count=100)
    shutil.copytree(crashed, full)
    args = [str(crashed), "2", "30"] + (["inside"] if where == "inside" else [])
    proc = subprocess.run(
        [sys.executable, "-m", "tests.unit.catch_up_crash_helper", *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.strip() == "40"
    _episodes, firsts, dirty = _tables(crashed)
    assert dirty == 40 and len(firsts) == 60
    prof = open_profile(crashed)
    try:
        assert report_episodes.refresh() == 40
    finally:
        prof.close()
    assert _tables(crashed) == _fully_refreshed(full)


def test_the_window_s_steps_stop_after_their_time_and_a_read_only_profile_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``catch_up_step`` gives the worker back after its time (here: after each transaction) with what is
    left; a read-only profile has nothing to catch up (its reports are computed from scratch)."""
    folder = tmp_path / "p"
    _demo(folder, count=30)
    monkeypatch.setattr(rs, "CATCH_UP_BATCH", 8)
    monkeypatch.setattr(rs, "CATCH_UP_SECONDS", 0.0)
    prof = open_profile(folder, read_only=True)
    try:
        assert rs.catch_up_step(first=True) == rs.CatchUp(0, 0)
    finally:
        prof.close()
    prof = open_profile(folder)
    try:
        steps = [rs.catch_up_step(first=True)]
        while steps[-1].left:
            steps.append(rs.catch_up_step())
        assert steps == [rs.CatchUp(8, 22), rs.CatchUp(8, 14), rs.CatchUp(8, 6), rs.CatchUp(6, 0)]
        monkeypatch.setattr(rs, "CATCH_UP_SECONDS", 60.0)
        prof.db.execute_sql("INSERT INTO report_dirty (conversation_id) SELECT id FROM conversation")
        assert rs.catch_up_step(first=True) == rs.CatchUp(30, 0)  # one step, many transactions
    finally:
        prof.close()
