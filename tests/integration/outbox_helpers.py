"""What the mail outbox tests share: one full engine round, and the app's CLI run on the test's profile.

Kept here rather than in each test module so the delivery tests (outbox, collision check, one sync per
profile, profile secrets) drive the engine and the CLI the same way."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from inbox_app.sync.engine import EngineReport, SyncEngine

ROOT = Path(__file__).resolve().parents[2]


def engine_once(profile: Any) -> EngineReport:
    """One round of the sync engine (sync, then delivery) on ``profile``, engine closed afterwards."""

    async def go() -> EngineReport:
        engine = SyncEngine(profile.blobs)
        try:
            return await engine.run_once()
        finally:
            await engine.close()

    return asyncio.run(go())


def profile_cli(profile: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m inbox_app --profile <profile> *args`` in English, with nothing on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "inbox_app", "--profile", str(profile.root), *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), INBOX_APP_LANG="en"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
