"""eBay buyer messages through the Commerce Message API (REST, ``/commerce/message/v1``).

Endpoints (developer.ebay.com, "Message API", OpenAPI ``commerce_message_v1_oas3``):

- ``GET /conversation?conversation_type=FROM_MEMBERS|FROM_EBAY`` (required), ``limit`` (≤ 50), ``offset``,
  ``start_time`` (FROM_MEMBERS only). Answer ``{conversations[], href, limit, offset, next, prev, total}``;
  a conversation: ``conversationId, conversationStatus, conversationTitle, conversationType, createdDate,
  latestMessage{…message}, referenceId (the listing id), referenceType, unreadCount``.
- ``GET /conversation/{id}?conversation_type=…`` with ``limit``/``offset``: ``messages[]{messageId,
  createdDate, messageBody, subject, senderUsername, recipientUsername, readStatus, messageMedia[]{mediaName,
  mediaType IMAGE|PDF|DOC|TXT, mediaUrl}}``. Neither order id nor sender role: the direction comes from
  comparing ``senderUsername`` with the seller's own user name (case-insensitively).
- ``POST /send_message`` (201): ``{conversationId, messageText (≤ 2000)}``; files cannot be uploaded, only
  HTTPS links (up to 5) may be given.
- ``POST /update_conversation`` (204): ``{conversationId, conversationType, read: true}``.
- Errors ``{errors[{errorId, domain, category, message, longMessage, parameters[]}]}``; 401 with errorId 1001
  is an invalid or expired access token: refresh once, then try once more.

Thread ids: a member conversation keeps eBay's ``conversationId``; a conversation from eBay itself is
``FROM_EBAY:<conversationId>`` (every call needs the type, and eBay's own messages cannot be answered).
The listing id (``referenceId`` when ``referenceType`` is LISTING) stays in the thread's raw JSON and is read
back with :func:`listing_id`; it is never taken for an order id.

Cursor: JSON ``{"v": 1, "since", "marker", "type", "offset"}``. ``type``/``offset`` say which page comes next,
so a crash resumes there (an offset list may have shifted meanwhile: conversations are listed again, none
skipped, because the final ``since`` is eBay's own clock — its ``Date`` header — when the listing started,
minus an overlap). ``start_time=since`` narrows the FROM_MEMBERS listing; FROM_EBAY has no time filter, so its
pages are compared with ``latestMessage.createdDate`` here and only changed ones are fetched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from inbox_app.channels.base import (
    AttachmentContent,
    AuthFailed,
    BadConfiguration,
    Channel,
    ChannelCapabilities,
    LookupOutcome,
    OutgoingReply,
    Participant,
    ParticipantKind,
    RejectedInput,
    RemoteAttachment,
    RemoteMessage,
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
from inbox_app.channels.ebay.auth import EbayReconnect, TokenManager, TokenStore
from inbox_app.channels.ebay.ratelimit import TokenBucket
from inbox_app.channels.http import DEFAULT_TIMEOUT, ApiClient, RetryPolicy, check_base_url, tls_context
from inbox_app.domain.channel_limits import limits_for
from inbox_app.domain.conversations import Direction
from inbox_app.i18n import _, format_number

__all__ = ["EBAY_LIMITS", "EbayChannel", "EbaySettings", "listing_id", "parse_datetime"]

log = logging.getLogger("inbox_app.channels.ebay")

EBAY_LIMITS = ReplyLimits(attachments=limits_for("ebay"), min_chars=1, max_chars=2000)
MAX_LINKS = 5
API = "/commerce/message/v1"
PAGE_SIZE_MAX = 50
MEMBERS = "FROM_MEMBERS"
FROM_EBAY = "FROM_EBAY"
_EBAY_PREFIX = "FROM_EBAY:"
_MEDIA_TYPES = {
    "IMAGE": "image/*",
    "PDF": "application/pdf",
    "DOC": "application/msword",
    "TXT": "text/plain",
}
Json = Mapping[str, Any]


@dataclass(frozen=True)
class EbaySettings:
    username: str  # the seller's eBay user name: messages from it are ours (OUT)
    client_id: str
    client_secret: str = field(repr=False)
    base_url: str = "https://api.ebay.com"  # the token endpoint is on the same host
    page_size: int = PAGE_SIZE_MAX
    rate_per_second: float = 4.0  # client-side pacing (see ratelimit.py)
    burst: int = 8
    # start_time narrows FROM_MEMBERS to conversations active since the cursor. Should eBay ever apply it to
    # the creation date only, False lists every page and compares latestMessage dates here instead.
    trust_start_time: bool = True


def parse_datetime(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _format(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def listing_id(thread: RemoteThread) -> str | None:
    """The eBay listing (item) id a conversation is about, from the thread's raw JSON."""
    try:
        data = json.loads(thread.raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    ref = data.get("referenceId")
    kind = str(data.get("referenceType") or "LISTING").upper()
    return str(ref) if ref not in (None, "") and kind == "LISTING" else None


def split_thread_id(thread_id: str) -> tuple[str, str]:
    if thread_id.startswith(_EBAY_PREFIX):
        return thread_id[len(_EBAY_PREFIX) :], FROM_EBAY
    return thread_id, MEMBERS


def _thread_id(conversation_id: str, kind: str) -> str:
    return _EBAY_PREFIX + conversation_id if kind == FROM_EBAY else conversation_id


@dataclass(frozen=True)
class _Cursor:
    since: datetime | None = None
    marker: datetime | None = None
    kind: str = MEMBERS
    offset: int = 0

    def encode(self) -> str:
        data: dict[str, Any] = {"v": 1, "type": self.kind, "offset": self.offset}
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
            kind = data.get("type", MEMBERS)
            if kind not in (MEMBERS, FROM_EBAY):
                raise ValueError(f"unknown type {kind!r}")
            offset = int(data.get("offset", 0))
            return cls(
                parse_datetime(data.get("since")), parse_datetime(data.get("marker")), kind, max(0, offset)
            )
        except (ValueError, TypeError):
            log.warning("unreadable eBay cursor %r: listing all conversations again", text[:200])
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


def _raw(obj: Json) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class EbayChannel(Channel):
    """One eBay seller account. Not thread-safe: use it from one event loop."""

    kind = "ebay"

    def __init__(
        self,
        settings: EbaySettings,
        tokens: TokenStore,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        cursor_overlap: timedelta = timedelta(minutes=2),
        clock_skew: timedelta = timedelta(minutes=2),
        bucket: TokenBucket | None = None,
    ) -> None:
        if not settings.username.strip():
            raise BadConfiguration(_("Enter your eBay user name."), detail="empty username")
        self.settings = settings
        self._now = now
        self._overlap = cursor_overlap
        self._skew = clock_skew
        self._timeout = timeout
        self._transport = transport
        self._me = settings.username.strip().casefold()
        self.bucket = bucket or TokenBucket(settings.rate_per_second, settings.burst, sleep=sleep)
        self.tokens = TokenManager(
            settings.base_url,
            settings.client_id,
            settings.client_secret,
            tokens,
            timeout=timeout,
            retry=retry,
            transport=transport,
            sleep=sleep,
            now=now,
        )
        self._http = ApiClient(
            settings.base_url + API,
            service="eBay",
            auth_headers={"Accept": "application/json"},
            timeout=timeout,
            retry=retry,
            transport=transport,
            sleep=sleep,
            rng=rng,
        )

    # -- description ------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return "eBay"

    @property
    def limits(self) -> ReplyLimits:
        return EBAY_LIMITS

    @property
    def capabilities(self) -> ChannelCapabilities:
        return ChannelCapabilities(mark_read=True)

    @property
    def requests_sent(self) -> int:
        """Every HTTP attempt: API calls and token requests."""
        return self._http.requests_sent + self.tokens.requests_sent

    async def aclose(self) -> None:
        await self._http.aclose()
        await self.tokens.aclose()

    # -- calls ------------------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Json | None = None,
        expect_json: bool = True,
    ) -> httpx.Response:
        """One API call with the current access token; after a 401 the token is refreshed and the call is
        made once more (a 401 means eBay did not process the request, so even a POST is safe to repeat)."""
        for attempt in (1, 2):
            token = await self.tokens.access_token()
            headers = {"Authorization": f"Bearer {token}"}
            content = None
            if body is not None:
                headers["Content-Type"] = "application/json"
                content = json.dumps(body, ensure_ascii=False).encode("utf-8")
            await self.bucket.acquire()
            try:
                return await self._http.request(
                    method, path, params=params, headers=headers, content=content, expect_json=expect_json
                )
            except EbayReconnect:
                raise
            except AuthFailed as exc:
                if attempt == 2 or " 403" in exc.detail:
                    raise
                log.info("eBay refused the access token (%s): refreshing it", exc.detail)
                await self.tokens.refresh(stale=token)
        raise AssertionError("unreachable")

    async def _json(self, path: str, params: Mapping[str, str]) -> tuple[Json, httpx.Response]:
        response = await self._call("GET", path, params=params)
        body = response.extensions["inbox_app.parsed_json"]
        if not isinstance(body, Mapping):
            raise UnreadableAnswer("eBay", detail=f"{path}: not an object", raw_body=response.content[:65536])
        return body, response

    async def test_connection(self) -> None:
        """One page of one conversation: proves the address, the client keys and the seller's consent."""
        await self._json("/conversation", {"conversation_type": MEMBERS, "limit": "1"})

    # -- reading ----------------------------------------------------------------------------------------

    async def list_threads(self, cursor: str | None) -> AsyncIterator[ThreadBatch]:
        state = _Cursor.decode(cursor)
        limit = max(1, min(self.settings.page_size, PAGE_SIZE_MAX))
        while True:
            params = {"conversation_type": state.kind, "limit": str(limit), "offset": str(state.offset)}
            if state.kind == MEMBERS and state.since is not None and self.settings.trust_start_time:
                params["start_time"] = _format(state.since)
            body, response = await self._json("/conversation", params)
            marker = state.marker or _server_time(response) or self._now()
            items = body.get("conversations")
            if items is None:
                items = []
            if not isinstance(items, list):
                raise UnreadableAnswer(
                    "eBay", detail="conversations is not a list", raw_body=response.content[:65536]
                )
            threads: list[RemoteThread] = []
            unreadable: list[str] = []
            for item in items:
                if not isinstance(item, Mapping) or not item.get("conversationId"):
                    raw = json.dumps(item, ensure_ascii=False, sort_keys=True)
                    log.error("unreadable eBay conversation: %.2000s", raw)
                    unreadable.append(raw)
                    continue
                if state.since is not None and not self._changed_since(item, state.since):
                    continue
                try:
                    threads.append(await self._fetch(str(item["conversationId"]), state.kind, item))
                except RemoteNotFound:
                    log.warning("eBay conversation %s vanished while listing", item["conversationId"])
            total = body.get("total")
            next_offset = state.offset + len(items)
            more = bool(body.get("next")) or (
                isinstance(total, int) and next_offset < total and len(items) > 0
            )
            if more:
                state = _Cursor(state.since, marker, state.kind, next_offset)
                yield ThreadBatch(tuple(threads), state.encode(), last=False, unreadable=tuple(unreadable))
                continue
            if state.kind == MEMBERS:
                state = _Cursor(state.since, marker, FROM_EBAY, 0)
                yield ThreadBatch(tuple(threads), state.encode(), last=False, unreadable=tuple(unreadable))
                continue
            new_since = marker - self._overlap
            if state.since is not None and state.since > new_since:
                new_since = state.since
            yield ThreadBatch(
                tuple(threads), _Cursor(since=new_since).encode(), last=True, unreadable=tuple(unreadable)
            )
            return

    @staticmethod
    def _changed_since(item: Json, since: datetime) -> bool:
        latest = item.get("latestMessage")
        stamps = [item.get("createdDate")]
        if isinstance(latest, Mapping):
            stamps.append(latest.get("createdDate"))
        dates: list[datetime] = []
        for stamp in stamps:
            try:
                parsed = parse_datetime(stamp)
            except ValueError:
                return True  # unreadable: fetch it rather than miss it
            if parsed is not None:
                dates.append(parsed)
        return not dates or max(dates) >= since

    async def fetch_thread(self, thread_id: str) -> RemoteThread:
        conversation_id, kind = split_thread_id(thread_id)
        return await self._fetch(conversation_id, kind, None)

    async def _fetch(self, conversation_id: str, kind: str, summary: Json | None) -> RemoteThread:
        path = f"/conversation/{quote(conversation_id, safe='')}"
        messages: list[Json] = []
        offset = 0
        header: Json = {}
        total: int | None = None
        while True:
            params = {"conversation_type": kind, "limit": str(PAGE_SIZE_MAX), "offset": str(offset)}
            try:
                body, _response = await self._json(path, params)
            except RemoteNotFound as exc:
                raise RemoteNotFound("eBay", _("this conversation"), detail=exc.detail) from exc
            if not header:
                header = {
                    k: v
                    for k, v in body.items()
                    if k not in ("messages", "href", "next", "prev", "limit", "offset")
                }
            page = body.get("messages")
            page = page if isinstance(page, list) else []
            messages.extend(m for m in page if isinstance(m, Mapping))
            total = body.get("total") if isinstance(body.get("total"), int) else None
            offset += len(page)
            if page and (body.get("next") or (total is not None and offset < total)):
                continue
            break
        return self._thread(conversation_id, kind, {**header, **(summary or {})}, messages, total)

    def _participant(self, username: str, kind: str) -> Participant:
        if kind == FROM_EBAY:
            return Participant(ParticipantKind.OPERATOR, "eBay", username or None, organization="eBay")
        if username.casefold() == self._me:
            return Participant(ParticipantKind.SHOP, username, username)
        return Participant(ParticipantKind.CUSTOMER, username, username or None)

    def _message(self, obj: Json, thread_id: str, kind: str) -> RemoteMessage:
        problems: list[str] = []
        try:
            sent_at = parse_datetime(obj.get("createdDate"))
        except ValueError:
            sent_at = None
            problems.append(f"message.createdDate unreadable: {obj.get('createdDate')!r}")
        if sent_at is None:
            if not problems:
                problems.append("message.createdDate missing")
            sent_at = datetime.fromtimestamp(0, UTC)
        sender = str(obj.get("senderUsername") or obj.get("senderUserName") or "")
        recipient = str(obj.get("recipientUsername") or "")
        author = self._participant(sender, kind)
        mine = kind == MEMBERS and sender.casefold() == self._me
        attachments: list[RemoteAttachment] = []
        media = obj.get("messageMedia")
        for item in media if isinstance(media, list) else []:
            if isinstance(item, Mapping) and item.get("mediaUrl"):
                attachments.append(
                    RemoteAttachment(
                        remote_id=str(item["mediaUrl"]),
                        name=str(item.get("mediaName") or item["mediaUrl"]).rsplit("/", 1)[-1],
                        mime_type=_MEDIA_TYPES.get(str(item.get("mediaType") or "").upper()),
                    )
                )
        recipients = (self._participant(recipient, MEMBERS),) if recipient else ()
        return RemoteMessage(
            remote_id=str(obj.get("messageId") or ""),
            thread_id=thread_id,
            sent_at=sent_at,
            author=author,
            direction=Direction.OUT if mine else Direction.IN,
            body=str(obj.get("messageBody") or ""),
            recipients=recipients,
            attachments=tuple(attachments),
            problems=tuple(problems),
            raw=_raw(obj),
        )

    def _thread(
        self, conversation_id: str, kind: str, header: Json, raw_messages: list[Json], total: int | None
    ) -> RemoteThread:
        thread_id = _thread_id(conversation_id, kind)
        parsed = [self._message(m, thread_id, kind) for m in raw_messages if m.get("messageId")]
        parsed.sort(key=lambda m: (m.sent_at, m.remote_id))
        problems = [
            f"message without messageId: {_raw(m)[:500]}" for m in raw_messages if not m.get("messageId")
        ]
        created: datetime | None = None
        try:
            created = parse_datetime(header.get("createdDate"))
        except ValueError:
            problems.append(f"conversation.createdDate unreadable: {header.get('createdDate')!r}")
        customer: Participant | None = None
        if kind == FROM_EBAY:
            customer = Participant(ParticipantKind.OPERATOR, "eBay", organization="eBay")
        else:
            for m in parsed:
                for p in (m.author, *m.recipients):
                    if p.kind is ParticipantKind.CUSTOMER and p.display_name:
                        customer = p
                        break
                if customer:
                    break
        waiting: datetime | None = None
        if kind == MEMBERS:
            for m in parsed:
                if m.direction is Direction.OUT:
                    waiting = None
                elif waiting is None:
                    waiting = m.sent_at
        subject = str(header.get("conversationTitle") or "")
        if not subject:
            subject = next((str(m_raw.get("subject")) for m_raw in raw_messages if m_raw.get("subject")), "")
        last = parsed[-1].sent_at if parsed else None
        summary_raw = {k: v for k, v in header.items() if k != "latestMessage"}
        summary_raw.setdefault("conversationId", conversation_id)
        summary_raw.setdefault("conversationType", kind)
        participants = tuple({p.remote_id or p.display_name: p for m in parsed for p in (m.author,)}.values())
        thread = RemoteThread(
            remote_id=thread_id,
            subject=subject,
            created_at=created,
            updated_at=last or created,
            messages=tuple(parsed),
            messages_complete=True,
            participants=participants,
            customer=customer,
            order_id=None,  # eBay conversations name a listing, never an order: see listing_id()
            total_messages=total if total is not None else len(parsed),
            last_message_at=last,
            reply_needed_since=waiting,
            no_reply_needed=kind == FROM_EBAY,
            marketplace="eBay",
            problems=tuple(problems),
            raw=_raw(summary_raw),
        )
        return dataclasses.replace(thread, offer_id=listing_id(thread))

    async def download_attachment(self, attachment: RemoteAttachment) -> AttachmentContent:
        """``messageMedia`` are public HTTPS addresses (eBay's picture service): fetched without our token."""
        url = attachment.remote_id
        check_base_url(url, "eBay")
        parts = urlsplit(url)
        await self.bucket.acquire()
        async with httpx.AsyncClient(
            timeout=self._timeout, verify=tls_context(), transport=self._transport, follow_redirects=False
        ) as client:
            try:
                response = await client.get(url)
            except httpx.HTTPError as exc:
                raise TemporarilyUnavailable("eBay", detail=f"media {parts.hostname}: {exc!r}") from exc
        if response.status_code == 404:
            raise RemoteNotFound("eBay", _("this attachment"), detail=f"media {parts.path} → 404")
        if not response.is_success:
            raise TemporarilyUnavailable("eBay", detail=f"media {parts.path} → HTTP {response.status_code}")
        content_type = response.headers.get("content-type")
        return AttachmentContent(
            name=attachment.name,
            data=response.content,
            mime_type=content_type.split(";")[0].strip() if content_type else attachment.mime_type,
        )

    # -- replying ---------------------------------------------------------------------------------------

    def refuse(self, reply: OutgoingReply) -> list[str]:
        """What keeps this reply from going to eBay, in the user's words (empty: it may go)."""
        check = check_reply(self.name, self.limits, reply.body, [(f.name, len(f.data)) for f in reply.files])
        problems = [message for _code, message in check.problems]
        links = [w for w in reply.body.split() if w.lower().startswith(("http://", "https://"))]
        if any(w.lower().startswith("http://") for w in links):
            problems.append(_("eBay accepts only links that start with https://"))
        if len(links) > MAX_LINKS:
            problems.append(
                _("eBay accepts at most {n} links in a reply.").format(n=format_number(MAX_LINKS))
            )
        if split_thread_id(reply.thread_id)[1] == FROM_EBAY:
            problems.append(_("Messages from eBay itself cannot be answered."))
        return problems

    async def send_reply(self, reply: OutgoingReply) -> SentReceipt:
        problems = self.refuse(reply)
        if problems:
            raise RejectedInput(self.name, " ".join(problems), detail="refused before sending")
        conversation_id, _kind = split_thread_id(reply.thread_id)
        try:
            response = await self._call(
                "POST",
                "/send_message",
                body={"conversationId": conversation_id, "messageText": reply.body},
                expect_json=False,
            )
        except RemoteNotFound as exc:
            raise RemoteNotFound(self.name, _("this conversation"), detail=exc.detail) from exc
        remote_id: str | None = None
        try:
            body = json.loads(response.content) if response.content else {}
            if isinstance(body, Mapping) and body.get("messageId"):
                remote_id = str(body["messageId"])
        except (ValueError, UnicodeDecodeError):
            log.warning("eBay accepted a reply (HTTP %d) with an unreadable answer", response.status_code)
        return SentReceipt(thread_id=reply.thread_id, remote_message_id=remote_id, accepted_at=self._now())

    async def find_sent(
        self,
        reply: OutgoingReply,
        *,
        claimed_at: datetime,
        known_message_ids: Collection[str] = (),
    ) -> SentLookup:
        """The seller's message in the conversation with the same normalized text, dated after the claim
        (minus ``clock_skew``), that the store did not already know: ``send_message`` has no idempotency key."""
        try:
            thread = await self.fetch_thread(reply.thread_id)
        except RemoteNotFound as exc:
            return SentLookup(LookupOutcome.CANNOT_CONFIRM, detail=f"conversation not found: {exc.detail}")
        wanted = normalize_body(reply.body)
        earliest = claimed_at - self._skew
        known = set(known_message_ids)
        undated = False
        for message in thread.messages:
            if message.direction is not Direction.OUT or message.remote_id in known:
                continue
            if normalize_body(message.body) != wanted:
                continue
            if message.problems:
                undated = True
                continue
            if message.sent_at >= earliest:
                return SentLookup(LookupOutcome.FOUND, message, detail=f"message {message.remote_id}")
        if undated:
            return SentLookup(LookupOutcome.CANNOT_CONFIRM, detail="a matching message has no readable date")
        return SentLookup(LookupOutcome.NOT_SENT, detail=f"{len(thread.messages)} messages checked")

    async def mark_read(self, thread_id: str) -> None:
        conversation_id, kind = split_thread_id(thread_id)
        try:
            await self._call(
                "POST",
                "/update_conversation",
                body={"conversationId": conversation_id, "conversationType": kind, "read": True},
                expect_json=False,
            )
        except RemoteNotFound as exc:
            raise RemoteNotFound(self.name, _("this conversation"), detail=exc.detail) from exc
