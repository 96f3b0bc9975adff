"""SMTP sending of the mail channel, over **aiosmtplib** (async, on the app's event loop).

The outbox needs to know three things after a failed send, so errors are mapped precisely:

- could not even talk to the server: ``ConnectionFailed``/``Offline`` (step "dns"/"connect"), ``TlsFailed``,
  ``LoginFailed`` (the user must fix a setting, or wait for the network);
- the server answered no: ``SendFailed(temporary=True)`` for 4xx, ``temporary=False`` for 5xx;
- the connection broke or timed out: ``SendFailed(temporary=True)``, and ``maybe_delivered=True`` when it
  broke after the whole message was transmitted (the server may have accepted it; a retry may deliver it
  twice).

The envelope is sent step by step (MAIL, RCPT, DATA) rather than with ``sendmail()`` so the last case can be
told apart from a failure before the message went out, and so the outbox can record, durably, "about to
transmit" (``before_data``) and "the server accepted it" (``on_accepted``, called on the 250 reply to DATA,
before QUIT): after a crash those two records tell a mail that surely went out from one that may have.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiosmtplib

from inbox_app.channels.mail import errors
from inbox_app.channels.mail.errors import MailError, SendFailed
from inbox_app.channels.mail.security import Security, check_security_allowed, tls_context
from inbox_app.i18n import _

log = logging.getLogger("inbox_app.channels")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: Security
    user: str  # empty: send without logging in (local relays)
    password: str = field(repr=False)
    timeout: float = 30


Hook = Callable[[], None]


async def send_raw(
    settings: SmtpSettings,
    raw: bytes,
    mail_from: str,
    rcpt_to: Sequence[str],
    *,
    before_data: Hook | None = None,
    on_accepted: Hook | None = None,
) -> None:
    """Deliver ``raw`` (a complete RFC 5322 message, CRLF line ends) to ``rcpt_to``; raises a MailError.

    ``before_data`` runs once the envelope is accepted, just before DATA; ``on_accepted`` right after the
    server's 250 to DATA (see the module docstring).
    """
    if not rcpt_to:
        raise ValueError("no recipients")
    client = await _open(settings)
    try:
        await _transmit(client, settings, raw, mail_from, list(rcpt_to), before_data, on_accepted)
        try:
            await client.quit()
        except aiosmtplib.SMTPException as exc:  # already delivered: a rude goodbye does not matter
            log.debug("SMTP QUIT failed after delivery: %s", exc)
    finally:
        client.close()


async def test_smtp(settings: SmtpSettings) -> None:
    """Connect, secure and log in without sending anything; raises a MailError naming the failing step."""
    client = await _open(settings)
    try:
        try:
            await client.noop()
            await client.quit()
        except aiosmtplib.SMTPException as exc:
            raise errors.connection_lost(settings.host, str(exc)) from exc
    finally:
        client.close()


test_smtp.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite the name


async def _open(settings: SmtpSettings) -> aiosmtplib.SMTP:
    """Resolve, connect, secure and log in."""
    s = settings
    check_security_allowed(s.host, s.security, sends_password=bool(s.user))
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.getaddrinfo(s.host, s.port, type=socket.SOCK_STREAM), s.timeout)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise errors.offline(s.host, str(exc), step="dns") from exc
        raise errors.server_not_found(s.host, str(exc)) from exc
    except TimeoutError as exc:
        raise errors.offline(s.host, "DNS timeout", step="dns") from exc

    use_tls = s.security is Security.TLS
    client = aiosmtplib.SMTP(
        hostname=s.host,
        port=s.port,
        timeout=s.timeout,
        use_tls=use_tls,
        start_tls=s.security is Security.STARTTLS,  # True: required; False: never (NONE is loopback only)
        tls_context=tls_context() if s.security is not Security.NONE else None,
    )
    try:
        try:
            await client.connect()
        except aiosmtplib.SMTPConnectResponseError as exc:  # greeting was not 220
            raise _response_error(s.host, exc.code, exc.message, step="connect") from exc
        except aiosmtplib.SMTPConnectError as exc:
            raise _connect_error(s, exc) from exc
        except aiosmtplib.SMTPNotSupported as exc:
            raise errors.starttls_unavailable(s.host) from exc
        except aiosmtplib.SMTPResponseException as exc:  # STARTTLS refused
            raise errors.tls_failed(s.host, f"{exc.code} {exc.message}") from exc
        except (ssl.SSLError, aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            raise _connect_error(s, exc) from exc
        except aiosmtplib.SMTPException as exc:
            if "STARTTLS" in str(exc).upper():
                raise errors.starttls_unavailable(s.host) from exc
            raise errors.cannot_connect(s.host, s.port, str(exc)) from exc
        if s.user:
            await _login(client, s)
    except BaseException:
        client.close()
        raise
    return client


async def _login(client: aiosmtplib.SMTP, s: SmtpSettings) -> None:
    try:
        await client.login(s.user, s.password)
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise errors.login_refused(s.host, f"{exc.code} {exc.message}") from exc
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
        raise errors.connection_lost(s.host, str(exc)) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise _response_error(s.host, exc.code, exc.message, step="login") from exc
    except aiosmtplib.SMTPException as exc:  # no AUTH offered, no common mechanism
        raise errors.LoginFailed(
            _("{host} offers no way to log in with a password.").format(host=s.host), detail=str(exc)
        ) from exc


async def _transmit(
    client: aiosmtplib.SMTP,
    s: SmtpSettings,
    raw: bytes,
    mail_from: str,
    rcpt_to: list[str],
    before_data: Hook | None,
    on_accepted: Hook | None,
) -> None:
    options: list[str] = []
    if client.supports_extension("size"):
        options.append(f"SIZE={len(raw)}")
    if not raw.isascii() and client.supports_extension("8bitmime"):
        options.append("BODY=8BITMIME")
    encoding = "ascii"
    if not (mail_from.isascii() and all(r.isascii() for r in rcpt_to)):
        if not client.supports_extension("smtputf8"):
            raise SendFailed(
                _("The mail server cannot send to addresses with non-Latin characters."),
                temporary=False,
                detail="SMTPUTF8 not offered",
            )
        options.append("SMTPUTF8")
        encoding = "utf-8"

    stage = "envelope"
    refused: dict[str, tuple[int, str]] = {}
    try:
        await client.mail(mail_from, options=options, encoding=encoding)
        for rcpt in rcpt_to:
            try:
                await client.rcpt(rcpt, encoding=encoding)
            except aiosmtplib.SMTPRecipientRefused as exc:
                refused[rcpt] = (exc.code, exc.message)
        if len(refused) == len(rcpt_to):
            codes = [code for code, _msg in refused.values()]
            raise SendFailed(
                _("The mail server refused the recipient address.")
                if len(rcpt_to) == 1
                else _("The mail server refused all recipient addresses."),
                temporary=all(400 <= c < 500 for c in codes),
                code=codes[0],
                detail="; ".join(f"{r}: {c} {m}" for r, (c, m) in refused.items()),
            )
        if before_data is not None:
            before_data()
        stage = "data"
        await client.data(raw)
        if on_accepted is not None:
            on_accepted()
    except MailError:
        raise
    except aiosmtplib.SMTPResponseException as exc:
        raise _response_error(s.host, exc.code, exc.message, step="send") from exc
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
        raise SendFailed(
            _("The connection to {host} broke while sending. It will be tried again.").format(host=s.host),
            temporary=True,
            maybe_delivered=stage == "data",
            detail=f"{type(exc).__name__} during {stage}: {exc}",
        ) from exc
    if refused:
        raise SendFailed(
            _("The message was not delivered to: {addresses}").format(addresses=", ".join(refused)),
            temporary=False,
            code=next(iter(refused.values()))[0],
            maybe_delivered=True,
            detail="; ".join(f"{r}: {c} {m}" for r, (c, m) in refused.items()),
        )


def _response_error(host: str, code: int, message: str, *, step: errors.Step) -> SendFailed:
    temporary = 400 <= code < 500
    if temporary:
        text = _("The mail server {host} is busy or has a temporary problem. It will be tried again.")
    else:
        text = _("The mail server {host} refused the message.")
    return SendFailed(
        text.format(host=host), temporary=temporary, code=code, step=step, detail=f"{code} {message}"
    )


def _connect_error(s: SmtpSettings, exc: BaseException) -> MailError:
    """Map a failure while connecting, looking through aiosmtplib's wrapping at the OS/TLS cause."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return errors.certificate_invalid(s.host, str(cause))
        if isinstance(cause, ssl.SSLError):
            return errors.tls_failed(s.host, str(cause))
        if isinstance(cause, socket.gaierror):
            return errors.server_not_found(s.host, str(cause))
        if isinstance(cause, OSError) and cause.errno in (
            errno.ENETUNREACH,
            errno.ENETDOWN,
            errno.EHOSTUNREACH,
        ):
            return errors.offline(s.host, str(cause))
        cause = cause.__cause__
    if s.security is Security.TLS and isinstance(exc, aiosmtplib.SMTPServerDisconnected | TimeoutError):
        return errors.tls_failed(s.host, str(exc))
    return errors.cannot_connect(s.host, s.port, str(exc))
