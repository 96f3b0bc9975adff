"""The Mirakl connector against the Mirakl sandbox over real HTTP on 127.0.0.1 (no mocked transport).

Covers listing with seek paging and an incremental cursor, M10 completion of long threads, operator messages,
attachments both ways, the M12 multipart shape as the server received it, the lookup of a reply after its
answer was lost, and each fault mode mapped to the right typed error or retried as documented.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from inbox_app.channels.base import (
    AuthFailed,
    BadConfiguration,
    CertificateInvalid,
    LookupOutcome,
    OutgoingFile,
    OutgoingReply,
    ParticipantKind,
    RateLimited,
    RejectedInput,
    RemoteAttachment,
    RemoteNotFound,
    RemoteThread,
    ReplyTarget,
    TemporarilyUnavailable,
    ThreadBatch,
)
from inbox_app.channels.http import RetryPolicy
from inbox_app.channels.mirakl import MiraklChannel, MiraklSettings
from inbox_app.domain.conversations import Direction
from tests.servers import free_port
from tests.servers.mirakl import Fault, MiraklSandbox
from tests.servers.tls import TestPki, make_test_pki

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.integration.mirakl_fixtures"]

T = TypeVar("T")
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_wait=5.0)
SHORT_TIMEOUT = httpx.Timeout(connect=2.0, read=0.4, write=2.0, pool=2.0)


class SleepLog:
    """Really sleeps (the waits are small) and remembers how long each wait was."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(seconds)


def run(
    settings: MiraklSettings,
    work: Callable[[MiraklChannel], Awaitable[T]],
    **options: Any,
) -> T:
    async def main() -> T:
        options.setdefault("retry", FAST_RETRY)
        async with MiraklChannel(settings, **options) as channel:
            assert isinstance(channel, MiraklChannel)
            return await work(channel)

    return asyncio.run(main())


async def collect(channel: MiraklChannel, cursor: str | None = None) -> list[ThreadBatch]:
    return [batch async for batch in channel.list_threads(cursor)]


def all_threads(batches: list[ThreadBatch]) -> dict[str, RemoteThread]:
    found: dict[str, RemoteThread] = {}
    for batch in batches:
        for thread in batch.threads:
            found[thread.remote_id] = thread
    return found


# -- reading --------------------------------------------------------------------------------------------


def test_listing_walks_every_page_with_the_documented_parameters(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    ids = mirakl_sandbox.generate(250, 3)
    settings = MiraklSettings(**{**mirakl_settings.__dict__, "page_size": 20})

    batches = run(settings, collect)

    assert [b.last for b in batches] == [False] * 12 + [True]
    threads = all_threads(batches)
    assert sorted(threads) == sorted(ids)
    assert sum(len(b.threads) for b in batches) == 250  # no thread twice
    assert all(len(t.messages) == 3 and t.messages_complete for t in threads.values())
    pages = mirakl_sandbox.requests_to("/api/inbox/threads")
    assert len(pages) == 13
    first, *rest = pages
    assert first.query == {"with_messages": ["true"], "limit": ["20"], "shop_id": ["2001"]}
    # With a page token every other parameter is ignored by Mirakl: the client sends only the token.
    assert all(set(r.query) == {"page_token", "shop_id"} for r in rest)
    assert all(
        r.headers["Authorization"] == mirakl_sandbox.api_key for r in pages
    )  # the key as is, no Bearer


def test_incremental_listing_returns_an_updated_thread_with_its_new_messages(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    ids = mirakl_sandbox.generate(30, 2)
    first = run(mirakl_settings, collect)
    cursor = first[-1].cursor
    assert len(all_threads(first)) == 30

    changed = ids[7]
    new = mirakl_sandbox.add_message(changed, "Any news? It has been a week.", sender="CUSTOMER")
    second = run(mirakl_settings, lambda ch: collect(ch, cursor))

    threads = all_threads(second)
    assert list(threads) == [changed]  # only what changed since the cursor
    thread = threads[changed]
    assert [m.remote_id for m in thread.messages][-1] == new["id"]
    assert len({m.remote_id for m in thread.messages}) == len(thread.messages) == 3  # nothing doubled
    assert thread.reply_needed_since is not None
    [request] = mirakl_sandbox.requests_to("/api/inbox/threads")[-1:]
    assert "updated_since" in request.query

    # Nothing changed since: one request; only a thread changed within the cursor's overlap (which guards
    # against changes made while the previous listing was being read) may come again, never the old ones.
    requests_before = len(mirakl_sandbox.requests)
    third = run(mirakl_settings, lambda ch: collect(ch, second[-1].cursor))
    assert len(mirakl_sandbox.requests) == requests_before + 1
    assert [t.remote_id for b in third for t in b.threads] == [changed]


def test_a_listing_interrupted_mid_way_resumes_from_the_committed_cursor(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    ids = mirakl_sandbox.generate(50, 1)
    settings = MiraklSettings(**{**mirakl_settings.__dict__, "page_size": 10})

    async def first_two_pages(channel: MiraklChannel) -> list[ThreadBatch]:
        taken: list[ThreadBatch] = []
        async for batch in channel.list_threads(None):
            taken.append(batch)
            if len(taken) == 2:
                break  # the process dies here; only these two batches were committed
        return taken

    committed = run(settings, first_two_pages)
    rest = run(settings, lambda ch: collect(ch, committed[-1].cursor))

    seen = [t.remote_id for b in committed + rest for t in b.threads]
    assert sorted(seen) == sorted(ids)  # nothing skipped, nothing doubled
    assert len(mirakl_sandbox.requests_to("/api/inbox/threads")) == 5


@pytest.mark.parametrize("seed", range(4))
def test_threads_changed_while_the_pages_are_read_are_never_missed(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings, seed: int
) -> None:
    rng = random.Random(seed)
    ids = mirakl_sandbox.generate(60, 1)
    # Mirakl's clock runs ahead of ours: the cursor must follow the server's clock, not this machine's.
    mirakl_sandbox.clock_offset = timedelta(minutes=rng.choice([-30, 0, 45]))
    settings = MiraklSettings(**{**mirakl_settings.__dict__, "page_size": 7})
    seen: dict[str, datetime | None] = {}

    async def listing_with_changes(channel: MiraklChannel) -> str:
        cursor = ""
        async for batch in channel.list_threads(None):
            seen.update({t.remote_id: t.updated_at for t in batch.threads})
            cursor = batch.cursor
            for changed in rng.sample(ids, 3):  # customers keep writing while we page
                mirakl_sandbox.add_message(changed, f"and another thing ({seed})")
        return cursor

    cursor = run(settings, listing_with_changes)
    for batch in run(settings, lambda ch: collect(ch, cursor)):
        seen.update({t.remote_id: t.updated_at for t in batch.threads})

    latest = {t.id: t.date_updated for t in mirakl_sandbox.threads.values()}
    assert seen == latest  # every thread, in its latest version


def test_a_page_token_mirakl_no_longer_accepts_restarts_the_listing_from_since(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    ids = mirakl_sandbox.generate(5, 1)
    stale = json.dumps({"v": 1, "page_token": "expired-token"})

    batches = run(mirakl_settings, lambda ch: collect(ch, stale))

    assert sorted(all_threads(batches)) == sorted(ids)
    first, second = mirakl_sandbox.requests_to("/api/inbox/threads")
    assert first.query["page_token"] == ["expired-token"]
    assert "page_token" not in second.query


def test_thread_fields_operator_messages_and_the_deadline_clock(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    thread = mirakl_sandbox.add_thread(
        topic="Colis endommagé", order_id="FR-778-A", customer_name="Élise M.", at=start
    )
    mirakl_sandbox.add_message(thread.id, "Le colis est arrivé abîmé.", at=start)
    mirakl_sandbox.add_message(
        thread.id,
        "Merci de répondre au client sous 48 h.",
        sender="OPERATOR",
        at=start + timedelta(minutes=5),
    )

    [remote] = all_threads(run(mirakl_settings, collect)).values()

    assert remote.subject == "Colis endommagé"
    assert remote.order_id == "FR-778-A"
    assert remote.marketplace == "Fnac ES"
    assert remote.customer is not None and remote.customer.display_name == "Élise M."
    assert remote.reply_needed_since == start
    assert remote.no_reply_needed is False
    customer_msg, operator_msg = remote.messages
    assert customer_msg.author.kind is ParticipantKind.CUSTOMER and customer_msg.direction is Direction.IN
    assert operator_msg.from_operator and operator_msg.direction is Direction.IN
    assert operator_msg.author.organization == "Fnac ES"
    assert json.loads(operator_msg.raw)["from"]["type"] == "OPERATOR_USER"  # the vendor's JSON is kept
    assert json.loads(remote.raw)["id"] == thread.id

    # The shop answers: the clock stops (shop_reply_needed_since becomes null).
    mirakl_sandbox.add_message(
        thread.id, "Nous envoyons un remplacement.", sender="SHOP", at=start + timedelta(hours=1)
    )
    remote = run(mirakl_settings, lambda ch: ch.fetch_thread(thread.id))
    assert remote.reply_needed_since is None
    assert remote.messages[-1].direction is Direction.OUT


def test_no_store_reply_needed_and_a_new_customer_message_after_it(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    thread = mirakl_sandbox.add_thread(at=start)
    mirakl_sandbox.add_message(thread.id, "Thanks, all good!", at=start)
    mirakl_sandbox.mark_no_reply_needed(thread.id, "CUSTOMER", at=start + timedelta(minutes=1))
    assert run(mirakl_settings, lambda ch: ch.fetch_thread(thread.id)).no_reply_needed is True

    mirakl_sandbox.add_message(thread.id, "Actually, one more question.", at=start + timedelta(hours=2))
    assert run(mirakl_settings, lambda ch: ch.fetch_thread(thread.id)).no_reply_needed is False


def test_a_thread_longer_than_the_embedded_100_messages_is_completed_through_m10(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    thread = mirakl_sandbox.add_thread(at=start)
    for i in range(130):
        mirakl_sandbox.add_message(
            thread.id, f"message {i}", sender="SHOP" if i % 2 else "CUSTOMER", at=start + timedelta(minutes=i)
        )

    [remote] = all_threads(run(mirakl_settings, collect)).values()

    assert remote.messages_complete and len(remote.messages) == 130
    assert [m.body for m in remote.messages[:2]] == ["message 0", "message 1"]
    assert len(mirakl_sandbox.requests_to(f"/api/inbox/threads/{thread.id}")) == 1


def test_a_long_thread_deleted_before_m10_keeps_its_embedded_messages(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    thread = mirakl_sandbox.add_thread(at=start)
    for i in range(120):
        mirakl_sandbox.add_message(thread.id, f"message {i}", at=start + timedelta(minutes=i))
    mirakl_sandbox.inject(Fault("status", status=404, path_prefix=f"/api/inbox/threads/{thread.id}"))

    [remote] = all_threads(run(mirakl_settings, collect)).values()

    assert len(remote.messages) == 100 and not remote.messages_complete
    assert remote.total_messages == 120


def test_an_unreadable_thread_is_handed_on_with_its_json_and_the_rest_goes_through(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings, caplog: pytest.LogCaptureFixture
) -> None:
    ids = mirakl_sandbox.generate(3, 1)
    mirakl_sandbox.odd_items.append({"topic": {"type": "FREE_TEXT", "value": "thread without id"}})

    with caplog.at_level(logging.ERROR, logger="inbox_app.channels.mirakl"):
        [batch] = run(mirakl_settings, collect)

    assert sorted(t.remote_id for t in batch.threads) == sorted(ids)
    assert [json.loads(raw)["topic"]["value"] for raw in batch.unreadable] == ["thread without id"]
    assert any("thread without id" in r.getMessage() for r in caplog.records)


def test_attachments_are_downloaded_on_demand_through_m13(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    photo = bytes(range(256)) * 40
    thread = mirakl_sandbox.add_thread()
    mirakl_sandbox.add_message(
        thread.id, "Photo of the damage attached.", attachments=(("schaden.jpg", photo),)
    )

    async def work(channel: MiraklChannel) -> tuple[RemoteAttachment, bytes, str]:
        remote = await channel.fetch_thread(thread.id)
        [attachment] = remote.messages[0].attachments
        content = await channel.download_attachment(attachment)
        return attachment, content.data, content.name

    attachment, data, name = run(mirakl_settings, work)

    assert attachment.size == len(photo) and attachment.name == "schaden.jpg"
    assert data == photo and name == "schaden.jpg"
    [download] = mirakl_sandbox.requests_to("/api/inbox/threads/att-")
    assert download.path == f"/api/inbox/threads/{attachment.remote_id}/download"
    with pytest.raises(RemoteNotFound):
        run(mirakl_settings, lambda ch: ch.download_attachment(RemoteAttachment("att-missing", "x.pdf")))


# -- replying -------------------------------------------------------------------------------------------


def test_a_reply_arrives_in_the_documented_multipart_shape(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    thread = mirakl_sandbox.add_thread()
    mirakl_sandbox.add_message(thread.id, "¿Dónde está mi pedido?")
    pdf = b"%PDF-1.4 invoice " + bytes(3000)
    reply = OutgoingReply(
        reference="outbox-1",
        thread_id=thread.id,
        body="Hola Ana, tu pedido salió hoy. ¡Gracias!",
        files=(
            OutgoingFile("factura.pdf", pdf, "application/pdf"),
            OutgoingFile("etiqueta.png", b"\x89PNG..", "image/png"),
        ),
        to=(ReplyTarget(ParticipantKind.CUSTOMER, thread.customer_id),),
    )

    receipt = run(mirakl_settings, lambda ch: ch.send_reply(reply))

    [received] = mirakl_sandbox.replies
    assert received.content_type.startswith("multipart/form-data; boundary=")
    assert received.part_names == ("message_input", "files", "files")
    assert received.message_input_content_type == "application/json"
    assert received.message_input == {
        "body": "Hola Ana, tu pedido salió hoy. ¡Gracias!",
        "to": [{"type": "CUSTOMER", "id": thread.customer_id}],
    }
    assert [(f.filename, f.content_type, f.data) for f in received.files] == [
        ("factura.pdf", "application/pdf", pdf),
        ("etiqueta.png", "image/png", b"\x89PNG.."),
    ]
    assert receipt.remote_message_id == received.message_id and receipt.thread_id == thread.id
    # The files are now attachments of the shop's message, downloadable like any other.
    remote = run(mirakl_settings, lambda ch: ch.fetch_thread(thread.id))
    assert [a.name for a in remote.messages[-1].attachments] == ["factura.pdf", "etiqueta.png"]


def test_a_reply_to_the_operator_names_no_id(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    thread = mirakl_sandbox.add_thread()
    reply = OutgoingReply(
        "outbox-2",
        thread.id,
        "Please check the carrier's claim.",
        to=(ReplyTarget(ParticipantKind.OPERATOR, "ignored"),),
    )
    run(mirakl_settings, lambda ch: ch.send_reply(reply))
    assert mirakl_sandbox.replies[0].message_input["to"] == [{"type": "OPERATOR"}]


def test_a_reply_outside_the_limits_never_leaves_the_machine(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    thread = mirakl_sandbox.add_thread()
    with pytest.raises(RejectedInput) as short:
        run(mirakl_settings, lambda ch: ch.send_reply(OutgoingReply("o", thread.id, "ok")))
    with pytest.raises(RejectedInput):
        run(mirakl_settings, lambda ch: ch.send_reply(OutgoingReply("o", thread.id, "x" * 50_001)))
    assert "at least 3 characters" in short.value.user_message
    assert mirakl_sandbox.requests_to("/api/inbox/threads", "POST") == []


def test_the_vendors_refusal_reaches_the_user_with_its_message(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    thread = mirakl_sandbox.add_thread(at=start)
    for i in range(1000):
        mirakl_sandbox.add_message(thread.id, f"m{i}", at=start + timedelta(seconds=i))

    with pytest.raises(RejectedInput) as refused:
        run(mirakl_settings, lambda ch: ch.send_reply(OutgoingReply("o", thread.id, "One more answer.")))

    assert refused.value.status == 400
    assert refused.value.vendor_message == "Maximum of 1000 messages on a thread reached"
    assert "Maximum of 1000 messages" in refused.value.user_message
    assert len(mirakl_sandbox.requests_to("/api/inbox/threads", "POST")) == 1  # a refusal is not retried


@pytest.mark.parametrize("fault_kind", ["drop", "slow", "status"])
def test_a_reply_whose_answer_was_lost_is_found_again_and_not_sent_twice(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings, fault_kind: str
) -> None:
    thread = mirakl_sandbox.add_thread()
    mirakl_sandbox.add_message(thread.id, "Is it shipped?")
    before = run(mirakl_settings, lambda ch: ch.fetch_thread(thread.id))
    known = {m.remote_id for m in before.messages}
    claimed_at = datetime.now(UTC)
    reply = OutgoingReply("outbox-7", thread.id, "Yes,\r\nit left   today. ")
    mirakl_sandbox.inject(
        Fault(fault_kind, status=500, delay=3.0, method="POST", after_processing=True)  # type: ignore[arg-type]
    )

    with pytest.raises(TemporarilyUnavailable) as lost:
        run(mirakl_settings, lambda ch: ch.send_reply(reply), timeout=SHORT_TIMEOUT)

    assert lost.value.maybe_delivered  # the outbox must look it up, not send again
    assert len(mirakl_sandbox.requests_to("/api/inbox/threads", "POST")) == 1  # the POST was not retried
    [stored] = mirakl_sandbox.replies

    # The app restarts and looks the reply up before sending anything.
    found = run(
        mirakl_settings, lambda ch: ch.find_sent(reply, claimed_at=claimed_at, known_message_ids=known)
    )
    assert found.outcome is LookupOutcome.FOUND
    assert found.message is not None and found.message.remote_id == stored.message_id


SENDER = """
import asyncio, sys
from inbox_app.channels.base import OutgoingReply
from inbox_app.channels.mirakl import MiraklChannel, MiraklSettings

async def main() -> None:
    settings = MiraklSettings(sys.argv[1], sys.argv[2], sys.argv[3])
    async with MiraklChannel(settings) as channel:
        await channel.send_reply(OutgoingReply("outbox-kill", sys.argv[4], "Your parcel is with DHL now."))

asyncio.run(main())
"""


def test_a_sender_killed_while_waiting_for_the_answer_leaves_a_reply_that_is_found(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    thread = mirakl_sandbox.add_thread()
    claimed_at = datetime.now(UTC)
    # Mirakl stores the reply, then its answer hangs: the sender is killed while it waits.
    mirakl_sandbox.inject(Fault("slow", delay=60.0, method="POST", after_processing=True))
    sender = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SENDER,
            mirakl_sandbox.base_url,
            mirakl_sandbox.api_key,
            mirakl_sandbox.shop_id,
            thread.id,
        ],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert mirakl_sandbox.reply_stored.wait(timeout=60), "the reply never reached the sandbox"
        sender.send_signal(signal.SIGKILL)
    finally:
        sender.wait(timeout=30)
    assert sender.returncode == -signal.SIGKILL

    # The restarted app looks the claimed reply up before sending anything again.
    reply = OutgoingReply("outbox-kill", thread.id, "Your parcel is with DHL now.")
    lookup = run(mirakl_settings, lambda ch: ch.find_sent(reply, claimed_at=claimed_at))
    assert lookup.outcome is LookupOutcome.FOUND
    assert lookup.message is not None and lookup.message.remote_id == mirakl_sandbox.replies[0].message_id
    assert len(mirakl_sandbox.replies) == 1


def test_a_reply_refused_before_processing_is_not_found_and_can_be_sent(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    thread = mirakl_sandbox.add_thread()
    claimed_at = datetime.now(UTC)
    reply = OutgoingReply("outbox-8", thread.id, "Your refund is on its way.")
    mirakl_sandbox.inject(Fault("status", status=503, method="POST"))

    with pytest.raises(TemporarilyUnavailable) as failed:
        run(mirakl_settings, lambda ch: ch.send_reply(reply))
    assert failed.value.maybe_delivered  # a 5xx on a POST proves nothing either way

    lookup = run(mirakl_settings, lambda ch: ch.find_sent(reply, claimed_at=claimed_at))
    assert lookup.outcome is LookupOutcome.NOT_SENT
    run(mirakl_settings, lambda ch: ch.send_reply(reply))
    assert len(mirakl_sandbox.replies) == 1


def test_find_sent_allows_for_mirakls_clock_being_a_little_behind(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    thread = mirakl_sandbox.add_thread()
    mirakl_sandbox.clock_offset = timedelta(seconds=-60)
    claimed_at = datetime.now(UTC)
    reply = OutgoingReply("outbox-11", thread.id, "We have refunded the shipping costs.")
    receipt = run(mirakl_settings, lambda ch: ch.send_reply(reply))

    lookup = run(mirakl_settings, lambda ch: ch.find_sent(reply, claimed_at=claimed_at))

    assert lookup.outcome is LookupOutcome.FOUND
    assert lookup.message is not None and lookup.message.remote_id == receipt.remote_message_id


def test_find_sent_ignores_the_same_text_sent_long_before_the_claim(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    thread = mirakl_sandbox.add_thread()
    mirakl_sandbox.add_message(
        thread.id, "Thank you!", sender="SHOP", at=datetime.now(UTC) - timedelta(days=2)
    )
    mirakl_sandbox.add_message(thread.id, "Thank you!", sender="CUSTOMER")  # not ours: from the customer
    reply = OutgoingReply("outbox-9", thread.id, "Thank you!")

    lookup = run(mirakl_settings, lambda ch: ch.find_sent(reply, claimed_at=datetime.now(UTC)))

    assert lookup.outcome is LookupOutcome.NOT_SENT


def test_find_sent_cannot_confirm_when_the_thread_is_gone(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    reply = OutgoingReply("outbox-10", "th-gone", "Hello there")
    lookup = run(mirakl_settings, lambda ch: ch.find_sent(reply, claimed_at=datetime.now(UTC)))
    assert lookup.outcome is LookupOutcome.CANNOT_CONFIRM
    with pytest.raises(RemoteNotFound):
        run(mirakl_settings, lambda ch: ch.fetch_thread("th-gone"))


def test_a_429_on_a_reply_is_retried_once_the_wait_is_over(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    thread = mirakl_sandbox.add_thread()
    mirakl_sandbox.inject(Fault("status", status=429, retry_after="0.2", method="POST"))
    sleeps = SleepLog()

    run(
        mirakl_settings,
        lambda ch: ch.send_reply(OutgoingReply("o", thread.id, "Sorry for the wait.")),
        sleep=sleeps,
    )

    assert len(mirakl_sandbox.replies) == 1  # 429 means not processed: retrying cannot double it
    assert len(sleeps.waits) == 1 and sleeps.waits[0] >= 0.2


# -- faults while reading -------------------------------------------------------------------------------


def test_429_waits_the_retry_after_then_succeeds(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    ids = mirakl_sandbox.generate(3, 1)
    mirakl_sandbox.inject(Fault("status", status=429, retry_after="0.3", path_prefix="/api/inbox/threads"))
    sleeps = SleepLog()

    batches = run(mirakl_settings, collect, sleep=sleeps)

    assert sorted(all_threads(batches)) == sorted(ids)
    assert len(sleeps.waits) == 1 and 0.3 <= sleeps.waits[0] <= 0.33  # Retry-After, plus ≤ 10 % jitter
    assert len(mirakl_sandbox.requests_to("/api/inbox/threads")) == 2


def test_a_retry_after_longer_than_we_sleep_in_place_goes_up_as_rate_limited(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    mirakl_sandbox.inject(Fault("status", status=429, retry_after="3600"))
    with pytest.raises(RateLimited) as limited:
        run(mirakl_settings, collect)
    assert limited.value.retry_after == 3600
    assert "slow down" in limited.value.user_message
    assert len(mirakl_sandbox.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_with_backoff(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings, status: int
) -> None:
    ids = mirakl_sandbox.generate(2, 1)
    mirakl_sandbox.inject(Fault("status", status=status, times=2))
    sleeps = SleepLog()

    batches = run(mirakl_settings, collect, sleep=sleeps)

    assert sorted(all_threads(batches)) == sorted(ids)
    assert len(sleeps.waits) == 2 and all(0 <= w <= FAST_RETRY.max_delay for w in sleeps.waits)


def test_a_server_that_stays_down_gives_temporarily_unavailable_after_bounded_attempts(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    mirakl_sandbox.inject(Fault("status", status=503, times=100))
    with pytest.raises(TemporarilyUnavailable) as down:
        run(mirakl_settings, collect)
    assert not down.value.maybe_delivered
    assert len(mirakl_sandbox.requests) == FAST_RETRY.max_attempts
    assert "cannot be reached" in down.value.user_message


def test_a_slow_answer_past_the_timeout_is_retried(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    ids = mirakl_sandbox.generate(2, 1)
    mirakl_sandbox.inject(Fault("slow", delay=3.0))

    batches = run(mirakl_settings, collect, timeout=SHORT_TIMEOUT)

    assert sorted(all_threads(batches)) == sorted(ids)
    assert len(mirakl_sandbox.requests) == 2


def test_a_server_that_keeps_timing_out_gives_temporarily_unavailable(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    mirakl_sandbox.inject(Fault("slow", delay=3.0, times=100))
    retry = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02)
    with pytest.raises(TemporarilyUnavailable) as slow:
        run(mirakl_settings, collect, timeout=SHORT_TIMEOUT, retry=retry)
    assert "did not answer in time" in slow.value.user_message


def test_a_connection_dropped_mid_body_is_retried(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    ids = mirakl_sandbox.generate(4, 2)
    mirakl_sandbox.inject(Fault("drop"))

    batches = run(mirakl_settings, collect)

    assert sorted(all_threads(batches)) == sorted(ids)
    assert len(mirakl_sandbox.requests) == 2


def test_malformed_json_is_retried_and_kept_when_it_persists(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    ids = mirakl_sandbox.generate(2, 1)
    mirakl_sandbox.inject(Fault("malformed"))
    assert sorted(all_threads(run(mirakl_settings, collect))) == sorted(ids)

    mirakl_sandbox.inject(Fault("malformed", times=100))
    with pytest.raises(TemporarilyUnavailable) as unreadable:
        run(mirakl_settings, collect)
    assert unreadable.value.raw_body == b'{"data": [{"id": "th-1", "topic": '
    assert "could not be read" in unreadable.value.user_message


def test_a_revoked_key_asks_to_reconnect_and_is_not_retried(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    run(mirakl_settings, lambda ch: ch.test_connection())
    mirakl_sandbox.revoke_key()
    before = len(mirakl_sandbox.requests)

    with pytest.raises(AuthFailed) as refused:
        run(mirakl_settings, collect)

    assert refused.value.what == "key"
    assert "Reconnect this account" in refused.value.user_message
    assert len(mirakl_sandbox.requests) == before + 1


def test_a_shop_the_key_cannot_access_is_named(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    other = MiraklSettings(**{**mirakl_settings.__dict__, "shop_id": "9999"})
    with pytest.raises(AuthFailed) as refused:
        run(other, lambda ch: ch.test_connection())
    assert refused.value.what == "shop"
    # A second shop of the same key works.
    second = MiraklSettings(**{**mirakl_settings.__dict__, "shop_id": "2002"})
    run(second, lambda ch: ch.test_connection())
    assert mirakl_sandbox.requests[-1].query["shop_id"] == ["2002"]


def test_test_connection_names_an_address_where_no_mirakl_answers(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings
) -> None:
    wrong_path = MiraklSettings(**{**mirakl_settings.__dict__, "base_url": mirakl_sandbox.base_url + "/shop"})
    with pytest.raises(BadConfiguration) as not_mirakl:
        run(wrong_path, lambda ch: ch.test_connection())
    assert "No Mirakl seller API answers at" in not_mirakl.value.user_message

    nobody = MiraklSettings(**{**mirakl_settings.__dict__, "base_url": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(TemporarilyUnavailable) as refused:
        run(nobody, lambda ch: ch.test_connection())
    assert "cannot be reached" in refused.value.user_message


def test_the_api_key_never_reaches_the_log(
    mirakl_sandbox: MiraklSandbox, mirakl_settings: MiraklSettings, caplog: pytest.LogCaptureFixture
) -> None:
    mirakl_sandbox.generate(3, 1)
    mirakl_sandbox.inject(Fault("status", status=503))
    mirakl_sandbox.inject(Fault("status", status=429, retry_after="0"))
    with caplog.at_level(logging.DEBUG):
        run(mirakl_settings, collect)
        mirakl_sandbox.revoke_key()
        with pytest.raises(AuthFailed) as refused:
            run(mirakl_settings, collect)
    assert any("[redacted]" in record.getMessage() for record in caplog.records)
    texts = [record.getMessage() for record in caplog.records] + [str(refused.value), repr(mirakl_settings)]
    assert not [t for t in texts if mirakl_sandbox.api_key in t]


# -- TLS ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


def test_https_with_a_certificate_the_system_trusts(pki: TestPki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.good.ca))
    with MiraklSandbox(tls=pki.good) as sandbox:
        ids = sandbox.generate(2, 1)
        settings = MiraklSettings(sandbox.base_url, sandbox.api_key, sandbox.shop_id)
        assert settings.base_url.startswith("https://127.0.0.1:")
        assert sorted(all_threads(run(settings, collect))) == sorted(ids)


def test_an_untrusted_certificate_is_refused_and_not_retried(
    pki: TestPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.good.ca))
    with MiraklSandbox(tls=pki.untrusted) as sandbox:
        settings = MiraklSettings(sandbox.base_url, sandbox.api_key, sandbox.shop_id)
        with pytest.raises(CertificateInvalid) as refused:
            run(settings, lambda ch: ch.test_connection())
        assert "127.0.0.1" in refused.value.user_message
        assert sandbox.requests == []  # the key was never sent
