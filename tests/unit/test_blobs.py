"""BlobStore with real files: content addressing, atomic idempotent writes, safe ids and exports."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from inbox_app.store.blobs import (
    BlobCorruptError,
    BlobNotFoundError,
    BlobStore,
    BlobStoreError,
    DiskFullError,
    InvalidBlobIdError,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def test_put_layout_and_read_back(store: BlobStore) -> None:
    data = b"%PDF-1.4 invoice"
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    path = store.path(sha)
    assert path == store.root / sha[:2] / sha[2:4] / sha
    assert path.read_bytes() == data
    assert store.exists(sha)
    with store.open(sha) as handle:
        assert handle.read() == data
    assert store.read(sha) == data


def test_put_is_idempotent_and_leaves_no_temp_files(store: BlobStore) -> None:
    sha1 = store.put(b"same")
    mtime = store.path(sha1).stat().st_mtime_ns
    sha2 = store.put(b"same")
    assert sha1 == sha2
    assert store.path(sha1).stat().st_mtime_ns == mtime
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert files == [store.path(sha1)]


def test_put_repairs_a_truncated_blob(store: BlobStore) -> None:
    sha = store.put(b"complete content")
    store.path(sha).write_bytes(b"compl")  # e.g. written by an older version without fsync
    assert store.put(b"complete content") == sha
    assert store.read(sha) == b"complete content"


def test_empty_blob(store: BlobStore) -> None:
    sha = store.put(b"")
    assert store.read(sha) == b""


def test_cleanup_temp_removes_crash_leftovers(store: BlobStore) -> None:
    sha = store.put(b"a")
    stray = store.path(sha).parent / ".tmp-crashed"
    stray.write_bytes(b"half")
    assert store.cleanup_temp() == 1
    assert not stray.exists() and store.exists(sha)
    assert BlobStore(store.root / "missing").cleanup_temp() == 0


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "abc",
        "../" * 21 + "x",
        "A" * 64,
        "g" * 64,
        "0" * 63,
        "0" * 65,
        "../../etc/passwd",
        "0" * 62 + "/.",
    ],
)
def test_invalid_ids_never_touch_the_disk(store: BlobStore, bad: str) -> None:
    with pytest.raises(InvalidBlobIdError):
        store.path(bad)
    with pytest.raises(InvalidBlobIdError):
        store.open(bad)
    assert not store.exists(bad)
    assert issubclass(InvalidBlobIdError, BlobStoreError)


def test_missing_blob(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(BlobNotFoundError):
        store.open("0" * 64)
    with pytest.raises(BlobNotFoundError):
        store.export("0" * 64, tmp_path, "x.txt")


def test_export_with_safe_names_and_dedupe(store: BlobStore, tmp_path: Path) -> None:
    dest = tmp_path / "Downloads"
    dest.mkdir()
    sha = store.put(b"root:x:0:0")
    first = store.export(sha, dest, "../../etc/passwd")
    assert first == dest.resolve() / "passwd"
    assert first.read_bytes() == b"root:x:0:0"
    second = store.export(sha, dest, "passwd")
    assert second.name == "passwd (1)"
    pdf = store.put(b"%PDF")
    assert store.export(pdf, dest, "Rechnung.pdf").name == "Rechnung.pdf"
    assert store.export(pdf, dest, "Rechnung.pdf").name == "Rechnung (1).pdf"
    assert store.export(pdf, dest, "Rechnung.pdf").name == "Rechnung (2).pdf"
    assert store.export(pdf, dest, "CON.txt").name == "_CON.txt"
    assert store.export(pdf, dest, "").name == "attachment"
    assert store.export(pdf, dest, None).name == "attachment (1)"
    long_name = store.export(pdf, dest, "n" * 300 + ".pdf")
    assert long_name.parent == dest.resolve() and long_name.suffix == ".pdf"
    assert sorted(p.parent for p in dest.iterdir()) == [dest.resolve()] * len(list(dest.iterdir()))


def test_export_never_follows_into_a_symlinked_name(store: BlobStore, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    (dest / "report.txt").symlink_to(outside)
    sha = store.put(b"new")
    written = store.export(sha, dest, "report.txt")
    assert written.name == "report (1).txt"
    assert outside.read_bytes() == b"keep me"


def _can_mount_tmpfs() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    result = subprocess.run(["unshare", "-rm", "true"], capture_output=True, check=False)
    return result.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs Linux user namespaces to mount a tiny tmpfs")
def test_disk_full_is_a_clear_error(tmp_path: Path) -> None:
    """A real full file system (64 KiB tmpfs in a private mount namespace), no mocks."""
    root = tmp_path / "tiny"
    root.mkdir()
    code = (
        "import os, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from pathlib import Path\n"
        "from inbox_app.store.blobs import BlobStore, DiskFullError\n"
        "store = BlobStore(Path(sys.argv[1]))\n"
        "small = store.put(b'fits')\n"
        "try:\n"
        "    store.put(b'x' * 300_000)\n"
        "except DiskFullError as exc:\n"
        "    print('DiskFullError', isinstance(exc.__cause__, OSError))\n"
        "leftovers = [f for _d, _s, files in os.walk(sys.argv[1]) for f in files if f.startswith('.tmp')]\n"
        "print('leftovers', len(leftovers), 'small ok', store.read(small) == b'fits')\n"
    )
    result = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            'mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" -c "$3" "$1"',
            "_",
            str(root),
            sys.executable,
            code,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "DiskFullError True" in result.stdout
    assert "leftovers 0 small ok True" in result.stdout
    assert issubclass(DiskFullError, BlobStoreError)


def test_non_durable_put_reads_back_and_damage_is_detected(store: BlobStore, tmp_path: Path) -> None:
    data = b"%PDF-1.4 synced attachment" * 100
    sha = store.put(data, durable=False)
    assert store.read(sha) == data
    # An OS crash after a write without fsync can leave the right name with wrong bytes.
    store.path(sha).write_bytes(b"\0" * len(data))
    with pytest.raises(BlobCorruptError):
        store.read(sha)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BlobCorruptError):
        store.export(sha, out, "invoice.pdf")
    assert list(out.iterdir()) == []  # no half-good file left behind for the user to send on
    # A short file (the usual damage) is rewritten by the next put of the same bytes.
    store.path(sha).write_bytes(data[:10])
    assert store.put(data, durable=False) == sha
    assert store.read(sha) == data


def test_restore_blob_rebuilds_a_damaged_attachment_from_the_raw_source(profile: object) -> None:
    from inbox_app.channels.mail.mime import parse_message
    from inbox_app.domain.conversations import Direction, IncomingMessage
    from inbox_app.profile import Profile
    from inbox_app.store import ingest
    from inbox_app.store.blob_repair import restore_blob
    from inbox_app.store.models import Account

    assert isinstance(profile, Profile)
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 20
    raw = (
        b'From: a@b.example\r\nSubject: invoice\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="inv.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(pdf).replace(b"\n", b"\r\n")
        + b"--b--\r\n"
    )
    account, _ = Account.get_or_create(kind="imap", name="Shop")
    channel = ingest.ensure_channel(account, "email", "shop", None)
    conversation = ingest.create_conversation(account, channel, remote_id="c1", subject="invoice")
    ingest.add_message(
        conversation,
        IncomingMessage(
            direction=Direction.IN,
            sent_at=datetime.now(UTC),
            text="see attached",
            raw=raw,
            attachments=(("inv.pdf", "application/pdf", pdf),),
        ),
        blobs=profile.blobs,
    )
    sha = hashlib.sha256(pdf).hexdigest()
    profile.blobs.path(sha).write_bytes(b"\0" * len(pdf))  # right size, wrong bytes: put alone keeps it

    def extract(source: bytes) -> list[bytes]:
        return [a.data for a in parse_message(source).attachments]

    assert restore_blob(profile.blobs, sha, extract)
    assert profile.blobs.read(sha) == pdf
    assert not restore_blob(profile.blobs, "0" * 64, extract)  # nothing references it: nothing to rebuild
