"""A profile: the folder that holds one user's database, attachments and backups.

Default location from platformdirs (``~/.local/share/inbox-app`` on Linux); ``--profile DIR`` or the
``INBOX_APP_PROFILE`` variable choose another, which is how a shared workstation keeps one profile per person
and how tests get a fresh one each.

The profile holds the seller's customers' mail: it is private to its user. The folder, ``attachments/`` and
``backups/`` are made 0700 and the files in them 0600 (:func:`make_private`), when created and again at every
start, which also fixes a profile made by an earlier version (folder 755, files 644).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path

import peewee
from platformdirs import user_data_dir

from inbox_app.store import db as store_db
from inbox_app.store.backups import BACKUP_DIR_NAME, daily_backup_if_due
from inbox_app.store.blobs import BlobStore
from inbox_app.store.ingest import clear_policy_cache
from inbox_app.store.migrations import SCHEMA_VERSION, SchemaTooNewError, migrate, schema_version
from inbox_app.store.profile_check import check_profile, problem_from_sqlite

log = logging.getLogger("inbox_app")

APP_ID = "io.github.inbox_app.InboxApp"


def default_profile_dir() -> Path:
    env = os.environ.get("INBOX_APP_PROFILE")
    if env:
        return Path(env).expanduser()
    return Path(user_data_dir("inbox-app", appauthor=False))


@dataclass
class Profile:
    root: Path
    db: peewee.SqliteDatabase
    blobs: BlobStore
    read_only: bool = False  # opened without write access (see store.profile_check): no sync, no changes

    @property
    def db_path(self) -> Path:
        return self.root / "inbox.sqlite3"

    def close(self) -> None:
        store_db.close_database()


def open_profile(root: Path | None = None, *, seed: bool = True, read_only: bool = False) -> Profile:
    """Open (creating and migrating if needed) the profile at ``root`` and bind the store to it.

    Raises :class:`~inbox_app.store.profile_check.ProfileProblem` when the folder or the database cannot be
    used (a file given as folder, no write access, a damaged file), never touching a damaged file.
    ``read_only`` opens an existing profile without writing anything (the way out for a read-only one).
    """
    folder = (root or default_profile_dir()).expanduser().resolve()
    check_profile(folder, read_only=read_only)  # creates a missing folder, private (0700)
    db_path = folder / "inbox.sqlite3"
    if not read_only:
        make_private(folder)
    clear_policy_cache()  # resolved policies belong to the previously opened profile
    try:
        database = store_db.open_database(db_path, read_only=read_only)
        if read_only:
            if schema_version(database) != SCHEMA_VERSION:
                store_db.close_database()
                raise SchemaTooNewError(
                    f"This profile uses database version {schema_version(database)}; it must be opened "
                    "with write access once to be upgraded."
                )
            return Profile(root=folder, db=database, blobs=BlobStore(folder / "attachments"), read_only=True)
        previous = migrate(database, db_path, folder / BACKUP_DIR_NAME)
        if previous:
            daily_backup_if_due(db_path, folder / BACKUP_DIR_NAME, SCHEMA_VERSION)
    except (sqlite3.Error, peewee.DatabaseError) as exc:
        store_db.close_database()
        problem = problem_from_sqlite(exc, folder)
        if problem is None:
            raise
        raise problem from exc
    profile = Profile(root=folder, db=database, blobs=BlobStore(folder / "attachments"))
    if seed and previous == 0:
        seed_defaults()
    _migrate_keyring_names()
    return profile


def _migrate_keyring_names() -> None:
    """Keyring entries of the old shared names move to this profile's own (see ``inbox_app.secrets``)."""
    from inbox_app.sync.credentials import migrate_legacy_secrets

    try:
        moved = migrate_legacy_secrets()
    except Exception as exc:  # the keyring is the OS's: never a reason not to open the profile
        log.warning("keyring entries could not be migrated: %s", exc)
        return
    if moved:
        log.info("moved %d keyring entries to this profile's names", moved)


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
#: What the app keeps directly in a profile folder (a profile may be any folder: only these are touched).
_PROFILE_FILES = (
    "inbox.sqlite3",
    "inbox.sqlite3-wal",
    "inbox.sqlite3-shm",
    "inbox.sqlite3-journal",
    "ui.ini",
)
_PROFILE_TREES = ("attachments", "backups")


def make_private(folder: Path) -> None:
    """Make the profile readable by its user only: the folder and its trees 0700, the app's files 0600.

    The database is created here (empty, 0600) before SQLite opens it, because SQLite creates a new file with
    the process's default mode, and its -wal and -shm files copy the database file's mode. Blobs and backups
    are written 0600 by their own code; this also repairs what an earlier version left open."""
    _chmod(folder, PRIVATE_DIR, top=True)
    db_path = folder / "inbox.sqlite3"
    with contextlib.suppress(FileExistsError):
        os.close(os.open(db_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    for name in _PROFILE_FILES:
        _chmod(folder / name, PRIVATE_FILE)
    for tree in _PROFILE_TREES:
        top = folder / tree
        top.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        if stat.S_IMODE(top.lstat().st_mode) & 0o077 or _open_inside(top):
            for dirpath, dirnames, filenames in os.walk(top):  # symlinks are not followed
                _chmod(Path(dirpath), PRIVATE_DIR)
                for name in filenames:
                    _chmod(Path(dirpath) / name, PRIVATE_FILE)
                dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]


def _open_inside(top: Path) -> bool:
    """Does the first file found under ``top`` allow others in? (a tree written by an earlier version: it is
    then fixed as a whole; a private one is not walked at every start)."""
    for dirpath, _dirnames, filenames in os.walk(top):
        for name in filenames:
            with contextlib.suppress(OSError):
                return bool(stat.S_IMODE((Path(dirpath) / name).lstat().st_mode) & 0o077)
    return False


def _chmod(path: Path, mode: int, *, top: bool = False) -> None:
    """chmod unless it is a symlink or missing; the profile folder itself only if it is this user's own and
    not a shared folder such as /tmp (sticky bit), in case someone points ``--profile`` at one."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or stat.S_IMODE(info.st_mode) == mode:
        return
    if top and (info.st_mode & stat.S_ISVTX or (hasattr(os, "getuid") and info.st_uid != os.getuid())):
        log.info("not changing the permissions of %s: not a folder of this user's own", path)
        return
    try:
        os.chmod(path, mode)
    except OSError as exc:
        log.warning("could not make %s private: %s", path, exc)


def seed_defaults() -> None:
    """Fill a new profile with the shipped presets: deadline policies and the starter canned responses."""
    from inbox_app.domain.canned_library import load_starter_library
    from inbox_app.domain.deadlines import PRESETS
    from inbox_app.store import canned
    from inbox_app.store.models import DeadlinePolicyRow

    with store_db.database_proxy.obj.atomic():
        for key, policy in PRESETS.items():
            DeadlinePolicyRow.insert(
                key=key, name=policy.name, definition=policy.to_dict()
            ).on_conflict_ignore().execute()
        canned.upsert(load_starter_library())
