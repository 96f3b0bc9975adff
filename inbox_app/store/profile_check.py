"""What is wrong with a profile that cannot be opened normally, in words a seller can act on.

Opening a profile touches three things that can fail for reasons outside the program: the folder (missing
rights, a file where a folder should be), the database file (read-only, on a read-only medium) and its
content (random bytes: "file is not a database"; cut short by a full disk or a bad copy: "database disk image
is malformed"). Each becomes a :class:`ProfileProblem` that says what happened and what the way out is: open
read-only (when the file can still be read), restore the newest automatic backup (when there is one), or
nothing (a file given as ``--profile``). Nothing here ever writes to the damaged database.
"""

from __future__ import annotations

import enum
import errno
import os
import sqlite3
import struct
from pathlib import Path

from inbox_app.i18n import _, format_datetime
from inbox_app.store.backups import BACKUP_DIR_NAME, BackupInfo, list_backups

SQLITE_MAGIC = b"SQLite format 3\x00"


class ProblemKind(enum.Enum):
    NOT_A_FOLDER = "not_a_folder"
    FOLDER_NOT_WRITABLE = "folder_not_writable"
    DATABASE_READ_ONLY = "database_read_only"
    NOT_A_DATABASE = "not_a_database"
    DAMAGED = "damaged"


class ProfileProblem(Exception):
    """The profile cannot be opened for writing. ``message`` explains it; the flags say which ways out exist."""

    def __init__(
        self, kind: ProblemKind, folder: Path, detail: str = "", *, can_open_read_only: bool = False
    ) -> None:
        super().__init__(f"{kind.value}: {folder}: {detail}")
        self.kind = kind
        self.folder = folder
        self.detail = detail
        self.can_open_read_only = can_open_read_only
        self.backups: list[BackupInfo] = list_backups(folder / BACKUP_DIR_NAME) if folder.is_dir() else []

    @property
    def db_path(self) -> Path:
        return self.folder / "inbox.sqlite3"

    @property
    def is_damaged(self) -> bool:
        return self.kind in (ProblemKind.NOT_A_DATABASE, ProblemKind.DAMAGED)

    @property
    def newest_backup(self) -> BackupInfo | None:
        return self.backups[0] if self.backups else None

    @property
    def message(self) -> str:
        """What happened and what can be done, for a dialog or stderr (no command names in it)."""
        path = str(self.db_path)
        if self.kind is ProblemKind.NOT_A_FOLDER:
            return _(
                "The profile “{path}” is a file, not a folder. Choose a folder for the profile (it is created if it does not exist)."
            ).format(path=self.folder)
        if self.kind is ProblemKind.FOLDER_NOT_WRITABLE:
            text = _("The profile folder {folder} cannot be written to ({error}).").format(
                folder=self.folder, error=self.detail
            )
        elif self.kind is ProblemKind.DATABASE_READ_ONLY:
            text = _("The profile database {path} is read-only ({error}).").format(
                path=path, error=self.detail
            )
        elif self.kind is ProblemKind.NOT_A_DATABASE:
            text = _("The profile database {path} is damaged: it is not a database file ({error}).").format(
                path=path, error=self.detail
            )
        else:
            text = _("The profile database {path} is damaged ({error}).").format(path=path, error=self.detail)
        parts = [text]
        if self.can_open_read_only:
            parts.append(
                _(
                    "It can be opened read-only: you can read everything, but not sync, reply or change anything."
                )
            )
        if self.is_damaged:
            newest = self.newest_backup
            if newest is not None:
                parts.append(
                    _(
                        "The newest backup is from {date} ({name}). Restoring it moves the damaged "
                        "file aside; nothing is deleted."
                    ).format(date=format_datetime(newest.created_at, "short"), name=newest.name)
                )
            else:
                parts.append(_("There is no backup to restore. The damaged file is left as it is."))
        elif self.kind is ProblemKind.FOLDER_NOT_WRITABLE and not self.can_open_read_only:
            parts.append(
                _("Choose another folder for the profile, or give your user the right to write to this one.")
            )
        return "\n\n".join(parts)


def _not_writable(exc: OSError) -> bool:
    return exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)


def _error_text(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_header(db_path: Path) -> tuple[ProblemKind, str] | None:
    """Look at the first 100 bytes: is it an SQLite file, and is it as long as its header says?

    A truncated file opens fine and fails later, on whichever page is missing; the header's page count tells at
    once (it is valid when the "version-valid-for" number matches the change counter, as SQLite itself checks).
    """
    try:
        size = db_path.stat().st_size
        if size == 0:
            return None  # a new, empty database
        with db_path.open("rb") as fh:
            header = fh.read(100)
    except FileNotFoundError:
        return None
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        return ProblemKind.NOT_A_DATABASE, _("file is not a database")
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    change_counter, page_count = struct.unpack(">II", header[24:32])
    valid_for = struct.unpack(">I", header[92:96])[0]
    wal = Path(f"{db_path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        # Pages may live in the write-ahead log until the next checkpoint (a checkpoint cut short by a full
        # disk leaves the file shorter than its header says): SQLite reads them from there, so no verdict.
        return None
    if page_count and valid_for == change_counter and page_count * page_size > size:
        return ProblemKind.DAMAGED, _("database disk image is malformed: the file is cut short")
    return None


def check_profile(folder: Path, *, read_only: bool = False) -> None:
    """Raise :class:`ProfileProblem` when the profile at ``folder`` cannot be opened (for writing, by default).

    Creates the folder when it does not exist (unless ``read_only``). The checks try the real thing (create a
    file, open for writing) rather than trusting permission bits, which say nothing for root or read-only media.
    """
    db_path = folder / "inbox.sqlite3"
    if folder.exists() and not folder.is_dir():
        raise ProfileProblem(ProblemKind.NOT_A_FOLDER, folder)
    if not folder.exists():
        if read_only:
            raise ProfileProblem(ProblemKind.FOLDER_NOT_WRITABLE, folder, _("it does not exist"))
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            if isinstance(exc, FileExistsError) or exc.errno == errno.ENOTDIR:
                raise ProfileProblem(ProblemKind.NOT_A_FOLDER, folder, _error_text(exc)) from exc
            raise ProfileProblem(ProblemKind.FOLDER_NOT_WRITABLE, folder, _error_text(exc)) from exc
    header = check_header(db_path)
    if header is not None:
        raise ProfileProblem(header[0], folder, header[1])
    if read_only:
        return
    has_db = db_path.exists()
    probe = folder / f".inbox-write-test-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        probe.unlink()
    except OSError as exc:
        raise ProfileProblem(
            ProblemKind.FOLDER_NOT_WRITABLE, folder, _error_text(exc), can_open_read_only=has_db
        ) from exc
    if has_db:
        try:
            fd = os.open(db_path, os.O_RDWR)
            os.close(fd)
        except OSError as exc:
            if not _not_writable(exc):
                raise
            raise ProfileProblem(
                ProblemKind.DATABASE_READ_ONLY, folder, _error_text(exc), can_open_read_only=True
            ) from exc


def problem_from_sqlite(exc: BaseException, folder: Path) -> ProfileProblem | None:
    """The problem behind an SQLite error raised while opening (None: not a damaged or read-only file)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = getattr(current, "sqlite_errorname", "") or ""
        text = str(current)
        if name.startswith("SQLITE_NOTADB") or "file is not a database" in text:
            return ProfileProblem(ProblemKind.NOT_A_DATABASE, folder, text)
        if name.startswith("SQLITE_CORRUPT") or "malformed" in text:
            return ProfileProblem(ProblemKind.DAMAGED, folder, text)
        if name.startswith("SQLITE_READONLY") or "readonly database" in text:
            return ProfileProblem(ProblemKind.DATABASE_READ_ONLY, folder, text, can_open_read_only=True)
        if isinstance(current, sqlite3.Error) and name.startswith("SQLITE_CANTOPEN"):
            return ProfileProblem(ProblemKind.FOLDER_NOT_WRITABLE, folder, text, can_open_read_only=True)
        current = current.__cause__ or current.__context__
    return None
