"""Marketplace attachments on demand: a synced message lists its files (name, size, type, the vendor's id) and
their bytes are downloaded only when the seller opens or saves one, then kept in the profile's blob store.

Why not during the sync: a first sync of thousands of threads would otherwise download every photo and PDF
ever exchanged; most are never opened again.
"""

from __future__ import annotations

from pathlib import Path

from inbox_app.channels.base import RemoteAttachment
from inbox_app.i18n import _
from inbox_app.store.accounts import get_account
from inbox_app.store.blobs import BlobStore
from inbox_app.store.channel_threads import attachment_ref, store_downloaded
from inbox_app.sync.db_worker import run_db
from inbox_app.sync.registry import ChannelRegistry


class AttachmentUnavailable(Exception):
    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


async def fetch_attachment(registry: ChannelRegistry, blobs: BlobStore, attachment_id: int) -> str:
    """The sha256 of the attachment's bytes in ``blobs``, downloading them first when not there yet.

    Raises the channel's typed errors (``channels.base.ChannelError``) when the vendor cannot deliver it, and
    :class:`AttachmentUnavailable` when the attachment is not a marketplace file."""
    ref = await run_db(attachment_ref, attachment_id)
    if ref is None:
        raise AttachmentUnavailable(
            _("Attachment {id} is not a marketplace file that can be downloaded.").format(id=attachment_id)
        )
    if ref.sha256 and blobs.path(ref.sha256).is_file():
        return ref.sha256
    account = await run_db(get_account, ref.account_id)
    if account is None:
        raise AttachmentUnavailable(_("The account of this attachment no longer exists."))
    channel = registry.build(account)
    try:
        content = await channel.download_attachment(
            RemoteAttachment(ref.remote_id, ref.name, ref.size or None, ref.mime_type)
        )
    finally:
        await channel.aclose()
    return await run_db(store_downloaded, attachment_id, content.data, blobs)


async def save_attachment(
    registry: ChannelRegistry, blobs: BlobStore, attachment_id: int, folder: Path
) -> Path:
    """Download if needed, then copy into ``folder`` under a safe name (never overwriting, never outside)."""
    sha = await fetch_attachment(registry, blobs, attachment_id)
    ref = await run_db(attachment_ref, attachment_id)
    name = ref.name if ref is not None else None
    return blobs.export(sha, folder, name)
