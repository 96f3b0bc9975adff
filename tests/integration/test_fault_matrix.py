"""The fault matrix: sync and outbox against real Dovecot + aiosmtpd while, in turn, each fault is injected.

Every row is one scenario on a fresh mailbox and a fresh profile. The profile first syncs 8 mails; then 4 new
mails arrive, one is marked read on the phone, and the seller queues 3 replies. The faulted run syncs and
delivers while one fault is injected:

* the connection dropped at each IMAP and SMTP protocol step (``tests.servers.fault_proxy``): before the
  command reaches the server, or after the server did it but before the app heard the answer, or in the middle
  of a mail's content;
* the IMAP or SMTP server restarted mid-run;
* the disk full (the profile on a small tmpfs that fills up) while bodies are stored, and just as the SMTP
  server accepts a reply;
* ``sync --once`` killed with SIGKILL at each delivery step and mid-sync;
* a second process syncing the profile at the same time (with the profile's lock, and without it: the claims
  in the database alone);
* the wall clock jumping: a live process's claim whose lease looks expired, a dead process's claim whose lease
  looks fresh.

Then the app runs again, as the seller would (the scheduled retry is made due now; a reply the app flags as
"unconfirmed" that the customer did not get is sent again by the seller, which the matrix counts). After that:
the database equals the server (INBOX by Message-ID and text, Sent by Message-ID and text against the replies
recorded as sent), and every reply reached the customer exactly once.

The matrix is printed (``pytest -s``) and written to ``fault-matrix.txt`` in the test's tmp folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest

from inbox_app import i18n
from inbox_app.profile import Profile, open_profile
from inbox_app.store import outbox
from inbox_app.store.models import Message, OutboxItem, utcnow
from inbox_app.store.replies import queue_reply_for
from inbox_app.sync.engine import EngineReport, SyncEngine
from inbox_app.sync.outbox_delivery import CRASH_ENV
from inbox_app.sync.ownership import ProfileLock, process_token
from tests.integration.conftest import SMTP_PASSWORD, SMTP_USER
from tests.integration.test_mail_sync import imap_client, mail_account, make_mail
from tests.servers.dovecot import DovecotServer
from tests.servers.fault_proxy import Fault, FaultProxy
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIRST, NEW, REPLIES = 8, 4, 3


@dataclass
class Row:
    fault: str
    step: str
    injected: int = 0
    compared: int = 0
    replies: int = 0
    delivered: int = 0
    lost: int = 0
    doubled: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def result(self) -> str:
        ok = self.lost == 0 and self.doubled == 0 and self.delivered == self.replies
        return ("ok" if ok else "FAIL") + (f" ({', '.join(self.notes)})" if self.notes else "")


@dataclass
class Scenario:
    profile: Profile
    user: str
    password: str
    replies: list[int]
    process: subprocess.Popen[bytes] | None = None
    resent: set[int] = field(default_factory=set)


class Rig:
    """The servers, the proxies in front of them and the scenarios run against them."""

    def __init__(self, dovecot: DovecotServer, smtp: SmtpServer, tmp: Path) -> None:
        self.dovecot, self.smtp, self.tmp = dovecot, smtp, tmp
        self.imap_proxy = FaultProxy(dovecot.port, imap=True)
        self.smtp_proxy = FaultProxy(smtp.port, imap=False)
        self.rows: list[Row] = []
        self.count = 0

    def close(self) -> None:
        self.imap_proxy.close()
        self.smtp_proxy.close()

    # ------------------------------------------------------------------ one scenario
    def start(self, where: Path | None = None) -> Scenario:
        self.count += 1
        user, password = self.dovecot.new_user("matrix")
        self.dovecot.bulk_load(user, [make_mail(n) for n in range(1, FIRST + 1)])
        profile = open_profile((where or self.tmp) / f"profile{self.count}")
        account = mail_account(
            self.dovecot,
            user,
            password,
            smtp_port=self.smtp_proxy.port,
            smtp_user=SMTP_USER,
            smtp_password=SMTP_PASSWORD,
        )
        settings = dict(account.settings)
        settings["imap"] = {**settings["imap"], "port": self.imap_proxy.port}
        settings["body_batch"] = 3  # several body FETCHes: places to break in between
        type(account).update(settings=settings).where(type(account).id == account.id).execute()
        # The app's own keyring entry is bound to the server it was stored for: store it for the proxy.
        from inbox_app.sync.credentials import store_password

        store_password(type(account).get_by_id(account.id), "imap", password)
        first = run_engine(profile)
        assert first.ok, first.problems
        self.dovecot.bulk_load(user, [make_mail(n) for n in range(FIRST + 1, FIRST + NEW + 1)])
        with imap_client(self.dovecot, user, password) as phone:
            phone.select_folder("INBOX")
            phone.add_flags(phone.search("ALL")[:1], [b"\\Seen"])
        replies = []
        for n in range(1, REPLIES + 1):
            conv = Message.get(Message.remote_id == f"<msg{n}@example.net>").conversation_id
            replies.append(queue_reply_for(conv, f"Reply {n}: your parcel left today.\n").id)
        return Scenario(profile, user, password, replies)

    def finish(self, row: Row, sc: Scenario) -> Row:
        self.imap_proxy.disarm()
        self.smtp_proxy.disarm()
        try:
            self._recover(row, sc)
            self._compare(row, sc)
        finally:
            sc.profile.close()
        self.rows.append(row)
        return row

    def _recover(self, row: Row, sc: Scenario) -> None:
        """Run again as the seller would, until nothing is left to do."""
        for _round in range(4):
            OutboxItem.update(next_attempt_at=None).where(
                OutboxItem.state == "queued"
            ).execute()  # time passes
            report = run_engine(sc.profile)
            resent = False
            for item in OutboxItem.select().where(outbox.UNCONFIRMED):
                if item.id in sc.resent:
                    continue
                if self._deliveries(item.message_id):
                    _note(row, "unconfirmed but had arrived: flagged, not resent")
                else:  # the seller was told it may not have arrived; the customer says it did not
                    outbox.send_again(item.id)
                    _note(row, "unconfirmed, server had none: the seller sent it again")
                    resent = True
                sc.resent.add(item.id)
            busy = OutboxItem.select().where(OutboxItem.state.in_(["queued", "sending"])).exists()
            if report.ok and not busy and not resent:
                return

    def _deliveries(self, message_id: str) -> int:
        needle = f"Message-ID: {message_id}".encode()
        return sum(needle in m.raw for m in self.smtp.messages)

    def _compare(self, row: Row, sc: Scenario) -> None:
        server = _server_texts(self.dovecot, sc.user, sc.password, "INBOX")
        local = _db_texts("INBOX")
        assert local == server, f"{row.fault} × {row.step}: INBOX differs"
        sent_server = _server_texts(self.dovecot, sc.user, sc.password, "Sent")
        sent_local = {
            item.message_id: _norm(item.body)
            for item in OutboxItem.select().where(OutboxItem.state == "sent")
        }
        assert sent_server == sent_local, f"{row.fault} × {row.step}: Sent differs"
        row.compared += len(server) + len(sent_server)
        row.replies += len(sc.replies)
        for item_id in sc.replies:
            item = OutboxItem.get_by_id(item_id)
            copies = [
                item,
                *OutboxItem.select().where((OutboxItem.body == item.body) & (OutboxItem.id != item.id)),
            ]
            got = sum(self._deliveries(copy.message_id) for copy in copies)
            row.delivered += min(got, 1)
            row.lost += got == 0
            row.doubled += got > 1
        assert Counter(m.remote_id for m in Message.select()).most_common(1)[0][1] == 1

    # ------------------------------------------------------------------ the faulted runs
    def proxy_fault(
        self, fault_name: str, step: str, proxy: FaultProxy, fault: Fault, where: Path | None = None
    ) -> Row:
        row = Row(fault_name, step)
        sc = self.start(where)
        proxy.arm(fault)
        run_engine(sc.profile)
        row.injected += int(fault.wait())
        return self.finish(row, sc)

    def killed(
        self, step: str, env: dict[str, str] | None = None, fault: tuple[FaultProxy, Fault] | None = None
    ) -> Row:
        row = Row("SIGKILL of sync --once", step)
        sc = self.start()
        process = subprocess.Popen(
            sync_cmd(sc.profile), cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        sc.process = process
        if fault is not None:
            proxy, armed = fault
            armed.action = lambda: os.kill(process.pid, signal.SIGKILL)
            proxy.arm(armed)
        process.wait(timeout=60)
        row.injected += int(process.returncode == -signal.SIGKILL)
        return self.finish(row, sc)


def _note(row: Row, note: str) -> None:
    if note not in row.notes:
        row.notes.append(note)


def run_engine(profile: Profile, lock: bool = True) -> EngineReport:
    async def go() -> EngineReport:
        engine = SyncEngine(profile.blobs, lock=ProfileLock(profile.root) if lock else None)
        try:
            return await engine.run_once()
        finally:
            await engine.close()

    return asyncio.run(go())


def sync_cmd(profile: Profile) -> list[str]:
    return [sys.executable, "-m", "inbox_app", "--profile", str(profile.root), "sync", "--once", "--quiet"]


def _norm(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def _server_texts(dovecot: DovecotServer, user: str, password: str, folder: str) -> dict[str, str]:
    with imap_client(dovecot, user, password) as client:
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        data = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
    texts: dict[str, str] = {}
    for row in data.values():
        parsed = email.message_from_bytes(row[b"BODY[]"], policy=default_policy)
        mid = str(parsed["Message-ID"]).strip()
        assert mid not in texts, f"{folder} holds {mid} twice"
        body = parsed.get_body(("plain",))
        texts[mid] = _norm(body.get_content() if body is not None else "")
    return texts


def _db_texts(folder: str) -> dict[str, str]:
    from inbox_app.store.models import MailLocation

    rows = (
        MailLocation.select(Message.remote_id, Message.text_body)
        .join(Message)
        .where(MailLocation.folder == folder)
    )
    texts: dict[str, str] = {}
    for row in rows.dicts():
        assert row["remote_id"] not in texts, f"{row['remote_id']} stored twice"
        texts[row["remote_id"]] = _norm(row["text_body"] or "")
    return texts


# ---------------------------------------------------------------------- the steps
# IMAP: (step, marker in the command line). "after": the server carried the command out, the app never heard.
IMAP_STEPS = [
    ("CAPABILITY", b" CAPABILITY"),
    ("LOGIN", b" LOGIN "),
    ("LIST", b' LIST "'),
    ("SELECT INBOX", b" SELECT "),
    ("UID SEARCH", b" UID SEARCH "),
    ("UID FETCH headers", b"BODY.PEEK[HEADER"),
    ("UID FETCH bodies", b"BODY.PEEK[]"),
    ("UID FETCH flags (CHANGEDSINCE)", b"(CHANGEDSINCE"),
    ("APPEND to Sent", b" APPEND "),
    ("UID STORE \\Answered", b" UID STORE "),
    ("LOGOUT", b" LOGOUT"),
]
SMTP_STEPS = [
    ("EHLO", b"EHLO", "after"),
    ("AUTH", b"AUTH", "after"),
    ("MAIL FROM", b"MAIL FROM", "after"),
    ("RCPT TO", b"RCPT TO", "after"),
    ("DATA", b"DATA\r\n", "before"),
    ("mid-content", b"MIME-Version", "bytes"),
    ("end of content, 250 lost", b".\r\n", "after"),
    ("QUIT", b"QUIT", "after"),
]


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.fail(
            f"cannot mount a tmpfs (the fault matrix runs as root, like the README's test command): {mounted.stderr!r}"
        )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(disk: Path) -> Callable[[], None]:
    def fill() -> None:
        for name, chunk in (("filler", 1 << 20), ("filler-small", 4096)):
            with open(disk / name, "wb", buffering=0) as handle, contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * chunk)

    return fill


def _free(disk: Path) -> None:
    for name in ("filler", "filler-small"):
        with contextlib.suppress(FileNotFoundError):
            (disk / name).unlink()


def test_fault_matrix(dovecot: DovecotServer, tmp_path: Path) -> None:
    i18n.setup("en")
    started = time.monotonic()
    with SmtpServer(user=SMTP_USER, password=SMTP_PASSWORD) as smtp:
        rig = Rig(dovecot, smtp, tmp_path)
        try:
            _run_matrix(rig, dovecot, smtp, tmp_path)
        finally:
            rig.close()
    elapsed = time.monotonic() - started
    table = _render(rig.rows, elapsed)
    print("\n" + table)
    (tmp_path / "fault-matrix.txt").write_text(table + "\n", encoding="utf-8")
    failed = [r for r in rig.rows if r.result.startswith("FAIL") or not r.injected]
    assert failed == [], table
    assert sum(r.lost for r in rig.rows) == 0 and sum(r.doubled for r in rig.rows) == 0


def _run_matrix(rig: Rig, dovecot: DovecotServer, smtp: SmtpServer, tmp_path: Path) -> None:
    for step, marker in IMAP_STEPS:
        rig.proxy_fault("IMAP connection drop", step, rig.imap_proxy, Fault(marker, "after"))
    for step, marker, mode in SMTP_STEPS:
        rig.proxy_fault("SMTP connection drop", step, rig.smtp_proxy, Fault(marker, mode, after_bytes=5))  # type: ignore[arg-type]

    def restart_dovecot() -> None:
        dovecot.stop()
        dovecot.start()

    def restart_smtp() -> None:
        smtp.stop()
        smtp.start()

    rig.proxy_fault(
        "server restart",
        "Dovecot, during body FETCH",
        rig.imap_proxy,
        Fault(b"BODY.PEEK[]", "before", action=restart_dovecot),
    )
    rig.proxy_fault(
        "server restart",
        "aiosmtpd, at MAIL FROM",
        rig.smtp_proxy,
        Fault(b"MAIL FROM", "before", action=restart_smtp),
    )

    _disk_rows(rig, tmp_path)
    _other_rows(rig)


def _disk_rows(rig: Rig, tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "disk", "48m") as disk:
        for step, proxy, marker in (
            ("while storing bodies", rig.imap_proxy, b"BODY.PEEK[]"),
            ("as SMTP accepts a reply", rig.smtp_proxy, b".\r\n"),
        ):
            row = Row("disk full", step)
            sc = rig.start(disk)
            proxy.arm(Fault(marker, "pass", action=_fill(disk)))  # type: ignore[arg-type]
            report = run_engine(sc.profile)
            row.injected += int(any("disk is full" in p.message for p in report.problems))
            _free(disk)
            rig.finish(row, sc)


def _other_rows(rig: Rig) -> None:

    for point in ("after_claim", "before_data", "after_accept", "after_smtp", "after_append"):
        rig.killed(f"delivery: {point}", env={CRASH_ENV: point})
    rig.killed("sync: during body FETCH", fault=(rig.imap_proxy, Fault(b"BODY.PEEK[]", "pass")))  # type: ignore[arg-type]

    for locked in (True, False):
        row = Row(
            "second process", "sync --once + this one, " + ("with the lock" if locked else "claims only")
        )
        sc = rig.start()
        other = subprocess.Popen(
            sync_cmd(sc.profile), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        run_engine(sc.profile, lock=locked)
        out, _err = other.communicate(timeout=60)
        row.injected += 1
        if b"Another Inbox App" in out:
            row.notes.append("the other said another copy syncs")
        rig.finish(row, sc)

    # Wall clock jumps: leases are not trusted for owners whose life can be checked.
    row = Row("clock jump", "forward: live owner's lease expired")
    sc = rig.start()
    holder = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    first = OutboxItem.get_by_id(sc.replies[0])
    OutboxItem.update(
        state="sending",
        delivery_step="claimed",
        owner=process_token(holder.pid),
        lease_until=utcnow() - timedelta(days=1),
    ).where(OutboxItem.id == first.id).execute()
    run_engine(sc.profile)
    untouched = OutboxItem.get_by_id(first.id).state == "sending" and not rig._deliveries(first.message_id)
    row.injected += int(untouched)
    row.notes.append("live claim left alone" if untouched else "LIVE CLAIM TAKEN")
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(timeout=10)
    rig.finish(row, sc)

    row = Row("clock jump", "back: dead owner's lease looks fresh")
    sc = rig.start()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=10)
    OutboxItem.update(
        state="sending",
        delivery_step="claimed",
        owner=process_token(gone.pid),
        lease_until=utcnow() + timedelta(days=1),
    ).where(OutboxItem.id == sc.replies[0]).execute()
    row.injected += 1
    rig.finish(row, sc)


def _render(rows: list[Row], elapsed: float) -> str:
    width = max(len(f"{r.fault} × {r.step}") for r in rows)
    lines = [f"{'fault × step':<{width}}  inj  cmp  rep  dlv  lost  dbl  result", "-" * (width + 48)]
    for r in rows:
        name = f"{r.fault} × {r.step}"
        lines.append(
            f"{name:<{width}}  {r.injected:>3}  {r.compared:>3}  {r.replies:>3}  {r.delivered:>3}  {r.lost:>4}  {r.doubled:>3}  {r.result}"
        )
    total = Row("total", "")
    for r in rows:
        total.injected += r.injected
        total.compared += r.compared
        total.replies += r.replies
        total.delivered += r.delivered
        total.lost += r.lost
        total.doubled += r.doubled
    lines.append("-" * (width + 48))
    lines.append(
        f"{len(rows)} scenarios, faults injected {total.injected}, messages compared {total.compared}, "
        f"replies {total.replies}, delivered {total.delivered}, lost {total.lost}, doubled {total.doubled} "
        f"({elapsed:.0f} s)"
    )
    return "\n".join(lines)
