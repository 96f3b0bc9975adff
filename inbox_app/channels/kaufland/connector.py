"""The Kaufland marketplace (Seller API v2) ticket inbox.

Endpoints (sellerapi.kaufland.com, "Tickets"; the OpenAPI-generated SDKs agree):

- ``GET /tickets``: ``ts_updated_from_iso`` (tickets updated at or after), ``sort`` (only descending orders
  are documented: ``ts_updated_iso:desc``), ``limit`` (default 30, at most 100), ``offset``, ``storefront``;
  answer ``{data: [...], pagination: {offset, limit, total}}``. Pages may be shorter than ``limit``: the next
  offset is this offset plus what came, and the listing ends at ``pagination.total`` (or an empty page).
- ``GET /tickets/{id_ticket}?embedded=messages,order_units,buyer,files``: one ticket with all its messages and
  its order units (``id_order``: the order id).
- ``GET /tickets/messages``: every message of the seller's tickets, ``ts_created_from_iso``, ``sort``
  (``ts_created_iso:asc``), ``limit``/``offset``: the bulk source (``message_source="bulk"``).
- ``POST /tickets/{id_ticket}/messages`` ``{text, interim_notice, ticket_message_files[]{filename, mime_type,
  data (base64)}}``: the answer carries no message id.
- ``PATCH /tickets/{id_ticket}/close``; ``GET /info/storefront`` (cheap authenticated call).

Every request is signed (:mod:`inbox_app.channels.kaufland.signing`).

Cursor: JSON ``{"v": 1, "since", "offset", "marker"}``. Within a listing it keeps ``since`` and the next offset,
so a crash resumes at the next page. With a descending sort, a ticket updated while the pages are read moves to
the front: the tickets behind it shift to higher offsets (read twice; the store's upsert absorbs that), and the
moved ticket itself was updated after ``marker`` (the server's clock when the listing started) so the next
listing, from ``marker`` minus an overlap, brings it. Nothing is skipped.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx

from inbox_app.channels.base import (
    AttachmentContent,
    AuthFailed,
    BadConfiguration,
    Channel,
    ChannelCapabilities,
    ChannelError,
    LimitProblem,
    LookupOutcome,
    OutgoingReply,
    RejectedInput,
    RemoteAttachment,
    RemoteNotFound,
    RemoteThread,
    ReplyLimits,
    SentLookup,
    SentReceipt,
    TemporarilyUnavailable,
    ThreadBatch,
    UnreadableAnswer,
    check_reply,
    normalize_body,
)
from inbox_app.channels.http import DEFAULT_TIMEOUT, ApiClient, RetryPolicy, tls_context
from inbox_app.channels.kaufland.parse import format_datetime, parse_datetime, parse_ticket
from inbox_app.channels.kaufland.signing import KauflandAuth
from inbox_app.domain.channel_limits import limits_for
from inbox_app.domain.conversations import Direction
from inbox_app.i18n import _, format_duration

__all__ = ["DEADLINE", "DEFAULT_BASE_URL", "KAUFLAND_LIMITS", "KauflandChannel", "KauflandSettings"]

log = logging.getLogger("inbox_app.channels.kaufland")

DEFAULT_BASE_URL = "https://sellerapi.kaufland.com/v2"
PAGE_SIZE_MAX = 100
EMBEDDED = "messages,order_units,buyer,files"

#: Kaufland documents neither a text length nor file types for ticket messages (as far as we found): these
#: are our own sane limits (10 MB per file and per message from channel_limits: base64 grows it by a third).
KAUFLAND_LIMITS = ReplyLimits(
    attachments=limits_for("kaufland"),
    min_chars=1,
    max_chars=10_000,
    allowed_extensions=frozenset(
        {"pdf", "jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "txt", "csv", "doc", "docx", "xls", "xlsx"}
    ),
)

#: The vendor's answer deadline for open tickets (its pages disagree on weekends: calendar hours by default).
DEADLINE = timedelta(hours=48)


@dataclass(frozen=True)
class KauflandSettings:
    client_key: str
    secret_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    storefront: str | None = None  # "de", "cz", …: only this storefront's tickets; None: all
    name: str = "Kaufland"
    page_size: int = PAGE_SIZE_MAX
    message_source: Literal["embedded", "bulk"] = "embedded"
    max_requests_per_second: float = 100.0  # Kaufland allows 111 per seller across all endpoints


@dataclass(frozen=True)
class _Cursor:
    since: datetime | None = None
    offset: int = 0
    marker: datetime | None = None  # server time when this listing started

    def encode(self) -> str:
        data: dict[str, Any] = {"v": 1, "offset": self.offset}
        if self.since is not None:
            data["since"] = self.since.isoformat()
        if self.marker is not None:
            data["marker"] = self.marker.isoformat()
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def decode(cls, text: str | None) -> _Cursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("v") != 1:
                raise ValueError("unknown cursor version")
            offset = data.get("offset", 0)
            if not isinstance(offset, int) or offset < 0:
                raise ValueError("bad offset")
            return cls(parse_datetime(data.get("since")), offset, parse_datetime(data.get("marker")))
        except (ValueError, TypeError):
            log.warning("unreadable Kaufland cursor %r: listing all tickets again", text[:200])
            return cls()


def _server_time(response: httpx.Response) -> datetime | None:
    value = response.headers.get("date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class KauflandChannel(Channel):
    """One Kaufland seller account. Not thread-safe: use it from one event loop."""

    kind = "kaufland"

    def __init__(
        self,
        settings: KauflandSettings,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        cursor_overlap: timedelta = timedelta(minutes=2),
        clock_skew: timedelta = timedelta(minutes=2),
        max_clock_difference: timedelta = timedelta(minutes=10),
    ) -> None:
        self.settings = settings
        self._now = now
        self._overlap = cursor_overlap
        self._skew = clock_skew
        self._max_clock = max_clock_difference
        self._timeout = timeout
        self._http = ApiClient(
            settings.base_url,
            service=settings.name,
            auth_headers={"Accept": "application/json"},
            auth=KauflandAuth(
                settings.client_key,
                settings.secret_key,
                clock=lambda: self._now().timestamp(),
                max_per_second=settings.max_requests_per_second,
            ),
            timeout=timeout,
            retry=retry,
            transport=transport,
            classify=self._classify,
            sleep=sleep,
            rng=rng,
        )

    # -- description ------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def limits(self) -> ReplyLimits:
        return KAUFLAND_LIMITS

    @property
    def capabilities(self) -> ChannelCapabilities:
        return ChannelCapabilities(close_thread=True)

    @property
    def requests_sent(self) -> int:
        return self._http.requests_sent

    async def aclose(self) -> None:
        await self._http.aclose()

    def _classify(self, response: httpx.Response) -> ChannelError | None:
        """A 401 because this computer's clock is off (the signature's timestamp is checked) is said so: a new
        key would not help."""
        if response.status_code != 401:
            return None
        server = _server_time(response)
        if server is not None and abs(server - self._now()) > self._max_clock:
            return BadConfiguration(
                _(
                    "Kaufland refused the request because this computer's clock is off by {difference}. "
                    "Set the clock right (automatic time), then try again."
                ).format(difference=format_duration(abs(server - self._now()))),
                detail=f"HTTP 401, server Date {server.isoformat()}",
            )
        return AuthFailed(self.name, detail=f"HTTP 401: {response.content[:200]!r}")

    def _params(self, params: dict[str, str]) -> dict[str, str]:
        if self.settings.storefront:
            params["storefront"] = self.settings.storefront
        return params

    async def _page(self, path: str, params: dict[str, str]) -> tuple[list[Any], int | None, httpx.Response]:
        response = await self._http.request("GET", path, params=params, expect_json=True)
        body = response.extensions["inbox_app.parsed_json"]
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, list):
            raise UnreadableAnswer(
                self.name, detail=f"GET {path}: no data list", raw_body=response.content[:65536]
            )
        pagination = body.get("pagination") if isinstance(body, Mapping) else None
        total = pagination.get("total") if isinstance(pagination, Mapping) else None
        return data, total if isinstance(total, int) and not isinstance(total, bool) else None, response

    # -- reading ----------------------------------------------------------------------------------------

    async def test_connection(self) -> None:
        """``GET /info/storefront``: a wrong client key or secret key is :class:`AuthFailed`, a wrong address
        :class:`BadConfiguration`, a wrong clock :class:`BadConfiguration` naming the difference."""
        try:
            body = await self._http.get_json("/info/storefront")
        except (RemoteNotFound, RejectedInput, UnreadableAnswer) as exc:
            raise BadConfiguration(
                _("No Kaufland seller API answers at {url}. Check the address.").format(
                    url=self.settings.base_url
                ),
                detail=exc.detail,
            ) from exc
        if not isinstance(body, Mapping):
            raise BadConfiguration(
                _("No Kaufland seller API answers at {url}. Check the address.").format(
                    url=self.settings.base_url
                ),
                detail="storefront answer is not an object",
            )

    async def list_threads(self, cursor: str | None) -> AsyncIterator[ThreadBatch]:
        state = _Cursor.decode(cursor)
        bulk: dict[str, list[Mapping[str, Any]]] | None = None
        if self.settings.message_source == "bulk":
            bulk = await self._messages_since(state.since)
        limit = str(max(1, min(self.settings.page_size, PAGE_SIZE_MAX)))
        while True:
            params = {"sort": "ts_updated_iso:desc", "limit": limit, "offset": str(state.offset)}
            if state.since is not None:
                params["ts_updated_from_iso"] = format_datetime(state.since)
            data, total, response = await self._page("/tickets", self._params(params))
            marker = state.marker or _server_time(response) or self._now()
            threads: list[RemoteThread] = []
            unreadable: list[str] = []
            for item in data:
                try:
                    if not isinstance(item, Mapping):
                        raise ValueError(f"ticket is a {type(item).__name__}")
                    thread = await self._complete(item, bulk, state.since is None)
                except ValueError as exc:
                    raw = json.dumps(item, ensure_ascii=False, sort_keys=True)
                    log.error("unreadable Kaufland ticket (%s): %.2000s", exc, raw)
                    unreadable.append(raw)
                    continue
                if thread is not None:
                    threads.append(thread)
            offset = state.offset + len(data)
            if data and (total is None or offset < total):
                state = _Cursor(since=state.since, offset=offset, marker=marker)
                yield ThreadBatch(
                    tuple(threads), state.encode(), last=False, unreadable=tuple(unreadable), total=total
                )
                continue
            new_since = marker - self._overlap
            if state.since is not None and state.since > new_since:
                new_since = state.since
            yield ThreadBatch(
                tuple(threads),
                _Cursor(since=new_since).encode(),
                last=True,
                unreadable=tuple(unreadable),
                total=total,
            )
            return

    async def _complete(
        self, item: Mapping[str, Any], bulk: dict[str, list[Mapping[str, Any]]] | None, everything: bool
    ) -> RemoteThread | None:
        ticket_id = str(item.get("id_ticket") or "")
        if not ticket_id:
            raise ValueError("ticket without id_ticket")
        if isinstance(item.get("messages"), list) and (
            "order_units" in item or not item.get("ids_order_units")
        ):
            return parse_ticket(item)  # the list already embeds what we need
        if bulk is not None:
            # Messages from GET /tickets/messages: all of them on a first listing, else only the new ones.
            return parse_ticket(item, messages=bulk.get(ticket_id, []), complete=everything)
        try:
            return await self.fetch_thread(ticket_id)
        except RemoteNotFound:
            log.warning("Kaufland ticket %s vanished between the list and its details", ticket_id)
            return parse_ticket(item, messages=[], complete=False)

    async def _messages_since(self, since: datetime | None) -> dict[str, list[Mapping[str, Any]]]:
        """Every message created at or after ``since`` from ``GET /tickets/messages``, by ticket."""
        grouped: dict[str, list[Mapping[str, Any]]] = {}
        offset = 0
        while True:
            params = {"sort": "ts_created_iso:asc", "limit": str(PAGE_SIZE_MAX), "offset": str(offset)}
            if since is not None:
                params["ts_created_from_iso"] = format_datetime(since)
            data, total, _response = await self._page("/tickets/messages", params)
            for item in data:
                if isinstance(item, Mapping) and item.get("id_ticket") not in (None, ""):
                    grouped.setdefault(str(item["id_ticket"]), []).append(item)
                else:
                    log.error(
                        "Kaufland message without id_ticket: %.2000s", json.dumps(item, ensure_ascii=False)
                    )
            offset += len(data)
            if not data or (total is not None and offset >= total):
                return grouped

    async def fetch_thread(self, thread_id: str) -> RemoteThread:
        path = f"/tickets/{quote(thread_id, safe='')}"
        try:
            body = await self._http.get_json(path, params={"embedded": EMBEDDED})
        except RemoteNotFound as exc:
            raise RemoteNotFound(self.name, _("this conversation"), detail=exc.detail) from exc
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, Mapping):
            raise UnreadableAnswer(
                self.name, detail=f"GET {path}: no data object", raw_body=json.dumps(body).encode()
            )
        try:
            return parse_ticket(data, complete=True)
        except ValueError as exc:
            raise UnreadableAnswer(
                self.name, detail=f"GET {path}: {exc}", raw_body=json.dumps(body).encode()[:65536]
            ) from exc

    async def download_attachment(self, attachment: RemoteAttachment) -> AttachmentContent:
        """A ticket file by its ``uri``: signed when it is on the API's own address, fetched without any
        credential when it points elsewhere (the key never goes to another host)."""
        uri = attachment.remote_id
        base = self._http.base_url
        try:
            if uri.startswith(base + "/"):
                response = await self._http.request("GET", uri[len(base) :], headers={"Accept": "*/*"})
            else:
                async with httpx.AsyncClient(
                    verify=tls_context(), timeout=self._timeout, follow_redirects=True
                ) as client:
                    response = await client.get(uri)
                if response.status_code == 404:
                    raise RemoteNotFound(self.name, _("this attachment"), detail=f"GET {uri} → 404")
                if not response.is_success:
                    raise TemporarilyUnavailable(self.name, detail=f"GET file → HTTP {response.status_code}")
        except RemoteNotFound as exc:
            raise RemoteNotFound(self.name, _("this attachment"), detail=exc.detail) from exc
        except httpx.HTTPError as exc:
            raise TemporarilyUnavailable(self.name, detail=f"GET file: {exc!r}") from exc
        content_type = response.headers.get("content-type")
        return AttachmentContent(
            name=attachment.name,
            data=response.content,
            mime_type=content_type.split(";")[0].strip() if content_type else attachment.mime_type,
        )

    # -- replying ---------------------------------------------------------------------------------------

    def reply_body(self, reply: OutgoingReply, *, interim_notice: bool = False) -> bytes:
        """The JSON of ``POST /tickets/{id}/messages`` for this reply (files base64-encoded)."""
        return json.dumps(
            {
                "text": reply.body,
                "interim_notice": interim_notice,
                "ticket_message_files": [
                    {
                        "filename": f.name,
                        "mime_type": f.mime_type,
                        "data": base64.b64encode(f.data).decode("ascii"),
                    }
                    for f in reply.files
                ],
            },
            ensure_ascii=False,
        ).encode("utf-8")

    async def send_reply(self, reply: OutgoingReply) -> SentReceipt:
        check = check_reply(self.name, self.limits, reply.body, [(f.name, len(f.data)) for f in reply.files])
        blocking = [msg for code, msg in check.problems if code is not LimitProblem.THREAD_FULL]
        if blocking:
            raise RejectedInput(self.name, " ".join(blocking), detail="refused before sending")
        path = f"/tickets/{quote(reply.thread_id, safe='')}/messages"
        try:
            response = await self._http.request(
                "POST",
                path,
                content=self.reply_body(reply),
                headers={"Content-Type": "application/json"},
                retry_safe=False,
            )
        except RemoteNotFound as exc:
            raise RemoteNotFound(self.name, _("this conversation"), detail=exc.detail) from exc
        remote_id: str | None = None
        try:
            body = json.loads(response.content) if response.content else None
            data = body.get("data") if isinstance(body, Mapping) else None
            if isinstance(data, Mapping) and data.get("id_ticket_message") not in (None, ""):
                remote_id = str(data["id_ticket_message"])
        except (ValueError, UnicodeDecodeError):
            log.warning("Kaufland accepted a reply (HTTP %d) with an unreadable answer", response.status_code)
        return SentReceipt(thread_id=reply.thread_id, remote_message_id=remote_id, accepted_at=self._now())

    async def close_thread(self, thread_id: str) -> None:
        """``PATCH /tickets/{id}/close``: closing twice changes nothing, so it is retried like a read."""
        path = f"/tickets/{quote(thread_id, safe='')}/close"
        try:
            await self._http.request("PATCH", path, retry_safe=True)
        except RemoteNotFound as exc:
            raise RemoteNotFound(self.name, _("this conversation"), detail=exc.detail) from exc

    async def find_sent(
        self,
        reply: OutgoingReply,
        *,
        claimed_at: datetime,
        known_message_ids: Collection[str] = (),
    ) -> SentLookup:
        """The seller's message with the same normalized text, dated after the claim (minus ``clock_skew``),
        that the store did not already know. Kaufland takes no idempotency key and answers a reply without its
        id: this lookup is how a crash between sending and recording is resolved."""
        try:
            thread = await self.fetch_thread(reply.thread_id)
        except RemoteNotFound as exc:
            return SentLookup(LookupOutcome.CANNOT_CONFIRM, detail=f"ticket not found: {exc.detail}")
        wanted = normalize_body(reply.body)
        earliest = claimed_at - self._skew
        known = set(known_message_ids)
        undated = False
        for message in thread.messages:
            if message.direction is not Direction.OUT or message.remote_id in known:
                continue
            if normalize_body(message.body) != wanted:
                continue
            if any(p.startswith("message.ts_created_iso") for p in message.problems):
                undated = True
                continue
            if message.sent_at >= earliest:
                return SentLookup(LookupOutcome.FOUND, message, detail=f"message {message.remote_id}")
        if undated:
            return SentLookup(LookupOutcome.CANNOT_CONFIRM, detail="a matching message has no readable date")
        return SentLookup(LookupOutcome.NOT_SENT, detail=f"{len(thread.messages)} messages checked")
