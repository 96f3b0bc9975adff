"""A TCP proxy for fault tests: forwards 127.0.0.1:<port> to a real server and breaks the link on request.

It sits between the app and Dovecot or aiosmtpd and reads the client's side line by line, so a fault can be
aimed at a protocol step rather than at a byte count. One armed :class:`Fault` fires once, on the first
client line that contains its ``marker`` (an IMAP command such as ``b" UID FETCH "``, an SMTP command such as
``b"MAIL FROM"``, or ``b".\\r\\n"``, the line that ends a mail's content), then the proxy passes traffic through
again. What happens then (``mode``):

- ``"before"``: the line is not forwarded; both connections are closed. The server never saw the command.
- ``"after"``: the line is forwarded, the server's answer to it is swallowed and both connections are closed.
  The server did the work (stored the mail, set the flag, logged in) and the client never heard about it:
  the case that makes a careless client do things twice. For IMAP the answer awaited is the tagged one, so
  an APPEND's literal goes through before the cut.
- ``"pass"``: only ``action`` runs; the line goes on as usual.
- ``"bytes"``: ``after_bytes`` more bytes of the client's stream are forwarded from the marker on, then the
  connections are closed (a mail cut off in the middle of its content).

``action`` (optional) runs in the proxy's thread when the fault fires, before the cut: restart the server,
fill the disk, SIGKILL the app. ``log`` keeps every client command line (for choosing the steps to break).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal


@dataclass
class Fault:
    marker: bytes
    mode: Literal["before", "after", "bytes", "pass"] = "after"
    after_bytes: int = 0
    action: Callable[[], None] | None = None
    triggered: threading.Event = field(default_factory=threading.Event)  # its marker was seen
    fired: threading.Event = field(default_factory=threading.Event)  # and the action and the cut are done

    def wait(self, timeout: float = 30) -> bool:
        """Wait until a triggered fault has completely fired (an action such as a restart takes a while);
        True when it fired, False when its marker never came."""
        return self.triggered.is_set() and self.fired.wait(timeout)


class FaultProxy:
    host = "127.0.0.1"

    def __init__(self, target_port: int, *, imap: bool, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.imap = imap
        self._listener = socket.create_server((self.host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._fault: Fault | None = None
        self._lock = threading.Lock()
        self.log: list[bytes] = []
        self.faults_fired = 0
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ control
    def arm(self, fault: Fault) -> Fault:
        with self._lock:
            self._fault = fault
        return fault

    def disarm(self) -> None:
        with self._lock:
            self._fault = None

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        for pair in list(self._pairs):
            _close(*pair)
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ plumbing
    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _addr = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()  # the server is down: the client sees the connection refused/closed
                continue
            upstream.settimeout(None)
            pair = (client, upstream)
            self._pairs.append(pair)
            state = _Link()
            threading.Thread(
                target=self._client_to_server, args=(client, upstream, state), daemon=True
            ).start()
            threading.Thread(
                target=self._server_to_client, args=(upstream, client, state), daemon=True
            ).start()

    def _take_fault(self, line: bytes) -> Fault | None:
        with self._lock:
            fault = self._fault
            # A marker that is a whole line (SMTP's ".\r\n", the end of a mail) must be the whole line.
            whole = fault is not None and fault.marker.endswith(b"\r\n")
            if fault is None or (line != fault.marker if whole else fault.marker not in line):
                return None
            self._fault = None
            self.faults_fired += 1
            fault.triggered.set()
            return fault

    def _client_to_server(self, client: socket.socket, upstream: socket.socket, state: _Link) -> None:
        pending = b""
        try:
            while chunk := client.recv(65536):
                pending += chunk
                while True:
                    cut = pending.find(b"\r\n")
                    if cut < 0:
                        break
                    line, pending = pending[: cut + 2], pending[cut + 2 :]
                    if len(line) < 400:
                        self.log.append(line)
                    fault = self._take_fault(line) if not state.cutting else None
                    if fault is None:
                        upstream.sendall(line)
                        continue
                    if fault.action is not None:
                        fault.action()
                    if fault.mode == "pass":  # only the action: the line goes on as usual
                        fault.fired.set()
                        upstream.sendall(line)
                        continue
                    if fault.mode == "before":
                        fault.fired.set()
                        _close(client, upstream)
                        return
                    if fault.mode == "bytes":
                        marker_at = line.find(fault.marker)
                        upstream.sendall(line[: marker_at + fault.after_bytes])
                        fault.fired.set()
                        _close(client, upstream)
                        return
                    # IMAP: wait for the command's tagged answer; SMTP: any answer is the one.
                    state.swallow_until = line.split(b" ", 1)[0] + b" " if self.imap else b""
                    state.cutting = True
                    state.fault = fault
                    upstream.sendall(line)
                if state.cutting and pending:
                    upstream.sendall(pending)  # an APPEND literal after the command line
                    pending = b""
        except OSError:
            pass
        finally:
            if not state.cutting:
                _close(client, upstream)

    def _server_to_client(self, upstream: socket.socket, client: socket.socket, state: _Link) -> None:
        try:
            seen = b""
            while chunk := upstream.recv(65536):
                if state.cutting:
                    seen += chunk
                    # SMTP: any reply ends it; IMAP: the tagged reply (untagged and "+" lines pass).
                    done = not state.swallow_until or any(
                        line.startswith(state.swallow_until) for line in seen.split(b"\r\n")
                    )
                    if not done:
                        passing = seen[: seen.rfind(b"\r\n") + 2] if b"\r\n" in seen else b""
                        if passing:
                            client.sendall(passing)
                            seen = seen[len(passing) :]
                        continue
                    if state.fault is not None:
                        state.fault.fired.set()
                    break
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(client, upstream)


@dataclass
class _Link:
    cutting: bool = False
    swallow_until: bytes = b""
    fault: Fault | None = None


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
