"""Several copies of the app on one profile, against real Dovecot + aiosmtpd: every reply goes out exactly once.

Before the fix two ``sync --once`` at once delivered 20 queued replies 39 times, three 52 times, and the window
plus one ``sync --once`` 100 replies 180 times. What holds now, and is checked here:

* one process per profile syncs (``sync.ownership.ProfileLock``); a second ``sync --once`` says so and exits 0;
* even without that lock (two engines that both deliver), a reply is sent only by the process that won its
  claim, one compare-and-set in the database (``store.outbox.claim``);
* a claim whose owner was killed is settled by the next run; a live process's claim is never taken, even when
  its lease looks expired (a wall clock that jumped forward), and a dead one's is taken even when its lease
  looks fresh (a wall clock that jumped back).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from inbox_app.store.models import Account, Message, OutboxItem, SyncState, utcnow
from inbox_app.store.replies import queue_reply_for
from inbox_app.sync import engine as engine_module
from inbox_app.sync.engine import SyncEngine
from inbox_app.sync.events import ChangeBus, ChangeEvent
from inbox_app.sync.outbox_delivery import CRASH_ENV
from inbox_app.sync.ownership import ProfileLock, owner_alive, process_token
from tests.integration.test_mail_sync import imap_client, make_mail, run
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ELSEWHERE = "Another Inbox App is syncing this profile"


def _sync_cmd(profile: Any) -> list[str]:
    return [sys.executable, "-m", "inbox_app", "--profile", str(profile.root), "sync", "--once"]


def _queue(profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str], count: int) -> list[OutboxItem]:
    """``count`` customer mails, synced, each answered with a queued reply."""
    user, _password = mail_user
    dovecot.bulk_load(user, [make_mail(n) for n in range(1, count + 1)])
    done = subprocess.run(
        [*_sync_cmd(profile), "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    items = []
    for n in range(1, count + 1):
        conv_id = Message.get(Message.remote_id == f"<msg{n}@example.net>").conversation_id
        items.append(queue_reply_for(conv_id, f"Reply number {n}: it ships today.\n"))
    return items


def _assert_each_sent_once(
    items: list[OutboxItem], smtp_server: SmtpServer, dovecot: DovecotServer, mail_user: tuple[str, str]
) -> None:
    wanted = {item.message_id for item in items}
    delivered = Counter(
        line.split(b":", 1)[1].strip().decode()
        for message in smtp_server.messages
        for line in message.raw.split(b"\r\n")
        if line.lower().startswith(b"message-id:")
    )
    assert len(smtp_server.messages) == len(items), f"{len(smtp_server.messages)} deliveries of {len(items)}"
    assert delivered == Counter(wanted)
    user, password = mail_user
    with imap_client(dovecot, user, password) as other:
        other.select_folder("Sent", readonly=True)
        in_sent = other.search("ALL")
    assert len(in_sent) == len(items)
    states = Counter(OutboxItem.get_by_id(item.id).state for item in items)
    assert states == {"sent": len(items)}
    assert Message.select().where(Message.remote_id.in_(list(wanted))).count() == len(items)


@pytest.mark.parametrize("copies", [2, 3])
def test_concurrent_sync_once_delivers_every_reply_once(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
    copies: int,
) -> None:
    items = _queue(profile, dovecot, mail_user, 20)
    processes = [
        subprocess.Popen(
            _sync_cmd(profile), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(copies)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0] * copies, outputs
    _assert_each_sent_once(items, smtp_server, dovecot, mail_user)
    said = [stdout for stdout, _err in outputs if ELSEWHERE in stdout]
    # The copies that found the lock taken said so and did nothing; the others found nothing left to send.
    assert said, outputs
    assert all("replies sent" in out or ELSEWHERE in out for out, _err in outputs)


async def _until(
    predicate: Callable[[], object],
    changed: asyncio.Event,
    timeout: float = 60,
    explain: Callable[[], str] | None = None,
) -> None:
    """Until ``predicate()``; on timeout the failure says what the engines were doing (``explain()``)."""

    async def loop() -> None:
        while not predicate():
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=0.2)  # re-check the database now and then

    try:
        await asyncio.wait_for(loop(), timeout=timeout)
    except TimeoutError:
        details = explain() if explain is not None else ""
        raise AssertionError(f"not reached within {timeout} s\n{details}") from None


def _engines_report(dovecot: DovecotServer, events: list[ChangeEvent]) -> str:
    """Where every task of this loop waits, each folder's sync cursor, the bus's events and Dovecot's log."""
    stacks = []
    for task in asyncio.all_tasks():
        out = io.StringIO()
        task.print_stack(limit=12, file=out)
        stacks.append(out.getvalue())
    cursors = [
        (s.key, s.last_uid, s.highest_modseq, s.last_success_at, s.last_error) for s in SyncState.select()
    ]
    said = [(e.kind, e.account_id, e.message) for e in events[-30:]]
    return "\n".join(
        ["TASKS", *stacks, f"CURSORS {cursors}", f"EVENTS {said}", "DOVECOT", dovecot.log_tail(80)]
    )


@pytest.mark.parametrize("with_lock", [True, False], ids=["lock", "claims-only"])
def test_window_engine_and_cli_sync_at_once_deliver_every_reply_once(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
    with_lock: bool,
) -> None:
    """The window's engine (in this process) and ``sync --once`` (a subprocess) at the same time.

    ``lock``: as the app wires it, the CLI finds the window syncing and leaves the work to it.
    ``claims-only``: the window's engine runs without the lock, so both deliver side by side and only the
    claims in the database keep each reply to one delivery. The CLI is started first and the window's engine
    only once the CLI holds a claim, so the two really overlap.
    """
    items = _queue(profile, dovecot, mail_user, 60)
    ids = [item.id for item in items]

    def sent() -> int:
        return OutboxItem.select().where(OutboxItem.id.in_(ids) & (OutboxItem.state == "sent")).count()

    def claimed_by_cli() -> bool:
        return (
            OutboxItem.select()
            .where(OutboxItem.owner.is_null(False) & (OutboxItem.owner != process_token()))
            .exists()
        )

    async def scenario() -> str:
        bus = ChangeBus()
        changed = asyncio.Event()
        bus.subscribe(lambda _event: changed.set())
        engine = SyncEngine(profile.blobs, bus, lock=ProfileLock(profile.root) if with_lock else None)
        stop = asyncio.Event()
        runner: asyncio.Future[None] | None = None
        if with_lock:
            runner = asyncio.ensure_future(engine.run_forever(stop))
            await _until(lambda: engine.lock is not None and engine.lock.held, changed)
        cli = await asyncio.create_subprocess_exec(
            *_sync_cmd(profile), cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        if not with_lock:
            await _until(claimed_by_cli, changed)
            runner = asyncio.ensure_future(engine.run_forever(stop))
        out, err = await asyncio.wait_for(cli.communicate(), timeout=120)
        assert cli.returncode == 0, err.decode()
        try:
            await _until(lambda: sent() == len(ids), changed)
        finally:
            stop.set()
            assert runner is not None
            await asyncio.wait_for(runner, timeout=30)
        return out.decode()

    cli_output = run(scenario())
    _assert_each_sent_once(items, smtp_server, dovecot, mail_user)
    if with_lock:
        assert ELSEWHERE in cli_output
    else:
        assert ELSEWHERE not in cli_output and "replies sent" in cli_output


def test_a_second_window_leaves_the_sync_to_the_first_and_takes_over_when_it_closes(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two engines with the profile's lock, as two windows: the second says another copy syncs; a reply it
    queues (without waking anyone) goes out through the first; when the first stops the second takes over."""
    monkeypatch.setattr(engine_module, "LOCK_RETRY", 0.2)
    caplog.set_level(logging.DEBUG, logger="inbox_app.sync")  # shown if it fails: what each loop decided
    user, password = mail_user
    dovecot.append(user, password, "INBOX", make_mail(1))

    async def scenario() -> None:
        first_bus, second_bus = ChangeBus(), ChangeBus()
        changed = asyncio.Event()
        second_events: list[ChangeEvent] = []
        first_bus.subscribe(lambda _event: changed.set())
        second_bus.subscribe(lambda event: (second_events.append(event), changed.set()))
        first = SyncEngine(profile.blobs, first_bus, lock=ProfileLock(profile.root))
        second = SyncEngine(profile.blobs, second_bus, lock=ProfileLock(profile.root))
        stop_first, stop_second = asyncio.Event(), asyncio.Event()
        running_first = asyncio.ensure_future(first.run_forever(stop_first))
        await _until(lambda: first.online is True and Message.select().count() == 1, changed)
        running_second = asyncio.ensure_future(second.run_forever(stop_second))
        await _until(lambda: any(ELSEWHERE in e.message for e in second_events), changed)
        assert second.lock is not None and not second.lock.held

        conv_id = Message.get(Message.remote_id == "<msg1@example.net>").conversation_id
        item = queue_reply_for(conv_id, "Queued in the second window.\n")  # nobody is woken
        await _until(lambda: OutboxItem.get_by_id(item.id).state == "sent", changed, timeout=20)
        assert len(smtp_server.messages) == 1

        stop_first.set()
        await asyncio.wait_for(running_first, timeout=30)
        await _until(lambda: second.lock is not None and second.lock.held, changed, timeout=20)
        await asyncio.get_running_loop().run_in_executor(
            None, dovecot.append, user, password, "INBOX", make_mail(2)
        )
        await _until(
            lambda: Message.select().where(Message.remote_id == "<msg2@example.net>").exists(),
            changed,
            explain=lambda: _engines_report(dovecot, second_events),
        )
        stop_second.set()
        await asyncio.wait_for(running_second, timeout=30)

    run(scenario())
    assert len(smtp_server.messages) == 1


def _claim_as(item: OutboxItem, owner: str, lease_until: Any) -> None:
    OutboxItem.update(state="sending", delivery_step="claimed", owner=owner, lease_until=lease_until).where(
        OutboxItem.id == item.id
    ).execute()


def test_a_live_processes_claim_is_never_taken_and_a_dead_ones_is(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
) -> None:
    (item,) = _queue(profile, dovecot, mail_user, 1)
    holder = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        # Its lease ran out a day ago (the wall clock jumped forward), but the process lives: hands off.
        _claim_as(item, process_token(holder.pid), utcnow() - timedelta(days=1))
        assert owner_alive(process_token(holder.pid)) is True
        for _round in range(2):
            busy = subprocess.run(_sync_cmd(profile), cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert busy.returncode == 0, busy.stderr
        assert smtp_server.messages == []
        row = OutboxItem.get_by_id(item.id)
        assert (row.state, row.owner) == ("sending", process_token(holder.pid))
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdin is not None
        holder.stdin.close()
    # Dead now, with a lease good for another day (the clock jumped back): settled at once, sent once.
    OutboxItem.update(lease_until=utcnow() + timedelta(days=1)).where(OutboxItem.id == item.id).execute()
    assert owner_alive(OutboxItem.get_by_id(item.id).owner) is False
    done = subprocess.run(_sync_cmd(profile), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    _assert_each_sent_once([item], smtp_server, dovecot, mail_user)
    row = OutboxItem.get_by_id(item.id)
    assert (row.owner, row.lease_until) == (None, None)


def test_a_killed_senders_claim_is_recovered(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
) -> None:
    (item,) = _queue(profile, dovecot, mail_user, 1)
    killed = subprocess.run(
        _sync_cmd(profile),
        cwd=ROOT,
        env={**os.environ, CRASH_ENV: "after_claim"},
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL
    row = OutboxItem.get_by_id(item.id)
    assert (row.state, row.delivery_step) == ("sending", "claimed")
    assert row.owner and row.owner.split("|")[2].isdigit() and owner_alive(row.owner) is False
    assert row.lease_until is not None and row.lease_until > utcnow()  # the lease had not even run out
    done = subprocess.run(_sync_cmd(profile), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    _assert_each_sent_once([item], smtp_server, dovecot, mail_user)


def test_a_claim_from_another_machine_waits_for_its_lease(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    smtp_account: Account,
) -> None:
    """A profile on a network share: the owner's life cannot be checked, so only its lease's expiry counts."""
    (item,) = _queue(profile, dovecot, mail_user, 1)
    foreign = "other-host.example|boot|4242|123"
    assert owner_alive(foreign) is None
    _claim_as(item, foreign, utcnow() + timedelta(minutes=5))
    busy = subprocess.run(_sync_cmd(profile), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert busy.returncode == 0, busy.stderr
    assert smtp_server.messages == [] and OutboxItem.get_by_id(item.id).owner == foreign
    OutboxItem.update(lease_until=utcnow() - timedelta(seconds=1)).where(OutboxItem.id == item.id).execute()
    done = subprocess.run(_sync_cmd(profile), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    _assert_each_sent_once([item], smtp_server, dovecot, mail_user)
