"""A Mirakl seller-API sandbox: the inbox endpoints over real HTTP on 127.0.0.1, with switchable faults.

It follows the vendor's documented contract (developer.mirakl.com, seller API "Messages"; the official PHP
SDK ``mirakl/sdk-php-shop``), not our client, so a client bug shows up as a failed test:

- ``Authorization: <shop key>`` (no "Bearer"); a wrong or revoked key → 401, a ``shop_id`` the key cannot
  access → 403; errors are ``{"status": <code>, "message": "…"}``.
- A01 ``GET /api/account``.
- M11 ``GET /api/inbox/threads``: ``updated_since`` (at or after), ``with_messages`` (last 100 messages and
  the ``no_store_reply_needed`` actions), ``limit`` (default 50, at most 100), seek paging (``next_page_token``
  → ``page_token``; with a token every other parameter is ignored; an unknown token → 400). Sorted by
  ``date_updated`` then ``id``.
- M10 ``GET /api/inbox/threads/{thread_id}``: all messages; 404 for an unknown thread.
- M13 ``GET /api/inbox/threads/{attachment_id}/download``.
- M12 ``POST /api/inbox/threads/{thread_id}/message``: multipart/form-data, ``message_input`` JSON
  (``body`` 3–50,000 characters, ``to[]{type OPERATOR|SHOP|CUSTOMER, id?}``, ``topic?``) and repeated
  ``files`` parts; 201 ``{message_id, thread_id}``; at most 1000 messages per thread and 50 files across
  the threads of one order. Every accepted reply is recorded in :attr:`MiraklSandbox.replies`.

Faults (:meth:`MiraklSandbox.inject`) apply to the next matching requests: an HTTP status (429 with
``Retry-After``, 500/502/503), a slow answer, a connection dropped in the middle of the body, malformed JSON,
and for M12 the same faults *after* the reply was stored (the answer is lost, the reply is there).
"""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from typing import Any, Literal, Protocol
from urllib.parse import unquote

from inbox_app.sandboxes.http_sandbox import (
    Fault,
    LoopbackSandbox,
    QuietServer,
    SandboxHandler,
    iso,
    parse_iso,
    to_milliseconds,
)

__all__ = [
    "Fault",
    "MiraklSandbox",
    "ReceivedReply",
    "RecordedRequest",
    "SandboxThread",
    "iso",
]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass(frozen=True)
class ReceivedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ReceivedReply:
    """An M12 request exactly as its parts arrived."""

    thread_id: str
    content_type: str
    part_names: tuple[str, ...]
    message_input: dict[str, Any]
    message_input_content_type: str
    files: tuple[ReceivedFile, ...]
    message_id: str


@dataclass
class SandboxThread:
    id: str
    topic: str
    order_id: str | None
    customer_id: str
    customer_name: str
    date_created: datetime
    date_updated: datetime
    messages: list[dict[str, Any]] = field(default_factory=list)
    no_store_reply_needed: list[dict[str, Any]] = field(default_factory=list)


class ServerTls(Protocol):
    """The certificate the sandbox serves over HTTPS (``tests.servers.tls.TlsFiles`` in the tests)."""

    def server_context(self) -> ssl.SSLContext: ...


class _Server(QuietServer):
    sandbox: MiraklSandbox


class MiraklSandbox(LoopbackSandbox):
    """The sandbox's state and its HTTP server. Use as a context manager or call start()/close()."""

    def __init__(
        self,
        *,
        api_key: str = "shop-key-0123456789abcdef",
        shop_id: str = "2001",
        shop_name: str = "Mein Laden",
        other_shop_ids: tuple[str, ...] = (),
        operator_name: str = "Fnac ES",
        tls: ServerTls | None = None,
    ) -> None:
        self.tls = tls
        self.api_key = api_key
        self.shop_id = shop_id
        self.shop_name = shop_name
        self.shop_ids = {shop_id, *other_shop_ids}
        self.operator_name = operator_name
        self.revoked = False
        self.clock_offset = timedelta(0)
        self.threads: dict[str, SandboxThread] = {}
        self.attachments: dict[str, tuple[str, str, bytes]] = {}  # id → (name, content type, bytes)
        self.replies: list[ReceivedReply] = []
        self.requests: list[RecordedRequest] = []
        self._init_sandbox()
        self.odd_items: list[Any] = []  # sent as is at the end of the first M11 page (a vendor's surprise)
        self.reply_stored = threading.Event()  # set when an M12 reply has been stored (tests wait on it)
        self._seq = 0

    # -- life cycle ------------------------------------------------------------------------------------

    def start(self) -> MiraklSandbox:
        def wrap(sock: Any) -> Any:
            assert self.tls is not None
            return self.tls.server_context().wrap_socket(sock, server_side=True)

        return self._serve(_Server, _Handler, "mirakl-sandbox", wrap if self.tls is not None else None)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "sandbox not started"
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host!s}:{port}"

    # -- state helpers for tests -------------------------------------------------------------------------

    def now(self) -> datetime:
        return to_milliseconds(datetime.now(UTC) + self.clock_offset)

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._seq += 1
            return f"{prefix}-{self._seq:07d}"

    def revoke_key(self) -> None:
        self.revoked = True

    def requests_to(self, path_prefix: str, method: str = "GET") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def add_thread(
        self,
        *,
        topic: str = "Where is my parcel?",
        order_id: str | None = "ORDER-1-A",
        customer_name: str = "Ana García",
        at: datetime | None = None,
        thread_id: str | None = None,
    ) -> SandboxThread:
        when = to_milliseconds(at or self.now())
        with self._lock:
            thread = SandboxThread(
                id=thread_id or self._next_id("th"),
                topic=topic,
                order_id=order_id,
                customer_id=self._next_id("cust"),
                customer_name=customer_name,
                date_created=when,
                date_updated=when,
            )
            self.threads[thread.id] = thread
            return thread

    def add_message(
        self,
        thread_id: str,
        body: str,
        *,
        sender: Literal["CUSTOMER", "OPERATOR", "SHOP"] = "CUSTOMER",
        at: datetime | None = None,
        attachments: tuple[tuple[str, bytes], ...] = (),
    ) -> dict[str, Any]:
        with self._lock:
            thread = self.threads[thread_id]
            when = to_milliseconds(at or self.now())
            message = {
                "id": self._next_id("msg"),
                "date_created": when,
                "body": body,
                "from_type": sender,
                "to": self._recipients_of(thread, sender),
                "attachments": [self._store_attachment(name, data) for name, data in attachments],
            }
            thread.messages.append(message)
            thread.date_updated = max(thread.date_updated, when)
            return message

    def mark_no_reply_needed(
        self, thread_id: str, user_type: str = "CUSTOMER", at: datetime | None = None
    ) -> None:
        with self._lock:
            thread = self.threads[thread_id]
            when = to_milliseconds(at or self.now())
            thread.no_store_reply_needed.append({"date": when, "user_type": user_type})
            thread.date_updated = max(thread.date_updated, when)

    def generate(
        self,
        threads: int,
        messages: int,
        *,
        start: datetime | None = None,
        step: timedelta = timedelta(seconds=1),
    ) -> list[str]:
        """``threads`` threads of ``messages`` alternating customer/shop messages, dated from ``start`` on.

        Fast enough for the 5,000 × 6 benchmark (no per-message locking round trips)."""
        first = start or (self.now() - timedelta(days=30))
        ids: list[str] = []
        with self._lock:
            for t in range(threads):
                base = first + step * (t * (messages + 1))
                thread = self.add_thread(
                    topic=f"Question {t}", order_id=f"ORDER-{t}-A", customer_name=f"Customer {t}", at=base
                )
                for m in range(messages):
                    sender: Literal["CUSTOMER", "SHOP"] = "CUSTOMER" if m % 2 == 0 else "SHOP"
                    self.add_message(
                        thread.id,
                        f"Message {m} of thread {t}: hello, is my order on its way?",
                        sender=sender,
                        at=base + step * (m + 1),
                    )
                ids.append(thread.id)
        return ids

    def _store_attachment(
        self, name: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        attachment_id = self._next_id("att")
        self.attachments[attachment_id] = (name, content_type, data)
        return {"id": attachment_id, "name": name, "size": len(data)}

    # -- rendering ------------------------------------------------------------------------------------

    def _participant(self, kind: str, thread: SandboxThread) -> dict[str, Any]:
        if kind == "CUSTOMER":
            return {"display_name": thread.customer_name, "id": thread.customer_id, "type": "CUSTOMER"}
        if kind == "OPERATOR":
            return {"display_name": self.operator_name, "type": "OPERATOR"}  # operators have no id
        return {"display_name": self.shop_name, "id": self.shop_id, "type": "SHOP"}

    def _recipients_of(self, thread: SandboxThread, sender: str) -> list[dict[str, Any]]:
        if sender == "SHOP":
            return [self._participant("CUSTOMER", thread)]
        return [self._participant("SHOP", thread)]

    def _sender(self, thread: SandboxThread, kind: str) -> dict[str, Any]:
        org = self._participant(kind, thread)
        names = {"CUSTOMER": thread.customer_name, "OPERATOR": "Operator support", "SHOP": "Seller user"}
        return {"type": f"{kind}_USER", "display_name": names[kind], "organization_details": org}

    def _render_message(self, thread: SandboxThread, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": message["id"],
            "date_created": iso(message["date_created"]),
            "body": message["body"],
            "from": self._sender(thread, message["from_type"]),
            "to": message["to"],
            "attachments": message["attachments"],
        }

    def _reply_needed_since(self, thread: SandboxThread) -> datetime | None:
        """The oldest message still waiting for the shop: a shop message or a "no store reply needed"
        action answers everything before it."""
        events = [(m["date_created"], m["from_type"] != "SHOP") for m in thread.messages]
        events += [(a["date"], False) for a in thread.no_store_reply_needed]
        waiting: datetime | None = None
        for when, needs_reply in sorted(events, key=lambda e: e[0]):
            if not needs_reply:
                waiting = None
            elif waiting is None:
                waiting = when
        return waiting

    def render_thread(
        self, thread: SandboxThread, *, with_messages: bool, last: int | None = None
    ) -> dict[str, Any]:
        participated = {m["from_type"] for m in thread.messages} | {"SHOP"}
        last_message = thread.messages[-1] if thread.messages else None
        needed = self._reply_needed_since(thread)
        data: dict[str, Any] = {
            "id": thread.id,
            "topic": {"type": "FREE_TEXT", "value": thread.topic},
            "entities": (
                [{"id": thread.order_id, "label": thread.order_id, "type": "MMP_ORDER"}]
                if thread.order_id
                else []
            ),
            "authorized_participants": [
                self._participant(k, thread) for k in ("CUSTOMER", "OPERATOR", "SHOP")
            ],
            "current_participants": [
                self._participant(k, thread) for k in ("CUSTOMER", "OPERATOR", "SHOP") if k in participated
            ],
            "date_created": iso(thread.date_created),
            "date_updated": iso(thread.date_updated),
            "metadata": {
                "last_message_date": iso(last_message["date_created"]) if last_message else None,
                "last_sender": self._sender(thread, last_message["from_type"]) if last_message else None,
                "shop_reply_needed_since": iso(needed) if needed else None,
                "total_count": len(thread.messages),
            },
        }
        if with_messages:
            shown = thread.messages if last is None else thread.messages[-last:]
            data["messages"] = [self._render_message(thread, m) for m in shown]
            data["no_store_reply_needed"] = [
                {"date": iso(a["date"]), "user_type": a["user_type"]} for a in thread.no_store_reply_needed
            ]
        return data

    # -- request handling (called on the server's threads) ---------------------------------------------

    def list_threads(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        token = one("page_token")
        if token is not None:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()))
                since = parse_iso(state["since"]) if state["since"] else None
                after = (parse_iso(state["after"][0]), state["after"][1])
                limit = int(state["limit"])
                with_messages = bool(state["with_messages"])
            except (ValueError, KeyError, TypeError, IndexError):
                return 400, {"status": 400, "message": "Invalid page_token"}
        else:
            try:
                raw_since = one("updated_since")
                since = parse_iso(raw_since) if raw_since else None
            except ValueError:
                return 400, {"status": 400, "message": "Invalid value for parameter 'updated_since'"}
            try:
                limit = int(one("limit") or 50)
            except ValueError:
                return 400, {"status": 400, "message": "Invalid value for parameter 'limit'"}
            if not 1 <= limit <= 100:
                return 400, {"status": 400, "message": "The limit must be between 1 and 100"}
            with_messages = (one("with_messages") or "false").lower() == "true"
            after = None
        with self._lock:
            ordered = sorted(self.threads.values(), key=lambda t: (t.date_updated, t.id))
            if since is not None:
                ordered = [t for t in ordered if t.date_updated >= since]
            if after is not None:
                ordered = [t for t in ordered if (t.date_updated, t.id) > after]
            page = ordered[:limit]
            body: dict[str, Any] = {
                "data": [self.render_thread(t, with_messages=with_messages, last=100) for t in page]
            }
            if after is None:
                body["data"].extend(self.odd_items)
            if len(ordered) > limit:
                last = page[-1]
                state = {
                    "since": iso(since) if since else None,
                    "after": [iso(last.date_updated), last.id],
                    "limit": limit,
                    "with_messages": with_messages,
                }
                body["next_page_token"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
            if after is not None:
                body["previous_page_token"] = "prev-not-supported-by-sandbox"
        return 200, body

    def get_thread(self, thread_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            thread = self.threads.get(thread_id)
            if thread is None:
                return 404, {"status": 404, "message": f"Thread with id {thread_id} not found"}
            return 200, self.render_thread(thread, with_messages=True)

    def reply(self, thread_id: str, content_type: str, payload: bytes) -> tuple[int, dict[str, Any]]:
        if not content_type.lower().startswith("multipart/form-data"):
            return 400, {"status": 400, "message": "Content-Type must be multipart/form-data"}
        parsed = BytesParser(policy=policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + payload
        )
        if not parsed.is_multipart():
            return 400, {"status": 400, "message": "Malformed multipart body"}
        names: list[str] = []
        message_input: dict[str, Any] | None = None
        message_input_type = ""
        files: list[ReceivedFile] = []
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            names.append(str(name))
            payload_part = part.get_payload(decode=True)
            data = payload_part if isinstance(payload_part, bytes) else b""
            if name == "message_input":
                message_input_type = part.get_content_type()
                try:
                    loaded = json.loads(data.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    return 400, {"status": 400, "message": "message_input is not valid JSON"}
                if not isinstance(loaded, dict):
                    return 400, {"status": 400, "message": "message_input must be an object"}
                message_input = loaded
            elif name == "files":
                files.append(ReceivedFile(part.get_filename() or "", part.get_content_type(), data))
        if message_input is None:
            return 400, {"status": 400, "message": "message_input is required"}
        body = message_input.get("body")
        if not isinstance(body, str) or not 3 <= len(body) <= 50_000:
            return 400, {
                "status": 400,
                "message": "The message body must contain between 3 and 50000 characters",
            }
        to = message_input.get("to")
        if (
            not isinstance(to, list)
            or not to
            or any(
                not isinstance(t, dict) or t.get("type") not in ("OPERATOR", "SHOP", "CUSTOMER") for t in to
            )
        ):
            return 400, {
                "status": 400,
                "message": "'to' must list recipients of type OPERATOR, SHOP or CUSTOMER",
            }
        with self._lock:
            thread = self.threads.get(thread_id)
            if thread is None:
                return 404, {"status": 404, "message": f"Thread with id {thread_id} not found"}
            if len(thread.messages) >= 1000:
                return 400, {"status": 400, "message": "Maximum of 1000 messages on a thread reached"}
            if thread.order_id is not None:
                on_entity = sum(
                    len(m["attachments"])
                    for t in self.threads.values()
                    if t.order_id == thread.order_id
                    for m in t.messages
                )
                if on_entity + len(files) > 50:
                    return 400, {"status": 400, "message": "Maximum of 50 attachments per entity reached"}
            when = self.now()
            message = {
                "id": self._next_id("msg"),
                "date_created": when,
                "body": body,
                "from_type": "SHOP",
                "to": [self._participant(str(t["type"]), thread) for t in to],
                "attachments": [self._store_attachment(f.filename, f.data, f.content_type) for f in files],
            }
            thread.messages.append(message)
            thread.date_updated = when
            if isinstance(message_input.get("topic"), dict) and message_input["topic"].get("value"):
                thread.topic = str(message_input["topic"]["value"])
            self.replies.append(
                ReceivedReply(
                    thread_id=thread_id,
                    content_type=content_type,
                    part_names=tuple(names),
                    message_input=message_input,
                    message_input_content_type=message_input_type,
                    files=tuple(files),
                    message_id=str(message["id"]),
                )
            )
            self.reply_stored.set()
            return 201, {"message_id": message["id"], "thread_id": thread_id}

    def iter_all_messages(self) -> Iterator[tuple[str, dict[str, Any]]]:
        with self._lock:
            for thread in self.threads.values():
                for message in thread.messages:
                    yield thread.id, message


class _Handler(SandboxHandler):
    server: _Server

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), headers=headers)

    def _apply_fault(self, fault: Fault, ok_body: bytes | None = None) -> None:
        sandbox = self.server.sandbox
        if fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
            message = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}.get(
                fault.status, "Service Unavailable"
            )
            self._json(fault.status, {"status": fault.status, "message": message}, headers)
        elif fault.kind == "slow":
            sandbox._stopping.wait(fault.delay)
            with contextlib.suppress(OSError):  # the client gave up long ago
                self._json(200, {"data": []})
        elif fault.kind == "drop":
            self._drop_halfway(ok_body or json.dumps({"data": [{"id": "x" * 200}] * 20}).encode())
        elif fault.kind == "malformed":
            self._send(200, b'{"data": [{"id": "th-1", "topic": ')
        self.close_connection = True

    def _dispatch(self, method: str) -> None:
        sandbox = self.server.sandbox
        path, query, payload = self._read_request()
        with sandbox._lock:
            sandbox.requests.append(RecordedRequest(method, path, query, dict(self.headers.items())))
        try:
            fault = sandbox._take_fault(method, path)
            if fault is not None and not fault.after_processing:
                self._apply_fault(fault)
                return
            if self.headers.get("Authorization") != sandbox.api_key or sandbox.revoked:
                self._json(401, {"status": 401, "message": "Unauthorized"})
                return
            shop = query.get("shop_id", [None])[0]
            if shop is not None and shop not in sandbox.shop_ids:
                self._json(403, {"status": 403, "message": f"You are not allowed to access shop {shop}"})
                return
            status, body = self._route(method, path, query, payload)
            if fault is not None:  # after_processing: the work is done, the answer is lost
                self._apply_fault(fault, json.dumps(body).encode())
                return
            if isinstance(body, tuple):
                name, content_type, data = body
                safe_name = name.replace('"', "")
                self._send(
                    status, data, content_type, {"Content-Disposition": f'attachment; filename="{safe_name}"'}
                )
            else:
                self._json(status, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, method: str, path: str, query: dict[str, list[str]], payload: bytes) -> tuple[int, Any]:
        sandbox = self.server.sandbox
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if method == "GET" and parts == ["api", "account"]:
            shop = query.get("shop_id", [sandbox.shop_id])[0]
            return 200, {"shop_id": int(shop) if shop.isdigit() else shop, "shop_name": sandbox.shop_name}
        if parts[:3] != ["api", "inbox", "threads"]:
            return 404, {"status": 404, "message": "Not found"}
        rest = parts[3:]
        if method == "GET" and not rest:
            return sandbox.list_threads(query)
        if method == "GET" and len(rest) == 2 and rest[1] == "download":
            with sandbox._lock:
                found = sandbox.attachments.get(rest[0])
            if found is None:
                return 404, {"status": 404, "message": f"Attachment {rest[0]} not found"}
            return 200, found
        if method == "GET" and len(rest) == 1:
            return sandbox.get_thread(rest[0])
        if method == "POST" and len(rest) == 2 and rest[1] == "message":
            return sandbox.reply(rest[0], self.headers.get("Content-Type", ""), payload)
        return 405 if rest else 404, {"status": 405 if rest else 404, "message": "Not allowed"}


def main(argv: list[str] | None = None) -> None:
    """Run the sandbox on its own (benchmarks run it in a separate process, so it does not share the GIL
    with the client it measures): prints one JSON line with base_url, api_key and shop_id, then serves until
    stdin closes or the process is stopped."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--threads", type=int, default=0, help="threads to generate")
    parser.add_argument("--messages", type=int, default=6, help="messages per generated thread")
    args = parser.parse_args(argv)
    with MiraklSandbox() as sandbox:
        if args.threads:
            sandbox.generate(args.threads, args.messages)
        print(
            json.dumps(
                {"base_url": sandbox.base_url, "api_key": sandbox.api_key, "shop_id": sandbox.shop_id}
            ),
            flush=True,
        )
        for line in sys.stdin:  # simple control channel: "touch N" adds a message to N threads
            words = line.split()
            if words[:1] == ["touch"] and len(words) == 2:
                for thread_id in list(sandbox.threads)[: int(words[1])]:
                    sandbox.add_message(thread_id, "One more question about my order, please.")
                print(json.dumps({"touched": int(words[1])}), flush=True)
            elif words[:1] == ["requests"]:  # how many requests the sandbox has answered so far
                with sandbox._lock:
                    print(json.dumps({"requests": len(sandbox.requests)}), flush=True)


if __name__ == "__main__":
    main()
