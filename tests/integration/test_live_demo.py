"""``inbox-app demo --live``, run for real: the sandboxes start in the command's process, one account per
marketplace is added through the ordinary set-up, sync rounds bring the conversations in, and a reply queued
from another command meanwhile is delivered to its sandbox by the next round; Ctrl+C stops it cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.mirakl_app_helpers import REPO, _env, cli, listed, ok

pytestmark = pytest.mark.integration


def _read_until(process: subprocess.Popen[str], text: str, timeout: float = 90) -> list[str]:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} not printed; got {lines!r}")


def test_live_demo_syncs_every_marketplace_and_delivers_a_reply(tmp_path: Path) -> None:
    profile = tmp_path / "p"
    process = subprocess.Popen(
        [sys.executable, "-m", "inbox_app", "--profile", str(profile), "demo", "--live", "--interval", "1"],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _read_until(process, "Sync round 1:")
        rows = listed(profile)
        channels = {r["channel"] for r in rows}
        assert channels == {"ebay", "kaufland", "allegro", "mirakl"}
        accounts = json.loads(ok(cli(profile, "account", "list", "--json")))
        assert len(accounts) == 4 and not any(a["settings"].get("needs_reconnect") for a in accounts)
        ebay = next(r for r in rows if r["channel"] == "ebay" and r["customer"] == "kaeufer_max")
        body = tmp_path / "body.txt"
        body.write_text("Hallo Max, der Versand nach Wien dauert zwei Tage.", encoding="utf-8")
        ok(cli(profile, "reply", str(ebay["id"]), "--body-file", str(body)))
        _read_until(process, "1 reply sent")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Live demo stopped." in out and "Traceback" not in err
    (item,) = json.loads(ok(cli(profile, "outbox", "list", "--all", "--json")))
    assert item["state"] == "sent"
