"""Connection security for IMAP and SMTP.

Passwords must never cross a network in clear text, so ``Security.NONE`` is allowed only for servers on
this computer (loopback: tests, local bridges such as Proton Bridge or DavMail). TLS always verifies the
certificate and host name against the system's trust store; there is deliberately no "accept any
certificate" switch.
"""

from __future__ import annotations

import ssl
from enum import StrEnum

from inbox_app.channels.mail.errors import InsecureConnectionRefused
from inbox_app.domain.account_form import is_local_network_host, is_loopback_host
from inbox_app.i18n import _

__all__ = ["InsecureConnectionRefused", "Security", "check_security_allowed", "is_loopback", "tls_context"]


class Security(StrEnum):
    TLS = "tls"  # encrypted from the first byte (IMAPS 993, SMTPS 465)
    STARTTLS = "starttls"  # plain connect, then upgrade; refused if the server does not offer it (143, 587)
    NONE = "none"  # loopback only


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost" (one rule shared with the account form)."""
    return is_loopback_host(host)


def check_security_allowed(host: str, security: Security, *, sends_password: bool = True) -> None:
    """Raise ``InsecureConnectionRefused`` when an unencrypted connection would leave this computer.

    A connection that sends no password (SMTP to a relay without authentication) may also go unencrypted to
    a host of the local network, as mail clients allow for a shop's relay.
    """
    if not sends_password and is_local_network_host(host):
        return
    if Security(security) is Security.NONE and not is_loopback(host):
        raise InsecureConnectionRefused(
            _(
                "Unencrypted connections are only allowed to this computer. "
                "Choose SSL/TLS or STARTTLS for {host}."
            ).format(host=host),
            detail="security=none for non-loopback host",
        )


def tls_context() -> ssl.SSLContext:
    """A verifying client context (system CAs, host name check, TLS 1.2 or newer)."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
