"""A profile is private to its user: folders 0700, files 0600, new ones and ones left open by earlier versions.

Before the fix the folder and attachments were 755 and the database and attachment files 644 (the default
profile too), so any other user of the machine could read every customer's mail.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from inbox_app.profile import default_profile_dir, open_profile


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _everything(root: Path) -> list[Path]:
    return [root, *sorted(root.rglob("*"))]


def _assert_private(root: Path) -> None:
    wrong = {
        str(path.relative_to(root)): oct(_mode(path))
        for path in _everything(root)
        if _mode(path) != (0o700 if path.is_dir() else 0o600)
    }
    assert wrong == {}


@pytest.fixture(autouse=True)
def _open_umask() -> object:
    """The usual desktop umask (022), under which files came out world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_profile_and_everything_written_into_it_is_private(tmp_path: Path) -> None:
    root = tmp_path / "profile"
    profile = open_profile(root)
    try:
        sha = profile.blobs.put(b"invoice.pdf bytes")
        profile.db.execute_sql("CREATE TABLE IF NOT EXISTS scratch (x)")  # the -wal and -shm files exist now
        assert (root / "inbox.sqlite3-wal").exists() and (root / "inbox.sqlite3-shm").exists()
        assert profile.blobs.path(sha).is_file()
        _assert_private(root)
        assert {p.name for p in root.iterdir()} >= {"inbox.sqlite3", "attachments", "backups"}
    finally:
        profile.close()


def test_the_default_profile_is_private_too() -> None:
    profile = open_profile(None)
    try:
        assert profile.root == default_profile_dir().resolve()
        _assert_private(profile.root)
    finally:
        profile.close()


def test_a_profile_left_open_by_an_earlier_version_is_fixed_on_start(tmp_path: Path) -> None:
    root = tmp_path / "profile"
    profile = open_profile(root)
    sha = profile.blobs.put(b"a customer's photo")
    profile.close()
    (root / "backups" / "inbox-v3-20261101T000000.sqlite3").write_bytes(b"old backup")
    (root / "ui.ini").write_text("[window]\n")
    for path in _everything(root):
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert _mode(profile.blobs.path(sha)) == 0o644

    profile = open_profile(root)
    try:
        _assert_private(root)
    finally:
        profile.close()


def test_a_migration_backup_is_private(tmp_path: Path) -> None:
    fixture = Path(__file__).parent.parent / "data" / "schemas" / "schema_v3.sqlite3"
    root = tmp_path / "old"
    root.mkdir(mode=0o755)
    (root / "inbox.sqlite3").write_bytes(fixture.read_bytes())
    (root / "inbox.sqlite3").chmod(0o644)
    profile = open_profile(root)
    try:
        backups = list((root / "backups").iterdir())
        assert backups, "migrating an old profile backs it up first"
        _assert_private(root)
    finally:
        profile.close()


def test_a_shared_folder_given_as_profile_keeps_its_own_mode(tmp_path: Path) -> None:
    """``--profile /tmp`` by mistake: the app's files become private, the shared folder itself is left as is."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    profile = open_profile(shared)
    try:
        assert _mode(shared) == 0o1777
        assert _mode(shared / "inbox.sqlite3") == 0o600
        assert _mode(shared / "attachments") == 0o700
    finally:
        profile.close()
