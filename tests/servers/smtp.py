"""A throwaway SMTP server (aiosmtpd) for integration tests of sending.

It runs on 127.0.0.1 at a random free port in a background thread (``aiosmtpd.controller.Controller``), keeps
every accepted message in ``messages`` and in a Maildir, and can misbehave on purpose:

- ``fail_with = 451`` (or 421, 550, ...): answer that code instead of accepting, at the stage ``fail_at``
  ("mail", "rcpt" or "data"); 421 also closes the connection, as real servers do;
- ``drop_after_data = True``: store the message, then close the connection without answering, the "server
  accepted it but we never heard" case that makes a naive outbox send twice.

AUTH PLAIN/LOGIN is offered over plain text (loopback only) when ``user``/``password`` are set; MAIL FROM is
then refused until the client has logged in. With ``tls`` (``tests.servers.tls``) the server speaks TLS:
STARTTLS, required before anything else (port 587 style), or from the first byte with ``implicit_tls``
(port 465 style); each received message records whether it came over TLS.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers import free_port
from tests.servers.tls import TlsFiles


class _ExpectedWarnings(logging.Filter):
    """Drops aiosmtpd WARNING logs that tests provoke on purpose (the suite treats WARNING logs as failures).

    - aiosmtpd 1.4 warns about its own use of ``Session.login_data`` on every successful AUTH;
    - "unrecognised" commands when a test sends a TLS handshake to the plain-text port, only while a server
      with ``expect_garbage = True`` is running.
    """

    expect_garbage = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith("Session.login_data is deprecated"):
            return False
        return not (self.expect_garbage and "unrecognised" in message)


_aiosmtpd_log = logging.getLogger("mail.log")
_FILTER = (
    next((f for f in _aiosmtpd_log.filters if isinstance(f, _ExpectedWarnings)), None) or _ExpectedWarnings()
)
_aiosmtpd_log.addFilter(_FILTER)


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    tls: bool = False  # the session was encrypted (STARTTLS or implicit TLS)


_REPLIES = {
    421: "421 4.3.2 Service shutting down, try again later",
    450: "450 4.2.1 Mailbox busy, try again later",
    451: "451 4.3.0 Temporary local problem, try again later",
    452: "452 4.3.1 Insufficient system storage",
    550: "550 5.7.1 Message rejected",
    552: "552 5.3.4 Message too big",
    554: "554 5.7.1 Transaction failed",
}


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self._owner = owner

    async def _maybe_fail(self, server: SMTP, stage: str) -> str | None:
        code = self._owner.fail_with
        if code is None or self._owner.fail_at != stage:
            return None
        reply = _REPLIES.get(code, f"{code} Failure requested by the test")
        if code == 421:
            await _reply_and_hang_up(server, reply)
        return reply

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self._owner.user is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        failure = await self._maybe_fail(server, "mail")
        if failure:
            return failure
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        failure = await self._maybe_fail(server, "rcpt")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        failure = await self._maybe_fail(server, "data")
        if failure:
            return failure
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        transport = server.transport
        encrypted = transport is not None and transport.get_extra_info("ssl_object") is not None
        self._owner._store(
            ReceivedMessage(envelope.mail_from or "", tuple(envelope.rcpt_tos), raw, tls=encrypted)
        )
        if self._owner.drop_after_data:
            await _reply_and_hang_up(server, None)
        return "250 2.0.0 Message accepted"


async def _reply_and_hang_up(server: SMTP, reply: str | None) -> None:
    """Optionally answer, close the connection, and wait for aiosmtpd to cancel this handler."""
    transport = server.transport
    if not isinstance(transport, asyncio.WriteTransport):
        return
    if reply:
        transport.write(reply.encode() + b"\r\n")
    transport.close()  # flushes what was written, then closes
    await asyncio.Event().wait()  # connection_lost() cancels the session task


class SmtpServer:
    """aiosmtpd in a thread (see the module docstring); ``with SmtpServer() as server:`` runs it."""

    host = "127.0.0.1"

    def __init__(
        self,
        user: str | None = None,
        password: str | None = None,
        *,
        tls: TlsFiles | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.user = user
        self.password = password
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.port = 0
        self.messages: list[ReceivedMessage] = []
        self.drop_after_data = False
        self.fail_with: int | None = None
        self.fail_at: Literal["mail", "rcpt", "data"] = "data"
        self.logins: list[str] = []
        self.expect_garbage = False  # set before start(): a test will send non-SMTP bytes on purpose
        self._lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="inbox-smtp-"))
        self.maildir_path = self._dir / "Maildir"
        self.maildir = mailbox.Maildir(self.maildir_path, create=True)
        self._controller: Controller | None = None

    def start(self) -> None:
        """Start (again): on a new free port the first time, on the same one after ``stop()``, as a restarted
        server would."""
        if not self.port:
            self.port = free_port()
        tls: dict[str, Any] = {}
        if self.tls is not None and self.implicit_tls:
            tls = {"ssl_context": self.tls.server_context()}
        elif self.tls is not None:
            tls = {"tls_context": self.tls.server_context(), "require_starttls": True}
        self._controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            authenticator=self._authenticate if self.user is not None else None,
            # AUTH only after STARTTLS on a STARTTLS server; aiosmtpd cannot tell an implicit TLS session
            # from plain text, so there it is always offered (the whole session is encrypted anyway).
            auth_require_tls=self.tls is not None and not self.implicit_tls,
            ready_timeout=10,
            **tls,
        )
        self._controller.start()
        if self.expect_garbage:
            _FILTER.expect_garbage += 1

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
            if self.expect_garbage:
                _FILTER.expect_garbage -= 1

    def close(self) -> None:
        self.stop()
        self.maildir.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if self.user is None or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login.decode() == self.user and auth_data.password.decode() == self.password
        if ok:
            with self._lock:
                self.logins.append(f"{mechanism}:{self.user}")
        return AuthResult(success=ok, handled=False)

    def _store(self, message: ReceivedMessage) -> None:
        with self._lock:
            self.maildir.add(message.raw)
            self.messages.append(message)
