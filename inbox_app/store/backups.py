"""Rolling backups of the profile database, and restoring one without ever overwriting the damaged file.

Why: the database is the seller's whole history; a disk error, a crash in the middle of a copy or a bad sync
tool can leave it unreadable ("file is not a database", "database disk image is malformed"). Backups are made

* daily, the first time the profile is opened on a day (``daily``), the last :data:`KEEP_DAILY` kept;
* before each schema migration (``migration``, made by :mod:`inbox_app.store.migrations`), the last
  :data:`KEEP_MIGRATION` kept;
* on request, ``inbox-app backup`` (``manual``), the last :data:`KEEP_MANUAL` kept.

Every copy goes through SQLite's online backup API (consistent even while another connection writes) into a
temporary name that is renamed once complete, so a copy cut short never looks like a backup. Restoring moves
the current file aside as ``inbox.sqlite3.damaged-<timestamp>`` (with its ``-wal``/``-shm``) instead of
deleting or overwriting it: whatever is still in it can be rescued later (``sqlite3 … .recover``).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("inbox_app.store")

BACKUP_DIR_NAME = "backups"
KEEP_DAILY = 7
KEEP_MIGRATION = 7
KEEP_MANUAL = 10
SIDE_FILES = ("-wal", "-shm")

# inbox-daily-v3-20261205T091500.sqlite3, inbox-manual-…, and the migration backups' historic name
# inbox-v2-20261205T091500.sqlite3 (made by migrations.backup_database before this module existed).
_NAME = re.compile(
    r"^inbox-(?:(?P<kind>daily|manual|migration)-)?v(?P<version>\d+)-(?P<stamp>\d{8}T\d{6})\.sqlite3$"
)


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    kind: str  # "daily", "migration" or "manual"
    version: int
    created_at: datetime
    size: int

    @property
    def name(self) -> str:
        return self.path.name


def _stamp(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def list_backups(backup_dir: Path) -> list[BackupInfo]:
    """The backups in ``backup_dir``, newest first (files with other names are ignored)."""
    found: list[BackupInfo] = []
    try:
        entries = list(backup_dir.iterdir())
    except OSError:
        return []
    for path in entries:
        match = _NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        created = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        found.append(
            BackupInfo(
                path=path,
                kind=match["kind"] or "migration",
                version=int(match["version"]),
                created_at=created,
                size=path.stat().st_size,
            )
        )
    found.sort(key=lambda b: (b.created_at, b.name), reverse=True)
    return found


def copy_database(source: Path, target: Path, *, read_only_source: bool = False) -> None:
    """Copy a live database with SQLite's backup API into ``target`` (written under a temporary name first)."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    # Private like the database it copies (the seller's customers): created 0600 before SQLite writes into it.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT, 0o600))
    uri = f"{source.resolve().as_uri()}?mode=ro" + ("&immutable=1" if read_only_source else "")
    src = sqlite3.connect(uri, uri=True)
    try:
        dst = sqlite3.connect(str(partial))
        try:
            src.backup(dst)
            # A standalone copy: no write-ahead log next to it.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    os.replace(partial, target)


def make_backup(
    db_path: Path, backup_dir: Path, kind: str, version: int, now: datetime | None = None
) -> Path:
    """A new backup of ``db_path`` of the given kind; older ones of that kind beyond the limit are removed."""
    stamp = _stamp(now)
    target = backup_dir / f"inbox-{kind}-v{version}-{stamp}.sqlite3"
    counter = 1
    while target.exists():  # two in the same second (a test, a script): never overwrite one
        target = backup_dir / f"inbox-{kind}-v{version}-{stamp}-{counter}.sqlite3"
        counter += 1
    copy_database(db_path, target)
    prune(backup_dir)
    log.info("backed up the database to %s", target)
    return target


def daily_backup_if_due(
    db_path: Path, backup_dir: Path, version: int, now: datetime | None = None
) -> Path | None:
    """Make today's daily backup unless there is one already (or the database is still empty)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    if not db_path.exists() or version == 0:
        return None
    today = moment.date()
    if any(b.kind == "daily" and b.created_at.date() == today for b in list_backups(backup_dir)):
        return None
    return make_backup(db_path, backup_dir, "daily", version, now=moment)


def prune(backup_dir: Path) -> list[Path]:
    """Remove the oldest backups beyond the limit of each kind; returns what was removed."""
    limits = {"daily": KEEP_DAILY, "migration": KEEP_MIGRATION, "manual": KEEP_MANUAL}
    seen: dict[str, int] = {}
    removed: list[Path] = []
    for backup in list_backups(backup_dir):  # newest first
        seen[backup.kind] = seen.get(backup.kind, 0) + 1
        if seen[backup.kind] > limits.get(backup.kind, KEEP_MANUAL):
            backup.path.unlink(missing_ok=True)
            removed.append(backup.path)
    return removed


def check_backup(path: Path) -> str | None:
    """None when ``path`` is a sound SQLite database, else SQLite's complaint (never changes the file)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return str(exc)
    if not result or result[0] != "ok":
        return str(result[0] if result else "no result")
    return None


def move_aside(db_path: Path, moment: datetime | None = None) -> Path | None:
    """Rename the database (and its -wal/-shm) to ``<name>.damaged-<timestamp>``; None when there is none."""
    if not db_path.exists():
        return None
    aside = db_path.with_name(f"{db_path.name}.damaged-{_stamp(moment)}")
    counter = 1
    while aside.exists():
        aside = db_path.with_name(f"{db_path.name}.damaged-{_stamp(moment)}-{counter}")
        counter += 1
    for (
        suffix
    ) in SIDE_FILES:  # the log belongs to the damaged file: keep it with it, never replay it on the copy
        side = Path(f"{db_path}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{aside}{suffix}"))
    os.replace(db_path, aside)
    return aside


def restore_backup(db_path: Path, backup: Path) -> Path | None:
    """Put ``backup`` in place of the database; returns where the previous file was moved (None: there was none).

    The backup is copied (it stays in the backups folder) into a temporary name first; only when that worked
    is the current database moved aside and the copy renamed into place.
    """
    staged = db_path.with_name(db_path.name + ".restoring")
    staged.unlink(missing_ok=True)
    copy_database(backup, staged, read_only_source=True)
    aside = move_aside(db_path)
    os.replace(staged, db_path)
    log.info("restored %s from %s; the previous file is %s", db_path, backup, aside)
    return aside
