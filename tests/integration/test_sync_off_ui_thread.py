"""The mail sync writes SQLite on the "inbox-db" worker thread, never on the event-loop (UI) thread.

In the window the asyncio loop is the Qt UI thread (qasync), so a batch transaction on it would freeze the
window. The proof is observational: every connection of the profile database gets an SQLite trace callback
that records which thread ran each INSERT/UPDATE/DELETE, while a real first sync of 300 mails against Dovecot
runs on a plain asyncio loop. A ticker coroutine measures the loop's largest stall as a figure for the report
(recorded with ``record_property``, not asserted: timing depends on the machine).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import pytest

from inbox_app.store.models import DeadlinePolicyRow, MailLocation, Message, SyncState
from inbox_app.sync.db_worker import THREAD_NAME_PREFIX, close_db_connection, run_db
from inbox_app.sync.events import ChangeBus
from inbox_app.sync.mail_sync import MailAccountSync
from tests.integration.test_mail_sync import mail_account, make_mail
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.integration

MAILS = 300
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriteTracer:
    """Records (thread name, statement) for every write on every connection of one peewee database."""

    def __init__(self, db: Any) -> None:
        self.writes: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.db = db
        original = db._connect

        def connect() -> sqlite3.Connection:
            conn: sqlite3.Connection = original()
            conn.set_trace_callback(self.trace)
            return conn

        db._connect = connect  # observes each new connection (the worker's); the SQL itself is untouched
        db.connection().set_trace_callback(self.trace)  # the test thread's, already open

    def trace(self, sql: str) -> None:
        if sql.lstrip().upper().startswith(WRITES):
            with self.lock:
                self.writes.append((threading.current_thread().name, sql[:80]))


async def _sync_with_ticker(sync: MailAccountSync) -> tuple[Any, float, int]:
    """Run one sync while a 10 ms ticker measures the largest gap between its ticks (the loop's stall)."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    worst = 0.0
    ticks = 0

    async def ticker() -> None:
        nonlocal worst, ticks
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(0.01)  # the measuring instrument, not a wait for a condition
            worst = max(worst, loop.time() - before - 0.01)
            ticks += 1

    ticking = asyncio.ensure_future(ticker())
    try:
        report = await sync.sync_once()
    finally:
        done.set()
        await ticking
        await sync.close()
    return report, worst, ticks


def test_first_sync_writes_only_on_the_db_worker(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    record_property: Any,
) -> None:
    user, password = mail_user
    mails = [make_mail(n) for n in range(1, MAILS + 1)]
    # Every tenth mail answers an earlier one, so the thread lookups inside the batch run too.
    for n in range(10, MAILS + 1, 10):
        mails[n - 1] = make_mail(
            n,
            sender=f"Buyer {n - 5} <buyer{n - 5}@example.net>",
            subject=f"Re: Question about order {n - 5}",
            in_reply_to=f"<msg{n - 5}@example.net>",
        )
    dovecot.bulk_load(user, mails)
    account = mail_account(dovecot, user, password)
    events: list[tuple[str, str]] = []
    bus = ChangeBus()
    bus.subscribe(lambda e: events.append((e.kind, threading.current_thread().name)))
    sync = MailAccountSync(account, bus=bus)

    async def scenario() -> tuple[Any, float, int]:
        await close_db_connection()  # the worker opens a fresh, traced connection for this profile
        result = await _sync_with_ticker(sync)
        # MailAccountSync.close() closed the worker's connection too (no connection leaks per profile).
        assert await run_db(profile.db.is_closed)
        return result

    tracer = WriteTracer(profile.db)
    report, worst_gap, ticks = asyncio.run(scenario())
    main = threading.current_thread().name

    assert report.new_messages == MAILS and report.bodies == MAILS
    assert Message.select().count() == MAILS
    assert MailLocation.select().where(MailLocation.body_fetched == False).count() == 0  # noqa: E712
    assert SyncState.get(SyncState.account == account.id, SyncState.key == "INBOX").last_uid == MAILS
    # The real proof: the sync wrote (many rows) and every single write ran on the DB worker thread.
    assert len(tracer.writes) >= 2 * MAILS
    threads = {name for name, _sql in tracer.writes}
    off_worker = [(name, sql) for name, sql in tracer.writes if not name.startswith(THREAD_NAME_PREFIX)]
    assert not off_worker, f"writes outside the DB worker: {off_worker[:5]}"
    assert len(threads) == 1  # a single worker: batch transactions can never interleave
    # Change events still reach subscribers on the loop's thread (in the window: the UI thread).
    conversation_events = [thread for kind, thread in events if kind == "conversations"]
    assert conversation_events and set(conversation_events) == {main}
    assert ticks > 0
    record_property("max_loop_gap_ms", round(worst_gap * 1000, 1))
    print(f"\nmax event-loop gap during a {MAILS}-mail first sync: {worst_gap * 1000:.1f} ms ({ticks} ticks)")


def test_window_writes_during_the_sync_neither_fail_nor_break_it(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str]
) -> None:
    """The UI thread keeps its own connection and writes while the worker's batches run.

    The batches read before they write; begun DEFERRED, a commit from the UI's connection in between would
    make their first write fail with SQLITE_BUSY. They begin IMMEDIATE, so both sides just wait their turn.
    """
    user, password = mail_user
    dovecot.bulk_load(user, [make_mail(n) for n in range(1, MAILS + 1)])
    account = mail_account(dovecot, user, password)
    sync = MailAccountSync(account, body_batch=25)
    sync.header_batch = 50  # many small batches: many chances for the two connections to meet
    policy = DeadlinePolicyRow.select().first()
    ui_writes = 0

    async def scenario() -> Any:
        nonlocal ui_writes
        task = asyncio.ensure_future(sync.sync_once())
        try:
            while not task.done():
                # A seller renaming a rule while the sync runs: one write per turn of the loop (UI thread).
                DeadlinePolicyRow.update(name=f"Rule {ui_writes}").where(
                    DeadlinePolicyRow.id == policy.id
                ).execute()
                ui_writes += 1
                await asyncio.sleep(0)  # yield to the sync; the loop is the window's event loop
            return task.result()
        finally:
            await sync.close()

    report = asyncio.run(scenario())
    assert report.new_messages == MAILS and report.bodies == MAILS
    assert MailLocation.select().where(MailLocation.body_fetched == False).count() == 0  # noqa: E712
    assert ui_writes > 10
    assert DeadlinePolicyRow.get_by_id(policy.id).name == f"Rule {ui_writes - 1}"
