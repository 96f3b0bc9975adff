"""Throwaway real servers (Dovecot IMAP, aiosmtpd SMTP) for integration tests and benchmarks.

They listen on 127.0.0.1 at a random free port and keep all their state in a temporary folder, so tests never
touch a real mailbox and never depend on a mock of the protocol they exercise.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the small race with other programs is acceptable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
