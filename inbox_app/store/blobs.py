"""Content-addressed files on disk for attachments (and anything else too big for SQLite rows).

A blob's name is the SHA-256 of its bytes, under ``root/ab/cd/<sha256>``: the same invoice attached to fifty
mails is stored once, a write can be repeated safely (idempotent), and a blob can never change under a
reference. Writes go to a temporary file in the same folder, are fsynced and then ``os.replace``d into place,
so a crash leaves either the whole blob or nothing (at worst a stray temp file, see :meth:`cleanup_temp`).

Attachments of synced mail are written with ``durable=False`` (no fsync): the mail sync commits its batches
without fsync too (``MailStore.bulk_transaction``), the raw source holding every attachment is stored with the
message, and an fsync per attachment cost more than all the parsing of a first sync. After an OS crash such a
blob may be short or empty; :meth:`read` and :meth:`export` check the SHA-256 and say so instead of handing
out wrong bytes, and a later :meth:`put` of the same bytes rewrites a blob whose size is wrong.
Files the user attaches to a reply are always written durably.

Disk full is an *environment* error the user can fix, so it gets its own exception (:class:`DiskFullError`),
apart from bugs.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

from inbox_app.domain.filenames import safe_filename
from inbox_app.store.db import is_disk_full

__all__ = [
    "BlobCorruptError",
    "BlobNotFoundError",
    "BlobStore",
    "BlobStoreError",
    "DiskFullError",
    "InvalidBlobIdError",
]

log = logging.getLogger("inbox_app.store")

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_TMP_PREFIX = ".tmp-"
_EXPORT_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
)


class BlobStoreError(Exception):
    """Base class for blob storage failures."""


class DiskFullError(BlobStoreError):
    """No space left on the device (or quota exceeded): the user must free space; retrying later may work."""


class InvalidBlobIdError(BlobStoreError, ValueError):
    """The id is not 64 lowercase hex characters (a bug or tampered data; never touches the disk)."""


class BlobNotFoundError(BlobStoreError, FileNotFoundError):
    """No blob with this id exists."""


class BlobCorruptError(BlobStoreError):
    """The blob's bytes no longer match its SHA-256 (damaged by an OS crash or by hand)."""


class BlobStore:
    """Stores bytes by their SHA-256; safe against crashes and against ids that try to leave ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ----------------------------------------------------------------------------------------- paths
    @staticmethod
    def _validate(sha: str) -> str:
        if not isinstance(sha, str) or not _SHA256_HEX.fullmatch(sha):
            raise InvalidBlobIdError(f"not a SHA-256 hex digest: {sha!r:.80}")
        return sha

    def path(self, sha: str) -> Path:
        """Where the blob lives (whether or not it exists). Raises InvalidBlobIdError for a bad id."""
        sha = self._validate(sha)
        return self.root / sha[:2] / sha[2:4] / sha

    def exists(self, sha: str) -> bool:
        try:
            return self.path(sha).is_file()
        except InvalidBlobIdError:
            return False

    # ---------------------------------------------------------------------------------------- writing
    def put(self, data: bytes, *, durable: bool = True) -> str:
        """Store ``data`` and return its SHA-256 hex id. Repeating a put is cheap and changes nothing.

        ``durable=False`` skips the fsync, for bytes that can be had again (see the module docstring).
        """
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        with contextlib.suppress(OSError):
            if target.stat().st_size == len(data):
                return sha
        try:
            # Private: the profile's mail (see ``profile``).
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            for folder in (target.parent.parent, target.parent):
                folder.mkdir(exist_ok=True, mode=0o700)
            self._write_atomic(target, data, durable)
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(f"no space left to store an attachment in {self.root}") from exc
            raise
        return sha

    @staticmethod
    def _write_atomic(target: Path, data: bytes, durable: bool = True) -> None:
        fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if durable:
                    os.fsync(handle.fileno())
            os.chmod(tmp_name, 0o600)  # mkstemp's mode already; said explicitly: private to the user
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise

    def cleanup_temp(self) -> int:
        """Remove temporary files left by a crash mid-write; returns how many were removed."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for tmp in self.root.glob(f"??/??/{_TMP_PREFIX}*"):
            try:
                tmp.unlink()
                removed += 1
            except OSError as exc:
                log.warning("could not remove stale temp blob %s: %s", tmp, exc)
        return removed

    # ---------------------------------------------------------------------------------------- reading
    def open(self, sha: str) -> BinaryIO:
        """Open the blob for reading (binary). Raises BlobNotFoundError if it does not exist."""
        path = self.path(sha)
        try:
            return path.open("rb")
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"blob {sha} not found") from exc

    def read(self, sha: str) -> bytes:
        """The blob's bytes, checked against its id (raises BlobCorruptError rather than return wrong bytes)."""
        with self.open(sha) as handle:
            data = handle.read()
        if hashlib.sha256(data).hexdigest() != sha:
            raise BlobCorruptError(f"blob {sha} is damaged ({len(data)} bytes do not match its SHA-256)")
        return data

    def export(self, sha: str, dest_dir: Path, filename: str | None) -> Path:
        """Copy the blob to ``dest_dir`` under a safe version of ``filename``; never overwrites.

        The name goes through :func:`safe_filename` and the resolved path is checked to lie inside
        ``dest_dir``; an existing file gets a " (1)", " (2)"… suffix before the extension.
        """
        source = self.path(sha)
        if not source.is_file():
            raise BlobNotFoundError(f"blob {sha} not found")
        dest_root = Path(dest_dir).resolve()
        name = safe_filename(filename)
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            stem, dot, ext = name, "", ""
        for counter in range(10_000):
            candidate_name = name if counter == 0 else f"{stem} ({counter}){dot}{ext}"
            # The last component is not resolved: an existing symlink there must count as "taken",
            # never be followed (O_EXCL below refuses it too).
            candidate = dest_root / candidate_name
            if candidate.parent != dest_root or candidate_name in (".", "..") or os.sep in candidate_name:
                raise BlobStoreError(f"refusing to export outside {dest_root}: {candidate_name!r}")
            try:
                # O_EXCL: an existing file (or one created meanwhile) is never overwritten.
                fd = os.open(
                    candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644
                )
            except FileExistsError:
                continue
            except OSError as exc:
                if is_disk_full(exc):
                    raise DiskFullError(f"no space left to save {candidate_name!r}") from exc
                raise
            try:
                digest = hashlib.sha256()
                with os.fdopen(fd, "wb") as handle, source.open("rb") as blob:
                    while chunk := blob.read(1024 * 1024):
                        digest.update(chunk)
                        handle.write(chunk)
                if digest.hexdigest() != sha:
                    raise BlobCorruptError(f"blob {sha} is damaged: not saved as {candidate_name!r}")
            except (OSError, BlobCorruptError) as exc:
                candidate.unlink(missing_ok=True)
                if isinstance(exc, OSError) and is_disk_full(exc):
                    raise DiskFullError(f"no space left to save {candidate_name!r}") from exc
                raise
            return candidate
        raise BlobStoreError(f"too many files named like {name!r} in {dest_root}")
