"""Attachment files: written from the stored raw source on first use, rebuilt after damage, added to replies.

The files live in the profile's :class:`BlobStore` (content-addressed by SHA-256); see ``store.blob_repair``
for why synced mail's attachments are written lazily.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from inbox_app.store import blob_repair
from inbox_app.store.blobs import BlobCorruptError, BlobNotFoundError, BlobStore, BlobStoreError
from inbox_app.store.db import database_proxy
from inbox_app.sync.attachment_sources import attachment_payloads

__all__ = [
    "BlobCorruptError",
    "BlobNotFoundError",
    "BlobStore",
    "BlobStoreError",
    "materialize",
    "open_profile_blobs",
    "restore",
]


def materialize(blobs: BlobStore, shas: Iterable[str]) -> set[str]:
    """Make sure the files of attachments ``shas`` exist; returns the ones that do afterwards."""
    return blob_repair.materialize(blobs, shas, attachment_payloads)


def restore(blobs: BlobStore, sha: str) -> bool:
    """Rewrite a damaged attachment file from its raw source; False when no stored source holds its bytes."""
    return blob_repair.restore_blob(blobs, sha, attachment_payloads)


def open_profile_blobs() -> BlobStore:
    """The attachment store next to the open profile database (for widgets built without a profile)."""
    return BlobStore(Path(database_proxy.obj.database).parent / "attachments")
