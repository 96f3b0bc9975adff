"""An Allegro REST sandbox: the message center and the OAuth2 endpoints over real HTTP on 127.0.0.1.

It follows Allegro's documented contract (developer.allegro.pl "Message Center", "Device flow"; the generated
public SDKs), not our client, so a client bug shows up as a failed test:

- Media type: every API call needs ``Accept: application/vnd.allegro.public.v1+json`` (else 406) and a body
  in that ``Content-Type`` (else 415); an attachment upload takes the file's own type (PNG, GIF, BMP, TIFF,
  JPEG, PDF; else 415); an attachment download answers ``*/*`` and refuses the vendor JSON type with 406.
- ``Authorization: Bearer <access token>``; an unknown or expired token → 401 ``{"error": "invalid_token"}``.
  API errors are ``{"errors": [{code, message, details, path, userMessage}]}``.
- OAuth (HTTP Basic client credentials): ``POST /auth/oauth/device`` (``client_id``) → ``device_code,
  user_code, verification_uri, verification_uri_complete, expires_in, interval``; ``POST /auth/oauth/token``
  with ``grant_type=urn:ietf:params:oauth:grant-type:device_code`` answers ``authorization_pending`` until a
  test approves the code (:meth:`AllegroSandbox.approve`), or ``slow_down``, ``access_denied``,
  ``expired_token``; ``grant_type=refresh_token`` rotates the refresh token (the old one stops working); a
  revoked refresh token → 400 ``invalid_grant``. Parameters are read from the query string or the form body.
- ``GET /me``; ``GET /messaging/threads`` (``limit`` 1–20, ``offset``; newest ``lastMessageDateTime`` first);
  ``GET /messaging/threads/{id}``; ``GET /messaging/threads/{id}/messages`` (``limit`` 1–20, ``offset``,
  ``before``/``after`` exclusive, ``before`` not with ``offset``; newest first); ``POST /messaging/threads/{id}
  /messages`` ``{text (1–2000), attachments[{id}]}`` → 201 message; ``PUT /messaging/threads/{id}/read``
  ``{read}`` → 204; ``POST /messaging/message-attachments`` ``{filename, size ≤ 5 MiB}`` → 201 ``{id}`` and a
  Location; ``PUT /messaging/message-attachments/{id}`` (the declared size) → 200 ``{id}``;
  ``GET /messaging/message-attachments/{id}``.

Faults (:meth:`AllegroSandbox.inject`) as in the Mirakl sandbox: a status (429 with ``Retry-After``, 5xx), a
slow answer, a connection dropped mid-body, malformed JSON, and ``after_processing`` (the work is done, the
answer is lost). Every accepted reply is recorded in :attr:`AllegroSandbox.replies` with its declarations
and uploads.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs, unquote

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
    "MEDIA_TYPE",
    "AllegroSandbox",
    "Fault",
    "ReceivedReply",
    "RecordedRequest",
    "SandboxThread",
    "iso",
]

MEDIA_TYPE = "application/vnd.allegro.public.v1+json"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
UPLOAD_TYPES = {"image/png", "image/gif", "image/bmp", "image/tiff", "image/jpeg", "application/pdf"}
MAX_ATTACHMENT = 5 * 1024 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class ReceivedReply:
    thread_id: str
    request_json: dict[str, Any]
    content_type: str
    message_id: str
    attachments: tuple[tuple[str, str, bytes], ...]  # (filename, content type, bytes)


@dataclass
class SandboxThread:
    id: str
    login: str
    read: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last_at(self) -> datetime:
        return max(m["createdAt"] for m in self.messages)


@dataclass
class _Device:
    device_code: str
    user_code: str
    expires_at: datetime
    state: Literal["pending", "approved", "denied"] = "pending"


class _Server(QuietServer):
    sandbox: AllegroSandbox


class AllegroSandbox(LoopbackSandbox):
    def __init__(
        self,
        *,
        client_id: str = "allegro-client-id",
        client_secret: str = "allegro-client-secret-0123",
        seller_login: str = "moj-sklep",
        access_ttl: int = 43200,
        device_interval: int = 5,
        device_ttl: int = 3600,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.seller_login = seller_login
        self.seller_id = "44001234"
        self.access_ttl = access_ttl
        self.device_interval = device_interval
        self.device_ttl = device_ttl
        self.clock_offset = timedelta(0)
        self.threads: dict[str, SandboxThread] = {}
        self.access_tokens: dict[str, datetime] = {}
        self.refresh_tokens: set[str] = set()
        self.devices: dict[str, _Device] = {}
        self.slow_downs = 0  # the next N device polls answer slow_down
        self.declared: dict[str, dict[str, Any]] = {}  # id → {filename, size, data, content_type}
        self.files: dict[str, tuple[str, str, bytes]] = {}  # attachment id → (name, type, bytes)
        self.replies: list[ReceivedReply] = []
        self.requests: list[RecordedRequest] = []
        self._init_sandbox()
        self.read_marks: list[tuple[str, bool]] = []
        self.odd_items: list[Any] = []
        self.reply_stored = threading.Event()
        self._seq = 0

    # -- life cycle --------------------------------------------------------------------------------------

    def start(self) -> AllegroSandbox:
        return self._serve(_Server, _Handler, "allegro-sandbox")

    # -- test hooks ---------------------------------------------------------------------------------------

    def now(self) -> datetime:
        return to_milliseconds(datetime.now(UTC) + self.clock_offset)

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._seq += 1
            return f"{prefix}{self._seq:08d}"

    def requests_to(self, path_prefix: str, method: str = "GET") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def api_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if not r.path.startswith("/auth/")]

    def issue_tokens(self) -> dict[str, Any]:
        """A fresh access + refresh token pair (as after a sign-in)."""
        with self._lock:
            access = "acc-" + uuid.uuid4().hex
            refresh = "ref-" + uuid.uuid4().hex
            self.access_tokens[access] = self.now() + timedelta(seconds=self.access_ttl)
            self.refresh_tokens.add(refresh)
            return {
                "access_token": access,
                "token_type": "bearer",
                "refresh_token": refresh,
                "expires_in": self.access_ttl,
                "scope": "allegro:api:messaging allegro:api:profile:read",
                "allegro_api": True,
                "jti": uuid.uuid4().hex,
            }

    def expire_access_tokens(self) -> None:
        with self._lock:
            for token in self.access_tokens:
                self.access_tokens[token] = self.now() - timedelta(seconds=1)

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            self.refresh_tokens.clear()

    def approve(self, user_code: str) -> None:
        with self._lock:
            next(d for d in self.devices.values() if d.user_code == user_code).state = "approved"

    def deny(self, user_code: str) -> None:
        with self._lock:
            next(d for d in self.devices.values() if d.user_code == user_code).state = "denied"

    def expire_devices(self) -> None:
        with self._lock:
            for device in self.devices.values():
                device.expires_at = self.now() - timedelta(seconds=1)

    def add_thread(self, *, login: str = "kupujacy_jan", thread_id: str | None = None) -> SandboxThread:
        with self._lock:
            thread = SandboxThread(id=thread_id or self._next_id("th"), login=login)
            self.threads[thread.id] = thread
            return thread

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:
            del self.threads[thread_id]

    def add_message(
        self,
        thread_id: str,
        text: str,
        *,
        from_buyer: bool = True,
        at: datetime | None = None,
        order_id: str | None = None,
        offer_id: str | None = None,
        subject: str | None = None,
        attachments: tuple[tuple[str, str, bytes], ...] = (),
    ) -> dict[str, Any]:
        with self._lock:
            thread = self.threads[thread_id]
            files = []
            for name, content_type, data in attachments:
                att_id = str(uuid.uuid4())
                self.files[att_id] = (name, content_type, data)
                files.append({"id": att_id, "fileName": name, "mimeType": content_type})
            message = {
                "id": str(uuid.uuid4()),
                "createdAt": to_milliseconds(at or self.now()),
                "text": text,
                "subject": subject,
                "from_buyer": from_buyer,
                "order_id": order_id,
                "offer_id": offer_id,
                "attachments": files,
            }
            thread.messages.append(message)
            if from_buyer:
                thread.read = False
            return message

    def generate(
        self,
        threads: int,
        messages: int,
        *,
        start: datetime | None = None,
        step: timedelta = timedelta(seconds=1),
    ) -> list[str]:
        """``threads`` threads of ``messages`` alternating buyer/seller messages (fast: one lock)."""
        first = start or (self.now() - timedelta(days=30))
        ids: list[str] = []
        with self._lock:
            for t in range(threads):
                base = first + step * (t * (messages + 1))
                thread = self.add_thread(login=f"kupujacy_{t}")
                for m in range(messages):
                    self.add_message(
                        thread.id,
                        f"Wiadomość {m} w wątku {t}: kiedy wyślecie paczkę?",
                        from_buyer=m % 2 == 0,
                        at=base + step * (m + 1),
                        order_id=f"order-{t:05d}-uuid" if m == 0 else None,
                        offer_id=f"{7700000000 + t}" if m == 0 else None,
                        subject=f"Pytanie {t}" if m == 0 else None,
                    )
                ids.append(thread.id)
        return ids

    # -- rendering ----------------------------------------------------------------------------------------

    def render_thread(self, thread: SandboxThread) -> dict[str, Any]:
        return {
            "id": thread.id,
            "read": thread.read,
            "lastMessageDateTime": iso(thread.last_at) if thread.messages else None,
            "interlocutor": {"login": thread.login, "avatarUrl": f"https://a.allegroimg.com/{thread.login}"},
        }

    def render_message(self, thread: SandboxThread, m: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": m["id"],
            "status": "DELIVERED",
            "type": "MESSAGE_CENTER",
            "createdAt": iso(m["createdAt"]),
            "thread": {"id": thread.id},
            "author": {
                "login": thread.login if m["from_buyer"] else self.seller_login,
                "isInterlocutor": m["from_buyer"],
            },
            "text": m["text"],
            "subject": m["subject"],
            "relatesTo": {
                "offer": {"id": m["offer_id"]} if m["offer_id"] else None,
                "order": {"id": m["order_id"]} if m["order_id"] else None,
            },
            "hasAdditionalAttachments": False,
            "attachments": [
                {
                    "fileName": a["fileName"],
                    "mimeType": a["mimeType"],
                    "url": f"{self.base_url}/messaging/message-attachments/{a['id']}",
                    "status": "SAFE",
                }
                for a in m["attachments"]
            ],
        }

    # -- request handling (server threads) ---------------------------------------------------------------

    def token_endpoint(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = params.get("grant_type")
        with self._lock:
            if grant == DEVICE_GRANT:
                device = self.devices.get(params.get("device_code", ""))
                if device is None:
                    return 400, {"error": "invalid_grant", "error_description": "Invalid device code"}
                if device.expires_at <= self.now():
                    return 400, {"error": "expired_token", "error_description": "Device code expired"}
                if device.state == "denied":
                    return 400, {"error": "access_denied", "error_description": "User denied access"}
                if self.slow_downs > 0:
                    self.slow_downs -= 1
                    return 400, {"error": "slow_down", "error_description": "Polling too fast"}
                if device.state == "pending":
                    return 400, {"error": "authorization_pending", "error_description": "Pending"}
                del self.devices[device.device_code]
                return 200, self.issue_tokens()
            if grant == "refresh_token":
                refresh = params.get("refresh_token", "")
                if refresh not in self.refresh_tokens:
                    return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
                self.refresh_tokens.discard(refresh)
                return 200, self.issue_tokens()
        return 400, {"error": "unsupported_grant_type", "error_description": str(grant)}

    def device_endpoint(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if params.get("client_id") != self.client_id:
            return 400, {"error": "invalid_client", "error_description": "Unknown client_id"}
        with self._lock:
            device = _Device(
                device_code=uuid.uuid4().hex,
                user_code=uuid.uuid4().hex[:8].upper(),
                expires_at=self.now() + timedelta(seconds=self.device_ttl),
            )
            self.devices[device.device_code] = device
        return 200, {
            "device_code": device.device_code,
            "user_code": device.user_code,
            "verification_uri": "https://allegro.pl/skojarz-aplikacje",
            "verification_uri_complete": f"https://allegro.pl/skojarz-aplikacje?code={device.user_code}",
            "expires_in": self.device_ttl,
            "interval": self.device_interval,
        }

    def list_threads(self, query: dict[str, str]) -> tuple[int, Any]:
        limit, offset, error = _paging(query)
        if error:
            return 422, error
        with self._lock:
            ordered = sorted(
                (t for t in self.threads.values() if t.messages),
                key=lambda t: (t.last_at, t.id),
                reverse=True,
            )
            page = [self.render_thread(t) for t in ordered[offset : offset + limit]]
            if offset == 0:
                page.extend(self.odd_items)
        return 200, {"threads": page, "offset": offset, "limit": limit}

    def list_messages(self, thread_id: str, query: dict[str, str]) -> tuple[int, Any]:
        limit, offset, error = _paging(query)
        if error:
            return 422, error
        try:
            after = parse_iso(query["after"]) if query.get("after") else None
            before = parse_iso(query["before"]) if query.get("before") else None
        except ValueError:
            return 422, _errors("VALIDATION_ERROR", "Invalid date-time format", "after")
        if before is not None and "offset" in query:
            return 422, _errors("VALIDATION_ERROR", "'before' cannot be used with 'offset'", "before")
        with self._lock:
            thread = self.threads.get(thread_id)
            if thread is None:
                return 404, _errors("NOT_FOUND", f"Thread {thread_id} not found", "threadId")
            chosen = [
                m
                for m in thread.messages
                if (after is None or m["createdAt"] > after) and (before is None or m["createdAt"] < before)
            ]
            chosen.sort(key=lambda m: (m["createdAt"], m["id"]), reverse=True)
            page = [self.render_message(thread, m) for m in chosen[offset : offset + limit]]
        return 200, {"messages": page, "offset": offset, "limit": limit}

    def declare(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or not isinstance(body.get("filename"), str) or not body["filename"]:
            return 422, _errors("VALIDATION_ERROR", "filename is required", "filename"), {}
        size = body.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            return 422, _errors("VALIDATION_ERROR", "size is required", "size"), {}
        if size > MAX_ATTACHMENT:
            return 422, _errors("VALIDATION_ERROR", "size must be less than or equal to 5242880", "size"), {}
        att_id = str(uuid.uuid4())
        with self._lock:
            self.declared[att_id] = {"filename": body["filename"], "size": size, "data": None, "type": None}
        return 201, {"id": att_id}, {"Location": f"{self.base_url}/messaging/message-attachments/{att_id}"}

    def upload(self, att_id: str, content_type: str, data: bytes) -> tuple[int, Any]:
        if content_type.split(";")[0].strip().lower() not in UPLOAD_TYPES:
            return 415, _errors("UNSUPPORTED_MEDIA_TYPE", f"Content type {content_type} not supported", "")
        with self._lock:
            declared = self.declared.get(att_id)
            if declared is None:
                return 404, _errors("NOT_FOUND", f"Attachment {att_id} not declared", "attachmentId")
            if len(data) != declared["size"]:
                return 422, _errors("VALIDATION_ERROR", "File size differs from the declared size", "size")
            declared["data"] = data
            declared["type"] = content_type
        return 200, {"id": att_id}

    def post_message(self, thread_id: str, content_type: str, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 422, _errors("VALIDATION_ERROR", "Body must be an object", "")
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return 422, _errors("VALIDATION_ERROR", "text must not be empty", "text")
        if len(text) > 2000:
            return 422, _errors("VALIDATION_ERROR", "text must be at most 2000 characters", "text")
        refs = body.get("attachments") or []
        with self._lock:
            thread = self.threads.get(thread_id)
            if thread is None:
                return 404, _errors("NOT_FOUND", f"Thread {thread_id} not found", "threadId")
            files: list[tuple[str, str, bytes]] = []
            for ref in refs:
                declared = self.declared.get(str(ref.get("id"))) if isinstance(ref, dict) else None
                if declared is None or declared["data"] is None:
                    return 422, _errors("VALIDATION_ERROR", "Attachment not uploaded", "attachments")
                files.append((declared["filename"], declared["type"], declared["data"]))
            message = self.add_message(thread_id, text, from_buyer=False, attachments=tuple(files))
            thread.read = True
            self.replies.append(
                ReceivedReply(thread_id, body, content_type, str(message["id"]), tuple(files))
            )
            self.reply_stored.set()
            return 201, self.render_message(thread, message)


def _errors(code: str, message: str, path: str) -> dict[str, Any]:
    return {
        "errors": [{"code": code, "message": message, "details": None, "path": path, "userMessage": message}]
    }


def _paging(query: dict[str, str]) -> tuple[int, int, dict[str, Any] | None]:
    try:
        limit = int(query.get("limit", "20"))
        offset = int(query.get("offset", "0"))
    except ValueError:
        return 0, 0, _errors("VALIDATION_ERROR", "limit and offset must be numbers", "limit")
    if not 1 <= limit <= 20:
        return 0, 0, _errors("VALIDATION_ERROR", "limit must be between 1 and 20", "limit")
    if offset < 0:
        return 0, 0, _errors("VALIDATION_ERROR", "offset must not be negative", "offset")
    return limit, offset, None


class _Handler(SandboxHandler):
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the client's delayed
    # ACK add ~40 ms to every answer, which no real server does (and which would swamp the benchmarks).
    disable_nagle_algorithm = True
    server: _Server

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(
        self, status: int, data: Any, headers: dict[str, str] | None = None, content_type: str = MEDIA_TYPE
    ) -> None:
        body = b"" if status == 204 else json.dumps(data, ensure_ascii=False).encode("utf-8")
        self._send(status, body, content_type, headers)

    def _apply_fault(self, fault: Fault, ok_body: bytes | None = None) -> None:
        sandbox = self.server.sandbox
        if fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
            code = {429: "TOO_MANY_REQUESTS", 500: "INTERNAL_ERROR"}.get(fault.status, "SERVICE_UNAVAILABLE")
            self._json(fault.status, _errors(code, "Fault injected by the sandbox", ""), headers)
        elif fault.kind == "slow":
            sandbox._stopping.wait(fault.delay)
            with contextlib.suppress(OSError):
                self._json(200, {"threads": [], "messages": []})
        elif fault.kind == "drop":
            self._drop_halfway(
                ok_body or json.dumps({"threads": [{"id": "x" * 200}] * 20}).encode(), MEDIA_TYPE
            )
        elif fault.kind == "malformed":
            self._send(200, b'{"threads": [{"id": "th-1", "read": ', MEDIA_TYPE)
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
            if path.startswith("/auth/oauth/"):
                status, body = self._oauth(method, path, query, payload)
                self._json(status, body, content_type="application/json")
                return
            result = self._api(method, path, {k: v[0] for k, v in query.items()}, payload)
            status, body, headers = result
            if fault is not None:
                self._apply_fault(fault, json.dumps(body).encode())
                return
            if isinstance(body, tuple):
                name, content_type, data = body
                disposition = f'attachment; filename="{name.replace(chr(34), "")}"'
                self._send(status, data, content_type, {"Content-Disposition": disposition})
            else:
                self._json(status, body, headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _oauth(
        self, method: str, path: str, query: dict[str, list[str]], payload: bytes
    ) -> tuple[int, dict[str, Any]]:
        sandbox = self.server.sandbox
        expected = (
            "Basic " + base64.b64encode(f"{sandbox.client_id}:{sandbox.client_secret}".encode()).decode()
        )
        if self.headers.get("Authorization") != expected:
            return 401, {"error": "invalid_client", "error_description": "Bad client credentials"}
        if method != "POST":
            return 405, {"error": "invalid_request", "error_description": "POST only"}
        params = {k: v[0] for k, v in query.items()}
        if payload:
            params.update({k: v[0] for k, v in parse_qs(payload.decode("utf-8")).items()})
        if path == "/auth/oauth/device":
            return sandbox.device_endpoint(params)
        if path == "/auth/oauth/token":
            return sandbox.token_endpoint(params)
        return 404, {"error": "not_found", "error_description": path}

    def _api(
        self, method: str, path: str, query: dict[str, str], payload: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        sandbox = self.server.sandbox
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with sandbox._lock:
            expires = sandbox.access_tokens.get(token)
        if expires is None or expires <= sandbox.now():
            return 401, {"error": "invalid_token", "error_description": "Access token expired or invalid"}, {}
        parts = [unquote(p) for p in path.strip("/").split("/")]
        accept = self.headers.get("Accept", "")
        content_type = self.headers.get("Content-Type", "")
        is_download = (
            method == "GET" and parts[:2] == ["messaging", "message-attachments"] and len(parts) == 3
        )
        is_upload = method == "PUT" and parts[:2] == ["messaging", "message-attachments"] and len(parts) == 3
        if is_download:
            if accept.strip() == MEDIA_TYPE:
                return 406, _errors("NOT_ACCEPTABLE", "Binary resource: use Accept */*", ""), {}
            with sandbox._lock:
                found = sandbox.files.get(parts[2])
            if found is None:
                return 404, _errors("NOT_FOUND", f"Attachment {parts[2]} not found", "attachmentId"), {}
            return 200, found, {}
        if MEDIA_TYPE not in accept:
            return 406, _errors("NOT_ACCEPTABLE", f"Accept must be {MEDIA_TYPE}", ""), {}
        if is_upload:
            return (*sandbox.upload(parts[2], content_type, payload), {})
        body: Any = None
        if method in ("POST", "PUT"):
            if content_type.split(";")[0].strip() != MEDIA_TYPE:
                return 415, _errors("UNSUPPORTED_MEDIA_TYPE", f"Content-Type must be {MEDIA_TYPE}", ""), {}
            try:
                body = json.loads(payload.decode("utf-8")) if payload else None
            except (ValueError, UnicodeDecodeError):
                return 400, _errors("INVALID_JSON", "Request body is not valid JSON", ""), {}
        if method == "GET" and parts == ["me"]:
            return (
                200,
                {
                    "id": sandbox.seller_id,
                    "login": sandbox.seller_login,
                    "baseMarketplace": {"id": "allegro-pl"},
                },
                {},
            )
        if parts[:2] == ["messaging", "message-attachments"] and method == "POST" and len(parts) == 2:
            return sandbox.declare(body)
        if parts[:2] != ["messaging", "threads"]:
            return 404, _errors("NOT_FOUND", "Not found", path), {}
        rest = parts[2:]
        if method == "GET" and not rest:
            return (*sandbox.list_threads(query), {})
        if method == "GET" and len(rest) == 1:
            with sandbox._lock:
                thread = sandbox.threads.get(rest[0])
                if thread is None:
                    return 404, _errors("NOT_FOUND", f"Thread {rest[0]} not found", "threadId"), {}
                return 200, sandbox.render_thread(thread), {}
        if len(rest) == 2 and rest[1] == "messages":
            if method == "GET":
                return (*sandbox.list_messages(rest[0], query), {})
            if method == "POST":
                return (*sandbox.post_message(rest[0], content_type, body), {})
        if method == "PUT" and len(rest) == 2 and rest[1] == "read":
            if not isinstance(body, dict) or not isinstance(body.get("read"), bool):
                return 422, _errors("VALIDATION_ERROR", "missing flag in the request body", "read"), {}
            with sandbox._lock:
                thread = sandbox.threads.get(rest[0])
                if thread is None:
                    return 404, _errors("NOT_FOUND", f"Thread {rest[0]} not found", "threadId"), {}
                thread.read = body["read"]
                sandbox.read_marks.append((rest[0], body["read"]))
            return 204, None, {}
        return 405, _errors("METHOD_NOT_ALLOWED", "Not allowed", path), {}


def main(argv: list[str] | None = None) -> None:
    """Run the sandbox on its own (benchmarks: a separate process). Prints one JSON line with base_url,
    client_id, client_secret and a refresh token; then serves. stdin: "touch N" adds a buyer message to the
    N oldest threads."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--messages", type=int, default=5)
    args = parser.parse_args(argv)
    with AllegroSandbox() as sandbox:
        if args.threads:
            sandbox.generate(args.threads, args.messages)
        tokens = sandbox.issue_tokens()
        print(
            json.dumps(
                {
                    "base_url": sandbox.base_url,
                    "client_id": sandbox.client_id,
                    "client_secret": sandbox.client_secret,
                    "refresh_token": tokens["refresh_token"],
                }
            ),
            flush=True,
        )
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["touch"] and len(words) == 2:
                for thread_id in list(sandbox.threads)[: int(words[1])]:
                    sandbox.add_message(thread_id, "Jeszcze jedno pytanie o zamówienie.")
                print(json.dumps({"touched": int(words[1])}), flush=True)


if __name__ == "__main__":
    main()
