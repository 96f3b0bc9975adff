"""Real damage for tests: a profile with backups, random bytes, a truncated file, read-only files and folders.

Read-only is made with ``chattr +i`` when the tests run as root (root ignores permission bits, a read-only
medium does not), with ``chmod`` otherwise; both are undone when the ``with`` block ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.cli_helpers import REPO, run_cli

__all__ = ["REPO", "run_cli"]


def demo_profile_with_backup(folder: Path, count: int = 30) -> Path:
    """A demo profile whose daily backup exists (made by opening it a second time); returns the backup."""
    made = run_cli("--profile", str(folder), "demo", "--count", str(count))
    assert made.returncode == 0, made.stderr
    listed = run_cli("--profile", str(folder), "list")  # the second opening makes the day's backup
    assert listed.returncode == 0, listed.stderr
    backups = sorted((folder / "backups").glob("inbox-daily-*.sqlite3"))
    assert len(backups) == 1, list((folder / "backups").iterdir())
    return backups[0]


def fill_with_random_bytes(db_path: Path) -> bytes:
    for side in ("-wal", "-shm"):
        Path(f"{db_path}{side}").unlink(missing_ok=True)
    data = os.urandom(16384)
    db_path.write_bytes(data)
    return data


def truncate_to_half(db_path: Path) -> bytes:
    for side in ("-wal", "-shm"):
        Path(f"{db_path}{side}").unlink(missing_ok=True)
    os.truncate(db_path, db_path.stat().st_size // 2)
    return db_path.read_bytes()


def remove_backups(folder: Path) -> None:
    shutil.rmtree(folder / "backups", ignore_errors=True)


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a file or folder unwritable for this process (even as root), restore it afterwards."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
