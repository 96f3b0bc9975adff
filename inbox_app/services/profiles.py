"""Profile health and backups: what is wrong with a profile folder, and the database's backups by hand.

Why no opened profile is needed: the reason to restore is usually that the profile no longer opens, so these
work on the files directly (see ``store.profile_check`` and ``store.backups``).
"""

from __future__ import annotations

from inbox_app.store.backups import (
    BACKUP_DIR_NAME,
    BackupInfo,
    check_backup,
    list_backups,
    make_backup,
    restore_backup,
)
from inbox_app.store.migrations import SchemaTooNewError
from inbox_app.store.profile_check import ProblemKind, ProfileProblem, check_header

__all__ = [
    "BACKUP_DIR_NAME",
    "BackupInfo",
    "ProblemKind",
    "ProfileProblem",
    "SchemaTooNewError",
    "check_backup",
    "check_header",
    "list_backups",
    "make_backup",
    "restore_backup",
]
