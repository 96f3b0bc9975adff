"""A damaged, read-only or misplaced profile from the command line: a clear message and a way out, never a
traceback, and never a write to the damaged file. Backups: daily on open, before migrations, by hand; rolling."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inbox_app.store import backups
from inbox_app.store.migrations import SCHEMA_VERSION
from tests.damage_helpers import (
    demo_profile_with_backup,
    fill_with_random_bytes,
    read_only,
    remove_backups,
    run_cli,
    truncate_to_half,
)

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"


def _no_traceback(*results: object) -> None:
    for result in results:
        assert "Traceback" not in getattr(result, "stderr", ""), getattr(result, "stderr", "")


def test_random_bytes_are_explained_and_restore_brings_back_the_newest_backup(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    backup = demo_profile_with_backup(folder)
    damaged = fill_with_random_bytes(folder / "inbox.sqlite3")
    listed = run_cli("--profile", str(folder), "list")
    _no_traceback(listed)
    assert listed.returncode == 2 and listed.stdout == ""
    assert "is damaged: it is not a database file (file is not a database)" in listed.stderr
    assert backup.name in listed.stderr and "inbox-app restore" in listed.stderr
    assert (folder / "inbox.sqlite3").read_bytes() == damaged  # opening did not touch it

    restored = run_cli("--profile", str(folder), "restore")
    _no_traceback(restored)
    assert restored.returncode == 0, restored.stderr
    assert backup.name in restored.stdout and "The previous database was kept as" in restored.stdout
    [aside] = folder.glob("inbox.sqlite3.damaged-*")
    assert aside.read_bytes() == damaged
    assert backup.exists()
    again = run_cli("--profile", str(folder), "list", "--view", "all", "--json")
    assert again.returncode == 0 and len(json.loads(again.stdout)) == 30


def test_a_truncated_database_is_recognised_and_a_named_backup_restored(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    daily = demo_profile_with_backup(folder, count=40)
    manual = run_cli("--profile", str(folder), "backup")
    assert manual.returncode == 0, manual.stderr
    assert "Backed up to" in manual.stdout
    damaged = truncate_to_half(folder / "inbox.sqlite3")
    for args in (["list"], ["show", "1"], ["sync", "--once"], ["demo", "--force"]):
        result = run_cli("--profile", str(folder), *args)
        _no_traceback(result)
        assert result.returncode == 2, args
        assert "is damaged (database disk image is malformed" in result.stderr
    assert (folder / "inbox.sqlite3").read_bytes() == damaged
    listing = run_cli("--profile", str(folder), "restore", "--list")
    lines = listing.stdout.splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[1] == "by hand" and lines[1].startswith(daily.name)
    restored = run_cli("--profile", str(folder), "restore", daily.name)
    assert restored.returncode == 0, restored.stderr
    assert daily.name in restored.stdout
    assert run_cli("--profile", str(folder), "list").returncode == 0


def test_without_backups_restore_says_there_is_none(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    demo_profile_with_backup(folder)
    remove_backups(folder)
    damaged = fill_with_random_bytes(folder / "inbox.sqlite3")
    listed = run_cli("--profile", str(folder), "list")
    assert listed.returncode == 2 and "There is no backup to restore" in listed.stderr
    restored = run_cli("--profile", str(folder), "restore")
    _no_traceback(listed, restored)
    assert restored.returncode == 2 and "There is no backup to restore" in restored.stderr
    assert (folder / "inbox.sqlite3").read_bytes() == damaged
    assert run_cli("--profile", str(folder), "restore", "--list").stdout == "No backups yet.\n"


def test_a_damaged_backup_is_not_restored(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    backup = demo_profile_with_backup(folder)
    fill_with_random_bytes(backup)
    damaged = fill_with_random_bytes(folder / "inbox.sqlite3")
    restored = run_cli("--profile", str(folder), "restore")
    _no_traceback(restored)
    assert restored.returncode == 2 and "is damaged too" in restored.stderr
    assert (folder / "inbox.sqlite3").read_bytes() == damaged
    assert not list(folder.glob("inbox.sqlite3.damaged-*"))


def test_a_read_only_database_can_be_read_but_not_changed(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    demo_profile_with_backup(folder)
    db_path = folder / "inbox.sqlite3"
    before = db_path.read_bytes()
    with read_only(db_path):
        reads = {
            "list": run_cli("--profile", str(folder), "list", "--view", "all", "--json"),
            "show": run_cli("--profile", str(folder), "show", "1"),
            "search": run_cli("--profile", str(folder), "search", "order"),
            "outbox": run_cli("--profile", str(folder), "outbox", "list"),
            "accounts": run_cli("--profile", str(folder), "account", "list"),
        }
        writes = {
            "demo": run_cli("--profile", str(folder), "demo", "--force", "--count", "2"),
            "sync": run_cli("--profile", str(folder), "sync", "--once"),
            "backup-ok": run_cli("--profile", str(folder), "backup"),  # reading the file is enough
        }
    _no_traceback(*reads.values(), *writes.values())
    for name, result in reads.items():
        assert result.returncode == 0, (name, result.stderr)
        assert "The profile is read-only" in result.stderr, name
    assert len(json.loads(reads["list"].stdout)) == 30
    for name in ("demo", "sync"):
        assert writes[name].returncode == 2, name
        assert "is read-only" in writes[name].stderr and "still work" in writes[name].stderr
    assert writes["backup-ok"].returncode == 0, writes["backup-ok"].stderr
    assert db_path.read_bytes() == before


def test_an_unwritable_folder_is_read_only_and_a_new_profile_there_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    demo_profile_with_backup(folder)
    with read_only(folder):
        listed = run_cli("--profile", str(folder), "list", "--view", "all", "--json")
        demo = run_cli("--profile", str(folder), "demo", "--force")
        inside = run_cli("--profile", str(folder / "new"), "list")
    _no_traceback(listed, demo, inside)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 30
    assert demo.returncode == 2 and "cannot be written to" in demo.stderr
    assert inside.returncode == 2 and "cannot be written to" in inside.stderr
    assert "Choose another folder" in inside.stderr


@pytest.mark.parametrize("command", [["list"], ["demo"], ["restore"], ["backup"]])
def test_profile_pointing_at_a_file_says_exactly_that(tmp_path: Path, command: list[str]) -> None:
    a_file = tmp_path / "inbox.sqlite3"
    a_file.write_bytes(b"keep me")
    result = run_cli("--profile", str(a_file), *command)
    _no_traceback(result)
    assert result.returncode == 2
    assert f"The profile “{a_file}” is a file, not a folder" in result.stderr
    assert a_file.read_bytes() == b"keep me"


# ------------------------------------------------------------------------------------------------- rolling backups
def test_daily_backups_roll_keeping_the_last_seven(tmp_path: Path) -> None:
    db_path = tmp_path / "inbox.sqlite3"
    # the newest released fixture (a schema in development has none yet)
    newest = max(SCHEMAS.glob("schema_v*.sqlite3"), key=lambda p: int(p.stem.removeprefix("schema_v")))
    shutil.copy(newest, db_path)
    backup_dir = tmp_path / "backups"
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    made = []
    for day in range(10):
        moment = start + timedelta(days=day)
        first = backups.daily_backup_if_due(db_path, backup_dir, SCHEMA_VERSION, now=moment)
        second = backups.daily_backup_if_due(
            db_path, backup_dir, SCHEMA_VERSION, now=moment + timedelta(hours=3)
        )
        assert first is not None and second is None  # once a day
        made.append(first)
    kept = [b.path for b in backups.list_backups(backup_dir)]
    assert kept == list(reversed(made[-7:]))
    assert all(backups.check_backup(path) is None for path in kept)


def test_a_migration_leaves_a_backup_that_restore_lists(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    folder.mkdir()
    shutil.copy(SCHEMAS / "schema_v1.sqlite3", folder / "inbox.sqlite3")
    opened = run_cli("--profile", str(folder), "list")
    assert opened.returncode == 0, opened.stderr
    listing = run_cli("--profile", str(folder), "restore", "--list").stdout.splitlines()
    kinds = [line.split("\t")[1] for line in listing]
    assert "before an upgrade" in kinds and "daily" in kinds
    migration = next(line.split("\t")[0] for line in listing if line.split("\t")[1] == "before an upgrade")
    assert migration.startswith("inbox-v1-")
