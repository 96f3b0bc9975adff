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

__all__ = [
    "AttachmentUnavailable",
    "BlobCorruptError",
    "BlobNotFoundError",
    "BlobStore",
    "BlobStoreError",
    "close_worker_connection",
    "fetch_marketplace_attachment",
    "materialize",
    "open_profile_blobs",
    "restore",
    "save_marketplace_attachment",
]


class AttachmentUnavailable(Exception):
    """A marketplace file could not be had (not such a file, account gone, the vendor refused or is down);
    ``user_message`` (translated) says why and what to do."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def materialize(blobs: BlobStore, shas: Iterable[str]) -> set[str]:
    """Make sure the files of attachments ``shas`` exist; returns the ones that do afterwards."""
    # Imported here: the mail parser it brings is not needed to open the window (a fifth of its start-up).
    from inbox_app.sync.attachment_sources import attachment_payloads

    return blob_repair.materialize(blobs, shas, attachment_payloads)


def restore(blobs: BlobStore, sha: str) -> bool:
    """Rewrite a damaged attachment file from its raw source; False when no stored source holds its bytes."""
    from inbox_app.sync.attachment_sources import attachment_payloads

    return blob_repair.restore_blob(blobs, sha, attachment_payloads)


def open_profile_blobs() -> BlobStore:
    """The attachment store next to the open profile database (for widgets built without a profile)."""
    return BlobStore(Path(database_proxy.obj.database).parent / "attachments")


async def save_marketplace_attachment(blobs: BlobStore, attachment_id: int, folder: Path) -> Path:
    """Save one attachment into ``folder`` (never overwriting); a marketplace file is downloaded from the
    vendor first and kept in ``blobs`` for next time. Returns the path written.

    Raises :class:`AttachmentUnavailable` for what the seller can act on, ``OSError`` when the folder refuses.
    Runs on the caller's event loop (the CLI's ``asyncio.run``, the window's qasync loop); the database work
    goes to the sync's database worker, whose connection the caller closes when done
    (:func:`close_worker_connection`).
    """
    from inbox_app.channels.base import ChannelError
    from inbox_app.sync import channel_attachments
    from inbox_app.sync.registry import default_registry

    try:
        return await channel_attachments.save_attachment(default_registry(), blobs, attachment_id, folder)
    except channel_attachments.AttachmentUnavailable as exc:
        raise AttachmentUnavailable(exc.user_message) from exc
    except ChannelError as exc:
        raise AttachmentUnavailable(exc.user_message) from exc


async def close_worker_connection() -> None:
    """Close the database worker's connection (after :func:`save_marketplace_attachment` in a short-lived
    command: its loop ends next)."""
    from inbox_app.sync.db_worker import close_db_connection

    await close_db_connection()


async def fetch_marketplace_attachment(blobs: BlobStore, attachment_id: int) -> str:
    """The name (sha256) of a marketplace attachment's file in ``blobs``, downloading it from the vendor first
    when it is not there yet (the window's "Save as…"). Raises :class:`AttachmentUnavailable`."""
    from inbox_app.channels.base import ChannelError
    from inbox_app.sync import channel_attachments
    from inbox_app.sync.registry import default_registry

    try:
        return await channel_attachments.fetch_attachment(default_registry(), blobs, attachment_id)
    except channel_attachments.AttachmentUnavailable as exc:
        raise AttachmentUnavailable(exc.user_message) from exc
    except ChannelError as exc:
        raise AttachmentUnavailable(exc.user_message) from exc
