"""Put a damaged or missing attachment back from the raw source kept with its message.

Why this exists: attachments of synced mail are written without fsync (see ``store.blobs``), so an OS crash can
leave one short or empty. Its message's raw source is stored in the database, so the bytes are not lost: this
finds a message that references the blob, lets the caller extract the attachments from the raw source (the
store does not parse MIME; the mail channel does) and writes the one whose SHA-256 matches, durably this time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable

from inbox_app.store.blobs import BlobStore
from inbox_app.store.models import Attachment, MessageSource

log = logging.getLogger("inbox_app.store")

Extract = Callable[[bytes], Iterable[bytes]]


def restore_blob(blobs: BlobStore, sha: str, extract: Extract) -> bool:
    """Rewrite blob ``sha`` from a raw source that contains it; False when no stored source has those bytes."""
    message_ids = [
        row.message_id for row in Attachment.select(Attachment.message).where(Attachment.sha256 == sha)
    ]
    for source in MessageSource.select().where(MessageSource.message.in_(message_ids)):
        try:
            candidates = list(extract(bytes(source.raw)))
        except Exception:  # a source that no longer parses: try the next message holding the same bytes
            log.exception("could not extract attachments of message %s", source.message_id)
            continue
        for data in candidates:
            if hashlib.sha256(data).hexdigest() == sha:
                blobs.path(sha).unlink(missing_ok=True)  # a damaged file of the right size would be kept
                blobs.put(data)
                log.info("restored attachment blob %s from message %s", sha, source.message_id)
                return True
    return False


__all__ = ["restore_blob"]
