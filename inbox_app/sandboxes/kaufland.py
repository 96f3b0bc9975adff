"""A Kaufland Seller API v2 sandbox: the ticket endpoints over real HTTP on 127.0.0.1, with switchable faults.

It follows the vendor's documented contract (sellerapi.kaufland.com; the OpenAPI-generated SDKs), not our
client, so a client bug shows up as a failed test:

- Every request is signed: ``Shop-Client-Key``, ``Shop-Timestamp`` (Unix seconds) and ``Shop-Signature`` =
  hex HMAC-SHA256(secret, ``METHOD\\nFULL_URL\\nBODY\\nTIMESTAMP``), where FULL_URL is rebuilt from the
  request's ``Host`` and target exactly as received. A missing, unknown or wrong key or signature, or a
  timestamp further than :attr:`KauflandSandbox.max_skew` from the server's clock → 401 with the documented
  error body ``{"message": …, "errors": [...]}``.
- Envelope ``{"data": …}``; lists ``{"data": [...], "pagination": {"offset", "limit", "total"}}``.
  ``limit`` default 30, at most 100 (more → 400); :attr:`KauflandSandbox.short_pages` makes pages shorter
  than asked, as a client must expect.
- ``GET /v2/tickets`` (``ts_updated_from_iso`` at or after, ``sort`` ``ts_updated_iso:desc`` or
  ``ts_created_iso:desc``, ``offset``, ``limit``, ``storefront``); ``GET /v2/tickets/{id}`` with
  ``embedded=messages,order_units,buyer,files``; ``GET /v2/tickets/messages`` (``ts_created_from_iso``,
  ``sort`` ``ts_created_iso:asc|desc``); ``POST /v2/tickets/{id}/messages`` ``{text, interim_notice,
  ticket_message_files[]{filename, mime_type, data base64}}`` → 201 with an empty body (the API returns no
  message id); ``PATCH /v2/tickets/{id}/close`` → 204; ``GET /v2/status/ping``; ``GET /v2/info/storefront``;
  ``GET /v2/files/{id}`` serves ticket files.
- Each accepted reply is recorded (files decoded) in :attr:`KauflandSandbox.replies` and appears in its ticket
  as a ``seller`` message.

Faults (:meth:`KauflandSandbox.inject`): an HTTP status (429 with ``Retry-After``, 5xx), a slow answer, a
connection dropped mid-body, malformed JSON; ``after_processing`` lets the work happen and loses the answer.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import unquote

from inbox_app.sandboxes.http_sandbox import Fault, LoopbackSandbox, QuietServer, SandboxHandler, parse_iso

__all__ = ["Fault", "KauflandSandbox", "ReceivedReply", "RecordedRequest", "SandboxTicket", "iso"]

Role = Literal["buyer", "seller", "system", "customer_service"]


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _s(value: datetime) -> datetime:
    return value.replace(microsecond=0)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived (rate checks)


@dataclass(frozen=True)
class ReceivedFile:
    filename: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class ReceivedReply:
    ticket_id: str
    content_type: str
    body: dict[str, Any]
    files: tuple[ReceivedFile, ...]
    message_id: int


@dataclass
class SandboxTicket:
    id: str
    open_reason: str
    topic: str
    status: str
    storefront: str
    id_buyer: int
    buyer_first: str
    buyer_last: str
    order_units: list[dict[str, Any]]
    ts_created: datetime
    ts_updated: datetime
    messages: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)


class _Server(QuietServer):
    sandbox: KauflandSandbox


class KauflandSandbox(LoopbackSandbox):
    """The sandbox's state and its HTTP server. Use as a context manager or call start()/close()."""

    def __init__(
        self,
        *,
        client_key: str = "ck-2f8a61c4d0e94b7a",
        secret_key: str = "sk-9b1d7e3c5a0f4e2d8c6b4a29f1e3d5c7",
        max_skew: timedelta = timedelta(minutes=15),
    ) -> None:
        self.client_key = client_key
        self.secret_key = secret_key
        self.max_skew = max_skew
        self.clock_offset = timedelta(0)
        self.files_on_cdn = False  # ticket file URIs point at another address that takes no credentials
        self.short_pages: int | None = None  # serve at most this many items per page, whatever was asked
        self.tickets: dict[str, SandboxTicket] = {}
        self.file_store: dict[str, tuple[str, str, bytes]] = {}
        self.replies: list[ReceivedReply] = []
        self.closed: list[str] = []
        self.requests: list[RecordedRequest] = []
        self._init_sandbox()
        self.odd_items: list[Any] = []  # sent as is at the end of the first ticket page
        self.reply_stored = threading.Event()
        self._seq = 1000

    # -- life cycle ------------------------------------------------------------------------------------

    def start(self) -> KauflandSandbox:
        return self._serve(_Server, _Handler, "kaufland-sandbox")

    @property
    def origin(self) -> str:
        assert self._server is not None, "sandbox not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        return self.origin + "/v2"

    # -- state helpers for tests -------------------------------------------------------------------------

    def now(self) -> datetime:
        return _s(datetime.now(UTC) + self.clock_offset)

    def _next(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def requests_to(self, path_prefix: str, method: str = "GET") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def add_ticket(
        self,
        *,
        open_reason: str = "product_not_delivered",
        topic: str = "delivery_delayed",
        order_id: str | None = "MPWMHD2",
        order_units: int = 1,
        buyer: tuple[str, str] = ("Jana", "Nováková"),
        storefront: str = "de",
        at: datetime | None = None,
        status: str = "opened",
    ) -> SandboxTicket:
        when = _s(at or self.now())
        with self._lock:
            number = self._next()
            units = [
                {
                    "id_order_unit": 400_000_000 + number * 10 + i,
                    "id_order": order_id,
                    "id_offer": f"OFF-{number}-{i}",
                    "status": "sent",
                    "price": 1999,
                }
                for i in range(order_units if order_id else 0)
            ]
            ticket = SandboxTicket(
                id=f"{number:x}a1b2c3d4e5f6",
                open_reason=open_reason,
                topic=topic,
                status=status,
                storefront=storefront,
                id_buyer=9_000_000 + number,
                buyer_first=buyer[0],
                buyer_last=buyer[1],
                order_units=units,
                ts_created=when,
                ts_updated=when,
            )
            self.tickets[ticket.id] = ticket
            return ticket

    def add_message(
        self, ticket_id: str, text: str, *, role: Role = "buyer", at: datetime | None = None, name: str = ""
    ) -> dict[str, Any]:
        with self._lock:
            ticket = self.tickets[ticket_id]
            when = _s(at or self.now())
            default = {
                "buyer": f"{ticket.buyer_first} {ticket.buyer_last}",
                "seller": "Mein Laden GmbH",
                "system": "Kaufland",
                "customer_service": "Kaufland Kundenservice",
            }[role]
            message = {
                "id_ticket_message": self._next(),
                "id_ticket": ticket.id,
                "author": {"role": role, "name": name or default},
                "text": text,
                "ts_created_iso": when,
                "interim_notice": False,
            }
            ticket.messages.append(message)
            ticket.ts_updated = max(ticket.ts_updated, when)
            return message

    def add_file(self, ticket_id: str, filename: str, data: bytes, mime_type: str, *, at: datetime) -> str:
        with self._lock:
            file_id = str(self._next())
            self.file_store[file_id] = (filename, mime_type, data)
            self.tickets[ticket_id].files.append(
                {
                    "filename": filename,
                    "ts_created_iso": _s(at),
                    "uri": f"{self.origin}/cdn/files/{file_id}"
                    if self.files_on_cdn
                    else f"{self.base_url}/files/{file_id}",
                }
            )
            return file_id

    def touch(self, ticket_id: str, *, status: str | None = None) -> None:
        """A change without a new message (e.g. the buyer closed it)."""
        with self._lock:
            ticket = self.tickets[ticket_id]
            if status:
                ticket.status = status
            ticket.ts_updated = max(ticket.ts_updated + timedelta(seconds=1), self.now())

    def generate(self, tickets: int, messages: int, *, start: datetime | None = None) -> list[str]:
        """``tickets`` tickets of ``messages`` alternating buyer/seller messages (2,000 × 5 for benchmarks)."""
        first = start or (self.now() - timedelta(days=20))
        reasons = ("product_not_delivered", "product_defect", "product_return", "product_not_as_described")
        ids: list[str] = []
        with self._lock:
            for t in range(tickets):
                base = first + timedelta(seconds=t * (messages + 1))
                ticket = self.add_ticket(
                    open_reason=reasons[t % len(reasons)],
                    order_id=f"MP{t:06d}",
                    buyer=(f"Buyer{t}", "Test"),
                    at=base,
                )
                for m in range(messages):
                    self.add_message(
                        ticket.id,
                        f"Message {m} of ticket {t}: where is my order?",
                        role="buyer" if m % 2 == 0 else "seller",
                        at=base + timedelta(seconds=m + 1),
                    )
                ids.append(ticket.id)
        return ids

    # -- rendering ------------------------------------------------------------------------------------

    def _render_message(self, message: dict[str, Any]) -> dict[str, Any]:
        return {**message, "ts_created_iso": iso(message["ts_created_iso"])}

    def render_ticket(self, ticket: SandboxTicket, embedded: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id_ticket": ticket.id,
            "ids_order_units": [u["id_order_unit"] for u in ticket.order_units],
            "id_buyer": ticket.id_buyer,
            "ts_created_iso": iso(ticket.ts_created),
            "ts_updated_iso": iso(ticket.ts_updated),
            "status": ticket.status,
            "open_reason": ticket.open_reason,
            "topic": ticket.topic,
            "is_seller_responsible": ticket.status == "opened",
            "fulfillment_type": "fulfilled_by_merchant",
            "storefront": ticket.storefront,
        }
        if "messages" in embedded:
            data["messages"] = [self._render_message(m) for m in ticket.messages]
        if "order_units" in embedded:
            data["order_units"] = ticket.order_units
        if "buyer" in embedded:
            data["buyer"] = {
                "id_buyer": ticket.id_buyer,
                "firstname": ticket.buyer_first,
                "lastname": ticket.buyer_last,
                "email": f"{ticket.id_buyer}@buyer.kaufland.example",
            }
        if "files" in embedded:
            data["files"] = [{**f, "ts_created_iso": iso(f["ts_created_iso"])} for f in ticket.files]
        return data

    # -- request handling ------------------------------------------------------------------------------

    def check_signature(self, method: str, url: str, headers: Any, body: bytes) -> str | None:
        """Why the request is refused, or None when its signature is valid."""
        key = headers.get("Shop-Client-Key")
        stamp = headers.get("Shop-Timestamp")
        signature = headers.get("Shop-Signature")
        if not key or not stamp or not signature:
            return "Missing authentication headers"
        if key != self.client_key:
            return "Invalid client key"
        try:
            when = int(stamp)
        except ValueError:
            return "Invalid timestamp"
        if abs(when - (time.time() + self.clock_offset.total_seconds())) > self.max_skew.total_seconds():
            return "Timestamp is outside the allowed time window"
        message = "\n".join([method, url, body.decode("utf-8", "replace"), stamp])
        expected = hmac.new(self.secret_key.encode(), message.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return "Invalid signature"
        return None

    def _paged(
        self, items: list[Any], query: dict[str, list[str]], render: Callable[[Any], Any]
    ) -> tuple[int, dict[str, Any]]:
        try:
            limit = int(query.get("limit", ["30"])[0])
            offset = int(query.get("offset", ["0"])[0])
        except ValueError:
            return 400, _error("Invalid value for limit or offset", "limit")
        if not 1 <= limit <= 100 or offset < 0:
            return 400, _error("limit must be between 1 and 100", "limit")
        served = min(limit, self.short_pages) if self.short_pages else limit
        return 200, {
            "data": [render(item) for item in items[offset : offset + served]],
            "pagination": {"offset": offset, "limit": limit, "total": len(items)},
        }

    def list_tickets(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        sort = query.get("sort", ["ts_created_iso:desc"])[0]
        if sort not in ("ts_created_iso:desc", "ts_updated_iso:desc"):
            return 400, _error(f"Invalid sort value {sort}", "sort")
        with self._lock:
            items = list(self.tickets.values())
            since = query.get("ts_updated_from_iso", [None])[0]
            if since is not None:
                try:
                    since_at = parse_iso(since)
                except ValueError:
                    return 400, _error("Invalid date for ts_updated_from_iso", "ts_updated_from_iso")
                items = [t for t in items if t.ts_updated >= since_at]
            storefronts = query.get("storefront")
            if storefronts:
                items = [t for t in items if t.storefront in storefronts]
            attr = "ts_updated" if sort.startswith("ts_updated") else "ts_created"
            items.sort(key=lambda t: (getattr(t, attr), t.id), reverse=True)
            status, body = self._paged(items, query, lambda t: self.render_ticket(t, set()))
            if status == 200 and body["pagination"]["offset"] == 0:
                body["data"] = body["data"] + self.odd_items
            return status, body

    def list_messages(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        sort = query.get("sort", ["ts_created_iso:desc"])[0]
        if sort not in ("ts_created_iso:desc", "ts_created_iso:asc"):
            return 400, _error(f"Invalid sort value {sort}", "sort")
        with self._lock:
            items = [m for t in self.tickets.values() for m in t.messages]
            since = query.get("ts_created_from_iso", [None])[0]
            if since is not None:
                try:
                    since_at = parse_iso(since)
                except ValueError:
                    return 400, _error("Invalid date for ts_created_from_iso", "ts_created_from_iso")
                items = [m for m in items if m["ts_created_iso"] >= since_at]
            items.sort(
                key=lambda m: (m["ts_created_iso"], m["id_ticket_message"]), reverse=sort.endswith("desc")
            )
            return self._paged(items, query, self._render_message)

    def reply(self, ticket_id: str, content_type: str, payload: bytes) -> tuple[int, Any]:
        if not content_type.lower().startswith("application/json"):
            return 415, _error("Content-Type must be application/json")
        try:
            body = json.loads(payload.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return 400, _error("Malformed JSON body")
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return 400, _error("text must not be empty", "text")
        files: list[ReceivedFile] = []
        for item in body.get("ticket_message_files") or []:
            try:
                files.append(
                    ReceivedFile(
                        str(item["filename"]),
                        str(item["mime_type"]),
                        base64.b64decode(item["data"], validate=True),
                    )
                )
            except (KeyError, TypeError, binascii.Error):
                return 400, _error("Invalid ticket_message_files entry", "ticket_message_files")
        with self._lock:
            ticket = self.tickets.get(ticket_id)
            if ticket is None:
                return 404, _error(f"Ticket {ticket_id} not found")
            message = self.add_message(ticket_id, text, role="seller")
            message["interim_notice"] = bool(body.get("interim_notice"))
            for f in files:
                self.add_file(ticket_id, f.filename, f.data, f.mime_type, at=message["ts_created_iso"])
            self.replies.append(
                ReceivedReply(ticket_id, content_type, body, tuple(files), int(message["id_ticket_message"]))
            )
            self.reply_stored.set()
        return 201, None

    def close_ticket(self, ticket_id: str) -> tuple[int, Any]:
        with self._lock:
            ticket = self.tickets.get(ticket_id)
            if ticket is None:
                return 404, _error(f"Ticket {ticket_id} not found")
            ticket.status = "both_closed" if ticket.status == "buyer_closed" else "seller_closed"
            ticket.ts_updated = max(ticket.ts_updated, self.now())
            self.closed.append(ticket_id)
        return 204, None


def _error(message: str, field_name: str | None = None) -> dict[str, Any]:
    return {
        "message": message,
        "errors": [{"field": field_name, "message": message}] if field_name else [],
    }


class _Handler(SandboxHandler):
    # Headers and body leave in two writes: with Nagle on, the body waits for the client's delayed ACK
    # (40 ms a request on Linux loopback), which would make the sandbox, not the client, the bottleneck.
    disable_nagle_algorithm = True
    server: _Server

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if body or status not in (204,):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = b"" if data is None else json.dumps(data, ensure_ascii=False).encode("utf-8")
        self._send(status, body, headers=headers)

    def _apply_fault(self, fault: Fault) -> None:
        sandbox = self.server.sandbox
        if fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
            self._json(
                fault.status,
                _error({429: "Too Many Requests"}.get(fault.status, "Service Unavailable")),
                headers,
            )
        elif fault.kind == "slow":
            sandbox._stopping.wait(fault.delay)
            with contextlib.suppress(OSError):
                self._json(200, {"data": []})
        elif fault.kind == "drop":
            self._drop_halfway(json.dumps({"data": [{"id_ticket": "x" * 200}] * 20}).encode())
        elif fault.kind == "malformed":
            self._send(200, b'{"data": [{"id_ticket": "1a", "status": ')
        self.close_connection = True

    def _dispatch(self, method: str) -> None:
        sandbox = self.server.sandbox
        path, query, payload = self._read_request()
        with sandbox._lock:
            sandbox.requests.append(RecordedRequest(method, path, query, dict(self.headers.items()), payload))
        try:
            fault = sandbox._take_fault(method, path)
            if fault is not None and not fault.after_processing:
                self._apply_fault(fault)
                return
            if method == "GET" and path.startswith("/cdn/files/"):  # a public file host, outside the API
                with sandbox._lock:
                    found = sandbox.file_store.get(path.rsplit("/", 1)[-1])
                if found is None:
                    self._json(404, _error("File not found"))
                else:
                    self._send(200, found[2], found[1])
                return
            url = f"http://{self.headers.get('Host', '')}{self.path}"
            refused = sandbox.check_signature(method, url, self.headers, payload)
            if refused is not None:  # "There is no anonymous access to the Marketplace Seller API."
                self._json(401, {"message": f"Unauthorized: {refused}", "errors": []})
                return
            status, body = self._route(method, path, query, payload)
            if fault is not None:
                self._apply_fault(fault)
                return
            if isinstance(body, tuple):
                name, mime_type, data = body
                self._send(status, data, mime_type, {"Content-Disposition": f'attachment; filename="{name}"'})
            else:
                self._json(status, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, method: str, path: str, query: dict[str, list[str]], payload: bytes) -> tuple[int, Any]:
        sandbox = self.server.sandbox
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:1] != ["v2"]:
            return 404, _error("Not found")
        rest = parts[1:]
        if method == "GET" and rest == ["status", "ping"]:
            return 200, {"message": "pong"}
        if method == "GET" and rest == ["info", "storefront"]:
            return 200, {"data": ["de", "cz", "sk", "pl", "at"]}
        if method == "GET" and len(rest) == 2 and rest[0] == "files":
            with sandbox._lock:
                found = sandbox.file_store.get(rest[1])
            return (200, found) if found else (404, _error("File not found"))
        if rest[:1] != ["tickets"]:
            return 404, _error("Not found")
        rest = rest[1:]
        if method == "GET" and not rest:
            return sandbox.list_tickets(query)
        if method == "GET" and rest == ["messages"]:
            return sandbox.list_messages(query)
        if method == "GET" and len(rest) == 1:
            embedded = {e for v in query.get("embedded", []) for e in v.split(",") if e}
            with sandbox._lock:
                ticket = sandbox.tickets.get(rest[0])
                if ticket is None:
                    return 404, _error(f"Ticket {rest[0]} not found")
                return 200, {"data": sandbox.render_ticket(ticket, embedded)}
        if method == "POST" and len(rest) == 2 and rest[1] == "messages":
            return sandbox.reply(rest[0], self.headers.get("Content-Type", ""), payload)
        if method == "PATCH" and len(rest) == 2 and rest[1] == "close":
            return sandbox.close_ticket(rest[0])
        return 405, _error("Method not allowed")


def main(argv: list[str] | None = None) -> None:
    """Run the sandbox on its own process (benchmarks): prints one JSON line with base_url, client_key and
    secret_key, then serves; stdin "touch N" adds a buyer message to N tickets."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Kaufland Seller API v2 sandbox")
    parser.add_argument("--tickets", type=int, default=0)
    parser.add_argument("--messages", type=int, default=5)
    args = parser.parse_args(argv)
    with KauflandSandbox() as sandbox:
        if args.tickets:
            sandbox.generate(args.tickets, args.messages)
        print(
            json.dumps(
                {
                    "base_url": sandbox.base_url,
                    "client_key": sandbox.client_key,
                    "secret_key": sandbox.secret_key,
                }
            ),
            flush=True,
        )
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["touch"] and len(words) == 2:
                for ticket_id in list(sandbox.tickets)[: int(words[1])]:
                    sandbox.add_message(ticket_id, "One more question about my order, please.")
                print(json.dumps({"touched": int(words[1])}), flush=True)
            elif words[:1] == ["requests"]:
                print(json.dumps({"requests": len(sandbox.requests)}), flush=True)


if __name__ == "__main__":
    main()
