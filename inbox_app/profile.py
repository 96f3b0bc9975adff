"""A profile: the folder that holds one user's database, attachments and backups.

Default location from platformdirs (``~/.local/share/inbox-app`` on Linux); ``--profile DIR`` or the
``INBOX_APP_PROFILE`` variable choose another, which is how a shared workstation keeps one profile per person
and how tests get a fresh one each.
"""

from __future__ import annotations

import logging
import os
import sqlite3
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
    check_profile(folder, read_only=read_only)
    db_path = folder / "inbox.sqlite3"
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
    return profile


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
