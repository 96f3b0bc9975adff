"""First sync of a 20,000-message mailbox: how soon the list is complete, how soon every body is cached, vs mbsync.

Fills a throwaway Dovecot (tests/servers/dovecot.py, bulk Maildir loader) with 20,000 mails of 2–50 KB: plain
UTF-8, Latin-1, multipart with attachments, and replies that thread into earlier mails. Then times

  (a) headers phase done: every conversation is in the list (subject, sender, date, deadline);
  (b) bodies phase done: every body parsed and stored (text, sanitized HTML, attachments, raw source);
  (c) the end of the pass: flags and expunges checked, and everything stored indexed for full-text search
      (indexing runs after the bodies, in large chunks: see store/search_index.py);

and, on the same mailbox, ``mbsync`` (isync) mirroring it to a local Maildir (its default FSync yes).
Targets: (a) < 5 s, (b) <= mbsync. Needs root (Dovecot switches to the mail uid) and ``mbsync`` on PATH.

Run: ``.venv/bin/python benchmarks/mail_sync_20k.py [--messages N] [--profile-bodies]``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = [
    "order",
    "parcel",
    "delivery",
    "refund",
    "size",
    "colour",
    "thanks",
    "please",
    "where",
    "when",
    "tracking",
    "invoice",
    "return",
    "exchange",
    "Bestellung",
    "Lieferung",
    "danke",
    "bitte",
    "Rücksendung",
    "pedido",
    "envío",
    "gracias",
    "commande",
    "livraison",
    "merci",
]


def make_corpus(seed: int) -> str:
    rng = random.Random(seed)
    lines = []
    for _ in range(20000):
        lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))))
    return "\n".join(lines)


def make_mailbox(count: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    corpus = make_corpus(seed)
    mails: list[bytes] = []
    for n in range(1, count + 1):
        size = int(2_000 * 25 ** rng.random())  # log-uniform 2–50 KB: mean ≈ 15 KB, like a real mailbox
        start = rng.randint(0, len(corpus) - size - 1)
        text = corpus[start : start + size]
        buyer = rng.randint(1, count // 3)
        subject = f"Question about order {n}"
        extra = ""
        if n > 10 and rng.random() < 0.15:
            parent = rng.randint(1, n - 1)
            subject = f"Re: Question about order {parent}"
            extra = f"In-Reply-To: <m{parent}@bench.example>\r\nReferences: <m{parent}@bench.example>\r\n"
        head = (
            f"From: Buyer {buyer} <buyer{buyer}@example.net>\r\nTo: seller@shop.example\r\n"
            f"Subject: {subject}\r\nDate: Mon, 2 Nov 2026 {n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d} +0000\r\n"
            f"Message-ID: <m{n}@bench.example>\r\n{extra}MIME-Version: 1.0\r\n"
        )
        kind = rng.random()
        if kind < 0.2:  # multipart with an attachment
            blob = base64.encodebytes(rng.randbytes(size // 2)).replace(b"\n", b"\r\n").decode()
            body = (
                'Content-Type: multipart/mixed; boundary="xx"\r\n\r\n--xx\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
                f"{text[: size // 2]}\r\n--xx\r\nContent-Type: application/pdf\r\n"
                f'Content-Disposition: attachment; filename="invoice{n}.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
                f"{blob}--xx--\r\n"
            )
            mails.append((head + body).encode())
        elif kind < 0.3:  # not UTF-8
            body = (
                "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                + text
            )
            mails.append((head + body).encode("latin-1", "replace"))
        elif kind < 0.4:  # HTML alternative
            html = "<html><body><p>" + text.replace("\n", "</p><p>") + "</p></body></html>"
            body = (
                'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
                f"{text}\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--alt--\r\n"
            )
            mails.append((head + body).encode())
        else:
            body = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text
            mails.append((head + body).encode())
    return mails


async def run_ours(account, password: str, *, profile_bodies: bool) -> tuple[float, float, float]:
    from inbox_app.sync.mail_sync import MailAccountSync, SyncProgress

    marks: dict[str, Any] = {}
    sync = MailAccountSync(account, password=password)
    profiler = cProfile.Profile() if profile_bodies else None

    def progress(p: SyncProgress) -> None:
        if p.folder != "INBOX":
            return
        if p.phase == "headers" and p.done >= p.total:
            marks.setdefault("headers", time.perf_counter())
        if p.phase == "bodies" and profiler is not None and "bodies_started" not in marks:
            marks["bodies_started"] = time.perf_counter()
            profiler.enable()
        if p.phase == "bodies" and p.done >= p.total:
            marks.setdefault("bodies", time.perf_counter())
            marks.setdefault("cpu_after_bodies", cpu_snapshot())
            if profiler is not None:
                profiler.disable()

    from inbox_app.store import triage

    spent = {"triage": 0.0, "triage_cpu": 0.0}  # wall and CPU time inside the triage hooks, on the DB worker
    originals = {name: getattr(triage, name) for name in ("categorise_conversations", "reopen_on_inbound")}

    hooks_profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE_TRIAGE") else None

    def timed(function: Any) -> Any:
        def run(*args: Any) -> Any:
            began = time.perf_counter()
            began_cpu = time.thread_time()
            if hooks_profiler is not None:
                hooks_profiler.enable()
            try:
                return function(*args)
            finally:
                if hooks_profiler is not None:
                    hooks_profiler.disable()
                spent["triage"] += time.perf_counter() - began
                spent["triage_cpu"] += time.thread_time() - began_cpu

        return run

    for name, function in originals.items():
        setattr(triage, name, timed(function))
    cpu_before = cpu_snapshot()
    start = time.perf_counter()
    try:
        await sync.sync_once(progress)
    finally:
        await sync.close()
        for name, function in originals.items():
            setattr(triage, name, function)
    end = time.perf_counter()
    print(
        f"triage hooks (categorise, reopen): {spent['triage']:.2f} s wall, {spent['triage_cpu']:.2f} s CPU, "
        f"of {end - start:.2f} s"
    )
    if hooks_profiler is not None:
        pstats.Stats(hooks_profiler).sort_stats("tottime").print_stats(15)
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    print_cpu(cpu_before, marks.get("cpu_after_bodies", cpu_snapshot()), marks["bodies"] - start)
    return marks["headers"] - start, marks["bodies"] - start, end - start


def cpu_snapshot() -> dict[str, float]:
    """CPU seconds so far per thread of this process, per child process and per Dovecot ``imap`` process.

    Threads are named (``inbox-db``, ``imap-…``, the loop thread is ``MainThread``); the parse workers are children.
    Read from /proc, so it costs nothing while the sync runs and shows which part of the 2 cores each stage took.
    """
    tick = os.sysconf("SC_CLK_TCK")

    def seconds(stat: str) -> float:
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    result: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            result[f"thread {name}"] = result.get(f"thread {name}", 0.0) + seconds(
                (task / "stat").read_text()
            )
        except OSError:
            continue
    own = str(os.getpid())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            ppid = stat.rsplit(")", 1)[1].split()[1]
        except (OSError, ValueError):
            continue
        if ppid == own:
            key = f"child {comm}"
        elif comm == "imap":
            key = "dovecot imap"
        else:
            continue
        result[key] = result.get(key, 0.0) + seconds(stat)
    return result


def print_cpu(before: dict[str, float], after: dict[str, float], wall: float) -> None:
    total = 0.0
    print(f"CPU during the sync ({wall:.1f} s wall):")
    for key in sorted(after, key=lambda k: -(after[k] - before.get(k, 0.0))):
        used = after[key] - before.get(key, 0.0)
        total += used
        if used >= 0.05:
            print(f"    {key:28s} {used:6.2f} s")
    print(f"    {'total':28s} {total:6.2f} s  ({total / wall:.2f} cores busy on average)")


def run_mbsync(host: str, port: int, user: str, password: str, workdir: Path) -> float:
    mail = workdir / "mbsync-mail"
    mail.mkdir()
    config = workdir / "mbsyncrc"
    config.write_text(
        f"IMAPAccount bench\nHost {host}\nPort {port}\nUser {user}\nPass {password}\nSSLType None\n"
        "AuthMechs LOGIN\n\nIMAPStore bench-remote\nAccount bench\n\n"
        f"MaildirStore bench-local\nPath {mail}/\nInbox {mail}/INBOX\n\n"
        "Channel bench\nFar :bench-remote:\nNear :bench-local:\nPatterns INBOX\nSync Pull\nCreate Near\n"
        "Expunge None\nSyncState *\n"
    )
    start = time.perf_counter()
    subprocess.run(["mbsync", "-q", "-c", str(config), "bench"], check=True)
    elapsed = time.perf_counter() - start
    count = sum(1 for _ in (mail / "INBOX" / "cur").iterdir()) + sum(
        1 for _ in (mail / "INBOX" / "new").iterdir()
    )
    print(f"mbsync mirrored {count} messages")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--profile-bodies", action="store_true", help="cProfile the bodies phase")
    parser.add_argument("--skip-mbsync", action="store_true")
    parser.add_argument(
        "--without-fts-triggers",
        action="store_true",
        help="measurement only: drop the full-text triggers in the throwaway profile to see what indexing costs",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
    os.environ["XDG_DATA_HOME"] = str(workdir / "xdg")

    from imapclient import IMAPClient

    from inbox_app.profile import open_profile
    from inbox_app.store.accounts import MailAccountSettings, ServerSettings, create_mail_account
    from inbox_app.store.models import Conversation, Message
    from tests.servers.dovecot import DovecotServer

    t0 = time.perf_counter()
    mails = make_mailbox(args.messages)
    total_bytes = sum(len(m) for m in mails)
    print(f"generated {len(mails)} messages, {total_bytes / 1e6:.0f} MB in {time.perf_counter() - t0:.1f} s")
    # Other work on the machine moves these figures by ±30 %: print the load so runs can be compared.
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    try:
        with DovecotServer() as dovecot:
            user, password = dovecot.new_user("bench")
            dovecot.bulk_load(user, mails)
            del mails
            # Let Dovecot assign UIDs and build its index once, so neither client pays for it.
            with IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=120) as client:
                client.login(user, password)
                client.select_folder("INBOX")
                assert len(client.search("ALL")) == args.messages

            profile = open_profile(workdir / "profile")
            if args.without_fts_triggers:
                for trigger in ("message_fts_ai", "message_fts_au", "message_fts_ad"):
                    profile.db.execute_sql(f"DROP TRIGGER IF EXISTS {trigger}")
            account = create_mail_account(
                "bench",
                MailAccountSettings(
                    imap=ServerSettings(dovecot.host, dovecot.port, "none", user),
                    smtp=ServerSettings("127.0.0.1", 25, "none", ""),
                    from_address="seller@shop.example",
                ),
            )
            headers_s, bodies_s, total_s = asyncio.run(
                run_ours(account, password, profile_bodies=args.profile_bodies)
            )
            messages = Message.select().count()
            conversations = Conversation.select().count()
            profile.close()
            print(f"inbox_app: {messages} messages in {conversations} conversations")
            print(
                f"(a) list complete (headers phase): {headers_s:6.2f} s  {messages / headers_s:8.0f} msg/s  target < 5 s"
            )
            print(f"(b) every body cached:             {bodies_s:6.2f} s  {messages / bodies_s:8.0f} msg/s")
            print(
                f"(c) search index complete too:     {total_s:6.2f} s  (whole sync_once: bodies, flags, expunge "
                "check, then the full-text index of everything stored)"
            )
            if not args.skip_mbsync and shutil.which("mbsync"):
                mbsync_s = run_mbsync(dovecot.host, dovecot.port, user, password, workdir)
                print(
                    f"mbsync (FSync yes):                {mbsync_s:6.2f} s  {args.messages / mbsync_s:8.0f} msg/s"
                )
                print(f"ratio bodies / mbsync: {bodies_s / mbsync_s:.2f}  (target <= 1.0)")
            elif not args.skip_mbsync:
                print("mbsync not installed (apt-get install -y isync): no comparison")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
