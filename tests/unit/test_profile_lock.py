"""The profile's sync lock file, read by a second process while the holder writes it."""

from __future__ import annotations

from pathlib import Path

from inbox_app.sync.ownership import LOCK_NAME, ProfileLock


def test_the_holder_pid_is_unknown_while_the_holder_has_just_truncated_the_file(tmp_path: Path) -> None:
    lock = ProfileLock(tmp_path)
    for content in ("", "\n", "   ", "garbage\n", "-5\n"):
        (tmp_path / LOCK_NAME).write_text(content, encoding="utf-8")
        assert lock.holder_pid() is None, content
    (tmp_path / LOCK_NAME).write_text("4242\n", encoding="utf-8")
    assert lock.holder_pid() == 4242


def test_a_second_lock_on_the_profile_is_refused_and_names_the_holder(tmp_path: Path) -> None:
    first, second = ProfileLock(tmp_path), ProfileLock(tmp_path)
    assert first.acquire()
    try:
        assert not second.acquire()
        assert second.holder_pid() is not None
    finally:
        first.release()
    assert second.acquire()
    second.release()
