"""The write-ahead log is copied back by the checkpoint thread, never inside a commit (store.wal_checkpoint)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from inbox_app.profile import Profile, open_profile
from inbox_app.store import db as store_db
from inbox_app.store.wal_checkpoint import THREAD_NAME, THRESHOLD_BYTES, WalCheckpointer

MB = 1024 * 1024


def _wal_size(profile: Profile) -> int:
    wal = Path(f"{profile.db_path}-wal")
    return wal.stat().st_size if wal.exists() else 0


def _write(profile: Profile, megabytes: int) -> None:
    with profile.db.atomic():
        profile.db.execute_sql("CREATE TABLE IF NOT EXISTS scratch (data BLOB)")
        for _ in range(megabytes):
            profile.db.execute_sql("INSERT INTO scratch (data) VALUES (randomblob(?))", (MB,))


def _wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_commits_never_checkpoint_themselves(profile: Profile) -> None:
    assert profile.db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    store_db._stop_checkpointer()  # nobody copies the log back now
    _write(profile, 8)
    # With SQLite's default, this commit (the UI thread's, in the window) would have copied 8 MB and fsynced.
    assert _wal_size(profile) > 8 * MB


def test_the_checkpoint_thread_copies_the_log_after_big_commits_and_keeps_it_bounded(
    profile: Profile,
) -> None:
    checkpointer = store_db._checkpointer
    assert checkpointer is not None
    for _ in range(10):
        before = checkpointer.checkpoints
        _write(profile, 6)  # over the threshold every time
        store_db.wal_written()
        _wait_for(lambda before=before: checkpointer.checkpoints > before)
    # Every batch was copied back before the next began, so the log restarted instead of growing to 60 MB.
    assert _wal_size(profile) < 20 * MB
    assert profile.db.execute_sql("SELECT COUNT(*) FROM scratch").fetchone()[0] == 60


def test_idle_trim_truncates_the_log_and_a_small_log_is_left_alone(profile: Profile) -> None:
    store_db._stop_checkpointer()
    checkpointer = WalCheckpointer(profile.db_path)  # not started: run by hand
    conn = sqlite3.connect(profile.db_path, isolation_level=None)
    try:
        _write(profile, 1)
        assert _wal_size(profile) < THRESHOLD_BYTES
        assert not checkpointer.run_once(conn, idle=True)
        _write(profile, 6)
        assert checkpointer.run_once(conn, idle=True)
        assert _wal_size(profile) == 0
    finally:
        conn.close()


def test_closing_the_profile_stops_the_thread(tmp_path: Path) -> None:
    profile = open_profile(tmp_path / "p")
    assert any(t.name == THREAD_NAME for t in threading.enumerate())
    profile.close()
    assert not any(t.name == THREAD_NAME for t in threading.enumerate())
