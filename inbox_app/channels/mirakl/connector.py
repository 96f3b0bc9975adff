"""The Mirakl seller ("shop") inbox: one API behind ~100 marketplaces (Carrefour, Fnac Darty, ManoMano…).

Endpoints (developer.mirakl.com, seller API, "Messages"; the official PHP SDK agrees):

- A01 ``GET /api/account``: the cheapest authenticated call, used to test a connection.
- M11 ``GET /api/inbox/threads``: ``updated_since`` (threads modified at or after), ``with_messages=true``
  (the last 100 messages of each thread, and the ``no_store_reply_needed`` actions), ``limit`` (≤ 100),
  seek paging: the answer's ``next_page_token`` goes back as ``page_token``, and then every other parameter
  is ignored.
- M10 ``GET /api/inbox/threads/{thread_id}``: one thread with all its messages.
- M13 ``GET /api/inbox/threads/{attachment_id}/download``: an attachment's bytes.
- M12 ``POST /api/inbox/threads/{thread_id}/message``: multipart, a ``message_input`` JSON part ``{body,
  to[{type, id?}], topic?}`` and one ``files`` part per file; 201 ``{message_id, thread_id}``. At most 1000
  messages per thread; body 3–50,000 characters; at most 50 files across all threads of one order.

``Authorization`` carries the shop API key as is (no "Bearer"); ``shop_id`` goes on every call when the key
serves several shops. Mirakl documents 429 with ``Retry-After`` (seconds) for its rate limits.

Cursor: JSON ``{"v": 1, "since": …, "page_token": …, "marker": …}``. Between pages it keeps the listing's
``since`` and the next page's token, so a crash resumes at the next page (and, if Mirakl no longer accepts that
token, restarts from ``since``: threads come again, nothing is skipped). The final cursor's ``since`` is the
server's own clock (its ``Date`` header) when the listing started, minus an overlap: a thread changed while
the pages were read is listed again next time instead of being missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any
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
    ParticipantKind,
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
from inbox_app.channels.http import DEFAULT_TIMEOUT, ApiClient, RetryPolicy
from inbox_app.channels.mirakl.parse import format_datetime, parse_datetime, parse_thread
from inbox_app.domain.channel_limits import limits_for
from inbox_app.domain.conversations import Direction
from inbox_app.i18n import _

__all__ = ["MIRAKL_LIMITS", "MiraklChannel", "MiraklSettings"]

log = logging.getLogger("inbox_app.channels.mirakl")

MIRAKL_LIMITS = ReplyLimits(
    attachments=limits_for("mirakl"),
    min_chars=3,
    max_chars=50_000,
    max_messages_per_thread=1000,
    max_attachments_per_entity=50,
)

THREADS = "/api/inbox/threads"
PAGE_SIZE_MAX = 100


@dataclass(frozen=True)
class MiraklSettings:
    base_url: str  # https://<operator>.mirakl.net
    api_key: str = field(repr=False)
    shop_id: str | None = None
    operator_name: str = "Mirakl"  # what the seller calls this marketplace ("Fnac ES"): shown as the channel
    page_size: int = PAGE_SIZE_MAX


@dataclass(frozen=True)
class _Cursor:
    since: datetime | None = None
    page_token: str | None = None
    marker: datetime | None = None  # server time when this listing started

    def encode(self) -> str:
        data: dict[str, Any] = {"v": 1}
        if self.since is not None:
            data["since"] = self.since.isoformat()
        if self.page_token is not None:
            data["page_token"] = self.page_token
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
            token = data.get("page_token")
            return cls(
                since=parse_datetime(data.get("since")),
                page_token=token if isinstance(token, str) and token else None,
                marker=parse_datetime(data.get("marker")),
            )
        except (ValueError, TypeError):
            # Never lose changes over a damaged cursor: list everything again (the store's upsert absorbs it).
            log.warning("unreadable Mirakl cursor %r: listing all threads again", text[:200])
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


def _filename(response: httpx.Response) -> str | None:
    value = response.headers.get("content-disposition")
    if not value:
        return None
    header = Message()
    header["content-disposition"] = value
    name = header.get_filename()
    return name or None


class MiraklChannel(Channel):
    """One Mirakl shop account. Not thread-safe: use it from one event loop."""

    kind = "mirakl"

    def __init__(
        self,
        settings: MiraklSettings,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        cursor_overlap: timedelta = timedelta(minutes=2),
        clock_skew: timedelta = timedelta(minutes=2),
    ) -> None:
        self.settings = settings
        self._now = now
        self._overlap = cursor_overlap
        self._skew = clock_skew
        params = {"shop_id": settings.shop_id} if settings.shop_id else {}
        self._http = ApiClient(
            settings.base_url,
            service=settings.operator_name,
            auth_headers={"Authorization": settings.api_key, "Accept": "application/json"},
            params=params,
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
        return self.settings.operator_name

    @property
    def limits(self) -> ReplyLimits:
        return MIRAKL_LIMITS

    @property
    def capabilities(self) -> ChannelCapabilities:
        # Mirakl offers shops no call to mark a thread read or closed.
        return ChannelCapabilities(reply_to_operator=True)

    @property
    def requests_sent(self) -> int:
        return self._http.requests_sent

    async def aclose(self) -> None:
        await self._http.aclose()

    def _classify(self, response: httpx.Response) -> ChannelError | None:
        if response.status_code == 403 and self.settings.shop_id:
            return AuthFailed(self.name, what="shop", detail=f"HTTP 403 with shop_id={self.settings.shop_id}")
        return None

    # -- reading ----------------------------------------------------------------------------------------

    async def test_connection(self) -> None:
        """A01 (shop information): names what failed (address, key, shop) through the typed error."""
        try:
            body = await self._http.get_json("/api/account")
        except (RemoteNotFound, RejectedInput) as exc:
            raise self._not_mirakl(exc.detail) from exc
        except UnreadableAnswer as exc:
            raise self._not_mirakl(exc.detail) from exc  # a web page, not an API
        if not isinstance(body, Mapping):
            raise self._not_mirakl("A01 answer is not an object")

    def _not_mirakl(self, detail: str) -> BadConfiguration:
        return BadConfiguration(
            _("No Mirakl seller API answers at {url}. Check the address.").format(url=self.settings.base_url),
            detail=detail,
        )

    async def list_threads(self, cursor: str | None) -> AsyncIterator[ThreadBatch]:
        state = _Cursor.decode(cursor)
        first = True
        while True:
            if state.page_token is not None:
                params = {"page_token": state.page_token}
            else:
                params = {"with_messages": "true", "limit": str(min(self.settings.page_size, PAGE_SIZE_MAX))}
                if state.since is not None:
                    params["updated_since"] = format_datetime(state.since)
            try:
                response = await self._http.request("GET", THREADS, params=params, expect_json=True)
            except RejectedInput as exc:
                if first and state.page_token is not None:
                    log.info("Mirakl refused a saved page token (%s): listing again from since", exc.detail)
                    state = _Cursor(since=state.since)
                    first = False
                    continue
                raise
            first = False
            marker = state.marker or _server_time(response) or self._now()
            body = response.extensions["inbox_app.parsed_json"]
            if not isinstance(body, Mapping):
                raise UnreadableAnswer(
                    self.name,
                    detail=f"M11 answer is not an object: {type(body).__name__}",
                    raw_body=response.content[:65536],
                )
            parsed, unreadable = self._parse_page(body)
            threads = [await self._complete(t) for t in parsed]
            next_token = body.get("next_page_token")
            if isinstance(next_token, str) and next_token:
                state = _Cursor(since=state.since, page_token=next_token, marker=marker)
                yield ThreadBatch(tuple(threads), state.encode(), last=False, unreadable=unreadable)
                continue
            new_since = marker - self._overlap
            if state.since is not None and state.since > new_since:
                new_since = state.since
            yield ThreadBatch(
                tuple(threads), _Cursor(since=new_since).encode(), last=True, unreadable=unreadable
            )
            return

    def _parse_page(self, body: Mapping[str, Any]) -> tuple[list[RemoteThread], tuple[str, ...]]:
        """The page's threads, and the raw JSON of any that cannot be read (no id): handed on, not dropped."""
        data = body.get("data")
        if not isinstance(data, list):
            raise UnreadableAnswer(
                self.name,
                detail="M11 answer without a data list",
                raw_body=json.dumps(body, ensure_ascii=False).encode()[:65536],
            )
        threads: list[RemoteThread] = []
        unreadable: list[str] = []
        for item in data:
            try:
                if not isinstance(item, Mapping):
                    raise ValueError(f"thread is a {type(item).__name__}")
                threads.append(parse_thread(item))
            except ValueError as exc:
                raw = json.dumps(item, ensure_ascii=False, sort_keys=True)
                log.error("unreadable Mirakl thread (%s): %.2000s", exc, raw)
                unreadable.append(raw)
        return threads, tuple(unreadable)

    async def _complete(self, thread: RemoteThread) -> RemoteThread:
        """M11 embeds only the last 100 messages: fetch the rest through M10."""
        if thread.messages_complete:
            return thread
        try:
            return await self.fetch_thread(thread.remote_id)
        except RemoteNotFound:
            # Gone between the two calls: keep what M11 gave (still marked incomplete) rather than stall.
            log.warning("Mirakl thread %s vanished before its older messages could be read", thread.remote_id)
            return thread

    async def fetch_thread(self, thread_id: str) -> RemoteThread:
        path = f"{THREADS}/{quote(thread_id, safe='')}"
        try:
            body = await self._http.get_json(path)
        except RemoteNotFound as exc:
            raise RemoteNotFound(self.name, _("this conversation"), detail=exc.detail) from exc
        if not isinstance(body, Mapping):
            raise TemporarilyUnavailable(self.name, detail="M10 answer is not an object")
        try:
            return parse_thread(body, complete=True)
        except ValueError as exc:
            raise TemporarilyUnavailable(
                self.name, detail=f"M10 answer unreadable: {exc}", raw_body=json.dumps(body).encode()
            ) from exc

    async def download_attachment(self, attachment: RemoteAttachment) -> AttachmentContent:
        path = f"{THREADS}/{quote(attachment.remote_id, safe='')}/download"
        try:
            response = await self._http.request("GET", path, headers={"Accept": "application/octet-stream"})
        except RemoteNotFound as exc:
            raise RemoteNotFound(self.name, _("this attachment"), detail=exc.detail) from exc
        content_type = response.headers.get("content-type")
        return AttachmentContent(
            name=attachment.name or _filename(response) or attachment.remote_id,
            data=response.content,
            mime_type=content_type.split(";")[0].strip() if content_type else attachment.mime_type,
        )

    # -- replying ---------------------------------------------------------------------------------------

    def _message_input(self, reply: OutgoingReply) -> dict[str, Any]:
        to: list[dict[str, str]] = []
        for target in reply.to:
            if target.kind not in (ParticipantKind.CUSTOMER, ParticipantKind.OPERATOR):
                raise RejectedInput(self.name, _("a reply goes to the customer or the operator"))
            entry = {"type": target.kind.value.upper()}
            if target.remote_id and target.kind is not ParticipantKind.OPERATOR:
                entry["id"] = target.remote_id  # the operator has no id in Mirakl
            to.append(entry)
        if not to:
            raise RejectedInput(self.name, _("a reply needs a recipient"))
        return {"body": reply.body, "to": to}

    async def send_reply(self, reply: OutgoingReply) -> SentReceipt:
        check = check_reply(self.name, self.limits, reply.body, [(f.name, len(f.data)) for f in reply.files])
        blocking = [msg for code, msg in check.problems if code is not LimitProblem.THREAD_FULL]
        if blocking:
            raise RejectedInput(self.name, " ".join(blocking), detail="refused before sending")
        message_input = json.dumps(self._message_input(reply), ensure_ascii=False).encode("utf-8")
        parts: list[tuple[str, tuple[str | None, bytes, str]]] = [
            ("message_input", (None, message_input, "application/json"))
        ]
        parts.extend(("files", (f.name, f.data, f.mime_type)) for f in reply.files)
        path = f"{THREADS}/{quote(reply.thread_id, safe='')}/message"
        try:
            response = await self._http.request("POST", path, files=parts, retry_safe=False)
        except RemoteNotFound as exc:
            raise RemoteNotFound(self.name, _("this conversation"), detail=exc.detail) from exc
        remote_id: str | None = None
        try:
            body = json.loads(response.content)
            if isinstance(body, Mapping) and body.get("message_id") not in (None, ""):
                remote_id = str(body["message_id"])
        except (ValueError, UnicodeDecodeError):
            # 201 means accepted; an unreadable confirmation does not undo that.
            log.warning("Mirakl accepted a reply (HTTP %d) with an unreadable answer", response.status_code)
        return SentReceipt(thread_id=reply.thread_id, remote_message_id=remote_id, accepted_at=self._now())

    async def find_sent(
        self,
        reply: OutgoingReply,
        *,
        claimed_at: datetime,
        known_message_ids: Collection[str] = (),
    ) -> SentLookup:
        """Look in the thread (M10, all messages) for the shop's message with the same text and files.

        M12 takes no idempotency key and nothing is hidden in the body, so the reply is recognised by its
        normalized text (and attachment names) among the shop's messages dated after the claim, minus
        ``clock_skew`` for the difference between our clock and Mirakl's. ``known_message_ids`` (messages
        already stored before the claim) are never taken for it.
        """
        try:
            thread = await self.fetch_thread(reply.thread_id)
        except RemoteNotFound as exc:
            return SentLookup(LookupOutcome.CANNOT_CONFIRM, detail=f"thread not found: {exc.detail}")
        wanted = normalize_body(reply.body)
        wanted_files = sorted(f.name for f in reply.files)
        earliest = claimed_at - self._skew
        known = set(known_message_ids)
        undated = False
        for message in thread.messages:
            if message.direction is not Direction.OUT or message.remote_id in known:
                continue
            if normalize_body(message.body) != wanted:
                continue
            if message.attachments and sorted(a.name for a in message.attachments) != wanted_files:
                continue
            if any(p.startswith("message.date_created") for p in message.problems):
                undated = True
                continue
            if message.sent_at >= earliest:
                return SentLookup(LookupOutcome.FOUND, message, detail=f"message {message.remote_id}")
        if undated:
            return SentLookup(LookupOutcome.CANNOT_CONFIRM, detail="a matching message has no readable date")
        return SentLookup(LookupOutcome.NOT_SENT, detail=f"{len(thread.messages)} messages checked")
