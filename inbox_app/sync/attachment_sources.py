"""The decoded attachment bytes of a stored raw source, for writing attachment files on demand.

Why here: the store keeps raw sources but does not parse MIME (``store.blob_repair`` takes the parser as a
callable), and the service layer does not reach into channels; the sync layer is where the two meet.
"""

from __future__ import annotations

from inbox_app.channels.mail.mime import attachment_payloads

__all__ = ["attachment_payloads"]
