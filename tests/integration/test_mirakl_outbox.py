"""Replies to Mirakl conversations through the generic outbox, end to end as subprocesses of the real entry point
against the Mirakl sandbox on 127.0.0.1: ``reply ID --body-file F --attach FILE`` → ``sync --once`` → the sandbox
received the documented M12 multipart exactly once, also across faults (429, 5xx before and after the vendor
stored it, a dropped connection) and a SIGKILL at each step of the delivery; limits refused before queueing.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.mirakl_app_helpers import (
    REPO,
    _env,
    add_account,
    cli,
    listed,
    ok,
    shown,
    stored_message_ids,
)
from tests.servers.mirakl import Fault, MiraklSandbox

pytestmark = pytest.mark.integration


@pytest.fixture
def sandbox() -> Iterator[MiraklSandbox]:
    with MiraklSandbox(other_shop_ids=("2002",)) as server:
        yield server


BODY = "Hola Lucía,\n\nle enviamos otro paquete hoy mismo.\n\nUn saludo"
M12 = "/api/inbox/threads/"


def _synced(profile: Path, sandbox: MiraklSandbox) -> int:
    thread = sandbox.add_thread(topic="Paquete roto", order_id="ORDER-9-A", customer_name="Lucía Pérez")
    sandbox.add_message(thread.id, "Mi paquete llegó roto")
    add_account(profile, sandbox)
    ok(cli(profile, "sync", "--once"))
    (row,) = listed(profile)
    return int(row["id"])


def _queue(profile: Path, conversation_id: int, *attach: Path, body: str = BODY) -> int:
    body_file = profile.parent / "body.txt"
    body_file.write_text(body, encoding="utf-8")
    args = ["reply", str(conversation_id), "--body-file", str(body_file)]
    for path in attach:
        args += ["--attach", str(path)]
    return int(ok(cli(profile, *args)).strip())


def _outbox(profile: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(ok(cli(profile, "outbox", "list", "--all", "--json")))
    return rows


def _assert_once(profile: Path, sandbox: MiraklSandbox, conversation_id: int) -> None:
    """The sandbox holds the reply once; after a sync the app shows it once, with the vendor's id."""
    assert [r.message_input["body"] for r in sandbox.replies] == [BODY]
    ok(cli(profile, "sync", "--once"))
    messages = shown(profile, conversation_id)["messages"]
    outgoing = [m for m in messages if m["direction"] == "out"]
    assert [m["remote_id"] for m in outgoing] == [sandbox.replies[0].message_id]
    ids = stored_message_ids(profile)
    assert len(ids) == len(set(ids))
    (item,) = _outbox(profile)
    assert item["state"] == "sent"


def test_reply_with_files_reaches_the_sandbox_as_documented_multipart(
    sandbox: MiraklSandbox, tmp_path: Path
) -> None:
    profile = tmp_path / "p"
    conversation_id = _synced(profile, sandbox)
    before = shown(profile, conversation_id)
    assert before["deadline_at"] is not None
    label = tmp_path / "etiqueta.pdf"
    label.write_bytes(b"%PDF-1.4 label")
    photo = tmp_path / "foto.jpg"
    photo.write_bytes(b"\xff\xd8\xff photo")
    item_id = _queue(profile, conversation_id, label, photo)
    assert [i["id"] for i in _outbox(profile)] == [item_id]
    assert not sandbox.replies  # queued only: the next sync delivers
    out = ok(cli(profile, "sync", "--once"))
    assert "1 reply sent" in out
    (received,) = sandbox.replies
    assert received.content_type.startswith("multipart/form-data")
    assert received.part_names == ("message_input", "files", "files")
    assert received.message_input_content_type == "application/json"
    assert received.message_input == {"body": BODY, "to": [{"type": "CUSTOMER"}]}
    assert [(f.filename, f.data) for f in received.files] == [
        ("etiqueta.pdf", b"%PDF-1.4 label"),
        ("foto.jpg", b"\xff\xd8\xff photo"),
    ]
    after = shown(profile, conversation_id)
    assert after["deadline_at"] is None  # our reply stopped the clock
    assert [a["name"] for a in after["messages"][-1]["attachments"]] == ["etiqueta.pdf", "foto.jpg"]
    _assert_once(profile, sandbox, conversation_id)


def test_limits_are_checked_before_anything_is_queued(sandbox: MiraklSandbox, tmp_path: Path) -> None:
    profile = tmp_path / "p"
    conversation_id = _synced(profile, sandbox)
    short = tmp_path / "short.txt"
    short.write_text("ok", encoding="utf-8")
    refused = cli(profile, "reply", str(conversation_id), "--body-file", str(short))
    assert refused.returncode == 1
    assert "too short: Fnac ES needs at least 3 characters" in refused.stderr
    big = tmp_path / "video.mp4"
    big.write_bytes(b"\0" * (10 * 1024 * 1024 + 1))
    too_big = cli(profile, "reply", str(conversation_id), "--body-file", str(short), "--attach", str(big))
    assert too_big.returncode == 1 and "video.mp4 cannot be sent through Fnac ES" in too_big.stderr
    long_body = tmp_path / "long.txt"
    long_body.write_text("x" * 50_001, encoding="utf-8")
    too_long = cli(profile, "reply", str(conversation_id), "--body-file", str(long_body))
    assert too_long.returncode == 1 and "at most 50,000" in too_long.stderr
    assert _outbox(profile) == []
    ok(cli(profile, "sync", "--once"))
    assert sandbox.replies == []


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=429, retry_after="1", method="POST", path_prefix=M12),
        Fault("status", status=503, method="POST", path_prefix=M12),
        Fault("status", status=502, method="POST", path_prefix=M12, after_processing=True),
        Fault("drop", method="POST", path_prefix=M12, after_processing=True),
        Fault("drop", method="POST", path_prefix=M12),
    ],
    ids=["429", "503-before", "502-after", "drop-after", "drop-before"],
)
def test_faults_during_send_deliver_exactly_once(
    sandbox: MiraklSandbox, tmp_path: Path, fault: Fault
) -> None:
    profile = tmp_path / "p"
    conversation_id = _synced(profile, sandbox)
    _queue(profile, conversation_id)
    sandbox.inject(fault)
    ok(cli(profile, "sync", "--once"))
    assert fault.times == 0
    _assert_once(profile, sandbox, conversation_id)


def test_vendor_down_during_the_lookup_keeps_the_reply_claimed_then_settles_it(
    sandbox: MiraklSandbox, tmp_path: Path
) -> None:
    profile = tmp_path / "p"
    conversation_id = _synced(profile, sandbox)
    _queue(profile, conversation_id)
    sandbox.inject(Fault("drop", method="POST", path_prefix=M12, after_processing=True))
    # M10 lookups fail (after the collision check's own fetch of the thread, before the send)
    sandbox.inject(Fault("status", status=503, method="GET", path_prefix=M12, times=20, skip=1))
    sandbox.inject(Fault("status", status=503, method="GET", path_prefix="/api/inbox/threads", times=20))
    first = cli(profile, "sync", "--once")
    assert first.returncode != 0
    (item,) = _outbox(profile)
    assert item["state"] == "sending"  # not resent blindly, not given up
    for f in sandbox.faults:
        f.times = 0
    ok(cli(profile, "sync", "--once"))
    _assert_once(profile, sandbox, conversation_id)


@pytest.mark.parametrize("point", ["channel_after_claim", "channel_before_send", "channel_after_send"])
def test_sigkill_at_each_delivery_step_then_resume(
    sandbox: MiraklSandbox, tmp_path: Path, point: str
) -> None:
    profile = tmp_path / "p"
    conversation_id = _synced(profile, sandbox)
    _queue(profile, conversation_id)
    crashed = subprocess.run(
        [sys.executable, "-m", "inbox_app", "--profile", str(profile), "sync", "--once"],
        cwd=REPO,
        env=_env(INBOX_APP_TEST_CRASH_AT=point),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert len(sandbox.replies) == (1 if point == "channel_after_send" else 0)
    ok(cli(profile, "sync", "--once"))
    _assert_once(profile, sandbox, conversation_id)
    (item,) = _outbox(profile)
    assert not item["unconfirmed"]


def test_sigkill_while_the_vendor_holds_the_request_then_resume(
    sandbox: MiraklSandbox, tmp_path: Path
) -> None:
    """The sandbox stores the reply and then stalls its answer; the client is killed while it waits."""
    profile = tmp_path / "p"
    conversation_id = _synced(profile, sandbox)
    _queue(profile, conversation_id)
    sandbox.inject(Fault("slow", delay=60, method="POST", path_prefix=M12, after_processing=True))
    process = subprocess.Popen(
        [sys.executable, "-m", "inbox_app", "--profile", str(profile), "sync", "--once"],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert sandbox.reply_stored.wait(timeout=60)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    (item,) = _outbox(profile)
    assert item["state"] == "sending" and item["delivery_step"] == "submitting"
    ok(cli(profile, "sync", "--once"))
    _assert_once(profile, sandbox, conversation_id)
