"""An eBay sandbox: the Commerce Message API and the OAuth token endpoint over real HTTP on 127.0.0.1.

Follows eBay's published contract (developer.ebay.com "Message API", ``commerce_message_v1_oas3``; "OAuth
tokens"), not our client:

- ``POST /identity/v1/oauth2/token`` (form): Basic client credentials (wrong → 401 ``invalid_client``);
  ``grant_type=refresh_token`` (unknown or revoked → 400 ``invalid_grant``) and ``authorization_code``
  (``code``, ``redirect_uri`` = RuName; a code works once). Access tokens expire after ``access_ttl``.
- ``Authorization: Bearer``; a missing, unknown or expired token → 401 errorId 1001.
- ``GET /commerce/message/v1/conversation`` ``conversation_type`` (required), ``limit`` (1..50, default 50),
  ``offset``, ``start_time`` (FROM_MEMBERS: conversations whose latest message is at or after it). Newest
  activity first. ``{conversations, href, limit, offset, next?, prev?, total}``.
- ``GET /commerce/message/v1/conversation/{id}?conversation_type=…&limit&offset``: messages, oldest first.
- ``POST /commerce/message/v1/send_message`` (201 ``{messageId, createdDate, messageBody, senderUserName…}``):
  ``messageText`` ≤ 2000, ≤ 5 ``messageMedia``; the message appears in the conversation as the seller's
  (eBay echoes our own copy back). Bodies are recorded in :attr:`EbaySandbox.sent`.
- ``POST /commerce/message/v1/update_conversation`` (204): ``read`` or ``conversationStatus``.
- Errors ``{"errors": [{errorId, domain, category, message, longMessage, parameters}]}``.

Faults (:meth:`EbaySandbox.inject`): a status (429 + Retry-After, 5xx), slow, dropped connection, malformed
JSON; ``after_processing`` for send_message stores the message and then loses the answer.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote

from inbox_app.sandboxes.http_sandbox import (
    Fault,
    LoopbackSandbox,
    QuietServer,
    SandboxHandler,
    iso,
    to_milliseconds,
)

__all__ = ["EbaySandbox", "Fault", "iso"]

API = "/commerce/message/v1"


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def error_body(
    error_id: int, message: str, *, category: str = "REQUEST", long: str | None = None
) -> dict[str, Any]:
    return {
        "errors": [
            {
                "errorId": error_id,
                "domain": "API_MESSAGE" if error_id != 1001 else "OAuth",
                "category": category,
                "message": message,
                "longMessage": long or message,
                "parameters": [],
            }
        ]
    }


@dataclass
class Conversation:
    id: str
    type: str  # FROM_MEMBERS | FROM_EBAY
    title: str
    other: str  # the buyer's user name ("eBay" for FROM_EBAY)
    created: datetime
    reference_id: str | None = None
    status: str = "ACTIVE"
    read: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def latest(self) -> datetime:
        return self.messages[-1]["createdDate"] if self.messages else self.created


class _Server(QuietServer):
    sandbox: EbaySandbox


class EbaySandbox(LoopbackSandbox):
    def __init__(
        self,
        *,
        seller: str = "Mein_Laden",
        client_id: str = "InboxApp-PRD-0123456789",
        client_secret: str = "PRD-secret-abcdef",
        ru_name: str = "Inbox_App-InboxApp-PRD-runame",
        refresh_token: str = "v^1.1#i^1#refresh-token-0001",
        access_ttl: timedelta = timedelta(hours=2),
    ) -> None:
        self.seller = seller
        self.client_id = client_id
        self.client_secret = client_secret
        self.ru_name = ru_name
        self.refresh_tokens = {refresh_token}
        self.refresh_token = refresh_token
        self.codes: set[str] = set()
        self.access_ttl = access_ttl
        self.access_tokens: dict[str, datetime] = {}
        self.conversations: dict[str, Conversation] = {}
        self.sent: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self._init_sandbox()
        self.clock_offset = timedelta(0)
        self.sent_stored = threading.Event()
        self._seq = 0

    # -- life cycle --------------------------------------------------------------------------------------

    def start(self) -> EbaySandbox:
        return self._serve(_Server, _Handler, "ebay-sandbox")

    # -- state helpers -----------------------------------------------------------------------------------

    def now(self) -> datetime:
        return to_milliseconds(datetime.now(UTC) + self.clock_offset)

    def _next(self, prefix: str) -> str:
        with self._lock:
            self._seq += 1
            return f"{prefix}{self._seq:08d}"

    def revoke_refresh_token(self) -> None:
        with self._lock:
            self.refresh_tokens.clear()

    def expire_access_tokens(self) -> None:
        with self._lock:
            for token in self.access_tokens:
                self.access_tokens[token] = self.now() - timedelta(seconds=1)

    def issue_code(self) -> str:
        code = "v^1.1#i^1#code-" + self._next("")
        with self._lock:
            self.codes.add(code)
        return code

    def calls(self, path_suffix: str, method: str = "GET") -> list[tuple[str, str, dict[str, list[str]]]]:
        with self._lock:
            return [r for r in self.requests if r[0] == method and r[1].endswith(path_suffix)]

    def add_conversation(
        self,
        *,
        type: str = "FROM_MEMBERS",
        title: str = "Question about item",
        buyer: str = "buyer_anna",
        reference_id: str | None = "204512345678",
        at: datetime | None = None,
    ) -> Conversation:
        with self._lock:
            conv = Conversation(
                id=self._next(""),
                type=type,
                title=title,
                other=buyer if type == "FROM_MEMBERS" else "eBay",
                created=to_milliseconds(at or self.now()),
                reference_id=reference_id if type == "FROM_MEMBERS" else None,
            )
            self.conversations[conv.id] = conv
            return conv

    def add_message(
        self,
        conversation_id: str,
        text: str,
        *,
        from_seller: bool = False,
        at: datetime | None = None,
        media: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            conv = self.conversations[conversation_id]
            if conv.type == "FROM_EBAY":
                sender, recipient = "eBay", self.seller
            elif from_seller:
                sender, recipient = self.seller, conv.other
            else:
                sender, recipient = conv.other, self.seller
            message = {
                "messageId": self._next("m"),
                "createdDate": to_milliseconds(at or self.now()),
                "messageBody": text,
                "subject": conv.title,
                "senderUsername": sender,
                "recipientUsername": recipient,
                "readStatus": from_seller,
                "messageMedia": list(media or []),
            }
            conv.messages.append(message)
            if not from_seller:
                conv.read = False
            return message

    def generate(self, conversations: int, messages: int, *, start: datetime | None = None) -> list[str]:
        """``conversations`` buyer conversations of ``messages`` alternating buyer/seller messages."""
        first = start or (self.now() - timedelta(days=30))
        ids: list[str] = []
        with self._lock:
            for c in range(conversations):
                base = first + timedelta(seconds=c * (messages + 1))
                conv = self.add_conversation(
                    title=f"Question {c}", buyer=f"buyer_{c}", reference_id=f"20{c:010d}", at=base
                )
                for m in range(messages):
                    self.add_message(
                        conv.id,
                        f"Message {m} of conversation {c}: is the item still available?",
                        from_seller=m % 2 == 1,
                        at=base + timedelta(seconds=m + 1),
                    )
                ids.append(conv.id)
        return ids

    # -- rendering ---------------------------------------------------------------------------------------

    def _message(self, m: dict[str, Any]) -> dict[str, Any]:
        return {**m, "createdDate": iso(m["createdDate"])}

    def _summary(self, c: Conversation) -> dict[str, Any]:
        data: dict[str, Any] = {
            "conversationId": c.id,
            "conversationStatus": c.status,
            "conversationTitle": c.title,
            "conversationType": c.type,
            "createdDate": iso(c.created),
            "unreadCount": 0 if c.read else sum(1 for m in c.messages if m["senderUsername"] != self.seller),
        }
        if c.messages:
            data["latestMessage"] = self._message(c.messages[-1])
        if c.reference_id:
            data["referenceId"] = c.reference_id
            data["referenceType"] = "LISTING"
        return data

    # -- handlers ----------------------------------------------------------------------------------------

    def token(self, auth: str | None, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if auth != expected:
            return 401, {"error": "invalid_client", "error_description": "client authentication failed"}
        grant = (form.get("grant_type") or [""])[0]
        with self._lock:
            if grant == "refresh_token":
                if (form.get("refresh_token") or [""])[0] not in self.refresh_tokens:
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "the provided authorization refresh token is invalid or was issued to another client",
                    }
                extra: dict[str, Any] = {}
            elif grant == "authorization_code":
                code = (form.get("code") or [""])[0]
                if code not in self.codes or (form.get("redirect_uri") or [""])[0] != self.ru_name:
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "the provided authorization grant code is invalid or was issued to another client",
                    }
                self.codes.discard(code)
                refresh = "v^1.1#i^1#refresh-" + self._next("")
                self.refresh_tokens.add(refresh)
                extra = {"refresh_token": refresh, "refresh_token_expires_in": 47304000}
            else:
                return 400, {
                    "error": "unsupported_grant_type",
                    "error_description": f"{grant!r} is not supported",
                }
            access = "v^1.1#i^1#access-" + self._next("")
            self.access_tokens[access] = self.now() + self.access_ttl
        return 200, {
            "access_token": access,
            "expires_in": int(self.access_ttl.total_seconds()),
            "token_type": "User Access Token",
            **extra,
        }

    def authorized(self, auth: str | None) -> bool:
        if not auth or not auth.startswith("Bearer "):
            return False
        with self._lock:
            expiry = self.access_tokens.get(auth[7:])
        return expiry is not None and expiry > self.now()

    def list_conversations(self, q: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        kind = (q.get("conversation_type") or [""])[0]
        if kind not in ("FROM_MEMBERS", "FROM_EBAY"):
            return 400, error_body(355001, "The conversation_type is missing or invalid.")
        try:
            limit = int((q.get("limit") or ["50"])[0])
            offset = int((q.get("offset") or ["0"])[0])
        except ValueError:
            return 400, error_body(355002, "The limit or offset value is invalid.")
        if not 1 <= limit <= 50 or offset < 0:
            return 400, error_body(355002, "The limit value must be between 1 and 50.")
        start: str | None = (q.get("start_time") or [""])[0] or None
        with self._lock:
            items = [c for c in self.conversations.values() if c.type == kind and c.status == "ACTIVE"]
            if start and kind == "FROM_MEMBERS":
                try:
                    since = _parse(start)
                except ValueError:
                    return 400, error_body(355003, "The start_time value is invalid.")
                items = [c for c in items if c.latest >= since]
            items.sort(key=lambda c: (c.latest, c.id), reverse=True)
            page = items[offset : offset + limit]
            body: dict[str, Any] = {
                "conversations": [self._summary(c) for c in page],
                "href": f"{API}/conversation?conversation_type={kind}&limit={limit}&offset={offset}",
                "limit": limit,
                "offset": offset,
                "total": len(items),
            }
            if offset + limit < len(items):
                body["next"] = (
                    f"{API}/conversation?conversation_type={kind}&limit={limit}&offset={offset + limit}"
                )
            if offset > 0:
                body["prev"] = (
                    f"{API}/conversation?conversation_type={kind}&limit={limit}&offset={max(0, offset - limit)}"
                )
        return 200, body

    def get_conversation(self, cid: str, q: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        kind = (q.get("conversation_type") or [""])[0]
        if kind not in ("FROM_MEMBERS", "FROM_EBAY"):
            return 400, error_body(355001, "The conversation_type is missing or invalid.")
        limit = int((q.get("limit") or ["50"])[0])
        offset = int((q.get("offset") or ["0"])[0])
        if not 1 <= limit <= 50:
            return 400, error_body(355002, "The limit value must be between 1 and 50.")
        with self._lock:
            conv = self.conversations.get(cid)
            if conv is None or conv.type != kind:
                return 404, error_body(355010, "The conversation was not found.")
            messages = conv.messages[offset : offset + limit]
            body: dict[str, Any] = {
                "conversationId": conv.id,
                "conversationStatus": conv.status,
                "conversationTitle": conv.title,
                "conversationType": conv.type,
                "createdDate": iso(conv.created),
                "messages": [self._message(m) for m in messages],
                "limit": limit,
                "offset": offset,
                "total": len(conv.messages),
            }
            if conv.reference_id:
                body["referenceId"] = conv.reference_id
                body["referenceType"] = "LISTING"
            if offset + limit < len(conv.messages):
                body["next"] = (
                    f"{API}/conversation/{cid}?conversation_type={kind}&limit={limit}&offset={offset + limit}"
                )
        return 200, body

    def send_message(self, payload: bytes) -> tuple[int, dict[str, Any]]:
        try:
            body = json.loads(payload)
        except ValueError:
            return 400, error_body(355020, "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return 400, error_body(355020, "The request body must be an object.")
        text = body.get("messageText")
        if not isinstance(text, str) or not text.strip():
            return 400, error_body(355021, "The messageText field is required.")
        if len(text) > 2000:
            return 400, error_body(355022, "The messageText exceeds the maximum length of 2000 characters.")
        media = body.get("messageMedia") or []
        if not isinstance(media, list) or len(media) > 5:
            return 400, error_body(355023, "A maximum of 5 messageMedia is allowed.")
        cid = body.get("conversationId")
        with self._lock:
            conv = self.conversations.get(str(cid)) if cid else None
            if conv is None or conv.type != "FROM_MEMBERS":
                return 404, error_body(355010, "The conversation was not found.")
            message = self.add_message(conv.id, text, from_seller=True, media=media)
            self.sent.append(body)
            self.sent_stored.set()
        return 201, {
            "messageId": message["messageId"],
            "createdDate": iso(message["createdDate"]),
            "messageBody": text,
            "senderUserName": self.seller,
            "recipientUserName": conv.other,
            "messageMedia": media,
        }

    def update_conversation(self, payload: bytes) -> tuple[int, dict[str, Any] | None]:
        try:
            body = json.loads(payload)
        except ValueError:
            return 400, error_body(355020, "The request body is not valid JSON.")
        with self._lock:
            conv = self.conversations.get(str(body.get("conversationId")))
            if conv is None or conv.type != body.get("conversationType"):
                return 404, error_body(355010, "The conversation was not found.")
            if "read" in body:
                conv.read = bool(body["read"])
            if body.get("conversationStatus") in ("ACTIVE", "ARCHIVE", "DELETE"):
                conv.status = body["conversationStatus"]
            self.updates.append(body)
        return 204, None


class _Handler(SandboxHandler):
    server: _Server

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, b"" if data is None else json.dumps(data).encode(), headers)

    def _fault(self, fault: Fault, ok_body: bytes | None = None) -> None:
        sandbox = self.server.sandbox
        if fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
            if fault.status == 429:
                body = error_body(
                    2001,
                    "Too many requests.",
                    category="REQUEST",
                    long="The request limit has been reached for the resource.",
                )
            else:
                body = error_body(
                    2003,
                    "There was a problem with an eBay internal system or process.",
                    category="APPLICATION",
                )
            self._json(fault.status, body, headers)
        elif fault.kind == "slow":
            sandbox._stopping.wait(fault.delay)
            with contextlib.suppress(OSError):
                self._json(200, {"conversations": [], "total": 0})
        elif fault.kind == "drop":
            self._drop_halfway(
                ok_body or json.dumps({"conversations": [{"conversationId": "x" * 200}] * 20}).encode(),
                claimed_extra=100,
            )
        elif fault.kind == "malformed":
            self._send(200, b'{"conversations": [{"conversationId": ')
        self.close_connection = True

    def _dispatch(self, method: str) -> None:
        sandbox = self.server.sandbox
        path, query, payload = self._read_request()
        with sandbox._lock:
            sandbox.requests.append((method, path, query))
        try:
            fault = sandbox._take_fault(method, path)
            if fault is not None and not fault.after_processing:
                self._fault(fault)
                return
            auth = self.headers.get("Authorization")
            status: int
            data: Any
            if method == "POST" and path == "/identity/v1/oauth2/token":
                status, body = sandbox.token(auth, parse_qs(payload.decode("utf-8", "replace")))
                self._json(status, body)
                return
            if not path.startswith(API + "/"):
                self._json(404, error_body(2002, "Resource not found."))
                return
            if not sandbox.authorized(auth):
                self._json(
                    401,
                    error_body(
                        1001,
                        "Invalid access token",
                        category="REQUEST",
                        long="Invalid access token. Check the value of the Authorization HTTP request header.",
                    ),
                )
                return
            rest = [unquote(p) for p in path[len(API) + 1 :].split("/")]
            if method == "GET" and rest == ["conversation"]:
                status, data = sandbox.list_conversations(query)
            elif method == "GET" and len(rest) == 2 and rest[0] == "conversation":
                status, data = sandbox.get_conversation(rest[1], query)
            elif method == "POST" and rest == ["send_message"]:
                status, data = sandbox.send_message(payload)
            elif method == "POST" and rest == ["update_conversation"]:
                status, data = sandbox.update_conversation(payload)
            else:
                status, data = 404, error_body(2002, "Resource not found.")
            if fault is not None:
                self._fault(fault, json.dumps(data).encode())
                return
            self._json(status, data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def main(argv: list[str] | None = None) -> None:
    """Standalone (benchmarks): prints base_url and credentials as one JSON line, serves until stdin closes;
    ``touch N`` on stdin adds a buyer message to N conversations."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=0)
    parser.add_argument("--messages", type=int, default=5)
    args = parser.parse_args(argv)
    with EbaySandbox() as sandbox:
        if args.conversations:
            sandbox.generate(args.conversations, args.messages)
        print(
            json.dumps(
                {
                    "base_url": sandbox.base_url,
                    "seller": sandbox.seller,
                    "client_id": sandbox.client_id,
                    "client_secret": sandbox.client_secret,
                    "refresh_token": sandbox.refresh_token,
                }
            ),
            flush=True,
        )
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["touch"] and len(words) == 2:
                for cid in list(sandbox.conversations)[: int(words[1])]:
                    sandbox.add_message(cid, "One more question about the item, please.")
                print(json.dumps({"touched": int(words[1]), "requests": len(sandbox.requests)}), flush=True)
            elif words[:1] == ["count"]:
                print(json.dumps({"requests": len(sandbox.requests)}), flush=True)


if __name__ == "__main__":
    main()
