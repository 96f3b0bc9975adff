"""What every marketplace sandbox shares: the fault a test injects, the quiet threaded HTTP server and the
life cycle (start on a free loopback port, stop, ``with``), so each vendor's module holds only its API.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime as http_date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self
from urllib.parse import parse_qs, urlsplit

FaultKind = Literal["status", "slow", "drop", "malformed"]


def iso(value: datetime) -> str:
    """The vendors' date-time format (Allegro, eBay, Mirakl): UTC, milliseconds, with a "Z"."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_milliseconds(value: datetime) -> datetime:
    """Dates are kept at the precision they are shown with (milliseconds), so seek paging compares equal."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def parse_iso(value: str) -> datetime:
    """An ISO date-time from a request; one without a zone is UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Fault:
    """What goes wrong with the next ``times`` requests whose method and path match.

    ``after_processing``: the request is carried out first, then the answer fails, the way a crash or a lost
    connection after the vendor accepted a reply looks to the client.
    """

    kind: FaultKind
    status: int = 503
    retry_after: str | None = None
    delay: float = 5.0
    method: str | None = None
    path_prefix: str | None = None
    times: int = 1
    after_processing: bool = False
    skip: int = 0  # let this many matching requests through first (e.g. the collision check's thread fetch)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_prefix is None or path.startswith(self.path_prefix)
        )


class QuietServer(ThreadingHTTPServer):
    """A threaded server that keeps quiet about clients hanging up early (expected in the fault tests)."""

    daemon_threads = True
    allow_reuse_address = True
    sandbox: Any

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


class SandboxHandler(BaseHTTPRequestHandler):
    """What every sandbox's request handler does alike: HTTP/1.1 keep-alive, no log lines on stderr, the
    sandbox's own clock in the Date header (tests move it), and each method handed to ``_dispatch``."""

    protocol_version = "HTTP/1.1"
    server: QuietServer

    def log_message(self, format: str, *args: Any) -> None:  # BaseHTTPRequestHandler's signature
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        return http_date(self.server.sandbox.now(), usegmt=True)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        raise NotImplementedError

    def _read_request(self) -> tuple[str, dict[str, list[str]], bytes]:
        """The request's path, its query (blank values kept) and its body (read whole, by Content-Length)."""
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length else b""
        return split.path, parse_qs(split.query, keep_blank_values=True), payload

    def _drop_halfway(
        self, body: bytes, content_type: str = "application/json", claimed_extra: int = 0
    ) -> None:
        """The "drop" fault: a 200 whose headers promise the whole ``body`` (and ``claimed_extra`` bytes more),
        then half of it and the connection cut, as when the network fails mid-answer."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) + claimed_extra))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(2)


class LoopbackSandbox:
    """Start/stop on 127.0.0.1 and the fault list; subclasses call ``_init_sandbox()`` and define ``start``."""

    def _init_sandbox(self) -> None:
        self.faults: list[Fault] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: QuietServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0  # 0: any free port; the one it had after stop_serving() (clients keep their address)

    def _serve(
        self,
        server_class: type[QuietServer],
        handler: type[BaseHTTPRequestHandler],
        name: str,
        wrap: Any = None,
    ) -> Self:
        server = server_class(("127.0.0.1", self._port), handler)
        server.sandbox = self
        if wrap is not None:
            server.socket = wrap(server.socket)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=name, daemon=True)
        self._thread.start()
        return self

    def start(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def stop_serving(self) -> None:
        """Stop answering (connections are refused, as when the vendor is down), keeping every thread and
        message; :meth:`serve_again` comes back on the same address."""
        self._port = self.address[1]
        self.close()
        self._stopping.clear()

    def serve_again(self) -> Self:
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "sandbox not started"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def base_url(self) -> str:
        """Where a client reaches the sandbox (plain HTTP on loopback; a TLS sandbox says https)."""
        host, port = self.address
        return f"http://{host}:{port}"

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.matches(method, path):
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.times -= 1
                    return fault
        return None


__all__ = [
    "Fault",
    "FaultKind",
    "LoopbackSandbox",
    "QuietServer",
    "SandboxHandler",
    "iso",
    "parse_iso",
    "to_milliseconds",
]
