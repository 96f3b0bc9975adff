"""Write attachment files from the raw source kept with their message: on first use, and after damage.

Why: attachments of synced mail are not written while syncing (``sync.mail_parsing``): the raw source holding
them is stored with the message anyway, so a first sync stores each attachment once and skips a file per
attachment. The attachment row keeps the SHA-256 of the bytes; the file appears under that name the first
time it is needed (an inline image shown, "Save as…", ``inbox-app show``). The same path rebuilds a file an
OS crash left short or empty. The store does not parse MIME (the mail channel does): callers pass ``extract``,
which returns the decoded attachments of one raw mail.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable

from inbox_app.store.blobs import BlobStore
from inbox_app.store.models import Attachment, MessageSource

log = logging.getLogger("inbox_app.store")

Extract = Callable[[bytes], Iterable[bytes]]


def materialize(
    blobs: BlobStore, shas: Iterable[str], extract: Extract, *, rewrite: bool = False
) -> set[str]:
    """Make sure the files of attachments ``shas`` exist; returns the ones that do afterwards.

    Files already on disk are left alone unless ``rewrite`` (a damaged file is only replaced once bytes
    with the right hash were found). Each raw source is parsed once, however many of its attachments are
    wanted. Files are written durably: they are what the user opens and sends on.
    """
    wanted = set(shas)
    missing = set(wanted) if rewrite else {sha for sha in wanted if not blobs.exists(sha)}
    if not missing:
        return wanted
    message_ids = sorted(
        {
            row.message_id
            for row in Attachment.select(Attachment.message).where(Attachment.sha256.in_(sorted(missing)))
        }
    )
    for source in MessageSource.select().where(MessageSource.message.in_(message_ids)):
        if not missing:
            break
        try:
            candidates = list(extract(bytes(source.raw)))
        except Exception:  # a source that no longer parses: try the next message holding the same bytes
            log.exception("could not extract attachments of message %s", source.message_id)
            continue
        for data in candidates:
            sha = hashlib.sha256(data).hexdigest()
            if sha in missing:
                if rewrite:
                    blobs.path(sha).unlink(missing_ok=True)  # a damaged file of the right size would be kept
                blobs.put(data)
                missing.discard(sha)
    return wanted - missing


def restore_blob(blobs: BlobStore, sha: str, extract: Extract) -> bool:
    """Rewrite blob ``sha`` from a raw source that contains it; False when no stored source has those bytes."""
    restored = sha in materialize(blobs, [sha], extract, rewrite=True)
    if restored:
        log.info("restored attachment blob %s from its message's raw source", sha)
    return restored


__all__ = ["materialize", "restore_blob"]
