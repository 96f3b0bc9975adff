"""A profile: the folder that holds one user's database, attachments and backups.

Default location from platformdirs (``~/.local/share/inbox-app`` on Linux); ``--profile DIR`` or the
``INBOX_APP_PROFILE`` variable choose another, which is how a shared workstation keeps one profile per person
and how tests get a fresh one each.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import peewee
from platformdirs import user_data_dir

from inbox_app.store import db as store_db
from inbox_app.store.blobs import BlobStore
from inbox_app.store.ingest import clear_policy_cache
from inbox_app.store.migrations import migrate

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

    @property
    def db_path(self) -> Path:
        return self.root / "inbox.sqlite3"

    def close(self) -> None:
        store_db.close_database()


def open_profile(root: Path | None = None, *, seed: bool = True) -> Profile:
    """Open (creating and migrating if needed) the profile at ``root`` and bind the store to it."""
    folder = (root or default_profile_dir()).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "inbox.sqlite3"
    clear_policy_cache()  # resolved policies belong to the previously opened profile
    database = store_db.open_database(db_path)
    previous = migrate(database, db_path, folder / "backups")
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
