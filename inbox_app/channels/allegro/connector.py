"""The Allegro message center ("Centrum wiadomości") over Allegro's REST API.

Endpoints (developer.allegro.pl, "Message Center"; the generated public SDKs agree):

- ``GET /me``: the cheapest authenticated call, used to test a connection (and to learn the seller's login).
- ``GET /messaging/threads?limit&offset``: threads, newest activity first (``limit`` ≤ 20); a thread is
  ``{id, read, lastMessageDateTime, interlocutor{login}}``. ``GET /messaging/threads/{id}``: one of them.
- ``GET /messaging/threads/{id}/messages?limit&offset&before&after``: its messages, newest first (``limit``
  ≤ 20; ``after``/``before`` filter on ``createdAt``, exclusive; ``before`` cannot be combined with offset).
- ``POST /messaging/message-attachments`` ``{filename, size}`` → ``{id}`` (at most 5 MiB; Location header
  when Allegro gives one), then ``PUT /messaging/message-attachments/{id}`` with the file's bytes and its own
  type (PNG, GIF, BMP, TIFF, JPEG, PDF), then ``POST /messaging/threads/{id}/messages``
  ``{text, attachments[{id}]}`` → 201 with the message.
- ``GET /messaging/message-attachments/{id}``: an attachment's bytes (``Accept: */*``: the vendor JSON type
  is refused with 406 on this binary resource).
- ``PUT /messaging/threads/{id}/read`` ``{read: true}``.

Every JSON call carries ``Accept`` and ``Content-Type: application/vnd.allegro.public.v1+json`` (406 / 415
otherwise) and ``Authorization: Bearer <access token>``; errors are ``{"errors": [{code, message, details,
path, userMessage}]}``. Allegro allows 9000 requests a minute per client; over that it answers 429 and blocks
the client for a minute: :class:`_RateBudget` keeps the channel under the limit and a 429 becomes
:class:`RateLimited` with the vendor's ``Retry-After`` (60 s when it gives none).

Cursor: JSON ``{"v": 1, "since": …, "offset": …, "marker": …}``. The thread list has no "changed since"
filter, but it is sorted by ``lastMessageDateTime`` descending: a listing walks the pages from the top and
stops at the first page whose oldest thread is older than ``since``. Between pages the cursor keeps ``since``,
the next ``offset`` and the listing's ``marker`` (Allegro's clock, from its ``Date`` header, when the listing
started), so a crash resumes at the next page with the same bounds. The final cursor's ``since`` is the marker
minus an overlap: a thread that moved to the top while the pages were read (and so was skipped by the offset
shift) is newer than the marker and is listed next time; each later page starts ``PAGE_OVERLAP`` threads
before the previous one ended, so a thread deleted above the offset (shifting the rest up) skips nothing.
Threads whose messages were fetched are always whole
(``messages_complete``), so the store never sees a partial thread.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from inbox_app.channels.allegro.auth import AllegroAuth, ReconnectAllegro, TokenStore
from inbox_app.channels.allegro.parse import format_datetime, parse_datetime, parse_thread
from inbox_app.channels.base import (
    AttachmentContent,
    AuthFailed,
    BadConfiguration,
    Channel,
    ChannelCapabilities,
    ChannelError,
    LimitProblem,
    LookupOutcome,
    OutgoingFile,
    OutgoingReply,
    RateLimited,
    RejectedInput,
    RemoteAttachment,
    RemoteNotFound,
    RemoteThread,
    ReplyLimits,
    SentLookup,
    SentReceipt,
    ThreadBatch,
    UnreadableAnswer,
    check_reply,
    normalize_body,
)
from inbox_app.channels.http import DEFAULT_TIMEOUT, ApiClient, RetryPolicy, parse_retry_after
from inbox_app.domain.channel_limits import limits_for
from inbox_app.domain.conversations import Direction
from inbox_app.i18n import _

__all__ = ["ALLEGRO_LIMITS", "MEDIA_TYPE", "AllegroChannel", "AllegroSettings"]

log = logging.getLogger("inbox_app.channels.allegro")

MEDIA_TYPE = "application/vnd.allegro.public.v1+json"
THREADS = "/messaging/threads"
ATTACHMENTS = "/messaging/message-attachments"
PAGE_SIZE_MAX = 20
PAGE_OVERLAP = 2  # each later page starts this many threads early: a thread deleted meanwhile skips nothing
RATE_PER_MINUTE = 9000
BLOCKED_FOR = 60.0  # a 429 blocks the client for a minute (Allegro's documentation)

#: File types the attachment upload takes, by extension.
UPLOAD_TYPES = {
    "png": "image/png",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "pdf": "application/pdf",
}

ALLEGRO_LIMITS = ReplyLimits(
    attachments=limits_for("allegro"),  # 5 MiB a file
    min_chars=1,
    max_chars=2000,
    allowed_extensions=frozenset(UPLOAD_TYPES),
)


@dataclass(frozen=True)
class AllegroSettings:
    client_id: str
    client_secret: str = field(repr=False)
    base_url: str = "https://api.allegro.pl"
    auth_url: str = "https://allegro.pl"
    account_name: str = "Allegro"
    seller_login: str | None = None  # learnt by test_connection; only a fallback for direction
    page_size: int = PAGE_SIZE_MAX
    rate_per_minute: int = RATE_PER_MINUTE
    concurrency: int = 4  # threads whose messages are read at the same time


@dataclass(frozen=True)
class _Cursor:
    since: datetime | None = None
    offset: int = 0
    marker: datetime | None = None

    def encode(self) -> str:
        data: dict[str, Any] = {"v": 1}
        if self.since is not None:
            data["since"] = self.since.isoformat()
        if self.offset:
            data["offset"] = self.offset
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
            if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
                raise ValueError("bad offset")
            return cls(
                since=parse_datetime(data.get("since")),
                offset=offset,
                marker=parse_datetime(data.get("marker")),
            )
        except (ValueError, TypeError):
            log.warning("unreadable Allegro cursor %r: listing all threads again", text[:200])
            return cls()


class _TokenRefused(AuthFailed):
    """A 401 from the API: the access token expired or was revoked; refresh, then try once more."""


class _RateBudget:
    """At most ``limit`` requests in any ``window`` seconds (a sliding log of send times)."""

    def __init__(
        self,
        limit: int,
        *,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: collections.deque[float] = collections.deque()
        self.waited = 0.0
        self.peak = 0  # most requests seen in one window (benchmarks report it)

    async def take(self) -> None:
        while True:
            now = self._clock()
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            if len(self._sent) < self.limit:
                self._sent.append(now)
                self.peak = max(self.peak, len(self._sent))
                return
            wait = self._sent[0] + self.window - now
            self.waited += wait
            await self._sleep(max(wait, 0.001))


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
    return header.get_filename() or None


def upload_type(file: OutgoingFile) -> str:
    """The Content-Type of an upload: the file's own when Allegro takes it, else from its extension."""
    if file.mime_type in UPLOAD_TYPES.values():
        return file.mime_type
    ext = file.name.rsplit(".", 1)[-1].casefold() if "." in file.name else ""
    return UPLOAD_TYPES.get(ext, file.mime_type)


class AllegroChannel(Channel):
    """One Allegro seller account. Not thread-safe: use it from one event loop."""

    kind = "allegro"

    def __init__(
        self,
        settings: AllegroSettings,
        tokens: TokenStore,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        cursor_overlap: timedelta = timedelta(minutes=2),
        clock_skew: timedelta = timedelta(minutes=2),
    ) -> None:
        self.settings = settings
        self._now = now
        self._overlap = cursor_overlap
        self._skew = clock_skew
        self._seller_login = settings.seller_login
        self.auth = AllegroAuth(
            auth_url=settings.auth_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            store=tokens,
            timeout=timeout,
            transport=transport,
            now=now,
            sleep=sleep,
            monotonic=monotonic,
        )
        self.budget = _RateBudget(settings.rate_per_minute, clock=monotonic, sleep=sleep)
        self._http = ApiClient(
            settings.base_url,
            service=settings.account_name,
            auth_headers={"Accept": MEDIA_TYPE},
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
        return self.settings.account_name

    @property
    def limits(self) -> ReplyLimits:
        return ALLEGRO_LIMITS

    @property
    def capabilities(self) -> ChannelCapabilities:
        return ChannelCapabilities(mark_read=True)

    @property
    def requests_sent(self) -> int:
        """API requests (retries included) plus sign-in requests."""
        return self._http.requests_sent + self.auth.requests_sent

    @property
    def seller_login(self) -> str | None:
        return self._seller_login

    async def aclose(self) -> None:
        await self._http.aclose()
        await self.auth.aclose()

    def _classify(self, response: httpx.Response) -> ChannelError | None:
        where = f"{response.request.method} {response.request.url.path} → HTTP {response.status_code}"
        if response.status_code == 401:
            return _TokenRefused(self.name, detail=where)
        if response.status_code == 429:
            wait = parse_retry_after(response.headers.get("retry-after"))
            return RateLimited(self.name, BLOCKED_FOR if wait is None else wait, detail=where)
        return None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: object = None,
        content: bytes | None = None,
        content_type: str | None = None,
        accept: str | None = None,
        retry_safe: bool | None = None,
        expect_json: bool = False,
    ) -> httpx.Response:
        """One API request with a fresh bearer token; a 401 refreshes the token and tries once more."""
        if json_body is not None:
            content = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            content_type = MEDIA_TYPE
        token = await self.auth.access_token()
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {token}"}
            if content_type is not None:
                headers["Content-Type"] = content_type
            if accept is not None:
                headers["Accept"] = accept
            await self.budget.take()
            try:
                return await self._http.request(
                    method,
                    path,
                    params=params,
                    content=content,
                    headers=headers,
                    retry_safe=retry_safe,
                    expect_json=expect_json,
                )
            except _TokenRefused as exc:
                if attempt == 2:
                    raise ReconnectAllegro(detail=f"refused after a refresh: {exc.detail}") from exc
                log.info("Allegro refused the access token (%s): refreshing", exc.detail)
                token = (await self.auth.refresh(stale=token)).access_token
        raise AssertionError("unreachable")

    async def _get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        response = await self._call("GET", path, params=params, expect_json=True)
        return response.extensions["inbox_app.parsed_json"]

    # -- reading ----------------------------------------------------------------------------------------

    async def test_connection(self) -> None:
        """``GET /me``; remembers the seller's login. Names a wrong address or refused sign-in."""
        try:
            body = await self._get_json("/me")
        except (RemoteNotFound, RejectedInput, UnreadableAnswer) as exc:
            raise BadConfiguration(
                _("No Allegro API answers at {url}. Check the address.").format(url=self.settings.base_url),
                detail=exc.detail,
            ) from exc
        if not isinstance(body, Mapping):
            raise BadConfiguration(
                _("No Allegro API answers at {url}. Check the address.").format(url=self.settings.base_url),
                detail="/me answer is not an object",
            )
        login = body.get("login")
        if isinstance(login, str) and login:
            self._seller_login = login

    async def list_threads(self, cursor: str | None) -> AsyncIterator[ThreadBatch]:
        state = _Cursor.decode(cursor)
        limit = max(1, min(self.settings.page_size, PAGE_SIZE_MAX))
        overlap = min(PAGE_OVERLAP, limit - 1)
        offset = state.offset
        marker = state.marker
        done: set[str] = set()  # threads already handed over in this walk (the overlap brings some back)
        while True:
            start = max(0, offset - overlap)
            response = await self._call(
                "GET", THREADS, params={"limit": str(limit), "offset": str(start)}, expect_json=True
            )
            if marker is None:
                marker = _server_time(response) or self._now()
            body = response.extensions["inbox_app.parsed_json"]
            items = body.get("threads") if isinstance(body, Mapping) else None
            if not isinstance(items, list):
                raise UnreadableAnswer(
                    self.name, detail="thread list without 'threads'", raw_body=response.content[:65536]
                )
            wanted: list[Mapping[str, Any]] = []
            unreadable: list[str] = []
            reached_old = False
            for item in items:
                raw = json.dumps(item, ensure_ascii=False, sort_keys=True)
                if not isinstance(item, Mapping) or not isinstance(item.get("id"), str) or not item["id"]:
                    if raw not in done:
                        log.error("unreadable Allegro thread: %.2000s", raw)
                        unreadable.append(raw)
                        done.add(raw)
                    continue
                if item["id"] in done:
                    continue
                done.add(item["id"])
                try:
                    last_at = parse_datetime(item.get("lastMessageDateTime"))
                except ValueError:
                    last_at = None  # cannot tell its age: take it
                if state.since is not None and last_at is not None and last_at < state.since:
                    reached_old = True
                    continue
                wanted.append(item)
            threads = [t for t in await self._whole_threads(wanted) if t is not None]
            offset = start + len(items)
            if items and not reached_old and len(items) >= limit:
                next_state = _Cursor(since=state.since, offset=offset, marker=marker)
                yield ThreadBatch(
                    tuple(threads), next_state.encode(), last=False, unreadable=tuple(unreadable)
                )
                continue
            new_since = marker - self._overlap
            if state.since is not None and state.since > new_since:
                new_since = state.since
            yield ThreadBatch(
                tuple(threads), _Cursor(since=new_since).encode(), last=True, unreadable=tuple(unreadable)
            )
            return

    async def _messages(self, thread_id: str, *, after: datetime | None = None) -> list[Mapping[str, Any]]:
        """All messages of a thread (or those created after ``after``), page by page, each once."""
        path = f"{THREADS}/{quote(thread_id, safe='')}/messages"
        seen: dict[str, Mapping[str, Any]] = {}
        anonymous: list[Mapping[str, Any]] = []
        offset = 0
        while True:
            params = {"limit": str(PAGE_SIZE_MAX), "offset": str(offset)}
            if after is not None:
                params["after"] = format_datetime(after)
            try:
                body = await self._get_json(path, params)
            except RemoteNotFound as exc:
                raise RemoteNotFound(self.name, _("this conversation"), detail=exc.detail) from exc
            page = body.get("messages") if isinstance(body, Mapping) else None
            if not isinstance(page, list):
                raise UnreadableAnswer(
                    self.name,
                    detail=f"messages of {thread_id}: no 'messages' list",
                    raw_body=json.dumps(body, ensure_ascii=False).encode()[:65536],
                )
            for message in page:
                if not isinstance(message, Mapping):
                    continue
                message_id = message.get("id")
                if isinstance(message_id, str) and message_id:
                    seen[message_id] = message
                else:
                    anonymous.append(message)
            offset += len(page)
            if len(page) < PAGE_SIZE_MAX:
                return [*seen.values(), *anonymous]

    async def _whole_threads(self, items: list[Mapping[str, Any]]) -> list[RemoteThread | None]:
        """The page's threads with their messages, fetched ``concurrency`` at a time, in the page's order;
        None for a thread deleted meanwhile."""
        limit = asyncio.Semaphore(max(1, self.settings.concurrency))

        async def one(item: Mapping[str, Any]) -> RemoteThread | None:
            async with limit:
                try:
                    return await self._whole_thread(item)
                except RemoteNotFound:
                    log.warning("Allegro thread %s vanished while it was being read", item["id"])
                    return None

        tasks = [asyncio.ensure_future(one(item)) for item in items]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            # The first error goes up as itself (a typed ChannelError); the other fetches are stopped.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _whole_thread(self, item: Mapping[str, Any]) -> RemoteThread:
        thread_id = str(item["id"])
        messages = await self._messages(thread_id)
        return parse_thread(item, messages, complete=True, seller_login=self._seller_login)

    async def fetch_thread(self, thread_id: str) -> RemoteThread:
        try:
            item = await self._get_json(f"{THREADS}/{quote(thread_id, safe='')}")
        except RemoteNotFound as exc:
            raise RemoteNotFound(self.name, _("this conversation"), detail=exc.detail) from exc
        if not isinstance(item, Mapping) or not item.get("id"):
            raise UnreadableAnswer(
                self.name, detail="thread answer without id", raw_body=json.dumps(item).encode()[:65536]
            )
        return await self._whole_thread(item)

    async def download_attachment(self, attachment: RemoteAttachment) -> AttachmentContent:
        path = f"{ATTACHMENTS}/{quote(attachment.remote_id, safe='')}"
        try:
            response = await self._call("GET", path, accept="*/*")
        except RemoteNotFound as exc:
            raise RemoteNotFound(self.name, _("this attachment"), detail=exc.detail) from exc
        content_type = response.headers.get("content-type")
        return AttachmentContent(
            name=attachment.name or _filename(response) or attachment.remote_id,
            data=response.content,
            mime_type=content_type.split(";")[0].strip() if content_type else attachment.mime_type,
        )

    async def mark_read(self, thread_id: str) -> None:
        try:
            await self._call(
                "PUT",
                f"{THREADS}/{quote(thread_id, safe='')}/read",
                json_body={"read": True},
                retry_safe=True,
            )
        except RemoteNotFound as exc:
            raise RemoteNotFound(self.name, _("this conversation"), detail=exc.detail) from exc

    # -- replying ---------------------------------------------------------------------------------------

    async def _upload(self, file: OutgoingFile) -> str:
        """Declare the file, then upload its bytes; the attachment id to name in the message.

        Both steps may be repeated safely: a declaration that is never used expires on Allegro's side.
        """
        response = await self._call(
            "POST",
            ATTACHMENTS,
            json_body={"filename": file.name, "size": len(file.data)},
            retry_safe=True,
            expect_json=True,
        )
        body = response.extensions["inbox_app.parsed_json"]
        attachment_id = body.get("id") if isinstance(body, Mapping) else None
        if not isinstance(attachment_id, str) or not attachment_id:
            raise UnreadableAnswer(
                self.name, detail="attachment declaration without id", raw_body=response.content[:4096]
            )
        target = f"{ATTACHMENTS}/{quote(attachment_id, safe='')}"
        location = response.headers.get("location")
        if location:
            # Allegro may name the upload address: use it when it is on the API's own host (never send the
            # token elsewhere).
            loc = urlsplit(location)
            base = urlsplit(self._http.base_url)
            if not loc.netloc or (loc.scheme, loc.netloc) == (base.scheme, base.netloc):
                target = loc.path + (f"?{loc.query}" if loc.query else "")
        await self._call("PUT", target, content=file.data, content_type=upload_type(file), retry_safe=True)
        return attachment_id

    async def send_reply(self, reply: OutgoingReply) -> SentReceipt:
        check = check_reply(self.name, self.limits, reply.body, [(f.name, len(f.data)) for f in reply.files])
        blocking = [msg for code, msg in check.problems if code is not LimitProblem.THREAD_FULL]
        if blocking:
            raise RejectedInput(self.name, " ".join(blocking), detail="refused before sending")
        ids = [await self._upload(f) for f in reply.files]
        payload: dict[str, Any] = {"text": reply.body}
        if ids:
            payload["attachments"] = [{"id": i} for i in ids]
        path = f"{THREADS}/{quote(reply.thread_id, safe='')}/messages"
        try:
            response = await self._call("POST", path, json_body=payload, retry_safe=False)
        except RemoteNotFound as exc:
            raise RemoteNotFound(self.name, _("this conversation"), detail=exc.detail) from exc
        remote_id: str | None = None
        try:
            body = json.loads(response.content)
            if isinstance(body, Mapping) and isinstance(body.get("id"), str):
                remote_id = body["id"]
        except (ValueError, UnicodeDecodeError):
            log.warning("Allegro accepted a reply (HTTP %d) with an unreadable answer", response.status_code)
        return SentReceipt(thread_id=reply.thread_id, remote_message_id=remote_id, accepted_at=self._now())

    async def find_sent(
        self,
        reply: OutgoingReply,
        *,
        claimed_at: datetime,
        known_message_ids: Collection[str] = (),
    ) -> SentLookup:
        """Look among the seller's messages created after the claim (``after``, minus ``clock_skew``) for
        one with the same normalized text and attachment names. Allegro takes no idempotency key."""
        earliest = claimed_at - self._skew
        try:
            raw_messages = await self._messages(reply.thread_id, after=earliest)
        except RemoteNotFound as exc:
            return SentLookup(LookupOutcome.CANNOT_CONFIRM, detail=f"thread not found: {exc.detail}")
        thread = parse_thread({"id": reply.thread_id}, raw_messages, seller_login=self._seller_login)
        wanted = normalize_body(reply.body)
        wanted_files = sorted(f.name for f in reply.files)
        known = set(known_message_ids)
        undated = False
        for message in thread.messages:
            if message.direction is not Direction.OUT or message.remote_id in known:
                continue
            if normalize_body(message.body) != wanted:
                continue
            if sorted(a.name for a in message.attachments) != wanted_files:
                continue
            if any(p.startswith("message.createdAt") for p in message.problems):
                undated = True
                continue
            if message.sent_at >= earliest:
                return SentLookup(LookupOutcome.FOUND, message, detail=f"message {message.remote_id}")
        if undated:
            return SentLookup(LookupOutcome.CANNOT_CONFIRM, detail="a matching message has no readable date")
        return SentLookup(LookupOutcome.NOT_SENT, detail=f"{len(thread.messages)} messages checked")
