"""Message-IDs for replies: fixed when a reply is queued, so a crash mid-send can be recognised later."""

from __future__ import annotations

import uuid


def new_message_id(domain: str) -> str:
    """A globally unique ``<random@domain>`` (no host name, pid or time leaked).

    ``domain`` may be a bare domain or an address ("shop@example.com" → "example.com"); IDN domains are
    written in their ASCII (punycode) form as RFC 5322 requires.
    """
    host = domain.strip().strip("<>").rpartition("@")[2].strip(".").lower() or "localhost"
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    return f"<{uuid.uuid4().hex}@{host}>"
