"""Copy the write-ahead log back into the database file on a thread of its own, never inside a commit.

Why: by default SQLite checkpoints inside the COMMIT of whichever connection pushes the WAL past 1,000 pages
(4 MB). A first mail sync writes about 8 MB per body batch, so *every* batch commit on the DB worker copied
the log into the database and fsynced it: 76 ms per commit, half of the bodies phase (measured: storing
20,000 bodies took 12.7 s with in-commit checkpoints, 5.8–7.1 s without). Worse, the commit that happens to
cross the threshold may be the UI thread's (marking a conversation read), which would then wait on the disk.

So every connection opens with ``wal_autocheckpoint = 0`` (``store.db.PRAGMAS``) and this thread, with its own
connection, runs ``PRAGMA wal_checkpoint(PASSIVE)`` when the log has grown past :data:`THRESHOLD_BYTES`.
PASSIVE never waits for readers or writers: the sync keeps appending batches while earlier ones are copied,
and the next writer restarts the log from its beginning once everything was copied (``journal_size_limit``
then trims the file). When nothing was written for a while the log is truncated (TRUNCATE, without waiting).

Durability is unchanged: commits that need it still fsync the log (``synchronous = FULL``); a checkpoint only
moves committed pages into the main file, and a crash in the middle of one is recovered by SQLite itself.
Writers that produce a lot (the sync batches, the search indexer) call :meth:`WalCheckpointer.poke` after
committing; everyone else is covered by the periodic look at the log's size.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("inbox_app.store")

THRESHOLD_BYTES = 4 * 1024 * 1024  # SQLite's own default (1,000 pages of 4 KiB)
IDLE_INTERVAL = 10.0  # s between looks at the log's size when nobody pokes
THREAD_NAME = "inbox-checkpoint"


class WalCheckpointer:
    """One database's checkpoint thread: ``start()``, ``poke()`` after big commits, ``stop()`` on close."""

    def __init__(
        self, db_path: Path, *, threshold_bytes: int = THRESHOLD_BYTES, interval: float = IDLE_INTERVAL
    ) -> None:
        self.db_path = Path(db_path)
        self.wal_path = Path(f"{db_path}-wal")
        self.threshold_bytes = threshold_bytes
        self.interval = interval
        self.checkpoints = 0  # PASSIVE checkpoints that copied something (for tests and diagnostics)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def poke(self) -> None:
        """A big commit just happened: look at the log now rather than at the next interval."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """End the thread (a checkpoint under way finishes first) and close its connection."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=True)
        except sqlite3.Error:
            log.exception(
                "the checkpoint thread could not open %s; SQLite will not trim its log", self.db_path
            )
            return
        try:
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            while not self._stopping.is_set():
                poked = self._wake.wait(self.interval)
                self._wake.clear()
                if self._stopping.is_set():
                    break
                self.run_once(conn, idle=not poked)
        finally:
            conn.close()

    def run_once(self, conn: sqlite3.Connection, *, idle: bool = False) -> bool:
        """Checkpoint when the log is past the threshold; returns whether a checkpoint ran."""
        try:
            size = self.wal_path.stat().st_size
        except FileNotFoundError:
            return False
        if size < self.threshold_bytes:
            return False
        mode = "TRUNCATE" if idle else "PASSIVE"
        try:
            if idle:
                conn.execute("PRAGMA busy_timeout = 0")  # an idle-time trim never makes anyone wait
            busy, frames, copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.OperationalError as exc:  # locked, or the disk is full: the next round tries again
            log.info("WAL checkpoint (%s) of %s did not run: %s", mode, self.db_path.name, exc)
            return False
        if copied > 0:
            self.checkpoints += 1
        log.debug("WAL checkpoint %s: busy=%s frames=%s copied=%s", mode, busy, frames, copied)
        return True


__all__ = ["THRESHOLD_BYTES", "WalCheckpointer"]
