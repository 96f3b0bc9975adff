"""Kill ``inbox-app sync --once`` at random points with SIGKILL, rerun, and compare the database with Dovecot.

What must hold after the final run: per folder exactly the server's set of Message-IDs, each once; every body
stored; \\Seen equal on both sides. And for the outbox: a sender killed at each step of a delivery (claimed,
transmitting, accepted, copied to Sent) never delivers a second copy; one killed while transmitting is recorded
as unconfirmed and the seller is told.

Kill points are chosen by waiting for conditions in the database (a seeded random number of header rows or
stored bodies), so every run kills inside the phase it means to, on any machine speed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from inbox_app.store.events import EventKind
from inbox_app.store.models import Account, Event, Message, OutboxItem
from inbox_app.store.replies import queue_reply_for
from inbox_app.sync.outbox_delivery import CRASH_ENV
from tests.integration.conftest import SMTP_PASSWORD, SMTP_USER
from tests.integration.test_mail_sync import imap_client, mail_account, make_mail
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 300
SEED = 20261123


def _sync_cmd(profile: Any) -> list[str]:
    return [sys.executable, "-m", "inbox_app", "--profile", str(profile.root), "sync", "--once", "--quiet"]


def _count(db_path: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # table not there yet / busy: not reached
        return -1
    finally:
        conn.close()


def _run_until(profile: Any, sql: str, threshold: int, timeout: float = 60) -> tuple[int, int]:
    """Start a sync; SIGKILL it once ``sql`` counts >= threshold. Returns (exit code, count seen at the kill)."""
    process = subprocess.Popen(
        _sync_cmd(profile), cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + timeout
    seen = -1
    try:
        while process.poll() is None and time.monotonic() < deadline:
            seen = _count(profile.db_path, sql)
            if seen >= threshold:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)  # polling the database of a process we are about to kill
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
    return process.returncode, seen


def _mailbox(size: int) -> list[bytes]:
    rng = random.Random(SEED)
    mails = []
    for n in range(1, size + 1):
        filler = " ".join(
            rng.choice(["parcel", "order", "refund", "size", "colour", "thanks"])
            for _ in range(rng.randint(20, 800))
        )
        if n % 7 == 0:  # a reply in an earlier thread
            parent = rng.randint(1, n - 1)
            mails.append(
                make_mail(
                    n,
                    sender=f"Buyer {parent} <buyer{parent}@example.net>",
                    subject=f"Re: Question about order {parent}",
                    in_reply_to=f"<msg{parent}@example.net>",
                    body=filler,
                )
            )
        elif n % 11 == 0:  # Latin-1, not UTF-8
            mails.append(
                make_mail(n, body="Grüße " + filler)
                .replace(b"charset=utf-8", b"charset=iso-8859-1")
                .replace("Grüße".encode(), "Grüße".encode("latin-1"))
            )
        else:
            mails.append(make_mail(n, body=filler))
    return mails


def _server_state(dovecot: DovecotServer, user: str, password: str, folder: str) -> dict[str, bool]:
    """Message-ID → \\Seen for every message in ``folder`` on the server."""
    with imap_client(dovecot, user, password) as client:
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        data = client.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
    state: dict[str, bool] = {}
    for row in data.values():
        header = row[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split(":", 1)[1].strip()
        assert header not in state, "the test mailbox itself has a duplicate"
        state[header] = b"\\Seen" in row[b"FLAGS"]
    return state


def _db_state(db_path: Path, folder: str) -> list[tuple[str, bool, bool, str]]:
    conn = sqlite3.connect(str(db_path))
    try:
        return [
            (remote_id, bool(is_read), bool(fetched), flags)
            for remote_id, is_read, fetched, flags in conn.execute(
                "SELECT m.remote_id, m.is_read, l.body_fetched, l.flags FROM mail_location l "
                "JOIN message m ON m.id = l.message_id WHERE l.folder = ?",
                (folder,),
            )
        ]
    finally:
        conn.close()


def test_sync_killed_at_random_points_resumes_to_an_exact_copy(
    profile: Any, dovecot: DovecotServer, mail_user: tuple[str, str]
) -> None:
    user, password = mail_user
    account = mail_account(dovecot, user, password)
    settings = dict(account.settings)
    settings.update(body_batch=20, header_batch=40)  # many small transactions: many places to die in
    Account.update(settings=settings).where(Account.id == account.id).execute()
    dovecot.bulk_load(user, _mailbox(MESSAGES))
    with imap_client(dovecot, user, password) as other:  # some already read on the phone
        other.select_folder("INBOX")
        other.add_flags(other.search("ALL")[::3], [b"\\Seen"])

    rng = random.Random(SEED)
    plan = [
        ("SELECT count(*) FROM mail_location", rng.randint(1, MESSAGES // 2)),  # during the headers
        ("SELECT count(*) FROM mail_location", rng.randint(MESSAGES // 2, MESSAGES - 1)),
        (
            "SELECT count(*) FROM mail_location WHERE body_fetched = 1",
            rng.randint(1, MESSAGES // 3),
        ),  # bodies
        (
            "SELECT count(*) FROM mail_location WHERE body_fetched = 1",
            rng.randint(MESSAGES // 3, MESSAGES - 5),
        ),
    ]
    partial = 0
    for sql, threshold in plan:
        code, seen = _run_until(profile, sql, threshold)
        if code == -signal.SIGKILL:
            partial += 1
            assert seen >= threshold
    assert partial >= 3, "the kills should land mid-sync"

    # Meanwhile the phone reads one more and a new mail arrives.
    with imap_client(dovecot, user, password) as other:
        other.select_folder("INBOX")
        other.add_flags(other.search("ALL")[1:2], [b"\\Seen"])
    dovecot.append(user, password, "INBOX", make_mail(MESSAGES + 1))

    final = subprocess.run(
        _sync_cmd(profile), cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120
    )
    assert final.returncode == 0, final.stderr
    server = _server_state(dovecot, user, password, "INBOX")
    rows = _db_state(profile.db_path, "INBOX")
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == MESSAGES + 1
    assert set(ids) == set(server)
    assert all(fetched for _i, _r, fetched, _f in rows)
    assert {rid: is_read for rid, is_read, _f, _fl in rows} == server
    assert Message.select().count() == MESSAGES + 1  # no duplicate message rows either
    assert Message.select().where(Message.text_body == "…").count() == 0
    # A final run has nothing to do.
    again = subprocess.run(
        _sync_cmd(profile)[:-1], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0 and again.stdout.startswith("0 new messages, 0 bodies fetched"), again.stdout


# (kill point, the step it leaves, mails the SMTP server has after the kill, and after the rerun, last_error?)
SENDER_KILLS = [
    ("after_claim", "claimed", 0, 1, False),  # nothing went out: sent now
    ("before_data", "submitting", 0, 0, True),  # may have gone out: recorded unconfirmed, never resent
    ("after_accept", "accepted", 1, 1, False),  # 250 received, no copy in Sent yet: copied and recorded
    ("after_append", "accepted", 1, 1, False),  # the copy is in Sent: recorded
]


@pytest.mark.parametrize(("crash_at", "step", "delivered_at_kill", "delivered", "flagged"), SENDER_KILLS)
def test_sender_killed_mid_delivery_never_sends_twice(
    profile: Any,
    dovecot: DovecotServer,
    mail_user: tuple[str, str],
    smtp_server: SmtpServer,
    crash_at: str,
    step: str,
    delivered_at_kill: int,
    delivered: int,
    flagged: bool,
) -> None:
    user, password = mail_user
    mail_account(
        dovecot, user, password, smtp_port=smtp_server.port, smtp_user=SMTP_USER, smtp_password=SMTP_PASSWORD
    )
    dovecot.append(user, password, "INBOX", make_mail(1))
    first = subprocess.run(
        _sync_cmd(profile), cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60
    )
    assert first.returncode == 0, first.stderr
    conv_id = Message.get(Message.remote_id == "<msg1@example.net>").conversation_id
    item = queue_reply_for(conv_id, "It ships today.\n")

    crashed = subprocess.run(
        _sync_cmd(profile),
        cwd=ROOT,
        env={**os.environ, CRASH_ENV: crash_at},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == -signal.SIGKILL
    row = OutboxItem.get_by_id(item.id)
    assert (row.state, row.delivery_step) == ("sending", step)
    assert len(smtp_server.messages) == delivered_at_kill

    resumed = subprocess.run(
        _sync_cmd(profile), cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60
    )
    assert resumed.returncode == 0, resumed.stderr
    assert (f"Delivery of reply {item.id} was not confirmed" in resumed.stderr) is flagged
    assert len(smtp_server.messages) == delivered
    assert all(item.message_id.encode() in m.raw for m in smtp_server.messages)
    row = OutboxItem.get_by_id(item.id)
    assert (row.state, row.delivery_step) == ("sent", None)
    assert bool(row.last_error) is flagged
    if flagged:  # the seller is told, in the outbox and in the event log
        assert "may have been delivered" in row.last_error
        assert (
            Event.select()
            .where((Event.kind == EventKind.REPLY_FAILED.value) & (Event.conversation == conv_id))
            .count()
            == 1
        )
    assert Message.select().where(Message.remote_id == item.message_id).count() == 1
    with imap_client(dovecot, user, password) as other:
        other.select_folder("Sent", readonly=True)
        assert len(other.search(["HEADER", "Message-ID", item.message_id])) == 1
    if flagged:  # the seller decides the customer did not get it: a copy goes out as a new mail
        listed = subprocess.run(
            [
                sys.executable,
                "-m",
                "inbox_app",
                "--profile",
                str(profile.root),
                "outbox",
                "list",
                "--all",
                "--json",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        (info,) = [i for i in json.loads(listed.stdout) if i["id"] == item.id]
        assert info["unconfirmed"] is True and info["delivery_step"] is None
        text = subprocess.run(
            [sys.executable, "-m", "inbox_app", "--profile", str(profile.root), "outbox", "list", "--all"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert f"{item.id}\tsent, unconfirmed\t" in text.stdout
        cli = [sys.executable, "-m", "inbox_app", "--profile", str(profile.root), "outbox", "send-again"]
        again = subprocess.run([*cli, str(item.id)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        copy_id = int(again.stdout.rsplit(" ", 1)[-1].rstrip(".\n"))
        delivered_copy = subprocess.run(
            _sync_cmd(profile), cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60
        )
        assert delivered_copy.returncode == 0, delivered_copy.stderr
        copy = OutboxItem.get_by_id(copy_id)
        assert (copy.state, copy.last_error) == ("sent", None)
        assert [m.raw.count(copy.message_id.encode()) for m in smtp_server.messages] == [1]
        refused = subprocess.run([*cli, str(copy_id)], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and "not a sent reply" in refused.stderr
