"""The Kaufland connector against the Kaufland sandbox over real HTTP on 127.0.0.1 (no mocked transport).

The sandbox checks every request's HMAC signature as Kaufland does; the tests cover offset paging with short
pages, the incremental cursor (also across a crash and with tickets changing while pages are read), both
message sources, roles and order ids, the reply's JSON with base64 files as received, closing, the lookup of a
reply whose answer was lost (also with the sender SIGKILLed), wrong keys and clocks, and every fault mode.
"""

from __future__ import annotations

import asyncio
import base64
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
from inbox_app.channels.kaufland import KauflandChannel, KauflandSettings
from inbox_app.domain.conversations import Direction
from tests.servers.kaufland import Fault, KauflandSandbox

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.integration.kaufland_fixtures"]

T = TypeVar("T")
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, max_wait=5.0)
SHORT_TIMEOUT = httpx.Timeout(connect=2.0, read=0.4, write=2.0, pool=2.0)


class SleepLog:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(seconds)


def run(settings: KauflandSettings, work: Callable[[KauflandChannel], Awaitable[T]], **options: Any) -> T:
    async def main() -> T:
        options.setdefault("retry", FAST_RETRY)
        async with KauflandChannel(settings, **options) as channel:
            assert isinstance(channel, KauflandChannel)
            return await work(channel)

    return asyncio.run(main())


async def collect(channel: KauflandChannel, cursor: str | None = None) -> list[ThreadBatch]:
    return [batch async for batch in channel.list_threads(cursor)]


def all_threads(batches: list[ThreadBatch]) -> dict[str, RemoteThread]:
    return {t.remote_id: t for b in batches for t in b.threads}


# -- reading --------------------------------------------------------------------------------------------


def test_listing_walks_short_pages_to_the_total_with_every_request_signed(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    ids = kaufland_sandbox.generate(50, 3)
    kaufland_sandbox.short_pages = 7  # Kaufland may answer fewer than asked: never assume a page is full
    settings = replace(kaufland_settings, page_size=20)

    batches = run(settings, collect)

    threads = all_threads(batches)
    assert sorted(threads) == sorted(ids)
    assert sum(len(b.threads) for b in batches) == 50  # none twice
    assert [b.last for b in batches] == [False] * 7 + [True]
    pages = kaufland_sandbox.requests_to("/v2/tickets")
    pages = [r for r in pages if r.path == "/v2/tickets"]
    assert [r.query["offset"] for r in pages] == [[str(o)] for o in range(0, 50, 7)]
    assert all(r.query["limit"] == ["20"] and r.query["sort"] == ["ts_updated_iso:desc"] for r in pages)
    assert all(len(t.messages) == 3 and t.messages_complete for t in threads.values())
    details = [r for r in kaufland_sandbox.requests if r.path.count("/") == 3]
    assert len(details) == 50
    assert all(r.query["embedded"] == ["messages,order_units,buyer,files"] for r in details)
    for request in kaufland_sandbox.requests:
        assert request.headers["Shop-Client-Key"] == kaufland_sandbox.client_key
        assert len(request.headers["Shop-Signature"]) == 64 and request.headers["Shop-Timestamp"].isdigit()


def test_incremental_listing_brings_only_the_changed_tickets(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    ids = kaufland_sandbox.generate(30, 2)
    first = run(kaufland_settings, collect)
    assert len(all_threads(first)) == 30

    changed = ids[11]
    new = kaufland_sandbox.add_message(changed, "Gibt es schon eine Sendungsnummer?")
    closed = ids[3]
    kaufland_sandbox.touch(closed, status="buyer_closed")
    before = len(kaufland_sandbox.requests)
    second = run(kaufland_settings, lambda ch: collect(ch, first[-1].cursor))

    threads = all_threads(second)
    assert sorted(threads) == sorted([changed, closed])
    assert threads[changed].messages[-1].remote_id == str(new["id_ticket_message"])
    assert threads[changed].reply_needed_since is not None
    assert threads[closed].no_reply_needed and threads[closed].reply_needed_since is None
    assert len(kaufland_sandbox.requests) == before + 3  # one page, two tickets
    [page] = [r for r in kaufland_sandbox.requests[before:] if r.path == "/v2/tickets"]
    assert "ts_updated_from_iso" in page.query


def test_a_listing_interrupted_mid_way_resumes_from_the_committed_cursor(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    ids = kaufland_sandbox.generate(45, 1)
    settings = replace(kaufland_settings, page_size=10)

    async def first_two_pages(channel: KauflandChannel) -> list[ThreadBatch]:
        taken: list[ThreadBatch] = []
        async for batch in channel.list_threads(None):
            taken.append(batch)
            if len(taken) == 2:
                break  # the process dies here; only these two batches were committed
        return taken

    committed = run(settings, first_two_pages)
    rest = run(settings, lambda ch: collect(ch, committed[-1].cursor))

    seen = [t.remote_id for b in committed + rest for t in b.threads]
    assert sorted(seen) == sorted(ids)
    assert len([r for r in kaufland_sandbox.requests if r.path == "/v2/tickets"]) == 5


@pytest.mark.parametrize("seed", range(4))
def test_tickets_changed_while_the_pages_are_read_are_never_missed(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings, seed: int
) -> None:
    rng = random.Random(seed)
    ids = kaufland_sandbox.generate(40, 1)
    # Kaufland's clock differs from ours (within the signature's window): the cursor follows the server's.
    kaufland_sandbox.clock_offset = timedelta(minutes=rng.choice([-8, 0, 9]))
    settings = replace(kaufland_settings, page_size=6)
    seen: dict[str, datetime | None] = {}

    async def listing_with_changes(channel: KauflandChannel) -> str:
        cursor = ""
        async for batch in channel.list_threads(None):
            seen.update({t.remote_id: t.updated_at for t in batch.threads})
            cursor = batch.cursor
            for changed in rng.sample(ids, 3):  # buyers keep writing while we page
                kaufland_sandbox.add_message(changed, f"und noch etwas ({seed})")
        return cursor

    cursor = run(settings, listing_with_changes)
    for batch in run(settings, lambda ch: collect(ch, cursor)):
        seen.update({t.remote_id: t.updated_at for t in batch.threads})

    latest = {t.id: t.ts_updated for t in kaufland_sandbox.tickets.values()}
    assert seen == latest


def test_ticket_fields_roles_order_id_category_and_the_clock(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    ticket = kaufland_sandbox.add_ticket(
        open_reason="product_defect",
        topic="order_product_defect",
        order_id="MPWMHD2",
        order_units=2,
        at=start,
    )
    kaufland_sandbox.add_message(ticket.id, "Der Toaster ist defekt angekommen.", at=start)
    kaufland_sandbox.add_message(
        ticket.id,
        "Bitte antworten Sie innerhalb von 48 Stunden.",
        role="customer_service",
        at=start + timedelta(minutes=5),
    )
    kaufland_sandbox.add_message(
        ticket.id, "Automatische Nachricht.", role="system", at=start + timedelta(minutes=6)
    )

    [remote] = all_threads(run(kaufland_settings, collect)).values()

    assert remote.order_id == "MPWMHD2"
    raw = json.loads(remote.raw)
    assert str(remote.order_id) not in {str(u) for u in raw["ids_order_units"]}  # unit ids are not the order
    assert remote.category_hint == "damaged"
    assert remote.customer is not None and remote.customer.display_name == "Jana Nováková"
    assert remote.reply_needed_since == start
    buyer, service, system = remote.messages
    assert buyer.author.kind is ParticipantKind.CUSTOMER and buyer.direction is Direction.IN
    assert service.from_operator and system.from_operator
    assert service.direction is Direction.IN and service.author.display_name == "Kaufland Kundenservice"

    kaufland_sandbox.add_message(
        ticket.id, "Wir senden Ersatz.", role="seller", at=start + timedelta(hours=1)
    )
    remote = run(kaufland_settings, lambda ch: ch.fetch_thread(ticket.id))
    assert remote.reply_needed_since is None and remote.messages[-1].direction is Direction.OUT


def test_messages_from_the_bulk_endpoint_cost_far_fewer_requests(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    ids = kaufland_sandbox.generate(120, 3)
    settings = replace(kaufland_settings, message_source="bulk")

    batches = run(settings, collect)

    threads = all_threads(batches)
    assert sorted(threads) == sorted(ids)
    assert all(len(t.messages) == 3 and t.messages_complete for t in threads.values())
    assert len(kaufland_sandbox.requests_to("/v2/tickets/messages")) == 4  # 360 messages, 100 a page
    assert len(kaufland_sandbox.requests) == 4 + 2

    changed = ids[5]
    kaufland_sandbox.add_message(changed, "Noch eine Frage.")
    second = all_threads(run(settings, lambda ch: collect(ch, batches[-1].cursor)))
    assert list(second) == [changed]
    assert [m.body for m in second[changed].messages][-1] == "Noch eine Frage."
    assert not second[changed].messages_complete  # only the new messages: the store merges by id


def test_an_unreadable_ticket_is_handed_on_with_its_json(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    ids = kaufland_sandbox.generate(3, 1)
    kaufland_sandbox.odd_items.append({"status": "opened", "topic": "ticket without id"})

    [batch] = run(kaufland_settings, collect)

    assert sorted(t.remote_id for t in batch.threads) == sorted(ids)
    assert [json.loads(raw)["topic"] for raw in batch.unreadable] == ["ticket without id"]


def test_ticket_files_are_downloaded_with_a_signed_request(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    photo = bytes(range(256)) * 30
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    ticket = kaufland_sandbox.add_ticket(at=start)
    kaufland_sandbox.add_message(ticket.id, "Foto anbei.", at=start)
    kaufland_sandbox.add_file(ticket.id, "schaden.jpg", photo, "image/jpeg", at=start)

    async def work(channel: KauflandChannel) -> tuple[str, bytes, str | None]:
        remote = await channel.fetch_thread(ticket.id)
        [attachment] = remote.messages[0].attachments
        content = await channel.download_attachment(attachment)
        return content.name, content.data, content.mime_type

    assert run(kaufland_settings, work) == ("schaden.jpg", photo, "image/jpeg")
    [download] = kaufland_sandbox.requests_to("/v2/files/")
    assert "Shop-Signature" in download.headers


def test_a_ticket_file_on_another_host_is_fetched_without_credentials(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    kaufland_sandbox.files_on_cdn = True
    start = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    ticket = kaufland_sandbox.add_ticket(at=start)
    kaufland_sandbox.add_message(ticket.id, "Rechnung anbei.", at=start)
    kaufland_sandbox.add_file(ticket.id, "rechnung.pdf", b"%PDF-1.4 ...", "application/pdf", at=start)

    async def work(channel: KauflandChannel) -> bytes:
        remote = await channel.fetch_thread(ticket.id)
        [attachment] = remote.messages[0].attachments
        return (await channel.download_attachment(attachment)).data

    assert run(kaufland_settings, work) == b"%PDF-1.4 ..."
    [download] = [r for r in kaufland_sandbox.requests if r.path.startswith("/cdn/files/")]
    assert not {"Shop-Client-Key", "Shop-Signature", "Shop-Timestamp"} & set(download.headers)


# -- replying -------------------------------------------------------------------------------------------


def test_a_reply_arrives_as_documented_with_base64_files_exactly_once(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    ticket = kaufland_sandbox.add_ticket()
    kaufland_sandbox.add_message(ticket.id, "Wo bleibt mein Paket?")
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 100
    reply = OutgoingReply(
        "outbox-1",
        ticket.id,
        "Guten Tag, anbei der Versandbeleg. Grüße",
        files=(OutgoingFile("beleg.pdf", pdf, "application/pdf"),),
    )

    receipt = run(kaufland_settings, lambda ch: ch.send_reply(reply))

    [received] = kaufland_sandbox.replies
    assert received.content_type == "application/json"
    assert received.body == {
        "text": "Guten Tag, anbei der Versandbeleg. Grüße",
        "interim_notice": False,
        "ticket_message_files": [
            {"filename": "beleg.pdf", "mime_type": "application/pdf", "data": base64.b64encode(pdf).decode()}
        ],
    }
    assert received.files[0].data == pdf
    assert receipt.remote_message_id is None  # Kaufland's answer names no message
    assert len(kaufland_sandbox.requests_to("/v2/tickets", "POST")) == 1

    # The vendor's copy comes back on the next read as the seller's message: found, not doubled.
    remote = run(kaufland_settings, lambda ch: ch.fetch_thread(ticket.id))
    mine = [m for m in remote.messages if m.direction is Direction.OUT]
    assert [m.body for m in mine] == [reply.body]
    assert [a.name for a in mine[0].attachments] == ["beleg.pdf"]
    lookup = run(kaufland_settings, lambda ch: ch.find_sent(reply, claimed_at=datetime.now(UTC)))
    assert lookup.outcome is LookupOutcome.FOUND and lookup.message is not None
    assert lookup.message.remote_id == str(received.message_id)


@pytest.mark.parametrize(
    ("body", "files", "problem"),
    [
        ("x" * 10_001, (), "too long"),
        ("   ", (), "too short"),
        ("Anbei.", (OutgoingFile("tool.exe", b"MZ"),), "does not accept files of this type"),
        ("Anbei.", (OutgoingFile("big.pdf", b"0" * (10 * 1024 * 1024 + 1)),), "larger than"),
    ],
)
def test_a_reply_outside_the_limits_is_refused_before_anything_is_sent(
    kaufland_sandbox: KauflandSandbox,
    kaufland_settings: KauflandSettings,
    body: str,
    files: tuple[OutgoingFile, ...],
    problem: str,
) -> None:
    ticket = kaufland_sandbox.add_ticket()
    with pytest.raises(RejectedInput) as refused:
        run(kaufland_settings, lambda ch: ch.send_reply(OutgoingReply("o", ticket.id, body, files=files)))
    assert problem in refused.value.user_message
    assert kaufland_sandbox.requests == []


def test_closing_a_ticket(kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings) -> None:
    ticket = kaufland_sandbox.add_ticket()
    kaufland_sandbox.add_message(ticket.id, "Danke, alles gut.")
    kaufland_sandbox.inject(Fault("status", status=503, method="PATCH"))

    run(kaufland_settings, lambda ch: ch.close_thread(ticket.id))

    assert kaufland_sandbox.closed == [ticket.id]
    assert (
        len(kaufland_sandbox.requests_to("/v2/tickets", "PATCH")) == 2
    )  # closing again is harmless: retried
    remote = run(kaufland_settings, lambda ch: ch.fetch_thread(ticket.id))
    assert remote.no_reply_needed and remote.reply_needed_since is None
    with pytest.raises(RemoteNotFound):
        run(kaufland_settings, lambda ch: ch.close_thread("ffff"))


@pytest.mark.parametrize("fault_kind", ["drop", "slow", "status"])
def test_a_reply_whose_answer_was_lost_is_found_again_and_not_sent_twice(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings, fault_kind: str
) -> None:
    ticket = kaufland_sandbox.add_ticket()
    kaufland_sandbox.add_message(ticket.id, "Schon verschickt?")
    # The same text sent long ago is not this reply.
    kaufland_sandbox.add_message(
        ticket.id, "Ja, heute verschickt.", role="seller", at=datetime.now(UTC) - timedelta(days=2)
    )
    before = run(kaufland_settings, lambda ch: ch.fetch_thread(ticket.id))
    known = {m.remote_id for m in before.messages}
    claimed_at = datetime.now(UTC)
    reply = OutgoingReply("outbox-7", ticket.id, "Ja,\r\nheute   verschickt. ")
    kaufland_sandbox.inject(
        Fault(fault_kind, status=500, delay=3.0, method="POST", after_processing=True)  # type: ignore[arg-type]
    )

    with pytest.raises(TemporarilyUnavailable) as lost:
        run(kaufland_settings, lambda ch: ch.send_reply(reply), timeout=SHORT_TIMEOUT)

    assert lost.value.maybe_delivered
    assert len(kaufland_sandbox.requests_to("/v2/tickets", "POST")) == 1  # never retried blindly
    [stored] = kaufland_sandbox.replies
    found = run(
        kaufland_settings, lambda ch: ch.find_sent(reply, claimed_at=claimed_at, known_message_ids=known)
    )
    assert found.outcome is LookupOutcome.FOUND
    assert found.message is not None and found.message.remote_id == str(stored.message_id)


def test_a_reply_refused_before_processing_is_not_found_and_can_be_sent(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    ticket = kaufland_sandbox.add_ticket()
    kaufland_sandbox.add_message(ticket.id, "Ja, heute verschickt.", role="buyer")  # same text, not ours
    claimed_at = datetime.now(UTC)
    reply = OutgoingReply("outbox-8", ticket.id, "Ja, heute verschickt.")
    kaufland_sandbox.inject(Fault("status", status=503, method="POST"))

    with pytest.raises(TemporarilyUnavailable) as failed:
        run(kaufland_settings, lambda ch: ch.send_reply(reply))
    assert failed.value.maybe_delivered

    assert run(kaufland_settings, lambda ch: ch.find_sent(reply, claimed_at=claimed_at)).outcome is (
        LookupOutcome.NOT_SENT
    )
    run(kaufland_settings, lambda ch: ch.send_reply(reply))
    assert len(kaufland_sandbox.replies) == 1
    lookup = run(
        kaufland_settings, lambda ch: ch.find_sent(OutgoingReply("x", "ffff", "y"), claimed_at=claimed_at)
    )
    assert lookup.outcome is LookupOutcome.CANNOT_CONFIRM


SENDER = """
import asyncio, sys
from inbox_app.channels.base import OutgoingFile, OutgoingReply
from inbox_app.channels.kaufland import KauflandChannel, KauflandSettings

async def main() -> None:
    settings = KauflandSettings(sys.argv[2], sys.argv[3], base_url=sys.argv[1])
    reply = OutgoingReply(
        "outbox-kill", sys.argv[4], "Ihr Paket ist jetzt bei DHL.",
        files=(OutgoingFile("label.png", b"\\x89PNG-data", "image/png"),),
    )
    async with KauflandChannel(settings) as channel:
        await channel.send_reply(reply)

asyncio.run(main())
"""


def test_a_sender_killed_while_waiting_for_the_answer_leaves_a_reply_that_is_found(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    ticket = kaufland_sandbox.add_ticket()
    claimed_at = datetime.now(UTC)
    kaufland_sandbox.inject(Fault("slow", delay=60.0, method="POST", after_processing=True))
    sender = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SENDER,
            kaufland_sandbox.base_url,
            kaufland_sandbox.client_key,
            kaufland_sandbox.secret_key,
            ticket.id,
        ],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert kaufland_sandbox.reply_stored.wait(timeout=60), "the reply never reached the sandbox"
        sender.send_signal(signal.SIGKILL)
    finally:
        sender.wait(timeout=30)
    assert sender.returncode == -signal.SIGKILL

    reply = OutgoingReply("outbox-kill", ticket.id, "Ihr Paket ist jetzt bei DHL.")
    lookup = run(kaufland_settings, lambda ch: ch.find_sent(reply, claimed_at=claimed_at))
    assert lookup.outcome is LookupOutcome.FOUND
    [stored] = kaufland_sandbox.replies
    assert lookup.message is not None and lookup.message.remote_id == str(stored.message_id)
    assert stored.files[0].data == b"\x89PNG-data"


def test_a_429_on_a_reply_is_retried_once_the_wait_is_over(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    ticket = kaufland_sandbox.add_ticket()
    kaufland_sandbox.inject(Fault("status", status=429, retry_after="0.2", method="POST"))
    sleeps = SleepLog()
    run(
        kaufland_settings,
        lambda ch: ch.send_reply(OutgoingReply("o", ticket.id, "Entschuldigung.")),
        sleep=sleeps,
    )
    assert len(kaufland_sandbox.replies) == 1
    assert len(sleeps.waits) == 1 and sleeps.waits[0] >= 0.2
    first, second = kaufland_sandbox.requests_to("/v2/tickets", "POST")
    assert first.body == second.body  # the same JSON, signed again with a fresh timestamp


# -- credentials and clocks -----------------------------------------------------------------------------


def test_a_wrong_secret_key_gets_401_and_auth_failed_without_retrying(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    run(kaufland_settings, lambda ch: ch.test_connection())
    wrong = replace(kaufland_settings, secret_key="not-the-secret")

    with pytest.raises(AuthFailed) as refused:
        run(wrong, lambda ch: ch.test_connection())

    assert refused.value.user_message == "Kaufland refused the key. Reconnect this account."
    assert "Invalid signature" in refused.value.detail
    assert len(kaufland_sandbox.requests) == 2
    with pytest.raises(AuthFailed):
        run(replace(kaufland_settings, client_key="someone-else"), collect)


def test_a_computer_clock_far_off_is_named_instead_of_blaming_the_key(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    late = lambda: datetime.now(UTC) - timedelta(hours=1)  # noqa: E731
    with pytest.raises(BadConfiguration) as clock:
        run(kaufland_settings, lambda ch: ch.test_connection(), now=late)
    assert "clock is off by" in clock.value.user_message
    [request] = kaufland_sandbox.requests
    assert int(request.headers["Shop-Timestamp"]) < datetime.now(UTC).timestamp() - 3000


def test_an_address_without_the_kaufland_api_is_named(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    wrong = replace(kaufland_settings, base_url=kaufland_sandbox.origin + "/v1")
    with pytest.raises(BadConfiguration) as refused:
        run(wrong, lambda ch: ch.test_connection())
    assert "No Kaufland seller API answers at" in refused.value.user_message


def test_the_secret_never_reaches_the_log(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings, caplog: pytest.LogCaptureFixture
) -> None:
    kaufland_sandbox.generate(2, 1)
    kaufland_sandbox.inject(Fault("status", status=503))
    with caplog.at_level(logging.DEBUG):
        run(kaufland_settings, collect)
    texts = [r.getMessage() for r in caplog.records] + [repr(kaufland_settings)]
    assert any("[redacted]" in t for t in texts)
    assert not [t for t in texts if kaufland_sandbox.secret_key in t]
    signatures = {r.headers["Shop-Signature"] for r in kaufland_sandbox.requests}
    assert not [t for t in texts if any(s in t for s in signatures)]


# -- faults while reading -------------------------------------------------------------------------------


def test_429_waits_the_retry_after_then_succeeds(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    ids = kaufland_sandbox.generate(3, 1)
    kaufland_sandbox.inject(Fault("status", status=429, retry_after="0.3", path_prefix="/v2/tickets"))
    sleeps = SleepLog()
    assert sorted(all_threads(run(kaufland_settings, collect, sleep=sleeps))) == sorted(ids)
    assert len(sleeps.waits) == 1 and 0.3 <= sleeps.waits[0] <= 0.33


def test_a_long_retry_after_goes_up_as_rate_limited(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    kaufland_sandbox.inject(Fault("status", status=429, retry_after="3600"))
    with pytest.raises(RateLimited) as limited:
        run(kaufland_settings, collect)
    assert limited.value.retry_after == 3600
    assert len(kaufland_sandbox.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_with_backoff(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings, status: int
) -> None:
    ids = kaufland_sandbox.generate(2, 1)
    kaufland_sandbox.inject(Fault("status", status=status, times=2))
    sleeps = SleepLog()
    assert sorted(all_threads(run(kaufland_settings, collect, sleep=sleeps))) == sorted(ids)
    assert len(sleeps.waits) == 2


def test_a_server_that_stays_down_gives_temporarily_unavailable(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    kaufland_sandbox.inject(Fault("status", status=503, times=100))
    with pytest.raises(TemporarilyUnavailable) as down:
        run(kaufland_settings, collect)
    assert not down.value.maybe_delivered
    assert len(kaufland_sandbox.requests) == FAST_RETRY.max_attempts


def test_a_slow_answer_past_the_timeout_is_retried(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    ids = kaufland_sandbox.generate(2, 1)
    kaufland_sandbox.inject(Fault("slow", delay=3.0, path_prefix="/v2/tickets"))
    assert sorted(all_threads(run(kaufland_settings, collect, timeout=SHORT_TIMEOUT))) == sorted(ids)
    assert len([r for r in kaufland_sandbox.requests if r.path == "/v2/tickets"]) == 2


def test_a_connection_dropped_mid_body_is_retried(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    ids = kaufland_sandbox.generate(4, 2)
    kaufland_sandbox.inject(Fault("drop"))
    assert sorted(all_threads(run(kaufland_settings, collect))) == sorted(ids)
    assert len([r for r in kaufland_sandbox.requests if r.path == "/v2/tickets"]) == 2


def test_malformed_json_is_retried_and_kept_when_it_persists(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    ids = kaufland_sandbox.generate(2, 1)
    kaufland_sandbox.inject(Fault("malformed"))
    assert sorted(all_threads(run(kaufland_settings, collect))) == sorted(ids)

    kaufland_sandbox.inject(Fault("malformed", times=100))
    with pytest.raises(TemporarilyUnavailable) as unreadable:
        run(kaufland_settings, collect)
    assert unreadable.value.raw_body == b'{"data": [{"id_ticket": "1a", "status": '


# -- the vendor's rate limit ------------------------------------------------------------------------------


def test_requests_stay_under_the_configured_rate(
    kaufland_sandbox: KauflandSandbox, kaufland_settings: KauflandSettings
) -> None:
    kaufland_sandbox.generate(60, 1)
    settings = replace(kaufland_settings, max_requests_per_second=40.0)

    run(settings, collect)

    arrivals = [r.at for r in kaufland_sandbox.requests]
    assert len(arrivals) == 61
    # In any one second no more than the rate (+1 for the window's edge) arrived.
    busiest = max(sum(1 for b in arrivals if a <= b < a + 1.0) for a in arrivals)
    assert busiest <= 41
    assert arrivals[-1] - arrivals[0] >= 60 / 40.0 - 0.1


# -- the sandbox follows the vendor, not our client -----------------------------------------------------


def test_the_sandbox_accepts_the_vendors_published_signature_and_nothing_else() -> None:
    secret = "a7d0cb1da1ddbc86c96ee5fedd341b7d8ebfbb2f5c83cfe0909f4e57f05dd403"
    sandbox = KauflandSandbox(client_key="7bffc16ba2cc5ac1cbf527d6fa39263", secret_key=secret)
    sandbox.clock_offset = datetime.fromtimestamp(1411055926, UTC) - datetime.now(UTC)
    headers = {
        "Shop-Client-Key": "7bffc16ba2cc5ac1cbf527d6fa39263",
        "Shop-Timestamp": "1411055926",
        "Shop-Signature": "da0b65f51c0716c1d3fa658b7eaf710583630a762a98c9af8e9b392bd9df2e2a",
    }
    url = "https://sellerapi.kaufland.com/v2/units/"
    assert sandbox.check_signature("POST", url, headers, b"") is None
    assert sandbox.check_signature("POST", url.rstrip("/"), headers, b"") == "Invalid signature"
    assert sandbox.check_signature("POST", url, headers, b"{}") == "Invalid signature"
    assert sandbox.check_signature("POST", url, {**headers, "Shop-Timestamp": "1411057000"}, b"") == (
        "Timestamp is outside the allowed time window"
    )
