"""A damaged or read-only profile in the real application: a dialog before any window, with the ways out.

Each test starts the app's own entry point (``inbox_app.cli.main`` → ``run_gui``) in a subprocess under the
offscreen platform and answers the dialog by clicking its button (tests/ui/gui_dialog_driver.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.damage_helpers import (
    REPO,
    demo_profile_with_backup,
    fill_with_random_bytes,
    read_only,
    remove_backups,
    run_cli,
    truncate_to_half,
)


def run_gui(
    tmp_path: Path, answers: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    result_file = tmp_path / "gui-result.json"
    env = dict(os.environ, PYTHONPATH=str(REPO), INBOX_APP_LANG="en", QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.ui.gui_dialog_driver", str(result_file), answers, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads(result_file.read_text(encoding="utf-8"))


def test_random_bytes_restore_newest_backup_then_the_window_opens(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    backup = demo_profile_with_backup(folder)
    damaged = fill_with_random_bytes(folder / "inbox.sqlite3")
    proc, result = run_gui(tmp_path, "restore", "--profile", str(folder))
    assert proc.returncode == 0, proc.stderr
    [dialog] = result["dialogs"]
    assert "is not a database file" in dialog["informative"] and backup.name in dialog["informative"]
    assert dialog["buttons"] == ["restore", "quit"]  # nothing to read from random bytes
    assert result["window"] is not None and result["window"]["rows"] > 0
    assert result["window"]["read_only_notice"] is None
    [aside] = folder.glob("inbox.sqlite3.damaged-*")
    assert aside.read_bytes() == damaged  # never overwritten
    assert backup.exists()  # restoring copies it, the backup stays
    listed = run_cli("--profile", str(folder), "list", "--view", "all", "--json")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 30


def test_truncated_database_without_backup_offers_only_quit_and_leaves_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    demo_profile_with_backup(folder, count=40)
    remove_backups(folder)
    damaged = truncate_to_half(folder / "inbox.sqlite3")
    proc, result = run_gui(tmp_path, "quit", "--profile", str(folder))
    assert proc.returncode == 2
    [dialog] = result["dialogs"]
    assert "is damaged" in dialog["informative"] and "There is no backup to restore" in dialog["informative"]
    assert dialog["buttons"] == ["quit"]
    assert result["window"] is None  # no black window behind the dialog
    assert (folder / "inbox.sqlite3").read_bytes() == damaged
    assert not list(folder.glob("inbox.sqlite3.damaged-*"))


def test_read_only_database_opens_read_only_and_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    demo_profile_with_backup(folder)
    db_path = folder / "inbox.sqlite3"
    before = db_path.read_bytes()
    with read_only(db_path):
        proc, result = run_gui(tmp_path, "read_only", "--profile", str(folder))
    assert proc.returncode == 0, proc.stderr
    [dialog] = result["dialogs"]
    assert "is read-only" in dialog["informative"]
    assert dialog["buttons"] == ["read_only", "quit"]
    assert result["window"]["rows"] > 0
    assert result["window"]["read_only_notice"] == "Read-only: nothing is synced or changed"
    assert db_path.read_bytes() == before


def test_unwritable_folder_opens_read_only(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    demo_profile_with_backup(folder)
    with read_only(folder):
        proc, result = run_gui(tmp_path, "read_only", "--profile", str(folder))
    assert proc.returncode == 0, proc.stderr
    [dialog] = result["dialogs"]
    assert "cannot be written to" in dialog["informative"]
    assert result["window"]["rows"] > 0 and result["window"]["read_only_notice"]


def test_profile_pointing_at_a_file_says_so_and_quits(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a profile", encoding="utf-8")
    proc, result = run_gui(tmp_path, "quit", "--profile", str(a_file))
    assert proc.returncode == 2
    [dialog] = result["dialogs"]
    assert f"The profile “{a_file}” is a file, not a folder" in dialog["informative"]
    assert dialog["buttons"] == ["quit"]
    assert a_file.read_text(encoding="utf-8") == "not a profile"


def test_unknown_language_is_said_in_a_dialog_and_the_app_continues(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    demo_profile_with_backup(folder)
    proc, result = run_gui(tmp_path, "default", "--lang=xx", "--profile", str(folder))
    assert proc.returncode == 0, proc.stderr
    [dialog] = result["dialogs"]
    assert "Unknown interface language “xx”" in dialog["text"] and "it, pt" in dialog["text"]
    assert result["window"]["rows"] > 0
