"""The Allegro connector against the Allegro sandbox over real HTTP on 127.0.0.1 (no mocked transport).

Covers sign-in (device flow in every outcome, refresh before expiry and after a 401, revoked refresh token),
offset paging and the incremental cursor, order vs offer ids, attachments both ways with the documented
declare → upload → send shape, mark read, the vendor media type, a reply whose answer was lost (also across a
SIGKILL) found again instead of sent twice, and every fault mode.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from inbox_app.channels.allegro import (
    MEDIA_TYPE,
    AllegroAuth,
    AllegroChannel,
    AllegroSettings,
    DeviceFlowDenied,
    DeviceFlowExpired,
    MemoryTokenStore,
    OAuthTokens,
    ReconnectAllegro,
)
from inbox_app.channels.base import (
    AuthFailed,
    BadConfiguration,
    LookupOutcome,
    OutgoingFile,
    OutgoingReply,
    ParticipantKind,
    RateLimited,
    RejectedInput,
    RemoteNotFound,
    RemoteThread,
    TemporarilyUnavailable,
    ThreadBatch,
)
from inbox_app.channels.http import RetryPolicy
from inbox_app.domain.conversations import Direction
from tests.servers.allegro import AllegroSandbox, Fault

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.integration.allegro_fixtures"]

T = TypeVar("T")
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_wait=5.0)
SHORT_TIMEOUT = httpx.Timeout(connect=2.0, read=0.4, write=2.0, pool=2.0)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class SleepLog:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(seconds)


def run(
    settings: AllegroSettings,
    tokens: MemoryTokenStore,
    work: Callable[[AllegroChannel], Awaitable[T]],
    **options: Any,
) -> T:
    async def main() -> T:
        options.setdefault("retry", FAST_RETRY)
        async with AllegroChannel(settings, tokens, **options) as channel:
            assert isinstance(channel, AllegroChannel)
            return await work(channel)

    return asyncio.run(main())


async def collect(channel: AllegroChannel, cursor: str | None = None) -> list[ThreadBatch]:
    return [batch async for batch in channel.list_threads(cursor)]


def all_threads(batches: list[ThreadBatch]) -> dict[str, RemoteThread]:
    return {t.remote_id: t for b in batches for t in b.threads}


# -- reading --------------------------------------------------------------------------------------------


def test_listing_walks_every_page_with_the_documented_parameters_and_media_type(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    ids = allegro_sandbox.generate(45, 3)

    batches = run(allegro_settings, allegro_tokens, collect)

    assert [b.last for b in batches] == [False, False, True]
    threads = all_threads(batches)
    assert sorted(threads) == sorted(ids)
    assert sum(len(b.threads) for b in batches) == 45
    assert all(len(t.messages) == 3 and t.messages_complete for t in threads.values())
    pages = allegro_sandbox.requests_to("/messaging/threads")
    listing = [r for r in pages if r.path == "/messaging/threads"]
    # each later page starts two threads early, so a thread deleted meanwhile cannot shift another away
    assert [r.query for r in listing] == [{"limit": ["20"], "offset": [str(o)]} for o in (0, 18, 36)]
    token = allegro_tokens.tokens.access_token if allegro_tokens.tokens else ""
    for request in allegro_sandbox.api_requests():
        assert request.headers["Accept"] == MEDIA_TYPE
        assert request.headers["Authorization"] == f"Bearer {token}"
    assert len(pages) == 3 + 45  # three pages, one messages call per thread


def test_incremental_listing_returns_only_changed_threads_with_all_their_messages(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    ids = allegro_sandbox.generate(60, 2)
    first = run(allegro_settings, allegro_tokens, collect)
    assert len(all_threads(first)) == 60

    changed = [ids[3], ids[41]]
    new = [allegro_sandbox.add_message(t, "Czy jest już numer przesyłki?") for t in changed]
    before = len(allegro_sandbox.requests)
    second = run(allegro_settings, allegro_tokens, lambda ch: collect(ch, first[-1].cursor))

    threads = all_threads(second)
    assert sorted(threads) == sorted(changed)
    for thread_id, message in zip(changed, new, strict=True):
        thread = threads[thread_id]
        assert thread.messages[-1].remote_id == message["id"]
        assert len({m.remote_id for m in thread.messages}) == len(thread.messages) == 3
        assert thread.reply_needed_since == message["createdAt"]
    # one page of threads (it reaches older ones) + one messages call per changed thread
    assert len(allegro_sandbox.requests) - before == 1 + 2


def test_a_listing_interrupted_mid_way_resumes_from_the_committed_cursor(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    ids = allegro_sandbox.generate(50, 1)
    settings = replace(allegro_settings, page_size=10)

    async def first_two_pages(channel: AllegroChannel) -> list[ThreadBatch]:
        taken: list[ThreadBatch] = []
        async for batch in channel.list_threads(None):
            taken.append(batch)
            if len(taken) == 2:
                break  # the process dies here
        return taken

    committed = run(settings, allegro_tokens, first_two_pages)
    rest = run(settings, allegro_tokens, lambda ch: collect(ch, committed[-1].cursor))

    seen = [t.remote_id for b in committed + rest for t in b.threads]
    assert set(seen) == set(ids)  # nothing skipped
    # the resumed walk starts two threads early: those two may come again (the store's upsert absorbs them)
    assert len(seen) - len(ids) <= 2
    offsets = [
        r.query["offset"][0]
        for r in allegro_sandbox.requests_to("/messaging/threads")
        if r.path == "/messaging/threads"
    ]
    assert offsets == ["0", "8", "16", "24", "32", "40", "48"]


def test_threads_deleted_while_the_pages_are_read_do_not_shift_others_away(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    ids = allegro_sandbox.generate(40, 1)
    newest_first = list(reversed(ids))
    settings = replace(allegro_settings, page_size=10)
    deleted = [newest_first[1], newest_first[12]]
    seen: list[str] = []

    async def listing_with_deletions(channel: AllegroChannel) -> None:
        async for batch in channel.list_threads(None):
            seen.extend(t.remote_id for t in batch.threads)
            for gone in deleted:  # after the page that held it was read: the rest shifts up by one
                if gone in seen and gone in allegro_sandbox.threads:
                    allegro_sandbox.delete_thread(gone)

    run(settings, allegro_tokens, listing_with_deletions)

    assert len(seen) == len(set(seen))  # nothing twice within one listing
    assert set(ids) == set(seen)  # nothing skipped


@pytest.mark.parametrize("seed", range(3))
def test_threads_changed_while_the_pages_are_read_are_never_missed(
    allegro_sandbox: AllegroSandbox,
    allegro_settings: AllegroSettings,
    allegro_tokens: MemoryTokenStore,
    seed: int,
) -> None:
    rng = random.Random(seed)
    ids = allegro_sandbox.generate(60, 1)
    allegro_sandbox.clock_offset = timedelta(minutes=rng.choice([-30, 0, 45]))
    settings = replace(allegro_settings, page_size=7)
    seen: dict[str, datetime | None] = {}

    async def listing_with_changes(channel: AllegroChannel) -> str:
        cursor = ""
        async for batch in channel.list_threads(None):
            seen.update({t.remote_id: t.last_message_at for t in batch.threads})
            cursor = batch.cursor
            for changed in rng.sample(ids, 3):  # buyers keep writing while we page
                allegro_sandbox.add_message(changed, f"i jeszcze jedno ({seed})")
        return cursor

    cursor = run(settings, allegro_tokens, listing_with_changes)
    for batch in run(settings, allegro_tokens, lambda ch: collect(ch, cursor)):
        seen.update({t.remote_id: t.last_message_at for t in batch.threads})

    latest = {t.id: t.last_at for t in allegro_sandbox.threads.values()}
    assert seen == latest  # every thread, in its latest version


def test_order_and_offer_ids_direction_and_the_deadline_clock(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    offer_only = allegro_sandbox.add_thread(login="anna_k")
    allegro_sandbox.add_message(
        offer_only.id,
        "Czy ten model ma gwarancję?",
        at=start,
        offer_id="17001234567",
        subject="Pytanie o ofertę",
    )
    ordered = allegro_sandbox.add_thread(login="piotr_z")
    allegro_sandbox.add_message(
        ordered.id,
        "Paczka nie dotarła.",
        at=start,
        order_id="29d0c3f0-7c2b-11ef-a1b2-5b0f1e0a0c11",
        offer_id="17009999999",
    )
    allegro_sandbox.add_message(
        ordered.id, "Sprawdzamy u przewoźnika.", from_buyer=False, at=start + timedelta(hours=1)
    )

    threads = all_threads(run(allegro_settings, allegro_tokens, collect))

    question = threads[offer_only.id]
    assert question.offer_id == "17001234567" and question.order_id is None  # an offer is never an order
    assert question.subject == "Pytanie o ofertę"
    assert question.customer is not None and question.customer.display_name == "anna_k"
    assert question.reply_needed_since == start
    complaint = threads[ordered.id]
    assert complaint.order_id == "29d0c3f0-7c2b-11ef-a1b2-5b0f1e0a0c11"
    assert complaint.offer_id == "17009999999"
    buyer, seller = complaint.messages
    assert buyer.direction is Direction.IN and buyer.author.kind is ParticipantKind.CUSTOMER
    assert seller.direction is Direction.OUT and seller.author.display_name == allegro_sandbox.seller_login
    assert complaint.reply_needed_since is None  # the seller answered last
    assert json.loads(buyer.raw)["author"]["isInterlocutor"] is True  # the vendor's JSON is kept
    assert json.loads(complaint.raw)["interlocutor"]["login"] == "piotr_z"


def test_a_thread_longer_than_one_page_of_messages_comes_whole(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    thread = allegro_sandbox.add_thread()
    for i in range(47):
        allegro_sandbox.add_message(
            thread.id, f"message {i}", from_buyer=i % 2 == 0, at=start + timedelta(minutes=i)
        )

    remote = run(allegro_settings, allegro_tokens, lambda ch: ch.fetch_thread(thread.id))

    assert remote.messages_complete and [m.body for m in remote.messages] == [
        f"message {i}" for i in range(47)
    ]
    pages = allegro_sandbox.requests_to(f"/messaging/threads/{thread.id}/messages")
    assert [r.query["offset"] for r in pages] == [["0"], ["20"], ["40"]]


def test_attachments_are_listed_and_downloaded_on_demand(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    thread = allegro_sandbox.add_thread()
    allegro_sandbox.add_message(
        thread.id, "Zdjęcie uszkodzenia", attachments=(("szkoda.png", "image/png", PNG),)
    )

    remote = run(allegro_settings, allegro_tokens, lambda ch: ch.fetch_thread(thread.id))
    [attachment] = remote.messages[0].attachments
    assert attachment.name == "szkoda.png" and attachment.mime_type == "image/png"
    assert allegro_sandbox.requests_to("/messaging/message-attachments") == []  # not downloaded yet

    content = run(allegro_settings, allegro_tokens, lambda ch: ch.download_attachment(attachment))

    assert content.data == PNG and content.mime_type == "image/png" and content.name == "szkoda.png"
    [download] = allegro_sandbox.requests_to("/messaging/message-attachments")
    assert download.headers["Accept"] == "*/*"  # the binary resource refuses the vendor JSON type


def test_mark_read_puts_the_documented_flag(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    thread = allegro_sandbox.add_thread()
    allegro_sandbox.add_message(thread.id, "Dzień dobry")
    assert allegro_sandbox.threads[thread.id].read is False

    run(allegro_settings, allegro_tokens, lambda ch: ch.mark_read(thread.id))

    assert allegro_sandbox.threads[thread.id].read is True
    [put] = allegro_sandbox.requests_to(f"/messaging/threads/{thread.id}/read", "PUT")
    assert json.loads(put.body) == {"read": True}
    assert put.headers["Content-Type"] == MEDIA_TYPE
    with pytest.raises(RemoteNotFound):
        run(allegro_settings, allegro_tokens, lambda ch: ch.mark_read("th-gone"))


def test_the_sandbox_enforces_the_vendor_media_type(
    allegro_sandbox: AllegroSandbox, allegro_tokens: MemoryTokenStore
) -> None:
    thread = allegro_sandbox.add_thread()
    allegro_sandbox.add_message(thread.id, "Dzień dobry")
    assert allegro_tokens.tokens is not None
    bearer = {"Authorization": f"Bearer {allegro_tokens.tokens.access_token}"}
    with httpx.Client(base_url=allegro_sandbox.base_url) as client:
        plain = client.get("/messaging/threads", headers={**bearer, "Accept": "application/json"})
        wrong_body = client.post(
            f"/messaging/threads/{thread.id}/messages",
            headers={**bearer, "Accept": MEDIA_TYPE, "Content-Type": "application/json"},
            content=b'{"text": "hello"}',
        )
    assert plain.status_code == 406 and wrong_body.status_code == 415
    assert wrong_body.json()["errors"][0]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert allegro_sandbox.replies == []


def test_test_connection_learns_the_login_and_names_a_wrong_address(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    async def connect(channel: AllegroChannel) -> str | None:
        await channel.test_connection()
        return channel.seller_login

    assert run(allegro_settings, allegro_tokens, connect) == allegro_sandbox.seller_login
    wrong = replace(allegro_settings, base_url=allegro_sandbox.base_url + "/api")
    with pytest.raises(BadConfiguration) as not_allegro:
        run(wrong, allegro_tokens, lambda ch: ch.test_connection())
    assert "No Allegro API answers at" in not_allegro.value.user_message


# -- replying ---------------------------------------------------------------------------------------------


def test_a_reply_with_an_attachment_goes_out_in_the_documented_three_steps_exactly_once(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    thread = allegro_sandbox.add_thread()
    allegro_sandbox.add_message(thread.id, "Proszę o fakturę.")
    reply = OutgoingReply(
        "outbox-1",
        thread.id,
        "W załączniku faktura i zdjęcie etykiety.",
        files=(
            OutgoingFile("faktura.pdf", b"%PDF-1.7 test", "application/pdf"),
            OutgoingFile("etykieta.png", PNG),  # type from the extension
        ),
    )

    receipt = run(allegro_settings, allegro_tokens, lambda ch: ch.send_reply(reply))

    [declare_pdf, declare_png] = allegro_sandbox.requests_to("/messaging/message-attachments", "POST")
    assert json.loads(declare_pdf.body) == {"filename": "faktura.pdf", "size": len(b"%PDF-1.7 test")}
    assert json.loads(declare_png.body) == {"filename": "etykieta.png", "size": len(PNG)}
    assert all(d.headers["Content-Type"] == MEDIA_TYPE for d in (declare_pdf, declare_png))
    [upload_pdf, upload_png] = allegro_sandbox.requests_to("/messaging/message-attachments", "PUT")
    assert (upload_pdf.headers["Content-Type"], upload_pdf.body) == ("application/pdf", b"%PDF-1.7 test")
    assert (upload_png.headers["Content-Type"], upload_png.body) == ("image/png", PNG)
    [post] = allegro_sandbox.requests_to(f"/messaging/threads/{thread.id}/messages", "POST")
    [stored] = allegro_sandbox.replies
    assert stored.request_json["text"] == reply.body
    assert [a["id"] for a in stored.request_json["attachments"]] == list(allegro_sandbox.declared)
    assert stored.content_type == MEDIA_TYPE and post.headers["Accept"] == MEDIA_TYPE
    assert [(n, t, d) for n, t, d in stored.attachments] == [
        ("faktura.pdf", "application/pdf", b"%PDF-1.7 test"),
        ("etykieta.png", "image/png", PNG),
    ]
    assert receipt.remote_message_id == stored.message_id

    # Allegro echoes the seller's own message in the thread: same id, outbound, never a second message.
    remote = run(allegro_settings, allegro_tokens, lambda ch: ch.fetch_thread(thread.id))
    mine = [m for m in remote.messages if m.direction is Direction.OUT]
    assert [m.remote_id for m in mine] == [receipt.remote_message_id]
    assert [a.name for a in mine[0].attachments] == ["faktura.pdf", "etykieta.png"]


def test_replies_that_break_allegros_limits_are_refused_before_anything_is_sent(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    thread = allegro_sandbox.add_thread()
    allegro_sandbox.add_message(thread.id, "?")
    refused = [
        OutgoingReply("a", thread.id, "x" * 2001),
        OutgoingReply("b", thread.id, "Plik", files=(OutgoingFile("dane.xlsx", b"1234"),)),
        OutgoingReply(
            "c", thread.id, "Plik", files=(OutgoingFile("duzy.pdf", b"0" * (5 * 1024 * 1024 + 1)),)
        ),
    ]
    for reply in refused:
        with pytest.raises(RejectedInput) as error:
            run(allegro_settings, allegro_tokens, lambda ch, r=reply: ch.send_reply(r))
        assert error.value.detail == "refused before sending"
    assert allegro_sandbox.api_requests() == []


@pytest.mark.parametrize("fault_kind", ["drop", "slow", "status"])
def test_a_reply_whose_answer_was_lost_is_found_again_and_not_sent_twice(
    allegro_sandbox: AllegroSandbox,
    allegro_settings: AllegroSettings,
    allegro_tokens: MemoryTokenStore,
    fault_kind: str,
) -> None:
    thread = allegro_sandbox.add_thread()
    allegro_sandbox.add_message(thread.id, "Czy wysłane?")
    known = {
        m.remote_id
        for m in run(allegro_settings, allegro_tokens, lambda ch: ch.fetch_thread(thread.id)).messages
    }
    claimed_at = datetime.now(UTC)
    reply = OutgoingReply("outbox-7", thread.id, "Tak,\r\nwysłane   dziś. ")
    allegro_sandbox.inject(
        Fault(
            fault_kind,
            status=500,
            delay=3.0,
            method="POST",
            path_prefix="/messaging/threads",
            after_processing=True,
        )  # type: ignore[arg-type]
    )

    with pytest.raises(TemporarilyUnavailable) as lost:
        run(allegro_settings, allegro_tokens, lambda ch: ch.send_reply(reply), timeout=SHORT_TIMEOUT)

    assert lost.value.maybe_delivered
    assert len(allegro_sandbox.requests_to("/messaging/threads", "POST")) == 1  # the POST was not retried
    [stored] = allegro_sandbox.replies
    found = run(
        allegro_settings,
        allegro_tokens,
        lambda ch: ch.find_sent(reply, claimed_at=claimed_at, known_message_ids=known),
    )
    assert found.outcome is LookupOutcome.FOUND
    assert found.message is not None and found.message.remote_id == stored.message_id
    lookup = allegro_sandbox.requests_to(f"/messaging/threads/{thread.id}/messages")[-1]
    assert "after" in lookup.query  # only messages created after the claim are read


SENDER = """
import asyncio, sys
from inbox_app.channels.allegro import AllegroChannel, AllegroSettings, MemoryTokenStore
from inbox_app.channels.base import OutgoingFile, OutgoingReply

async def main() -> None:
    base, client_id, secret, refresh, thread_id = sys.argv[1:6]
    settings = AllegroSettings(client_id, secret, base_url=base, auth_url=base)
    async with AllegroChannel(settings, MemoryTokenStore(refresh_token=refresh)) as channel:
        await channel.send_reply(OutgoingReply(
            "outbox-kill", thread_id, "Paczka jest już u kuriera.",
            files=(OutgoingFile("list.pdf", b"%PDF-1.4 waybill", "application/pdf"),)))

asyncio.run(main())
"""


def test_a_sender_killed_while_waiting_for_the_answer_leaves_a_reply_that_is_found(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    thread = allegro_sandbox.add_thread()
    allegro_sandbox.add_message(thread.id, "Kiedy wysyłka?")
    claimed_at = datetime.now(UTC)
    allegro_sandbox.inject(
        Fault("slow", delay=60.0, method="POST", path_prefix="/messaging/threads", after_processing=True)
    )
    refresh = allegro_sandbox.issue_tokens()["refresh_token"]
    sender = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SENDER,
            allegro_sandbox.base_url,
            allegro_sandbox.client_id,
            allegro_sandbox.client_secret,
            refresh,
            thread.id,
        ],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert allegro_sandbox.reply_stored.wait(timeout=60), "the reply never reached the sandbox"
        sender.send_signal(signal.SIGKILL)
    finally:
        sender.wait(timeout=30)
    assert sender.returncode == -signal.SIGKILL

    reply = OutgoingReply(
        "outbox-kill",
        thread.id,
        "Paczka jest już u kuriera.",
        files=(OutgoingFile("list.pdf", b"%PDF-1.4 waybill", "application/pdf"),),
    )
    lookup = run(allegro_settings, allegro_tokens, lambda ch: ch.find_sent(reply, claimed_at=claimed_at))
    assert lookup.outcome is LookupOutcome.FOUND
    assert lookup.message is not None and lookup.message.remote_id == allegro_sandbox.replies[0].message_id
    assert len(allegro_sandbox.replies) == 1


def test_a_reply_refused_before_processing_is_not_found_and_can_be_sent(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    thread = allegro_sandbox.add_thread()
    allegro_sandbox.add_message(thread.id, "Zwrot?")
    claimed_at = datetime.now(UTC)
    reply = OutgoingReply("outbox-8", thread.id, "Zwrot został zlecony.")
    allegro_sandbox.inject(Fault("status", status=503, method="POST"))

    with pytest.raises(TemporarilyUnavailable) as failed:
        run(allegro_settings, allegro_tokens, lambda ch: ch.send_reply(reply))
    assert failed.value.maybe_delivered

    lookup = run(allegro_settings, allegro_tokens, lambda ch: ch.find_sent(reply, claimed_at=claimed_at))
    assert lookup.outcome is LookupOutcome.NOT_SENT
    run(allegro_settings, allegro_tokens, lambda ch: ch.send_reply(reply))
    assert len(allegro_sandbox.replies) == 1


def test_a_429_on_a_reply_is_retried_once_the_wait_is_over(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    thread = allegro_sandbox.add_thread()
    allegro_sandbox.add_message(thread.id, "?")
    allegro_sandbox.inject(Fault("status", status=429, retry_after="0.2", method="POST"))
    sleeps = SleepLog()

    run(
        allegro_settings,
        allegro_tokens,
        lambda ch: ch.send_reply(OutgoingReply("o", thread.id, "Przepraszamy za zwłokę.")),
        sleep=sleeps,
    )

    assert len(allegro_sandbox.replies) == 1
    assert len(sleeps.waits) == 1 and sleeps.waits[0] >= 0.2


# -- sign-in ---------------------------------------------------------------------------------------------


def test_an_expired_access_token_is_refreshed_after_the_401_and_the_call_retried_once(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    ids = allegro_sandbox.generate(3, 1)
    assert allegro_tokens.tokens is not None
    old = allegro_tokens.tokens
    allegro_sandbox.expire_access_tokens()  # Allegro ended it early; our clock still thinks it is valid

    batches = run(allegro_settings, allegro_tokens, collect)

    assert sorted(all_threads(batches)) == sorted(ids)
    new = allegro_tokens.tokens
    assert new is not None and new.access_token != old.access_token and new.refresh_token != old.refresh_token
    assert allegro_tokens.saves == 1  # the rotated refresh token was saved at once
    [refresh] = allegro_sandbox.requests_to("/auth/oauth/token", "POST")
    assert refresh.body.decode().startswith("grant_type=refresh_token")
    assert refresh.headers["Authorization"].startswith("Basic ")
    first, second = allegro_sandbox.requests_to("/messaging/threads")[:2]
    assert first.headers["Authorization"] == f"Bearer {old.access_token}"
    assert second.headers["Authorization"] == f"Bearer {new.access_token}"


def test_an_access_token_about_to_expire_is_refreshed_before_the_call(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings
) -> None:
    issued = allegro_sandbox.issue_tokens()
    store = MemoryTokenStore(
        OAuthTokens(
            issued["access_token"], issued["refresh_token"], datetime.now(UTC) + timedelta(seconds=30)
        )
    )
    allegro_sandbox.generate(1, 1)

    run(allegro_settings, store, collect)

    assert store.saves == 1
    assert all(
        r.headers["Authorization"] != f"Bearer {issued['access_token']}"
        for r in allegro_sandbox.api_requests()
    )  # no request was made with the old token: no 401 at all


def test_a_refresh_token_alone_is_enough_to_start(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings
) -> None:
    store = MemoryTokenStore(refresh_token=allegro_sandbox.issue_tokens()["refresh_token"])
    allegro_sandbox.generate(2, 1)
    assert len(all_threads(run(allegro_settings, store, collect))) == 2
    assert store.tokens is not None and store.tokens.access_token


def test_a_revoked_refresh_token_asks_to_reconnect_allegro_and_is_not_retried(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    allegro_sandbox.generate(1, 1)
    allegro_sandbox.expire_access_tokens()
    allegro_sandbox.revoke_refresh_tokens()

    with pytest.raises(AuthFailed) as refused:
        run(allegro_settings, allegro_tokens, collect)

    assert isinstance(refused.value, ReconnectAllegro)
    assert "Reconnect Allegro" in refused.value.user_message
    assert len(allegro_sandbox.requests_to("/auth/oauth/token", "POST")) == 1
    assert len(allegro_sandbox.api_requests()) == 1  # the 401, then no more calls


def test_a_token_refused_even_after_a_refresh_asks_to_reconnect(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    allegro_sandbox.generate(1, 1)
    allegro_sandbox.access_ttl = -1  # every new access token is born expired
    allegro_sandbox.expire_access_tokens()
    with pytest.raises(ReconnectAllegro):
        run(allegro_settings, allegro_tokens, collect)
    assert len(allegro_sandbox.api_requests()) == 2  # the first call and exactly one retry


def _auth(
    sandbox: AllegroSandbox, store: MemoryTokenStore, sleep: Callable[[float], Awaitable[None]]
) -> AllegroAuth:
    return AllegroAuth(
        auth_url=sandbox.base_url,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        store=store,
        sleep=sleep,
    )


class SellerActs:
    """Stands in for the wait between polls: records each interval and, on the given poll, lets the seller
    act on Allegro's page through the sandbox (approve or deny the code)."""

    def __init__(self, on_poll: int, act: Callable[[], None]) -> None:
        self.intervals: list[float] = []
        self._on_poll = on_poll
        self._act = act

    async def __call__(self, seconds: float) -> None:
        self.intervals.append(seconds)
        if len(self.intervals) == self._on_poll:
            self._act()
        await asyncio.sleep(0)


def test_device_flow_shows_the_code_waits_for_approval_and_stores_the_tokens(
    allegro_sandbox: AllegroSandbox,
) -> None:
    store = MemoryTokenStore()
    codes: list[str] = []
    seller = SellerActs(3, lambda: allegro_sandbox.approve(codes[0]))
    allegro_sandbox.slow_downs = 1  # Allegro asks once to poll more slowly

    async def main() -> OAuthTokens:
        auth = _auth(allegro_sandbox, store, seller)
        try:
            started = await auth.start_device_flow()
            codes.append(started.user_code)
            assert started.verification_uri == "https://allegro.pl/skojarz-aplikacje"
            assert (
                started.verification_uri_complete is not None
                and started.user_code in started.verification_uri_complete
            )
            assert (started.interval, started.expires_in) == (5, 3600)
            return await auth.complete_device_flow(started)
        finally:
            await auth.aclose()

    tokens = asyncio.run(main())

    assert store.tokens == tokens and store.saves == 1
    assert tokens.refresh_token in allegro_sandbox.refresh_tokens
    assert seller.intervals == [5, 10, 10]  # slow_down on the first poll added 5 s to every later wait
    [device] = allegro_sandbox.requests_to("/auth/oauth/device", "POST")
    assert device.body == f"client_id={allegro_sandbox.client_id}".encode()
    polls = allegro_sandbox.requests_to("/auth/oauth/token", "POST")
    assert len(polls) == 3  # slow_down, authorization_pending, then the tokens
    assert all(b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code" in p.body for p in polls)


@pytest.mark.parametrize("outcome", ["denied", "expired"])
def test_device_flow_denied_or_expired_says_so(allegro_sandbox: AllegroSandbox, outcome: str) -> None:
    store = MemoryTokenStore()
    codes: list[str] = []
    act = (lambda: allegro_sandbox.deny(codes[0])) if outcome == "denied" else allegro_sandbox.expire_devices
    seller = SellerActs(2, act)

    async def main() -> None:
        auth = _auth(allegro_sandbox, store, seller)
        try:
            started = await auth.start_device_flow()
            codes.append(started.user_code)
            await auth.complete_device_flow(started)
        finally:
            await auth.aclose()

    expected = DeviceFlowDenied if outcome == "denied" else DeviceFlowExpired
    with pytest.raises(expected) as failed:
        asyncio.run(main())
    assert "Start again" in failed.value.user_message
    assert store.tokens is None and len(allegro_sandbox.requests_to("/auth/oauth/token", "POST")) == 2


def test_device_flow_can_be_cancelled_while_it_waits(allegro_sandbox: AllegroSandbox) -> None:
    store = MemoryTokenStore()

    async def main() -> int:
        auth = AllegroAuth(
            auth_url=allegro_sandbox.base_url,
            client_id=allegro_sandbox.client_id,
            client_secret=allegro_sandbox.client_secret,
            store=store,
            sleep=lambda s: asyncio.sleep(0.01),
        )
        try:
            started = await auth.start_device_flow()
            task = asyncio.ensure_future(auth.complete_device_flow(started))
            while len(allegro_sandbox.requests_to("/auth/oauth/token", "POST")) < 2:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return len(allegro_sandbox.requests_to("/auth/oauth/token", "POST"))
        finally:
            await auth.aclose()

    polls = asyncio.run(main())
    assert store.tokens is None
    assert len(allegro_sandbox.requests_to("/auth/oauth/token", "POST")) == polls  # no poll after the cancel


def test_wrong_client_credentials_are_named(allegro_sandbox: AllegroSandbox) -> None:
    async def main() -> None:
        auth = AllegroAuth(
            auth_url=allegro_sandbox.base_url,
            client_id="someone-else",
            client_secret="x",
            store=MemoryTokenStore(),
        )
        try:
            await auth.start_device_flow()
        finally:
            await auth.aclose()

    with pytest.raises(AuthFailed):
        asyncio.run(main())


# -- faults while reading ----------------------------------------------------------------------------------


def test_429_waits_the_retry_after_then_succeeds(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    ids = allegro_sandbox.generate(3, 1)
    allegro_sandbox.inject(Fault("status", status=429, retry_after="0.3", path_prefix="/messaging/threads"))
    sleeps = SleepLog()

    batches = run(allegro_settings, allegro_tokens, collect, sleep=sleeps)

    assert sorted(all_threads(batches)) == sorted(ids)
    assert len(sleeps.waits) == 1 and 0.3 <= sleeps.waits[0] <= 0.33


def test_a_429_without_retry_after_means_blocked_for_a_minute(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    allegro_sandbox.inject(Fault("status", status=429))
    with pytest.raises(RateLimited) as limited:
        run(allegro_settings, allegro_tokens, collect)
    assert limited.value.retry_after == 60.0  # longer than the policy sleeps in place: goes up to the engine
    assert len(allegro_sandbox.api_requests()) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_with_backoff(
    allegro_sandbox: AllegroSandbox,
    allegro_settings: AllegroSettings,
    allegro_tokens: MemoryTokenStore,
    status: int,
) -> None:
    ids = allegro_sandbox.generate(2, 1)
    allegro_sandbox.inject(Fault("status", status=status, times=2))
    sleeps = SleepLog()
    batches = run(allegro_settings, allegro_tokens, collect, sleep=sleeps)
    assert sorted(all_threads(batches)) == sorted(ids)
    assert len(sleeps.waits) == 2


def test_a_server_that_stays_down_gives_temporarily_unavailable(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    allegro_sandbox.inject(Fault("status", status=503, times=100))
    with pytest.raises(TemporarilyUnavailable) as down:
        run(allegro_settings, allegro_tokens, collect)
    assert not down.value.maybe_delivered
    assert len(allegro_sandbox.api_requests()) == FAST_RETRY.max_attempts


def test_a_slow_answer_past_the_timeout_is_retried(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    ids = allegro_sandbox.generate(2, 1)
    allegro_sandbox.inject(Fault("slow", delay=3.0, path_prefix="/messaging/threads"))
    batches = run(allegro_settings, allegro_tokens, collect, timeout=SHORT_TIMEOUT)
    assert sorted(all_threads(batches)) == sorted(ids)
    assert len(allegro_sandbox.requests_to("/messaging/threads")) == 1 + 1 + 2


def test_a_connection_dropped_mid_body_is_retried(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    ids = allegro_sandbox.generate(4, 2)
    allegro_sandbox.inject(Fault("drop", path_prefix="/messaging/threads"))
    batches = run(allegro_settings, allegro_tokens, collect)
    assert sorted(all_threads(batches)) == sorted(ids)


def test_malformed_json_is_retried_and_kept_when_it_persists(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    ids = allegro_sandbox.generate(2, 1)
    allegro_sandbox.inject(Fault("malformed"))
    assert sorted(all_threads(run(allegro_settings, allegro_tokens, collect))) == sorted(ids)

    allegro_sandbox.inject(Fault("malformed", times=100))
    with pytest.raises(TemporarilyUnavailable) as unreadable:
        run(allegro_settings, allegro_tokens, collect)
    assert unreadable.value.raw_body == b'{"threads": [{"id": "th-1", "read": '


def test_an_unreadable_thread_is_handed_on_with_its_json(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    ids = allegro_sandbox.generate(2, 1)
    allegro_sandbox.odd_items.append({"read": False, "lastMessageDateTime": "2026-12-01T10:00:00.000Z"})
    [batch] = run(allegro_settings, allegro_tokens, collect)
    assert sorted(t.remote_id for t in batch.threads) == sorted(ids)
    assert [json.loads(u) for u in batch.unreadable] == allegro_sandbox.odd_items


def test_secrets_never_reach_the_log(
    allegro_sandbox: AllegroSandbox,
    allegro_settings: AllegroSettings,
    allegro_tokens: MemoryTokenStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    allegro_sandbox.generate(2, 1)
    allegro_sandbox.inject(Fault("status", status=503))
    assert allegro_tokens.tokens is not None
    old = allegro_tokens.tokens
    allegro_sandbox.expire_access_tokens()
    with caplog.at_level(logging.DEBUG):
        run(allegro_settings, allegro_tokens, collect)
    new = allegro_tokens.tokens
    assert new is not None
    secrets = [
        old.access_token,
        old.refresh_token,
        new.access_token,
        new.refresh_token,
        allegro_sandbox.client_secret,
    ]
    texts = [r.getMessage() for r in caplog.records] + [repr(allegro_settings), repr(new)]
    assert any("[redacted]" in t for t in texts)
    assert not [t for t in texts for s in secrets if s in t]


def test_the_channel_stays_under_its_request_budget(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    ids = allegro_sandbox.generate(5, 1)
    clock = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # the budget's waits pass on a test clock, not in real time
        waits.append(seconds)
        clock[0] += seconds
        await asyncio.sleep(0)

    settings = replace(allegro_settings, rate_per_minute=2, concurrency=1)
    batches = run(settings, allegro_tokens, collect, sleep=sleep, monotonic=lambda: clock[0])

    assert sorted(all_threads(batches)) == sorted(ids)
    assert len(allegro_sandbox.api_requests()) == 6  # one page, five message lists
    assert sum(waits) >= 2 * 60 - 1  # 6 requests at 2 a minute: two full minutes of waiting


def test_a_server_error_while_refreshing_is_not_a_reconnect(
    allegro_sandbox: AllegroSandbox, allegro_settings: AllegroSettings, allegro_tokens: MemoryTokenStore
) -> None:
    ids = allegro_sandbox.generate(2, 1)
    allegro_sandbox.expire_access_tokens()
    allegro_sandbox.inject(Fault("status", status=503, path_prefix="/auth/oauth/token"))

    with pytest.raises(TemporarilyUnavailable) as down:
        run(allegro_settings, allegro_tokens, collect)
    assert not isinstance(down.value, AuthFailed)
    assert allegro_tokens.saves == 0  # the refresh token we hold is still the valid one

    assert sorted(all_threads(run(allegro_settings, allegro_tokens, collect))) == sorted(ids)
    assert allegro_tokens.saves == 1


def test_device_flow_polls_more_slowly_when_the_token_endpoint_is_overloaded(
    allegro_sandbox: AllegroSandbox,
) -> None:
    store = MemoryTokenStore()
    codes: list[str] = []
    seller = SellerActs(2, lambda: allegro_sandbox.approve(codes[0]))
    allegro_sandbox.inject(Fault("status", status=503, path_prefix="/auth/oauth/token"))

    async def main() -> OAuthTokens:
        auth = _auth(allegro_sandbox, store, seller)
        try:
            started = await auth.start_device_flow()
            codes.append(started.user_code)
            return await auth.complete_device_flow(started)
        finally:
            await auth.aclose()

    tokens = asyncio.run(main())
    assert store.tokens == tokens
    assert seller.intervals == [5, 10]
