"""A full disk during a sync, for real: the profile lives on a small tmpfs that fills up mid-sync.

What must hold: the sync stops with a plain "the disk is full" message (no traceback, not called a bug), the
database stays intact, no good mail is flagged as unreadable because there was no room to store it, and once
space is freed the next sync finishes the job with nothing doubled.

Needs root to mount the tmpfs (the README's test command runs as root; Dovecot's tests need it too).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_mail_sync import mail_account, make_mail
from tests.servers.dovecot import DovecotServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MAILS = 150


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _sync(profile_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inbox_app", "--profile", str(profile_dir), "sync", "--once"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _query(db_path: Path, sql: str) -> Any:
    conn = sqlite3.connect(str(db_path))
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def test_a_full_disk_stops_the_sync_plainly_and_the_next_one_finishes(
    small_disk: Path, dovecot: DovecotServer, mail_user: tuple[str, str]
) -> None:
    from inbox_app import i18n
    from inbox_app.profile import open_profile
    from inbox_app.store.models import Account

    i18n.setup("en")
    profile_dir = small_disk / "profile"
    profile = open_profile(profile_dir)
    try:
        user, password = mail_user
        account = mail_account(dovecot, user, password)
        settings = dict(account.settings, body_batch=10)  # small batches: some fit before the disk is full
        Account.update(settings=settings).where(Account.id == account.id).execute()
        filler = "Where is my parcel? " * 1500  # 30 KB a mail: 4.5 MB of mail
        dovecot.bulk_load(user, [make_mail(n, body=f"{n} {filler}") for n in range(1, MAILS + 1)])
    finally:
        profile.close()
    db_path = profile_dir / "inbox.sqlite3"
    # Room for what is there plus 3 MB: the headers fit (with the triage, search and report indexes of schema
    # 13 they take more than the 1.5 MB this test first allowed), a few body batches too, the bodies (4.5 MB,
    # stored twice) do not.
    used_kb = int(
        subprocess.run(["du", "-sk", str(small_disk)], capture_output=True, text=True).stdout.split()[0]
    )
    subprocess.run(["mount", "-o", f"remount,size={used_kb + 3072}k", str(small_disk)], check=True)

    full = _sync(profile_dir)
    assert full.returncode == 1, full.stdout + full.stderr
    assert "The disk is full, so the sync of “Shop” stopped." in full.stderr
    assert "Traceback" not in full.stderr and "internal error" not in full.stderr
    assert _query(db_path, "PRAGMA integrity_check") == "ok"
    assert _query(db_path, "SELECT count(*) FROM message WHERE problems IS NOT NULL") == 0
    assert _query(db_path, "SELECT count(*) FROM mail_location") == MAILS  # the list is complete
    stored = _query(db_path, "SELECT count(*) FROM mail_location WHERE body_fetched = 1")
    assert 0 < stored < MAILS  # it ran out of room during the bodies
    # What was committed before the disk filled up is reported, and only that.
    assert full.stdout.startswith(f"{MAILS} new messages, {stored} bodies fetched"), full.stdout

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    done = _sync(profile_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _query(db_path, "SELECT count(*) FROM message") == MAILS
    assert _query(db_path, "SELECT count(DISTINCT remote_id) FROM message") == MAILS
    assert _query(db_path, "SELECT count(*) FROM mail_location WHERE body_fetched = 1") == MAILS
    assert _query(db_path, "SELECT count(*) FROM message WHERE problems IS NOT NULL") == 0
    assert _query(db_path, "PRAGMA integrity_check") == "ok"
