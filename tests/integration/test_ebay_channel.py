"""The eBay connector against the eBay sandbox over real HTTP on 127.0.0.1 (no mocked transport).

Covers offset paging of both conversation types, the incremental cursor (and resuming it after a crash),
eBay's own conversations as inbound operator messages, direction from the seller's user name, the listing id,
the send_message / update_conversation bodies as the server received them, limits refused before anything is
sent, the lookup of a reply whose answer was lost (also with the sender SIGKILLed), OAuth refresh without the
user, a revoked refresh token, and every fault mode.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from inbox_app.channels.base import (
    AuthFailed,
    LookupOutcome,
    OutgoingFile,
    OutgoingReply,
    ParticipantKind,
    RateLimited,
    RejectedInput,
    RemoteThread,
    TemporarilyUnavailable,
    ThreadBatch,
    UnreadableAnswer,
)
from inbox_app.channels.ebay import (
    EbayChannel,
    EbayReconnect,
    EbaySettings,
    MemoryTokenStore,
    consent_url,
    exchange_code,
)
from inbox_app.channels.ebay.connector import listing_id
from inbox_app.channels.http import RetryPolicy
from inbox_app.domain.conversations import Direction
from tests.servers.ebay import EbaySandbox, Fault

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.integration.ebay_fixtures"]

T = TypeVar("T")
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_wait=5.0)
SHORT_TIMEOUT = httpx.Timeout(connect=2.0, read=0.4, write=2.0, pool=2.0)


def run(
    settings: EbaySettings,
    tokens: MemoryTokenStore,
    work: Callable[[EbayChannel], Awaitable[T]],
    **options: Any,
) -> T:
    async def main() -> T:
        options.setdefault("retry", FAST_RETRY)
        async with EbayChannel(settings, tokens, **options) as channel:
            assert isinstance(channel, EbayChannel)
            return await work(channel)

    return asyncio.run(main())


async def collect(channel: EbayChannel, cursor: str | None = None) -> list[ThreadBatch]:
    return [batch async for batch in channel.list_threads(cursor)]


def threads_of(batches: list[ThreadBatch]) -> dict[str, RemoteThread]:
    return {t.remote_id: t for b in batches for t in b.threads}


# -- reading --------------------------------------------------------------------------------------------


def test_listing_pages_both_conversation_types_with_the_documented_parameters(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    ids = ebay_sandbox.generate(120, 3)
    notice = ebay_sandbox.add_conversation(type="FROM_EBAY", title="Your invoice is ready")
    ebay_sandbox.add_message(notice.id, "Your eBay invoice for November is available.")

    batches = run(ebay_settings, ebay_tokens, collect)

    found = threads_of(batches)
    assert set(ids) | {f"FROM_EBAY:{notice.id}"} == set(found)
    assert batches[-1].last and not any(b.last for b in batches[:-1])
    lists = ebay_sandbox.calls("/conversation")
    members = [q for _m, _p, q in lists if q["conversation_type"] == ["FROM_MEMBERS"]]
    assert [q["offset"] for q in members] == [["0"], ["50"], ["100"]]
    assert all(q["limit"] == ["50"] for q in members)
    assert all(len(t.messages) == 3 and t.messages_complete for t in found.values() if t.remote_id in ids)


def test_direction_listing_id_and_media_of_a_member_conversation(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    conv = ebay_sandbox.add_conversation(buyer="anna_b", reference_id="204512345678", title="Size?")
    t0 = ebay_sandbox.now() - timedelta(minutes=10)
    ebay_sandbox.add_message(
        conv.id,
        "Does it fit a 42?",
        at=t0,
        media=[{"mediaName": "foot.jpg", "mediaType": "IMAGE", "mediaUrl": "https://i.ebayimg.com/foot.jpg"}],
    )
    ebay_sandbox.add_message(conv.id, "Yes it does.", from_seller=True, at=t0 + timedelta(minutes=1))
    ebay_sandbox.add_message(conv.id, "Thanks, and the colour?", at=t0 + timedelta(minutes=2))

    thread = run(ebay_settings, ebay_tokens, lambda ch: ch.fetch_thread(conv.id))

    assert [m.direction for m in thread.messages] == [Direction.IN, Direction.OUT, Direction.IN]
    assert thread.messages[1].author.kind is ParticipantKind.SHOP  # "MEIN_LADEN" vs "Mein_Laden"
    assert thread.customer is not None and thread.customer.display_name == "anna_b"
    assert thread.order_id is None and listing_id(thread) == "204512345678"
    assert thread.offer_id == "204512345678"
    [media] = thread.messages[0].attachments
    assert (media.name, media.mime_type, media.remote_id) == (
        "foot.jpg",
        "image/*",
        "https://i.ebayimg.com/foot.jpg",
    )
    assert thread.reply_needed_since == thread.messages[2].sent_at
    assert thread.subject == "Size?"


def test_conversations_from_ebay_are_inbound_from_the_marketplace_and_cannot_be_answered(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    notice = ebay_sandbox.add_conversation(type="FROM_EBAY", title="Policy update")
    ebay_sandbox.add_message(notice.id, "We updated our selling policies.")

    thread = run(ebay_settings, ebay_tokens, lambda ch: ch.fetch_thread(f"FROM_EBAY:{notice.id}"))

    [message] = thread.messages
    assert message.direction is Direction.IN and message.from_operator
    assert message.author.display_name == "eBay" and thread.no_reply_needed
    with pytest.raises(RejectedInput, match="cannot be answered"):
        run(ebay_settings, ebay_tokens, lambda ch: ch.send_reply(OutgoingReply("r", thread.remote_id, "Ok")))
    assert ebay_sandbox.sent == []


def test_incremental_listing_returns_only_changed_conversations_and_uses_start_time(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    ids = ebay_sandbox.generate(60, 2)
    notice = ebay_sandbox.add_conversation(type="FROM_EBAY", at=ebay_sandbox.now() - timedelta(days=3))
    ebay_sandbox.add_message(notice.id, "Old notice", at=ebay_sandbox.now() - timedelta(days=3))
    first = run(ebay_settings, ebay_tokens, collect)
    cursor = first[-1].cursor
    ebay_sandbox.add_message(ids[5], "New question on an old conversation")
    fresh = ebay_sandbox.add_conversation(buyer="new_buyer")
    ebay_sandbox.add_message(fresh.id, "Hello")
    before = len(ebay_sandbox.requests)

    second = run(ebay_settings, ebay_tokens, lambda ch: collect(ch, cursor))

    found = threads_of(second)
    assert set(found) == {ids[5], fresh.id}
    assert found[ids[5]].messages[-1].body == "New question on an old conversation"
    member_lists = [
        q
        for m, p, q in ebay_sandbox.requests[before:]
        if p.endswith("/conversation") and q["conversation_type"] == ["FROM_MEMBERS"]
    ]
    assert member_lists and all("start_time" in q for q in member_lists)
    # 1 page per type + 2 conversations fetched (the stored access token is still valid): nothing else
    assert len(ebay_sandbox.requests) - before == 4


def test_an_interrupted_listing_resumes_at_the_committed_page(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    ids = ebay_sandbox.generate(130, 1)

    async def first_two(channel: EbayChannel) -> str:
        seen = []
        async for batch in channel.list_threads(None):
            seen.append(batch)
            if len(seen) == 2:
                return batch.cursor  # the process dies here; this cursor was committed
        raise AssertionError("too few pages")

    cursor = run(ebay_settings, ebay_tokens, first_two)
    rest = run(ebay_settings, ebay_tokens, lambda ch: collect(ch, cursor))

    resumed = [q["offset"] for _m, _p, q in ebay_sandbox.calls("/conversation")][2:3]
    assert resumed == [["100"]]
    assert set(ids[:30]) <= set(threads_of(rest))  # the oldest 30 were on the third page


def test_a_conversation_changed_while_the_pages_are_read_is_listed_next_time(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    ids = ebay_sandbox.generate(80, 1)

    async def touch_while_listing(channel: EbayChannel) -> str:
        cursor = ""
        async for batch in channel.list_threads(None):
            if not cursor:
                ebay_sandbox.add_message(ids[0], "Changed mid-listing")  # moves to the top (already read)
            cursor = batch.cursor
        return cursor

    cursor = run(ebay_settings, ebay_tokens, touch_while_listing)
    again = threads_of(run(ebay_settings, ebay_tokens, lambda ch: collect(ch, cursor)))
    assert again[ids[0]].messages[-1].body == "Changed mid-listing"


def test_a_long_conversation_is_read_over_several_message_pages(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    conv = ebay_sandbox.add_conversation()
    start = ebay_sandbox.now() - timedelta(hours=2)
    for i in range(120):
        ebay_sandbox.add_message(
            conv.id, f"message {i}", at=start + timedelta(seconds=i), from_seller=i % 2 == 1
        )
    thread = run(ebay_settings, ebay_tokens, lambda ch: ch.fetch_thread(conv.id))
    assert [m.body for m in thread.messages] == [f"message {i}" for i in range(120)]
    assert thread.total_messages == 120


def test_mark_read_sends_update_conversation(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    conv = ebay_sandbox.add_conversation()
    ebay_sandbox.add_message(conv.id, "Hi")
    run(ebay_settings, ebay_tokens, lambda ch: ch.mark_read(conv.id))
    assert ebay_sandbox.updates == [
        {"conversationId": conv.id, "conversationType": "FROM_MEMBERS", "read": True}
    ]
    assert ebay_sandbox.conversations[conv.id].read


# -- replying -------------------------------------------------------------------------------------------


def test_a_reply_arrives_in_the_documented_shape_once_and_its_echo_is_recognised(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    conv = ebay_sandbox.add_conversation()
    ebay_sandbox.add_message(conv.id, "Still available?")
    text = "Yes — see https://example.com/photo.jpg"

    receipt = run(ebay_settings, ebay_tokens, lambda ch: ch.send_reply(OutgoingReply("o-1", conv.id, text)))

    assert ebay_sandbox.sent == [{"conversationId": conv.id, "messageText": text}]
    thread = run(ebay_settings, ebay_tokens, lambda ch: ch.fetch_thread(conv.id))
    echo = thread.messages[-1]
    assert echo.remote_id == receipt.remote_message_id  # the copy eBay keeps is the same message
    assert echo.direction is Direction.OUT and echo.author.kind is ParticipantKind.SHOP
    assert thread.reply_needed_since is None


@pytest.mark.parametrize(
    ("body", "files", "why"),
    [
        ("x" * 2001, (), "too long"),
        ("See the file", (OutgoingFile("invoice.pdf", b"%PDF-1.4"),), "invoice.pdf"),
        ("links " + " ".join(f"https://e.com/{i}" for i in range(6)), (), "at most 5 links"),
        ("see http://e.com/a", (), "https://"),
    ],
)
def test_a_reply_outside_the_limits_never_leaves_the_machine(
    ebay_sandbox: EbaySandbox,
    ebay_settings: EbaySettings,
    ebay_tokens: MemoryTokenStore,
    body: str,
    files: tuple[OutgoingFile, ...],
    why: str,
) -> None:
    conv = ebay_sandbox.add_conversation()
    with pytest.raises(RejectedInput, match=why):
        run(ebay_settings, ebay_tokens, lambda ch: ch.send_reply(OutgoingReply("o", conv.id, body, files)))
    assert ebay_sandbox.calls("/send_message", "POST") == []


def test_exactly_2000_characters_are_accepted(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    conv = ebay_sandbox.add_conversation()
    run(ebay_settings, ebay_tokens, lambda ch: ch.send_reply(OutgoingReply("o", conv.id, "y" * 2000)))
    assert len(ebay_sandbox.sent) == 1


@pytest.mark.parametrize("fault_kind", ["drop", "slow", "status"])
def test_a_reply_whose_answer_was_lost_is_found_again_and_not_sent_twice(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore, fault_kind: str
) -> None:
    conv = ebay_sandbox.add_conversation()
    ebay_sandbox.add_message(conv.id, "Shipped?")
    known = {m["messageId"] for m in ebay_sandbox.conversations[conv.id].messages}
    claimed_at = datetime.now(UTC)
    reply = OutgoingReply("o-7", conv.id, "Yes,\r\nit left   today. ")
    ebay_sandbox.inject(
        Fault(
            fault_kind, status=500, delay=3.0, method="POST", path_prefix="/commerce", after_processing=True
        )
    )  # type: ignore[arg-type]

    with pytest.raises(TemporarilyUnavailable) as lost:
        run(ebay_settings, ebay_tokens, lambda ch: ch.send_reply(reply), timeout=SHORT_TIMEOUT)

    assert lost.value.maybe_delivered
    assert len(ebay_sandbox.sent) == 1 and len(ebay_sandbox.calls("/send_message", "POST")) == 1
    found = run(
        ebay_settings,
        ebay_tokens,
        lambda ch: ch.find_sent(reply, claimed_at=claimed_at, known_message_ids=known),
    )
    assert found.outcome is LookupOutcome.FOUND
    assert (
        found.message is not None
        and found.message.remote_id == ebay_sandbox.conversations[conv.id].messages[-1]["messageId"]
    )


def test_find_sent_says_not_sent_when_the_reply_is_not_there(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    conv = ebay_sandbox.add_conversation()
    old = ebay_sandbox.now() - timedelta(days=1)
    ebay_sandbox.add_message(conv.id, "Thanks!", from_seller=True, at=old)  # same text, long before the claim
    lookup = run(
        ebay_settings,
        ebay_tokens,
        lambda ch: ch.find_sent(OutgoingReply("o", conv.id, "Thanks!"), claimed_at=datetime.now(UTC)),
    )
    assert lookup.outcome is LookupOutcome.NOT_SENT


SENDER = """
import asyncio, sys
from inbox_app.channels.base import OutgoingReply
from inbox_app.channels.ebay import EbayChannel, EbaySettings, MemoryTokenStore

async def main() -> None:
    settings = EbaySettings(sys.argv[2], sys.argv[3], sys.argv[4], base_url=sys.argv[1])
    async with EbayChannel(settings, MemoryTokenStore(sys.argv[5])) as channel:
        await channel.send_reply(OutgoingReply("outbox-kill", sys.argv[6], "Your parcel is with DHL now."))

asyncio.run(main())
"""


def test_a_sender_killed_while_waiting_for_the_answer_leaves_a_reply_that_is_found(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    conv = ebay_sandbox.add_conversation()
    claimed_at = datetime.now(UTC)
    ebay_sandbox.inject(
        Fault("slow", delay=60.0, method="POST", path_prefix="/commerce", after_processing=True)
    )
    sender = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SENDER,
            ebay_sandbox.base_url,
            ebay_sandbox.seller,
            ebay_sandbox.client_id,
            ebay_sandbox.client_secret,
            ebay_sandbox.refresh_token,
            conv.id,
        ],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert ebay_sandbox.sent_stored.wait(timeout=60), "the reply never reached the sandbox"
        sender.send_signal(signal.SIGKILL)
    finally:
        sender.wait(timeout=30)
    assert sender.returncode == -signal.SIGKILL

    reply = OutgoingReply("outbox-kill", conv.id, "Your parcel is with DHL now.")
    lookup = run(ebay_settings, ebay_tokens, lambda ch: ch.find_sent(reply, claimed_at=claimed_at))
    assert lookup.outcome is LookupOutcome.FOUND
    assert len(ebay_sandbox.sent) == 1


# -- OAuth ----------------------------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_without_the_user_and_the_call_repeated_once(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    conv = ebay_sandbox.add_conversation()

    async def work(channel: EbayChannel) -> RemoteThread:
        await channel.test_connection()
        ebay_sandbox.expire_access_tokens()  # eBay's clock says it expired early: 401 errorId 1001
        await channel.send_reply(OutgoingReply("o", conv.id, "Hello"))
        return await channel.fetch_thread(conv.id)

    thread = run(ebay_settings, ebay_tokens, work)
    assert thread.messages[-1].body == "Hello"
    assert len(ebay_sandbox.calls("/oauth2/token", "POST")) == 2
    assert len(ebay_sandbox.sent) == 1  # the refused POST was not processed; the repeat was
    assert ebay_tokens.access is not None


def test_a_token_about_to_expire_is_refreshed_before_the_call(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    ebay_sandbox.access_ttl = timedelta(minutes=3)  # inside the 5-minute margin: stale at once
    run(ebay_settings, ebay_tokens, lambda ch: ch.test_connection())
    run(ebay_settings, ebay_tokens, lambda ch: ch.test_connection())
    assert len(ebay_sandbox.calls("/oauth2/token", "POST")) == 2
    ebay_sandbox.access_ttl = timedelta(hours=2)
    run(ebay_settings, ebay_tokens, lambda ch: ch.test_connection())
    run(ebay_settings, ebay_tokens, lambda ch: ch.test_connection())  # the stored token is reused
    assert len(ebay_sandbox.calls("/oauth2/token", "POST")) == 3


def test_a_revoked_refresh_token_asks_to_reconnect_ebay(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    ebay_sandbox.revoke_refresh_token()
    with pytest.raises(EbayReconnect) as refused:
        run(ebay_settings, ebay_tokens, lambda ch: ch.test_connection())
    assert isinstance(refused.value, AuthFailed)
    assert "Reconnect eBay" in refused.value.user_message
    assert ebay_tokens.refresh_token not in refused.value.detail
    assert len(ebay_sandbox.calls("/oauth2/token", "POST")) == 1  # not retried


def test_wrong_client_credentials_are_an_auth_failure(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    bad = EbaySettings("me", ebay_settings.client_id, "wrong", base_url=ebay_settings.base_url)
    with pytest.raises(AuthFailed):
        run(bad, ebay_tokens, lambda ch: ch.test_connection())


def test_first_connection_consent_url_and_code_exchange(ebay_sandbox: EbaySandbox) -> None:
    url = consent_url(ebay_sandbox.client_id, ebay_sandbox.ru_name, state="s1")
    assert url.startswith("https://auth.ebay.com/oauth2/authorize?client_id=InboxApp-PRD-0123456789")
    assert "redirect_uri=Inbox_App-InboxApp-PRD-runame" in url and "response_type=code" in url
    assert "commerce.message" in url and "state=s1" in url
    store = MemoryTokenStore()
    code = ebay_sandbox.issue_code()
    pasted = f"https://signin.ebay.com/ws/accepted?state=s1&code={httpx.QueryParams({'c': code})['c'].replace('^', '%5E').replace('#', '%23')}&expires_in=299"
    asyncio.run(
        exchange_code(
            ebay_sandbox.base_url,
            ebay_sandbox.client_id,
            ebay_sandbox.client_secret,
            ebay_sandbox.ru_name,
            pasted,
            store,
        )
    )
    assert store.refresh_token in ebay_sandbox.refresh_tokens and store.access is not None
    with pytest.raises(EbayReconnect):  # a code works once
        asyncio.run(
            exchange_code(
                ebay_sandbox.base_url,
                ebay_sandbox.client_id,
                ebay_sandbox.client_secret,
                ebay_sandbox.ru_name,
                pasted,
                MemoryTokenStore(),
            )
        )


# -- faults ---------------------------------------------------------------------------------------------


def test_429_waits_the_retry_after_then_succeeds(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    ebay_sandbox.add_conversation()
    ebay_sandbox.inject(Fault("status", status=429, retry_after="1", path_prefix="/commerce"))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(min(seconds, 0.01))

    batches = run(ebay_settings, ebay_tokens, collect, sleep=sleep)
    assert len(threads_of(batches)) == 1
    assert any(w >= 1.0 for w in waits)


def test_a_long_retry_after_goes_up_as_rate_limited(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    ebay_sandbox.inject(Fault("status", status=429, retry_after="600", path_prefix="/commerce"))
    with pytest.raises(RateLimited) as limited:
        run(ebay_settings, ebay_tokens, collect)
    assert limited.value.retry_after == 600


@pytest.mark.parametrize("kind", ["status", "drop", "slow", "malformed"])
def test_each_fault_on_a_read_is_retried(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore, kind: str
) -> None:
    conv = ebay_sandbox.add_conversation()
    ebay_sandbox.add_message(conv.id, "Hi")
    ebay_sandbox.inject(Fault(kind, status=503, delay=2.0, path_prefix="/commerce", times=2))  # type: ignore[arg-type]
    batches = run(ebay_settings, ebay_tokens, collect, timeout=SHORT_TIMEOUT)
    assert threads_of(batches)[conv.id].messages[0].body == "Hi"


@pytest.mark.parametrize(
    ("kind", "error"), [("status", TemporarilyUnavailable), ("malformed", UnreadableAnswer)]
)
def test_a_fault_that_persists_gives_a_typed_error(
    ebay_sandbox: EbaySandbox,
    ebay_settings: EbaySettings,
    ebay_tokens: MemoryTokenStore,
    kind: str,
    error: type[Exception],
) -> None:
    ebay_sandbox.inject(Fault(kind, status=500, path_prefix="/commerce", times=10))  # type: ignore[arg-type]
    with pytest.raises(error):
        run(ebay_settings, ebay_tokens, collect)


def test_the_rate_limiter_paces_calls(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    ebay_sandbox.generate(6, 1)
    slow = EbaySettings(
        ebay_settings.username,
        ebay_settings.client_id,
        ebay_settings.client_secret,
        base_url=ebay_settings.base_url,
        rate_per_second=5.0,
        burst=2,
    )
    channel_box: list[EbayChannel] = []

    async def work(channel: EbayChannel) -> list[ThreadBatch]:
        channel_box.append(channel)
        return await collect(channel)

    run(slow, ebay_tokens, work)
    # 2 list pages + 6 conversations = 8 calls, 2 free: about 6 waits of 1/5 s (less what the calls took)
    assert channel_box[0].bucket.waited >= 0.8


def test_a_reply_refused_before_processing_is_not_found_and_can_be_sent(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    conv = ebay_sandbox.add_conversation()
    claimed_at = datetime.now(UTC)
    reply = OutgoingReply("o-9", conv.id, "On its way.")
    ebay_sandbox.inject(Fault("status", status=503, method="POST", path_prefix="/commerce"))
    with pytest.raises(TemporarilyUnavailable) as failed:
        run(ebay_settings, ebay_tokens, lambda ch: ch.send_reply(reply))
    assert failed.value.maybe_delivered  # the client cannot know; the lookup decides
    lookup = run(ebay_settings, ebay_tokens, lambda ch: ch.find_sent(reply, claimed_at=claimed_at))
    assert lookup.outcome is LookupOutcome.NOT_SENT
    run(ebay_settings, ebay_tokens, lambda ch: ch.send_reply(reply))
    assert [s["messageText"] for s in ebay_sandbox.sent] == ["On its way."]


def test_concurrent_calls_with_a_stale_token_refresh_it_once(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    conv = ebay_sandbox.add_conversation()

    async def work(channel: EbayChannel) -> None:
        await channel.test_connection()
        ebay_sandbox.expire_access_tokens()
        await asyncio.gather(*(channel.fetch_thread(conv.id) for _ in range(5)))

    run(ebay_settings, ebay_tokens, work)
    assert len(ebay_sandbox.calls("/oauth2/token", "POST")) == 2


@pytest.mark.parametrize("kind", ["status", "drop"])
def test_a_token_endpoint_outage_is_retried(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore, kind: str
) -> None:
    ebay_sandbox.inject(Fault(kind, status=502, path_prefix="/identity"))  # type: ignore[arg-type]
    run(ebay_settings, ebay_tokens, lambda ch: ch.test_connection())
    assert len(ebay_sandbox.calls("/oauth2/token", "POST")) == 2


def test_no_token_or_secret_reaches_the_log(
    ebay_sandbox: EbaySandbox,
    ebay_settings: EbaySettings,
    ebay_tokens: MemoryTokenStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    conv = ebay_sandbox.add_conversation()
    caplog.set_level(logging.DEBUG, logger="inbox_app")

    async def work(channel: EbayChannel) -> None:
        await collect(channel)
        ebay_sandbox.expire_access_tokens()
        await channel.send_reply(OutgoingReply("o", conv.id, "Hello"))

    run(ebay_settings, ebay_tokens, work)
    assert ebay_tokens.access is not None
    issued = list(ebay_sandbox.access_tokens)
    assert len(issued) == 2
    for secret in (*issued, ebay_sandbox.refresh_token, ebay_sandbox.client_secret):
        assert secret not in caplog.text
    assert "[redacted]" in caplog.text


def test_without_start_time_every_page_is_read_but_only_changed_conversations_are_fetched(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    ids = ebay_sandbox.generate(70, 1)
    settings = dataclasses.replace(ebay_settings, trust_start_time=False)
    cursor = run(settings, ebay_tokens, collect)[-1].cursor
    ebay_sandbox.add_message(ids[3], "Again")
    before = len(ebay_sandbox.requests)

    found = threads_of(run(settings, ebay_tokens, lambda ch: collect(ch, cursor)))

    assert set(found) == {ids[3]}
    new = ebay_sandbox.requests[before:]
    assert not any("start_time" in q for _m, _p, q in new)
    assert len(new) == 2 + 1 + 1  # two member pages, one FROM_EBAY page, one conversation


def test_a_429_on_a_reply_is_sent_once_the_wait_is_over(
    ebay_sandbox: EbaySandbox, ebay_settings: EbaySettings, ebay_tokens: MemoryTokenStore
) -> None:
    conv = ebay_sandbox.add_conversation()
    ebay_sandbox.inject(
        Fault("status", status=429, retry_after="0.1", method="POST", path_prefix="/commerce")
    )
    run(ebay_settings, ebay_tokens, lambda ch: ch.send_reply(OutgoingReply("o", conv.id, "Sure.")))
    assert len(ebay_sandbox.calls("/send_message", "POST")) == 2
    assert [s["messageText"] for s in ebay_sandbox.sent] == ["Sure."]
