"""One sync pass for the command line: fetch every account and deliver the outbox, then stop.

The window runs the same engine continuously (wired in ``app.py``); this is ``inbox-app sync --once``.
"""

from __future__ import annotations

from pathlib import Path

from inbox_app.store import triage
from inbox_app.store.blobs import BlobStore
from inbox_app.sync.engine import EngineReport, SyncEngine
from inbox_app.sync.ownership import ProfileLock

__all__ = ["EngineReport", "run_once"]


async def run_once(blobs: BlobStore, profile_root: Path) -> EngineReport:
    """Sync every account once and deliver what is due (nothing when another copy owns the profile).

    Snoozes whose time came are woken first: on a workstation where only cron runs ``sync --once`` (or before
    the window is opened), ``list`` and the counts must not keep showing them as snoozed."""
    triage.wake_snoozed()
    engine = SyncEngine(blobs, lock=ProfileLock(profile_root))
    try:
        return await engine.run_once()
    finally:
        await engine.close()
