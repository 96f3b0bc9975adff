"""Mail errors the user can act on, kept apart from bugs.

Everything raised from this hierarchy is an *environment* problem (no network, wrong password, server
said no): the UI shows ``user_message`` (already translated) and uses ``step`` to point at the setting to
fix ("dns": the server name, "connect": host/port/firewall, "tls": the security setting or certificate,
"login": user name or password, "folder": a missing folder, "send": the SMTP server refused or failed).
Any other exception coming out of the mail channel is a bug and should be logged loudly, not shown as
"check your password".

``detail`` keeps the technical cause (server reply, OS error) in English for logs and support; it never
contains the password.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from inbox_app.i18n import _

Step = Literal["dns", "connect", "tls", "login", "folder", "send"]


class MailError(Exception):
    """Base of all environment errors of the mail channel."""

    default_step: ClassVar[Step] = "connect"

    def __init__(self, user_message: str, *, step: Step | None = None, detail: str = "") -> None:
        super().__init__(f"{user_message} [{detail}]" if detail else user_message)
        self.user_message = user_message
        self.step: Step = step or self.default_step
        self.detail = detail


class ConnectionFailed(MailError):
    """The server name did not resolve, nothing answered, or the connection broke."""

    default_step = "connect"


class Offline(ConnectionFailed):
    """No network at all (name resolution temporarily impossible, network unreachable): retry later."""

    default_step = "connect"


class TlsFailed(MailError):
    """The encrypted connection could not be set up (handshake, certificate, or STARTTLS not offered)."""

    default_step = "tls"


class LoginFailed(MailError):
    """The server refused the user name or password (or offers no way to log in)."""

    default_step = "login"


class FolderMissing(MailError):
    """A folder the account needs does not exist on the server."""

    default_step = "folder"


class InsecureConnectionRefused(MailError):
    """An unencrypted connection to a host outside this computer was asked for and refused."""

    default_step = "connect"


class SendFailed(MailError):
    """The SMTP server did not accept the message.

    ``temporary`` tells the outbox whether retrying later may help (4xx, dropped connection, timeout) or
    whether the message must go back to the user (5xx). ``code`` is the SMTP reply code when there was one.
    ``maybe_delivered`` is True when the whole message had been transmitted (the connection broke while
    waiting for the final answer) or some recipients accepted it: sending again may deliver it twice.
    """

    default_step = "send"

    def __init__(
        self,
        user_message: str,
        *,
        temporary: bool,
        code: int | None = None,
        maybe_delivered: bool = False,
        step: Step | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(user_message, step=step, detail=detail)
        self.temporary = temporary
        self.code = code
        self.maybe_delivered = maybe_delivered


def server_not_found(host: str, detail: str = "") -> ConnectionFailed:
    return ConnectionFailed(
        _("The server name “{host}” could not be found. Check the server name.").format(host=host),
        step="dns",
        detail=detail,
    )


def offline(host: str, detail: str = "", *, step: Step = "connect") -> Offline:
    return Offline(
        _("No network connection to reach {host}. It will be tried again when the network is back.").format(
            host=host
        ),
        step=step,
        detail=detail,
    )


def cannot_connect(host: str, port: int, detail: str = "") -> ConnectionFailed:
    return ConnectionFailed(
        _("Could not connect to {host} on port {port}. Check the server name and port.").format(
            host=host, port=port
        ),
        step="connect",
        detail=detail,
    )


def connection_lost(host: str, detail: str = "") -> ConnectionFailed:
    return ConnectionFailed(
        _("The connection to {host} was lost. It will be tried again.").format(host=host),
        step="connect",
        detail=detail,
    )


def tls_failed(host: str, detail: str = "") -> TlsFailed:
    return TlsFailed(
        _(
            "A secure connection to {host} could not be established. Check the security setting "
            "(SSL/TLS or STARTTLS) and the port."
        ).format(host=host),
        detail=detail,
    )


def certificate_invalid(host: str, detail: str = "") -> TlsFailed:
    return TlsFailed(
        _("The certificate of {host} is not valid or not trusted.").format(host=host),
        detail=detail,
    )


def starttls_unavailable(host: str) -> TlsFailed:
    return TlsFailed(
        _("{host} does not offer STARTTLS. Choose SSL/TLS or another port.").format(host=host),
        detail="STARTTLS not in capabilities",
    )


def login_refused(host: str, detail: str = "") -> LoginFailed:
    return LoginFailed(
        _("{host} refused the user name or password.").format(host=host),
        detail=detail,
    )


def folder_missing(folder: str, detail: str = "") -> FolderMissing:
    return FolderMissing(
        _("The folder “{folder}” does not exist on the server.").format(folder=folder),
        detail=detail,
    )
